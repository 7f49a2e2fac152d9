from __future__ import annotations

import pytest
import torch

from treediff.errors import ConfigError, InputError
from treediff.model import PRESETS, TreediffConfig, TreediffForMaskedDiffusion, TreediffModel, num_params

from .conftest import VOCAB


@pytest.fixture
def model():
    torch.manual_seed(0)
    return TreediffForMaskedDiffusion(TreediffConfig.from_preset("tiny", vocab_size=VOCAB)).eval()


def test_tiny_preset_is_under_one_million_params():
    for vocab in (VOCAB, 8192):
        m = TreediffForMaskedDiffusion(TreediffConfig.from_preset("tiny", vocab_size=vocab, use_structure_encoder=True))
        assert num_params(m, non_embedding=False) < 1_000_000


@pytest.mark.parametrize("name,low,high", [("small", 9e6, 12e6), ("base50m", 45e6, 55e6), ("base100m", 90e6, 110e6)])
def test_preset_sizes_match_their_names(name, low, high):
    with torch.device("meta"):
        m = TreediffForMaskedDiffusion(TreediffConfig.from_preset(name, vocab_size=32768))
    assert low <= num_params(m, non_embedding=True) <= high


def test_forward_shapes_and_dtypes(model):
    ids = torch.randint(0, VOCAB, (3, 11))
    out = model(ids)
    assert out.logits.shape == (3, 11, VOCAB) and out.logits.dtype == torch.float32
    assert out.loss is None
    hidden = model.model(ids).last_hidden_state
    assert hidden.shape == (3, 11, model.config.d_model)


def test_loss_ignores_minus_100(model):
    ids = torch.randint(0, VOCAB, (2, 9))
    labels = torch.full_like(ids, -100)
    labels[:, 3] = ids[:, 3]
    out = model(ids, labels=labels)
    ref = torch.nn.functional.cross_entropy(out.logits[:, 3], ids[:, 3])
    torch.testing.assert_close(out.loss, ref)


def test_padding_does_not_change_real_positions(model):
    ids = torch.randint(3, VOCAB, (1, 10))
    ref = model(ids).logits
    padded = torch.cat([ids, torch.full((1, 6), 1)], dim=1)
    attn = torch.cat([torch.ones(1, 10), torch.zeros(1, 6)], dim=1).long()
    out = model(padded, attention_mask=attn).logits
    torch.testing.assert_close(out[:, :10], ref, rtol=1e-5, atol=1e-5)
    # The pad ids themselves must not matter either.
    other = padded.clone()
    other[:, 10:] = 7
    torch.testing.assert_close(model(other, attention_mask=attn).logits[:, :10], out[:, :10])


def test_all_ones_mask_equals_no_mask(model):
    ids = torch.randint(0, VOCAB, (2, 8))
    torch.testing.assert_close(model(ids, attention_mask=torch.ones_like(ids)).logits, model(ids).logits)


def test_bidirectional(model):
    ids = torch.randint(3, VOCAB, (1, 12))
    later = ids.clone()
    later[0, -1] = (ids[0, -1] + 1) % VOCAB
    a, b = model(ids).logits, model(later).logits
    assert not torch.allclose(a[0, 0], b[0, 0])


def test_position_matters(model):
    # same token at positions 0 and 2 of a non-constant sequence: only RoPE tells them apart
    # (with one token everywhere every value is equal and attention cannot see position at all)
    ids = torch.tensor([[5, 6, 5, 7, 8, 9]])
    logits = model(ids).logits[0]
    assert not torch.allclose(logits[0], logits[2])


def test_untied_head():
    cfg = TreediffConfig.from_preset("tiny", vocab_size=VOCAB, tie_embeddings=False)
    m = TreediffForMaskedDiffusion(cfg)
    assert m.lm_head is not None and m.lm_head.weight is not m.model.embed_tokens.weight
    assert m(torch.randint(0, VOCAB, (1, 4))).logits.shape == (1, 4, VOCAB)


def test_too_long_input_is_an_input_error(model):
    with pytest.raises(InputError, match="max_position"):
        model(torch.zeros(1, model.config.max_position + 1, dtype=torch.long))


def test_bf16_autocast_cpu(model):
    ids = torch.randint(0, VOCAB, (2, 8))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(ids, attention_mask=torch.tensor([[1] * 8, [1] * 5 + [0] * 3]))
    assert out.logits.dtype == torch.bfloat16 and torch.isfinite(out.logits.float()).all()


@pytest.mark.parametrize(
    "field,value,match",
    [
        ("n_heads", 3, "divisible by n_heads"),
        ("d_model", -4, "d_model must be an integer"),
        ("dropout", 1.5, r"dropout must be a number in \[0.0, 1.0\)"),
        ("activation", "relu", "activation must be one of swiglu"),
        ("norm", "layernorm", "norm must be one of rmsnorm"),
        ("mask_token_id", VOCAB, r"mask_token_id must be an integer \[0, 255\]"),
        ("use_structure_encoder", "yes", "use_structure_encoder must be true or false"),
        ("gnn_heads", 3, "gnn_hidden .* divisible by gnn_heads"),
    ],
)
def test_bad_config_is_a_config_error(field, value, match):
    with pytest.raises(ConfigError, match=match):
        TreediffConfig.from_preset("tiny", vocab_size=VOCAB, **{field: value})


def test_unknown_preset_lists_choices():
    with pytest.raises(ConfigError, match="choose one of: " + ", ".join(PRESETS)):
        TreediffConfig.from_preset("huge", vocab_size=VOCAB)


def test_transformers_aliases():
    cfg = TreediffConfig.from_preset("small", vocab_size=VOCAB)
    assert (cfg.hidden_size, cfg.num_hidden_layers, cfg.num_attention_heads, cfg.max_position_embeddings) == (
        384, 6, 6, 2048,
    )
    assert isinstance(TreediffModel(TreediffConfig.from_preset("tiny", vocab_size=VOCAB)), TreediffModel)


@pytest.mark.gpu
def test_bf16_autocast_cuda():
    from .conftest import build_batch
    from treediff.model import structure_from_batch

    batch, _ = build_batch()
    cfg = TreediffConfig.from_preset("tiny", vocab_size=VOCAB, use_structure_encoder=True)
    model = TreediffForMaskedDiffusion(cfg).cuda()
    batch = batch.to("cuda")
    st = structure_from_batch(batch, batch.attention_mask & (torch.rand(batch.input_ids.shape, device="cuda") < 0.5))
    with torch.autocast("cuda", dtype=torch.bfloat16):
        out = model(batch.input_ids, batch.attention_mask, structure=st, labels=batch.input_ids)
    assert out.logits.dtype == torch.bfloat16 and torch.isfinite(out.loss)
    out.loss.backward()
    with torch.autocast("cuda", dtype=torch.bfloat16):  # unpadded path: attn_mask=None → flash-eligible
        assert model(batch.input_ids[:, :16]).logits.shape == (2, 16, VOCAB)
