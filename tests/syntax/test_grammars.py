"""Languages are data: every ``grammars/*.toml`` file loads, its tables are sound,
its fillers parse as their category in their hole context, and its examples parse."""

from __future__ import annotations

from pathlib import Path

import pytest

from treediff.errors import GrammarError
from treediff.syntax import HOLE_CATEGORIES, detect_language, get_language, list_languages, load_language, parse
from treediff.syntax import language as language_module
from treediff.syntax.language import HOLE_MARKER, grammars_dir

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
GRAMMARS = REPO / "grammars"
LANGUAGE_NAMES = sorted(p.stem for p in GRAMMARS.glob("*.toml"))
#: Example programs live in ``examples/<language>/``; other folders there (configs) are not code.
EXAMPLE_FILES = sorted(p for name in LANGUAGE_NAMES for p in (EXAMPLES / name).glob("*") if p.is_file())

#: Node kinds that, parsed from ordinary code, must land in each category (a sample
#: per language, so an emptied or misspelled list fails here, not in a masker).
EXPECTED_KINDS = {
    "python": {"statement": "if_statement", "expression": "call", "literal": "integer", "block": "block"},
    "javascript": {"statement": "if_statement", "expression": "call_expression", "literal": "number",
                   "block": "statement_block", "definition": "function_declaration"},
    "typescript": {"statement": "if_statement", "expression": "as_expression", "literal": "number",
                   "block": "statement_block", "definition": "interface_declaration",
                   "identifier": "type_identifier"},
    "tsx": {"statement": "if_statement", "expression": "jsx_element", "literal": "string",
            "block": "statement_block", "definition": "function_declaration"},
    "java": {"statement": "enhanced_for_statement", "expression": "method_invocation",
             "literal": "decimal_integer_literal", "block": "block", "definition": "method_declaration",
             "comment": "line_comment"},
    "c": {"statement": "switch_statement", "expression": "subscript_expression", "literal": "number_literal",
          "block": "compound_statement", "definition": "function_definition", "identifier": "field_identifier"},
    "cpp": {"statement": "for_range_loop", "expression": "lambda_expression", "literal": "number_literal",
            "block": "compound_statement", "definition": "function_definition", "identifier": "namespace_identifier"},
    "go": {"statement": "fallthrough_statement", "expression": "selector_expression", "literal": "int_literal",
           "block": "block", "definition": "method_declaration", "identifier": "field_identifier"},
    "rust": {"statement": "let_declaration", "expression": "match_expression", "literal": "integer_literal",
             "block": "block", "definition": "impl_item", "identifier": "field_identifier"},
}


@pytest.fixture(scope="module")
def languages():
    return {lang.name: lang for lang in list_languages()}


@pytest.fixture
def grammars_env(tmp_path, monkeypatch):
    """Point ``TREEDIFF_GRAMMARS`` at an empty tmp dir, with the loader's caches cleared around the test."""
    directory = tmp_path / "grammars"
    directory.mkdir()
    monkeypatch.setenv("TREEDIFF_GRAMMARS", str(directory))
    language_module.clear_language_cache()
    yield directory
    monkeypatch.undo()
    language_module.clear_language_cache()


# -- every grammar file --------------------------------------------------------------
def test_every_grammar_file_loads(languages):
    assert grammars_dir().resolve() == GRAMMARS.resolve()
    assert sorted(languages) == LANGUAGE_NAMES
    assert set(LANGUAGE_NAMES) >= {"python", "javascript", "typescript", "tsx", "java", "c", "cpp", "go", "rust"}


@pytest.mark.parametrize("name", LANGUAGE_NAMES)
def test_categories_are_real_visible_kinds(languages, name):
    lang = languages[name]
    tsl = lang.ts_language
    visible = {
        tsl.node_kind_for_id(i)
        for i in range(tsl.node_kind_count)
        if tsl.node_kind_is_named(i) and tsl.node_kind_is_visible(i)
    }
    for category, kinds in lang.categories.items():
        # every category of a real programming language has nodes, so none may be empty
        assert kinds, f"{name}: [categories].{category} is empty"
        # a hidden kind (an unexpanded supertype) would silently match nothing in a tree
        assert kinds <= visible, f"{name}: {category} lists kinds never seen in trees: {sorted(kinds - visible)}"
    assert set(lang.category_order) == set(lang.categories)


@pytest.mark.parametrize("name", LANGUAGE_NAMES)
def test_expected_kinds_have_their_category(languages, name):
    lang = languages[name]
    for category, kind in EXPECTED_KINDS.get(name, {}).items():
        assert category in lang.categories_of(kind), f"{name}: {kind} should be a {category}"


@pytest.mark.parametrize("name", LANGUAGE_NAMES)
def test_hole_contexts_match_fillers(languages, name):
    lang = languages[name]
    assert set(lang.hole_contexts) == set(lang.fillers) >= set(HOLE_CATEGORIES)
    for template in lang.hole_contexts.values():
        assert template.count(HOLE_MARKER) == 1
    with pytest.raises(TypeError):
        lang.hole_contexts["statement"] = "{hole}"  # read-only


def _covering_categories(tree, start: int, end: int) -> list[tuple[str, frozenset[str]]]:
    """Kinds (and their categories) of the nodes that span exactly the filler bytes.

    The smallest named node covering the filler, then its ancestors while they cover
    the same bytes (``pass`` → ``pass_statement`` → ``block``).  A filler that does not
    form its own node (an anonymous ``;``) yields nothing.
    """
    node = tree.node_at(start, end)
    out = []
    while node is not None and node.span == (start, end):
        out.append((node.kind, node.categories))
        node = node.parent
    return out


@pytest.mark.parametrize("name", LANGUAGE_NAMES)
def test_fillers_parse_as_their_category_in_context(languages, name):
    lang = languages[name]
    for category, filler in lang.fillers.items():
        before, after = lang.hole_contexts[category].split(HOLE_MARKER)
        source = before + filler + after
        tree = parse(source, lang)
        errors = [(n.kind, n.span, n.is_missing) for n in tree.errors()]
        assert not errors, f"{name}: {category} filler {filler!r} does not parse in context: {errors}\n{source}"
        start = len(before.encode())
        chain = _covering_categories(tree, start, start + len(filler.encode()))
        assert chain, f"{name}: {category} filler {filler!r} forms no node of its own in {tree.sexp()}"
        assert any(category in cats for _, cats in chain), (
            f"{name}: {category} filler {filler!r} parses as {[k for k, _ in chain]}, none a {category}"
        )


# -- example files -------------------------------------------------------------------
def test_every_language_has_examples():
    for name in LANGUAGE_NAMES:
        files = [p for p in (EXAMPLES / name).glob("*") if p.is_file()]
        assert 2 <= len(files) <= 3, f"examples/{name}/ should hold 2-3 files, has {len(files)}"
    readme = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    for path in EXAMPLE_FILES:
        assert path.relative_to(EXAMPLES).as_posix() in readme, f"examples/README.md does not list {path.name}"


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.relative_to(EXAMPLES).as_posix())
def test_example_parses_cleanly_in_its_language(path):
    lang = detect_language(path)
    assert lang.name == path.parent.name, f"{path.name} detected as {lang.name}"
    source = path.read_bytes()
    num_lines = source.count(b"\n")
    assert 30 <= num_lines <= 120, f"{path.name}: {num_lines} lines"
    tree = parse(source, lang, path=str(path))
    errors = [(n.kind, n.start_point) for n in tree.errors()]
    assert not errors, f"{path}: syntax errors at {errors}"
    kinds = {n.kind for n in tree.nodes(named=True)}
    for category in ("definition", "statement", "expression", "identifier", "literal", "block"):
        assert kinds & lang.categories[category], f"{path.name} has no {category} node"


def test_an_injected_syntax_error_is_caught():
    for name in LANGUAGE_NAMES:
        path = sorted((EXAMPLES / name).glob("*"))[0]
        source = path.read_text(encoding="utf-8")
        cut = source.index("{") + 1 if "{" in source else source.index(":") + 1
        broken = source[:cut] + " ) ( " + source[cut:]
        assert parse(broken, name).has_errors, f"{name}: injected error went unnoticed"


@pytest.mark.parametrize("name", LANGUAGE_NAMES)
def test_layout_matches_the_grammar(name):
    """``[layout]`` is data the block search trusts: check it against the real grammar."""
    lang = get_language(name)
    layout = lang.layout
    # the comment marker starts a comment node that runs to the end of the line
    src = lang.hole_contexts["statement"].replace("{hole}", lang.filler("statement"))
    src += f"{layout.line_comment} x {{ : (\n"
    tree = parse(src, lang)
    assert not tree.has_errors, f"{name}: a {layout.line_comment!r} line is not a comment"
    comments = [n for n in tree.nodes(named=True) if n.kind in lang.categories["comment"]]
    assert comments and comments[-1].text.rstrip() == f"{layout.line_comment} x {{ : (", name
    assert layout.code_of("a = 1  " + layout.line_comment + " b :{") == "a = 1"
    m = layout.line_comment  # a marker inside a closed string is code; after an unclosed quote, a comment
    assert layout.code_of(f'f("{m}", \'{m}\')  {m} c') == f'f("{m}", \'{m}\')'
    assert layout.code_of(f'g("a\\"{m}")') == f'g("a\\"{m}")'
    assert layout.code_of(f"h(&'a x)  {m} c") == "h(&'a x)"
    # a block is opened by block_open and, in a bracket-delimited language, closed by block_close
    block = lang.filler("block")
    if layout.block_close:
        assert block.startswith(layout.block_open) and block.endswith(layout.block_close), name
    else:
        assert layout.opens_block(lang.hole_contexts["block"].split("\n")[0]), name
    if layout.decorator:
        assert layout.decorator in {"@", "#["}, f"{name}: add a parse check for decorator {layout.decorator!r}"


# -- broken grammar files ------------------------------------------------------------
def _c_toml() -> str:
    return (GRAMMARS / "c.toml").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace('"compound_statement"]', '"compund_statement"]', 1),
         "[categories].block: 'compund_statement' is not a node kind"),
        (lambda t: t.replace("\n[fillers]\n", "\n[fillers_]\n", 1), "missing required keys: fillers"),
        (lambda t: t.replace("\n[hole_contexts]\n", "\n[hole_context]\n", 1), "missing required keys: hole_contexts"),
        (lambda t: t.replace("\nliteral = \"int _x = {hole};\\n\"", "", 1), "[hole_contexts] is missing: literal"),
        (lambda t: t.replace('expression = "int _x = {hole};\\n"', 'expression = "int _x = 0;\\n"', 1),
         "[hole_contexts].expression must be a string containing {hole} exactly once (found 0)"),
        (lambda t: t.replace('expression = "int _x = {hole};\\n"', 'expression = "{hole} + {hole}"', 1),
         "exactly once (found 2)"),
        (lambda t: t.replace("\n[hole_contexts]\n", "\n[hole_contexts]\nlambda = \"{hole}\"\n", 1),
         "entries without a filler: lambda"),
        (lambda t: t.replace("\ncomment = [\"comment\"]", "", 1), "[categories] is missing: comment"),
        (lambda t: t.replace("\n[layout]\n", "\n[layouts]\n", 1), "missing required keys: layout"),
        (lambda t: t.replace('\nblock_close = "}"', "", 1), "[layout] needs exactly"),
        (lambda t: t.replace('\nblock_close = "}"', '\nblock_close = "}"\nblock_end = "}"', 1), "unknown: block_end"),
        (lambda t: t.replace('line_comment = "//"', 'line_comment = ""', 1), "must not be empty"),
        (lambda t: t.replace('block_open = "{"', 'block_open = " {"', 1), "[layout].block_open must be a string"),
        (lambda t: t.replace('named = ["true", "false"]', 'named = ["true", "ture"]', 1),
         "['ture'], which are no named"),
        (lambda t: t.replace('named = ["true", "false"]', 'names = ["true"]', 1), "[keywords] has unknown keys"),
    ],
    ids=["misspelled-kind", "no-fillers", "no-hole-contexts", "context-missing", "no-marker", "two-markers",
         "stray-context", "no-comment-category", "no-layout", "layout-key-missing", "layout-key-unknown",
         "empty-comment", "blank-in-layout", "keyword-not-a-kind", "keywords-key-unknown"],
)
def test_broken_grammar_file_names_the_problem(tmp_path, edit, message):
    text = edit(_c_toml())
    assert text != _c_toml(), "the edit did not apply: update this test with the grammar file"
    path = tmp_path / "c.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(GrammarError) as info:
        load_language(path)
    assert message in str(info.value)
    assert "c.toml" in str(info.value)


def test_a_broken_file_in_the_grammars_dir_fails_listing(grammars_env):
    (grammars_env / "c.toml").write_text(_c_toml().replace('"compound_statement"]', '"compund_statement"]'))
    with pytest.raises(GrammarError, match="compund_statement"):
        list_languages()


def test_a_new_language_needs_only_a_data_file(grammars_env, tmp_path):
    text = _c_toml().replace('name = "c"', 'name = "c2"', 1)
    text = text.replace('extensions = [".c", ".h"]', 'extensions = [".c2"]', 1)
    assert 'name = "c2"' in text and '".c2"' in text
    (grammars_env / "c2.toml").write_text(text, encoding="utf-8")
    source = tmp_path / "hello.c2"
    source.write_text("int main(void) {\n    for (int i = 0; i < 3; i++) { if (i) break; }\n    return 0;\n}\n")
    assert [lang.name for lang in list_languages()] == ["c2"]
    lang = detect_language(source)
    assert lang is get_language("c2")
    tree = parse(source.read_bytes(), lang)
    assert not tree.has_errors
    assert {n.kind for n in tree.nodes(category="statement")} >= {"for_statement", "if_statement", "return_statement"}


def test_the_real_grammars_come_back_after_a_tmp_dir(grammars_env, monkeypatch):
    (grammars_env / "c2.toml").write_text(_c_toml().replace('name = "c"', 'name = "c2"', 1), encoding="utf-8")
    assert [lang.name for lang in list_languages()] == ["c2"]
    monkeypatch.delenv("TREEDIFF_GRAMMARS")
    # the caches are keyed by directory, so the real grammars resolve again at once
    assert get_language("c").path.resolve() == (GRAMMARS / "c.toml").resolve()
