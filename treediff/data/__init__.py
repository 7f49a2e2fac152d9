"""The corpus pipeline: gather → scan → filter/dedup/split → tokenize → memory-mapped shards → windows → batches."""

from treediff.data.corpus import SKIP_REASONS, CorpusFile, ScanStats, error_fraction, scan_corpus, split_of
from treediff.data.dataset import CorpusDataset, Example, collate
from treediff.data.gather import GatherOptions, GatherStats, gather_corpus
from treediff.data.heldout import HeldoutFile, heldout_files
from treediff.data.prepare import PrepareOptions, PrepareStats, TokenizerStats, prepare_corpus, train_tokenizer
from treediff.data.shards import Shard, open_split, read_manifest

__all__ = [
    "SKIP_REASONS",
    "CorpusFile",
    "ScanStats",
    "error_fraction",
    "scan_corpus",
    "split_of",
    "CorpusDataset",
    "Example",
    "collate",
    "GatherOptions",
    "GatherStats",
    "gather_corpus",
    "HeldoutFile",
    "heldout_files",
    "PrepareOptions",
    "PrepareStats",
    "TokenizerStats",
    "prepare_corpus",
    "train_tokenizer",
    "Shard",
    "open_split",
    "read_manifest",
]
