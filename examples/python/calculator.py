"""A tokenizer and recursive-descent evaluator for arithmetic: match, while, closures."""

import operator

BINARY = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}


def tokenize(text):
    tokens, i = [], 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch.isdigit():
            j = i
            while j < len(text) and (text[j].isdigit() or text[j] == "."):
                j += 1
            tokens.append(("num", float(text[i:j])))
            i = j
        elif ch in BINARY or ch in "()":
            tokens.append(("op", ch))
            i += 1
        else:
            raise SyntaxError(f"unexpected {ch!r} at {i}")
    return tokens


def evaluate(text):
    tokens = tokenize(text)
    pos = 0

    def peek():
        return tokens[pos] if pos < len(tokens) else ("end", None)

    def advance():
        nonlocal pos
        pos += 1
        return tokens[pos - 1]

    def atom():
        match advance():
            case ("num", value):
                return value
            case ("op", "("):
                value = expr()
                if advance() != ("op", ")"):
                    raise SyntaxError("expected )")
                return value
            case ("op", "-"):
                return -atom()
            case other:
                raise SyntaxError(f"unexpected {other}")

    def binary(next_level, ops):
        def parse_level():
            left = next_level()
            while peek()[0] == "op" and peek()[1] in ops:
                op = advance()[1]
                left = BINARY[op](left, next_level())
            return left

        return parse_level

    term = binary(atom, "*/")
    expr = binary(term, "+-")
    result = expr()
    if pos != len(tokens):
        raise SyntaxError("trailing input")
    return result


if __name__ == "__main__":
    for source in ["1 + 2 * 3", "(1 + 2) * 3", "-4 / (2 - 4)"]:
        try:
            print(source, "=", evaluate(source))
        except ZeroDivisionError:
            print(source, "divides by zero")
