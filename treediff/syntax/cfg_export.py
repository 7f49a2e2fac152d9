"""Exports of :class:`~treediff.syntax.cfg.CFG` graphs: node-link JSON, Graphviz DOT, PNG.

:func:`export_cfg` is the one call behind ``treediff cfg FILE``.

>>> from treediff.syntax import parse
>>> from treediff.syntax.cfg import build_cfg
>>> print(cfg_to_dot(build_cfg(parse("x = 1\\n", "python"))))
digraph "<module>" {
  node [shape=box, fontname=monospace];
  "ENTRY" [label="ENTRY", shape=oval];
  "EXIT" [label="EXIT", shape=oval];
  "1" [label="1: expression_statement"];
  "ENTRY" -> "1" [label="next"];
  "1" -> "EXIT" [label="next"];
}
<BLANKLINE>
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import networkx as nx

from treediff.errors import InputError
from treediff.syntax.blocks import basic_blocks
from treediff.syntax.cfg import CFG, build_cfg, build_cfgs
from treediff.syntax.tree import parse

__all__ = ["cfg_to_node_link", "cfg_to_json", "cfg_to_dot", "cfg_to_png", "export_cfg", "FORMATS"]

#: Output formats of :func:`export_cfg`.
FORMATS = ("dot", "json", "png")
_ENDS = ("ENTRY", "EXIT")

def cfg_to_node_link(cfg: CFG) -> dict[str, Any]:
    """The graph as networkx node-link data (a JSON-ready dict)."""
    data = nx.node_link_data(cfg.graph, edges="edges")
    data["graph"] = {"name": cfg.name, "qualname": cfg.qualname, "kind": cfg.kind, "scope_id": cfg.scope_id,
                     **{k: v for k, v in cfg.graph.graph.items() if k == "language"}}
    if any("statements" in d for _, d in cfg.graph.nodes(data=True)):
        data["graph"]["blocks"] = True
    return data


def cfg_to_json(cfg: CFG, *, indent: int | None = None) -> str:
    """Node-link JSON; identical inputs give identical strings."""
    return json.dumps(cfg_to_node_link(cfg), indent=indent, sort_keys=True)


def _dot_body(cfg: CFG, prefix: str = "") -> list[str]:
    def ident(n: Any) -> str:
        return f'"{prefix}{n}"'

    lines = []
    for n, d in cfg.graph.nodes(data=True):
        if n in _ENDS:
            lines.append(f'  {ident(n)} [label="{n}", shape=oval];')
        elif "statements" in d:  # a basic block
            lines.append(f'  {ident(n)} [label="block {n}: {len(d["statements"])} statements"];')
        else:
            marks = "".join(m for m, on in ((" yield", d.get("has_yield")), (" await", d.get("has_await"))) if on)
            lines.append(f'  {ident(n)} [label="{d["line"]}: {d["kind"]}{marks}"];')
    for u, v, d in cfg.graph.edges(data=True):
        lines.append(f'  {ident(u)} -> {ident(v)} [label="{d["label"]}"];')
    return lines


def _title(cfg: CFG) -> str:
    return (cfg.qualname or cfg.name).replace('"', '\\"')


def cfg_to_dot(cfg: CFG) -> str:
    """Graphviz DOT text: one box per statement (``line: kind``), labelled edges."""
    lines = [f'digraph "{_title(cfg)}" {{', "  node [shape=box, fontname=monospace];", *_dot_body(cfg), "}"]
    return "\n".join(lines) + "\n"


def _cfgs_to_dot(cfgs: list[CFG]) -> str:
    """Several CFGs in one digraph, one cluster each (what ``dot -Tpng`` renders in one image)."""
    if len(cfgs) == 1:
        return cfg_to_dot(cfgs[0])
    lines = ['digraph "cfgs" {', "  node [shape=box, fontname=monospace];"]
    for i, cfg in enumerate(cfgs):
        lines += [f"  subgraph cluster_{i} {{", f'  label="{cfg.kind} {_title(cfg)}";']
        lines += ["  " + line for line in _dot_body(cfg, prefix=f"{i}:")]
        lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def cfg_to_png(cfg: CFG | list[CFG]) -> bytes:
    """PNG bytes rendered by Graphviz's ``dot`` binary (an error if it is not installed)."""
    text = _cfgs_to_dot(cfg if isinstance(cfg, list) else [cfg])
    dot = shutil.which("dot")
    if dot is None:
        raise InputError("PNG output needs Graphviz's `dot` program, which is not installed; "
                         "install graphviz or use --format dot")
    proc = subprocess.run([dot, "-Tpng"], input=text.encode(), capture_output=True, check=False)
    if proc.returncode != 0:
        raise InputError(f"dot failed: {proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout


def _as_blocks(cfg: CFG) -> CFG:
    return CFG(name=cfg.name, kind=cfg.kind, scope_id=cfg.scope_id, graph=basic_blocks(cfg), qualname=cfg.qualname)


def export_cfg(
    path: str | os.PathLike[str],
    fmt: str = "dot",
    *,
    function: str | None = None,
    language: str | None = None,
    blocks: bool = False,
    out: str | os.PathLike[str] | None = None,
) -> str | None:
    """Build the CFGs of a file and render them: the module and every scope, or one ``function``.

    ``fmt`` is ``dot`` (one digraph per scope), ``json`` (node-link: one object for one
    function, else a list) or ``png`` (needs ``out`` and Graphviz).  With ``blocks`` the basic-block
    graphs are exported instead.  Returns the text, or None when it was written to ``out``.
    """
    fmt = fmt.lower()
    if fmt not in FORMATS:
        raise InputError(f"unknown CFG format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    tree = parse(Path(path), language)
    cfgs = [build_cfg(tree, function)] if function else build_cfgs(tree)
    if blocks:
        cfgs = [_as_blocks(c) for c in cfgs]
    if fmt == "png":
        if out is None:
            raise InputError("PNG output is binary: pass --out FILE.png")
        Path(out).write_bytes(cfg_to_png(cfgs))
        return None
    if fmt == "json":
        data = cfg_to_node_link(cfgs[0]) if function else [cfg_to_node_link(c) for c in cfgs]
        text = json.dumps(data, indent=1, sort_keys=True) + "\n"
    else:
        text = "".join(cfg_to_dot(c) for c in cfgs)
    if out is not None:
        Path(out).write_text(text, encoding="utf-8")
        return None
    return text
