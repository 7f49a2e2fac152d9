"""Run logging: one JSONL file, TensorBoard when it is installed, and a rich progress line.

Only the main process logs: build :class:`RunLogger` with ``enabled=False`` elsewhere.
Every record is one JSON object per line in ``<out_dir>/metrics.jsonl`` with ``step``,
``kind`` (``train`` | ``val`` | ``event``) and the metrics.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

__all__ = ["RunLogger", "format_eta"]


def format_eta(seconds: float) -> str:
    """``3725`` → ``'1:02:05'``; unknown → ``'?'``."""
    if not math.isfinite(seconds) or seconds < 0:
        return "?"
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class RunLogger:
    """Write metrics to JSONL (+ TensorBoard) and keep a one-line progress display.

    On a terminal the progress line is a live rich bar; otherwise (pipes, CI logs) each
    ``train`` record prints one plain line, so logs stay readable.
    """

    def __init__(self, out_dir: str | Path, *, total_steps: int, start_step: int = 0, enabled: bool = True,
                 tensorboard: bool = True, progress: bool = True) -> None:
        self.enabled = enabled
        self.total_steps = total_steps
        self.start_step = start_step
        self._t0 = time.perf_counter()
        self._jsonl = None
        self._tb = None
        self._progress = None
        self._console = None
        if not enabled:
            return
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        self.path = out / "metrics.jsonl"
        self._jsonl = open(self.path, "a", encoding="utf-8")
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._tb = SummaryWriter(log_dir=str(out / "tensorboard"))
            except ImportError:  # tensorboard is optional
                self._tb = None
        if progress:
            from rich.console import Console

            self._console = Console(stderr=True)
            if self._console.is_terminal:
                from treediff.progress import ProgressBar

                self._progress = ProgressBar(total_steps, "[bold]train", True, completed=start_step, min_total=0,
                                             info=True, transient=False)

    def log(self, step: int, kind: str, metrics: dict[str, Any]) -> None:
        if not self.enabled:
            return
        record = {"step": step, "kind": kind, "time": round(time.time(), 3), **metrics}
        self._jsonl.write(json.dumps(record) + "\n")
        self._jsonl.flush()
        if self._tb is not None:
            for key, value in metrics.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    self._tb.add_scalar(f"{kind}/{key}", value, step)
        if self._console is not None and kind in ("train", "val"):
            self._show(step, kind, metrics)

    def _show(self, step: int, kind: str, metrics: dict[str, Any]) -> None:
        done = step - self.start_step
        elapsed = time.perf_counter() - self._t0
        eta = elapsed / done * (self.total_steps - step) if done > 0 else float("nan")
        if kind == "train":
            info = f"loss {metrics.get('loss', float('nan')):.4f}  {metrics.get('tokens_per_s', 0):,.0f} tok/s  lr {metrics.get('lr', 0):.2e}"
        else:
            info = f"val_loss {metrics.get('val_loss', float('nan')):.4f}  val_acc {metrics.get('val_acc', float('nan')):.3f}"
        if self._progress is not None:
            if kind == "train":
                self._progress.update(completed=step, info=info)
            else:
                self._progress.print(f"step {step}: {info}")
        else:
            self._console.print(f"{kind} step {step}/{self.total_steps}  {info}  eta {format_eta(eta)}", highlight=False)

    def event(self, step: int, message: str, **fields: Any) -> None:
        """A one-off note (resume, checkpoint written) in the JSONL file and on the console."""
        if not self.enabled:
            return
        self.log(step, "event", {"message": message, **fields})
        if self._console is not None:
            self._console.print(message, highlight=False)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.close()
        if self._tb is not None:
            self._tb.close()
        if self._jsonl is not None:
            self._jsonl.close()
            self._jsonl = None
