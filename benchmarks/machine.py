"""The machine and the tools a benchmark ran on, read from /proc and from the tools themselves."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Machine:
    """What the numbers were measured on.

    Attributes:
        facts: Label → value, in the order RESULTS.md shows them (CPU, cores, memory, OS,
            Python, tool versions, the commit measured).
    """

    facts: tuple[tuple[str, str], ...]


def describe(root: Path) -> Machine:
    """Describe this machine, the tools the benchmark drives and the checkout it measures.

    Args:
        root: The repository (for the commit).

    Returns:
        The description; a fact that cannot be read says so instead of failing the benchmark.
    """
    cpuinfo = _read("/proc/cpuinfo")
    meminfo = _read("/proc/meminfo")
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    facts = [
        ("CPU", _field(cpuinfo, "model name")),
        ("cores", f"{os.cpu_count()} (usable by this process: {affinity})"),
        ("memory", _memory(meminfo)),
        ("OS", f"{_os_name()}, Linux {platform.release()}"),
        ("Python (host)", f"{platform.python_version()} ({sys.executable})"),
        ("uv", _version(["uv", "--version"])),
        ("nox", _version([sys.executable, "-m", "nox", "--version"])),
        ("virtualenv", _version([sys.executable, "-m", "virtualenv", "--version"])),
        ("commit", _commit(root)),
    ]
    return Machine(facts=tuple(facts))


def load_average() -> str:
    """The 1/5/15-minute load averages (other work on the machine makes every number noisier)."""
    return " ".join(_read("/proc/loadavg").split()[:3]) or "unknown"


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _field(text: str, name: str) -> str:
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == name:
            return value.strip()
    return "unknown"


def _memory(meminfo: str) -> str:
    value = _field(meminfo, "MemTotal").split()
    if not value or not value[0].isdigit():
        return "unknown"
    return f"{int(value[0]) / 1024**2:.1f} GiB"


def _os_name() -> str:
    for line in _read("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.partition("=")[2].strip().strip('"')
    return platform.system()


def _version(argv: list[str]) -> str:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unavailable ({exc})"
    text = (proc.stdout or proc.stderr).strip().splitlines()
    # "virtualenv 21.1 from /path/...": the version, not where it is installed.
    return text[0].partition(" from ")[0] if proc.returncode == 0 and text else "unavailable"


def _commit(root: Path) -> str:
    head = _version(["git", "-C", str(root), "rev-parse", "--short", "HEAD"])
    try:
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return head
    return f"{head} (with uncommitted changes)" if dirty else head


def busy_cpu_seconds() -> float:
    """CPU seconds every core of the machine has spent busy since boot (from /proc/stat).

    The difference over a step, less the step's own CPU time, is the other work the machine did
    meanwhile; 0.0 when /proc/stat cannot be read (the difference is then 0 too).
    """
    fields = _read("/proc/stat").partition("\n")[0].split()
    if len(fields) < 9 or fields[0] != "cpu":
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def wait_until_quiet(limit: float, *, busy: float = 0.3, calm: int = 3) -> float:
    """Wait until the machine is nearly idle, so that a step is not timed during others' work.

    Args:
        limit: The most seconds to wait; the step then runs anyway (its "other load" shows it).
        busy: Cores' worth of CPU use, at most, that still counts as idle.
        calm: How many consecutive idle seconds are needed.

    Returns:
        The seconds waited.
    """
    start = time.monotonic()
    # Write back what earlier steps left in the page cache first (the plain sessions create and
    # delete gigabytes of environments): otherwise the kernel flushes it during the next step,
    # whose disk reads then wait behind it. /proc/stat's CPU counters do not show that wait.
    os.sync()
    quiet = 0
    while quiet < calm and time.monotonic() - start < limit:
        before = busy_cpu_seconds()
        time.sleep(1.0)
        quiet = quiet + 1 if busy_cpu_seconds() - before <= busy else 0
    return time.monotonic() - start
