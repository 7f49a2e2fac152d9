"""The grammar guard at commit time: frontier checks, provisional runs re-chosen without a forward pass."""

from __future__ import annotations

import numpy as np
import pytest

from treediff.sample.constraints import GrammarGuard, grammar_for
from treediff.syntax.holes import enclosing_region
from treediff.syntax.tree import parse


def _one(lm, text: str) -> int:
    ids = lm.encode(text, "python")
    assert len(ids) == 1, f"{text!r} is {len(ids)} tokens in this tokenizer"
    return ids[0]


def _row(lm, head: str, n_masks: int):
    """``ids, masked`` of one row: ``head``'s tokens, then ``n_masks`` masked positions (all editable)."""
    ids = np.array(lm.encode(head, "python") + [lm.mask_id] * n_masks)
    masked = np.zeros(len(ids), dtype=bool)
    masked[len(ids) - n_masks:] = True
    return ids, masked


def _guard(lm, masked, **kw):
    return GrammarGuard(lm, grammar_for("python"), masked[None].copy(), 0, len(masked), **kw)


def test_frontier_commit_skips_candidates_that_break_the_prefix(untrained_lm):
    lm = untrained_lm
    ids, masked = _row(lm, "x = 1 +", 2)
    guard = _guard(lm, masked, horizon=0)
    pos = int(np.flatnonzero(masked)[0])
    assert guard(0, pos, [_one(lm, ")"), _one(lm, "]"), _one(lm, "1")], ids, masked)
    assert lm.text_of(ids[: pos + 1]) == "x = 1 +1"
    assert guard.stats.num_checks >= 3


def test_provisional_run_is_rechosen_from_its_stored_candidates(untrained_lm):
    """``x = (`` ␣ ``]``: the run behind the gap fails once the gap closes; its second candidate fits, so
    it is swapped in place (no remask, no forward pass) and the program is complete."""
    lm = untrained_lm
    ids, masked = _row(lm, "x = (", 2)
    guard = _guard(lm, masked, horizon=0)
    gap, behind = np.flatnonzero(masked)
    assert guard(0, int(behind), [_one(lm, "]"), _one(lm, ")")], ids, masked)  # provisional: not checked yet
    assert not masked[behind] and ids[behind] == _one(lm, "]")
    assert guard(0, int(gap), [_one(lm, "1")], ids, masked)
    assert not masked.any()
    assert lm.text_of(ids) == "x = (1)"
    assert guard.stats.num_rechosen == 1 and guard.stats.num_rejected_runs == 0 and guard.stats.num_remasked == 0


def test_provisional_run_with_no_fitting_candidate_is_remasked(untrained_lm):
    lm = untrained_lm
    ids, masked = _row(lm, "x = (", 3)
    guard = _guard(lm, masked, horizon=0)
    gap, first, second = np.flatnonzero(masked)
    assert guard(0, int(first), [_one(lm, ")")], ids, masked)
    assert guard(0, int(second), [_one(lm, "]")], ids, masked)
    assert guard(0, int(gap), [_one(lm, "1")], ids, masked)  # `x = (1)` fits, `x = (1)]` never does
    text = lm.text_of(ids[: int(second)])
    assert text == "x = (1)"
    assert masked[second] and ids[second] == lm.mask_id  # the rest of the run is decoded again
    assert guard.stats.num_rejected_runs == 1
    assert guard.sessions[0].viable(lm.text_of(ids[: int(second)]))


def test_commits_keep_every_decoded_prefix_viable(untrained_lm):
    """Random candidates, random order: whatever the guard commits, the decoded prefix stays viable."""
    lm = untrained_lm
    rng = np.random.default_rng(0)
    vocab = [_one(lm, t) for t in ["x", " ", "=", "(", ")", "1", ",", "]", "[", "+", ":", "\n", "if"]]
    runs = 0
    for trial in range(20):
        ids, masked = _row(lm, "y = ", 12)
        guard = _guard(lm, masked, horizon=4)
        while masked.any():
            pos = int(rng.choice(np.flatnonzero(masked)))
            guard(0, pos, [int(t) for t in rng.permutation(vocab)[:5]], ids, masked)
            gaps = np.flatnonzero(masked)
            stop = int(gaps[0]) if gaps.size else len(ids)
            assert guard.sessions[0].viable(lm.text_of(ids[:stop])), (trial, lm.text_of(ids[:stop]))
        runs += guard.stats.num_rechosen_runs
    assert runs > 0  # out-of-order commits were re-checked when their gaps closed


@pytest.mark.parametrize("widen", [0, 1, 2, 3])
def test_remask_regions_widen_one_level_per_round(widen):
    code = "def f(a):\n    if a:\n        y = g(1 + (2 *))\n    return a\n"
    tree = parse(code, "python")
    bad = next(tree.errors())
    within = (code.index("    if"), code.index("    return"))
    spans = [enclosing_region(tree, bad.start_byte, bad.end_byte, within=within, widen=w) for w in range(widen + 1)]
    for small, big in zip(spans, spans[1:]):
        assert big[0] <= small[0] and small[1] <= big[1] and big != small or big == within
    assert all(within[0] <= a <= b <= within[1] for a, b in spans)
