"""Masked-diffusion models behind one interface: our own checkpoints and external local ones.

:func:`load_model` takes a local directory and returns a :class:`DiffusionLM`:

* **treediff bundle**: ``config.json`` with ``model_type = "treediff"`` plus ``tokenizer.json``
  (what ``treediff export`` writes; the embedded default model is one);
* **treediff training checkpoint**: a ``step_*/`` directory or a run's checkpoint directory
  (the newest valid one is taken); the tokenizer is the one the run trained with;
* **external** masked-diffusion LM (LLaDA, Dream, DiffuCoder, Stable-DiffCoder style), loaded with
  ``transformers`` from the directory only (``local_files_only=True``); its custom modelling code
  runs only when ``trust_remote_code=True`` is passed explicitly.

Weights are never fetched from a hub.  Every problem (missing directory, incomplete checkpoint,
no mask token, tokenizer/model vocabulary mismatch) is one :class:`~treediff.errors.CheckpointError`
raised before any sampling work starts.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import Tensor

from treediff.errors import CheckpointError, InputError
from treediff.files import read_json
from treediff.model.families import FAMILIES, Family, attention_bias, family_for
from treediff.model.run_dirs import CONFIG_FILE, MODEL_DIR, latest_checkpoint, save_pretrained_quietly
from treediff.model.structure import structure_source

__all__ = ["DiffusionLM", "TreediffLM", "ExternalLM", "ExternalCache", "load_model", "export_bundle", "EXPORT_DTYPES", "resolve_device", "default_model_path",
           "embedded_model_path", "model_path", "EMBEDDED_MODELS", "DEFAULT_FOR_LANGUAGE"]


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``auto`` → CUDA when available, else CPU; ``cuda`` without a GPU is an :class:`InputError`."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"--device {device}: no CUDA device is available here (use --device cpu or auto)")
    return torch.device(device)


#: Models shipped inside the package, by the name ``--model`` takes: ``default`` (trained on Python),
#: ``parallel`` (its certainty-forcing distilled student, for ``--threshold`` decoding) and ``multi`` (trained
#: on all eight language families, docs/sampling.md "The embedded models").
EMBEDDED_MODELS = {"default": "default_model", "parallel": "parallel_model", "multi": "multi_model"}

#: The embedded model that serves each language when no ``--model`` is given (languages not listed, or whose
#: model is not installed: ``default``).  Chosen by measurement (docs/benchmarks.md, "Held-out infilling in
#: every language"; Python since session 5, docs/sampling.md "The embedded models"): ``multi`` serves all eight
#: language families.
DEFAULT_FOR_LANGUAGE = {lang: "multi" for lang in ("python", "javascript", "typescript", "tsx", "java", "c", "cpp",
                                                   "go", "rust")}


def embedded_model_path(name: str = "default") -> Path | None:
    """The directory of an embedded model (:data:`EMBEDDED_MODELS`), if it is installed."""
    path = Path(__file__).resolve().parent.parent / "assets" / EMBEDDED_MODELS[name]
    return path if (path / "config.json").is_file() else None


def default_model_path(language: str | None = None) -> Path | None:
    """The embedded model used when none is given: for ``language`` the one :data:`DEFAULT_FOR_LANGUAGE`
    names (when installed), else ``default``.

    >>> default_model_path().name, default_model_path("python").name
    ('default_model', 'multi_model')
    """
    name = DEFAULT_FOR_LANGUAGE.get(language or "", "default")
    return embedded_model_path(name) or embedded_model_path("default")


def model_path(path: str | os.PathLike[str] | None, language: str | None = None) -> Path:
    """The directory ``--model`` names: an existing path, else an embedded model's name; ``None``: the
    embedded model for ``language`` (:func:`default_model_path`).

    >>> model_path("parallel").name
    'parallel_model'
    """
    if path is None:
        default = default_model_path(language)
        if default is None:
            raise CheckpointError("no model given and no embedded default model is installed: pass --model PATH")
        return default
    root = Path(path)
    if not root.exists() and str(path) in EMBEDDED_MODELS:
        embedded = embedded_model_path(str(path))
        if embedded is None:
            raise CheckpointError(f"the embedded model {str(path)!r} is not installed with this package")
        return embedded
    if not root.exists():
        raise CheckpointError(f"model directory {str(root)!r} does not exist "
                              f"(embedded models: {', '.join(EMBEDDED_MODELS)})")
    return root


class DiffusionLM:
    """A masked-diffusion LM and its tokenizer.

    Attributes: ``name``, ``device``, ``mask_id``, ``end_id`` (the token that means "nothing here":
    ``<|endofhole|>`` for treediff models, EOS otherwise), ``banned_ids`` (never proposed: mask,
    padding, BOS, language tags), ``vocab_size``, ``max_length`` (longest sequence the model takes),
    ``supports_cache``, ``supports_window`` (the cache can also hold the positions after a window: Fast-dLLM's
    dual cache, ``logits(..., suffix_start=)``), ``prior`` and ``prior_weight`` (:mod:`treediff.sample.prior`),
    ``merges_space_runs``.
    """

    name: str = "model"
    device: torch.device
    mask_id: int
    end_id: int
    banned_ids: list[int]
    vocab_size: int
    max_length: int
    supports_cache: bool = False
    supports_window: bool = False
    prior = None  # a corpus n-gram prior (:class:`~treediff.model.ngram.NgramPrior`), when the bundle has one
    prior_weight: float = 0.0
    merges_space_runs = False  # the tokenizer writes a run of spaces as one token (:mod:`treediff.sample.spacing`)

    def prefix_ids(self, language: str) -> list[int]:
        """Ids before the code (language tag, BOS, ...)."""
        raise NotImplementedError

    def suffix_ids(self) -> list[int]:
        """Ids after the code (EOS)."""
        raise NotImplementedError

    def encode(self, text: str, language: str) -> list[int]:
        raise NotImplementedError

    def text_of(self, ids: Sequence[int] | np.ndarray) -> str:
        """The code text of ``ids``: special tokens (EOS, end-of-hole, ...) contribute nothing."""
        raise NotImplementedError

    def token_text(self, token_id: int) -> str:
        return self.text_of([token_id])

    def whitespace_ids(self) -> list[int]:
        """Ids of the tokens whose text is whitespace only (computed once)."""
        cached = self.__dict__.get("_whitespace_ids")
        if cached is None:
            cached = [i for i in range(self.vocab_size) if (t := self.token_text(i)) and not t.strip()]
            self.__dict__["_whitespace_ids"] = cached
        return cached

    @property
    def sampler_defaults(self) -> dict[str, Any]:
        """:class:`~treediff.sample.config.SamplerConfig` fields this model decodes with unless told otherwise."""
        return {}

    def cache_boundary(self, start: int) -> int:
        """The prefix length to cache when the first undecided position is ``start``."""
        return start

    @torch.no_grad()
    def logits(self, ids: Tensor, *, prefix_length: int | None = None, cache: Any = None,
               attention_mask: Tensor | None = None, suffix_start: int | None = None,
               window_rows: Tensor | None = None) -> tuple[Tensor, Any]:
        """``[B, L, V]`` logits for ``ids`` (``[B, L - cache.length]`` tail when ``cache`` is given; a window cache's
        window ``[cache.start, cache.stop)``), and a new cache of the first ``prefix_length`` positions when asked
        (``None`` otherwise); with ``suffix_start`` too (where ``supports_window``) a window cache of every
        position for the window ``[prefix_length, suffix_start)``.  ``window_rows`` (``[B, window]`` bool): which
        window positions of each row are recomputed (its own window; the cached keys elsewhere).
        ``attention_mask`` (same shape as ``ids``, 1 = real token) marks the right padding of a batch."""
        raise NotImplementedError


class TreediffLM(DiffusionLM):
    """Our own denoiser with its :class:`~treediff.tokens.tokenizer.SyntaxTokenizer`."""

    merges_space_runs = True

    def __init__(self, model, tokenizer, device: torch.device, name: str = "treediff") -> None:
        self.model = model.to(device).eval()
        self.tokenizer = tokenizer
        self.device = device
        self.name = name
        cfg = model.config
        if cfg.vocab_size != tokenizer.vocab_size:
            raise CheckpointError(f"{name}: model vocabulary {cfg.vocab_size} != tokenizer vocabulary "
                                  f"{tokenizer.vocab_size}: wrong tokenizer for this model")
        if cfg.mask_token_id != tokenizer.mask_id:
            raise CheckpointError(f"{name}: model mask id {cfg.mask_token_id} != tokenizer mask id {tokenizer.mask_id}")
        self.mask_id = tokenizer.mask_id
        self.end_id = tokenizer.end_of_hole_id
        specials = set(tokenizer.special_ids)
        self.banned_ids = sorted(specials - {tokenizer.end_of_hole_id, tokenizer.eos_id})
        self.vocab_size = tokenizer.vocab_size
        self.max_length = int(cfg.max_position)
        special = tokenizer.is_special(np.arange(tokenizer.vocab_size))
        self._token_bytes = [b"" if special[i] else tokenizer.decode_bytes([i]) for i in range(tokenizer.vocab_size)]
        params = _forward_params(self.model) if hasattr(self.model, "forward") else set()
        self.supports_cache = "prefix_cache" in params
        self.supports_window = self.supports_cache and "suffix_start" in params
        # A structure encoder over the visible program (``ast``/``ast+cfg``) needs the whole sequence.
        source = structure_source(cfg, tokenizer)
        self.visible_structure = source if callable(source) else None
        if self.visible_structure is not None:
            self.supports_cache = self.supports_window = False

    def prefix_ids(self, language: str) -> list[int]:
        return [self.tokenizer.lang_id(language), self.tokenizer.bos_id]

    def suffix_ids(self) -> list[int]:
        return [self.tokenizer.eos_id]

    def encode(self, text: str, language: str) -> list[int]:
        if not text:
            return []
        return self.tokenizer.encode_source(text, language).ids.tolist()

    def text_of(self, ids: Sequence[int] | np.ndarray) -> str:
        tb = self._token_bytes
        return b"".join([tb[int(i)] for i in ids]).decode("utf-8", "replace")

    @torch.no_grad()
    def logits(self, ids: Tensor, *, prefix_length: int | None = None, cache: Any = None,
               attention_mask: Tensor | None = None, suffix_start: int | None = None,
               window_rows: Tensor | None = None) -> tuple[Tensor, Any]:
        if self.visible_structure is not None:
            structure = self.visible_structure(ids, ids == self.mask_id)
            return self.model(ids, structure=structure, attention_mask=attention_mask).logits, None
        if cache is not None:
            out = self.model(ids, prefix_cache=cache, attention_mask=attention_mask, window_rows=window_rows)
            return out.logits, None
        if prefix_length is not None and self.supports_cache:
            out = self.model(ids, prefix_length=prefix_length, return_cache=True, attention_mask=attention_mask,
                             suffix_start=suffix_start)
            return out.logits, out.cache
        return self.model(ids, attention_mask=attention_mask).logits, None


def _forward_params(model: torch.nn.Module) -> set[str]:
    import inspect

    try:
        return set(inspect.signature(model.forward).parameters)
    except (TypeError, ValueError):  # pragma: no cover
        return set()


@dataclass(frozen=True)
class ExternalCache:
    """An external model's cache of positions ``[0, length)``: per-layer ``(key, value)`` tensors, and the raw
    logits of position ``length - 1`` (a shifted family predicts the first tail token from there)."""

    kv: tuple
    length: int
    last_logits: Tensor


class ExternalLM(DiffusionLM):
    """A ``transformers`` masked-diffusion LM from a local directory, decoded by its family's conventions
    (:class:`~treediff.model.families.Family`: mask token, logit shift, attention pattern, cache, chat).

    ``shift_logits``: predict token *i* from position *i − 1* (``None``: the family's rule); ``chat``: wrap
    the code in the tokenizer's chat template as the assistant's answer (instruct checkpoints).
    """

    def __init__(self, model, tokenizer, device: torch.device, *, name: str, mask_id: int,
                 shift_logits: bool | None = None, family: Family | None = None, chat: bool = False) -> None:
        self.model = model.to(device).eval()
        self.tokenizer = tokenizer
        self.device = device
        self.name = name
        self.family = family if family is not None else FAMILIES["generic"]
        self.mask_id = int(mask_id)
        self.shift_logits = self.family.logit_shift if shift_logits is None else shift_logits
        self.chat = chat
        self.vocab_size = int(getattr(model.config, "vocab_size", len(tokenizer)))
        eos = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else tokenizer.sep_token_id
        if eos is None:
            eos = tokenizer.pad_token_id
        if eos is None:
            raise CheckpointError(f"{name}: the tokenizer has no EOS, SEP or PAD token to end a program with")
        self.end_id = int(eos)
        specials = {int(i) for i in tokenizer.all_special_ids}
        self.banned_ids = sorted((specials | {self.mask_id}) - {self.end_id})
        self.banned_ids += list(range(len(tokenizer), self.vocab_size))  # model rows with no token
        self.banned_ids = sorted(set(self.banned_ids) - {self.end_id})
        length = int(getattr(model.config, "max_position_embeddings", None)
                     or getattr(model.config, "max_sequence_length", None) or 4096)
        self.max_length = min(length, self.family.context)
        table = max(self.vocab_size, len(tokenizer), self.mask_id + 1)
        self._special = np.zeros(table, dtype=bool)
        self._special[sorted(specials | {self.mask_id})] = True
        self.supports_cache = self.family.cache != "none" and "past_key_values" in _forward_params(self.model)

    @property
    def sampler_defaults(self) -> dict[str, Any]:
        """Decoding defaults of the model's family (block length, steps)."""
        return self.family.sampler_defaults

    def prefix_ids(self, language: str) -> list[int]:
        if self.chat:
            out = self.tokenizer.apply_chat_template(
                [{"role": "user", "content": f"Complete this {language} code."}], add_generation_prompt=True,
                tokenize=True)
            return [int(i) for i in (out["input_ids"] if hasattr(out, "keys") else out)]
        bos = self.tokenizer.bos_token_id if self.tokenizer.bos_token_id is not None else self.tokenizer.cls_token_id
        return [] if bos is None else [int(bos)]

    def suffix_ids(self) -> list[int]:
        return [self.end_id]

    def encode(self, text: str, language: str) -> list[int]:
        return list(self.tokenizer.encode(text, add_special_tokens=False)) if text else []

    def text_of(self, ids: Sequence[int] | np.ndarray) -> str:
        arr = np.asarray(ids, dtype=np.int64)
        arr = arr[(arr < len(self._special)) & ~self._special[np.clip(arr, 0, len(self._special) - 1)]]
        return self.tokenizer.decode(arr.tolist(), skip_special_tokens=True, clean_up_tokenization_spaces=False)

    def cache_boundary(self, start: int) -> int:
        """Block-causal families cache whole blocks only (then the cache is exact)."""
        if self.family.attention == "block_causal" and self.family.block_length:
            return start - start % self.family.block_length
        return start

    @torch.no_grad()
    def logits(self, ids: Tensor, *, prefix_length: int | None = None, cache: Any = None,
               attention_mask: Tensor | None = None, suffix_start: int | None = None,
               window_rows: Tensor | None = None) -> tuple[Tensor, Any]:
        if suffix_start is not None or window_rows is not None:
            raise InputError(f"{self.name}: no window cache for this model family (supports_window is False)")
        offset = 0 if cache is None else cache.length
        length = ids.shape[1]
        mask = attention_bias(self.family, attention_mask, length, offset=offset, total=offset + length)
        kwargs: dict[str, Any] = {"input_ids": ids}
        if mask is not None:
            kwargs["attention_mask"] = mask
        if cache is not None:
            kwargs["past_key_values"] = cache.kv
        keep = prefix_length if cache is None and prefix_length and self.supports_cache else None
        if keep:
            kwargs["use_cache"] = True
        out = self.model(**kwargs)
        logits = out.logits if hasattr(out, "logits") else out[0]
        new_cache = None
        if keep:
            past = out["past_key_values"]
            past = past.to_legacy_cache() if hasattr(past, "to_legacy_cache") else past
            new_cache = ExternalCache(tuple((k[:, :, :keep], v[:, :, :keep]) for k, v in past), keep,
                                      logits[:, keep - 1: keep])
        if self.shift_logits:
            first = logits[:, :1] if cache is None else cache.last_logits
            logits = torch.cat([first, logits[:, :-1]], dim=1)
        return logits, new_cache


# ----------------------------------------------------------------------------- loading
def _treediff_dirs(path: Path) -> tuple[Path, Path] | None:
    """``(weights dir, tokenizer dir)`` of a treediff bundle or training checkpoint, or None."""
    cfg = path / "config.json"
    if cfg.is_file() and read_json(cfg, error=CheckpointError).get("model_type") == "treediff":
        if not (path / "tokenizer.json").is_file():
            raise CheckpointError(f"{path}: a treediff model needs its tokenizer.json beside config.json "
                                  "(bundle it with `treediff export`)")
        return path, path
    step = path
    if not (path / MODEL_DIR).is_dir():
        for ckpt_dir in (path, path / "checkpoints"):
            if ckpt_dir.is_dir() and any(ckpt_dir.glob("step_*")):
                found = latest_checkpoint(ckpt_dir)
                if found is None:
                    raise CheckpointError(f"{ckpt_dir}: no valid checkpoint (all are incomplete or corrupt)")
                step = found
                break
        else:
            return None
    train_cfg = step / CONFIG_FILE
    if not train_cfg.is_file():
        raise CheckpointError(f"{step}: training checkpoint without {CONFIG_FILE}")
    tok = (read_json(train_cfg, error=CheckpointError).get("data") or {}).get("tokenizer")
    if not tok:
        raise CheckpointError(f"{train_cfg}: names no data.tokenizer")
    tok_path = Path(tok)
    if not tok_path.is_absolute() and not tok_path.exists():
        tok_path = step.parent.parent.parent / tok  # runs/<name>/checkpoints/step_N → repo root
    if not (tok_path / "tokenizer.json").is_file() and not tok_path.is_file():
        raise CheckpointError(f"{step}: its tokenizer {tok!r} is not found")
    return step / MODEL_DIR, tok_path


def load_model(
    path: str | os.PathLike[str] | None,
    *,
    device: str | torch.device = "auto",
    trust_remote_code: bool = False,
    shift_logits: bool | None = None,
    dtype: torch.dtype | None = None,
    chat: str = "auto",
) -> DiffusionLM:
    """Load a model directory (see the module docstring); ``None`` takes the embedded default model, and an
    embedded model's name (:data:`EMBEDDED_MODELS`) that is no local path takes that one.  External models:
    ``chat`` (``auto|on|off``) wraps the code in the chat template (``auto``: instruct checkpoints of a
    family whose ``chat`` rule is ``auto``); ``dtype`` ``None`` is bf16 on a GPU."""
    if chat not in ("auto", "on", "off"):
        raise InputError(f"--chat must be auto, on or off; got {chat!r}")
    root = model_path(path)
    if not root.is_dir():
        raise CheckpointError(f"--model must be a directory, got the file {str(root)!r}")
    dev = resolve_device(device)
    dirs = _treediff_dirs(root)
    if dirs is not None:
        from treediff.model.checkpoint import load_denoiser
        from treediff.tokens.tokenizer import SyntaxTokenizer

        weights, tok_dir = dirs
        tokenizer = SyntaxTokenizer.from_pretrained(tok_dir)
        if dtype is None and dev.type == "cpu":
            dtype = torch.float32  # half-precision bundles (export --dtype) run in float32 on the CPU
        model = load_denoiser(weights, device=dev, dtype=dtype)
        lm = TreediffLM(model, tokenizer, dev, name=root.name)
        _attach_prior(lm, root)
        return lm
    if dtype is None and dev.type == "cuda":
        dtype = torch.bfloat16
    return _load_external(root, dev, trust_remote_code=trust_remote_code, shift_logits=shift_logits, dtype=dtype,
                          chat=chat)


def _attach_prior(lm: TreediffLM, root: Path) -> None:
    """The bundle's corpus n-gram prior (:data:`~treediff.model.ngram.PRIOR_NAME`) and its default weight
    (``treediff_model.json``'s ``prior_weight``, 1.0 when unset), when the bundle has one."""
    from treediff.model.ngram import PRIOR_NAME, NgramPrior

    if not (root / PRIOR_NAME).is_file():
        return
    prior = NgramPrior.load(root / PRIOR_NAME)
    if prior.vocab_size != lm.vocab_size:
        raise CheckpointError(f"{root / PRIOR_NAME}: n-gram prior vocabulary {prior.vocab_size} != "
                              f"model vocabulary {lm.vocab_size}")
    meta = root / "treediff_model.json"
    info = read_json(meta, error=CheckpointError) if meta.is_file() else {}
    lm.prior = prior
    lm.prior_weight = float(info.get("prior_weight", 1.0))


def _load_external(root: Path, device: torch.device, *, trust_remote_code: bool, shift_logits: bool | None,
                   dtype: torch.dtype | None, chat: str = "auto") -> ExternalLM:
    if not (root / "config.json").is_file():
        raise CheckpointError(f"{root}: not a model directory (no config.json)")
    config = read_json(root / "config.json", error=CheckpointError)
    if config.get("auto_map") and not trust_remote_code:
        raise CheckpointError(f"{root}: this model needs its own modelling code ({', '.join(config['auto_map'])}); "
                              "pass --trust-remote-code if you trust the directory")
    weights = list(root.glob("*.safetensors")) + list(root.glob("*.bin"))
    if not weights:
        raise CheckpointError(f"{root}: no weights (*.safetensors or *.bin)")
    from transformers import AutoConfig, AutoModel, AutoModelForMaskedLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    kwargs = {"local_files_only": True, "trust_remote_code": trust_remote_code}
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(root), **kwargs)
        hf_config = AutoConfig.from_pretrained(str(root), **kwargs)
        model = None
        errors = []
        for cls in (AutoModelForMaskedLM, AutoModel):
            try:
                model = cls.from_pretrained(str(root), config=hf_config, dtype=dtype, **kwargs)
                break
            except (ValueError, KeyError, OSError) as err:
                errors.append(str(err).splitlines()[0])
        if model is None:
            raise CheckpointError(f"{root}: transformers cannot load this model: {errors[-1]}")
    except CheckpointError:
        raise
    except Exception as err:  # transformers raises many types for broken directories
        raise CheckpointError(f"{root}: cannot load with transformers: {str(err).splitlines()[0]}") from None
    finally:
        hf_logging.set_verbosity(verbosity)
    family = family_for(config)
    mask_id = tokenizer.mask_token_id
    if mask_id is None:
        mask_id = getattr(hf_config, "mask_token_id", None)
    if mask_id is None and family.mask_token and family.mask_token in tokenizer.get_vocab():
        mask_id = tokenizer.convert_tokens_to_ids(family.mask_token)
    if mask_id is None and 0 <= family.mask_id < int(getattr(hf_config, "vocab_size", 0) or 0):
        mask_id = family.mask_id
    if mask_id is None:
        raise CheckpointError(f"{root}: no mask token (tokenizer.mask_token, config.mask_token_id): "
                              "not a masked-diffusion model")
    vocab = int(getattr(hf_config, "vocab_size", 0) or 0)
    if vocab and (len(tokenizer) > vocab or mask_id >= vocab):
        raise CheckpointError(f"{root}: tokenizer has {len(tokenizer)} tokens (mask id {mask_id}) but the model's "
                              f"vocabulary is {vocab}: incompatible tokenizer")
    if not hasattr(model, "forward"):
        warnings.warn(f"{root}: model has no forward()", stacklevel=2)
    has_template = bool(getattr(tokenizer, "chat_template", None))
    if chat == "on" and not has_template:
        raise CheckpointError(f"{root}: --chat on, but the tokenizer has no chat template")
    use_chat = chat == "on" or (chat == "auto" and family.chat == "auto" and has_template
                                and "instruct" in root.name.lower())
    return ExternalLM(model, tokenizer, device, name=root.name, mask_id=int(mask_id), shift_logits=shift_logits,
                      family=family, chat=use_chat)


#: Weight types :func:`export_bundle` stores.
EXPORT_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def export_bundle(source: str | os.PathLike[str], out: str | os.PathLike[str], *, note: str | None = None,
                  dtype: str = "float32", max_shard_mb: int = 15, prior: str | os.PathLike[str] | None = None,
                  prior_weight: float = 1.0) -> Path:
    """Write a self-contained treediff model directory (``config.json``, weights, ``tokenizer.json``)
    from a training run or checkpoint; :func:`load_model` takes it directly.  ``dtype`` is the stored
    weight type (a half type halves the bundle; the CPU loads it back as float32); weight files larger
    than ``max_shard_mb`` MB (10^6 bytes) are split into shards with an index; ``prior``: a corpus n-gram
    prior file (``treediff data ngram``) copied into the bundle, used with ``prior_weight`` by default."""
    if dtype not in EXPORT_DTYPES:
        raise InputError(f"--dtype must be one of {', '.join(EXPORT_DTYPES)}; got {dtype!r}")
    if not isinstance(max_shard_mb, int) or max_shard_mb < 1:
        raise InputError(f"--max-shard-mb must be an int >= 1, got {max_shard_mb!r}")
    src = Path(source)
    dirs = _treediff_dirs(src) if src.is_dir() else None
    if dirs is None:
        raise CheckpointError(f"{source}: not a treediff checkpoint or model directory")
    from treediff.model.checkpoint import load_denoiser
    from treediff.tokens.tokenizer import SyntaxTokenizer

    weights, tok_dir = dirs
    model = load_denoiser(weights, dtype=EXPORT_DTYPES[dtype])
    tokenizer = SyntaxTokenizer.from_pretrained(tok_dir)
    dest = Path(out)
    dest.mkdir(parents=True, exist_ok=True)
    save_pretrained_quietly(model, dest, max_shard_size=f"{max_shard_mb}MB")
    for weights_file in dest.glob("model*.safetensors*"):
        weights_file.chmod(0o644)  # safetensors writes 0600; a bundle is shipped and shared
    tokenizer.save(dest)
    meta = {"source": str(weights), "languages": tokenizer.languages, "note": note or ""}
    if prior is not None:
        from treediff.model.ngram import PRIOR_NAME, NgramPrior

        table = NgramPrior.load(prior)
        if table.vocab_size != tokenizer.vocab_size:
            raise CheckpointError(f"{prior}: n-gram prior vocabulary {table.vocab_size} != tokenizer vocabulary "
                                  f"{tokenizer.vocab_size}: counted with another tokenizer")
        shutil.copyfile(prior, dest / PRIOR_NAME)
        (dest / PRIOR_NAME).chmod(0o644)
        meta["prior_weight"] = float(prior_weight)
    (dest / "treediff_model.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return dest
