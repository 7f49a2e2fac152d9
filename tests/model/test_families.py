"""External model families (LLaDA, Dream/DiffuCoder, SDAR/Stable-DiffCoder) on tiny offline fixture directories."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

from treediff.errors import CheckpointError
from treediff.model.families import FAMILIES, family_for
from treediff.model.formats import ExternalLM, load_model

sys.path.insert(0, str(Path(__file__).parent))
from family_dirs import LAYOUTS, make_family_dir  # noqa: E402

FAMILY_NAMES = ["llada", "dream", "sdar"]


@pytest.fixture(scope="module")
def family_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("families")
    for name in FAMILY_NAMES:
        make_family_dir(root, name)
    make_family_dir(root, "dream", instruct=True)
    return root


def _load(root, name, **kw) -> ExternalLM:
    return load_model(root / f"tiny-{name}", device="cpu", trust_remote_code=True, **kw)


@pytest.mark.parametrize("name", FAMILY_NAMES)
def test_family_conventions_are_applied(family_root, name):
    lm = _load(family_root, name)
    assert lm.family.name == name
    assert lm.mask_id == LAYOUTS[name][3]  # 126336 / 151666 / 151669, found by the family's mask token
    assert lm.mask_id in lm.banned_ids and lm.end_id not in lm.banned_ids
    assert lm.shift_logits is (name == "dream")
    assert lm.sampler_defaults["block_size"] == {"llada": 32, "dream": 0, "sdar": 4}[name]
    assert lm.max_length == min(512, FAMILIES[name].context)
    assert lm.supports_cache


def test_family_is_chosen_from_model_type_then_auto_map():
    assert family_for({"model_type": "LLaDA"}).name == "llada"
    assert family_for({"auto_map": {"AutoModel": "modeling_sdar.SDARForCausalLM"}}).name == "sdar"
    assert family_for({"model_type": "Dream"}).attention == "bidirectional"
    assert family_for({}).name == "generic"


def test_logit_shift_moves_predictions_one_position(family_root):
    lm = _load(family_root, "dream")
    ids = torch.tensor([[5, 6, 7, lm.mask_id, lm.mask_id, 9]])
    raw = lm.model(input_ids=ids).logits
    shifted, _ = lm.logits(ids)
    assert torch.allclose(shifted[:, 1:], raw[:, :-1]) and torch.allclose(shifted[:, 0], raw[:, 0])


def test_attention_pattern_follows_the_family(family_root):
    ids = torch.tensor([[5, 6, 7, 8, 9, 10, 11, 12]])
    later = ids.clone()
    later[0, 6] = 40  # a token in the second block of 4
    for name, sees_later in (("llada", True), ("sdar", False)):
        lm = _load(family_root, name)
        a, _ = lm.logits(ids)
        b, _ = lm.logits(later)
        assert (not torch.allclose(a[:, :4], b[:, :4])) is sees_later, name


@pytest.mark.parametrize("name", FAMILY_NAMES)
def test_kv_cache_parity(family_root, name):
    """Cached tail logits equal the full forward's (at the refresh, same ids), within float tolerance."""
    lm = _load(family_root, name)
    ids = torch.randint(0, 200, (2, 20), generator=torch.Generator().manual_seed(1))
    ids[:, 12:] = lm.mask_id
    start = lm.cache_boundary(10)
    full, cache = lm.logits(ids, prefix_length=start)
    tail, _ = lm.logits(ids[:, start:], cache=cache)
    assert cache.length == start == (8 if name == "sdar" else 10)
    assert torch.allclose(tail, full[:, start:], atol=1e-5)


def test_block_cache_is_exact_after_the_tail_changes(family_root):
    """Block-causal: finished blocks never see later ones, so their cache stays exact as the tail is decoded."""
    lm = _load(family_root, "sdar")
    ids = torch.full((1, 16), lm.mask_id)
    ids[0, :8] = torch.arange(60, 68)
    _, cache = lm.logits(ids, prefix_length=8)
    ids[0, 8:11] = torch.tensor([70, 71, 72])
    full, _ = lm.logits(ids)
    tail, _ = lm.logits(ids[:, 8:], cache=cache)
    assert torch.allclose(tail, full[:, 8:], atol=1e-5)


@pytest.mark.parametrize("name", FAMILY_NAMES)
def test_synth_runs_batched_and_cached_like_alone(family_root, name):
    from treediff import synth
    from treediff.sample.spec import Spec

    lm = _load(family_root, name)
    specs = [Spec.from_text("def f(x):\n    \"\"\"Return x.\"\"\"\n", id="a"),
             Spec.from_text("Add a and b.", signature="add(a, b)", id="b")]
    settings = dict(model=lm, max_new_tokens=8, constraint="none", device="cpu", **lm.sampler_defaults)
    alone = synth(specs, batch_size=1, **settings)
    batched = synth(specs, batch_size=2, **settings)  # padded rows with the family's attention mask
    assert [r.code for r in batched] == [r.code for r in alone]
    assert all(r.code.startswith(s.template_code().split("<|hole")[0][:10]) for r, s in zip(alone, specs))
    if name == "sdar":  # the block cache is exact: same programs with it
        cached = synth(specs, batch_size=2, use_cache="on", **settings)
        assert [r.code for r in cached] == [r.code for r in alone]


def test_chat_template_for_instruct_checkpoints(family_root):
    instruct = _load(family_root, "dream-Instruct")
    assert instruct.chat
    prefix = instruct.tokenizer.decode(instruct.prefix_ids("python"))
    assert prefix.startswith("<|user|>") and prefix.endswith("<|assistant|>")
    assert not _load(family_root, "dream-Instruct", chat="off").chat
    assert not _load(family_root, "dream").chat
    with pytest.raises(CheckpointError, match="no chat template"):
        _load(family_root, "dream", chat="on")


def test_remote_code_needs_consent(family_root):
    with pytest.raises(CheckpointError, match="--trust-remote-code"):
        load_model(family_root / "tiny-llada", device="cpu")


@pytest.mark.parametrize("case", ["missing", "no_config", "bad_json", "no_weights"])
def test_bad_directory_is_one_line(tmp_path, family_root, case):
    from typer.testing import CliRunner

    from treediff_cli.app import app

    path = tmp_path / "m"
    if case != "missing":
        path.mkdir()
    if case == "bad_json":
        (path / "config.json").write_text("{not json")
    if case == "no_weights":
        (path / "config.json").write_text(json.dumps({"model_type": "llada"}))
    result = CliRunner().invoke(app, ["synth", "Add a and b.", "--signature", "add(a, b)", "--model", str(path),
                                      "--trust-remote-code"])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.output, result.output


def test_cli_options_take_the_family_defaults_unless_given(family_root):
    from treediff.cli_support import RunOptions
    from treediff.sample.config import SamplerConfig

    lm = _load(family_root, "sdar")
    assert RunOptions().for_model(lm).sampler.block_size == 4
    given = RunOptions(sampler=SamplerConfig(block_size=16), given=frozenset({"block_size"}))
    assert given.for_model(lm).sampler.block_size == 16
