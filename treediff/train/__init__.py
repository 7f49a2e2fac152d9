"""Training: TOML config, the masked-diffusion loop, atomic checkpoints, torchrun DDP, logging.

See ``docs/training.md``.
"""

from treediff.train.checkpoint import (
    Checkpoint,
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    load_model_weights,
    save_checkpoint,
    verify_checkpoint,
)
from treediff.train.config import (
    CheckpointSection,
    DataSection,
    LogSection,
    ModelSection,
    NoiseSection,
    OptimSection,
    TrainConfig,
    apply_overrides,
    load_config,
)
from treediff.train.loop import TrainResult, train
from treediff.train.objective import masked_diffusion_loss, token_categories

__all__ = [
    "TrainConfig", "ModelSection", "DataSection", "NoiseSection", "OptimSection", "CheckpointSection", "LogSection",
    "load_config", "apply_overrides",
    "Checkpoint", "save_checkpoint", "load_checkpoint", "verify_checkpoint", "list_checkpoints", "latest_checkpoint",
    "load_model_weights",
    "TrainResult", "train", "masked_diffusion_loss", "token_categories",
]
