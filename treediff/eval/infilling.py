"""Functional infilling: HumanEval-Infilling-style tasks from HumanEval's canonical solutions.

The construction of Bavarian et al. (2022): from each canonical solution, **single-line** tasks
(one line masked), **multi-line** tasks (a run of consecutive lines masked) and **random-span**
tasks (a random character span masked).  The masked region becomes a ``<|hole|>`` marker, the
way :func:`treediff.infill` takes holes; a task passes when the filled program passes the
problem's tests in the sandbox.  Deterministic under ``seed``.

>>> p = {"task_id": "T/0", "prompt": "def f(x):\\n", "canonical_solution": "    y = x + 1\\n    return y\\n",
...      "test": "def check(f):\\n    assert f(1) == 2\\n", "entry_point": "f"}
>>> [t.kind for t in build_infill_tasks([p])]
['single-line', 'multi-line', 'random-span']
>>> t = build_infill_tasks([p], kinds=("multi-line",))[0]
>>> t.code, t.truth
('def f(x):\\n    <|hole|>\\n', 'y = x + 1\\n    return y')
>>> t.code.replace("<|hole|>", t.truth) == p["prompt"] + p["canonical_solution"]
True
"""

from __future__ import annotations

import os
import random
from dataclasses import asdict, dataclass
from typing import Any, Mapping, Sequence

from treediff.errors import InputError
from treediff.eval.execution import run_tests
from treediff.eval.humaneval import EvalReport
from treediff.progress import ProgressBar

__all__ = ["INFILL_KINDS", "InfillTask", "build_infill_tasks", "evaluate_infilling"]

INFILL_KINDS = ("single-line", "multi-line", "random-span")
HOLE = "<|hole|>"


@dataclass(frozen=True)
class InfillTask:
    """One task: ``code`` is prompt + solution with the masked part replaced by ``<|hole|>``;
    ``code.replace("<|hole|>", truth)`` is the original program."""

    task_id: str
    problem_id: str
    kind: str
    code: str
    truth: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _lines(solution: str) -> list[str]:
    return solution.splitlines(keepends=True)


def _mask_lines(prompt: str, lines: list[str], i: int, j: int) -> tuple[str, str]:
    indent = lines[i][: len(lines[i]) - len(lines[i].lstrip(" \t"))]
    code = prompt + "".join(lines[:i]) + indent + HOLE + "\n" + "".join(lines[j:])
    masked = "".join(lines[i:j])[len(indent):]
    return code, masked[:-1] if masked.endswith("\n") else masked


def _one_task(problem: Mapping[str, Any], kind: str, rng: random.Random) -> tuple[str, str] | None:
    prompt, solution = problem["prompt"], problem["canonical_solution"]
    lines = _lines(solution)
    filled = [k for k, line in enumerate(lines) if line.strip()]
    if kind == "single-line":
        if not filled:
            return None
        i = rng.choice(filled)
        return _mask_lines(prompt, lines, i, i + 1)
    if kind == "multi-line":
        starts = [k for k in filled if sum(1 for m in filled if m > k) >= 1]
        if not starts:
            return None
        i = rng.choice(starts)
        rest = [m for m in filled if m > i]
        j = rng.choice(rest[: 4]) + 1  # two to five lines
        return _mask_lines(prompt, lines, i, j)
    if kind == "random-span":
        body = solution.rstrip()
        first = len(body) - len(body.lstrip())
        if len(body) - first < 2:
            return None
        a = rng.randrange(first, len(body) - 1)
        b = rng.randrange(a + 1, len(body) + 1)
        return prompt + body[:a] + HOLE + body[b:] + "\n", body[a:b]
    raise InputError(f"unknown infilling task kind {kind!r}; choose one of: {', '.join(INFILL_KINDS)}")


def build_infill_tasks(problems: Sequence[Mapping[str, Any]], *, kinds: Sequence[str] = INFILL_KINDS,
                       per_problem: int = 1, seed: int = 0) -> list[InfillTask]:
    """``per_problem`` tasks of each kind from each problem's canonical solution (deterministic)."""
    for kind in kinds:
        if kind not in INFILL_KINDS:
            raise InputError(f"unknown infilling task kind {kind!r}; choose one of: {', '.join(INFILL_KINDS)}")
    tasks = []
    for problem in problems:
        for kind in kinds:
            rng = random.Random(f"{seed}:{problem['task_id']}:{kind}")
            seen: set[str] = set()
            for _ in range(per_problem * 4):
                if len(seen) >= per_problem:
                    break
                made = _one_task(problem, kind, rng)
                if made is None or made[0] in seen:
                    continue
                seen.add(made[0])
                tasks.append(InfillTask(f"{problem['task_id']}/{kind}/{len(seen) - 1}", problem["task_id"], kind, *made))
    return tasks


def evaluate_infilling(problems: Sequence[Mapping[str, Any]], *, model: str | os.PathLike[str] | None = None,
                       constraints: Sequence[str] = ("full", "none"), kinds: Sequence[str] = INFILL_KINDS,
                       per_problem: int = 1, seed: int = 0, settings: Mapping[str, Any] | None = None,
                       progress: bool = False) -> EvalReport:
    """Fill every task under each constraint with :func:`treediff.infill`; pass rates by kind and constraint."""
    from treediff.sample import infill

    settings = dict(settings or {})
    by_id = {p["task_id"]: p for p in problems}
    tasks = build_infill_tasks(problems, kinds=kinds, per_problem=per_problem, seed=seed)
    records = []
    bar = ProgressBar(len(tasks) * len(constraints), "infill", progress)
    for task in tasks:
        problem = by_id[task.problem_id]
        for constraint in constraints:
            filled = infill(task.code, language="python", model=None if model is None else str(model),
                            constraint=constraint, **settings)
            result = run_tests(filled.code, problem["test"], problem["entry_point"])
            records.append({**task.to_dict(), "constraint": constraint, "filled": filled.code, "valid": filled.record.ok,
                            "fallback": bool(filled.record.fallback), "num_forced": filled.record.num_forced,
                            "passed": result.passed, "reason": result.reason})
            bar.advance()
    bar.close()
    summary: dict[str, Any] = {"num_tasks": len(tasks), "pass_rate": {}}
    for constraint in constraints:
        for kind in kinds:
            rows = [r for r in records if r["constraint"] == constraint and r["kind"] == kind]
            summary["pass_rate"][f"{constraint}/{kind}"] = (sum(r["passed"] for r in rows) / len(rows)) if rows else None
    return EvalReport("humaneval-infilling", "default" if model is None else str(model),
                      {**settings, "seed": seed, "per_problem": per_problem}, tuple(records), summary)
