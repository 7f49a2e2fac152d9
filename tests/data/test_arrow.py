"""``data prepare`` reads Parquet and Arrow IPC shards with ``content``/``lang`` columns (The Stack's layout)."""

from __future__ import annotations

import json

import pytest

pa = pytest.importorskip("pyarrow")
import pyarrow.ipc  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from treediff.data import prepare_corpus, scan_corpus, train_tokenizer  # noqa: E402
from treediff.data.arrow import arrow_rows  # noqa: E402
from treediff.errors import InputError  # noqa: E402

ROWS = {
    "content": ["def f(x):\n    return x + 1\n", "int main() { return 0; }\n", "const a = [1, 2];\n",
                "fn main() {}\n", "program hello\nend program\n", None],
    "lang": ["Python", "C++", "JavaScript", "Rust", "Fortran", "Python"],
}


def test_parquet_streams_by_batch_and_maps_language_names(tmp_path):
    path = tmp_path / "train-00000.parquet"
    pq.write_table(pa.table(ROWS), path, row_group_size=2)
    rows = list(arrow_rows(path))
    assert [r[2] for r in rows] == ROWS["lang"] and rows[0][0].endswith("#1")
    files, stats = scan_corpus(path)
    assert [f.language for f in files] == ["python", "cpp", "javascript", "rust"]
    assert stats.skipped["unknown_language"] == 1 and stats.skipped["empty"] == 1


def test_arrow_ipc_file_and_stream_with_language_column_and_paths(tmp_path):
    table = pa.table({"language": ["go", None], "code": ["package main\n", "x = 1\n"], "path": ["a/m.go", "b/n.py"]})
    for name, writer in (("d.arrow", pa.ipc.new_file), ("d.ipc", pa.ipc.new_stream)):
        with writer(tmp_path / name, table.schema) as w:
            w.write_table(table)
        files, _ = scan_corpus(tmp_path / name)
        assert [(f.path, f.language) for f in files] == [("a/m.go", "go"), ("b/n.py", "python")]


def test_prepare_reads_a_directory_of_parquet_shards(tmp_path):
    shards = tmp_path / "data" / "python"
    shards.mkdir(parents=True)
    for i in range(2):
        code = [f"def f{i}_{j}(a, b):\n    return a * {j} + b\n" for j in range(6)]
        pq.write_table(pa.table({"content": code, "lang": ["Python"] * 6}), shards / f"train-{i:05d}.parquet")
    tok, _ = train_tokenizer(tmp_path / "data", vocab_size=300, min_frequency=1, workers=1, show_progress=False)
    stats = prepare_corpus(tmp_path / "data", tok, tmp_path / "prep", workers=1, show_progress=False)
    assert stats.num_files == 12 and stats.languages == {"python": 12}
    rows = [json.loads(line) for line in (tmp_path / "prep" / "files.jsonl").read_text().splitlines()]
    assert rows[0]["path"].endswith("train-00000.parquet#1")


def test_bad_shards_give_one_line_errors(tmp_path):
    bad = tmp_path / "x.parquet"
    bad.write_bytes(b"not parquet at all")
    with pytest.raises(InputError, match="cannot read as parquet"):
        scan_corpus(bad)
    nocol = tmp_path / "y.parquet"
    pq.write_table(pa.table({"body": ["x = 1\n"]}), nocol)
    with pytest.raises(InputError, match="no text column .* it has: body"):
        scan_corpus(nocol)
