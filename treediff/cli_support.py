"""The sampling commands as single library calls (what ``treediff synth|infill|repair|sample`` run).

Output: the program text (or one JSON object per sample with ``--json``) on stdout, each written as soon
as it is done; a one-line validity summary on stderr; an optional report (``.html``: every program with its
record, :mod:`treediff.sample.report`; ``.md``/``.json``: :mod:`treediff.validity.report`).
Exit code 0 when every returned program is valid, 1 otherwise, 2 for bad input (raised as errors), 130 when
stopped with Ctrl-C (after saying how many results were written).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from treediff.errors import InputError
from treediff.repairs import repair
from treediff.sample.api import get_model, infill, iter_synth, sample, synth_template
from treediff.sample.spec import read_specs
from treediff.sample.config import SamplerConfig
from treediff.sample.record import FillResult, check
from treediff.sample.report import write_sample_report
from treediff.syntax.language import resolve_language
from treediff.syntax.tree import read_source
from treediff.stream import write_each
from treediff.threads import set_num_threads

__all__ = ["RunOptions", "run_synth", "run_infill", "run_repair", "run_sample", "load_for_cli"]


@dataclass(frozen=True)
class RunOptions:
    """What every sampling command takes besides its input, declared once: the ``model`` (``None``: the
    embedded default), how to decode (``sampler``, a :class:`~treediff.sample.config.SamplerConfig`),
    ``trust_remote_code``, torch CPU ``threads`` (``None``: the free cores, :mod:`treediff.threads`), and the
    output: ``as_json`` (one JSON object per program) and ``report`` (a validity report path); ``chat``
    (``auto|on|off``: an external instruct model's chat template) and ``given`` (the sampler fields set
    explicitly: the others take the model family's defaults, :meth:`for_model`).  The CLI maps its flags to these
    fields in one table (``cli/commands_sample.py``).

    >>> RunOptions(sampler=SamplerConfig(block_size=0)).sampler.block_size
    0
    """

    model: str | None = None
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    trust_remote_code: bool = False
    threads: int | None = None
    as_json: bool = False
    report: str | os.PathLike[str] | None = None
    chat: str = "auto"
    given: frozenset[str] = frozenset()

    def for_model(self, lm) -> "RunOptions":
        """These options with the model family's decoding defaults (block length, steps) for every sampler
        field not ``given`` explicitly."""
        defaults = {k: v for k, v in lm.sampler_defaults.items() if k not in self.given}
        return self if not defaults else replace(self, sampler=self.sampler.replace(**defaults))


def load_for_cli(model: str | None, device: str, trust_remote_code: bool, threads: int | None, chat: str = "auto",
                 language: str | None = None):
    """Check the model before any work (``None``: the embedded one for ``language``); set torch threads
    (``None``: the free cores, :mod:`treediff.threads`)."""
    set_num_threads(threads)
    try:
        return get_model(model, device=device, trust_remote_code=trust_remote_code, chat=chat, language=language)
    except InputError:
        raise
    except Exception as err:  # a CheckpointError explains itself; anything else becomes one line
        from treediff.errors import CheckpointError

        if isinstance(err, CheckpointError):
            if model is None:
                raise CheckpointError(f"{err} (no default model: pass --model PATH)") from None
            raise
        raise CheckpointError(f"cannot load model {model!r}: {err}") from None


def _record_row(name: str, language: str, result: FillResult, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    # the pipeline's final check, not a second compile of the same code
    verdict = (result.verdict if result.verdict is not None else check(result.code, language)).to_dict()
    r = result.record
    if r.reason:  # not a success although the code checks (a repair that removes the user's code)
        verdict.update(ok=False, reason=r.reason, would_remove=list(r.extra.get("would_remove", ())))
    return {**verdict, "path": name, "language": language, "rounds": r.rounds, "fallback": r.fallback,
            "num_context_regions": r.num_context_regions, "nfe": r.nfe, "sampler_seconds": r.seconds,
            "constraint": r.constraint, "hollow": result.hollow, "code": result.code,
            **(extra or {})}


def _stream(results: Iterable[Any], emit: Callable[[Any], dict[str, Any]], report, title: str) -> int:
    """Write each result as it comes (``emit`` writes it and returns its record row), then the summary.

    Ctrl-C stops the run: what was written stays written, the report covers it, and the exit code is 130.
    """
    rows, interrupted = write_each(results, emit)
    if interrupted:
        sys.stderr.write(f"interrupted: {len(rows)} result(s) written\n")
        if report is not None and rows:
            sys.stderr.write(f"wrote {write_sample_report(rows, report, title=title)} (partial)\n")
        return 130
    return _finish(rows, report, title=title)


def _write_code(code: str, out=None) -> None:
    (out or sys.stdout).write(code if code.endswith("\n") else code + "\n")


def _finish(rows: list[dict[str, Any]], report: str | os.PathLike[str] | None, err=None,
            title: str = "treediff results") -> int:
    err = err or sys.stderr
    ok = sum(1 for r in rows if r["ok"])
    fb = sum(1 for r in rows if r["fallback"])
    nfe = sum(r["nfe"] for r in rows) / max(1, len(rows))
    rounds = sum(r["rounds"] for r in rows) / max(1, len(rows))
    copied = sum(1 for r in rows if r.get("num_context_regions"))
    hollow = sum(1 for r in rows if r.get("hollow") and r["ok"] and not r["fallback"])
    err.write(f"{ok}/{len(rows)} valid, {len(rows) - fb}/{len(rows)} without fallback, "
              + (f"{hollow} of them hollow (a fill with no code), " if hollow else "")
              + (f"{copied} with regions copied from the program, " if copied else "")
              + f"mean rounds {rounds:.2f}, mean NFE {nfe:.1f}\n")
    for r in rows:
        if r.get("reason"):
            err.write(f"{r['path']}: not ok: {r['reason']}\n")
            err.writelines(f"  - {line}\n" for line in r.get("would_remove", ()))
    old = [p["message"] for r in rows for p in r.get("preexisting") or ()]
    if old:
        err.write(f"note: {len(old)} problem(s) the given code already had were left alone (first: {old[0]!r}; "
                  "'preexisting' in --json)\n")
    unresolved = [p["message"] for r in rows for p in r.get("unresolved") or ()]
    if unresolved:
        err.write(f"note: {len(unresolved)} compiler error(s) refer to code this machine lacks and were left alone "
                  f"(first: {unresolved[0]!r}; 'unresolved' in --json)\n")
    if report is not None:
        path = write_sample_report(rows, report, title=title)
        err.write(f"wrote {path}\n")
    return 0 if ok == len(rows) else 1


def _load(options: RunOptions, language: str | None = None):
    """The model (``options.model``, or the embedded one for ``language``), and the options with its family's
    decoding defaults."""
    lm = load_for_cli(options.model, options.sampler.device, options.trust_remote_code, options.threads,
                      options.chat, language=language)
    return lm, options.for_model(lm)


def run_synth(spec: str, options: RunOptions = RunOptions(), *, n: int = 1, signature: str | None = None,
              language: str = "python", out=None, progress: bool = True) -> int:
    """Programs are written as they are done (``--batch-size`` specs decoded together), in spec order."""
    specs = list(read_specs(spec, signature=signature, language=language))
    for s in specs:
        synth_template(s, options.sampler)  # bad specs fail before the model loads
    models = {}
    for s in specs:  # each language's model loads (and fails) before any work; no --model: per language
        if s.language not in models:
            models[s.language] = _load(options, s.language)
    lm, options = next(iter(models.values()))
    results = iter_synth(specs, model=lm if options.model is not None else None, n=n, config=options.sampler,
                         progress=progress)
    as_json, report = options.as_json, options.report
    out = out or sys.stdout
    many = n > 1 or Path(spec).suffix.lower() in (".jsonl", ".ndjson")

    def emit(s) -> dict[str, Any]:
        row = _record_row(f"{s.spec_id}#{s.sample}", s.language, s.result, {"spec_id": s.spec_id})
        if as_json:
            out.write(json.dumps(s.to_json()) + "\n")
        else:
            if many:
                out.write(f"# --- {s.spec_id} sample {s.sample}: ok={s.record.ok} fallback={s.record.fallback}\n")
            _write_code(s.code, out)
        out.flush()
        return row

    return _stream(results, emit, report, f"treediff synth {spec if len(spec) < 60 else spec[:57] + '...'}")


def _read_code(file: str | os.PathLike[str], language: str | None, command: str) -> tuple[str, str]:
    path = Path(file)
    try:
        is_dir, is_file = path.is_dir(), path.is_file()
    except (OSError, ValueError) as exc:  # a name the system cannot hold (too long, a NUL byte)
        raise InputError(f"{str(file)[:80]}: not a file name ({getattr(exc, 'strerror', None) or exc})") from None
    if is_dir:
        raise InputError(f"{file} is a directory; treediff {command} takes one file "
                         f"(for each file: for f in {file}/*.py; do treediff {command} \"$f\"; done)")
    if not is_file:
        raise InputError(f"{file}: no such file")
    data = read_source(path)
    lang = language or resolve_language(None, path).name
    return data.decode("utf-8"), lang


def _emit_fill(result: FillResult, name: str, language: str, as_json: bool, report, title: str,
               diff: str | None = None) -> int:
    if as_json:
        extra = {} if diff is None else {"diff": diff}
        sys.stdout.write(json.dumps({"path": name, **result.to_dict(), **extra}) + "\n")
    elif diff is not None:
        sys.stdout.write(diff)
    else:
        _write_code(result.code)
    sys.stdout.flush()
    return _finish([_record_row(name, language, result)], report, title=title)


def run_infill(file: str, options: RunOptions = RunOptions(), *, language: str | None = None,
               select: Sequence[str] | None = None) -> int:
    code, lang = _read_code(file, language, "infill")
    from treediff.syntax.holes import find_holes

    find_holes(code, lang, select=list(select) if select else None)  # bad holes fail before the model loads
    lm, options = _load(options, lang)
    result = infill(code, lang, model=lm, select=list(select) if select else None, config=options.sampler)
    return _emit_fill(result, str(file), lang, options.as_json, options.report, f"treediff infill {file}")


def run_repair(file: str, options: RunOptions = RunOptions(), *, language: str | None = None,
               diff: bool = False) -> int:
    """``diff``: a unified diff of the input and the repaired code instead of the code (``"diff"`` in JSON)."""
    code, lang = _read_code(file, language, "repair")
    lm, options = _load(options, lang)
    result = repair(code, lang, model=lm, config=options.sampler)
    as_json, report = options.as_json, options.report
    patch = None
    if diff:
        import difflib

        name = str(file).lstrip("/")
        patch = "".join(difflib.unified_diff(code.splitlines(keepends=True), result.code.splitlines(keepends=True),
                                             fromfile=f"a/{name}", tofile=f"b/{name}"))
    return _emit_fill(result, str(file), lang, as_json, report, f"treediff repair {file}", diff=patch)


def run_sample(prompt: str = "", options: RunOptions = RunOptions(), *, language: str = "python", n: int = 1,
               length: int | None = None) -> int:
    lm, options = _load(options, language)
    results = sample(prompt, language, model=lm, n=n, length=length, config=options.sampler)  # one batch
    as_json, report = options.as_json, options.report

    def emit(item) -> dict[str, Any]:
        i, r = item
        row = _record_row(f"sample#{i}", language, r)
        if as_json:
            sys.stdout.write(json.dumps({"sample": i, **r.to_dict()}) + "\n")
        else:
            _write_code(r.code)
        sys.stdout.flush()
        return row

    return _stream(enumerate(results), emit, report, "treediff sample")
