"""The baseline: ``benchmarks/plain/noxfile.py`` (nox, virtualenv + pip), one session per cell."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from benchmarks.machine import busy_cpu_seconds
from benchmarks.timing import Timed, other_cores, run_timed

NOXFILE = Path(__file__).parent / "plain" / "noxfile.py"


@dataclass(frozen=True)
class Session:
    """One session of the plain noxfile.

    Attributes:
        name: Its nox name, e.g. ``cell(py3.10-scikit-learn1.3.2-numpy1.26.4)``.
        cell: The cell it stands for: (python, scikit-learn, numpy).
    """

    name: str
    cell: tuple[str, str, str]


@dataclass(frozen=True)
class PlainRun:
    """One run of every plain session, cold environments.

    Attributes:
        jobs: Sessions run at once (1: nox's default, one after the other).
        seconds: Wall time of the whole run.
        sessions: Each session's own measurement, in noxfile order.
        other_cores: The other work the machine did meanwhile (see :class:`Timed`).
    """

    jobs: int
    seconds: float
    sessions: tuple[Timed, ...]
    other_cores: float = 0.0

    @property
    def cpu_seconds(self) -> float:
        """CPU time of every session together."""
        return sum(timed.cpu_seconds for timed in self.sessions)


def nox_argv(*args: str) -> list[str]:
    """The nox command line for the plain noxfile (``--download-python never``: same Pythons)."""
    return [sys.executable, "-m", "nox", "--nocolor", "-f", str(NOXFILE), *args]


def list_sessions(env: Mapping[str, str]) -> list[Session]:
    """The plain noxfile's sessions, as ``nox -l --json`` lists them."""
    proc = subprocess.run(
        nox_argv("-l", "--json"), env=dict(env), capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(f"nox -l --json failed: {proc.stderr.strip()[-2000:]}")
    return [
        Session(
            name=item["session"],
            cell=(item["python"], item["call_spec"]["sklearn"], item["call_spec"]["numpy"]),
        )
        for item in json.loads(proc.stdout)
    ]


def check_cells(sessions: Sequence[Session], cells: Sequence[tuple[str, str, str]]) -> None:
    """Refuse to benchmark a plain noxfile whose cells are not the matrix's (same order).

    Args:
        sessions: The plain noxfile's sessions.
        cells: The matrix's cells as (python, scikit-learn, numpy).

    Raises:
        SystemExit: They differ; the message shows both.
    """
    listed = [session.cell for session in sessions]
    if listed != list(cells):
        raise SystemExit(
            f"{NOXFILE} does not run the demo matrix's cells:\n  noxfile: {listed}\n"
            f"  matrix:  {list(cells)}\nEdit CELLS in the noxfile to match matrix/demo.toml."
        )


def path_with(interpreters: Sequence[str], env: Mapping[str, str]) -> dict[str, str]:
    """``env`` with the directories of ``interpreters`` first on ``PATH``.

    nox finds ``python3.X`` on ``PATH``; putting the interpreters driftmatrix found there first
    makes both sides use the very same Pythons.
    """
    dirs = list(dict.fromkeys(str(Path(exe).parent) for exe in interpreters))
    return {**env, "PATH": os.pathsep.join([*dirs, env.get("PATH", "")])}


def run_plain(
    sessions: Sequence[Session],
    *,
    jobs: int,
    envdir: Path,
    logs: Path,
    timeout: float,
    env: Mapping[str, str],
) -> PlainRun:
    """Run every session in a fresh ``envdir`` (cold environments), ``jobs`` at a time.

    Each session is its own ``nox -s NAME`` process so that each has its own time limit (nox
    has none); that is also how ``nox --parallel`` runs sessions. A failing session (the model
    does not load, no wheel for that Python) is a result, not an error of the benchmark.

    Args:
        sessions: The sessions to run.
        jobs: How many run at once.
        envdir: nox's ``--envdir``; deleted first.
        logs: Directory for each session's output.
        timeout: Seconds each session may take before it is killed.
        env: The environment (PATH with the interpreters, see :func:`path_with`).

    Returns:
        The run.
    """
    shutil.rmtree(envdir, ignore_errors=True)

    def one(index: int) -> Timed:
        session = sessions[index]
        return run_timed(
            session.name,
            nox_argv("--envdir", str(envdir), "--download-python", "never", "-s", session.name),
            log=logs / f"{index + 1}.log",
            timeout=timeout,
            env=env,
        )

    busy, start = busy_cpu_seconds(), time.perf_counter()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        timed = tuple(pool.map(one, range(len(sessions))))
    seconds = time.perf_counter() - start
    own = sum(session.cpu_seconds for session in timed)
    return PlainRun(jobs, seconds, timed, other_cores(busy, own, seconds))


def seeded_pip(envdir: Path) -> str:
    """The pip version virtualenv put into the sessions' environments (e.g. ``pip 25.3``)."""
    for python in sorted(envdir.glob("*/bin/python")):
        proc = subprocess.run(
            [str(python), "-m", "pip", "--version"], capture_output=True, text=True, check=False
        )
        if proc.returncode == 0:
            return " ".join(proc.stdout.split()[:2])
    return "unknown"
