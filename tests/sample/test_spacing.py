"""Single spaces: the spacing rule's bans, and that our tokenizer writes space runs the way it assumes."""

from __future__ import annotations

import torch

from treediff.sample.spacing import SpacingRule


def _space(lm, n: int) -> int:
    ids = lm.encode("x" + " " * n + "y", "python")
    assert len(ids) == 3, f"{n} spaces are not one token here"
    return ids[1]


def test_the_pairs_are_the_tokenizers_own_splits(untrained_lm):
    from treediff.sample.spacing import space_pairs

    lm = untrained_lm
    spaces, pairs = space_pairs(lm)
    longest = max(len(lm.token_text(i)) for i in spaces)
    for n in (1, 2, 3, longest):
        _space(lm, n)
    ids = lm.encode("x" + " " * (longest + 3) + "y", "python")
    assert len(ids) == 4 and (ids[1], ids[2]) in pairs, "a run past the longest token is a pair the rule keeps"
    assert (_space(lm, 1), _space(lm, 1)) not in pairs, "one space then one space is never written"


def test_no_space_token_beside_a_space_token_it_never_follows_or_precedes(untrained_lm):
    lm = untrained_lm
    rule = SpacingRule.for_model(lm, torch.device("cpu"))
    one, name = _space(lm, 1), lm.encode("x", "python")[0]
    m = lm.mask_id
    ids = torch.tensor([[name, one, m, m, name, m, one]])
    masked = ids == m
    logits = torch.zeros(1, ids.shape[1], lm.vocab_size)
    rule.apply(logits, ids, masked, 0)
    banned = torch.isinf(logits[0, :, one])
    # position 2 follows a decided single space; 5 precedes one; 3 has masked or non-space neighbours
    assert banned.tolist() == [False, False, True, False, False, True, False]
    assert not torch.isinf(logits[0, 2, name]), "only space tokens are banned"
    tail = torch.zeros(1, ids.shape[1] - 3, lm.vocab_size)  # a window [3, L): the same bans, shifted
    rule.apply(tail, ids, masked, 3)
    assert torch.isinf(tail[0, :, one]).tolist() == [False, False, True, False]
    window = torch.zeros(1, 3, lm.vocab_size)  # a window [1, 4) (the dual cache's): only its own bans
    rule.apply(window, ids, masked, 1, 4)
    assert torch.isinf(window[0, :, one]).tolist() == [False, True, False]


def test_models_whose_tokenizer_does_not_merge_space_runs_get_no_rule(untrained_lm, monkeypatch):
    monkeypatch.setattr(type(untrained_lm), "merges_space_runs", False)
    assert SpacingRule.for_model(untrained_lm, torch.device("cpu")) is None
