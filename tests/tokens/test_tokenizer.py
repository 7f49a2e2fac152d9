"""The syntax-aligned tokenizer: leaf boundaries, exact round trips, alignment, specials, HF loading."""

from __future__ import annotations

import json
import sysconfig
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from treediff.errors import CheckpointError, InputError, LanguageNotFound
from treediff.syntax import list_languages, parse
from treediff.tokens import pretokenize
from treediff.tokens.tokenizer import BOS, END_OF_HOLE, EOS, HOLE, MASK, PAD, SyntaxTokenizer, lang_token, words_of

STDLIB = Path(sysconfig.get_paths()["stdlib"])
SAMPLES = {
    "python": "import os\n\nclass A(B):\n    def f(self, x: int = 1) -> str:\n        '''Doc  string.'''\n        return f\"{x!r} é\"  # ü\n",
    "javascript": "function f(a, b) {\n  return a + `t ${b}`; // c\n}\nconst x = [1, 2, 'é'];\n",
    "java": "class A { int f(int x) { return x * 2; } /* c */ }\n",
    "c": "#include <stdio.h>\nint main(void) { printf(\"%d\\n\", 1); return 0; }\n",
    "go": "package main\nfunc f(x int) int { return x + 1 }\n",
    "rust": "fn f(x: i32) -> i32 { x + 1 } // ok\n",
    "cpp": "template <class T> T f(T x) { return x; }\n",
    "typescript": "let x: number = 1; function f(a: string): void {}\n",
    "tsx": "const a = <div className=\"x\">{y}</div>;\n",
}


@pytest.fixture(scope="module")
def tok() -> SyntaxTokenizer:
    trees = [parse(src * 3, lang) for lang, src in SAMPLES.items()]
    trees += [parse(p.read_bytes(), "python") for p in (STDLIB / "keyword.py", STDLIB / "bisect.py", STDLIB / "colorsys.py")]
    return SyntaxTokenizer.train(trees, vocab_size=700, show_progress=False)


def test_specials_exist_and_are_distinct(tok):
    ids = [tok.pad_id, tok.mask_id, tok.bos_id, tok.eos_id, tok.hole_id, tok.end_of_hole_id]
    assert len(set(ids)) == 6
    assert [tok.id_to_token(i) for i in ids] == [PAD, MASK, BOS, EOS, HOLE, END_OF_HOLE]
    for lang in list_languages():
        assert tok.id_to_token(tok.lang_id(lang.name)) == lang_token(lang.name)
    assert tok.lang_id("py") == tok.lang_id("python")
    with pytest.raises(LanguageNotFound):
        tok.lang_id("cobol")
    assert tok.is_special(np.asarray(ids)).all()
    assert tok.vocab_size == 700


@pytest.mark.parametrize("lang", sorted(SAMPLES))
def test_no_token_crosses_a_leaf_and_round_trip(tok, lang):
    tree = parse(SAMPLES[lang], lang)
    enc = tok.encode(tree)
    assert tok.decode_bytes(enc.ids) == tree.source
    assert enc.offsets[0, 0] == 0 and enc.offsets[-1, 1] == len(tree.source)
    assert (enc.offsets[1:, 0] == enc.offsets[:-1, 1]).all()
    bounds = {b for p in pretokenize(tree) for b in (p.start, p.end)}
    token_starts = set(enc.offsets[:, 0].tolist())
    assert bounds - {len(tree.source)} <= token_starts  # every piece (leaf) boundary is a token boundary
    assert enc.alignment.node_exact.all()


def test_real_files_align_exactly(tok):
    for name in ("bisect.py", "textwrap.py", "shlex.py"):
        tree = parse((STDLIB / name).read_bytes(), "python")
        enc = tok.encode(tree)
        assert tok.decode(enc.ids) == tree.source.decode()
        a = enc.alignment
        assert a.node_exact.all()
        nonempty = a.node_byte_spans[:, 1] > a.node_byte_spans[:, 0]
        s, e = a.node_spans[nonempty, 0], a.node_spans[nonempty, 1]
        assert (enc.offsets[s, 0] == a.node_byte_spans[nonempty, 0]).all()
        assert (enc.offsets[e - 1, 1] == a.node_byte_spans[nonempty, 1]).all()


def test_special_text_in_source_is_not_a_special_token(tok):
    tree = parse("s = '<|mask|><|bos|>'\n", "python")
    enc = tok.encode(tree)
    assert not tok.is_special(enc.ids).any()
    assert tok.decode(enc.ids) == "s = '<|mask|><|bos|>'\n"


def test_decode_skips_specials(tok):
    enc = tok.encode(parse("x = 1\n", "python"))
    ids = [tok.lang_id("python"), tok.bos_id, *enc.ids.tolist(), tok.eos_id]
    assert tok.decode(ids, skip_special_tokens=True) == "x = 1\n"
    assert tok.decode(ids).startswith("<|lang:python|><|bos|>x")
    with pytest.raises(InputError):
        tok.decode([tok.vocab_size])


CODE_ALPHABET = st.sampled_from(list("abcxyz_019 \t\n():,.=+-*/'\"#[]{}<>|\\@!é€😀ü\r"))


@settings(max_examples=60, deadline=None)
@given(st.text(CODE_ALPHABET, max_size=80) | st.text(max_size=40))
def test_round_trip_any_text(tok, text):
    data = text.encode("utf-8", "surrogatepass")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return
    if b"\x00" in data:
        return
    tree = parse(data, "python")
    enc = tok.encode(tree)
    assert tok.decode_bytes(enc.ids) == data
    assert enc.alignment.node_exact.all()
    assert b"".join(w.encode("utf-8") if isinstance(w, str) else w for w in words_of(tree)) == data


def test_save_load_stable_ids_and_hf(tok, tmp_path):
    tok.save(tmp_path)
    again = SyntaxTokenizer.from_pretrained(tmp_path)
    assert again.fingerprint == tok.fingerprint
    for name in ("pad_id", "mask_id", "bos_id", "eos_id", "hole_id", "end_of_hole_id", "vocab_size"):
        assert getattr(again, name) == getattr(tok, name)
    tree = parse(SAMPLES["python"], "python")
    ids = tok.encode(tree).ids
    assert (again.encode(tree).ids == ids).all()

    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    fast = PreTrainedTokenizerFast(tokenizer_file=str(tmp_path / "tokenizer.json"))
    assert fast.decode(ids.tolist()) == SAMPLES["python"]
    auto = AutoTokenizer.from_pretrained(str(tmp_path), local_files_only=True)
    assert auto.mask_token_id == tok.mask_id and auto.pad_token_id == tok.pad_id
    assert auto.bos_token_id == tok.bos_id and auto.eos_token_id == tok.eos_id
    assert auto.convert_tokens_to_ids(lang_token("python")) == tok.lang_id("python")
    assert auto.decode(ids.tolist()) == SAMPLES["python"]
    approx = auto("x = f(1)\n", add_special_tokens=False)["input_ids"]
    assert auto.decode(approx) == "x = f(1)\n"
    assert json.loads((tmp_path / "tokenizer_config.json").read_text())["mask_token"] == MASK
    assert (tmp_path / "special_tokens_map.json").is_file()


def test_from_pretrained_errors(tmp_path):
    with pytest.raises(CheckpointError):
        SyntaxTokenizer.from_pretrained(tmp_path)
    (tmp_path / "tokenizer.json").write_text("{not json")
    with pytest.raises(CheckpointError):
        SyntaxTokenizer.from_pretrained(tmp_path)


def test_vocab_too_small():
    with pytest.raises(InputError):
        SyntaxTokenizer.train([parse("x\n", "python")], vocab_size=100, show_progress=False)
