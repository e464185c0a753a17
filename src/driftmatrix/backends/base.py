"""The backend interface: provision an environment for a cell, run the runner in it.

Like pypa/build's isolated environment, the interface is small and its consumer (``run.py``)
never knows which backend it got. Backends are chosen from the plain mapping in
``backends/__init__.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from driftmatrix.cells import Cell
from driftmatrix.limits import Limits


@dataclass(frozen=True)
class Environment:
    """A provisioned, reusable environment for one pinned set.

    Attributes:
        backend: Name of the backend that made it.
        key: Content fingerprint of the environment (Python + pins + platform).
        python: The interpreter to start, as the backend understands it (a host path for venv,
            a path inside the image for docker).
        python_version: Full version of that interpreter, e.g. ``"3.10.13"``.
        location: Where it lives (a directory for venv, an image tag for docker).
        reused: True when it came from the cache rather than being built now.
        build_seconds: Time spent building (0 when reused).
        base: What it was built on: the host interpreter (venv) or the Python image (docker),
            so a report can say which Python really ran.
    """

    backend: str
    key: str
    python: str
    python_version: str
    location: str
    reused: bool = False
    build_seconds: float = 0.0
    base: str = ""


@dataclass(frozen=True)
class Invocation:
    """One start of the in-cell runner.

    Attributes:
        runner_dir: Host directory that contains the ``probes`` package (the working directory
            of the runner process).
        job: The job document (docs/runner-protocol.md) with *host* paths in ``files`` and
            ``work``; the backend rewrites them to what the cell sees before writing job.json.
        work_dir: Host directory the cell may write; ``result.json`` appears here.
        limits: Limits to apply.
    """

    runner_dir: Path
    job: Mapping[str, Any]
    work_dir: Path
    limits: Limits


@dataclass(frozen=True)
class Execution:
    """Facts about how a runner process ended, as the backend observed them.

    Attributes:
        exit_code: Process exit code, or None when it was killed by a signal.
        signal: The signal number that ended it, if any.
        timed_out: The harness stopped it at the time limit.
        oom_killed: The kernel's memory limit killed it (a fact from the cgroup/daemon).
        seconds: Wall-clock time of the run.
        stdout_tail: The last few KiB of its standard output.
        stderr_tail: The last few KiB of its standard error.
        enforced: Which limits were really enforced, e.g. ``{"memory": "cgroup-v1", "cpus": None}``
            (a value names the mechanism; None means not enforced).
    """

    exit_code: int | None
    signal: int | None = None
    timed_out: bool = False
    oom_killed: bool = False
    seconds: float = 0.0
    stdout_tail: str = ""
    stderr_tail: str = ""
    enforced: Mapping[str, str | None] = field(default_factory=dict)


class Backend(Protocol):
    """What every backend provides."""

    name: str

    def identify(self, cell: Cell) -> str:
        """The content key of the environment ``provision(cell)`` gives (its ``key``), found
        without building anything: part of the cell's fingerprint, so a result is reused only
        for the same environment (the Python *as resolved*, the pins, the platform, the image).

        Raises:
            BuildError: the environment cannot exist (no interpreter for the cell's Python).
            InfraError: the backend cannot tell (the Docker daemon is down).
        """
        ...

    def provision(self, cell: Cell) -> Environment:
        """Build (or reuse from the cache) the environment for ``cell``.

        Raises:
            BuildError: the environment cannot be built (pins unresolvable, no wheel...).
            InfraError: the backend itself is unavailable.
        """
        ...

    def run(self, env: Environment, invocation: Invocation) -> Execution:
        """Run the runner once in ``env`` under ``invocation.limits`` and report how it ended.

        Raises:
            InfraError: the backend failed to start or observe the process, or the run was
                cancelled.
        """
        ...

    def cancel(self) -> None:
        """Stop every run in progress now (Ctrl-C): their ``run`` calls raise ``InfraError``."""
        ...
