"""Fuzzing across the syntax layer: parse, CFG, graph and validate never crash or hang on
random text and on mutated real programs, in every language."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from treediff.errors import InputError
from treediff.syntax import list_languages, parse
from treediff.syntax.cfg import build_cfgs
from treediff.syntax.graph import build_graph
from treediff.validity import check

ROOT = Path(__file__).resolve().parents[1]
LANGS = [lang.name for lang in list_languages()]
SEEDS = {
    lang.name: [p.read_text() for ext in lang.extensions for p in sorted((ROOT / "examples" / lang.name).glob(f"*{ext}"))]
    for lang in list_languages()
}


def _all_layers(code: str | bytes, language: str) -> None:
    try:
        tree = parse(code, language)
    except InputError:
        return
    cfgs = build_cfgs(tree)
    assert cfgs
    g = build_graph(tree, dataflow=language == "python")
    assert g.number_of_nodes() >= 1
    for u, v in g.edges():
        assert u in g and v in g
    # the compiler runs only for Python here (in-process); subprocess compilers are covered
    # by the oracle benchmark and the validity tests
    result = check(code, language, compiler=language == "python")
    assert isinstance(result.ok, bool)
    if tree.has_errors:  # never dropped silently: a problem, or a warning where the compiler overrules it
        assert not result.ok or (result.level.startswith("compiler:") and result.warnings)


@pytest.mark.parametrize("language", LANGS)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_mutated_programs(language: str, data: st.DataObject) -> None:
    source = data.draw(st.sampled_from(SEEDS[language]))
    n = len(source)
    ops = data.draw(st.lists(st.tuples(st.sampled_from("dis"), st.integers(0, max(0, n - 1)), st.integers(1, 12)), max_size=4))
    text = source
    for op, pos, width in ops:
        pos = min(pos, len(text))
        if op == "d":
            text = text[:pos] + text[pos + width :]
        elif op == "i":
            text = text[:pos] + data.draw(st.sampled_from(["(", "}", "return ", ":", "\n    ", "break;", "yield 1", "'"])) + text[pos:]
        else:
            j = min(len(text), pos + width)
            text = text[:pos] + text[pos:j][::-1] + text[j:]
    _all_layers(text, language)


@pytest.mark.parametrize("language", ["python", "javascript", "c", "rust"])
@settings(max_examples=30, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes(language: str, blob: bytes) -> None:
    _all_layers(blob, language)


@settings(max_examples=40, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("abc01 \n\t()[]{}:;,.=+-*/<>!'\"#\\@")), max_size=200))
@example("0,*0")  # tree-sitter-python rejects it, CPython compiles it: the compiler's verdict stands
def test_random_text_python(text: str) -> None:
    _all_layers(text, "python")
