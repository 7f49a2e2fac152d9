"""The wheel ships the grammars data and its `treediff` command works in a fresh venv."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    build = tmp_path_factory.mktemp("build")
    env = {**os.environ, "PIP_NO_INPUT": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-v", "-w", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        env=env,
        cwd=build,
        timeout=300,
    )
    if proc.returncode != 0:
        pytest.fail(f"wheel build failed: {proc.stderr[-2000:]}")
    (out / "build.log").write_text(proc.stdout + proc.stderr)
    (whl,) = out.glob("treediff-*.whl")
    return whl


def test_wheel_builds_without_setuptools_warnings(wheel: Path) -> None:
    """No deprecation (license table) or "package would be ignored" warnings from the build backend."""
    log = (wheel.parent / "build.log").read_text()
    noisy = [line for line in log.splitlines()
             if "SetuptoolsDeprecationWarning" in line or "_Warning" in line or "would be ignored" in line]
    assert not noisy, "\n".join(noisy[:5])


def test_wheel_contains_grammars_and_cli(wheel: Path) -> None:
    import zipfile

    names = zipfile.ZipFile(wheel).namelist()
    grammar_files = sorted(n for n in names if n.startswith("treediff/grammars/") and n.endswith(".toml"))
    expected = sorted(f"treediff/grammars/{p.name}" for p in (ROOT / "grammars").glob("*.toml"))
    assert grammar_files == expected
    assert "treediff_cli/app.py" in names
    for model in ("default_model", "parallel_model", "multi_model"):  # --model default | parallel | multi
        assert f"treediff/assets/{model}/model.safetensors" in names
    assert any(n.endswith("entry_points.txt") for n in names)


def test_wheel_installs_into_fresh_venv(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    # Dependencies come from the current environment's site-packages (no network);
    # treediff itself comes only from the wheel.
    py = env_dir / "bin" / "python"
    target = Path(
        subprocess.check_output([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True).strip()
    )
    deps = Path(sysconfig.get_paths()["purelib"])
    (target / "_deps.pth").write_text(str(deps) + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--ignore-installed", "--no-compile", "-q", "--prefix", str(env_dir), str(wheel)],
        check=True,
        timeout=300,
    )
    run_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "TREEDIFF_GRAMMARS")}
    # pip ran from the outer env, so the script's shebang names that interpreter: run it
    # with the fresh venv's python instead (what the venv's own pip would have written).
    proc = subprocess.run(
        [str(py), str(env_dir / "bin" / "treediff"), "languages", "--json"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=run_env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    names = {line.split('"name": "')[1].split('"')[0] for line in proc.stdout.splitlines() if line.strip()}
    assert {"python", "javascript", "typescript", "tsx", "java", "c", "cpp", "go", "rust"} <= names
    mod = subprocess.run([str(py), "-m", "treediff", "languages", "--json"], capture_output=True, text=True,
                         cwd=tmp_path, env=run_env, timeout=120)
    assert mod.returncode == 0 and mod.stdout == proc.stdout, mod.stderr
    where = subprocess.check_output(
        [str(py), "-c", "import treediff, treediff.syntax.language as l; print(treediff.__file__); print(l.grammars_dir())"],
        text=True,
        cwd=tmp_path,
        env=run_env,
    )
    assert str(env_dir) in where.splitlines()[0] and str(env_dir) in where.splitlines()[1]


def test_editable_build_has_no_setuptools_warnings(tmp_path: Path) -> None:
    """What `pip install -e .` runs (the backend's build_editable): no warning lines at all."""
    code = "import sys; from setuptools import build_meta; build_meta.build_editable(sys.argv[1])"
    proc = subprocess.run([sys.executable, "-W", "default", "-c", code, str(tmp_path)], capture_output=True,
                          text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert list(tmp_path.glob("treediff-*.whl"))
    # a Python warning line reads "file:line: Category: message" (pip shows these to the user)
    noisy = [line for line in (proc.stdout + proc.stderr).splitlines()
             if re.search(r"(Warning|InformationOnly): |would be ignored", line)]
    assert not noisy, "\n".join(noisy[:5])
