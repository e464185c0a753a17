"""Best-effort resource limits for one host process: cgroups when writable, else an rlimit.

A :class:`Confinement` creates a fresh cgroup per run (v1 or v2, per controller, nested under the
cgroup this process already lives in, so limits set on *us* still apply to the cell), and
builds a small launcher command that moves itself into that cgroup, applies rlimits and then
``exec``\\ s the real command. The process is therefore inside its limits before its first
instruction runs, without ``preexec_fn`` (which is unsafe once the host runs cells in threads).

After the run the cgroup tells us, as a fact, whether the kernel's OOM killer fired in it, then it
is emptied and removed. What was really enforced is reported in :attr:`Confinement.enforced`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from driftmatrix.limits import Limits

CGROUP_V1 = "cgroup-v1"
CGROUP_V2 = "cgroup-v2"
#: RLIMIT_AS caps address space, not memory: allocations fail with MemoryError instead of the
#: process being killed, and FIELD-NOTES measured ``import sklearn`` busy-looping for minutes
#: under it with several BLAS threads. A weak limit, reported as such.
RLIMIT_AS = "rlimit-as"

_PREFIX = "driftmatrix-"
_CFS_PERIOD_US = 100_000
_CONTROLLERS = ("memory", "cpu")

# Runs under the host interpreter with -I -S (fast, isolated). argv: status fd, plan, command...
# Any failure before exec is written to the status fd, which is close-on-exec: the parent reads
# EOF when exec succeeded and a message when it did not (the trick subprocess itself uses).
_LAUNCHER = """\
import json, os, sys
fd = int(sys.argv[1])
try:
    os.set_inheritable(fd, False)
    plan = json.loads(sys.argv[2])
    for procs in plan["join"]:
        with open(procs, "w") as f:
            f.write(str(os.getpid()))
    if plan["rlimit_as"] is not None:
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (plan["rlimit_as"], plan["rlimit_as"]))
    os.execv(sys.argv[3], sys.argv[3:])
except BaseException as exc:
    os.write(fd, ("%s: %s" % (type(exc).__name__, exc)).encode("utf-8", "replace"))
    os._exit(127)
"""


@dataclass(frozen=True)
class _Hierarchy:
    """Where a controller can be managed: its cgroup version and the directory we live in."""

    version: int
    parent: Path


@dataclass(frozen=True)
class _Group:
    """A cgroup directory created for one run and the controllers limited through it."""

    version: int
    path: Path
    controllers: frozenset[str]


class Confinement:
    """Limits for one process start; a context manager that removes its cgroups on exit.

    Args:
        limits: The limits to apply (timeout is the caller's business).
        cgroups: Set False to skip cgroups and use only the rlimit fallback.
    """

    def __init__(self, limits: Limits, *, cgroups: bool = True) -> None:
        self._groups: list[_Group] = []
        wanted = {"memory": limits.memory is not None, "cpu": limits.cpus is not None}
        found = _hierarchies() if cgroups and any(wanted.values()) else {}
        by_parent: dict[Path, list[str]] = {}
        for name in _CONTROLLERS:
            if wanted[name] and name in found:
                by_parent.setdefault(found[name].parent, []).append(name)
        for parent, names in by_parent.items():
            version = next(found[name].version for name in names)
            group = _create(version, parent, names, limits)
            if group is not None:
                self._groups.append(group)
        limited = {name: g for g in self._groups for name in g.controllers}
        mechanism = {1: CGROUP_V1, 2: CGROUP_V2}
        self.rlimit_as: int | None = None
        memory: str | None = None
        if "memory" in limited:
            memory = mechanism[limited["memory"].version]
        elif limits.memory is not None and sys.platform.startswith("linux"):
            self.rlimit_as, memory = limits.memory, RLIMIT_AS
        cpus = mechanism[limited["cpu"].version] if "cpu" in limited else None
        #: Which limits are really enforced, by which mechanism (None: not enforced).
        self.enforced: dict[str, str | None] = {
            "memory": memory,
            "cpus": cpus,
            "timeout": "wall-clock",
        }

    def launcher(self, argv: Sequence[str], status_fd: int) -> list[str]:
        """Return the command that confines itself and then ``exec``\\ s ``argv``.

        Args:
            argv: The real command; ``argv[0]`` must be a path.
            status_fd: Write end of a pipe passed to the child (``pass_fds``): it receives an
                error message if anything fails before exec, and is closed by a successful exec.
        """
        plan = {
            "join": [str(g.path / "cgroup.procs") for g in self._groups],
            "rlimit_as": self.rlimit_as,
        }
        return [
            sys.executable,
            "-I",
            "-S",
            "-c",
            _LAUNCHER,
            str(status_fd),
            json.dumps(plan),
            *argv,
        ]

    def oom_kills(self) -> int:
        """How many processes the kernel's OOM killer killed in our memory cgroup (0 without)."""
        for group in self._groups:
            if "memory" not in group.controllers:
                continue
            if group.version == 2:
                return _counter(group.path / "memory.events", "oom_kill")
            count = _counter(group.path / "memory.oom_control", "oom_kill", default=-1)
            if count >= 0:
                return count
            # Kernels before 4.13 have no oom_kill line: hitting the limit is the best fact left.
            fails = (_read_int(group.path / f) for f in ("memory.failcnt", "memory.memsw.failcnt"))
            return 1 if any(n > 0 for n in fails) else 0
        return 0

    def kill_all(self) -> None:
        """SIGKILL every process still in our cgroups, including ones that left our session."""
        for group in self._groups:
            kill_file = group.path / "cgroup.kill"
            if group.version == 2 and kill_file.exists():
                with contextlib.suppress(OSError):
                    kill_file.write_text("1")
            for _ in range(100):
                pids = _pids(group.path)
                if not pids:
                    break
                for pid in pids:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(pid, signal.SIGKILL)
                time.sleep(0.01)

    def close(self) -> None:
        """Empty and remove our cgroups (best effort: a leftover empty directory is harmless)."""
        self.kill_all()
        for group in self._groups:
            for _ in range(200):
                try:
                    group.path.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.01)  # EBUSY until the killed processes have left the group
        self._groups = []

    def __enter__(self) -> Confinement:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def cgroup_support() -> dict[str, str | None]:
    """Which cgroup mechanism would limit memory and cpus here, found by really trying."""
    with Confinement(Limits(memory=1024**3, cpus=1.0)) as probe:
        return {
            "memory": probe.enforced["memory"] if probe.enforced["memory"] != RLIMIT_AS else None,
            "cpus": probe.enforced["cpus"],
        }


def _hierarchies() -> dict[str, _Hierarchy]:
    """Map each controller we use to where we could create a child cgroup for it.

    cgroup v1 is preferred per controller when it is mounted (hybrid hosts mount an almost empty
    v2 hierarchy beside v1). Paths are derived from /proc/self/mountinfo and /proc/self/cgroup so
    that the new group is nested under our own.
    """
    try:
        mountinfo = Path("/proc/self/mountinfo").read_text()
        own = Path("/proc/self/cgroup").read_text()
    except OSError:
        return {}
    own_v1: dict[str, str] = {}
    own_v2: str | None = None
    for line in own.splitlines():
        hier_id, controllers, path = line.split(":", 2)
        if hier_id == "0" and not controllers:
            own_v2 = path
        for name in controllers.split(","):
            own_v1[name] = path
    result: dict[str, _Hierarchy] = {}
    v2: dict[str, _Hierarchy] = {}
    for line in mountinfo.splitlines():
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) < 5 or len(tail) < 3:
            continue
        root, point = fields[3], Path(_unescape(fields[4]))
        if tail[0] == "cgroup":
            for name in set(tail[2].split(",")) & set(_CONTROLLERS):
                parent = _nested(point, root, own_v1.get(name))
                if parent is not None and os.access(parent, os.W_OK):
                    result[name] = _Hierarchy(1, parent)
        elif tail[0] == "cgroup2" and own_v2 is not None:
            parent = _nested(point, root, own_v2)
            try:
                available = (point / "cgroup.controllers").read_text().split()
            except OSError:
                continue
            if parent is not None and os.access(parent, os.W_OK):
                for name in set(available) & set(_CONTROLLERS):
                    v2[name] = _Hierarchy(2, parent)
    return {**v2, **result}


def _create(version: int, parent: Path, names: list[str], limits: Limits) -> _Group | None:
    """Create one child cgroup under ``parent`` limiting ``names``; None when nothing worked."""
    _sweep(parent)
    if version == 2:
        # A v2 child only gets a controller its parent delegates. Enabling it fails (EBUSY) when
        # the parent holds processes itself ("no internal processes"); then we fall back.
        names = [name for name in names if _delegate(parent, name)]
        if not names:
            return None
    path = parent / f"{_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
    try:
        path.mkdir()
    except OSError:
        return None
    limited: set[str] = set()
    for name in names:
        try:
            _apply(version, path, name, limits)
            limited.add(name)
        except OSError:
            continue
    if not limited:
        with contextlib.suppress(OSError):
            path.rmdir()
        return None
    return _Group(version, path, frozenset(limited))


def _apply(version: int, path: Path, name: str, limits: Limits) -> None:
    """Write the limit for controller ``name`` into the new cgroup ``path``."""
    if name == "memory" and limits.memory is not None:
        size = str(limits.memory)
        if version == 1:
            (path / "memory.limit_in_bytes").write_text(size)
            # Swap equal to the limit (as Docker with --memory-swap = --memory): without it, a
            # cell on a host with swap could use limit + swap before being killed.
            memsw = path / "memory.memsw.limit_in_bytes"
            if memsw.exists():
                memsw.write_text(size)
        else:
            (path / "memory.max").write_text(size)
            swap = path / "memory.swap.max"
            if swap.exists():
                swap.write_text("0")
    elif name == "cpu" and limits.cpus is not None:
        quota = max(1000, round(limits.cpus * _CFS_PERIOD_US))
        if version == 1:
            (path / "cpu.cfs_period_us").write_text(str(_CFS_PERIOD_US))
            (path / "cpu.cfs_quota_us").write_text(str(quota))
        else:
            (path / "cpu.max").write_text(f"{quota} {_CFS_PERIOD_US}")


def _delegate(parent: Path, name: str) -> bool:
    control = parent / "cgroup.subtree_control"
    try:
        if name in control.read_text().split():
            return True
        control.write_text(f"+{name}")
        return True
    except OSError:
        return False


def _sweep(parent: Path) -> None:
    """Remove empty cgroups left by driftmatrix processes that died before cleaning up."""
    with contextlib.suppress(OSError):
        for stale in parent.glob(f"{_PREFIX}*"):
            owner = stale.name[len(_PREFIX) :].split("-", 1)[0]
            if owner.isdigit() and not _alive(int(owner)):
                with contextlib.suppress(OSError):
                    stale.rmdir()  # fails while processes remain: then it is not ours to kill


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _nested(point: Path, root: str, own: str | None) -> Path | None:
    """Host directory of our own cgroup ``own`` in a hierarchy mounted at ``point``."""
    if own is None:
        return None
    if root != "/":
        if own != root and not own.startswith(root + "/"):
            return None
        own = own[len(root) :]
    return point / own.lstrip("/")


def _unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as octal (``\\040``)."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def _pids(path: Path) -> list[int]:
    try:
        return [int(p) for p in (path / "cgroup.procs").read_text().split()]
    except (OSError, ValueError):
        return []


def _counter(path: Path, key: str, default: int = 0) -> int:
    """Read ``key N`` from a flat-keyed cgroup file such as memory.events."""
    try:
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    except (OSError, ValueError):
        pass
    return default


def _read_int(path: Path) -> int:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return 0
