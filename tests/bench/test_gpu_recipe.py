"""CPU dry run of the GPU recipe (bench/gpu/train_default.sh), so it cannot rot: tiny preset, a few steps,
a tiny prepared dataset, a sharded bundle that loads back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from treediff.data import prepare_corpus, train_tokenizer
from treediff.model import load_denoiser

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "examples" / "corpus" / "python"


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("gpu")
    files = sorted(CORPUS.glob("*.py"))[:6]
    tok, _ = train_tokenizer(files, vocab_size=400, min_frequency=2, workers=1, show_progress=False)
    prepare_corpus(files, tok, tmp / "prepared", val_fraction=0.2, workers=1, show_progress=False)
    return tmp / "prepared"


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHON": sys.executable, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_recipe_dry_run_on_cpu(prepared, tmp_path):
    out = tmp_path / "out"
    sets = ["device=cpu", "precision=fp32", "threads=1", "model.preset=tiny", "model.overrides.max_position=128",
            "data.seq_len=64", "data.batch_size=4", "data.num_workers=0", "log.val_batches=1",
            "noise.warmup_steps=2"]
    cmd = ["bash", str(ROOT / "bench/gpu/train_default.sh"), str(prepared), str(out), "60",
           "--calibrate-steps", "2", "--max-steps", "3", "--shard-mb", "0.12"]
    for s in sets:
        cmd += ["--set", s]
    proc = _run(cmd, ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["steps"] == 3 and report["tokens_seen"] == 3 * 4 * 64 and report["tokens_per_s"] > 0
    assert report["mfu"] is None and report["device"] == "cpu" and report["seq_len"] == 64
    shards = sorted((out / "bundle").glob("model-*.safetensors"))
    assert len(shards) >= 2 and all(p.stat().st_size <= 0.12e6 + 4096 for p in shards)  # below the cap (+ header)
    assert (out / "bundle" / "model.safetensors.index.json").is_file() and (out / "bundle" / "tokenizer.json").is_file()
    assert json.loads((out / "run.json").read_text())["steps"] == 3
    model = load_denoiser(out / "bundle")
    assert model.config.d_model == 64 and report["params"] == sum(p.numel() for p in model.parameters())


def test_recipe_rejects_bad_arguments(prepared, tmp_path):
    proc = _run(["bash", str(ROOT / "bench/gpu/train_default.sh")], ROOT)
    assert proc.returncode == 2 and "usage:" in proc.stderr
    proc = _run([sys.executable, str(ROOT / "bench/gpu/train_default.py"), "--data", str(prepared), "--out",
                 str(tmp_path), "--budget-s", "900"], ROOT)
    assert proc.returncode != 0 and "--budget-s must be in (0, 480]" in proc.stderr
    proc = _run([sys.executable, str(ROOT / "bench/gpu/train_default.py"), "--data", str(CORPUS), "--out",
                 str(tmp_path)], ROOT)
    assert proc.returncode != 0 and "give --tokenizer" in proc.stderr


@pytest.mark.slow
def test_recipe_prepares_a_carried_gathered_corpus(tmp_path):
    import tarfile

    from treediff.data.gather import GatherOptions, gather_corpus

    sources = tmp_path / "sources.toml"
    sources.write_text(f'[[source]]\nname = "local"\nkind = "directory"\nroot = "{CORPUS}"\nlicense = "PSF-2.0"\n'
                       'unit_depth = 0\n')
    gather_corpus(tmp_path / "gathered", GatherOptions(sources_file=str(sources), languages=("python",)))
    archive = tmp_path / "corpus.tar.xz"
    with tarfile.open(archive, "w:xz") as tf:
        for name in ("manifest.jsonl", "files"):
            tf.add(tmp_path / "gathered" / name, arcname=name)
    tok, _ = train_tokenizer(sorted(CORPUS.glob("*.py"))[:4], vocab_size=400, workers=1, show_progress=False)
    tok.save(tmp_path / "tok")
    cmd = ["bash", str(ROOT / "bench/gpu/train_default.sh"), str(archive), str(tmp_path / "out"), "60",
           "--tokenizer", str(tmp_path / "tok"), "--calibrate-steps", "1", "--max-steps", "2"]
    for s in ["device=cpu", "precision=fp32", "threads=1", "model.preset=tiny", "model.overrides.max_position=128",
              "data.seq_len=64", "data.batch_size=2", "data.num_workers=0", "log.val_batches=1"]:
        cmd += ["--set", s]
    proc = _run(cmd, ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["steps"] == 2 and report["val"] is None  # one package: nothing held out
    assert (tmp_path / "out" / "data" / "manifest.json").is_file()  # prepared on the machine
