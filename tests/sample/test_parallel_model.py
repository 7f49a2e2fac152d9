"""The embedded distilled student (``--model parallel``): found by name, and threshold decoding with it
commits several tokens per forward pass where the embedded default model commits one."""

from __future__ import annotations

import json

import pytest

from treediff.errors import CheckpointError
from treediff.sample import Spec, get_model, synth
from treediff.model.formats import EMBEDDED_MODELS, embedded_model_path, model_path

STUB = 'def below_zero(operations):\n    """Return True if the running sum of operations ever drops below zero."""\n'


def test_embedded_names_resolve_and_local_paths_win(tmp_path, monkeypatch):
    assert model_path("parallel") == embedded_model_path("parallel")
    assert model_path(None) == embedded_model_path("default")
    meta = json.loads((embedded_model_path("parallel") / "treediff_model.json").read_text())
    assert meta["distill"]["counts"]["kept"] > 1000  # it records how it was made
    (tmp_path / "parallel").mkdir()
    monkeypatch.chdir(tmp_path)
    assert model_path("parallel") == tmp_path.joinpath("parallel").relative_to(tmp_path)
    with pytest.raises(CheckpointError, match="embedded models: " + ", ".join(EMBEDDED_MODELS)):
        model_path("fast")


def test_no_model_means_the_embedded_model_for_the_language():
    from treediff.model.formats import DEFAULT_FOR_LANGUAGE

    assert model_path(None) == embedded_model_path("default")  # no language: the Python-trained model
    multi = embedded_model_path("multi")
    for language in ("python", "java", "go", "rust", "c", "cpp", "javascript", "typescript"):
        assert DEFAULT_FOR_LANGUAGE[language] == "multi"
        assert model_path(None, language) == (multi or embedded_model_path("default"))
    assert get_model(None, device="cpu", language="java").name == (multi or embedded_model_path("default")).name


def test_threshold_decoding_is_parallel_with_the_student_only():
    settings = dict(max_new_tokens=64, block_size=64, threshold=0.9, device="cpu")
    student = synth(Spec.from_text(STUB, id="s"), model=get_model("parallel", device="cpu"), **settings)[0]
    teacher = synth(Spec.from_text(STUB, id="t"), model=get_model(None, device="cpu"), **settings)[0]
    assert student.record.ok and not student.record.fallback
    assert teacher.record.nfe >= 56  # the default model is almost never 0.9-confident: ~one token per pass
    assert student.record.nfe <= 40  # the student commits several per pass
