"""Block-wise approximate prefix KV cache (Fast-dLLM style): exact at refresh, stale prefix after."""

from __future__ import annotations

import pytest
import torch

from treediff.errors import InputError
from treediff.model import TreediffConfig, TreediffForMaskedDiffusion, structure_from_batch
from treediff.model.denoiser import PrefixCache, WindowCache

from .conftest import MASK, PAD, VOCAB, build_batch

L, P = 40, 24


@pytest.fixture
def model():
    torch.manual_seed(0)
    return TreediffForMaskedDiffusion(TreediffConfig.from_preset("tiny", vocab_size=VOCAB)).eval()


def _ids(bsz: int = 2, length: int = L, seed: int = 0) -> torch.Tensor:
    return torch.randint(3, VOCAB, (bsz, length), generator=torch.Generator().manual_seed(seed))


def _frozen_prefix_reference(model, old_ids: torch.Tensor, new_ids: torch.Tensor, prefix: int,
                             stop: int | None = None) -> torch.Tensor:
    """Full forward of ``new_ids`` whose keys/values outside ``[prefix, stop)`` (``stop`` ``None``: the end) are
    those of ``old_ids``, by patching the qkv outputs; the logits of ``[prefix, stop)``.

    RoPE and the head split act per position, so replacing the qkv rows ``[0, prefix)`` (and ``[stop, L)``) of
    every layer with the old pass's rows freezes exactly those keys/values (and nothing else the window sees).
    """
    saved: dict[int, torch.Tensor] = {}

    def hook(i, replay):
        def fn(_module, _inputs, out):
            if not replay:
                saved[i] = out.clone()
                return None
            out = out.clone()
            out[:, :prefix] = saved[i][:, :prefix]
            if stop is not None:
                out[:, stop:] = saved[i][:, stop:]
            return out

        return fn

    qkvs = [layer.attn.qkv for layer in model.model.layers]
    handles = [m.register_forward_hook(hook(i, False)) for i, m in enumerate(qkvs)]
    model(old_ids)
    for h in handles:
        h.remove()
    handles = [m.register_forward_hook(hook(i, True)) for i, m in enumerate(qkvs)]
    try:
        return model(new_ids).logits[:, prefix:stop]
    finally:
        for h in handles:
            h.remove()


def test_exact_at_refresh(model):
    ids = _ids()
    with torch.no_grad():
        full = model(ids, prefix_length=P, return_cache=True)
        tail = model(ids[:, P:], prefix_cache=full.cache)
    cache = full.cache
    assert isinstance(cache, PrefixCache) and cache.length == P and cache.key_mask is None
    assert len(cache.keys) == len(cache.values) == model.config.n_layers
    shape = (2, model.config.n_heads, P, model.config.head_dim)
    assert all(k.shape == shape for k in cache.keys) and all(v.shape == shape for v in cache.values)
    assert tail.logits.shape == (2, L - P, VOCAB) and tail.cache is None
    torch.testing.assert_close(tail.logits, full.logits[:, P:], rtol=0, atol=1e-5)
    # The cached full forward is the plain full forward.
    torch.testing.assert_close(full.logits, model(ids).logits, rtol=0, atol=0)


def test_after_tail_edit_equals_frozen_prefix_forward(model):
    ids = _ids()
    with torch.no_grad():
        cache = model(ids, prefix_length=P, return_cache=True).cache
        new = ids.clone()
        new[:, P + 3] = MASK
        new[:, -1] = (ids[:, -1] + 1) % VOCAB
        cached = model(new[:, P:], prefix_cache=cache).logits
        before = model(ids[:, P:], prefix_cache=cache).logits
        frozen = _frozen_prefix_reference(model, ids, new, P)
        fresh = model(new).logits[:, P:]
    assert cached.shape == (2, L - P, VOCAB)
    torch.testing.assert_close(cached, frozen, rtol=0, atol=1e-5)
    assert not torch.allclose(cached, before, atol=1e-4)  # the tail edit reaches the tail logits
    assert not torch.allclose(cached, fresh, atol=1e-6)  # ... but the prefix is stale: approximate


def test_prefix_length_zero_is_the_full_forward(model):
    ids = _ids()
    with torch.no_grad():
        cache = model(ids, prefix_length=0, return_cache=True).cache
        assert cache.length == 0 and cache.keys[0].shape[2] == 0
        torch.testing.assert_close(model(ids, prefix_cache=cache).logits, model(ids).logits, rtol=0, atol=0)


def test_whole_sequence_cached_then_longer_tail(model):
    ids = _ids(length=L + 8)
    with torch.no_grad():
        cache = model(ids[:, :L], prefix_length=L, return_cache=True).cache
        out = model(ids[:, L:], prefix_cache=cache).logits
    assert out.shape == (2, 8, VOCAB) and torch.isfinite(out).all()


def test_padded_row_equals_unpadded_single_row(model):
    short = 33  # row 1 is right-padded from position 33 (inside the tail)
    ids = _ids()
    ids[1, short:] = PAD
    attn = torch.ones(2, L, dtype=torch.long)
    attn[1, short:] = 0
    with torch.no_grad():
        cache = model(ids, attention_mask=attn, prefix_length=P, return_cache=True).cache
        assert cache.key_mask is None  # the prefix holds no padding
        got = model(ids[:, P:], attention_mask=attn[:, P:], prefix_cache=cache).logits[1, : short - P]
        single = ids[1:, :short]
        ref_cache = model(single, prefix_length=P, return_cache=True).cache
        ref = model(single[:, P:], prefix_cache=ref_cache).logits[0]
        # The pad ids themselves do not matter.
        other = ids.clone()
        other[1, short:] = 7
        cache2 = model(other, attention_mask=attn, prefix_length=P, return_cache=True).cache
        got2 = model(other[:, P:], attention_mask=attn[:, P:], prefix_cache=cache2).logits[1, : short - P]
    torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(got2, got, rtol=1e-5, atol=1e-5)


def test_padding_inside_the_prefix_is_masked(model):
    ids = _ids()
    attn = torch.ones(2, L, dtype=torch.bool)
    attn[0, :5] = False  # left padding in row 0, inside the prefix
    with torch.no_grad():
        full = model(ids, attention_mask=attn, prefix_length=P, return_cache=True)
        assert full.cache.key_mask is not None and full.cache.key_mask.shape == (2, P)
        attn[0, :7] = False  # editing the caller's mask afterwards must not reach the cache
        assert full.cache.key_mask[0, 5:].all()
        tail = model(ids[:, P:], prefix_cache=full.cache).logits
    torch.testing.assert_close(tail, full.logits[:, P:], rtol=0, atol=1e-5)


def test_structure_encoder_on_without_structure(aligned):
    torch.manual_seed(0)
    cfg = TreediffConfig.from_preset("tiny", vocab_size=VOCAB, use_structure_encoder=True)
    model = TreediffForMaskedDiffusion(cfg).eval()
    ids = _ids()
    with torch.no_grad():
        full = model(ids, prefix_length=P, return_cache=True)
        tail = model(ids[:, P:], prefix_cache=full.cache).logits
        # A structure at refresh time is fine: it shapes the cached prefix.
        batch = aligned[0]
        st = structure_from_batch(batch)
        with_st = model(batch.input_ids, batch.attention_mask, structure=st, prefix_length=8, return_cache=True)
    torch.testing.assert_close(tail, full.logits[:, P:], rtol=0, atol=1e-5)
    assert with_st.cache.length == 8
    with pytest.raises(InputError, match="structure"):
        model(batch.input_ids[:, 8:], structure=st, prefix_cache=with_st.cache)


def test_too_long_is_an_input_error(model):
    max_pos = model.config.max_position
    ids = _ids(bsz=1, length=max_pos)
    with torch.no_grad():
        cache = model(ids, prefix_length=max_pos - 4, return_cache=True).cache
        assert model(ids[:, -4:], prefix_cache=cache).logits.shape == (1, 4, VOCAB)
        with pytest.raises(InputError, match="max_position"):
            model(_ids(bsz=1, length=5), prefix_cache=cache)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(return_cache=True), "needs prefix_length"),
        (dict(return_cache=True, prefix_length=L + 1), "needs prefix_length"),
        (dict(return_cache=True, prefix_length=True), "needs prefix_length"),
        (dict(prefix_length=P), "only used with return_cache"),
    ],
)
def test_bad_cache_arguments(model, kwargs, match):
    with pytest.raises(InputError, match=match):
        model(_ids(), **kwargs)


def test_cache_batch_mismatch_is_an_input_error(model):
    with torch.no_grad():
        cache = model(_ids(), prefix_length=P, return_cache=True).cache
    with pytest.raises(InputError, match="expected"):
        model(_ids(bsz=3, length=4), prefix_cache=cache)
    with pytest.raises(InputError, match="cannot be combined"):
        model(_ids(length=4), prefix_cache=cache, return_cache=True, prefix_length=0)


def test_cache_to_device_and_bf16_autocast_cpu(model):
    ids = _ids()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        cache = model(ids, prefix_length=P, return_cache=True).cache.to("cpu")
        out = model(ids[:, P:], prefix_cache=cache).logits
    assert cache.keys[0].dtype == torch.bfloat16
    assert out.dtype == torch.bfloat16 and out.shape == (2, L - P, VOCAB) and torch.isfinite(out.float()).all()


@pytest.mark.gpu
def test_bf16_autocast_cuda_exact_at_refresh():
    torch.manual_seed(0)
    model = TreediffForMaskedDiffusion(TreediffConfig.from_preset("tiny", vocab_size=VOCAB)).cuda().eval()
    ids = _ids(length=256).cuda()
    attn = torch.ones_like(ids, dtype=torch.bool)
    attn[1, :9] = False  # padded prefix in row 1
    for mask in (None, attn):
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
            full = model(ids, attention_mask=mask, prefix_length=128, return_cache=True)
            cache = full.cache.to("cpu").to("cuda")
            tail = model(ids[:, 128:], prefix_cache=cache).logits
        assert tail.dtype == torch.bfloat16 and cache.keys[0].dtype == torch.bfloat16
        torch.testing.assert_close(tail.float(), full.logits[:, 128:].float(), rtol=2e-2, atol=2e-2)


# -- the dual cache (Fast-dLLM's DualCache): prefix and suffix cached, a window recomputed -----------------------
Q = 32


def test_dual_cache_exact_at_refresh_and_stale_outside_the_window(model):
    ids = _ids()
    with torch.no_grad():
        full = model(ids, prefix_length=P, suffix_start=Q, return_cache=True)
        cache = full.cache
        assert isinstance(cache, WindowCache) and (cache.start, cache.stop, cache.window) == (P, Q, Q - P)
        assert cache.key_mask is None and all(k.shape[2] == L for k in cache.keys)
        window = model(ids[:, P:Q], prefix_cache=cache).logits
        new = ids.clone()
        new[:, P + 2] = MASK
        new[:, Q - 1] = (ids[:, Q - 1] + 1) % VOCAB
        cached = model(new[:, P:Q], prefix_cache=cache).logits
        frozen = _frozen_prefix_reference(model, ids, new, P, Q)
        fresh = model(new).logits[:, P:Q]
    torch.testing.assert_close(window, full.logits[:, P:Q], rtol=0, atol=1e-5)
    torch.testing.assert_close(full.logits, model(ids).logits, rtol=0, atol=0)  # a refresh is a full forward
    torch.testing.assert_close(cached, frozen, rtol=0, atol=1e-5)
    assert not torch.allclose(cached, fresh, atol=1e-6)  # the context is stale: approximate


def test_dual_cache_padding_in_the_suffix_is_masked(model):
    short = 36  # row 1 is right-padded from position 36 (inside the suffix)
    ids = _ids()
    attn = torch.ones(2, L, dtype=torch.long)
    attn[1, short:] = 0
    with torch.no_grad():
        cache = model(ids, attention_mask=attn, prefix_length=P, suffix_start=Q, return_cache=True).cache
        assert cache.key_mask is not None and cache.key_mask[1, short:].sum() == 0
        got = model(ids[:, P:Q], attention_mask=attn[:, P:Q], prefix_cache=cache).logits[1]
        single = ids[1:, :short]
        ref_cache = model(single, prefix_length=P, suffix_start=Q, return_cache=True).cache
        ref = model(single[:, P:Q], prefix_cache=ref_cache).logits[0]
    torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-5)


def test_dual_cache_misuse_is_an_input_error(model):
    ids = _ids()
    with torch.no_grad():
        cache = model(ids, prefix_length=P, suffix_start=Q, return_cache=True).cache
        with pytest.raises(InputError, match="window of 8 positions"):
            model(ids[:, P:], prefix_cache=cache)
        with pytest.raises(InputError, match="suffix_start"):
            model(ids, suffix_start=Q)
        with pytest.raises(InputError, match="suffix_start"):
            model(ids, prefix_length=P, suffix_start=P - 1, return_cache=True)


def test_window_rows_keep_the_cached_keys_elsewhere(model):
    """A batch whose rows have windows of their own: a row recomputes only its own positions (the cached keys/values
    stand in for the rest of the batch's window), so its logits there are those of its own window alone."""
    ids = _ids()
    with torch.no_grad():
        cache = model(ids, prefix_length=P, suffix_start=Q, return_cache=True).cache
        new = ids.clone()
        new[:, P:Q] = MASK
        rows = torch.zeros(2, Q - P, dtype=torch.bool)
        rows[0, :] = True  # row 0: the whole window
        rows[1, 2:5] = True  # row 1: its own window is [P + 2, P + 5)
        both = model(new[:, P:Q], prefix_cache=cache, window_rows=rows).logits
        own_cache = model(ids[1:], prefix_length=P + 2, suffix_start=P + 5, return_cache=True).cache
        alone = model(new[1:, P + 2:P + 5], prefix_cache=own_cache).logits
        whole = model(new[:1, P:Q], prefix_cache=model(ids[:1], prefix_length=P, suffix_start=Q,
                                                         return_cache=True).cache).logits
    torch.testing.assert_close(both[1, 2:5], alone[0], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(both[0], whole[0], rtol=1e-5, atol=1e-5)
    with pytest.raises(InputError, match="window_rows"):
        model(new[:, P:Q], window_rows=rows)
