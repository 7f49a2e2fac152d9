"""CFG and dataflow edges reach the structure encoder; the graph comes from the visible program."""

from __future__ import annotations

import pytest
import torch

from treediff.model import EDGE_TYPES, TreediffConfig, TreediffForMaskedDiffusion, structure_from_visible
from treediff.model.structure import StructureEncoder, VisibleStructure, structure_source
from treediff.syntax import parse
from treediff.syntax.cfg_flow import FLOW_LABELS, TokenText
from treediff.tokens import pretokenize

# One program per language, with the labels its CFG (and, for Python, its dataflow) must produce.
PROGRAMS = {
    "python": ("def f(x):\n    for i in x:\n        if i:\n            break\n        elif i > 2:\n            continue\n"
               "    else:\n        pass\n    while x:\n        x = x - 1\n    try:\n        g(x)\n    except E:\n"
               "        raise\n    finally:\n        h()\n    match x:\n        case 1:\n            return 1\n"
               "    y = x\n    return y\n",
               set(FLOW_LABELS) - {"fallthrough"}),
    "c": ("int f(int x) {\n  for (;;) { if (x) break; else continue; }\n  while (x) { x--; }\n"
          "  switch (x) { case 1: x++; case 2: return 1; }\n  return x;\n}\n",
          {"break", "case", "continue", "fallthrough", "false", "loop_back", "next", "return", "true"}),
    "cpp": ("int f(int x) {\n  for (;;) { if (x) break; else continue; }\n  try { g(); } catch (...) { throw; }\n"
            "  switch (x) { case 1: x++; case 2: return 1; }\n  return x;\n}\n",
            {"break", "case", "continue", "exception", "fallthrough", "false", "next", "raise", "return", "true"}),
    "java": ("class A { int f(int x) {\n  for (;;) { if (x > 0) break; else continue; }\n"
             "  try { g(); } catch (Exception e) { throw e; } finally { h(); }\n"
             "  switch (x) { case 1: x++; case 2: return 1; }\n  return x;\n} }\n",
             {"break", "case", "continue", "exception", "fallthrough", "false", "finally", "next", "raise", "return",
              "true"}),
    "javascript": ("function f(x) {\n  for (;;) { if (x) break; else continue; }\n"
                   "  try { g(); } catch (e) { throw e; } finally { h(); }\n"
                   "  switch (x) { case 1: x++; case 2: return 1; }\n  return x;\n}\n",
                   {"break", "case", "continue", "exception", "fallthrough", "false", "finally", "next", "raise",
                    "return", "true"}),
    "go": ("func f(x int) int {\n  for { if x > 0 { break } else { continue } }\n"
           "  switch x { case 1: x++; fallthrough; case 2: return 1 }\n  return x\n}\n",
           {"break", "case", "continue", "fallthrough", "false", "next", "return", "true"}),
    "rust": ("fn f(x: i32) -> i32 {\n  loop { if x > 0 { break; } else { continue; } }\n  while x > 0 { x -= 1; }\n"
             "  match x { 1 => { return 1; } _ => {} }\n  return x;\n}\n",
             {"break", "case", "continue", "false", "loop_back", "next", "return", "true"}),
}
PROGRAMS["typescript"] = (PROGRAMS["javascript"][0].replace("f(x)", "f(x: number)"), PROGRAMS["javascript"][1])
PROGRAMS["tsx"] = PROGRAMS["javascript"]


def _rows(source: str, language: str) -> tuple[torch.Tensor, TokenText]:
    """One row of ids (token k = id k + 1, id 0 a special) and the TokenText that reads it."""
    tree = parse(source, language)
    pieces = [tree.source[p.start:p.end] for p in pretokenize(tree)]
    text = TokenText((b"", *pieces), {}, language)
    return torch.arange(1, len(pieces) + 1).unsqueeze(0), text


def _config(**kw) -> TreediffConfig:
    return TreediffConfig(vocab_size=512, d_model=32, n_layers=1, n_heads=2, d_ff=64, max_position=512,
                          mask_token_id=0, pad_token_id=None, use_structure_encoder=True, **kw)


def test_edge_types_are_the_ast_then_the_flow_labels():
    assert EDGE_TYPES[:4] == ("child_to_parent", "parent_to_child", "next_sibling", "prev_sibling")
    assert EDGE_TYPES[4:] == FLOW_LABELS
    assert {"next", "true", "false", "loop_back", "break", "continue", "return", "raise", "exception",
            "LAST_READ", "LAST_WRITE", "COMPUTED_FROM"} <= set(EDGE_TYPES)


@pytest.mark.parametrize("language", sorted(PROGRAMS))
def test_every_label_of_a_program_reaches_the_encoder(language):
    source, labels = PROGRAMS[language]
    ids, text = _rows(source, language)
    st = structure_from_visible(ids, torch.zeros_like(ids, dtype=torch.bool), text)
    config = _config(structure_edges="ast+cfg")
    st.validate(1, ids.shape[1], config.num_node_types, config.num_edge_types)
    loops = st.edge_index[0] == st.edge_index[1]  # GATv2 replaces self-loops with its own
    seen = {EDGE_TYPES[i] for i in st.edge_type[~loops].tolist()}
    assert labels <= seen, sorted(labels - seen)
    # and each label's embedding gets a gradient: the edge is in the GNN's computation
    torch.manual_seed(0)
    encoder = StructureEncoder(config)
    encoder(torch.randn(1, ids.shape[1], config.d_model), st).square().sum().backward()
    grad = encoder.edge_type.weight.grad.abs().sum(1)
    for label in labels:
        assert grad[EDGE_TYPES.index(label)] > 0, label
    unused = set(FLOW_LABELS) - {EDGE_TYPES[i] for i in st.edge_type.tolist()}
    assert all(grad[EDGE_TYPES.index(label)] == 0 for label in unused)


def test_the_graph_is_built_from_what_is_visible():
    source = "def f(a):\n    b = a + 1\n    if b:\n        return b\n    return 0\n"
    ids, text = _rows(source, "python")
    clean = structure_from_visible(ids, torch.zeros_like(ids, dtype=torch.bool), text)
    masked = torch.zeros_like(ids, dtype=torch.bool)
    masked[0, 13:] = True  # everything from the `if` on is hidden
    seen = structure_from_visible(ids, masked, text)
    kinds = lambda st: {EDGE_TYPES[i] for i in st.edge_type.tolist()}  # noqa: E731
    assert {"true", "false"} <= kinds(clean)
    assert not {"true", "false"} & kinds(seen), "the hidden if's branches leaked into the graph"
    assert seen.num_nodes < clean.num_nodes
    # no node spans a masked token unless it is the placeholder's (or an ancestor covering visible tokens)
    spans = seen.node_token_spans[~seen.node_visible]
    assert bool((spans[:, 0] >= 13).all())


def test_ast_mode_has_no_flow_edges_and_old_configs_keep_four_types():
    source, _ = PROGRAMS["python"]
    ids, text = _rows(source, "python")
    st = structure_from_visible(ids, torch.zeros_like(ids, dtype=torch.bool), text, with_flow=False)
    assert int(st.edge_type.max()) < 4
    old = _config()
    assert (old.structure_edges, old.num_edge_types) == ("spans", 4)
    assert _config(structure_edges="ast+cfg").num_edge_types == 4 + len(FLOW_LABELS)
    reloaded = TreediffConfig.from_dict({k: v for k, v in old.to_dict().items() if k != "structure_edges"})
    assert reloaded.structure_edges == "spans" and reloaded.num_edge_types == 4


def test_bad_structure_edges_is_a_config_error():
    from treediff.errors import ConfigError

    with pytest.raises(ConfigError, match="structure_edges"):
        _config(structure_edges="cfg-only")
    with pytest.raises(ConfigError, match="num_edge_types"):
        _config(structure_edges="ast+cfg", num_edge_types=4)


def test_model_runs_with_visible_structure():
    source, _ = PROGRAMS["python"]
    ids, text = _rows(source, "python")
    torch.manual_seed(0)
    model = TreediffForMaskedDiffusion(_config(structure_edges="ast+cfg")).eval()
    masked = torch.zeros_like(ids, dtype=torch.bool)
    masked[0, 5:9] = True
    inp = torch.where(masked, torch.zeros_like(ids), ids)
    source_fn = VisibleStructure(text, with_flow=True)
    with torch.no_grad():
        with_graph = model(inp, structure=source_fn(inp, masked)).logits
        without = model(inp).logits
    assert with_graph.shape == without.shape and not torch.allclose(with_graph, without)


def test_structure_source_follows_the_config():
    class Tok:  # the four things TokenText.from_tokenizer reads
        vocab_size = 3
        languages = ["python"]

        def is_special(self, ids):
            return ids == 0

        def decode_bytes(self, ids):
            return b"x"

        def lang_id(self, name):
            return 0

    assert structure_source(_config(use_structure_encoder=False) if False else TreediffConfig(
        vocab_size=8, d_model=8, n_layers=1, n_heads=2, d_ff=8, mask_token_id=0, pad_token_id=None), Tok()) is False
    assert structure_source(_config(), Tok()) is True
    vs = structure_source(_config(structure_edges="ast"), Tok())
    assert isinstance(vs, VisibleStructure) and not vs.with_flow


@pytest.mark.parametrize("name", ["default", "parallel", "multi"])
def test_embedded_models_load_with_todays_settings_and_outputs(name):
    from treediff.model import load_model
    from treediff.model.formats import embedded_model_path

    path = embedded_model_path(name)
    if path is None:
        pytest.skip("embedded model not installed")
    lm = load_model(path, device="cpu")
    cfg = lm.model.config
    assert cfg.structure_edges == "spans" and cfg.num_edge_types == 4
    assert lm.visible_structure is None  # sampling feeds these models exactly what it fed them before
    ids = torch.tensor([lm.prefix_ids("python") + lm.encode("x = 1\n", "python") + [lm.mask_id] * 3 + lm.suffix_ids()])
    with torch.no_grad():
        assert torch.equal(lm.logits(ids)[0], lm.model(ids).logits)
