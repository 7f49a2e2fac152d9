"""The sampling calls: :func:`infill`, :func:`synth`, :func:`sample` (:func:`treediff.repair` is in :mod:`treediff.repairs`).

Each takes ``model`` (a :class:`~treediff.model.formats.DiffusionLM`, a local directory, or ``None``
for the embedded default model), a :class:`~treediff.sample.config.SamplerConfig` (or its fields as
keyword arguments), and returns the code with its :class:`~treediff.sample.record.ValidityRecord`.

>>> from treediff import infill
>>> r = infill("def f(x):\\n    return <|hole:expression|>\\n", language="python", steps=8)
>>> r.record.ok, r.holes[0].category
(True, 'expression')
>>> from treediff import repair, synth
>>> fixed = repair("def f(x):\\n    y = (x +\\n    return y\\n", language="python")
>>> fixed.record.ok, fixed.code.startswith("def f(x):")
(True, True)
>>> [s.record.ok for s in synth("Return x plus one.", signature="inc(x)", max_new_tokens=8)]
[True]
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Sequence

from treediff.errors import InputError
from treediff.progress import ProgressBar
from treediff.sample.config import SamplerConfig
from treediff.syntax.holes import Hole, HoleTemplate, find_holes
from treediff.model.formats import DiffusionLM, load_model, model_path
from treediff.sample.pipeline import FillRequest, fill_batch, fill_template
from treediff.sample.record import FillResult, given_code
from treediff.sample.spec import Spec, read_specs
from treediff.syntax.language import get_language, resolve_language

__all__ = ["infill", "synth", "iter_synth", "iter_synth_batches", "sample", "SynthResult", "get_model", "make_config",
           "synth_template"]


@functools.lru_cache(maxsize=4)
def _cached_model(path: str | None, device: str, trust_remote_code: bool, chat: str) -> DiffusionLM:
    return load_model(path, device=device, trust_remote_code=trust_remote_code, chat=chat)


def get_model(model: DiffusionLM | str | os.PathLike[str] | None = None, *, device: str = "auto",
              trust_remote_code: bool = False, chat: str = "auto", language: str | None = None) -> DiffusionLM:
    """A loaded model (cached per directory): pass a model through, load a directory, or (``None``) the
    embedded model that serves ``language`` (:func:`~treediff.model.formats.default_model_path`)."""
    if isinstance(model, DiffusionLM):
        return model
    path = str(model_path(model, language).resolve())
    return _cached_model(path, device, trust_remote_code, chat)


def make_config(config: SamplerConfig | None = None, **settings: Any) -> SamplerConfig:
    """``config`` with ``settings`` applied (unknown names are a ``ConfigError``)."""
    base = config if config is not None else SamplerConfig()
    return SamplerConfig.from_dict({**base.to_dict(), **settings}) if settings else base


def infill(
    code: str | bytes,
    language: str | None = None,
    *,
    model: DiffusionLM | str | os.PathLike[str] | None = None,
    spans: Iterable[tuple] | None = None,
    select: str | Sequence[str] | None = None,
    path: str | os.PathLike[str] | None = None,
    config: SamplerConfig | None = None,
    **settings: Any,
) -> FillResult:
    """Fill the typed holes of ``code`` (markers, byte ``spans`` or node selectors ``select``).

    Returns the whole program, its validity record, and one :class:`~treediff.sample.record.HoleFill`
    per hole (its text, span, and whether it parses as its declared category in context).
    """
    lang = resolve_language(language, path).name
    cfg = make_config(config, **settings)
    template = find_holes(code, lang, spans=spans, select=select)
    lm = get_model(model, device=cfg.device, language=lang)
    from treediff.sample.long import fill_long, fits

    need = sum(cfg.hole_tokens.get(h.category, 16) for h in template.holes)
    # holes that hold their original text (spans, selectors): the problems the file has anyway are not the fill's
    given = given_code(template.source, lang, template.holes) \
        if cfg.constraint == "full" and all(h.original is not None for h in template.holes) else None
    if not fits(lm, template.source.decode("utf-8", "replace"), lang, extra=need):
        return fill_long(lm, template, cfg, given=given)  # longer than the model: each hole with its block of lines
    return fill_template(lm, template, cfg, given=given)[0]


@dataclass(frozen=True)
class SynthResult:
    """One synthesised program: the spec's ``spec_id``, the sample index ``sample``, and the fill result."""

    spec_id: str
    sample: int
    result: FillResult
    language: str = "python"

    @property
    def code(self) -> str:
        return self.result.code

    @property
    def record(self):
        return self.result.record

    def to_json(self) -> dict[str, Any]:
        """The CLI's ``--json`` object: ``spec_id, code, ok, level, rounds, fallback, nfe`` and more; ``hollow``: a
        hole's fill holds no code (:mod:`treediff.syntax.hollow`)."""
        r = self.result.record
        return {"spec_id": self.spec_id, "sample": self.sample, "code": self.code, "ok": r.ok, "level": r.level,
                "rounds": r.rounds, "fallback": r.fallback, "nfe": r.nfe, "seconds": round(r.seconds, 4),
                "constraint": r.constraint, "num_dropped": r.num_dropped, "num_rejected": r.num_rejected,
                "num_forced": r.num_forced, "hollow": self.result.hollow}


def iter_synth(
    spec: str | os.PathLike[str] | Spec | Sequence[Spec],
    *,
    model: DiffusionLM | str | os.PathLike[str] | None = None,
    n: int = 1,
    signature: str | None = None,
    language: str = "python",
    config: SamplerConfig | None = None,
    progress: bool = False,
    **settings: Any,
) -> Iterator[SynthResult]:
    """:func:`synth` one spec at a time: yields each spec's programs as soon as they are done, so a caller
    can write them out (and keep them when stopped).  Every spec is checked before any work.

    >>> results = iter_synth("Return x plus one.", signature="inc(x)", max_new_tokens=8)
    >>> next(results).spec_id
    'spec-0'
    """
    if not isinstance(n, int) or n < 1:
        raise InputError(f"n must be an int >= 1, got {n!r}")
    cfg = make_config(config, **settings)
    if isinstance(spec, Spec):
        specs = [spec]
    elif isinstance(spec, (list, tuple)):
        specs = list(spec)
    else:
        specs = list(read_specs(spec, signature=signature, language=language))
    templates = [(s, synth_template(s, cfg)) for s in specs]  # all specs are checked before any work
    lms = {s.language: get_model(model, device=cfg.device, language=s.language) for s in specs}
    return _iter_synth(templates, lms, n, cfg, progress)


def _iter_synth(templates, lms: dict[str, DiffusionLM], n: int, cfg: SamplerConfig,
                progress: bool) -> Iterator[SynthResult]:
    """Runs of consecutive specs served by one model are decoded together; results keep the spec order."""
    bar = ProgressBar(len(templates), "synth", progress)
    try:
        lo = 0
        while lo < len(templates):
            lm = lms[templates[lo][0].language]
            hi = lo + 1
            while hi < len(templates) and lms[templates[hi][0].language] is lm:
                hi += 1
            for results in iter_synth_batches(lm, templates[lo:hi], cfg, n=n):
                yield from results
                bar.advance()
            lo = hi
    finally:
        bar.close()


def synth(
    spec: str | os.PathLike[str] | Spec | Sequence[Spec],
    *,
    model: DiffusionLM | str | os.PathLike[str] | None = None,
    n: int = 1,
    signature: str | None = None,
    language: str = "python",
    config: SamplerConfig | None = None,
    progress: bool = False,
    **settings: Any,
) -> list[SynthResult]:
    """Synthesise ``n`` programs per spec (text, stub, code with holes, or a ``.jsonl`` path; see
    :mod:`treediff.sample.spec`).  :func:`iter_synth` yields them as they are done."""
    return list(iter_synth(spec, model=model, n=n, signature=signature, language=language, config=config,
                           progress=progress, **settings))


def iter_synth_batches(lm: DiffusionLM, templates: Sequence[tuple[Spec, tuple[HoleTemplate, list[int] | None]]],
                       cfg: SamplerConfig, *, n: int = 1) -> Iterator[list[SynthResult]]:
    """The ``n`` results of each ``(spec, synth_template(spec))`` as soon as they are done, in order;
    ``cfg.batch_size`` specs are decoded together (each exactly as alone, see :func:`fill_batch`)."""
    for lo in range(0, len(templates), cfg.batch_size):
        chunk = templates[lo: lo + cfg.batch_size]
        requests = [FillRequest(template, n, lengths) for _, (template, lengths) in chunk]
        for (s, _), results in zip(chunk, fill_batch(lm, requests, cfg)):
            yield [SynthResult(s.id, i, result, s.language) for i, result in enumerate(results)]


def synth_template(spec: Spec, cfg: SamplerConfig) -> tuple[HoleTemplate, list[int] | None]:
    """The template :func:`synth` fills for ``spec`` and its holes' lengths (``None``: the categories' defaults)."""
    template = find_holes(spec.template_code(), spec.language)
    if spec.kind == "holes":
        return template, None
    return template, [cfg.max_new_tokens] * len(template.holes)


def sample(
    prompt: str = "",
    language: str = "python",
    *,
    model: DiffusionLM | str | os.PathLike[str] | None = None,
    n: int = 1,
    length: int | None = None,
    config: SamplerConfig | None = None,
    **settings: Any,
) -> list[FillResult]:
    """Raw generation for research: ``length`` tokens after ``prompt`` (possibly empty), ``n`` samples.  The
    continuation may begin with whitespace (a newline after ``def f(x):``) unless ``nonempty_holes=True`` is passed
    as a keyword (the ``config``'s own value is not used here)."""
    lang = get_language(language).name
    settings.setdefault("nonempty_holes", False)
    cfg = make_config(config, **settings)
    data = prompt.encode("utf-8")
    indent = data[data.rfind(b"\n") + 1:].decode("utf-8", "replace")
    indent = indent[: len(indent) - len(indent.lstrip(" \t"))]
    template = HoleTemplate(source=data, language=get_language(lang),
                            holes=(Hole(0, len(data), len(data), "statement", None, indent),))
    lm = get_model(model, device=cfg.device, language=lang)
    return fill_template(lm, template, cfg, num_samples=n, lengths=[length or cfg.max_new_tokens])
