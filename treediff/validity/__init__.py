"""Validity: tree-sitter checks plus each language's real compiler front end.

- :func:`check` one source → :class:`ValidityResult` (never raises on invalid code);
- :func:`check_paths` files / directories / JSONL samples → records, in parallel;
- :func:`write_report` records (one run or two) → ``.json`` / ``.md`` / ``.html``;
- :func:`exit_code` records → the CLI's exit status (0 valid, 1 invalid or unknown, 2 input error).

Compiler front ends are data: the ``[compiler]`` table of ``grammars/<lang>.toml``
(see ``docs/validity.md``).
"""

from treediff.validity.batch import check_paths, exit_code, iter_inputs, write_jsonl
from treediff.validity.check import PROBLEM_KINDS, VERDICTS, Problem, ValidityResult, check, check_tree
from treediff.validity.compilers import DRIVERS, CompilerSpec, compiler_spec, compiler_version
from treediff.validity.cli_support import language_table, run_validate
from treediff.validity.report import render_html, render_markdown, summarize, write_report

__all__ = [
    "PROBLEM_KINDS",
    "VERDICTS",
    "Problem",
    "ValidityResult",
    "check",
    "check_tree",
    "check_paths",
    "language_table",
    "run_validate",
    "iter_inputs",
    "exit_code",
    "write_jsonl",
    "write_report",
    "summarize",
    "render_html",
    "render_markdown",
    "CompilerSpec",
    "DRIVERS",
    "compiler_spec",
    "compiler_version",
]
