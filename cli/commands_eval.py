"""Evaluation commands: ``treediff eval humaneval`` and ``treediff eval infill`` (one library call each)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from treediff_cli.app import CommandGroup, app

eval_app = typer.Typer(cls=CommandGroup, no_args_is_help=True,
                       help="Functional evaluation: generated programs run against tests in the sandbox.\n\n"
                            "Examples:\n\n  treediff eval humaneval --limit 5 --n 10 --k 1,10\n\n"
                            "  treediff eval infill --limit 10 --json")
app.add_typer(eval_app, name="eval")

_MODEL = typer.Option(None, "--model", "-m", help="Model directory or embedded model name (default | parallel).")
_REPORT = typer.Option(None, "--report", help="Write out.html (with the code) or out.json.")
_JSON = typer.Option(False, "--json", help="Print the whole result as one JSON object.")
_LIMIT = typer.Option(None, "--limit", help="Only the first K problems.")
_THREADS = typer.Option(None, "--threads", min=1,
                        help="torch CPU threads (default: the free cores, 1 on a busy 2-core machine).")
_BLOCK = typer.Option(None, "--block", help="Semi-autoregressive block length (0 = one block).")
_THRESHOLD = typer.Option(None, "--threshold", help="Confidence-threshold parallel decoding, e.g. 0.9.")


def _settings(**values) -> dict:
    names = {"block": "block_size", "rounds": "max_rounds"}
    return {names.get(k, k): v for k, v in values.items() if v is not None}


def _threads(threads: Optional[int]) -> None:
    from treediff.threads import set_num_threads

    set_num_threads(threads)


def _finish(report, as_json: bool, out: Optional[Path], lines: list[str]) -> None:
    from treediff.eval import write_eval_report

    if out is not None:
        typer.echo(f"report: {write_eval_report(report, out)}", err=True)
    if as_json:
        sys.stdout.write(json.dumps(report.to_dict(), ensure_ascii=False) + "\n")
    else:
        for line in lines:
            typer.echo(line)


@eval_app.command("humaneval")
def humaneval(
    n: int = typer.Option(1, "--n", min=1, help="Programs per problem."),
    k: str = typer.Option("1", "--k", help="Comma-separated k of pass@k, each <= --n (e.g. 1,10)."),
    model: Optional[str] = _MODEL, limit: Optional[int] = _LIMIT,
    temperature: Optional[float] = typer.Option(None, "--temperature", help="Default: 0 for --n 1, else 0.8."),
    constraint: Optional[str] = typer.Option(None, "--constraint", help="none | grammar | remask | full"),
    block: Optional[int] = _BLOCK, threshold: Optional[float] = _THRESHOLD, seed: int = typer.Option(0, "--seed"),
    max_new_tokens: Optional[int] = typer.Option(None, "--max-new-tokens"),
    threads: Optional[int] = _THREADS, as_json: bool = _JSON, report: Optional[Path] = _REPORT,
    progress: bool = typer.Option(True, "--progress/--no-progress"),
) -> None:
    """pass@k on HumanEval: synthesise --n programs per problem and run their tests in the sandbox.

    Examples:

      treediff eval humaneval --limit 5 --n 10 --k 1,10 --json
      treediff eval humaneval --model parallel --block 0 --threshold 0.9 --report runs/humaneval.html
    """
    from treediff.errors import InputError
    from treediff.eval import evaluate_humaneval

    try:
        ks = [int(x) for x in k.split(",") if x.strip()]
    except ValueError:
        raise InputError(f"--k takes comma-separated integers, got {k!r}") from None
    _threads(threads)
    settings = _settings(temperature=temperature if temperature is not None else (0.0 if n == 1 else 0.8),
                         constraint=constraint, block=block, threshold=threshold, seed=seed,
                         max_new_tokens=max_new_tokens)
    result = evaluate_humaneval(n=n, ks=ks, model=model, limit=limit, settings=settings,
                                progress=progress and not as_json)
    s = result.summary
    lines = [f"{r['task_id']}: {r['num_passed']}/{r['n']} passed" for r in result.problems]
    lines.append(f"{s['num_problems']} problems, {s['num_samples']} programs, {s['num_passed']} passed; "
                 + ", ".join(f"pass@{x} {100 * s[f'pass@{x}']:.2f}%" for x in sorted(set(ks))))
    _finish(result, as_json, report, lines)


@eval_app.command("infill")
def infill(
    model: Optional[str] = _MODEL, limit: Optional[int] = _LIMIT,
    constraint: str = typer.Option("full,none", "--constraint", help="Comma-separated constraints to compare."),
    kinds: str = typer.Option("single-line,multi-line,random-span", "--kinds", help="Task kinds."),
    per_problem: int = typer.Option(1, "--per-problem", min=1, help="Tasks of each kind per problem."),
    seed: int = typer.Option(0, "--seed", help="Seeds the task construction."),
    block: Optional[int] = _BLOCK, threshold: Optional[float] = _THRESHOLD,
    threads: Optional[int] = _THREADS, as_json: bool = _JSON, report: Optional[Path] = _REPORT,
    progress: bool = typer.Option(True, "--progress/--no-progress"),
) -> None:
    """Functional infilling (HumanEval-Infilling construction): fill, run the tests, pass rate per kind.

    Examples:

      treediff eval infill --limit 10 --json
      treediff eval infill --model parallel --constraint full,none --report runs/infill.html
    """
    from treediff.eval import evaluate_infilling, load_problems

    _threads(threads)
    result = evaluate_infilling(load_problems(limit), model=model,
                                constraints=[c.strip() for c in constraint.split(",") if c.strip()],
                                kinds=[x.strip() for x in kinds.split(",") if x.strip()], per_problem=per_problem,
                                seed=seed, settings=_settings(block=block, threshold=threshold),
                                progress=progress and not as_json)
    lines = [f"{key}: {'-' if rate is None else f'{100 * rate:.1f}%'}" for key, rate in result.summary["pass_rate"].items()]
    lines.append(f"{result.summary['num_tasks']} tasks")
    _finish(result, as_json, report, lines)
