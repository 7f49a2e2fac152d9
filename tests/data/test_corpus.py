"""Corpus scanning and preparation: skip reasons, dedup, split, cache reuse, errors."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from treediff.data import error_fraction, prepare_corpus, scan_corpus, split_of, train_tokenizer
from treediff.data.shards import open_split, read_manifest
from treediff.errors import InputError
from treediff.syntax import parse
from treediff.tokens.tokenizer import SyntaxTokenizer

GOOD = {
    "a.py": "def f(x):\n    return x + 1\n",
    "b.py": "class A:\n    y = [1, 2, 3]\n",
    "c.js": "function g(a) { return a * 2; }\n",
    "d.go": "package main\nfunc h() int { return 3 }\n",
    "e.rs": "fn k() -> u8 { 4 }\n",
    "sub/f.java": "class F { int m() { return 5; } }\n",
}


def _write_corpus(root):
    for name, text in GOOD.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    (root / "dup.py").write_text(GOOD["a.py"])  # duplicate
    (root / "bin.py").write_bytes(b"x = 1\x00\x01\x02\n")  # binary
    (root / "latin.py").write_bytes("s = 'caf\xe9'\n".encode("latin-1"))  # non-UTF-8
    (root / "big.py").write_text("x = 1\n" * 100)  # oversized with max_bytes=200
    (root / "empty.py").write_text("  \n\n")  # empty
    (root / "notes.txt").write_text("hello")  # unknown extension
    (root / "broken.py").write_text("def (((( ]] :::: = = =\n")  # unparseable
    (root / ".git").mkdir()
    (root / ".git" / "x.py").write_text("ignored = 1\n")
    return root


@pytest.fixture(scope="module")
def tok() -> SyntaxTokenizer:
    trees = [parse(text * 4, path=name) for name, text in GOOD.items()]
    return SyntaxTokenizer.train(trees, vocab_size=400, show_progress=False)


def test_scan_counts_each_reason(tmp_path):
    root = _write_corpus(tmp_path)
    files, stats = scan_corpus(root, max_bytes=200)
    assert stats.skipped["duplicate"] == 1
    assert stats.skipped["binary"] == 1
    assert stats.skipped["non_utf8"] == 1
    assert stats.skipped["oversized"] == 1
    assert stats.skipped["empty"] == 1
    assert stats.skipped["unknown_language"] == 1
    assert stats.num_kept == len(files) == len(GOOD) + 1  # + broken.py (parsed later)
    assert stats.num_inputs == stats.num_kept + stats.num_skipped
    assert not any(".git" in f.path for f in files)


def test_error_fraction():
    assert error_fraction(parse("x = 1\n", "python")) == 0.0
    assert error_fraction(parse("def (((( ]] :::: = = =\n", "python")) > 0.1


def test_split_is_deterministic_and_proportional():
    import hashlib

    hashes = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(2000)]
    first = [split_of(h, 0.1) for h in hashes]
    assert first == [split_of(h, 0.1) for h in hashes]
    share = first.count("validation") / len(first)
    assert 0.07 < share < 0.13
    with pytest.raises(InputError):
        split_of(hashes[0], 1.0)


def test_prepare_counts_cache_and_files(tmp_path, tok):
    root = _write_corpus(tmp_path / "corpus")
    out = tmp_path / "out"
    stats = prepare_corpus(root, tok, out, max_bytes=200, val_fraction=0.3, seq_len=16, show_progress=False)
    assert not stats.cached
    assert stats.skipped["unparseable"] == 1
    assert stats.skipped["duplicate"] == 1
    assert stats.num_files == len(GOOD)
    assert stats.splits["train"]["files"] + stats.splits["validation"]["files"] == len(GOOD)
    saved = json.loads((out / "stats.json").read_text())
    assert saved["skipped"] == stats.skipped and saved["cached"] is False
    rows = [json.loads(line) for line in (out / "files.jsonl").read_text().splitlines()]
    assert sorted(r["language"] for r in rows) == sorted(["python", "python", "javascript", "go", "rust", "java"])
    for r in rows:  # split follows the content hash
        assert r["split"] == split_of(r["sha256"], 0.3)
    manifest = read_manifest(out)
    assert manifest["pad_id"] == tok.pad_id
    # the packed stream: <|lang|> <|bos|> ids <|eos|>, decoding back to the file
    shard = open_split(out, "train")[0]
    starts = shard.doc_starts
    doc = np.asarray(shard.tokens[starts[0]:starts[1]])
    assert doc[1] == tok.bos_id and doc[-1] == tok.eos_id and tok.is_special(doc[:1]).all()
    assert tok.decode(doc, skip_special_tokens=True) in GOOD.values()
    spans = np.asarray(shard.node_spans)
    assert (spans[:, 0] < spans[:, 1]).all() and spans.max() <= shard.num_tokens
    assert (np.diff(spans[:, 0]) >= 0).all()

    again = prepare_corpus(root, tok, out, max_bytes=200, val_fraction=0.3, seq_len=16, show_progress=False)
    assert again.cached and again.fingerprint == stats.fingerprint and again.num_files == stats.num_files
    changed = prepare_corpus(root, tok, out, max_bytes=200, val_fraction=0.5, seq_len=16, overwrite=True,
                             show_progress=False)
    assert not changed.cached
    (root / "a.py").write_text("def f(x):\n    return x + 2\n")
    assert not prepare_corpus(root, tok, out, max_bytes=200, val_fraction=0.5, seq_len=16, overwrite=True,
                              show_progress=False).cached


def test_prepare_refuses_to_replace_other_shards(tmp_path, tok):
    root = _write_corpus(tmp_path / "corpus")
    out = tmp_path / "out"
    first = prepare_corpus(root, tok, out, max_bytes=200, val_fraction=0.3, seq_len=16, show_progress=False)
    shards = sorted(p.relative_to(out) for p in out.rglob("*.npy"))
    with pytest.raises(InputError) as info:  # other settings: nothing deleted, what differs named
        prepare_corpus(root, tok, out, max_bytes=200, val_fraction=0.5, seq_len=16, show_progress=False)
    msg = str(info.value)
    assert "\n" not in msg and "val_fraction 0.3 -> 0.5" in msg and "--overwrite" in msg and str(out) in msg
    (root / "a.py").write_text("def f(x):\n    return x + 2\n")  # another corpus
    with pytest.raises(InputError, match=r"the corpus files \(\d+ -> \d+ files"):
        prepare_corpus(root, tok, out, max_bytes=200, val_fraction=0.3, seq_len=16, show_progress=False)
    assert read_manifest(out)["fingerprint"] == first.fingerprint
    assert sorted(p.relative_to(out) for p in out.rglob("*.npy")) == shards
    # an incomplete build of the same shards is no refusal: rebuilt
    next(out.rglob("tokens.npy")).unlink()
    (root / "a.py").write_text(GOOD["a.py"])
    assert not prepare_corpus(root, tok, out, max_bytes=200, val_fraction=0.3, seq_len=16, show_progress=False).cached
    # --overwrite (and --force) replace them
    again = prepare_corpus(root, tok, out, max_bytes=200, val_fraction=0.5, seq_len=16, overwrite=True,
                           show_progress=False)
    assert read_manifest(out)["fingerprint"] == again.fingerprint != first.fingerprint
    assert prepare_corpus(root, tok, out, max_bytes=100, seq_len=16, force=True, show_progress=False).fingerprint \
        == read_manifest(out)["fingerprint"]


def test_prepare_with_workers_matches_single_process(tmp_path, tok):
    root = tmp_path / "many"
    root.mkdir()
    for i in range(24):
        (root / f"m{i}.py").write_text(f"def f{i}(x):\n    return x + {i}\n")
    a = prepare_corpus(root, tok, tmp_path / "one", workers=1, show_progress=False)
    b = prepare_corpus(root, tok, tmp_path / "two", workers=2, show_progress=False)
    assert a.fingerprint == b.fingerprint and a.splits == b.splits
    for split in ("train", "validation"):
        for x, y in zip(open_split(tmp_path / "one", split), open_split(tmp_path / "two", split)):
            assert (np.asarray(x.tokens) == np.asarray(y.tokens)).all()
            assert (np.asarray(x.node_spans) == np.asarray(y.node_spans)).all()


def test_jsonl_and_zip_inputs(tmp_path, tok):
    jsonl = tmp_path / "c.jsonl"
    jsonl.write_text("\n".join([
        json.dumps({"code": GOOD["a.py"], "language": "python", "path": "x/a.py"}),
        json.dumps({"code": GOOD["c.js"], "language": "js"}),
        json.dumps({"code": "x", "language": "cobol"}),
        "{not json",
    ]) + "\n")
    files, stats = scan_corpus(jsonl)
    assert [f.language for f in files] == ["python", "javascript"] and files[0].path == "x/a.py"
    assert stats.skipped["unknown_language"] == 1 and stats.skipped["unreadable"] == 1
    archive = tmp_path / "src.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("pkg/F.java", GOOD["sub/f.java"])
        z.writestr("pkg/readme.md", "# hi")
        z.writestr("pkg/", "")
    files, stats = scan_corpus([archive, jsonl])
    assert files[0].language == "java" and files[0].path.endswith("src.zip!pkg/F.java")
    assert stats.skipped["unknown_language"] == 2
    stats = prepare_corpus([archive, jsonl], tok, tmp_path / "out", show_progress=False)
    assert stats.num_files == 3


def test_nothing_usable_raises(tmp_path, tok):
    (tmp_path / "a.txt").write_text("x")
    (tmp_path / "b.py").write_bytes(b"\x00\x00")
    with pytest.raises(InputError, match="no usable source files"):
        prepare_corpus(tmp_path, tok, tmp_path / "out", show_progress=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError):
        prepare_corpus(tmp_path / "empty", tok, tmp_path / "out", show_progress=False)
    with pytest.raises(InputError):
        scan_corpus(tmp_path / "missing")


def test_train_tokenizer_on_a_corpus(tmp_path):
    root = _write_corpus(tmp_path / "corpus")
    tok, stats = train_tokenizer(root, out=tmp_path / "tok", vocab_size=350, max_bytes=200, show_progress=False)
    assert stats.num_files == len(GOOD) and stats.skipped["unparseable"] == 1
    assert (tmp_path / "tok" / "tokenizer.json").is_file()
    assert SyntaxTokenizer.from_pretrained(tmp_path / "tok").fingerprint == tok.fingerprint
