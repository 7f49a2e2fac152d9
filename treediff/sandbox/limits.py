"""Resource limits of one sandboxed run, as a frozen, validated config.

>>> Limits(memory_mb=512).to_dict()["memory_mb"]
512
>>> Limits(wall_seconds=0)
Traceback (most recent call last):
...
treediff.errors.ConfigError: Limits.wall_seconds must be > 0, got 0
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from treediff.errors import ConfigError

__all__ = ["Limits", "COMPILE_LIMITS", "EXEC_LIMITS"]


@dataclass(frozen=True)
class Limits:
    """What one sandboxed program may use.

    ``memory_mb`` caps the address space (``RLIMIT_AS``), ``cpu_seconds`` the CPU time
    (``RLIMIT_CPU``), ``wall_seconds`` the wall clock (the whole process group is killed),
    ``file_size_mb`` any file it writes (``RLIMIT_FSIZE``), ``open_files`` its descriptors
    (``RLIMIT_NOFILE``) and ``processes`` the processes and threads of the sandbox's user
    (``RLIMIT_NPROC``; each sandbox has its own uid when treediff runs as root, see docs/eval.md).
    ``output_bytes`` is how much of stdout and of stderr is kept; the rest is read and dropped.
    """

    memory_mb: int = 2048
    cpu_seconds: int = 30
    wall_seconds: float = 30.0
    file_size_mb: int = 16
    open_files: int = 256
    processes: int = 512
    output_bytes: int = 1 << 20

    def __post_init__(self) -> None:
        for name in ("memory_mb", "cpu_seconds", "file_size_mb", "open_files", "processes", "output_bytes"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"Limits.{name} must be an int >= 1, got {value!r}")
        if not isinstance(self.wall_seconds, (int, float)) or not self.wall_seconds > 0:
            raise ConfigError(f"Limits.wall_seconds must be > 0, got {self.wall_seconds!r}")

    def with_wall(self, seconds: float) -> "Limits":
        """These limits with another wall clock (CPU time follows it, rounded up)."""
        return replace(self, wall_seconds=float(seconds), cpu_seconds=max(1, int(-(-seconds // 1))))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Limits":
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ConfigError(f"unknown Limits field(s) {sorted(unknown)}; choose from {sorted(cls.__dataclass_fields__)}")
        return cls(**data)


#: Compiler front ends: 2 GiB unless the language asks for more; a JVM starts dozens of threads.
COMPILE_LIMITS = Limits(processes=512)
#: Generated programs and their tests: small and short.
EXEC_LIMITS = Limits(memory_mb=1024, cpu_seconds=10, wall_seconds=10.0, file_size_mb=8, open_files=64, processes=64)
