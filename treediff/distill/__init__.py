"""Certainty-forcing self-distillation (``treediff distill``): the teacher's trajectories come from the
sampler (:mod:`treediff.sample`), the student is trained by the trainer's loop (:mod:`treediff.train`) with
its own objective.  This package sits above both: neither imports it, nor each other.
"""

from treediff.distill.certainty import (
    CertaintyObjective,
    DistillConfig,
    DistillResult,
    Trajectory,
    certainty_forcing_loss,
    collect_prompts,
    distill,
    load_distill_config,
    mask_trajectory,
    python_stubs,
    teacher_trajectories,
)

__all__ = [
    "CertaintyObjective",
    "DistillConfig",
    "DistillResult",
    "Trajectory",
    "load_distill_config",
    "collect_prompts",
    "python_stubs",
    "teacher_trajectories",
    "mask_trajectory",
    "certainty_forcing_loss",
    "distill",
]
