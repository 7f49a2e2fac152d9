"""Noise commands: ``treediff mask`` shows what a masker corrupts in a source file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from treediff.errors import InputError
from treediff_cli.app import app

STRATEGIES = ("random", "ast-span", "block")


def _tokenize(tree: Any, tokenizer_dir: Path | None) -> tuple[Any, list[int], int]:
    """``(alignment, ids, mask_id)`` from the leaf alignment or from a trained ``SyntaxTokenizer``."""
    import numpy as np

    from treediff.tokens import leaf_alignment

    if tokenizer_dir is None:
        alignment = leaf_alignment(tree)
        return alignment, list(range(1, alignment.num_tokens + 1)), 0
    try:
        from treediff.tokens.tokenizer import SyntaxTokenizer
    except ImportError:
        raise InputError("--tokenizer needs treediff.tokens.tokenizer.SyntaxTokenizer, which this install lacks") from None
    tokenizer = SyntaxTokenizer.from_pretrained(str(tokenizer_dir))
    encoding = tokenizer.encode(tree)
    alignment = encoding.alignment
    ids = [int(x) for x in np.asarray(encoding.ids).reshape(-1)]
    if len(ids) != alignment.num_tokens:
        # The encoding frames the source with specials (BOS, language tag, EOS): keep the
        # source tokens only, taking the framing ids to be the leading special ids.
        specials = {getattr(tokenizer, n, None) for n in ("bos_id", "eos_id", "pad_id", "mask_id", "hole_id")}
        lead = 0
        while lead < len(ids) - alignment.num_tokens and ids[lead] in specials:
            lead += 1
        ids = ids[lead : lead + alignment.num_tokens]
        if alignment.num_nodes and int(alignment.node_spans.max()) > alignment.num_tokens:
            alignment = alignment.shifted(-lead)  # spans were given in framed coordinates
    return alignment, ids, int(tokenizer.mask_id)


def _summary(mask: list[bool], alignment: Any, maskable: int) -> dict[str, Any]:
    from treediff.syntax import CATEGORIES

    num_masked = sum(mask)
    runs = sum(1 for j, m in enumerate(mask) if m and (j == 0 or not mask[j - 1]))
    prefix = [0]
    for m in mask:
        prefix.append(prefix[-1] + int(m))
    spans = alignment.node_spans
    full = [(int(e) > int(s)) and prefix[int(e)] - prefix[int(s)] == int(e) - int(s) for s, e in spans]
    categories: dict[str, int] = {}
    for row, is_full in enumerate(full):
        parent = int(alignment.node_parent[row])
        if not is_full or (parent >= 0 and full[parent]):
            continue  # count only the largest fully masked nodes
        cat = int(alignment.node_category[row])
        name = CATEGORIES[cat] if cat >= 0 else "other"
        categories[name] = categories.get(name, 0) + 1
    return {
        "num_masked": num_masked,
        "num_maskable": maskable,
        "masked_fraction": num_masked / maskable if maskable else 0.0,
        "num_spans": runs,
        "categories": dict(sorted(categories.items())),
    }


@app.command()
def mask(  # long: a command's option declarations
    file: Path = typer.Argument(..., help="Source file to mask."),
    strategy: str = typer.Option("ast-span", "--strategy", "-s", help="random | ast-span | block."),
    t: float = typer.Option(0.3, "--t", help="Noise level in [0, 1]."),
    seed: int = typer.Option(0, "--seed", help="Seed of the masker's generator."),
    lang: str | None = typer.Option(None, "--lang", help="Language (default: from the extension)."),
    tokenizer: Path | None = typer.Option(None, "--tokenizer", help="A trained SyntaxTokenizer directory."),
    block_size: int = typer.Option(4, "--block-size", help="Block size of the block strategy."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of highlighted code."),
    plain: bool = typer.Option(False, "--plain", help="Bracket masked runs as \\[MASK]...\\[/MASK] instead of colour."),
) -> None:
    """Mask a source file with a noise strategy and show which tokens were masked.

    Examples:

      treediff mask examples/python/inventory.py --strategy ast-span --t 0.3 --seed 0
      treediff mask examples/python/inventory.py --strategy block --block-size 8 --plain
      treediff mask examples/python/inventory.py --json
    """
    from treediff.syntax import parse

    # Library errors (not typer.Exit) so that main() maps them to exit code 2 in one place.
    if strategy not in STRATEGIES:
        raise InputError(f"unknown strategy {strategy!r}; choose one of: {', '.join(STRATEGIES)}")
    if not 0.0 <= t <= 1.0:
        raise InputError(f"--t must lie in [0, 1], got {t}")
    tree = parse(file, lang)
    import torch

    from treediff.noise import build_masker
    from treediff.noise.testing import batch_from_alignments

    alignment, ids, mask_id = _tokenize(tree, tokenizer)
    config: dict[str, Any] = {"name": strategy}
    if strategy == "block":
        config["block_size"] = block_size
    masker = build_masker(config)
    batch = batch_from_alignments([ids], [alignment], pad_id=0, bos_id=None, eos_id=None)
    generator = torch.Generator().manual_seed(seed)
    out = masker(batch, torch.tensor([t]), generator, mask_id)
    mask_row = [bool(x) for x in out.mask[0].tolist()]
    dropped = [not bool(x) for x in out.attention_mask[0].tolist()]
    info = {"file": str(file), "strategy": strategy, "t": t, "seed": seed, "language": tree.language.name}
    info.update(_summary(mask_row, alignment, len(ids)))
    info["loss_weight"] = float(out.loss_weight[0])
    offsets = [(int(s), int(e)) for s, e in alignment.token_offsets]
    src = tree.source
    if as_json:
        info["masked_bytes"] = [[s, e] for (s, e), m in zip(offsets, mask_row) if m]
        typer.echo(json.dumps(info))
        return
    segments: list[tuple[str, str]] = []  # (text, style) with style "", "mask" or "dropped"
    pos = 0
    for (s, e), m, d in zip(offsets, mask_row, dropped):
        if s > pos:
            segments.append((src[pos:s].decode("utf-8", "replace"), "dropped" if d else ""))
        segments.append((src[s:e].decode("utf-8", "replace"), "mask" if m else "dropped" if d else ""))
        pos = max(pos, e)
    if pos < len(src):
        segments.append((src[pos:].decode("utf-8", "replace"), "dropped" if dropped and dropped[-1] else ""))
    cats = ", ".join(f"{k}×{v}" for k, v in info["categories"].items()) or "none"
    summary = (
        f"{strategy} t={t:g} seed={seed}: masked {info['num_masked']}/{info['num_maskable']} tokens "
        f"({info['masked_fraction']:.1%}) in {info['num_spans']} spans; categories: {cats}; "
        f"loss weight {info['loss_weight']:.3g}"
    )
    if plain:
        text, in_mask = [], False
        for chunk, style in segments:
            if (style == "mask") != in_mask:
                text.append("[MASK]" if not in_mask else "[/MASK]")
                in_mask = not in_mask
            text.append(chunk)
        if in_mask:
            text.append("[/MASK]")
        typer.echo("".join(text).rstrip("\n"))
        typer.echo(summary)
        return
    from rich.console import Console
    from rich.text import Text

    styles = {"": "", "mask": "reverse bold", "dropped": "dim"}
    rendered = Text()
    for chunk, style in segments:
        rendered.append(chunk, style=styles[style])
    console = Console(highlight=False)
    console.print(rendered, end="" if str(rendered).endswith("\n") else "\n", soft_wrap=True)
    console.print(summary, style="bold", soft_wrap=True)
