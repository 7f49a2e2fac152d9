"""Validity reports from batch records: JSON, Markdown, or one self-contained HTML page.

One run, or two side by side (``compare=``, e.g. "constrained" vs "unconstrained").
The HTML page carries its own CSS and inline SVG charts (validity rate per language,
problem kinds, where in the program the first error falls) and loads nothing.

>>> recs = [{"path": "a.py", "language": "python", "ok": True, "level": "compiler:python", "problems": []}]
>>> summarize(recs)["per_language"]["python"]["rate"]
1.0
"""

from __future__ import annotations

import html
import math
import json
import os
from collections import Counter
from pathlib import Path
from typing import Any, Sequence

from treediff.errors import InputError

__all__ = ["summarize", "write_report", "render_html", "render_markdown", "render_json", "bar_chart", "REPORT_CSS",
           "NUM_POSITION_BINS"]

NUM_POSITION_BINS = 10
_COLORS = ("#3366cc", "#e8842c")
Records = Sequence[dict[str, Any]]


def summarize(records: Records) -> dict[str, Any]:
    """Counts behind every table and chart.

    Inputs that could not be checked (``error``) or were skipped are counted apart
    and left out of validity rates.  The error position of an invalid input is its
    first problem's line divided by its line count, binned into tenths.
    """
    checked = [r for r in records if r.get("ok") is not None and not r.get("error")]
    per_lang: dict[str, dict[str, Any]] = {}
    for r in records:
        lang = r.get("language") or "(unknown)"
        row = per_lang.setdefault(lang, {"inputs": 0, "checked": 0, "valid": 0, "invalid": 0, "errors": 0, "skipped": 0})
        row["inputs"] += 1
        if r.get("error"):
            row["errors"] += 1
        elif r.get("ok") is None:
            row["skipped"] += 1
        else:
            row["checked"] += 1
            row["valid" if r["ok"] else "invalid"] += 1
    for row in per_lang.values():
        row["rate"] = row["valid"] / row["checked"] if row["checked"] else None
    kinds: Counter[str] = Counter()
    first_kinds: Counter[str] = Counter()
    bins = [0] * NUM_POSITION_BINS
    for r in checked:
        probs = r.get("problems") or []
        kinds.update(p["kind"] for p in probs)
        if not r["ok"] and probs:
            first_kinds[probs[0]["kind"]] += 1
            lines = max(int(r.get("num_lines") or 0), 1)
            rel = min(max((probs[0].get("start_line") or 1) / lines, 0.0), 1.0)
            bins[min(int(rel * NUM_POSITION_BINS), NUM_POSITION_BINS - 1)] += 1
    valid = sum(1 for r in checked if r["ok"])
    return {
        "inputs": len(records),
        "checked": len(checked),
        "valid": valid,
        "invalid": len(checked) - valid,
        "errors": sum(1 for r in records if r.get("error")),
        "skipped": sum(1 for r in records if r.get("ok") is None and not r.get("error")),
        "rate": valid / len(checked) if checked else None,
        # valid programs whose compiler errors were all references to code this machine lacks (set aside)
        "with_unresolved": sum(1 for r in checked if r.get("unresolved")),
        "levels": dict(Counter(r.get("level", "?") for r in checked)),
        "compiler_missing": sorted({r["compiler_missing"] for r in records if r.get("compiler_missing")}),
        "per_language": dict(sorted(per_lang.items())),
        "problem_kinds": dict(kinds.most_common()),
        "first_problem_kinds": dict(first_kinds.most_common()),
        "error_position_bins": bins,
    }


def _runs(records: Records, compare: Records | None, labels: Sequence[str] | None) -> list[dict[str, Any]]:
    sets = [records] if compare is None else [records, compare]
    if labels is None:
        labels = ["run"] if compare is None else ["A", "B"]
    labels = list(labels)
    if len(labels) != len(sets):
        raise InputError(f"need {len(sets)} label(s) for {len(sets)} run(s), got {labels!r}")
    return [{"label": lab, "summary": summarize(recs), "records": list(recs)} for lab, recs in zip(labels, sets)]


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


# -- JSON / Markdown -------------------------------------------------------------------
def render_json(runs: list[dict[str, Any]]) -> str:
    return json.dumps({"runs": runs}, indent=2, ensure_ascii=False, default=str) + "\n"


def _languages(runs: list[dict[str, Any]]) -> list[str]:
    return sorted({lang for run in runs for lang in run["summary"]["per_language"]})


def _first_problems(run: dict[str, Any], limit: int = 50) -> list[tuple[str, str, str]]:
    rows = []
    for r in run["records"]:
        if r.get("ok") is False and r.get("problems"):
            p = r["problems"][0]
            where = f"{r.get('path', '')}" + (f" line {r['line']}" if "line" in r else "")
            rows.append((where, f"{p.get('start_line', '?')}:{p.get('start_col', '?')}", f"{p['kind']}: {p['message']}"))
            if len(rows) >= limit:
                break
    return rows


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(runs: list[dict[str, Any]]) -> str:
    out = ["# Validity report", ""]
    out += ["| run | inputs | checked | valid | invalid | errors | skipped | validity |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for run in runs:
        s = run["summary"]
        out.append(f"| {run['label']} | {s['inputs']} | {s['checked']} | {s['valid']} | {s['invalid']} | {s['errors']} "
                   f"| {s['skipped']} | {_pct(s['rate'])} |")
    out += ["", "## Validity per language", ""]
    head = "| language | " + " | ".join(f"{r['label']} valid/checked | {r['label']} rate" for r in runs) + " |"
    out += [head, "|---|" + "---:|---:|" * len(runs)]
    for lang in _languages(runs):
        cells = []
        for run in runs:
            row = run["summary"]["per_language"].get(lang)
            cells += ["–", "–"] if row is None else [f"{row['valid']}/{row['checked']}", _pct(row["rate"])]
        out.append(f"| {lang} | " + " | ".join(cells) + " |")
    out += ["", "## Problem kinds", "", "| kind | " + " | ".join(r["label"] for r in runs) + " |", "|---|" + "---:|" * len(runs)]
    kinds = sorted({k for run in runs for k in run["summary"]["problem_kinds"]})
    for k in kinds:
        out.append(f"| {k} | " + " | ".join(str(run["summary"]["problem_kinds"].get(k, 0)) for run in runs) + " |")
    out += ["", "## Where the first error falls (error line / program lines)", "",
            "| position | " + " | ".join(r["label"] for r in runs) + " |", "|---|" + "---:|" * len(runs)]
    for b in range(NUM_POSITION_BINS):
        label = f"{b / NUM_POSITION_BINS:.1f}–{(b + 1) / NUM_POSITION_BINS:.1f}"
        out.append(f"| {label} | " + " | ".join(str(run["summary"]["error_position_bins"][b]) for run in runs) + " |")
    for run in runs:
        rows = _first_problems(run)
        if rows:
            out += ["", f"## First problems ({run['label']}, up to {len(rows)})", "", "| input | at | problem |", "|---|---|---|"]
            out += [f"| {a} | {b} | {_md_cell(c)} |" for a, b, c in rows]
    return "\n".join(out) + "\n"


# -- HTML with inline SVG --------------------------------------------------------------
def _scaled(rate: float | None) -> float | None:
    return None if rate is None else 100 * rate


def bar_chart(title: str, categories: list[str], series: list[tuple[str, list[float | None]]], *,
               ymax: float | None = None, fmt=lambda v: f"{v:g}", width: int = 540, height: int = 270) -> str:
    """A grouped vertical bar chart as an inline ``<svg>``."""
    e = html.escape
    left, right, top, bottom = 48, 12, 30, 64
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = ymax if ymax is not None else max([v for _, vals in series for v in vals if v is not None] + [1])
    if ymax is None:  # counts: a top that splits into four whole steps
        top_value = 4 * math.ceil(top_value / 4)
    parts = [f'<svg width="{width}" height="{height}" role="img" aria-label="{e(title)}">',
             f'<text x="{width / 2}" y="18" text-anchor="middle" class="t">{e(title)}</text>']
    for k in range(5):
        v = top_value * k / 4
        y = top + plot_h - plot_h * k / 4
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" class="g"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" class="a">{e(fmt(v))}</text>')
    n = max(len(categories), 1)
    group_w = plot_w / n
    bar_w = max(2.0, group_w * 0.8 / max(len(series), 1))
    for ci, cat in enumerate(categories):
        gx = left + ci * group_w + group_w * 0.1
        for si, (label, vals) in enumerate(series):
            v = vals[ci] if ci < len(vals) else None
            x = gx + si * bar_w
            if v is None:  # no data (e.g. a language absent from one run): no bar, a dash
                parts.append(f'<text x="{x + (bar_w - 1) / 2:.1f}" y="{top + plot_h - 3}" text-anchor="middle" class="v">–</text>')
                continue
            h = 0 if top_value <= 0 else plot_h * min(v, top_value) / top_value
            y = top + plot_h - h
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w - 1:.1f}" height="{h:.1f}" fill="{_COLORS[si % 2]}">'
                         f'<title>{e(label)} · {e(cat)}: {e(fmt(v))}</title></rect>')
            if len(series) * len(categories) <= 24:  # room for value labels
                parts.append(f'<text x="{x + (bar_w - 1) / 2:.1f}" y="{y - 3:.1f}" text-anchor="middle" class="v">{e(fmt(v))}</text>')
        cx = left + ci * group_w + group_w / 2
        parts.append(f'<text x="{cx:.1f}" y="{top + plot_h + 14}" text-anchor="end" class="a" '
                     f'transform="rotate(-30 {cx:.1f} {top + plot_h + 14})">{e(cat)}</text>')
    for si, (label, _) in enumerate(series):
        lx = left + si * 150
        parts.append(f'<rect x="{lx}" y="{height - 14}" width="10" height="10" fill="{_COLORS[si % 2]}"/>'
                     f'<text x="{lx + 14}" y="{height - 5}" class="a">{e(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


REPORT_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222;max-width:1200px}
h1{font-size:22px}h2{font-size:17px;margin-top:28px}
table{border-collapse:collapse;margin:8px 0;font-size:13px}
th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}th{background:#f3f3f3}
td:first-child,th:first-child{text-align:left}td.l,th.l{text-align:left}
.charts{display:flex;flex-wrap:wrap;gap:16px}.charts svg{border:1px solid #e3e3e3;background:#fff}
svg .t{font-size:13px;font-weight:600}svg .a{font-size:11px;fill:#444}svg .g{stroke:#e5e5e5}svg .v{font-size:10px;fill:#222}
code{font-size:12px}.small{color:#666;font-size:12px}
"""


def render_html(runs: list[dict[str, Any]]) -> str:
    e = html.escape
    title = "Validity report" + (" — " + " vs ".join(r["label"] for r in runs) if len(runs) > 1 else "")
    langs = _languages(runs)
    out = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{e(title)}</title>"
           f"<style>{REPORT_CSS}</style></head><body><h1>{e(title)}</h1>"]
    out.append("<table><tr><th>run</th><th>inputs</th><th>checked</th><th>valid</th><th>invalid</th><th>errors</th>"
               "<th>skipped</th><th>validity</th><th>levels</th></tr>")
    for run in runs:
        s = run["summary"]
        levels = ", ".join(f"{k}: {v}" for k, v in sorted(s["levels"].items()))
        out.append(f"<tr><td>{e(run['label'])}</td><td>{s['inputs']}</td><td>{s['checked']}</td><td>{s['valid']}</td>"
                   f"<td>{s['invalid']}</td><td>{s['errors']}</td><td>{s['skipped']}</td><td>{_pct(s['rate'])}</td>"
                   f"<td>{e(levels)}</td></tr>")
    out.append("</table>")
    missing = sorted({m for run in runs for m in run["summary"]["compiler_missing"]})
    if missing:
        out.append(f"<p class=\"small\">Compiler not installed (checked by tree-sitter only): {e(', '.join(missing))}</p>")
    rate_series = [(run["label"], [_scaled(run["summary"]["per_language"].get(lang, {}).get("rate")) for lang in langs])
                   for run in runs]
    kinds = sorted({k for run in runs for k in run["summary"]["problem_kinds"]})
    kind_series = [(run["label"], [run["summary"]["problem_kinds"].get(k, 0) for k in kinds]) for run in runs]
    bins = [f"{b / NUM_POSITION_BINS:.1f}–{(b + 1) / NUM_POSITION_BINS:.1f}" for b in range(NUM_POSITION_BINS)]
    pos_series = [(run["label"], run["summary"]["error_position_bins"]) for run in runs]
    charts = []  # a chart with no data is left out, not drawn empty
    if any(v is not None for _, vals in rate_series for v in vals):
        charts.append(bar_chart("Validity rate per language (%)", langs, rate_series, ymax=100, fmt=lambda v: f"{v:.0f}%"))
    if kinds:
        charts.append(bar_chart("Problem kinds (count)", kinds, kind_series, fmt=lambda v: f"{v:.0f}"))
    if any(v for _, vals in pos_series for v in vals):
        charts.append(bar_chart("First error position (line / program lines)", bins, pos_series, fmt=lambda v: f"{v:.0f}"))
    if charts:
        out.append('<h2>Charts</h2><div class="charts">' + "".join(charts) + "</div>")
    out.append("<h2>Validity per language</h2><table id=\"per-language\"><tr><th>language</th>")
    out += [f"<th>{e(r['label'])} valid / checked</th><th>{e(r['label'])} rate</th><th>{e(r['label'])} errors</th>" for r in runs]
    out.append("</tr>")
    for lang in langs:
        out.append(f"<tr><td>{e(lang)}</td>")
        for run in runs:
            row = run["summary"]["per_language"].get(lang)
            if row is None:
                out.append("<td>–</td><td>–</td><td>–</td>")
            else:
                out.append(f"<td>{row['valid']} / {row['checked']}</td><td>{_pct(row['rate'])}</td><td>{row['errors']}</td>")
        out.append("</tr>")
    out.append("</table>")
    for run in runs:
        rows = _first_problems(run)
        if rows:
            out.append(f"<h2>First problems — {e(run['label'])} (up to {len(rows)})</h2>"
                       "<table><tr><th>input</th><th>at</th><th class=\"l\">problem</th></tr>")
            out += [f"<tr><td><code>{e(a)}</code></td><td>{e(b)}</td><td class=\"l\">{e(c)}</td></tr>" for a, b, c in rows]
            out.append("</table>")
    out.append("<p class=\"small\">Generated by treediff.validity.</p></body></html>\n")
    return "".join(out)


_RENDERERS = {".json": render_json, ".md": render_markdown, ".markdown": render_markdown, ".html": render_html, ".htm": render_html}


def write_report(
    records: Records,
    path: str | os.PathLike[str],
    *,
    compare: Records | None = None,
    labels: Sequence[str] | None = None,
) -> Path:
    """Write a report; the format follows the suffix (``.json``, ``.md``, ``.html``).

    ``compare`` adds a second run side by side; ``labels`` names the run(s)
    (default ``["run"]``, or ``["A", "B"]`` with ``compare``).
    """
    path = Path(path)
    render = _RENDERERS.get(path.suffix.lower())
    if render is None:
        raise InputError(f"cannot write a report as {path.suffix or 'no suffix'!r}; use one of: {', '.join(sorted(_RENDERERS))}")
    text = render(_runs(records, compare, labels))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
