"""Every model format: the denoiser (bidirectional transformer + optional AST GNN), registered with
``transformers``; treediff bundles, training checkpoints and local transformers directories behind one
:class:`DiffusionLM` interface (:mod:`~treediff.model.formats`); checkpoint reading (:mod:`~treediff.model.run_dirs`).

Importing this package registers ``model_type="treediff"`` with ``AutoConfig``, ``AutoModel``
and ``AutoModelForMaskedLM``, so ``AutoModelForMaskedLM.from_pretrained(dir)`` works offline.
"""

from __future__ import annotations

from transformers import AutoConfig, AutoModel, AutoModelForMaskedLM

from treediff.model.checkpoint import load_denoiser, validate_checkpoint
from treediff.model.config import PRESETS, TreediffConfig
from treediff.model.denoiser import DenoiserOutput, TreediffForMaskedDiffusion, TreediffModel, TreediffPreTrainedModel
from treediff.model.formats import (
    EMBEDDED_MODELS,
    DiffusionLM,
    ExternalLM,
    TreediffLM,
    default_model_path,
    embedded_model_path,
    export_bundle,
    load_model,
    model_path,
    resolve_device,
)
from treediff.model.flops import PEAK_FLOPS, flops_per_token, mfu, num_params
from treediff.model.structure import (
    EDGE_TYPES,
    StructureBatch,
    StructureEncoder,
    VisibleStructure,
    structure_from_batch,
    structure_from_visible,
    structure_source,
)

__all__ = [
    "PRESETS",
    "TreediffConfig",
    "DenoiserOutput",
    "TreediffPreTrainedModel",
    "TreediffModel",
    "TreediffForMaskedDiffusion",
    "EDGE_TYPES",
    "StructureBatch",
    "StructureEncoder",
    "structure_from_batch",
    "structure_from_visible",
    "structure_source",
    "VisibleStructure",
    "load_denoiser",
    "validate_checkpoint",
    "EMBEDDED_MODELS",
    "DiffusionLM",
    "ExternalLM",
    "TreediffLM",
    "default_model_path",
    "embedded_model_path",
    "export_bundle",
    "load_model",
    "model_path",
    "resolve_device",
    "PEAK_FLOPS",
    "flops_per_token",
    "mfu",
    "num_params",
]

AutoConfig.register("treediff", TreediffConfig, exist_ok=True)
AutoModel.register(TreediffConfig, TreediffModel, exist_ok=True)
AutoModelForMaskedLM.register(TreediffConfig, TreediffForMaskedDiffusion, exist_ok=True)
