"""Sampling commands: synth, infill, repair, sample (one library call each).

The options every sampling command shares are declared once, in :data:`_FLAGS`: each flag's CLI
name, the field of :class:`~treediff.cli_support.RunOptions` or
:class:`~treediff.sample.config.SamplerConfig` it sets, and its typer option.  :func:`_sampling_command`
adds them to a command and hands it one :class:`~treediff.cli_support.RunOptions`.
"""

from __future__ import annotations

import functools
import inspect
from pathlib import Path
from typing import Any, Callable, List, Optional

import typer

from treediff_cli.app import app

_MODEL_HELP = ("Model directory (treediff bundle, training run/checkpoint, or a local transformers masked-diffusion "
               "LM), or an embedded model: default (used when none is given) | parallel (its distilled student, "
               "for --block 0 --threshold 0.9).")

#: CLI parameter -> (where it goes: "run" = RunOptions, "sampler" = SamplerConfig; the field; its type; the option).
#: The one place a flag is mapped to a field (``--block`` -> ``block_size``, ``--rounds`` -> ``max_rounds``, ...).
_FLAGS: dict[str, tuple[str, str, Any, Any]] = {
    "model": ("run", "model", Optional[str], typer.Option(None, "--model", "-m", help=_MODEL_HELP)),
    "device": ("sampler", "device", str, typer.Option("auto", "--device", help="auto | cpu | cuda")),
    "steps": ("sampler", "steps", Optional[int],
              typer.Option(None, "--steps", min=1, help="Denoising steps in all (default: one token per step).")),
    "block": ("sampler", "block_size", Optional[int],
              typer.Option(None, "--block", min=0, help="Semi-autoregressive block length in tokens (0 = one block; "
                                                         "default 32, or the external model family's).")),
    "threshold": ("sampler", "threshold", Optional[float],
                  typer.Option(None, "--threshold", help="Confidence-threshold parallel decoding, e.g. 0.9.")),
    "order": ("sampler", "order", str,
              typer.Option("low_confidence", "--order",
                           help="random | low_confidence | margin | entropy | left_to_right")),
    "prior_weight": ("sampler", "prior_weight", Optional[float],
                     typer.Option(None, "--prior-weight", min=0.0, max=10.0,
                                  help="Weight of the model's corpus n-gram prior (default: the bundle's own; "
                                       "0 = the denoiser alone; docs/sampling.md).")),
    "seed": ("sampler", "seed", int, typer.Option(0, "--seed")),
    "constraint": ("sampler", "constraint", str,
                   typer.Option("full", "--constraint", help="none | grammar | remask | full")),
    "rounds": ("sampler", "max_rounds", int, typer.Option(3, "--rounds", min=0, max=100, help="Compiler-remasking rounds K.")),
    "remask_region": ("sampler", "remask_region", str,
                      typer.Option("smallest", "--remask-region",
                                   help="smallest (enclosing node) | cfg (basic block + the writes it reads).")),
    "remask_samples": ("sampler", "remask_samples", int,
                       typer.Option(4, "--remask-samples", min=1, max=64,
                                    help="Fills each remasking round decodes in one batch; the first that passes "
                                         "the check is kept (1 = one per round).")),
    "context_drafts": ("sampler", "context_drafts", int,
                       typer.Option(4, "--context-drafts", min=0, max=64,
                                    help="Fragments of the program itself (nodes of the region's kind, ranked by the "
                                         "model) each remasking round also tries; a kept one is counted in the "
                                         "record (num_context_regions); 0 = off.")),
    "context_sweep": ("sampler", "context_sweep", int,
                      typer.Option(32, "--context-sweep", min=0, max=64,
                                   help="After the last remasking round, this many fragments of the program (the "
                                        "nearest) are checked in turn where the fill still fails, best score "
                                        "first; the first that passes is kept and counted as a copy "
                                        "(num_context_regions); 0 = off.")),
    "cache": ("sampler", "use_cache", str,
              typer.Option("auto", "--cache",
                           help="auto | on | off: the block KV cache (treediff models: a block's later steps "
                                "recompute only its window, Fast-dLLM's dual cache; auto = on); off = exact logits.")),
    "temperature": ("sampler", "temperature", float, typer.Option(0.0, "--temperature", help="0 = greedy.")),
    "top_p": ("sampler", "top_p", float, typer.Option(1.0, "--top-p")),
    "report": ("run", "report", Optional[Path],
               typer.Option(None, "--report", help="Validity report: out.html | out.md | out.json")),
    "as_json": ("run", "as_json", bool, typer.Option(False, "--json", help="One JSON object per sample.")),
    "trust_remote_code": ("run", "trust_remote_code", bool,
                          typer.Option(False, "--trust-remote-code", help="Run an external model's own modelling code.")),
    "chat": ("run", "chat", str,
             typer.Option("auto", "--chat", help="auto | on | off: wrap the code in an external instruct model's "
                                                 "chat template (auto: instruct checkpoints).")),
    "threads": ("run", "threads", Optional[int],
                typer.Option(None, "--threads", min=1, help="torch CPU threads (default: the free cores, 1 on a busy "
                                                            "2-core machine; see docs/sampling.md).")),
    # taken only by the commands that name them
    "batch_size": ("sampler", "batch_size", int,
                   typer.Option(1, "--batch-size", min=1, max=1024,
                                help="Specs decoded together (padded; each spec gets the program it gets alone).")),
    "max_new_tokens": ("sampler", "max_new_tokens", Optional[int],
                       typer.Option(None, "--max-new-tokens", min=1, help="Tokens generated per sample (default 128).")),
    "edits": ("sampler", "edit_attempts", int,
              typer.Option(6, "--edits", min=0, max=16,
                           help="Point edits (insert or replace one unit at the parser's failure point) tried "
                                "before whole statements are remasked; 0 = statements only.")),
    "allow_deletions": ("sampler", "allow_deletions", bool,
                        typer.Option(False, "--allow-deletions",
                                     help="Accept a repair that removes more than a few lines of the code "
                                          "(by default it is not ok: exit 1, the lines it would remove on stderr).")),
}
_SHARED = [name for name in _FLAGS if name not in ("max_new_tokens", "edits", "batch_size", "allow_deletions")]
_LANG = typer.Option(None, "--lang", "-l", help="Language; detected from the extension by default.")


def _run_options(flags: dict[str, Any]):
    """The :class:`~treediff.cli_support.RunOptions` of the parsed flags (a ``None`` sampler flag keeps the
    :class:`~treediff.sample.config.SamplerConfig` default)."""
    from treediff.cli_support import RunOptions
    from treediff.sample.config import SamplerConfig

    from treediff.errors import ConfigError, InputError

    run, sampler = {}, {}
    for name, value in flags.items():
        where, key, _, _ = _FLAGS[name]
        if where == "run":
            run[key] = value
        elif value is not None:
            sampler[key] = value
    try:
        config = SamplerConfig.from_dict(sampler)
    except ConfigError as err:  # reported by the flag's name, not the field's
        field, _, rest = str(err).partition(" ")
        flag = next((opt.param_decls[0] for where, key, _, opt in _FLAGS.values() if where == "sampler" and key == field),
                    field)
        raise InputError(f"{flag} {rest}") from None
    return RunOptions(sampler=config, given=frozenset(sampler), **run)


def _sampling_command(*extra: str) -> Callable:
    """Give a command the shared sampling flags (and the ``extra`` ones of :data:`_FLAGS`) after its own
    parameters, and call it with ``options=RunOptions(...)`` in their place."""
    names = _SHARED + list(extra)

    def wrap(fn: Callable) -> Callable:
        sig = inspect.signature(fn)
        own = [p for p in sig.parameters.values() if p.name != "options"]
        added = [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=_FLAGS[n][3], annotation=_FLAGS[n][2])
                 for n in names]

        @functools.wraps(fn)
        def command(**kwargs: Any) -> None:
            flags = {n: kwargs.pop(n) for n in names}
            return fn(options=_run_options(flags), **kwargs)

        command.__signature__ = sig.replace(parameters=[p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own]
                                            + added)
        command.__annotations__ = {**fn.__annotations__, **{n: _FLAGS[n][2] for n in names}}
        command.__annotations__.pop("options", None)
        return command

    return wrap


@app.command()
@_sampling_command("max_new_tokens", "batch_size")
def synth(
    spec: str = typer.Argument(..., help="Task text, a stub file (.py), code with <|hole|>, or a .jsonl of specs."),
    n: int = typer.Option(1, "--n", min=1, help="Samples per spec."),
    signature: Optional[str] = typer.Option(None, "--signature", help="Target signature for a text spec, e.g. 'add(a, b)'."),
    lang: str = typer.Option("python", "--lang", "-l"),
    *, options,
) -> None:
    """Synthesise programs from specifications, each with its validity record.

    Each program is written as soon as it is done; progress and the summary go to stderr.

    Ctrl-C stops, says how many were written, and exits 130.

    Examples:

      treediff synth "Return the largest element of xs." --signature "largest(xs)"
      treediff synth examples/specs/humaneval_head.jsonl --json > programs.jsonl
      treediff synth examples/specs/humaneval_head.jsonl --n 2 --report runs/synth.html
    """
    from treediff.cli_support import run_synth

    raise typer.Exit(run_synth(spec, options, n=n, signature=signature, language=lang))


@app.command()
@_sampling_command()
def infill(
    file: Path = typer.Argument(..., help="Code with <|hole|>, <|hole:expression|>, ... markers."),
    select: Optional[List[str]] = typer.Option(None, "--select", help="Node selector, e.g. 'body of f' (repeatable)."),
    lang: Optional[str] = _LANG,
    *, options,
) -> None:
    """Fill the typed holes of FILE (constrained infilling).

    Examples:

      printf 'def f(x):\\n    return <|hole:expression|>\\n' > h.py && treediff infill h.py
      treediff infill examples/python/inventory.py --select "body of restock" --json
    """
    from treediff.cli_support import run_infill

    raise typer.Exit(run_infill(str(file), options, language=lang, select=select))


@app.command()
@_sampling_command("edits", "allow_deletions")
def repair(
    file: Path = typer.Argument(..., help="Source file with syntax errors."),
    lang: Optional[str] = _LANG,
    diff: bool = typer.Option(False, "--diff", help="Print a unified diff of FILE and the repair, not the code."),
    *, options,
) -> None:
    """Repair FILE with the smallest edit that works: point edits at the parser's failure point, then each
    invalid region's enclosing statement remasked and denoised again.

    Examples:

      treediff repair b.py --diff
      treediff repair b.py --json --report repair.html
    """
    from treediff.cli_support import run_repair

    raise typer.Exit(run_repair(str(file), options, language=lang, diff=diff))


@app.command()
@_sampling_command()
def sample(
    prompt: str = typer.Option("", "--prompt", help="Text before the generated tokens (default: none)."),
    n: int = typer.Option(1, "--n", min=1, help="Samples."),
    length: int = typer.Option(64, "--length", min=1, help="Generated tokens per sample."),
    lang: str = typer.Option("python", "--lang", "-l"),
    *, options,
) -> None:
    """Raw unconditional or prompted generation (research).

    Examples:

      treediff sample --prompt "def f(x):" --n 4 --json
    """
    from treediff.cli_support import run_sample

    raise typer.Exit(run_sample(prompt, options, language=lang, n=n, length=length))


@app.command()
def export(
    source: Path = typer.Argument(..., help="Training run, checkpoint directory or step_* checkpoint."),
    out: Path = typer.Option(..., "--out", "-o", help="Directory to write the model bundle to."),
    note: Optional[str] = typer.Option(None, "--note", help="Free text stored in treediff_model.json."),
    dtype: str = typer.Option("float32", "--dtype", help="Stored weight type: float32, float16 or bfloat16 "
                              "(half the size; loaded back as float32 on the CPU)."),
    max_shard_mb: int = typer.Option(15, "--max-shard-mb", help="Largest weight file in MB (10^6 bytes); "
                                     "bigger models are split into shards."),
    prior: Optional[Path] = typer.Option(None, "--prior", help="A corpus n-gram prior (`treediff data ngram`) "
                                         "to ship in the bundle."),
    prior_weight: float = typer.Option(1.0, "--prior-weight", help="The bundle's default weight of the prior "
                                       "(SamplerConfig.prior_weight overrides it)."),
) -> None:
    """Bundle a checkpoint with its tokenizer into one model directory for --model.

    Examples:

      treediff export runs/tiny -o my_model && treediff synth "Return x." --model my_model
      treediff export runs/multi -o my_model --dtype float16 --max-shard-mb 15 --prior ngram_prior.npz
    """
    from treediff.model.formats import export_bundle

    path = export_bundle(source, out, note=note, dtype=dtype, max_shard_mb=max_shard_mb, prior=prior,
                         prior_weight=prior_weight)
    typer.echo(f"wrote {path}", err=True)
