"""Cells: one environment (Python × pinned packages × resource limits × backend) of a matrix.

Cells are frozen values with a readable, stable ``id`` (usable on a command line) and a content
``fingerprint``. Expanding a matrix into cells is a pure function (:func:`expand`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

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
        """The part of a cell id that names these limits, e.g. ``mem512m-cpu1`` (timeout excluded)."""
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

    def to_json(self) -> dict[str, Any]:
        """The limits as they appear in results.json (without ``enforced``)."""
        return {
            "memory": format_memory(self.memory) if self.memory is not None else None,
            "cpus": self.cpus,
            "timeout": self.timeout,
        }


@dataclass(frozen=True)
class Cell:
    """One environment of the matrix.

    Attributes:
        id: Stable readable id, e.g. ``py3.12-scikit-learn1.5.2-numpy2.1.3-mem512m-cpu1``.
        python: Python version as written in the matrix, ``"3.12"`` (or ``"3.12.1"``).
        packages: Canonical distribution name → exact version, in id order.
        limits: Resource limits.
        backend: ``"venv"``, ``"docker"`` or ``"auto"``.
    """

    id: str
    python: str
    packages: tuple[tuple[str, str], ...]
    limits: Limits = field(default_factory=Limits)
    backend: str = "venv"

    @property
    def pins(self) -> dict[str, str]:
        """The requested pins as a mapping."""
        return dict(self.packages)

    def environment_key(self) -> dict[str, Any]:
        """What identifies the *environment* (not the limits): Python and the sorted pins."""
        return {"python": self.python, "packages": sorted(self.packages)}

    def fingerprint(self) -> str:
        """Content hash of everything that defines this cell (environment, limits, backend)."""
        doc = {
            "env": self.environment_key(),
            "limits": self.limits.to_json(),
            "backend": self.backend,
        }
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def make_id(
    python: str,
    packages: tuple[tuple[str, str], ...],
    limits: Limits,
    backend_suffix: str | None = None,
) -> str:
    """Build a cell id from its parts: ``py{python}-{name}{version}...[-{limits}][-{backend}]``."""
    parts = [f"py{python}"]
    parts.extend(f"{name}{version}" for name, version in packages)
    if limits.label:
        parts.append(limits.label)
    if backend_suffix:
        parts.append(backend_suffix)
    return "-".join(parts)
