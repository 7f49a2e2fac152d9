"""Noise for masked diffusion over code: maskers, schedules and warmup (see ``docs/noise.md``).

Every masker is ``masker(batch, t, generator, mask_id) -> MaskedBatch`` and is registered in
:data:`MASKERS` (``random``, ``ast_span``, ``cfg``, ``block``, ``holes``); :func:`build_masker` builds one
from its config dict.
"""

from treediff.noise.base import MASKERS, MaskedBatch, Masker, MaskerConfig, build_masker, register_masker
from treediff.noise.schedules import (
    SCHEDULES,
    ClippedSchedule,
    CosineSchedule,
    LinearSchedule,
    Schedule,
    build_schedule,
    clipped_level,
)
from treediff.noise.random_mask import RandomMasker, RandomMaskerConfig
from treediff.noise.ast_span import AstSpanMasker, AstSpanMaskerConfig, SpanDraw
from treediff.noise.block import BlockMasker, BlockMaskerConfig
from treediff.noise.cfg_mask import ControlFlowMasker, ControlFlowMaskerConfig
from treediff.noise.holes import HoleMasker, HoleMaskerConfig, source_index
from treediff.noise.warmup import Warmup, is_warmup, sample_t, u_max

__all__ = [
    "MASKERS",
    "MaskedBatch",
    "Masker",
    "MaskerConfig",
    "build_masker",
    "register_masker",
    "SCHEDULES",
    "Schedule",
    "LinearSchedule",
    "CosineSchedule",
    "ClippedSchedule",
    "build_schedule",
    "clipped_level",
    "RandomMasker",
    "RandomMaskerConfig",
    "AstSpanMasker",
    "AstSpanMaskerConfig",
    "SpanDraw",
    "BlockMasker",
    "BlockMaskerConfig",
    "ControlFlowMasker",
    "ControlFlowMaskerConfig",
    "HoleMasker",
    "HoleMaskerConfig",
    "source_index",
    "Warmup",
    "is_warmup",
    "sample_t",
    "u_max",
]
