"""Run one host process in its own session under a deadline and limits; report how it ended.

One thread does everything: it multiplexes the child's stdout and stderr (keeping only their
tails, so a child printing gigabytes costs a few KiB), notices when the child exits, and kills the
whole process group at the deadline. Nothing outlives the run: once the child has exited, whatever
is left in its session or its cgroup is killed too.
"""

from __future__ import annotations

import contextlib
import os
import select
import selectors
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from driftmatrix.backends.base import Execution
from driftmatrix.backends.leftovers import LiveGroups
from driftmatrix.backends.oslimits import Confinement
from driftmatrix.errors import InfraError
from driftmatrix.limits import Limits

#: How much of each output stream is kept.
TAIL_BYTES = 8 * 1024
_POLL_SECONDS = 0.05
#: After the child exited, how long to wait for pipes held open by escaped descendants.
_DRAIN_SECONDS = 2.0
#: The launcher execs within milliseconds; this only guards against a wedged host.
_START_SECONDS = 60.0


class _Tail:
    """The last ``limit`` bytes of a stream."""

    def __init__(self, limit: int = TAIL_BYTES) -> None:
        self._limit = limit
        self._buffer = bytearray()

    def feed(self, data: bytes) -> None:
        self._buffer += data
        if len(self._buffer) > self._limit:
            del self._buffer[: len(self._buffer) - self._limit]

    def text(self) -> str:
        return self._buffer.decode("utf-8", errors="replace")


def supervise(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    limits: Limits,
    cgroups: bool = True,
    cancel: threading.Event | None = None,
    live: LiveGroups | None = None,
) -> Execution:
    """Run ``argv`` to completion under ``limits`` and describe how it ended.

    Args:
        argv: The command; ``argv[0]`` must be a path to an executable.
        cwd: Its working directory.
        env: Its complete environment (nothing is inherited).
        limits: Memory and cpus are applied by a :class:`Confinement`; ``timeout`` is wall-clock.
        cgroups: False skips cgroups (only the rlimit fallback then applies).
        cancel: Once set, the process group is killed and InfraError raised (Ctrl-C).
        live: Where the process group is recorded while it runs, so that the next run can
            kill it if this harness is killed first.

    Raises:
        InfraError: the process could not be started, or ``cancel`` was set.
    """
    with Confinement(limits, cgroups=cgroups) as confinement:
        status_read, status_write = os.pipe()
        start = time.monotonic()
        try:
            proc = subprocess.Popen(
                confinement.launcher(argv, status_write),
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=(status_write,),
                # Its own session and process group: the deadline kills the runner *and* every
                # worker it started, and a Ctrl-C in our terminal is ours to handle, not theirs.
                start_new_session=True,
            )
        except OSError as exc:
            os.close(status_read)
            raise InfraError(f"could not start {argv[0]}: {exc}") from exc
        finally:
            os.close(status_write)
        with proc, live.holding(proc.pid) if live is not None else contextlib.nullcontext():
            try:
                failure = _await_exec(status_read)
            finally:
                os.close(status_read)
            if failure is not None:
                _kill_group(proc.pid)
                proc.wait()
                raise InfraError(f"could not start {argv[0]}: {failure}")
            timed_out, ended, out, err = _watch(
                proc, start + limits.timeout, confinement, cancel or threading.Event()
            )
            returncode = proc.wait()
        if cancel is not None and cancel.is_set():
            raise InfraError("the run was cancelled")
        oom_kills = confinement.oom_kills()
        enforced = dict(confinement.enforced)
    killed_by = -returncode if returncode < 0 else None
    return Execution(
        exit_code=returncode if returncode >= 0 else None,
        signal=killed_by,
        timed_out=timed_out,
        # A fact, not a guess from exit 137: the cgroup counted an OOM kill *and* our child died
        # of SIGKILL which we did not send (we only send it at the deadline).
        oom_killed=killed_by == signal.SIGKILL and not timed_out and oom_kills > 0,
        seconds=round(ended - start, 3),
        stdout_tail=out,
        stderr_tail=err,
        enforced=enforced,
    )


def _await_exec(fd: int) -> str | None:
    """Wait until the launcher exec'd (EOF on the status pipe) or reported why it could not."""
    chunks: list[bytes] = []
    deadline = time.monotonic() + _START_SECONDS
    while (remaining := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            continue
        data = os.read(fd, 4096)
        if not data:
            return b"".join(chunks).decode("utf-8", errors="replace") or None
        chunks.append(data)
    return f"the launcher did not start the command within {_START_SECONDS:.0f} s"


def _watch(
    proc: subprocess.Popen[bytes],
    deadline: float,
    confinement: Confinement,
    cancel: threading.Event,
) -> tuple[bool, float, str, str]:
    """Pump output and wait for exit or deadline; return (timed_out, end time, stdout, stderr)."""
    assert proc.stdout is not None and proc.stderr is not None
    tails = {proc.stdout.fileno(): _Tail(), proc.stderr.fileno(): _Tail()}
    selector = selectors.DefaultSelector()
    for fd in tails:
        os.set_blocking(fd, False)
        selector.register(fd, selectors.EVENT_READ)
    timed_out = False
    ended: float | None = None
    try:
        while True:
            now = time.monotonic()
            if ended is None and _exited(proc):
                ended = now
                # The runner is gone: whatever it left behind in its session or cgroup is an
                # orphan that must not outlive the cell (or hold our pipes open forever).
                _kill_group(proc.pid)
                confinement.kill_all()
            elif ended is None and cancel.is_set():
                _kill_group(proc.pid)
                confinement.kill_all()
            elif ended is None and now >= deadline and not timed_out:
                timed_out = True
                _kill_group(proc.pid)
                confinement.kill_all()
            if ended is not None and (not selector.get_map() or now >= ended + _DRAIN_SECONDS):
                break
            if not selector.get_map():
                time.sleep(_POLL_SECONDS)
                continue
            for key, _ in selector.select(timeout=_POLL_SECONDS):
                with contextlib.suppress(BlockingIOError):
                    data = os.read(key.fd, 65536)
                    if data:
                        tails[key.fd].feed(data)
                    else:
                        selector.unregister(key.fd)
    finally:
        selector.close()
    out, err = (tail.text() for tail in tails.values())
    return timed_out, ended if ended is not None else time.monotonic(), out, err


def _exited(proc: subprocess.Popen[bytes]) -> bool:
    """True once the child has exited, *without reaping it* where the OS allows.

    An unreaped child keeps its pid, so killing its process group afterwards cannot hit an
    unrelated process that reused the number.
    """
    waitid = getattr(os, "waitid", None)
    if waitid is None:  # macOS before Python 3.13
        return proc.poll() is not None
    try:
        return waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
