"""Certainty-forcing self-distillation: prompts, trajectories, masking, loss, a whole run, the CLI."""

from __future__ import annotations

import json
import random

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from treediff.errors import ConfigError, InputError
from treediff.distill.certainty import (
    DistillConfig,
    Trajectory,
    certainty_forcing_loss,
    collect_prompts,
    distill,
    load_distill_config,
    mask_trajectory,
    python_stubs,
)

MODULE = '''"""A module."""
import os


@staticmethod
def first(xs):
    """Return the first element of xs."""
    return xs[0]


def undocumented(x):
    return x


class Box:
    def size(self):
        """How many items the box holds."""
        return len(self.items)
'''


def test_stubs_are_signature_and_docstring_dedented_with_decorators():
    stubs = list(python_stubs(MODULE))
    assert stubs == ['@staticmethod\ndef first(xs):\n    """Return the first element of xs."""\n',
                     'def size(self):\n    """How many items the box holds."""\n']
    assert list(python_stubs("def broken(:\n")) == []


def test_config_validation_and_overrides(tmp_path):
    assert load_distill_config(None, ["steps=7", "exclude=a, b"]).excluded == frozenset({"a", "b"})
    with pytest.raises(ConfigError, match="unknown key 'stepz'"):
        load_distill_config(None, ["stepz=3"])
    with pytest.raises(ConfigError, match="constraint must be one of"):
        DistillConfig.from_dict({"constraint": "strict"})
    with pytest.raises(ConfigError, match="does not exist"):
        load_distill_config(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("steps = [", encoding="utf-8")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_distill_config(bad)
    shipped = load_distill_config("examples/configs/distill.toml")
    assert "calendar" in shipped.excluded and shipped.prompts == "stdlib"


def test_prompts_from_files_jsonl_and_exclusions(tmp_path):
    (tmp_path / "mod.py").write_text(MODULE, encoding="utf-8")
    (tmp_path / "held.py").write_text(MODULE.replace("first", "second"), encoding="utf-8")
    specs = collect_prompts(DistillConfig(prompts=str(tmp_path), exclude="held"))
    assert sorted(s.id for s in specs) == ["mod:0", "mod:1"] and all(s.kind == "stub" for s in specs)
    jsonl = tmp_path / "specs.jsonl"
    jsonl.write_text(json.dumps({"id": "t1", "prompt": "Add two numbers.", "signature": "add(a, b)"}) + "\n",
                     encoding="utf-8")
    assert [s.id for s in collect_prompts(DistillConfig(prompts=str(jsonl)))] == ["t1"]
    with pytest.raises(InputError, match="does not exist"):
        collect_prompts(DistillConfig(prompts=str(tmp_path / "missing")))
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "x.py").write_text("x = 1\n", encoding="utf-8")
    with pytest.raises(InputError, match="no prompts"):
        collect_prompts(DistillConfig(prompts=str(empty)))


@settings(max_examples=60, deadline=None)
@given(start=st.integers(0, 5), length=st.integers(1, 40), tail=st.integers(0, 5), block=st.integers(1, 16),
       min_mask=st.floats(0.01, 1.0), suffix=st.sampled_from([0.0, 1.0]), seed=st.integers(0, 1000))
def test_semi_autoregressive_masking(start, length, tail, block, min_mask, suffix, seed):
    ids = tuple(range(10, 10 + start + length + tail))
    traj = Trajectory("x", ids, start, start + length)
    x, active = mask_trajectory(traj, block, 1, min_mask, random.Random(seed), suffix)
    act = [i for i, a in enumerate(active) if a]
    assert act, "at least one position of the active block is masked"
    lo = start + ((act[0] - start) // block) * block
    hi = min(lo + block, start + length)
    assert all(lo <= i < hi for i in act)
    assert all(x[i] == ids[i] for i in range(len(ids)) if i < lo or i >= start + length)  # context, rest: clean
    assert all(x[i] == 1 for i in range(hi, start + length))  # later blocks: masked
    assert all((x[i] == 1) == active[i] for i in range(lo, hi))  # the block: masked = trained on
    if suffix:  # left-to-right state: the block is masked from a cut to its end
        assert act == list(range(act[0], hi))


def test_certainty_term_sharpens_only_right_positions():
    logits = torch.zeros(1, 2, 4, requires_grad=True)
    with torch.no_grad():
        logits[0, 0, 1] = 1.0  # right: top-1 is the target
        logits[0, 1, 2] = 1.0  # wrong: top-1 is not the target
    targets, active = torch.tensor([[1, 3]]), torch.tensor([[True, True]])
    plain, _ = certainty_forcing_loss(logits, targets, active, weight=0.0, temperature=0.5)
    forced, stats = certainty_forcing_loss(logits, targets, active, weight=1.0, temperature=0.5)
    assert stats["accuracy"] == 0.5 and forced.item() > plain.item()
    (g,) = torch.autograd.grad(forced - plain, logits)
    assert g[0, 1].abs().sum().item() == 0.0  # the entropy term leaves a wrong position alone
    assert g[0, 0, 1].item() < 0  # and pushes the right one's top-1 up


def test_distill_end_to_end_and_trajectory_cache(tmp_path, one_thread):
    from treediff.sample import get_model, synth
    from treediff.model.formats import load_model

    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "mod.py").write_text(MODULE + MODULE.replace("first", "last").replace("size", "count"),
                                             encoding="utf-8")
    cfg = DistillConfig(prompts=str(tmp_path / "src"), out=str(tmp_path / "student"), max_new_tokens=8,
                        block_size=4, steps=3, batch_size=2, warmup_steps=1, val_fraction=0.3, device="cpu")
    result = distill(cfg)
    assert result.counts["prompts"] == 4 and result.counts["kept"] >= 2
    assert set(result.after) >= {"accuracy", "confidence", "above_0.9"}
    lines = (tmp_path / "student" / "trajectories.jsonl").read_text().splitlines()
    assert len(lines) == 4
    meta = json.loads((tmp_path / "student" / "treediff_model.json").read_text())
    assert meta["distill"]["counts"]["kept"] == result.counts["kept"]
    records = [json.loads(x) for x in (tmp_path / "student" / "metrics.jsonl").read_text().splitlines()]
    assert len([r for r in records if r["kind"] == "train"]) == 3  # the trainer's log: one record a step
    assert [r["step"] for r in records if r["kind"] == "val"] == [0, 3]
    student = load_model(str(tmp_path / "student"), device="cpu")
    teacher = get_model(None, device="cpu")
    changed = any(not torch.equal(a, b) for a, b in zip(student.model.parameters(), teacher.model.parameters()))
    assert changed, "training moved the student away from the teacher"
    r = synth("Return x plus one.", signature="inc(x)", model=student, max_new_tokens=8, threshold=0.9)[0]
    assert r.record.ok
    again = distill(DistillConfig.from_dict({**cfg.to_dict(), "steps": 1}))
    assert again.counts == result.counts
    assert len((tmp_path / "student" / "trajectories.jsonl").read_text().splitlines()) == 4  # read back, not redone
    further = distill(DistillConfig.from_dict({**cfg.to_dict(), "steps": 1, "init": str(tmp_path / "student"),
                                               "out": str(tmp_path / "s2"),
                                               "trajectories": str(tmp_path / "student" / "trajectories.jsonl")}))
    assert further.counts == result.counts and not (tmp_path / "s2" / "trajectories.jsonl").exists()
    assert further.before == pytest.approx(again.after)  # it starts where the student ended, on the same held-out rows


def test_cli_distill(tmp_path, one_thread):
    from treediff_cli.app import app

    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "mod.py").write_text(MODULE + MODULE.replace("first", "last"), encoding="utf-8")
    runner = CliRunner()
    res = runner.invoke(app, ["distill", "--set", "prompts=" + str(tmp_path / "src"), "--set", "max_new_tokens=6",
                              "--set", "steps=2", "--set", "batch_size=2", "--set", "block_size=3",
                              "--set", "device=cpu", "--out", str(tmp_path / "s"), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["steps"] == 2 and out["out"] == str(tmp_path / "s")
    bad = runner.invoke(app, ["distill", "--set", "lr=-1"])
    assert bad.exit_code == 2 and "lr must be > 0.0" in bad.output
    missing = runner.invoke(app, ["distill", "--set", "prompts=" + str(tmp_path / "nothing"), "--out",
                                  str(tmp_path / "t")])
    assert missing.exit_code == 2 and "does not exist" in missing.output


def test_distill_resumes_in_the_trainers_loop(tmp_path, one_thread):
    """Distillation runs in the trainer's loop: a checkpoint every step, and `resume` continues from the newest
    one (its optimizer, schedule and batch generator) instead of starting over."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "mod.py").write_text(MODULE + MODULE.replace("first", "last"), encoding="utf-8")
    cfg = DistillConfig(prompts=str(tmp_path / "src"), out=str(tmp_path / "s"), max_new_tokens=6, block_size=3,
                        steps=2, batch_size=2, val_fraction=0.3, device="cpu", checkpoint_every=1)
    first = distill(cfg)
    assert first.before and (tmp_path / "s" / "checkpoints" / "step_00000002").is_dir()
    more = distill(DistillConfig.from_dict({**cfg.to_dict(), "steps": 3}), resume=True)
    assert more.before == {} and more.after and more.counts == first.counts
    records = [json.loads(x) for x in (tmp_path / "s" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if r["kind"] == "train"] == [1, 2, 3]  # step 3 only, after the resume
    assert any(r["kind"] == "event" and r["message"].startswith("resumed from") for r in records)
