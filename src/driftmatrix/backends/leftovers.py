"""What a harness killed with -9 leaves behind, and how the next run finds and removes it.

A killed harness cannot clean up, and its cells do not notice: a venv cell runs in its own
session (so a Ctrl-C in the terminal is ours to handle) and would run on, past its deadline,
since the deadline is enforced by the harness. So each harness records who it is and which
process groups it started, in a small file per harness under the cache; the next run kills
the groups of harnesses that are gone. Docker containers carry the same owner in a label
(:data:`OWNER_LABEL`), and the daemon is the record.

An owner is ``<boot id>:<pid>:<start time>``: a pid alone may be reused by another process
after the harness died, and a record from before a reboot names processes that no longer exist.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

#: Label of every container and probe container: the owner (see :func:`owner`).
OWNER_LABEL = "org.driftmatrix.owner"
_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


def start_time(pid: int) -> str | None:
    """The start time of process ``pid`` in clock ticks since boot, or None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    fields = stat.rpartition(")")[2].split()
    return fields[19] if len(fields) > 19 else None


def boot_id() -> str:
    """This boot of this machine ("" where /proc does not say)."""
    try:
        return _BOOT_ID.read_text().strip()
    except OSError:
        return ""


def owner(pid: int | None = None) -> str:
    """The owner string of process ``pid`` (this process by default)."""
    pid = os.getpid() if pid is None else pid
    return f"{boot_id()}:{pid}:{start_time(pid) or ''}"


def owner_gone(owner_string: str, *, earlier_boots: bool = True) -> bool:
    """True only when the owner certainly no longer runs.

    That is: an owner of this boot whose pid is dead or belongs to another process now; or,
    with ``earlier_boots``, any other boot id. That suits records in this machine's own cache
    (a record of an earlier boot names processes that died with it) but not a Docker daemon
    that other machines may share: their boot ids differ from ours while they run. A malformed
    owner is never judged gone.
    """
    boot, _, rest = owner_string.partition(":")
    pid_text, _, started = rest.partition(":")
    if not boot or not pid_text.isdigit():
        return False
    if boot != boot_id():
        return earlier_boots
    return start_time(int(pid_text)) != started


class LiveGroups:
    """The process groups this harness started that may still run, kept on disk.

    Args:
        directory: Where the records are (``<cache>/live``); one file per harness.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._owner = owner()
        self._path = directory / f"{os.getpid()}-{self._owner.rsplit(':', 1)[1]}.json"
        self._lock = threading.Lock()
        self._groups: dict[int, str] = {}

    @contextlib.contextmanager
    def holding(self, pgid: int) -> Iterator[None]:
        """Record process group ``pgid`` (its leader's pid) while the block runs."""
        started = start_time(pgid)
        with self._lock:
            if started is not None:
                self._groups[pgid] = started
                self._write()
        try:
            yield
        finally:
            with self._lock:
                self._groups.pop(pgid, None)
                self._write()

    def _write(self) -> None:
        if not self._groups:
            with contextlib.suppress(FileNotFoundError):
                self._path.unlink()
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        doc = {
            "owner": self._owner,
            "groups": [{"pgid": p, "start": s} for p, s in sorted(self._groups.items())],
        }
        temporary = self._path.with_suffix(".tmp")
        temporary.write_text(json.dumps(doc), encoding="utf-8")
        os.replace(temporary, self._path)


def sweep_groups(directory: Path) -> int:
    """Kill the process groups recorded by harnesses that are gone; return how many.

    A group is killed only when its leader is the very process that was recorded (same start
    time), so a reused pid is never hit. Records of live harnesses are left alone.
    """
    killed = 0
    with contextlib.suppress(FileNotFoundError):
        records = sorted(directory.glob("*.json"))
        for record in records:
            try:
                doc = json.loads(record.read_text(encoding="utf-8"))
                owner_string = str(doc["owner"])
                groups = [(int(g["pgid"]), str(g["start"])) for g in doc["groups"]]
            except (OSError, ValueError, KeyError, TypeError):
                continue  # being written, or not ours: never guess
            if not owner_gone(owner_string):
                continue
            for pgid, started in groups:
                if pgid > 1 and start_time(pgid) == started:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(pgid, signal.SIGKILL)
                        killed += 1
            with contextlib.suppress(OSError):
                record.unlink()
    return killed
