"""The multi-language masking ablation's bookkeeping (bench/masking_ablation_multi.py): per-language
summaries with paired bootstrap intervals, the verdict, and items drawn from one language's files."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from treediff.syntax import CATEGORIES

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
import cfg_ablation  # noqa: E402
import masking_ablation_multi as multi  # noqa: E402


def _runs(by_seed: dict[int, list[float]]) -> dict:
    return {s: {"hits": [bool(h) for h in v], "token_hits": [h / 2 for h in v], "val_loss": 1.0}
            for s, v in by_seed.items()}


RUNS = {  # items 0-2 in language "a", 3-5 in "b"; per item (mean over seeds) below
    "random": _runs({0: [1, 0, 0, 0, 0, 0], 1: [1, 0, 0, 0, 0, 1]}),  # [1, 0, 0, 0, 0, .5]
    "ast_span": _runs({0: [1, 1, 0, 0, 0, 0], 1: [1, 1, 0, 0, 0, 0]}),  # [1, 1, 0, 0, 0, 0]
}
LANGS = ["a", "a", "a", "b", "b", "b"]


def test_summary_per_language_means_differences_and_gains():
    summary = multi.summarise_by_language(RUNS, LANGS)
    assert list(summary) == ["all", "a", "b"]
    a, b, both = summary["a"]["ast_span"], summary["b"]["ast_span"], summary["all"]["ast_span"]
    assert a["n"] == 3 and both["n"] == 6
    assert summary["a"]["random"]["exact"] == pytest.approx(1 / 3) and a["exact"] == pytest.approx(2 / 3)
    assert a["exact_diff"] == pytest.approx(1 / 3) and a["exact_rel"] == pytest.approx(1.0)
    assert b["exact_diff"] == pytest.approx(-1 / 6) and b["exact_rel"] == pytest.approx(-1.0)
    assert both["exact_rel"] == pytest.approx((1 / 3) / 0.25 - 1)
    assert a["token_acc"] == pytest.approx(1 / 3)  # token hits are half the exact hits here
    # paired differences per item: a = [0, 1, 0]; resamples reach all zeros and all ones
    assert a["exact_diff_ci95"] == (0.0, 1.0)
    assert a["exact_ci95"][0] <= a["exact"] <= a["exact_ci95"][1]
    assert a["per_seed"] == {0: pytest.approx(2 / 3), 1: pytest.approx(2 / 3)}
    assert summary["b"]["random"]["per_seed_token_acc"] == {0: 0.0, 1: pytest.approx(1 / 6)}
    assert "exact_diff" not in summary["a"]["random"]  # the base has no difference to itself


def test_bootstrap_of_constant_items_is_the_point_and_gain_of_a_zero_base_is_undefined():
    assert cfg_ablation.bootstrap(np.full(7, 0.25)) == (0.25, 0.25)
    assert cfg_ablation.relative_gain(np.ones(4), np.zeros(4)) == (None, (None, None))
    rel, (lo, hi) = cfg_ablation.relative_gain(np.array([1.0, 1.0, 0.0]), np.array([1.0, 0.0, 0.0]))
    assert rel == pytest.approx(1.0) and lo == pytest.approx(0.0) and hi == np.inf  # ref may resample to 0


def test_verdicts():
    row = {"exact_diff_ci95": (0.01, 0.2), "exact_rel": 0.5, "exact_rel_ci95": (0.05, 1.0)}
    assert multi.verdict(row).startswith("reproduced,")
    assert multi.verdict({**row, "exact_rel_ci95": (-0.001, 1.0)}).startswith("unresolved")
    assert multi.verdict({**row, "exact_rel_ci95": (0.01, 0.1)}).startswith("reproduced in direction, smaller")
    assert multi.verdict({**row, "exact_diff_ci95": (-0.2, -0.01)}).startswith("refuted")
    assert multi.verdict({**row, "exact_diff_ci95": (-0.01, 0.2)}).startswith("unresolved")
    assert multi.verdict({**row, "exact_diff_ci95": (-0.01, 0.01), "exact_rel_ci95": (-0.1, 0.1)}).startswith("refuted")
    assert multi.verdict({"exact_diff_ci95": (0.0, 0.0), "exact_rel": None,
                          "exact_rel_ci95": (None, None)}).startswith("unresolved")
    assert multi.verdict(None).startswith("unresolved")
    table = multi.markdown(multi.summarise_by_language(RUNS, LANGS), ["random", "ast_span"], "exact")
    assert table.splitlines()[-1].startswith("| **all** | 6 | 0.250 [") and "+33.3%" in table


def test_items_come_from_the_asked_language(tmp_path):
    from treediff.data import CorpusDataset, prepare_corpus
    from treediff.data.shards import read_manifest
    from treediff.tokens.tokenizer import SyntaxTokenizer

    tok = SyntaxTokenizer.from_pretrained(ROOT / "examples" / "tokenizer_multi")
    files = [ROOT / "examples" / "python" / "calculator.py", ROOT / "examples" / "go" / "matrix.go"]
    prepare_corpus(files, tok, tmp_path, val_fraction=0.0, seq_len=64, workers=1, show_progress=False)
    ds = CorpusDataset(tmp_path, "train", seq_len=64)
    problems, langs = multi.draw_items(ds, read_manifest(tmp_path)["lang_ids"], ["go", "python"], 3, 8)
    assert set(langs) == {"go", "python"} and len(langs) == len(problems)
    assert [e - s for _, s, e, _ in problems] == sorted(e - s for _, s, e, _ in problems)  # short first
    assert 0 < langs.count("go") <= 15 and 0 < langs.count("python") <= 15
    # independent reading: the last language tag before the node in the concatenated windows
    stream = np.concatenate([ds[i].input_ids for i in range(len(ds))])
    tags = {tag: name for name, tag in read_manifest(tmp_path)["lang_ids"].items()}
    for (w, s, e, c), lang in zip(problems, langs):
        before = [int(t) for t in stream[: w * 64 + s] if int(t) in tags]
        assert tags[before[-1]] == lang and not set(stream[w * 64 + s: w * 64 + e].tolist()) & set(tags)
        assert 1 <= e - s <= 8 and CATEGORIES[c] in multi.NODE_CATEGORIES
        assert tok.decode(ds[w].input_ids[s:e]).strip() in files[["python", "go"].index(lang)].read_text()
    windows, cropped = multi.crop_items(ds, problems, 16)
    for (w, s, e, _), (i, s2, e2, _) in zip(problems, cropped):
        assert len(windows[i].input_ids) <= 16 and (windows[i].input_ids[s2:e2] == ds[w].input_ids[s:e]).all()


def test_bad_arguments_exit_2_with_one_line(tmp_path, capsys):
    for argv in (["--arms", "random,sideways"], ["--arms", "ast_span,mixed"], ["--corpus", str(tmp_path)],
                 ["--merge", str(tmp_path / "none.json")]):
        with pytest.raises(SystemExit) as exc:
            multi.main([*argv, "--work", str(tmp_path / "work")])
        err = capsys.readouterr().err
        assert exc.value.code == 2 and err.startswith("error: ") and len(err.strip().splitlines()) == 1
