"""The report a person opens after ``synth``, ``infill``, ``repair`` or ``sample``: every program with its record.

One self-contained HTML page (inline CSS and SVG, loads nothing): a summary line, charts that have data
(rounds, NFE and time per program; a chart with nothing to show is left out), then for each result its
spec id or path, its validity record (ok, level, rounds, fallback, NFE, time, constraint), its first
problem when it is invalid, and the program, syntax highlighted (pygments, which rich brings along;
plain text without it).  ``.md`` and ``.json`` reports are :func:`treediff.validity.write_report`'s.

>>> rows = [{"path": "HumanEval/0#0", "spec_id": "HumanEval/0", "language": "python", "ok": True,
...          "level": "compiler:python", "problems": [], "rounds": 1, "fallback": False, "nfe": 40,
...          "sampler_seconds": 0.5, "constraint": "full", "code": "def f(x):\\n    return x\\n"}]
>>> page = render_sample_html(rows)
>>> "HumanEval/0" in page and "NFE" in page and "return" in page
True
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Any, Sequence

from treediff.validity import write_report
from treediff.validity.report import REPORT_CSS, bar_chart

__all__ = ["render_sample_html", "write_sample_report"]

_CSS = REPORT_CSS + """
.result{border-top:1px solid #ddd;margin-top:18px;padding-top:6px}.result h2{margin:6px 0}
.ok{color:#1b7f3b;font-weight:600}.bad{color:#b3261e;font-weight:600}
pre.code{background:#f8f8f8;border:1px solid #e3e3e3;padding:8px;font-size:12px;overflow-x:auto;line-height:1.35}
"""


def _highlighted(code: str, language: str) -> str:
    try:
        from pygments import highlight
        from pygments.formatters import HtmlFormatter
        from pygments.lexers import get_lexer_by_name
        from pygments.util import ClassNotFound
    except ImportError:  # pragma: no cover - rich depends on pygments
        return f'<pre class="code">{html.escape(code)}</pre>'
    try:
        lexer = get_lexer_by_name(language)
    except ClassNotFound:
        return f'<pre class="code">{html.escape(code)}</pre>'
    formatter = HtmlFormatter(noclasses=True, nowrap=True, style="default")
    return f'<pre class="code">{highlight(code, lexer, formatter)}</pre>'


def _label(row: dict[str, Any]) -> str:
    return str(row.get("path") or row.get("spec_id") or "?")


def _charts(rows: Sequence[dict[str, Any]]) -> str:
    labels = [_label(r) for r in rows]
    charts = []
    for title, key, fmt in (("Compiler-remasking rounds per program", "rounds", lambda v: f"{v:.0f}"),
                            ("Forward passes (NFE) per program", "nfe", lambda v: f"{v:.0f}"),
                            ("Sampler time per program (s)", "sampler_seconds", lambda v: f"{v:.2f}")):
        values = [float(r.get(key) or 0) for r in rows]
        if any(values):  # nothing to show: no chart
            charts.append(bar_chart(title, labels, [(key, values)], fmt=fmt))
    return '<h2>Charts</h2><div class="charts">' + "".join(charts) + "</div>" if charts else ""


def _result_html(row: dict[str, Any]) -> str:
    e = html.escape
    ok = row.get("ok")
    status = '<span class="ok">valid</span>' if ok else '<span class="bad">invalid</span>'
    fields = [("ok", "yes" if ok else "no"), ("level", row.get("level", "–")), ("rounds", row.get("rounds", "–")),
              ("fallback", "yes" if row.get("fallback") else "no"),
              ("copied regions", row.get("num_context_regions", 0)), ("NFE", row.get("nfe", "–")),
              ("time", f"{float(row.get('sampler_seconds') or 0):.2f} s"), ("constraint", row.get("constraint", "–")),
              ("language", row.get("language", "–"))]
    out = [f'<div class="result"><h2>{e(_label(row))} — {status}</h2><table><tr>',
           "".join(f"<th>{e(k)}</th>" for k, _ in fields), "</tr><tr>",
           "".join(f"<td>{e(str(v))}</td>" for _, v in fields), "</tr></table>"]
    problems = row.get("problems") or []
    if not ok and problems:
        p = problems[0]
        out.append(f'<p class="small">first problem: {e(str(p.get("start_line", "?")))}:'
                   f'{e(str(p.get("start_col", "?")))} {e(str(p.get("kind", "")))}: {e(str(p.get("message", "")))}</p>')
    for p in row.get("unresolved") or ():
        out.append(f'<p class="small">set aside (code this machine lacks): {e(str(p.get("message", "")))}</p>')
    if row.get("code") is not None:
        out.append(_highlighted(row["code"], str(row.get("language") or "text")))
    out.append("</div>")
    return "".join(out)


def render_sample_html(rows: Sequence[dict[str, Any]], title: str = "treediff results") -> str:
    """The HTML page for sampling rows (``treediff.cli_support``'s records, with ``code``)."""
    e = html.escape
    num = len(rows)
    ok = sum(1 for r in rows if r.get("ok"))
    fb = sum(1 for r in rows if r.get("fallback"))
    mean = (lambda key: sum(float(r.get(key) or 0) for r in rows) / num) if num else (lambda key: 0.0)
    copied = sum(1 for r in rows if r.get("num_context_regions"))
    summary = (f"{ok}/{num} valid, {num - fb}/{num} without fallback, {copied}/{num} with copied regions, "
               f"mean rounds {mean('rounds'):.2f}, "
               f"mean NFE {mean('nfe'):.1f}, {sum(float(r.get('sampler_seconds') or 0) for r in rows):.1f} s sampling")
    out = [f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>'
           f"<style>{_CSS}</style></head><body><h1>{e(title)}</h1><p>{e(summary)}</p>", _charts(rows)]
    out += [_result_html(r) for r in rows]
    out.append('<p class="small">Generated by treediff.sample.report.</p></body></html>\n')
    return "".join(out)


def write_sample_report(rows: Sequence[dict[str, Any]], path: str | os.PathLike[str], *,
                        title: str = "treediff results") -> Path:
    """``.html``: :func:`render_sample_html`; any other suffix: :func:`treediff.validity.write_report`."""
    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm"):
        return write_report(rows, path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_sample_html(rows, title), encoding="utf-8")
    return path
