"""Parameter and FLOP counts for model FLOPs utilisation (MFU).

Convention (PaLM, Chowdhery et al. 2022, appendix B): training costs ``6·N`` FLOPs per token for
the matmul weights ``N`` plus ``12·n_layers·d_model·T`` for attention scores and values over a
sequence of ``T`` tokens.  The denoiser attends bidirectionally, so the full ``T×T`` attention is
really computed (no causal halving to argue about).  ``N`` counts every matmul weight *including the
LM head* (``d_model·vocab_size``) but not the embedding lookup, norms, RoPE, softmax or the
(small, graph-dependent) structure encoder, which MFU therefore slightly under-reports.  A trainer that
projects to the vocabulary only where the loss is taken (the masked positions) passes that share of the
tokens as ``head_share``: the head's FLOPs count for those tokens alone.

>>> from treediff.model.config import TreediffConfig
>>> cfg = TreediffConfig.from_preset("tiny", vocab_size=128)
>>> flops_per_token(cfg, seq_len=256)
1081344
>>> round(mfu(1e6, cfg, 256, peak_flops=1e12), 4)
1.0813
"""

from __future__ import annotations

from torch import nn

from treediff.model.config import TreediffConfig

__all__ = ["PEAK_FLOPS", "num_params", "matmul_params", "flops_per_token", "mfu"]

#: Dense bf16 tensor-core peak FLOP/s per GPU (vendor datasheets, no sparsity).
PEAK_FLOPS: dict[str, float] = {
    "a100": 312e12,
    "h100_sxm": 989e12,
    "h100_pcie": 756e12,
    "h200": 989e12,
}


def num_params(model: nn.Module, non_embedding: bool = True) -> int:
    """Distinct parameters of ``model``; ``non_embedding`` drops the token-embedding table (Kaplan)."""
    total = sum(p.numel() for p in model.parameters())
    if non_embedding and hasattr(model, "get_input_embeddings"):
        total -= model.get_input_embeddings().weight.numel()
    return int(total)


def matmul_params(config: TreediffConfig, head_share: float = 1.0) -> int:
    """Weights that take part in a matmul per token: QKV/out projections, SwiGLU, LM head (the head for
    ``head_share`` of the tokens)."""
    d = config.d_model
    per_layer = 4 * d * d + 3 * d * config.d_ff
    return config.n_layers * per_layer + round(head_share * d * config.vocab_size)


def flops_per_token(config: TreediffConfig, seq_len: int, backward: bool = True, head_share: float = 1.0) -> int:
    """FLOPs per token of one forward (+ backward when ``backward``) pass at sequence length ``seq_len``."""
    factor = 6 if backward else 2
    return factor * matmul_params(config, head_share) + (factor * 2) * config.n_layers * config.d_model * seq_len


def mfu(tokens_per_s: float, config: TreediffConfig, seq_len: int, peak_flops: float, head_share: float = 1.0) -> float:
    """Fraction of ``peak_flops`` (FLOP/s, all devices together) achieved at ``tokens_per_s`` training throughput."""
    return tokens_per_s * flops_per_token(config, seq_len, head_share=head_share) / peak_flops
