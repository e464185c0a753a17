"""How many cells run at once by default: what the machine's cores and memory allow.

The work of a cell that cannot be avoided is one interpreter importing the model's libraries
and predicting, which keeps one core busy; so one cell per core, never more (a second cell on a
busy core makes both slower and their latency numbers meaningless). Memory bounds it too: each
cell may use up to its memory limit, or :data:`CELL_MEMORY` when it has none, and the cells
running at once must fit in the memory available now. Both are read as this process sees them:
the CPUs it may run on (affinity) and a cgroup's CPU quota, ``MemAvailable`` and a cgroup's
memory limit (a CI container sees the host's cores and memory otherwise).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from pathlib import Path

from driftmatrix.limits import Limits

#: The memory a cell without a memory limit is assumed to need: twice the largest peak of the
#: demo's cells (127 MiB: Python 3.13, scikit-learn 1.9 and numpy 2.3 predicting an
#: ExtraTreesClassifier), for models larger than the demo's.
CELL_MEMORY = 256 * 1024 * 1024


def default_jobs(
    limits: Iterable[Limits] = (), *, cores: int | None = None, memory: int | None = None
) -> int:
    """Cells to run at once: one per core, as many as the available memory holds.

    Args:
        limits: The limits of the cells to run; the largest memory limit (or
            :data:`CELL_MEMORY` for a cell without one) is what each running cell may need.
        cores: Usable cores; read from this machine when None.
        memory: Available memory in bytes; read from this machine when None (unknown: no bound).
    """
    cores = usable_cores() if cores is None else cores
    memory = available_memory() if memory is None else memory
    jobs = max(1, cores)
    if memory is not None:
        per_cell = max((limit.memory or CELL_MEMORY for limit in limits), default=CELL_MEMORY)
        jobs = min(jobs, max(1, memory // max(1, int(per_cell))))
    return jobs


def usable_cores() -> int:
    """The CPUs this process may run on, bounded by its cgroup's CPU quota."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        cores = os.cpu_count() or 1
    quota = _cpu_quota()
    return max(1, min(cores, math.ceil(quota)) if quota else cores)


def available_memory() -> int | None:
    """Bytes of memory available to this process now; None when it cannot be told."""
    found = []
    try:
        for line in Path("/proc/meminfo").read_text(encoding="ascii").splitlines():
            if line.startswith("MemAvailable:"):
                found.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    room = _cgroup_memory_room()
    if room is not None:
        found.append(room)
    return min(found) if found else None


def _cgroup_dirs(controller: str) -> list[Path]:
    """This process's cgroup directories for ``controller``: v2's unified one, and v1's."""
    root = Path("/sys/fs/cgroup")
    dirs = []
    try:
        lines = Path("/proc/self/cgroup").read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        if controllers == "":
            dirs.append(root / path.lstrip("/"))
        elif controller in controllers.split(","):
            dirs.append(root / controllers / path.lstrip("/"))
    return dirs


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii").strip()
    except OSError:
        return None


def _cpu_quota() -> float | None:
    """Cores' worth of CPU time the cgroup allows, or None when unlimited or unknown."""
    for directory in _cgroup_dirs("cpu"):
        v2 = (_read(directory / "cpu.max") or "max").split()
        v1 = [_read(directory / f"cpu.cfs_{name}_us") or "-1" for name in ("quota", "period")]
        for quota, period in (v2 if len(v2) == 2 else ["max", "1"], v1):
            if quota.isdigit() and period.isdigit() and int(period) > 0:
                return int(quota) / int(period)
    return None


def _cgroup_memory_room() -> int | None:
    """The cgroup's memory limit minus what it uses, or None when unlimited or unknown."""
    for directory in _cgroup_dirs("memory"):
        for limit_name, usage_name in (
            ("memory.max", "memory.current"),
            ("memory.limit_in_bytes", "memory.usage_in_bytes"),
        ):
            limit, usage = _read(directory / limit_name), _read(directory / usage_name)
            # v1 says "unlimited" with a huge number rather than "max".
            if limit and usage and limit.isdigit() and int(limit) < 1 << 60:
                return max(0, int(limit) - int(usage))
    return None
