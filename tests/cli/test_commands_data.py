"""`treediff tokenizer train` and `treediff data prepare` through typer's CliRunner."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from treediff_cli.app import app

runner = CliRunner()


def test_tokenizer_train_and_data_prepare(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(6):
        (corpus / f"m{i}.py").write_text(f"def f{i}(x):\n    return x * {i}\n" * 3)
    (corpus / "junk.bin").write_bytes(b"\x00\x01")
    tok_dir = tmp_path / "tok"
    r = runner.invoke(app, ["tokenizer", "train", str(corpus), "--vocab-size", "330", "--out", str(tok_dir), "-q"])
    assert r.exit_code == 0, r.output
    assert (tok_dir / "tokenizer.json").is_file()
    out = tmp_path / "data"
    args = ["data", "prepare", str(corpus), "--tokenizer", str(tok_dir), "--out", str(out), "--seq-len", "64",
            "--val-fraction", "0.2", "-q"]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    stats = json.loads((out / "stats.json").read_text())
    assert stats["num_files"] == 6 and stats["skipped"]["unknown_language"] == 1
    r = runner.invoke(app, args)
    assert r.exit_code == 0 and "cached" in r.output
    # another --val-fraction into the same --out: refused, one line, the shards kept; --overwrite replaces them
    manifest = (out / "manifest.json").read_text()
    other = [a if a != "0.2" else "0.5" for a in args]
    r = runner.invoke(app, other)
    assert r.exit_code == 2 and "val_fraction 0.2 -> 0.5" in r.output and "--overwrite" in r.output, r.output
    assert "Traceback" not in r.output and (out / "manifest.json").read_text() == manifest
    r = runner.invoke(app, [*other, "--overwrite"])
    assert r.exit_code == 0 and json.loads((out / "manifest.json").read_text())["options"]["val_fraction"] == 0.5


def test_prepare_empty_corpus_exits_2(tmp_path):
    (tmp_path / "c").mkdir()
    r = runner.invoke(app, ["tokenizer", "train", str(tmp_path / "c"), "--out", str(tmp_path / "t"), "-q"])
    assert r.exit_code != 0
    assert "no usable source files" in str(r.exception) or "no usable source files" in r.output


def test_data_gather_from_a_directory_source(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.go").write_text("package main\n\nfunc main() {}\n")
    (src / "b.rs").write_text("fn main() {}\n")
    sources = tmp_path / "sources.toml"
    sources.write_text(f'[[source]]\nname = "local"\nkind = "directory"\nroot = "{src}"\nlicense = "MIT"\n')
    out = tmp_path / "out"
    r = runner.invoke(app, ["data", "gather", "--out", str(out), "--sources-file", str(sources),
                            "--languages", "go,rust"])
    assert r.exit_code == 0, r.output
    assert "[1/1] local" in r.output and r.output.strip().endswith(str(out))
    assert len((out / "manifest.jsonl").read_text().splitlines()) == 2
    r = runner.invoke(app, ["data", "gather", "--out", str(out), "--sources-file", str(sources), "--languages", "java"])
    assert r.exit_code == 2 and "no code gathered for java" in r.output


def test_data_gather_rejects_an_unknown_language(tmp_path):
    r = runner.invoke(app, ["data", "gather", "--out", str(tmp_path / "o"), "--languages", "python,cobol"])
    assert r.exit_code == 2 and "unknown language 'cobol'" in r.output and "Traceback" not in r.output
