"""Tiny models for the sampler tests: our own (random init and briefly trained) and an external one."""

from __future__ import annotations

import pytest
import torch

from treediff.model import TreediffConfig, TreediffForMaskedDiffusion
from treediff.model.formats import TreediffLM
from treediff.tokens.tokenizer import SyntaxTokenizer


@pytest.fixture(scope="session")
def tokenizer():
    from pathlib import Path

    return SyntaxTokenizer.from_pretrained(Path(__file__).resolve().parents[2] / "examples" / "tokenizer")


@pytest.fixture(scope="session")
def untrained_lm(tokenizer):
    """The worst case: an untrained tiny denoiser (its proposals are noise)."""
    torch.manual_seed(0)
    torch.set_num_threads(1)
    cfg = TreediffConfig.from_preset("tiny", vocab_size=tokenizer.vocab_size, mask_token_id=tokenizer.mask_id,
                                     pad_token_id=tokenizer.pad_id, max_position=512)
    return TreediffLM(TreediffForMaskedDiffusion(cfg), tokenizer, torch.device("cpu"), name="untrained")


@pytest.fixture(scope="session")
def bundle_dir(tmp_path_factory, untrained_lm, tokenizer):
    """The untrained model saved as a treediff bundle directory."""
    d = tmp_path_factory.mktemp("bundle")
    untrained_lm.model.save_pretrained(d)
    tokenizer.save(d)
    return d
