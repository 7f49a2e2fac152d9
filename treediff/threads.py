"""How many torch CPU threads to use: the cores that are actually free, not every core.

torch's default (one thread per core) is many times slower than one thread on a small machine
that is busy with anything else: the threads wait on each other.  ``default_num_threads`` takes the
cores this process may run on, leaves one for the rest of the machine, subtracts the current load,
and splits what is left between the processes of a ``torchrun`` job; ``OMP_NUM_THREADS`` (when set)
wins.  ``--threads N`` on the command line overrides all of it.

>>> default_num_threads(cores=2, load=0.0)
1
>>> default_num_threads(cores=16, load=3.2)
12
>>> default_num_threads(cores=16, load=0.0, processes=4)
3
"""

from __future__ import annotations

import os

from treediff.errors import InputError

__all__ = ["available_cores", "default_num_threads", "set_num_threads"]


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def _load() -> float:
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):  # Windows
        return 0.0


def default_num_threads(*, cores: int | None = None, load: float | None = None, processes: int | None = None) -> int:
    """``min(cores, max(1, cores - 1 - load)) // processes`` (at least 1); ``OMP_NUM_THREADS`` wins when set
    and no argument is given."""
    if cores is None and load is None and processes is None:
        omp = os.environ.get("OMP_NUM_THREADS", "").strip()
        if omp.isdigit() and int(omp) > 0:
            return int(omp)
    cores = available_cores() if cores is None else cores
    load = _load() if load is None else load
    if processes is None:
        local = os.environ.get("LOCAL_WORLD_SIZE", "1")
        processes = int(local) if local.isdigit() and int(local) > 0 else 1
    free = min(cores, max(1, cores - 1 - int(load)))
    return max(1, free // processes)


def set_num_threads(threads: int | None, *, flag: str = "--threads") -> int:
    """Set torch's intra-op threads to ``threads`` (``None``: :func:`default_num_threads`); returns the count.

    A count below 1 is an :class:`~treediff.errors.InputError` naming ``flag``.
    """
    if threads is not None and (not isinstance(threads, int) or threads < 1):
        raise InputError(f"{flag} must be a whole number >= 1 (or left out for the free cores), got {threads!r}")
    import torch

    count = default_num_threads() if threads is None else threads
    torch.set_num_threads(count)
    return count
