"""The house's shape, checked from the code's own imports (ast): one direction, no cycles, no private names
across packages, small modules and functions.  docs/design.md describes the same map."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Each room of the house and its floor.  A room imports only rooms on lower floors (and itself): data flows
#: up, and two rooms on one floor (sample and train; repairs and distill) never import each other.
#: Rooms are the subpackages of ``treediff`` and its top-level modules; ``treediff`` itself is the package's
#: ``__init__`` (the public calls), ``cli`` the command line.
FLOORS: dict[str, int] = {
    "errors": 0, "assets": 0,
    "registry": 1, "files": 1, "progress": 1, "samples": 1, "stream": 1, "threads": 1,
    "syntax": 2,
    "tokens": 3, "validity": 3,
    "noise": 4, "data": 4,
    "model": 5,
    "sample": 6, "train": 6,
    "repairs": 7, "distill": 7,
    "cli_support": 8, "treediff": 8,
    "cli": 9,
    "__main__": 10,
}

#: Longest module, and longest function unless its ``def`` lines carry a ``# long:`` comment saying why.
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80


def _library_files() -> list[Path]:
    return sorted((ROOT / "treediff").rglob("*.py")) + sorted((ROOT / "cli").glob("*.py"))


def _room_of_file(path: Path) -> str:
    rel = path.relative_to(ROOT)
    if rel.parts[0] == "cli":
        return "cli"
    if len(rel.parts) == 2:  # treediff/<module>.py
        return "treediff" if rel.stem == "__init__" else rel.stem
    return rel.parts[1]


def _room_of_module(name: str) -> str | None:
    """The room of an imported module name; ``None`` for anything outside the house."""
    parts = name.split(".")
    if parts[0] in ("cli", "treediff_cli"):
        return "cli"
    if parts[0] != "treediff":
        return None
    return parts[1] if len(parts) > 1 else "treediff"


def _imports(path: Path) -> list[tuple[int, str, list[str]]]:
    """``(line, module, names)`` of every import in the file, function-level ones included."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name, []) for a in node.names]
    return found


def _edges() -> dict[tuple[str, str], list[str]]:
    edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    for path in _library_files():
        src = _room_of_file(path)
        for line, module, _ in _imports(path):
            dst = _room_of_module(module)
            if dst is not None and dst != src:
                edges[(src, dst)].append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    return edges


def test_every_room_has_a_floor():
    rooms = {_room_of_file(p) for p in _library_files()}
    assert rooms <= set(FLOORS), f"rooms without a floor (add them to FLOORS): {sorted(rooms - set(FLOORS))}"


def test_no_import_runs_upward_or_sideways():
    bad = [where for (src, dst), wheres in _edges().items()
           if dst in FLOORS and src in FLOORS and FLOORS[dst] >= FLOORS[src] for where in wheres]
    assert not bad, "imports that do not go down a floor:\n" + "\n".join(bad)


def test_no_cycles_between_packages():
    graph: dict[str, set[str]] = defaultdict(set)
    for src, dst in _edges():
        graph[src].add(dst)
    state: dict[str, int] = {}  # 1: on the stack, 2: done

    def visit(room: str, path: list[str]) -> list[str] | None:
        state[room] = 1
        for nxt in sorted(graph[room]):
            if state.get(nxt) == 1:
                return path + [room, nxt]
            if nxt not in state and (cycle := visit(nxt, path + [room])):
                return cycle
        state[room] = 2
        return None

    for room in sorted(graph):
        if room not in state:
            cycle = visit(room, [])
            assert cycle is None, "a cycle between packages: " + " -> ".join(cycle)


def _private_imports(paths: list[Path], room_of) -> list[str]:
    bad = []
    for path in paths:
        src = room_of(path)
        for line, module, names in _imports(path):
            dst = _room_of_module(module)
            if dst is None or dst == src:
                continue
            bad += [f"{path.relative_to(ROOT)}:{line}: {module}.{n}" for n in names
                    if n.startswith("_") and not n.startswith("__")]
    return bad


def test_no_private_names_imported_across_packages():
    bad = _private_imports(_library_files(), _room_of_file)
    assert not bad, "private names imported from another package:\n" + "\n".join(bad)


def _is_module(name: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # a name inside a module, not a submodule
        return False


def _private_attributes(path: Path) -> list[str]:
    """``module._name`` reads where ``module`` is a treediff module the file imported."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules |= {a.asname for a in node.names if a.asname and a.name.startswith("treediff")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("treediff"):
            modules |= {a.asname or a.name for a in node.names
                        if _is_module(f"{node.module}.{a.name}")}
    return [f"{path.relative_to(ROOT)}:{node.lineno}: {node.value.id}.{node.attr}" for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules
            and node.attr.startswith("_") and not node.attr.startswith("__")]


def test_tests_use_public_names_only():
    tests = [p for p in sorted((ROOT / "tests").rglob("*.py"))]
    bad = _private_imports(tests, lambda p: "tests") + [x for p in tests for x in _private_attributes(p)]
    assert not bad, "tests using private names (make them public, with a docstring):\n" + "\n".join(bad)


def _too_long() -> list[str]:
    found = []
    for path in _library_files():
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        rel = path.relative_to(ROOT)
        if len(lines) > MAX_MODULE_LINES:
            found.append(f"{rel}: {len(lines)} lines (at most {MAX_MODULE_LINES})")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                size = node.end_lineno - node.lineno + 1
                header = lines[node.lineno - 1:max(node.lineno, node.body[0].lineno - 1)]  # the def's own lines
                if size > MAX_FUNCTION_LINES and not any("# long:" in line for line in header):
                    found.append(f"{rel}:{node.lineno}: {node.name} has {size} lines (at most "
                                 f"{MAX_FUNCTION_LINES} without a '# long: why' comment on its def line)")
    return found


def test_modules_and_functions_are_short():
    found = _too_long()
    assert not found, "\n".join(found)


@pytest.mark.parametrize("source, expected", [
    ("treediff.sample.api", "sample"), ("treediff", "treediff"), ("treediff_cli.app", "cli"), ("numpy", None),
])
def test_rooms_are_read_from_module_names(source, expected):
    assert _room_of_module(source) == expected
