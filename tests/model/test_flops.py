from __future__ import annotations

import pytest
import torch

from treediff.model import PRESETS, TreediffConfig, TreediffForMaskedDiffusion, flops_per_token, mfu, num_params
from treediff.model.flops import matmul_params


@pytest.mark.parametrize("name", list(PRESETS))
def test_matmul_params_agree_with_the_module(name):
    cfg = TreediffConfig.from_preset(name, vocab_size=1000, tie_embeddings=False)
    with torch.device("meta"):
        m = TreediffForMaskedDiffusion(cfg)
    norms = sum(p.numel() for n, p in m.named_parameters() if "norm" in n)
    assert num_params(m, non_embedding=True) - norms == matmul_params(cfg)


def test_flops_formula_and_mfu():
    cfg = TreediffConfig.from_preset("small", vocab_size=1000)
    n = matmul_params(cfg)
    assert flops_per_token(cfg, 1024) == 6 * n + 12 * cfg.n_layers * cfg.d_model * 1024
    assert flops_per_token(cfg, 1024, backward=False) == 2 * n + 4 * cfg.n_layers * cfg.d_model * 1024
    assert mfu(1000.0, cfg, 1024, peak_flops=flops_per_token(cfg, 1024) * 2000.0) == pytest.approx(0.5)


def test_non_embedding_drops_the_table():
    cfg = TreediffConfig.from_preset("tiny", vocab_size=500)
    m = TreediffForMaskedDiffusion(cfg)
    assert num_params(m, False) - num_params(m, True) == 500 * cfg.d_model
