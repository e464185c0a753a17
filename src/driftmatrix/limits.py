"""Resource limits of a cell: memory, CPU quota, wall-clock timeout, and the threads they imply."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: The variables that size BLAS/OpenMP thread pools in a cell (:meth:`Limits.thread_environment`).
THREAD_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)

#: The memory size suffixes accepted in matrix files, as powers of 1024 (Docker's convention).
_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def format_memory(size: int) -> str:
    """Return a compact Docker-style size: ``536870912`` → ``"512m"``."""
    for suffix in ("g", "m", "k"):
        unit = _UNITS[suffix]
        if size % unit == 0:
            return f"{size // unit}{suffix}"
    return f"{size}b"


def format_number(value: float) -> str:
    """Return ``1`` for 1.0 and ``0.5`` for 0.5: ids stay short and stable."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


@dataclass(frozen=True)
class Limits:
    """Resource limits of a cell.

    Attributes:
        memory: Memory limit in bytes, or None for no limit.
        cpus: CPU quota (1.0 = one core), or None for no quota.
        timeout: Wall-clock limit for the whole cell run, in seconds.
    """

    memory: int | None = None
    cpus: float | None = None
    timeout: float = 600.0

    @property
    def label(self) -> str:
        """The part of a cell id naming memory and cpus, e.g. ``mem512m-cpu1`` (not the timeout)."""
        parts = []
        if self.memory is not None:
            parts.append(f"mem{format_memory(self.memory)}")
        if self.cpus is not None:
            parts.append(f"cpu{format_number(self.cpus)}")
        return "-".join(parts)

    @property
    def threads(self) -> int:
        """Threads BLAS/OpenMP may use: the CPU quota rounded up, at least 1.

        Why: unbounded OpenMP threads spin-wait against a CPU quota and count against pids
        limits (FIELD-NOTES.md); a quota of 0.5 still needs one thread.
        """
        if self.cpus is None:
            return 0  # 0 means: leave the libraries' defaults alone
        return max(1, int(-(-self.cpus // 1)))

    def thread_environment(self) -> dict[str, str]:
        """Each of :data:`THREAD_VARS` set to :attr:`threads`, or to 1 without a CPU quota."""
        # Thread pools sized to the CPU quota; without a quota, one thread. FIELD-NOTES: unbounded
        # OpenMP threads spin-wait (two parallel fits on 2 cores took minutes instead of seconds),
        # and cells run side by side with --jobs; one thread also keeps latency comparable between
        # a cell and its reference.
        return dict.fromkeys(THREAD_VARS, str(self.threads or 1))

    def to_json(self) -> dict[str, Any]:
        """The limits as they appear in results.json (without ``enforced``)."""
        return {
            "memory": format_memory(self.memory) if self.memory is not None else None,
            "cpus": self.cpus,
            "timeout": self.timeout,
        }
