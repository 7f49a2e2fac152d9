"""TEST FIXTURES: tiny random-weight checkpoint directories in the layout of each external family.

Written here from the families' public configuration facts (``model_type``, ``auto_map``, mask token
and id, Qwen2/LLaDA-style special tokens), never downloaded.  The weights are random and the modelling
code is the stand-in in ``family_fixture/modeling_fixture.py`` (labelled there as a fixture).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch

STANDIN = Path(__file__).with_name("family_fixture") / "modeling_fixture.py"

#: family -> (config model_type, auto_map class, mask token, mask id, vocab size, eos token, bos token)
LAYOUTS = {
    "llada": ("llada", "LLaDAModelLM", "<|mdm_mask|>", 126336, 126464, "<|eot_id|>", "<|startoftext|>"),
    "dream": ("Dream", "DreamModel", "<|mask|>", 151666, 151667, "<|endoftext|>", None),
    "sdar": ("sdar", "SDARForCausalLM", "<|MASK|>", 151669, 151670, "<|endoftext|>", None),
}
CHAT_TEMPLATE = ("{% for m in messages %}<|user|>{{ m['content'] }}<|end|>{% endfor %}"
                 "{% if add_generation_prompt %}<|assistant|>{% endif %}")


def _tokenizer(mask: str, mask_id: int, eos: str, bos: str | None, chat: bool):
    """A byte-level tokenizer (one token per byte, no merges) with the family's specials at their ids."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {ch: i for i, ch in enumerate(sorted(pre_tokenizers.ByteLevel.alphabet()))}
    specials = [eos] + ([bos] if bos else []) + (["<|user|>", "<|assistant|>", "<|end|>"] if chat else [])
    for s in specials:
        vocab[s] = len(vocab)
    vocab[mask] = mask_id  # the family's id, far beyond the byte tokens
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=eos, bos_token=bos,
                                   additional_special_tokens=[mask] + specials[1 + bool(bos):])
    if chat:
        fast.chat_template = CHAT_TEMPLATE
    return fast


def make_family_dir(root: Path, family: str, *, instruct: bool = False, seed: int = 0) -> Path:
    """Write a tiny ``family``-style checkpoint directory under ``root`` and return it."""
    import importlib.util

    model_type, cls, mask, mask_id, vocab, eos, bos = LAYOUTS[family]
    path = root / (f"tiny-{family}" + ("-Instruct" if instruct else ""))
    path.mkdir(parents=True, exist_ok=True)
    shutil.copy(STANDIN, path / "modeling_fixture.py")
    spec = importlib.util.spec_from_file_location("modeling_fixture_build", STANDIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    torch.manual_seed(seed)
    config = module.FixtureConfig(vocab_size=vocab, hidden_size=8, num_hidden_layers=2, num_attention_heads=2,
                                  max_position_embeddings=512)
    model = module.FixtureModel(config).eval()
    model.save_pretrained(path)
    data = json.loads((path / "config.json").read_text())
    data.update(model_type=model_type, architectures=[cls],
                auto_map={"AutoConfig": "modeling_fixture.FixtureConfig", "AutoModel": "modeling_fixture.FixtureModel"})
    (path / "config.json").write_text(json.dumps(data, indent=2))
    _tokenizer(mask, mask_id, eos, bos, instruct).save_pretrained(path)
    return path
