"""A statement or block fill that holds no code is no answer (SamplerConfig.substantive_holes)."""

import torch

from treediff.sample import remask as rm
from treediff.sample.config import SamplerConfig
from treediff.syntax.holes import find_holes

_JS = "function greet(name) {\n  <|hole:statement|>\n}\ngreet('x');\n"


def _first_pass(fill: str):
    template = find_holes(_JS, "javascript")
    code, spans = template.fill([fill])
    return template, code, spans


def test_a_passing_row_that_holds_code_wins_over_a_better_scored_hollow_one():
    template, code, spans = _first_pass("return;")
    rows = [["return;"], ["console.log(name);"]]
    kept, *_, cats = rm.pick_draft("javascript", code, list(spans), [spans[0]], rows, [1.0, 0.5], template.holes,
                                   None, substantive=True)
    assert "console.log(name);" in kept and cats == (True,)
    kept, *_ = rm.pick_draft("javascript", code, list(spans), [spans[0]], rows, [1.0, 0.5], template.holes, None)
    assert "  return;" in kept, "without substantive the best-scored passing row is kept, as before"


def _remask(monkeypatch, fill: str, drafts: list[str], **settings):
    template, code, spans = _first_pass(fill)
    asked = []

    def redo(lm, language, code, regions, holes, config, generator, counts):
        asked.append([code.encode()[a:b].decode() for a, b, _ in regions])
        return [[drafts[min(len(asked), len(drafts)) - 1]]], [0.0], counts

    monkeypatch.setattr(rm, "redo_round", redo)
    config = SamplerConfig(context_drafts=0, context_sweep=0, **settings)
    done = rm.remask(None, "javascript", code, list(spans), template.holes, config, torch.Generator(),
                     given=template.source)
    return done, asked


def test_a_hollow_first_pass_is_decoded_again_and_a_round_that_writes_code_is_kept(monkeypatch):
    done, asked = _remask(monkeypatch, "{ }", ["console.log(name);"])
    assert asked == [["{ }"]], "the hollow hole is remasked whole"
    assert done.num_fallback == 0 and done.categories_ok == (True,) and "console.log(name);" in done.code


def test_a_hole_that_stays_hollow_ends_as_fallback_not_as_written(monkeypatch):
    done, asked = _remask(monkeypatch, "return;", ["return;", "/* x */", "{ }"])
    assert len(asked) == 3, "every round is tried"
    assert done.verdict.ok and done.num_fallback == 1, "the hollow fill is the category's filler, counted"


def test_substantive_holes_off_keeps_a_hollow_fill(monkeypatch):
    done, asked = _remask(monkeypatch, "return;", ["console.log(name);"], substantive_holes=False)
    assert asked == [] and done.num_fallback == 0 and "return;" in done.code


def test_infill_marks_a_hollow_fill_in_its_result(untrained_lm):
    import treediff

    res = treediff.infill("def f(x):\n    <|hole:block|>\n", "python", model=untrained_lm, max_rounds=0,
                          substantive_holes=False)
    text = res.holes[0].text.strip()
    assert res.holes[0].hollow == (text in ("pass", "...", "return") or not text or text.startswith("#"))


def test_synth_json_says_whether_a_body_is_hollow(untrained_lm):
    from treediff.sample import synth

    row = synth('def f(x):\n    """Twice x."""\n', model=untrained_lm, max_rounds=0)[0].to_json()
    assert isinstance(row["hollow"], bool)
