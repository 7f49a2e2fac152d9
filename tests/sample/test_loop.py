"""The denoising loop: blocks, NFE counting, threshold decoding, the prefix cache."""

from __future__ import annotations

import pytest
import torch

from treediff.sample.config import SamplerConfig
from treediff.sample.loop import denoise, plan_blocks


def _batch(lm, n_ctx=6, n_gen=16, bsz=2):
    ids = torch.randint(10, 200, (bsz, n_ctx + n_gen), generator=torch.Generator().manual_seed(0))
    masked = torch.zeros_like(ids, dtype=torch.bool)
    masked[:, n_ctx:] = True
    return ids, masked


def test_plan_blocks_cuts_masked_positions_in_order():
    masked = torch.tensor([[0, 1, 1, 0, 1, 1, 1]], dtype=torch.bool)
    blocks = plan_blocks(masked, 2)
    assert [b[0].nonzero().flatten().tolist() for b in blocks] == [[1, 2], [4, 5], [6]]
    assert plan_blocks(torch.zeros(1, 3, dtype=torch.bool), 2) == []


def test_one_token_per_step_nfe_equals_tokens(untrained_lm):
    ids, masked = _batch(untrained_lm)
    res = denoise(untrained_lm, ids, masked, SamplerConfig(block_size=8))
    assert res.nfe == 16 and res.num_dropped == 0
    assert not (res.ids == untrained_lm.mask_id).any()
    assert torch.equal(res.ids[:, :6], ids[:, :6])
    assert not torch.isin(res.ids[:, 6:], torch.tensor(untrained_lm.banned_ids)).any()


def test_steps_share_blocks(untrained_lm):
    ids, masked = _batch(untrained_lm)
    res = denoise(untrained_lm, ids, masked, SamplerConfig(block_size=8, steps=4))
    assert res.nfe == 4


def test_threshold_needs_fewer_passes_when_confident(untrained_lm):
    ids, masked = _batch(untrained_lm)
    loose = denoise(untrained_lm, ids, masked, SamplerConfig(block_size=16, threshold=1e-9))
    assert loose.nfe == 1, "every position passes a tiny threshold: one pass"
    strict = denoise(untrained_lm, ids, masked, SamplerConfig(block_size=16, threshold=1.0))
    assert strict.nfe == 16


def test_seeded_sampling_is_deterministic(untrained_lm):
    ids, masked = _batch(untrained_lm)
    cfg = SamplerConfig(temperature=1.0, order="random", block_size=8)
    a = denoise(untrained_lm, ids, masked, cfg, generator=torch.Generator().manual_seed(3)).ids
    b = denoise(untrained_lm, ids, masked, cfg, generator=torch.Generator().manual_seed(3)).ids
    c = denoise(untrained_lm, ids, masked, cfg, generator=torch.Generator().manual_seed(4)).ids
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_on_block_remask_is_decoded_again(untrained_lm):
    ids, masked = _batch(untrained_lm, bsz=1)
    calls = []

    def on_block(b, cur, m):
        calls.append(b)
        redo = torch.zeros_like(m)
        if b == 0:
            redo[0, 6:8] = True
        return redo

    res = denoise(untrained_lm, ids, masked, SamplerConfig(block_size=8, remask_parallel=1), on_block=on_block)
    assert calls == [0, 1], "one check per block; its remasked positions are redone once"
    assert res.nfe == 8 + 2 + 8
    assert not (res.ids == untrained_lm.mask_id).any()
    calls.clear()
    res = denoise(untrained_lm, ids, masked, SamplerConfig(block_size=8, remask_parallel=2), on_block=on_block)
    assert res.nfe == 8 + 1 + 8, "the redo commits remask_parallel tokens per step"


def test_threshold_with_steps_keeps_the_step_budget(untrained_lm):
    ids, masked = _batch(untrained_lm, bsz=2)
    n = int(masked[0].sum())
    res = denoise(untrained_lm, ids, masked, SamplerConfig(block_size=0, steps=4, threshold=0.99))
    assert res.nfe == 4 < n  # the untrained model is never that confident: the step budget decides
    assert not (res.ids == untrained_lm.mask_id).any()


def test_prefix_cache_path_runs_and_is_exact_for_one_step_blocks(untrained_lm):
    """With one token per block every step is a refresh step, so the cached path equals the plain one."""
    ids, masked = _batch(untrained_lm, bsz=1)
    assert untrained_lm.supports_cache
    plain = denoise(untrained_lm, ids, masked, SamplerConfig(block_size=1, use_cache="off"))
    cached = denoise(untrained_lm, ids, masked, SamplerConfig(block_size=1, use_cache="on"))
    assert torch.equal(plain.ids, cached.ids) and plain.nfe == cached.nfe == 16
    multi = denoise(untrained_lm, ids, masked, SamplerConfig(block_size=8, use_cache="on"))
    assert multi.nfe == 16 and not (multi.ids == untrained_lm.mask_id).any()


def test_dual_cache_recomputes_only_the_block_window(untrained_lm, monkeypatch):
    """A hole in the middle: with the dual cache a block's later steps run only its window of positions, not the
    tail after it; one-token blocks (every step a refresh) decode exactly as without a cache."""
    assert untrained_lm.supports_window
    ids, masked = _batch(untrained_lm, bsz=1)
    width = ids.shape[1]
    masked[:, :] = False
    masked[0, 4:20] = True
    ids[masked] = untrained_lm.mask_id
    widths = []
    real = type(untrained_lm).logits

    def spy(self, ids_, **kwargs):
        widths.append((ids_.shape[1], kwargs.get("suffix_start")))
        return real(self, ids_, **kwargs)

    monkeypatch.setattr(type(untrained_lm), "logits", spy)
    plain = denoise(untrained_lm, ids, masked, SamplerConfig(block_size=1, use_cache="off"))
    widths.clear()
    cached = denoise(untrained_lm, ids, masked, SamplerConfig(block_size=1, use_cache="on"))
    assert torch.equal(plain.ids, cached.ids) and plain.nfe == cached.nfe == 16
    widths.clear()
    res = denoise(untrained_lm, ids, masked, SamplerConfig(block_size=8, use_cache="on"))
    assert res.nfe == 16 and not (res.ids == untrained_lm.mask_id).any()
    refresh = [w for w in widths if w[0] == width]
    assert len(refresh) == 2 and all(s == 12 or s == 20 for _, s in refresh)  # a block's last position + 1
    assert all(w[0] == 8 for w in widths if w[0] != width)  # the window: the block's 8 positions


def test_a_guard_edit_after_the_window_is_kept(untrained_lm):
    """A guard may decide positions after the one it is asked about (closing text, emptied provisionals); with
    the dual cache those can lie after the block's window, and what it wrote there must stay written."""
    ids, masked = _batch(untrained_lm, bsz=1)
    masked[:, :] = False
    masked[0, 4:12] = True  # block 0: the window [4, 12)
    masked[0, 20:24] = True  # block 1, after the window
    ids[masked] = untrained_lm.mask_id
    calls, marker = [], 123

    def guard(row, pos, candidates, ids_row, masked_row):
        calls.append(pos)
        if len(calls) == 3:  # a step of block 0 after its refresh: a window step
            assert len(ids_row) == ids.shape[1]  # the guard sees whole rows
            ids_row[21], masked_row[21] = marker, False
        ids_row[pos], masked_row[pos] = candidates[0], False
        return True

    res = denoise(untrained_lm, ids, masked, SamplerConfig(block_size=8, use_cache="on"), guard=guard)
    assert int(res.ids[0, 21]) == marker and 21 not in calls  # decided by the guard, never decoded again
    assert not (res.ids == untrained_lm.mask_id).any()


@pytest.mark.parametrize("language, code, spans", [
    ("python", "def f(x):\n    y = x + 1\n    return y * 2\n\n\ndef g(a):\n    return a\n", [(14, 23, "statement")]),
    ("java", "class A {\n  int f(int x) {\n    int y = x + 1;\n    return y;\n  }\n}\n", [(39, 44, "expression")]),
])
def test_infill_with_the_dual_cache(untrained_lm, language, code, spans):
    """The whole pipeline (guard, spacing rule, remasking, fallback) with the window cache on: a valid program,
    the code around the hole kept."""
    from treediff import infill

    r = infill(code, language, model=untrained_lm, spans=spans, use_cache="on", seed=0)
    a, b, _ = spans[0]
    assert r.record.ok and r.code.startswith(code[:a]) and r.code.endswith(code[b:])


@pytest.mark.gpu
def test_cuda_block_cache_sampling(untrained_lm):
    from treediff.model.formats import TreediffLM

    lm = TreediffLM(untrained_lm.model, untrained_lm.tokenizer, torch.device("cuda"), name="cuda")
    try:
        ids, masked = _batch(lm)
        res = denoise(lm, ids, masked, SamplerConfig(block_size=8))  # use_cache auto: on for CUDA
        assert res.ids.device.type == "cuda" and res.nfe == 16
        assert not (res.ids == lm.mask_id).any()
    finally:
        untrained_lm.model.to("cpu")
