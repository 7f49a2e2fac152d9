"""infill / repair / synth / sample end to end on tiny CPU models, with honest records."""

from __future__ import annotations

import json

import pytest
import torch

from treediff.errors import CheckpointError, ConfigError, InputError, LanguageNotFound
from treediff import repair
from treediff.sample import SamplerConfig, Spec, infill, load_model, sample, synth
from treediff.syntax.holes import fill_parses_as
from treediff.validity import check

STUB = 'def add(a, b):\n    """Return the sum of a and b."""\n'


@pytest.mark.parametrize("constraint", ["remask", "full"])
def test_untrained_model_still_returns_valid_programs(untrained_lm, constraint):
    results = synth(STUB, model=untrained_lm, n=2, max_new_tokens=24, constraint=constraint, temperature=1.0)
    assert len(results) == 2
    for r in results:
        assert check(r.code, "python").ok, r.code
        assert r.record.ok and r.record.level == "compiler:python"
        assert r.code.startswith(STUB)
        assert r.record.nfe >= 24
        assert r.record.constraint == constraint


def test_constraint_none_reports_invalid_honestly(untrained_lm):
    results = synth(STUB, model=untrained_lm, n=3, max_new_tokens=24, constraint="none", temperature=1.0)
    for r in results:
        assert r.record.ok == check(r.code, "python").ok
        assert r.record.rounds == 0 and not r.record.fallback
    assert not all(r.record.ok for r in results), "noise from an untrained model is almost never valid"


def test_fallback_is_counted_not_hidden(untrained_lm):
    r = infill("x = <|hole:expression|>\n", "python", model=untrained_lm, constraint="remask", max_rounds=0,
               temperature=1.0, seed=1)
    assert r.record.ok
    if r.holes[0].text != "None":
        pytest.skip("the noise happened to be a valid expression")
    assert r.record.fallback and r.record.num_fallback_regions >= 1


def test_infill_holes_parse_as_their_category(untrained_lm):
    code = "def f(x):\n    y = <|hole:expression|>\n    <|hole:statement|>\n    return y\n"
    r = infill(code, "python", model=untrained_lm)
    assert r.record.ok and check(r.code, "python").ok
    assert [h.category for h in r.holes] == ["expression", "statement"]
    assert all(h.category_ok for h in r.holes), r.holes
    assert r.record.categories_ok == (True, True)
    for h in r.holes:
        assert r.code.encode()[h.span[0]:h.span[1]].decode() == h.text


def test_a_fill_of_the_wrong_category_is_redone_then_filled(untrained_lm):
    """Valid code, but the expression hole holds a comment only: a round decodes the hole again, whole;
    without rounds, the hole gets its category's filler (counted as fallback)."""
    from treediff.sample.remask import remask
    from treediff.syntax.holes import find_holes

    template = find_holes("x = (<|hole:expression|>)\n", "python")
    code, spans = template.fill(["  # nothing\n"])
    assert check(code, "python").ok
    holes, gen = template.holes, torch.Generator().manual_seed(0)
    done = remask(untrained_lm, "python", code, list(spans), holes, SamplerConfig(max_rounds=0), gen)
    out, out_spans, rounds, verdict, n_fallback = done.code, done.spans, done.rounds, done.verdict, done.num_fallback
    assert verdict.ok and rounds == 0 and n_fallback == 1
    assert fill_parses_as("python", out, out_spans[0], "expression")
    done = remask(untrained_lm, "python", code, list(spans), holes, SamplerConfig(max_rounds=2), gen)
    out, out_spans, rounds, verdict, counters = done.code, done.spans, done.rounds, done.verdict, done.counts
    assert verdict.ok and rounds >= 1 and counters.nfe > 0
    assert fill_parses_as("python", out, out_spans[0], "expression")


def test_infill_by_selector_and_spans(untrained_lm):
    code = "def f(x):\n    return x + 1\n\ndef g():\n    return 2\n"
    r = infill(code, "python", model=untrained_lm, select="body of g")
    assert r.record.ok and r.code.startswith("def f(x):\n    return x + 1\n")
    start = code.index("x + 1")
    r = infill(code, "python", model=untrained_lm, spans=[(start, start + 5)])
    assert r.record.ok and r.holes[0].category == "expression"


def test_repair_fixes_broken_code(untrained_lm):
    broken = "def f(x):\n    y = (x +\n    return y\n\nprint(f(1))\n"
    r = repair(broken, "python", model=untrained_lm)
    assert r.record.ok and check(r.code, "python").ok
    assert r.code.rstrip().endswith("print(f(1))"), "code outside the broken statement is kept"
    valid = "x = 1\n"
    same = repair(valid, "python", model=untrained_lm)
    assert same.code == valid and same.record.rounds == 0 and same.record.nfe == 0


def test_javascript_infill_under_the_tree_sitter_guard(untrained_lm):
    r = infill("function f(a) {\n  return <|hole:expression|>;\n}\n", "javascript", model=untrained_lm)
    assert r.record.ok and r.record.grammar  # no lark grammar: the tree-sitter prefix guard ran


def test_sample_raw(untrained_lm):
    out = sample("import os\n", "python", model=untrained_lm, n=2, length=16, temperature=1.0)
    assert len(out) == 2 and all(o.record.ok for o in out)


def test_bad_input_errors(untrained_lm, tmp_path):
    with pytest.raises(InputError, match="empty spec"):
        synth("   ", model=untrained_lm)
    with pytest.raises(LanguageNotFound):
        synth("do it", language="cobol", model=untrained_lm)
    with pytest.raises(InputError, match="no holes"):
        infill("x = 1\n", "python", model=untrained_lm)
    with pytest.raises(InputError, match="category"):
        infill("x = <|hole:banana|>\n", "python", model=untrained_lm)
    with pytest.raises(ConfigError, match="order"):
        infill("x = <|hole|>\n", "python", model=untrained_lm, order="best")
    bad = tmp_path / "specs.jsonl"
    bad.write_text('{"prompt": "x"}\nnot json\n')
    with pytest.raises(InputError, match="specs.jsonl:2"):
        synth(str(bad), model=untrained_lm)


def test_jsonl_specs_batch(untrained_lm, tmp_path):
    f = tmp_path / "specs.jsonl"
    f.write_text(json.dumps({"task_id": "t/1", "prompt": STUB}) + "\n"
                 + json.dumps({"id": "t/2", "text": "Double x.", "signature": "double(x)"}) + "\n")
    out = synth(str(f), model=untrained_lm, max_new_tokens=16)
    assert [r.spec_id for r in out] == ["t/1", "t/2"]
    assert out[1].code.startswith('def double(x):\n    """Double x."""\n')
    assert all(r.record.ok for r in out)
    assert set(out[0].to_json()) >= {"spec_id", "code", "ok", "level", "rounds", "fallback", "nfe"}


def test_spec_forms():
    assert Spec.from_text(STUB).kind == "stub"
    assert Spec.from_text("Sort a list.").kind == "text"
    assert Spec.from_text("x = <|hole|>\n").kind == "holes"
    assert Spec.from_text("Sort a list.").template_code() == "# Sort a list.\n<|hole:statement|>\n"
    assert Spec.from_text(STUB).template_code().endswith('"""\n    <|hole:block|>\n')


def test_model_directory_errors(tmp_path, bundle_dir):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_model(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="config.json"):
        load_model(tmp_path / "empty")
    inc = tmp_path / "incomplete"
    inc.mkdir()
    (inc / "config.json").write_text((bundle_dir / "config.json").read_text())
    with pytest.raises(CheckpointError, match="tokenizer"):
        load_model(inc)
    (inc / "tokenizer.json").write_text((bundle_dir / "tokenizer.json").read_text())
    with pytest.raises(CheckpointError):
        load_model(inc)  # no weights
    lm = load_model(bundle_dir, device="cpu")
    assert lm.mask_id == 1 and lm.max_length == 512


def test_external_transformers_model(tmp_path, tokenizer):
    """A local transformers masked LM (BERT-shaped) loads offline and samples under the same API."""
    from transformers import BertConfig, BertForMaskedLM

    d = tmp_path / "ext"
    cfg = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=256, pad_token_id=tokenizer.pad_id)
    torch.manual_seed(0)
    BertForMaskedLM(cfg).save_pretrained(d)
    tokenizer.save(d)
    lm = load_model(d, device="cpu")
    assert type(lm).__name__ == "ExternalLM" and lm.mask_id == tokenizer.mask_id
    r = infill("x = <|hole:expression|>\n", "python", model=lm)
    assert r.record.ok
    bad = tmp_path / "badvocab"
    BertForMaskedLM(BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                               intermediate_size=64)).save_pretrained(bad)
    tokenizer.save(bad)
    with pytest.raises(CheckpointError, match="incompatible"):
        load_model(bad)


def test_config_round_trip():
    cfg = SamplerConfig(order="entropy", threshold=0.8, block_size=4)
    assert SamplerConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ConfigError, match="unknown sampler setting"):
        SamplerConfig.from_dict({"stepz": 3})
    for bad in ({"remask_parallel": 0}, {"remask_temperature": -1.0}, {"extra_steps": -0.5}):
        with pytest.raises(ConfigError, match=next(iter(bad))):
            SamplerConfig(**bad)


def test_block_check_remasks_broken_statements_of_the_decoded_prefix(untrained_lm):
    from treediff.sample.segments import block_check

    lm = untrained_lm
    good, bad, tail = lm.encode("x = 1\n", "python"), lm.encode("y = )\n", "python"), lm.encode("z = 2\n", "python")
    ids = torch.tensor([lm.prefix_ids("python") + good + bad + tail + [lm.mask_id] * 3])
    masked = torch.zeros_like(ids, dtype=torch.bool)
    masked[0, -3:] = True
    editable = torch.ones_like(masked)
    editable[0, :2] = False
    check = block_check(lm, "python", editable, 2, ids.shape[1])
    redo = check(0, ids, masked)
    assert redo is not None
    hit = redo[0].nonzero().flatten().tolist()
    first_bad = 2 + len(good)
    assert hit and min(hit) >= first_bad and max(hit) < first_bad + len(bad), (hit, first_bad, len(bad))
    clean = torch.tensor([lm.prefix_ids("python") + good + tail + [lm.mask_id] * 3])
    m2 = torch.zeros_like(clean, dtype=torch.bool)
    m2[0, -3:] = True
    assert block_check(lm, "python", torch.ones_like(m2), 2, clean.shape[1])(0, clean, m2) is None


def test_long_requests_are_capped_with_a_warning(untrained_lm):
    with pytest.warns(UserWarning, match="capped"):
        out = synth(STUB, model=untrained_lm, max_new_tokens=5000, steps=8, block_size=0, constraint="none")
    assert out[0].record.nfe == 8 and out[0].code.startswith(STUB)
    # a long program is filled one block of lines at a time (the hole's own statement here) ...
    long = infill("x = 1\n" * 400 + "y = <|hole|>\n", "python", model=untrained_lm)
    assert long.record.ok and long.code.startswith("x = 1\n" * 400 + "y = ") and long.record.extra["chunks"] == 1
    assert long.holes[0].category_ok and long.holes[0].span[0] == len("x = 1\n" * 400 + "y = ")
    # ... but a hole inside one statement longer than the model has no block to go to
    with pytest.raises(InputError, match="no block of lines short enough"):
        infill("y = [" + ", ".join(map(str, range(700))) + ", <|hole|>]\n", "python", model=untrained_lm)


def test_a_remask_round_keeps_the_first_sample_that_passes_in_score_order(monkeypatch):
    """pick_draft: rows tried best score first; a row tree-sitter rejects never reaches the compiler check;
    the first row whose program passes (with its hole of the right category) is kept."""
    from treediff.sample import remask as rm
    from treediff.syntax.holes import find_holes

    template = find_holes("x = <|hole:expression|>\ny = x\n", "python")
    code, spans = template.fill(["1"])
    a, b = spans[0]
    rows = [["(1"], ["2 +"], ["undefined_name_q"], ["3"]]  # a parse error, a parse error, valid python, valid
    seen = []
    real = rm.check
    monkeypatch.setattr(rm, "check", lambda c, lang, given=None: seen.append(c) or real(c, lang, given=given))
    out, out_spans, verdict, cats = rm.pick_draft("python", code, list(spans), [(a, b)], rows, [0.5, 0.9, -2.0, 0.1],
                                             template.holes, None)
    assert verdict.ok and all(cats)
    assert out == "x = 3\ny = x\n", "the best-scored row that passes: '3' (0.1) before 'undefined_name_q' (-2.0)"
    assert seen == ["x = 3\ny = x\n"], "rows tree-sitter rejects cost no compiler check"
    out, *_ = rm.pick_draft("python", code, list(spans), [(a, b)], [["(1"], ["2 +"]], [0.0, 1.0], template.holes, None)
    assert out == "x = 2 +\ny = x\n", "nothing passes: the best-scored row is kept for the next round"


def test_remask_samples_is_validated():
    with pytest.raises(ConfigError, match="remask_samples"):
        SamplerConfig(remask_samples=0)


def test_a_remask_round_drafts_shorter_fills_beside_the_full_one(untrained_lm, monkeypatch):
    from treediff.sample import remask as rm
    from treediff.syntax.holes import find_holes

    template = find_holes("x = <|hole:expression|>\n", "python")
    code, spans = template.fill(["a + b + c + d + e + f"])
    n_old = len(untrained_lm.encode("a + b + c + d + e + f", "python"))
    seen = []
    real = rm.decode_layouts
    monkeypatch.setattr(rm, "decode_layouts",
                        lambda lm, requests, config: seen.append([sum(lay.editable) for lay, _, _ in requests])
                        or real(lm, requests, config))
    rows, scores, _ = rm.redo_round(untrained_lm, "python", code, [(*spans[0], 0)], template.holes,
                               SamplerConfig(remask_samples=4), torch.Generator().manual_seed(0), rm.DecodeCounts())
    full = n_old + rm.REMASK_SLACK
    assert seen == [[full, round(full / 2), round(full / 4), round(full * 3 / 4)]]
    assert len(rows) == 4 and len(scores) == 4 and all(len(r) == 1 for r in rows)
