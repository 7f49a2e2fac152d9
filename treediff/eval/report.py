"""Evaluation reports: JSON (everything) or one self-contained HTML page that shows the code."""

from __future__ import annotations

import html
import json
import os
from pathlib import Path

from treediff.errors import InputError
from treediff.eval.humaneval import EvalReport

__all__ = ["write_eval_report", "render_eval_html"]

_CSS = ("body{font-family:system-ui,sans-serif;margin:24px;max-width:1200px;color:#222}"
        "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 8px}"
        "pre{background:#f6f6f6;padding:8px;overflow-x:auto;font-size:12px}.pass{color:#17803d}.fail{color:#b42318}")


def _sample_html(code: str, passed: bool, reason: str, label: str) -> str:
    e = html.escape
    cls = "pass" if passed else "fail"
    return (f"<details><summary>{e(label)} <span class=\"{cls}\">{'passed' if passed else 'failed'}</span> "
            f"{'' if passed else e(reason)}</summary><pre>{e(code)}</pre></details>")


def render_eval_html(report: EvalReport) -> str:
    e = html.escape
    out = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{e(report.benchmark)}</title>"
           f"<style>{_CSS}</style></head><body><h1>{e(report.benchmark)} — model {e(report.model)}</h1>",
           "<table>"]
    for key, value in report.summary.items():
        shown = json.dumps(value) if isinstance(value, dict) else (f"{value:.4f}" if isinstance(value, float) else value)
        out.append(f"<tr><th>{e(str(key))}</th><td>{e(str(shown))}</td></tr>")
    out.append("</table><h2>Problems</h2>")
    for rec in report.problems:
        if "samples" in rec:  # pass@k
            head = f"{rec['task_id']}: {rec['num_passed']}/{rec['n']} passed"
            out.append(f"<h3>{e(head)}</h3>")
            out += [_sample_html(s["code"], s["passed"], s["reason"], f"sample {i}") for i, s in enumerate(rec["samples"])]
        else:  # infilling
            out.append(_sample_html(rec["filled"], rec["passed"], rec["reason"],
                                    f"{rec['task_id']} [{rec['constraint']}]"))
    out.append("<p>Programs ran in treediff's sandbox (docs/eval.md).</p></body></html>\n")
    return "".join(out)


def write_eval_report(report: EvalReport, path: str | os.PathLike[str]) -> Path:
    """Write ``.json`` (everything) or ``.html`` (summary plus every program's code)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".json":
        text = json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"
    elif suffix in (".html", ".htm"):
        text = render_eval_html(report)
    else:
        raise InputError(f"cannot write an evaluation report as {suffix or 'no suffix'!r}; use .html or .json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
