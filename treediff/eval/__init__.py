"""Functional evaluation: generated programs run against tests, in the sandbox.

- :func:`evaluate_humaneval` pass@k on HumanEval (:func:`pass_at_k`, the unbiased estimator);
- :func:`build_infill_tasks` / :func:`evaluate_infilling` HumanEval-Infilling-style tasks;
- :func:`run_tests` one program against a problem's ``check`` (:class:`ExecResult`);
- :func:`write_eval_report` ``.json`` or ``.html`` (with the code).

See docs/eval.md.
"""

from treediff.eval.execution import ExecResult, harness_program, run_program, run_tests
from treediff.eval.hostile import SECRET_ENV, hostile_programs
from treediff.eval.humaneval import EvalReport, evaluate_humaneval, load_problems, summarize_problems
from treediff.eval.infilling import INFILL_KINDS, InfillTask, build_infill_tasks, evaluate_infilling
from treediff.eval.passk import pass_at_k
from treediff.eval.report import render_eval_html, write_eval_report

__all__ = [
    "EvalReport",
    "ExecResult",
    "INFILL_KINDS",
    "SECRET_ENV",
    "InfillTask",
    "build_infill_tasks",
    "evaluate_humaneval",
    "evaluate_infilling",
    "harness_program",
    "hostile_programs",
    "load_problems",
    "pass_at_k",
    "render_eval_html",
    "run_program",
    "run_tests",
    "summarize_problems",
    "write_eval_report",
]
