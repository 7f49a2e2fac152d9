"""TrainConfig: TOML loading, one-line ConfigErrors naming the field, --set overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from treediff.errors import ConfigError
from treediff.train.config import TrainConfig, apply_overrides, load_config, masker_growth

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["tiny.toml", "small.toml", "default.toml", "gpu_default.toml", "multi_cpu.toml"])
def test_shipped_configs_load(name: str) -> None:
    cfg = load_config(ROOT / "examples" / "configs" / name)
    assert cfg.optim.max_steps >= 1
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg  # dict round trip


def _err(data: dict) -> str:
    with pytest.raises(ConfigError) as info:
        TrainConfig.from_dict(data)
    msg = str(info.value)
    assert "\n" not in msg
    return msg


def test_unknown_key_names_field_and_choices() -> None:
    msg = _err({"optim": {"lrr": 1e-3}})
    assert "optim.lrr" in msg and "lr" in msg and "max_steps" in msg
    assert "nope" in _err({"nope": 1}) and "optim" in _err({"nope": 1})


def test_wrong_type_names_field() -> None:
    assert "optim.lr" in _err({"optim": {"lr": "fast"}}) and "float" in _err({"optim": {"lr": "fast"}})
    assert "data.batch_size" in _err({"data": {"batch_size": 2.5}})
    assert "log.tensorboard" in _err({"log": {"tensorboard": 1}})
    assert "checkpoint" in _err({"checkpoint": 3})


def test_out_of_range_names_field_and_bound() -> None:
    msg = _err({"optim": {"lr": -1.0}})
    assert "optim.lr" in msg and "> 0" in msg
    assert "optim.grad_accum" in _err({"optim": {"grad_accum": 0}})
    assert "data.val_fraction" in _err({"data": {"val_fraction": 1.0}})
    msg = _err({"device": "tpu"})
    assert "device" in msg and "cpu" in msg and "cuda" in msg
    assert "optim.min_lr" in _err({"optim": {"lr": 1e-4, "min_lr": 1e-3}})


def test_bad_toml_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[optim\nlr = 1\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.toml")


def test_overrides_coerce_types() -> None:
    cfg = apply_overrides(
        TrainConfig(),
        ["optim.lr=3e-4", "optim.max_steps=7", "log.tensorboard=false", "data.corpus=some/dir", "seed=3",
         "optim.grad_clip=1", "model.overrides.n_layers=1", "noise.options.mix_random=0.5",
         "noise.options.categories=['expression', 'statement']"],
    )
    assert cfg.optim.lr == 3e-4 and isinstance(cfg.optim.lr, float)
    assert cfg.optim.max_steps == 7 and cfg.seed == 3
    assert cfg.log.tensorboard is False and cfg.data.corpus == "some/dir"
    assert cfg.optim.grad_clip == 1.0 and isinstance(cfg.optim.grad_clip, float)
    assert cfg.model.overrides == {"n_layers": 1}
    assert cfg.noise.options == {"mix_random": 0.5, "categories": ["expression", "statement"]}
    assert TrainConfig().optim.lr == 3e-4  # the original is untouched (frozen)


@pytest.mark.parametrize(
    "override, needle",
    [("optim.lrr=1", "optim.lrr"), ("optim.lr=abc", "optim.lr"), ("optim.max_steps=0", "optim.max_steps"),
     ("optim=1", "optim"), ("log.progress=maybe", "log.progress"), ("no_equals", "section.key=value"),
     ("optim.lr.x=1", "optim.lr")],
)
def test_bad_overrides(override: str, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        apply_overrides(TrainConfig(), [override])
    assert needle in str(info.value) and "\n" not in str(info.value)


def test_cpu_autocast_only_when_bf16_is_asked_for():
    import torch

    from treediff.train.runner import autocast_for

    a, b = torch.randn(4, 8), torch.randn(8, 4)
    cpu = torch.device("cpu")
    with autocast_for(cpu, "bf16"):
        assert (a @ b).dtype == torch.bfloat16
    for precision in ("auto", "fp32"):
        with autocast_for(cpu, precision):
            assert (a @ b).dtype == torch.float32


def test_holes_masker_needs_room_for_its_longest_hole() -> None:
    holes = {"masker": "holes", "options": {"max_delta": 8, "end_of_hole_id": 5}}
    msg = _err({"noise": holes, "model": {"overrides": {"max_position": 512}}, "data": {"seq_len": 512}})
    assert "model.overrides.max_position" in msg and "data.seq_len" in msg and "520" in msg and "512" in msg
    with pytest.raises(ConfigError, match="max_position"):  # an override on the command line: the same check
        apply_overrides(TrainConfig(), ["noise.masker=holes", "model.overrides.max_position=64", "data.seq_len=64"])
    ok = TrainConfig.from_dict({"noise": holes, "model": {"overrides": {"max_position": 520}}, "data": {"seq_len": 512}})
    assert masker_growth(ok.noise) == 8
    # no hole ever drawn, or a masker that keeps lengths: no room needed
    assert masker_growth(TrainConfig.from_dict({"noise": {"masker": "holes", "options": {"hole_fraction": 0.0}}}).noise) == 0
    assert masker_growth(TrainConfig().noise) == 0
    assert "noise: max_delta" in _err({"noise": {"masker": "holes", "options": {"max_delta": 0}}})


def test_default_max_position_makes_room_for_holes() -> None:
    from treediff.tokens.tokenizer import SyntaxTokenizer
    from treediff.train.loop import build_model

    tok = SyntaxTokenizer.from_pretrained(ROOT / "examples" / "tokenizer")
    cfg = TrainConfig.from_dict({"noise": {"masker": "holes", "options": {"max_delta": 6}}, "data": {"seq_len": 64}})
    assert build_model(cfg, tok).config.max_position == 70
    assert build_model(TrainConfig.from_dict({"data": {"seq_len": 64}}), tok).config.max_position == 64
