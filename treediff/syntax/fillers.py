"""Typed fillers: the fallback text for a region, chosen from its context, then the language's ordered list.

A region that stays invalid after the compiler-remasking rounds gets a filler that must pass the compiler.
:func:`typed_fillers` lists the texts to try, best first: the filler of the type the context asks for (the
declared type of the variable it initialises or is assigned to, the enclosing function's return type, the
``[typed_fillers.types]`` table of ``grammars/<name>.toml``), then the category's ordered list from
``[typed_fillers]``, then the category's minimal filler (``[fillers]``).  The caller verifies each.

>>> code = b"class A {\\n  String s = \\"\\";\\n  void f() { s += 1; }\\n}\\n"
>>> typed_fillers("java", code, code.index(b"1;"), code.index(b"1;") + 1, "expression")[:2]
['""', '0']
>>> code = b"fn f() -> bool {\\n    return 1;\\n}\\n"
>>> typed_fillers("rust", code, code.index(b"1;"), code.index(b"1;") + 1, "expression")[0]
'false'
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import tempfile
from typing import Sequence

from treediff.syntax.language import get_language
from treediff.syntax.tree import parse

__all__ = ["typed_fillers", "typed_choice", "context_type", "problem_fillers", "statement_expression", "name_fillers",
           "import_uses"]

#: Fields that hold a declared type, and fields that hold a function's return type, across the grammars.
_TYPE_FIELDS = ("type",)
_RETURN_FIELDS = ("return_type", "result", "type")
_FUNCTIONS = ("method_declaration", "function_item", "function_definition", "function_declaration",
              "method_definition", "arrow_function", "func_literal", "lambda_expression", "closure_expression")
_ASSIGN_WORDS = ("assignment", "augmented_assignment", "compound_assignment", "assignment_expression",
                 "augmented_assignment_expression", "compound_assignment_expr")


def context_type(language: str, source: bytes, a: int, b: int) -> str | None:
    """The type the code around ``source[a:b]`` expects there, as written in the source, or ``None``."""
    root = parse(source, language).ts_tree.root_node
    node = root.descendant_for_byte_range(a, max(a, b - 1))
    hops = 0
    while node is not None and hops < 6:
        cond = node.parent.child_by_field_name("condition") if node.parent is not None else None
        if cond is not None and (cond.start_byte, cond.end_byte) == (node.start_byte, node.end_byte):
            # an `if`/`while`/`for`/`?:` condition: the language's boolean (`[typed_fillers] condition_type`)
            return get_language(language).extra.get("typed_fillers", {}).get("condition_type")
        for f in _TYPE_FIELDS:
            t = node.child_by_field_name(f)
            if t is not None and node.type not in _FUNCTIONS and t.end_byte <= a:
                return source[t.start_byte:t.end_byte].decode("utf-8", "replace").lstrip(":").strip()
        if node.type in ("return_statement", "return_expression"):
            fn = node.parent
            while fn is not None and fn.type not in _FUNCTIONS:
                fn = fn.parent
            for f in _RETURN_FIELDS if fn is not None else ():
                t = fn.child_by_field_name(f)
                if t is not None:
                    return source[t.start_byte:t.end_byte].decode("utf-8", "replace").lstrip(":").strip()
            return None
        if node.type in _ASSIGN_WORDS or node.type.endswith("assignment_expression"):
            left = node.child_by_field_name("left")
            if left is not None and left.end_byte <= a:
                return _declared_type(language, source, source[left.start_byte:left.end_byte].decode("utf-8"))
            return None
        node = node.parent
        hops += 1
    return None


def _declared_type(language: str, source: bytes, name: str) -> str | None:
    """The type a declaration in ``source`` gives ``name`` (the table's ``declared`` patterns), or ``None``."""
    if not name.isidentifier():
        return None
    text = source.decode("utf-8", "replace")
    for pattern in get_language(language).extra.get("typed_fillers", {}).get("declared", ()):
        m = re.search(pattern.replace("{name}", re.escape(name)), text)
        if m:
            return m.group(1).strip()
    return None


#: a type as a ``{type}`` template may write it: no qualifier, reference or lifetime, one line
_PLAIN_TYPE = re.compile(r"[A-Za-z_][\w:<>, .\[\]*]*")


def typed_choice(language: str, source: bytes, a: int, b: int) -> str | None:
    """The ``[typed_fillers.types]`` filler of the type the context asks for at ``source[a:b]``, or ``None``.

    An entry ending in ``*`` matches a type by its start; the entry ``"*"`` matches any type, after every
    other; ``{type}`` in a filler is replaced by the type as written (without ``const``/``&``), so one entry
    makes a value of any type: C's compound literal ``({type}){0}``, Go's ``*new({type})``.

    >>> code = b"struct point { int x; };\\nstruct point f(void) { return 1; }\\n"
    >>> typed_choice("c", code, code.index(b"1;"), code.index(b"1;") + 1)
    '(struct point){0}'
    """
    typ = context_type(language, source, a, b)
    if typ is None:
        return None
    types = get_language(language).extra.get("typed_fillers", {}).get("types", {})
    hit = types.get(typ)
    if hit is None:
        hit = next((v for k, v in types.items() if k.endswith("*") and k != "*" and typ.startswith(k[:-1])), None)
    if hit is None:
        hit = types.get("*")
    if hit is None or "{type}" not in hit:
        return hit
    plain = re.sub(r"^(?:const|volatile|mut)\s+|\s*&+\s*$", "", typ.strip()).strip()
    return hit.replace("{type}", plain) if _PLAIN_TYPE.fullmatch(plain) else None


def statement_expression(language: str, source: bytes, a: int, b: int) -> bool:
    """``source[a:b]`` is the whole expression of an expression statement (``fmt.Println(x)`` on its own line),
    where a language takes only some expressions (a call, not ``nil``: ``[typed_fillers] statement_expression``).
    Decided with a neutral literal in the region's place, since the region holds a broken fill.

    >>> code = b"package p\\n\\nfunc f() {\\n\\tg(1)\\n}\\n"
    >>> statement_expression("go", code, code.index(b"g(1)"), code.index(b"g(1)") + 4)
    True
    >>> code = b"package p\\n\\nfunc f() int {\\n\\treturn g(1)\\n}\\n"
    >>> statement_expression("go", code, code.index(b"g(1)"), code.index(b"g(1)") + 4)
    False
    """
    probe = source[:a] + b"0" + source[b:]
    node = parse(probe, language).ts_tree.root_node.descendant_for_byte_range(a, a + 1)
    while node is not None and node.start_byte == a and node.end_byte == a + 1 and node.parent is not None:
        if node.parent.type == "expression_statement":
            return True
        node = node.parent
    return False


def problem_fillers(language: str, problems: Sequence[str]) -> list[str]:
    """The statements the compiler's complaints ask for (``[typed_fillers.problems]``: a message pattern and a
    statement with ``{1}`` for its group 1 (``{2}`` group 2, ...), or a list of them to try in order), one line per
    matching message: choice ``i`` gives each message its ``i``-th statement (its last when it has fewer); ``[]``
    when none match.

    >>> problem_fillers("go", ["dir declared but not used", "undefined: y"])
    ['_ = dir\\ny := false', '_ = dir\\ny := 0', '_ = dir\\ny := ""', '_ = dir\\ny := error(nil)']
    >>> problem_fillers("go", ["cannot use b (variable of type bool) as []byte value in argument to g"])
    ['var b []byte']
    >>> problem_fillers("typescript", ["TS2304: Cannot find name 'c'."])
    ['let c: any']
    """
    table = get_language(language).extra.get("typed_fillers", {}).get("problems", {})
    found: list[list[str]] = []
    for message in problems:
        for pattern, templates in table.items():
            m = re.search(pattern, message)
            if m:
                lines = [_groups(t, m) for t in ([templates] if isinstance(templates, str) else templates)]
                if lines and lines not in found:
                    found.append(lines)
                break
    if not found:
        return []
    return ["\n".join(dict.fromkeys(ls[min(i, len(ls) - 1)] for ls in found)) for i in range(max(map(len, found)))]


def _groups(template: str, match: re.Match) -> str:
    """``template`` with ``{n}`` replaced by group ``n`` of ``match``."""
    for i, group in enumerate(match.groups(), 1):
        template = template.replace(f"{{{i}}}", group or "")
    return template


_MAX_NAMES = 2  # names from the compiler's messages tried per region (each try costs a check)


def name_fillers(language: str, problems: Sequence[str], key: str = "names") -> list[str]:
    """Names the compiler's complaints say the code lacks or no longer uses (``[typed_fillers.names]``: message
    patterns whose group 1 is a name), at most :data:`_MAX_NAMES`: the name a hole held, when the hole was a
    declaration's name (``let value: number``: "Cannot find name 'value'" at every later use) or the one use of
    an import (Go's ``flag`` in ``flag.Parse()``: '"flag" imported and not used'), where no literal can stand.

    >>> name_fillers("typescript", ["TS2304: Cannot find name 'value'.", "TS2304: Cannot find name 'value'."])
    ['value']
    >>> name_fillers("go", ['"database/sql" imported and not used', "undefined: err"])
    ['sql', 'err']

    ``key="unused"``: the ``[typed_fillers.unused]`` patterns, variables the compiler says are declared and
    never used (a hole may have held their only use, or a statement elsewhere may use them).

    >>> name_fillers("go", ["id declared but not used"], key="unused")
    ['id']
    """
    patterns = get_language(language).extra.get("typed_fillers", {}).get(key, ())
    out: list[str] = []
    for message in problems:
        for pattern in patterns:
            m = re.search(pattern, message)
            if m and m.group(1) not in out:
                out.append(m.group(1))
                break
    return out[:_MAX_NAMES]


def import_uses(language: str, problems: Sequence[str], source: bytes = b"") -> list[str]:
    """Statements that use each import the compiler says is no longer used (``[typed_fillers.imports]``): Go
    rejects an unused import, and a hole whose code was an import's only user leaves one behind whatever filler
    stands there.  A use names one exported value of the package, read off the toolchain's own documentation
    (``members``: ``go doc -short PATH``; no network, cached per path); ``[]`` when the language has no such
    table, the tool is missing or names no value.  An import that ``source`` makes unqualified (``dot``, with
    ``{path}``: Go's ``. "io/fs"``) is used as ``unqualified`` says (``_ = ValidPath``).

    >>> import_uses("python", ['"io/fs" imported and not used'])
    []
    """
    spec = get_language(language).extra.get("typed_fillers", {}).get("imports")
    if not spec:
        return []
    out: list[str] = []
    text = source.decode("utf-8", "replace")
    for message in problems:
        for pattern in spec.get("unused", ()):
            m = re.search(pattern, message)
            if not m:
                continue
            path = m.group(1)
            alias = m.group(2) if (m.re.groups or 0) >= 2 else None
            member = _member(tuple(spec.get("members", ())), tuple(spec.get("member", ())), path)
            if member:
                name = alias or path.rsplit("/", 1)[-1]
                dot = spec.get("dot", "").replace("{path}", re.escape(path))
                template = spec.get("unqualified", "") if dot and re.search(dot, text) else spec.get("use", "")
                use = template.replace("{name}", name).replace("{member}", member)
                if use and use not in out:
                    out.append(use)
            break
    return out


@functools.lru_cache(maxsize=256)
def _member(command: tuple[str, ...], patterns: tuple[str, ...], path: str) -> str | None:
    """The first exported value of package ``path`` that ``command`` (``{path}`` replaced) lists and one of
    ``patterns`` (group 1) matches, or ``None``.  Run without a shell, outside any module, with no proxy."""
    if not command or not re.fullmatch(r"\w[\w.\-]*(?:/[\w.\-]+)*", path) or ".." in path \
            or shutil.which(command[0]) is None:  # an import path, never a file path (`../x`, `/etc`)
        return None
    argv = [shutil.which(command[0]) or command[0], *(a.replace("{path}", path) for a in command[1:])]
    env = {**os.environ, "GOPROXY": "off", "GOFLAGS": "", "GO111MODULE": "auto"}
    try:
        with tempfile.TemporaryDirectory(prefix="treediff-doc-") as cwd:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=15, cwd=cwd, env=env)
    except (OSError, subprocess.SubprocessError):
        return None
    for pattern in patterns:
        m = re.search(pattern, proc.stdout, re.M)
        if m:
            return m.group(1)
    return None


def typed_fillers(language: str, source: bytes, a: int, b: int, category: str,
                  problems: Sequence[str] = ()) -> list[str]:
    """The fillers to try for the region ``source[a:b]`` of ``category``, best first (see the module);
    ``problems``: the check's messages, for a statement the compiler asks for (:func:`problem_fillers`)."""
    lang = get_language(language)
    table = lang.extra.get("typed_fillers", {})
    out: list[str] = []
    if category in ("expression", "identifier"):
        out += name_fillers(language, problems)
    if category in ("expression", "literal"):
        hit = typed_choice(language, source, a, b)
        if hit is not None and hit not in out:
            out.append(hit)
        alone = table.get("statement_expression")
        if alone and statement_expression(language, source, a, b):
            # the statements the compiler asks for, as the expression of this one (`this.level = level`), first
            asked = [t[:-1] for t in problem_fillers(language, problems) if t.endswith(";") and "\n" not in t]
            out[0:0] = [t for t in asked if t not in out] + [alone]
    uses = import_uses(language, problems, source) if category in ("statement", "block") else []
    if category == "statement":
        asked = problem_fillers(language, problems)
        if uses:  # each statement the complaints ask for, and the uses of the imports it left unused
            joined = "\n".join(uses)
            asked = [f"{s}\n{joined}" for s in asked] or [joined]
        out += asked
    elif uses and table.get("imports", {}).get("block"):  # a body that uses them (and returns, whatever it must)
        out.append(table["imports"]["block"].replace("{uses}", "; ".join(uses)))
    out += [t for t in table.get(category, ()) if t not in out]
    default = lang.filler(category)
    if default not in out:
        out.append(default)
    if category in ("expression", "identifier"):
        # a variable never used: after the first filler that is no missing name (a statement elsewhere may use it)
        missing = set(name_fillers(language, problems))
        first = next((i for i, t in enumerate(out) if t not in missing), len(out) - 1)
        out[first + 1:first + 1] = [n for n in name_fillers(language, problems, key="unused") if n not in out]
        wrap = _wrapper(language, source, a, b, out[0])
        if wrap:
            out = [wrap.format(t) for t in out]
    return out


#: how an expression filler that cannot stand bare where the hole is may be wrapped: in parentheses (a hole that
#: held a Java or C `if` condition with its own, `(obj == this)`), in a block (a hole that held the block of a
#: Rust `unsafe { ... }`, an expression there)
_WRAPPERS = ("({})", "{{ {} }}")


def _wrapper(language: str, source: bytes, a: int, b: int, text: str) -> str | None:
    """The :data:`_WRAPPERS` format an expression filler needs there: spliced bare, the code does not parse, and
    so wrapped it does; ``None`` when it parses bare (or no wrapper helps).

    >>> code = b"class A { boolean f(Object o) { if (o == this) return true; return false; } }"
    >>> a = code.index(b"(o =="); b = code.index(b" return true")
    >>> _wrapper("java", code, a, b, "false"), _wrapper("java", code, a + 1, b - 1, "false")
    ('({})', None)
    >>> code = b"fn f(p: *const u8) -> u8 {\\n    unsafe { *p }\\n}\\n"
    >>> _wrapper("rust", code, code.index(b"{ *p }"), code.index(b"{ *p }") + 6, "todo!()")
    '{{ {} }}'
    """
    def fails(filled: str) -> bool:
        try:
            return parse(source[:a] + filled.encode("utf-8") + source[b:], language).has_errors
        except Exception:  # not source text at all: no reason to wrap
            return True

    if not fails(text):
        return None
    return next((w for w in _WRAPPERS if not fails(w.format(text))), None)
