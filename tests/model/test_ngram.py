"""The corpus n-gram prior: counting, back-off, pruning, persistence, corrupt files, the CLI."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from treediff.errors import CheckpointError, InputError
from treediff.model.ngram import NgramPrior, file_cache
from treediff_cli.app import app

V = 32


@pytest.fixture(scope="module")
def prepared_shards(tmp_path_factory):
    from tests.train.conftest import CORPUS, TOKENIZER
    from treediff.data import prepare_corpus

    out = tmp_path_factory.mktemp("prepared")
    prepare_corpus(CORPUS, TOKENIZER, out, val_fraction=0.1, seq_len=64, workers=1, show_progress=False)
    return out

JAVA, GO = 9, 8


def _docs():
    # Java: after (20, 21) comes 22 twice and 23 once; after 21 alone (bigram) 22/23/24
    yield JAVA, np.array([20, 21, 22, 20, 21, 22, 20, 21, 23, 5, 21, 24])
    yield GO, np.array([30, 31, 30, 31, 30, 31])


def test_trigram_backs_off_to_bigram_then_unigram():
    prior = NgramPrior.build(_docs(), vocab_size=V, min_count=1)
    seen, backoff, unseen = prior.log_probs(JAVA, [(20, 21), (7, 21), (7, 7)])
    assert np.exp(seen[22]) == pytest.approx(2 / 3, abs=1e-3) and np.exp(seen[23]) == pytest.approx(1 / 3, abs=1e-3)
    assert seen.argmax() == 22
    # context (7, 21) was never seen: 0.4 x the bigram after 21 (22: 2/4, 23: 1/4, 24: 1/4)
    assert np.exp(backoff[22]) == pytest.approx(0.4 * 2 / 4, abs=1e-3)
    assert np.exp(backoff[24]) == pytest.approx(0.4 * 1 / 4, abs=1e-3)
    # nothing after 7: 0.16 x the language's unigram; Go's tokens never occur in Java's unigram
    assert unseen.argmax() in (20, 21)
    assert unseen[30] < -10
    assert prior.log_probs(GO, [(30, 31)])[0].argmax() == 30
    with pytest.raises(InputError, match="no table for language token 12"):
        prior.log_probs(12, [(1, 2)])


def test_pruning_keeps_the_most_frequent_next_tokens():
    prior = NgramPrior.build(_docs(), vocab_size=V, top_k=1, min_count=2)
    vec = prior.log_probs(JAVA, [(20, 21)])[0]
    assert np.exp(vec[22]) == pytest.approx(2 / 3, abs=1e-3)
    assert vec[23] < np.log(0.4 * 0.5)  # pruned from the trigram table: only its back-off is left


def test_file_cache_mixes_the_files_own_trigrams():
    prior = NgramPrior.build(_docs(), vocab_size=V, min_count=1)
    plain = prior.log_probs(JAVA, [(20, 21)])[0]
    cached = prior.log_probs(JAVA, [(20, 21)], file_cache([20, 21, 24, 20, 21, 24]))[0]
    assert cached[24] > plain[24] and cached[22] < plain[22]
    # where the file has seen the context: 0.7 x the corpus score + 0.3 x the file's relative frequency
    assert np.exp(cached[24]) == pytest.approx(0.7 * np.exp(plain[24]) + 0.3, abs=1e-3)


def test_save_load_round_trip_and_corrupt_files(tmp_path):
    prior = NgramPrior.build(_docs(), vocab_size=V, min_count=1)
    path = prior.save(tmp_path / "p.npz")
    back = NgramPrior.load(path)
    assert back.num_entries == prior.num_entries
    np.testing.assert_allclose(back.log_probs(JAVA, [(20, 21)]), prior.log_probs(JAVA, [(20, 21)]), atol=2e-2)
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(CheckpointError, match="not a readable n-gram prior"):
        NgramPrior.load(tmp_path / "bad.npz")
    arrays = dict(np.load(path))
    arrays["off3"] = arrays["off3"][:-1]
    np.savez(tmp_path / "cut.npz", **arrays)
    with pytest.raises(CheckpointError, match="inconsistent"):
        NgramPrior.load(tmp_path / "cut.npz")


def test_bad_documents_are_refused():
    with pytest.raises(InputError, match="outside the vocabulary"):
        NgramPrior.build([(JAVA, np.array([1, 99]))], vocab_size=V)
    with pytest.raises(InputError, match="no documents"):
        NgramPrior.build([], vocab_size=V)


def test_cli_counts_prepared_shards(tmp_path, prepared_shards):
    out = tmp_path / "prior.npz"
    res = CliRunner().invoke(app, ["data", "ngram", str(prepared_shards), "--out", str(out), "--min-count", "1"])
    assert res.exit_code == 0, res.output
    prior = NgramPrior.load(out)
    assert prior.num_entries > 100 and prior.vocab_size > 100
    res = CliRunner().invoke(app, ["data", "ngram", str(tmp_path / "nothing"), "--out", str(out)])
    assert res.exit_code != 0 and "Traceback" not in res.output
