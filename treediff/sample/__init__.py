"""Sampling: grammar-constrained, compiler-remasking diffusion decoding; infilling, repair, synthesis.

Data flow: :mod:`~treediff.syntax.holes` (typed holes) → :mod:`~treediff.sample.pipeline`
(generate → check → remask → fallback) → :mod:`~treediff.sample.loop` (blocks, steps, NFE) →
:mod:`~treediff.sample.steppers` (one step: ``logits + SamplerState → StepOutput``), guarded by
:mod:`~treediff.sample.constraints` over :mod:`~treediff.syntax.prefix_grammar` (incremental prefix parser).
Models: :mod:`~treediff.model.formats`.  See docs/sampling.md.
"""

from treediff.sample.api import SynthResult, get_model, infill, iter_synth, make_config, sample, synth
from treediff.sample.config import CONSTRAINTS, ORDERS, SamplerConfig
from treediff.model.formats import DiffusionLM, ExternalLM, TreediffLM, export_bundle, load_model
from treediff.sample.record import FillResult, HoleFill, ValidityRecord
from treediff.sample.spec import Spec, read_specs
from treediff.sample.steppers import STEPPERS, SamplerState, Stepper, StepOutput, build_stepper

__all__ = [
    "CONSTRAINTS",
    "ORDERS",
    "STEPPERS",
    "DiffusionLM",
    "ExternalLM",
    "FillResult",
    "HoleFill",
    "SamplerConfig",
    "SamplerState",
    "Spec",
    "StepOutput",
    "Stepper",
    "SynthResult",
    "TreediffLM",
    "ValidityRecord",
    "build_stepper",
    "export_bundle",
    "get_model",
    "infill",
    "load_model",
    "make_config",
    "read_specs",
    "sample",
    "synth",
    "iter_synth",
]
