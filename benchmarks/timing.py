"""Run one command and measure it: wall time, CPU time, peak memory, with a time limit."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.machine import busy_cpu_seconds


@dataclass(frozen=True)
class Timed:
    """One measured command.

    Attributes:
        name: What was run, for logs and tables.
        seconds: Wall time from start to exit (or to the kill, on a timeout).
        returncode: The exit code; None when the command ran past its time limit and was killed.
        cpu_seconds: User + system CPU of the command and of every child it waited for.
        peak_rss_mib: The largest resident set of any one process in the command's tree (Linux
            reports the maximum over the process and its waited-for descendants).
        log: The file holding the command's stdout and stderr.
        other_cores: The other work the machine did meanwhile, in cores kept busy on average
            (all CPU time spent on the machine, less this command's, over its wall time).
    """

    name: str
    seconds: float
    returncode: int | None
    cpu_seconds: float
    peak_rss_mib: float
    log: Path
    other_cores: float = 0.0

    @property
    def timed_out(self) -> bool:
        """True when the command was stopped by its time limit."""
        return self.returncode is None

    def output(self) -> str:
        """What the command printed (stdout and stderr, interleaved as written)."""
        return self.log.read_text(encoding="utf-8", errors="replace")


def run_timed(
    name: str,
    argv: Sequence[str],
    *,
    log: Path,
    timeout: float,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Timed:
    """Run ``argv`` to completion (or kill it after ``timeout`` seconds) and measure it.

    The command gets its own process group, so a timeout stops everything it started (a nox
    session's pip, a driftmatrix run's cells), and its output goes to ``log``, not to a pipe
    that could fill up. The child is reaped with ``os.wait4`` for its own resource usage: the
    benchmark's other children never count.

    Args:
        name: A label for the result.
        argv: The command.
        log: Where stdout and stderr go (overwritten).
        timeout: Seconds before the process group is killed.
        cwd: The working directory.
        env: The environment (default: this process's).

    Returns:
        The measurement.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as sink:
        busy = busy_cpu_seconds()
        start = time.perf_counter()
        proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=None if env is None else dict(env),
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        killed = threading.Event()

        def kill() -> None:
            killed.set()
            with contextlib.suppress(ProcessLookupError):  # it ended as the timer fired
                os.killpg(proc.pid, signal.SIGKILL)

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        seconds = time.perf_counter() - start
    cpu = usage.ru_utime + usage.ru_stime
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code  # reaped here, not by Popen: tell it, or it warns on collection
    return Timed(
        name=name,
        seconds=seconds,
        returncode=None if killed.is_set() else code,
        cpu_seconds=cpu,
        peak_rss_mib=usage.ru_maxrss / 1024,  # kilobytes on Linux
        log=log,
        other_cores=other_cores(busy, cpu, seconds),
    )


def other_cores(busy_before: float, own_cpu: float, seconds: float) -> float:
    """Cores' worth of CPU the rest of the machine used since ``busy_before`` (never negative)."""
    return max(0.0, busy_cpu_seconds() - busy_before - own_cpu) / max(seconds, 1e-9)
