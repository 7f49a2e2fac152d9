"""A small inventory with restocking rules: classes, loops, try/except/finally."""

from dataclasses import dataclass, field


class OutOfStock(Exception):
    pass


@dataclass
class Item:
    name: str
    quantity: int
    price: float
    tags: list[str] = field(default_factory=list)


class Inventory:
    def __init__(self, items=None):
        self.items = {item.name: item for item in items or []}
        self.log = []

    def take(self, name, count):
        item = self.items.get(name)
        if item is None:
            raise KeyError(name)
        elif item.quantity < count:
            raise OutOfStock(f"only {item.quantity} of {name} left")
        else:
            item.quantity -= count
        return item.quantity

    def restock(self, threshold=5, amount=10):
        restocked = []
        for name, item in sorted(self.items.items()):
            if "discontinued" in item.tags:
                continue
            if item.quantity >= threshold:
                continue
            item.quantity += amount
            restocked.append(name)
            if len(restocked) >= 3:
                break
        else:
            self.log.append("restock pass complete")
        return restocked

    def process(self, orders):
        done, failed = 0, 0
        for name, count in orders:
            try:
                self.take(name, count)
            except OutOfStock as exc:
                failed += 1
                self.log.append(str(exc))
            except KeyError:
                failed += 1
                self.log.append(f"unknown item {name}")
            else:
                done += 1
            finally:
                self.log.append(f"order {name} x{count}")
        return done, failed

    def value(self):
        def line_total(item):
            return item.quantity * item.price

        return round(sum(line_total(item) for item in self.items.values()), 2)


if __name__ == "__main__":
    inv = Inventory([Item("bolt", 3, 0.1), Item("nut", 50, 0.05), Item("gear", 1, 4.5, ["discontinued"])])
    print(inv.process([("bolt", 2), ("nut", 60), ("cog", 1)]))
    print(inv.restock(), inv.value())
