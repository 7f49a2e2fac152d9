"""Sampling commands: synth, infill, repair, sample (one library call each)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from treediff_cli.app import app

_MODEL = typer.Option(None, "--model", "-m", help="Model directory (treediff bundle, training run/checkpoint, or a "
                                                  "local transformers masked-diffusion LM), or an embedded model: "
                                                  "default (used when none is given) | parallel (its distilled student, "
                                                  "for --block 0 --threshold 0.9).")
_DEVICE = typer.Option("auto", "--device", help="auto | cpu | cuda")
_STEPS = typer.Option(None, "--steps", min=1, help="Denoising steps in all (default: one token per step).")
_BLOCK = typer.Option(32, "--block", min=0, help="Semi-autoregressive block length in tokens (0 = one block).")
_THRESHOLD = typer.Option(None, "--threshold", help="Confidence-threshold parallel decoding, e.g. 0.9.")
_ORDER = typer.Option("low_confidence", "--order", help="random | low_confidence | margin | entropy")
_SEED = typer.Option(0, "--seed")
_CONSTRAINT = typer.Option("full", "--constraint", help="none | grammar | remask | full")
_ROUNDS = typer.Option(3, "--rounds", min=0, max=100, help="Compiler-remasking rounds K.")
_TEMP = typer.Option(0.0, "--temperature", help="0 = greedy.")
_TOP_P = typer.Option(1.0, "--top-p")
_REPORT = typer.Option(None, "--report", help="Validity report: out.html | out.md | out.json")
_JSON = typer.Option(False, "--json", help="One JSON object per sample.")
_TRUST = typer.Option(False, "--trust-remote-code", help="Run an external model's own modelling code.")
_THREADS = typer.Option(None, "--threads", min=1,
                        help="torch CPU threads (default: the free cores, 1 on a busy 2-core machine; see docs/sampling.md).")
_LANG = typer.Option(None, "--lang", "-l", help="Language; detected from the extension by default.")


# the sampler's field names as the flags that set them, for error messages
_FLAGS = {"block_size": "--block", "max_rounds": "--rounds", "top_p": "--top-p", "max_new_tokens": "--max-new-tokens",
          "steps": "--steps", "threshold": "--threshold", "order": "--order", "constraint": "--constraint",
          "temperature": "--temperature", "device": "--device", "seed": "--seed", "edit_attempts": "--edits"}


def _settings(device, steps, block, threshold, order, seed, constraint, rounds, temperature, top_p, **more):
    """The sampler settings, checked here so that a bad value is reported by its flag's name."""
    from treediff.errors import ConfigError, InputError
    from treediff.sample import make_config

    settings = {"device": device, "steps": steps, "block_size": block, "threshold": threshold, "order": order,
                "seed": seed, "constraint": constraint, "max_rounds": rounds, "temperature": temperature,
                "top_p": top_p, **{k: v for k, v in more.items() if v is not None}}
    try:
        make_config(**settings)
    except ConfigError as err:
        name, _, rest = str(err).partition(" ")
        raise InputError(f"{_FLAGS.get(name, name)} {rest}") from None
    return settings


@app.command()
def synth(
    spec: str = typer.Argument(..., help="Task text, a stub file (.py), code with <|hole|>, or a .jsonl of specs."),
    n: int = typer.Option(1, "--n", min=1, help="Samples per spec."),
    signature: Optional[str] = typer.Option(None, "--signature", help="Target signature for a text spec, e.g. 'add(a, b)'."),
    lang: str = typer.Option("python", "--lang", "-l"),
    max_new_tokens: Optional[int] = typer.Option(None, "--max-new-tokens", min=1, help="Tokens generated per sample (default 128)."),
    model: Optional[str] = _MODEL, device: str = _DEVICE, steps: Optional[int] = _STEPS, block: int = _BLOCK,
    threshold: Optional[float] = _THRESHOLD, order: str = _ORDER, seed: int = _SEED, constraint: str = _CONSTRAINT,
    rounds: int = _ROUNDS, temperature: float = _TEMP, top_p: float = _TOP_P, report: Optional[Path] = _REPORT,
    as_json: bool = _JSON, trust_remote_code: bool = _TRUST, threads: Optional[int] = _THREADS,
) -> None:
    """Synthesise programs from specifications, each with its validity record.

    Each program is written as soon as it is done; progress and the summary go to stderr.

    Ctrl-C stops, says how many were written, and exits 130.

    Examples:

      treediff synth "Return the largest element of xs." --signature "largest(xs)"
      treediff synth examples/specs/humaneval_head.jsonl --json > programs.jsonl
      treediff synth examples/specs/humaneval_head.jsonl --n 2 --report runs/synth.html
    """
    from treediff.sample.cli_support import run_synth

    settings = _settings(device, steps, block, threshold, order, seed, constraint, rounds, temperature, top_p,
                         max_new_tokens=max_new_tokens)
    raise typer.Exit(run_synth(spec, model=model, n=n, signature=signature, language=lang, as_json=as_json,
                               report=report, settings=settings, trust_remote_code=trust_remote_code, threads=threads))


@app.command()
def infill(
    file: Path = typer.Argument(..., help="Code with <|hole|>, <|hole:expression|>, ... markers."),
    select: Optional[List[str]] = typer.Option(None, "--select", help="Node selector, e.g. 'body of f' (repeatable)."),
    lang: Optional[str] = _LANG,
    model: Optional[str] = _MODEL, device: str = _DEVICE, steps: Optional[int] = _STEPS, block: int = _BLOCK,
    threshold: Optional[float] = _THRESHOLD, order: str = _ORDER, seed: int = _SEED, constraint: str = _CONSTRAINT,
    rounds: int = _ROUNDS, temperature: float = _TEMP, top_p: float = _TOP_P, report: Optional[Path] = _REPORT,
    as_json: bool = _JSON, trust_remote_code: bool = _TRUST, threads: Optional[int] = _THREADS,
) -> None:
    """Fill the typed holes of FILE (constrained infilling).

    Examples:

      printf 'def f(x):\\n    return <|hole:expression|>\\n' > h.py && treediff infill h.py
      treediff infill examples/python/inventory.py --select "body of restock" --json
    """
    from treediff.sample.cli_support import run_infill

    settings = _settings(device, steps, block, threshold, order, seed, constraint, rounds, temperature, top_p)
    raise typer.Exit(run_infill(str(file), model=model, language=lang, select=select, as_json=as_json, report=report,
                                settings=settings, trust_remote_code=trust_remote_code, threads=threads))


@app.command()
def repair(
    file: Path = typer.Argument(..., help="Source file with syntax errors."),
    lang: Optional[str] = _LANG,
    model: Optional[str] = _MODEL, device: str = _DEVICE, steps: Optional[int] = _STEPS, block: int = _BLOCK,
    threshold: Optional[float] = _THRESHOLD, order: str = _ORDER, seed: int = _SEED, constraint: str = _CONSTRAINT,
    rounds: int = _ROUNDS, temperature: float = _TEMP, top_p: float = _TOP_P, report: Optional[Path] = _REPORT,
    as_json: bool = _JSON, trust_remote_code: bool = _TRUST, threads: Optional[int] = _THREADS,
    edits: int = typer.Option(6, "--edits", min=0, max=16,
                              help="Point edits (insert or replace one unit at the parser's failure point) tried "
                                   "before whole statements are remasked; 0 = statements only."),
    diff: bool = typer.Option(False, "--diff", help="Print a unified diff of FILE and the repair, not the code."),
) -> None:
    """Repair FILE with the smallest edit that works: point edits at the parser's failure point, then each
    invalid region's enclosing statement remasked and denoised again.

    Examples:

      treediff repair b.py --diff
      treediff repair b.py --json --report repair.html
    """
    from treediff.sample.cli_support import run_repair

    settings = _settings(device, steps, block, threshold, order, seed, constraint, rounds, temperature, top_p)
    settings["edit_attempts"] = edits
    raise typer.Exit(run_repair(str(file), model=model, language=lang, as_json=as_json, report=report,
                                settings=settings, trust_remote_code=trust_remote_code, threads=threads, diff=diff))


@app.command()
def sample(
    prompt: str = typer.Option("", "--prompt", help="Text before the generated tokens (default: none)."),
    n: int = typer.Option(1, "--n", min=1, help="Samples."),
    length: int = typer.Option(64, "--length", min=1, help="Generated tokens per sample."),
    lang: str = typer.Option("python", "--lang", "-l"),
    model: Optional[str] = _MODEL, device: str = _DEVICE, steps: Optional[int] = _STEPS, block: int = _BLOCK,
    threshold: Optional[float] = _THRESHOLD, order: str = _ORDER, seed: int = _SEED, constraint: str = _CONSTRAINT,
    rounds: int = _ROUNDS, temperature: float = _TEMP, top_p: float = _TOP_P, report: Optional[Path] = _REPORT,
    as_json: bool = _JSON, trust_remote_code: bool = _TRUST, threads: Optional[int] = _THREADS,
) -> None:
    """Raw unconditional or prompted generation (research).

    Examples:

      treediff sample --prompt "def f(x):" --n 4 --json
    """
    from treediff.sample.cli_support import run_sample

    settings = _settings(device, steps, block, threshold, order, seed, constraint, rounds, temperature, top_p)
    raise typer.Exit(run_sample(prompt, model=model, language=lang, n=n, length=length, as_json=as_json,
                                report=report, settings=settings, trust_remote_code=trust_remote_code, threads=threads))


@app.command()
def export(
    source: Path = typer.Argument(..., help="Training run, checkpoint directory or step_* checkpoint."),
    out: Path = typer.Option(..., "--out", "-o", help="Directory to write the model bundle to."),
    note: Optional[str] = typer.Option(None, "--note", help="Free text stored in treediff_model.json."),
) -> None:
    """Bundle a checkpoint with its tokenizer into one model directory for --model.

    Examples:

      treediff export runs/tiny -o my_model && treediff synth "Return x." --model my_model
    """
    from treediff.sample.models import export_bundle

    typer.echo(f"wrote {export_bundle(source, out, note=note)}", err=True)
