"""Fixtures for the trainer tests: the shipped corpus prepared once, small configs, one CPU thread."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import torch

from treediff.train.config import TrainConfig, apply_overrides, load_config

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "examples" / "configs" / "tiny.toml"
CORPUS = ROOT / "examples" / "corpus" / "python"
TOKENIZER = ROOT / "examples" / "tokenizer"


@pytest.fixture(scope="session")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped corpus, tokenized into shards once per test session (seq_len is cut at load time)."""
    from treediff.data import prepare_corpus

    out = tmp_path_factory.mktemp("prepared")
    prepare_corpus(CORPUS, TOKENIZER, out, val_fraction=0.1, seq_len=64, workers=1, show_progress=False)
    return out


@pytest.fixture()
def one_thread():
    """Two cores shared by many processes: one intra-op thread is several times faster than two."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def small_config(tmp: Path, prepared: Path, *sets: str) -> TrainConfig:
    """tiny.toml shrunk for tests, writing under ``tmp``."""
    base = [
        f"data.corpus={CORPUS}", f"data.tokenizer={TOKENIZER}", f"data.cache_dir={prepared}",
        f"out_dir={tmp / 'run'}", f"checkpoint.dir={tmp / 'run' / 'checkpoints'}",
        "device=cpu", "log.progress=false", "log.tensorboard=false", "log.every=1",
    ]
    return apply_overrides(load_config(TINY), base + list(sets))


def cli_args(tmp: Path, prepared: Path, *sets: str) -> list[str]:
    """The ``--set`` arguments equivalent to :func:`small_config`."""
    cfg = small_config(tmp, prepared, *sets)
    args = ["--config", str(TINY)]
    for section, values in cfg.to_dict().items():
        if isinstance(values, dict):
            for key, value in values.items():
                if not isinstance(value, dict):
                    args += ["--set", f"{section}.{key}={str(value).lower() if isinstance(value, bool) else value}"]
        else:
            args += ["--set", f"{section}={values}"]
    return args


def subprocess_env() -> dict[str, str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    env.pop("WORLD_SIZE", None)
    env.pop("RANK", None)
    env.pop("LOCAL_RANK", None)
    return env


def copy_checkpoint(src: Path, dst_dir: Path) -> Path:
    dst_dir.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copytree(src, dst_dir / src.name))
