"""External tokenizers: char → byte offsets and the cover rule for tokens that cross nodes."""

from __future__ import annotations

import numpy as np
import pytest
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from treediff.syntax import parse, walk
from treediff.tokens import align_external
from treediff.tokens.external import char_to_byte_offsets

SOURCE = "def f(x):\n    return x + 1  # é ü\n\ns = 'héllo' + f(2)\nprint(s, f(x=3))\n"


@pytest.fixture(scope="module")
def crossing_tokenizer() -> Tokenizer:
    """A tiny BPE trained on whole lines: its tokens freely cross leaf boundaries."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, min_frequency=2, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator([SOURCE] * 50, trainer=trainer)
    return tok


def _check_cover(tree, enc):
    offs = enc.offsets
    a = enc.alignment
    assert offs[-1, 1] == len(tree.source)
    row = 0
    for node, _, _ in walk(tree.ts_tree.root_node):
        if not node.is_named:
            continue
        s, e = a.node_spans[row]
        ns, ne = node.start_byte, node.end_byte
        if ne > ns:
            overlapping = np.nonzero((offs[:, 0] < ne) & (offs[:, 1] > ns))[0]
            assert (s, e) == (overlapping[0], overlapping[-1] + 1), node.type  # cover: every overlapping token
            assert a.node_exact[row] == (offs[s, 0] == ns and offs[e - 1, 1] == ne)
        row += 1
    assert row == a.num_nodes


def test_char_to_byte_offsets():
    assert char_to_byte_offsets("").tolist() == [0]
    assert char_to_byte_offsets("aé€😀").tolist() == [0, 1, 3, 6, 10]


def test_cover_rule_with_raw_tokenizer(crossing_tokenizer):
    tree = parse(SOURCE, "python")
    enc = align_external(tree, crossing_tokenizer)
    _check_cover(tree, enc)
    assert not enc.alignment.node_exact.all()  # tokens do cross leaves here
    assert enc.alignment.node_exact.any()


def test_cover_rule_with_transformers_fast_tokenizer(crossing_tokenizer):
    from transformers import PreTrainedTokenizerFast

    fast = PreTrainedTokenizerFast(tokenizer_object=crossing_tokenizer)
    tree = parse(SOURCE, "python")
    enc = align_external(tree, fast)
    _check_cover(tree, enc)
    raw = align_external(tree, crossing_tokenizer)
    assert (enc.offsets == raw.offsets).all()
    # non-ASCII: byte offsets, not char offsets, line up with the source
    i = SOURCE.index("é")
    byte_pos = len(SOURCE[:i].encode())
    hit = np.nonzero((enc.offsets[:, 0] <= byte_pos) & (enc.offsets[:, 1] > byte_pos))[0]
    assert len(hit) == 1
    assert "é" in tree.source[enc.offsets[hit[0], 0]:enc.offsets[hit[0], 1]].decode("utf-8", "replace")
