"""Cells through two stages: environments built ahead, cells run by ``--jobs`` workers.

A cell is looked up (its environment identified, its result searched in the caches), then its
environment is provisioned, then its runner runs. The last step is the work of a cell that
cannot be avoided — an interpreter importing the model's libraries, one core busy — and is
what ``--jobs`` bounds. Provisioning is mostly waiting (a venv build with a warm uv cache takes
0.62 s of wall time and 0.27 s of CPU, the rest is the package index answering), so it happens
ahead, in a pool of its own, while the workers run the cells before: a worker is handed a cell
whose environment is ready instead of waiting for the build with a core idle.

Every decision — what to look up, what to build, what to run — is taken by one thread, the one
that takes the results (:meth:`Pipeline.results`); the pools only execute. So the bounds are
plain counts:

* **in flight**: at most ``2 × jobs`` cells are admitted and not yet handed out, as before this
  pipeline (reused results cannot pile up faster than they are compared, and a 10,000-cell
  matrix builds no further ahead than ``jobs`` cells);
* **running**: at most ``jobs`` cells run at once;
* **building**: see :func:`build_slots`;
* **one build per environment**: cells whose environments have the same key share one build, and
  a cell that arrives just after its key was built gets the same outcome (the last ``2 × jobs``
  outcomes are remembered: as many as cells in flight, so memory stays flat in the cells).

Order: lookups are taken in matrix order, builds start in that order and ready cells get free
workers in it, so cells start in matrix order unless an earlier one is still building. The
first cell (the reference: every comparison waits for it) keeps one worker free until it runs.
"""

from __future__ import annotations

import heapq
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from driftmatrix.backends.base import Backend, Environment
from driftmatrix.cells import Cell
from driftmatrix.progress import Phase
from driftmatrix.results import CellResult


@dataclass(frozen=True)
class Pending:
    """A cell whose result was not found: its environment must be provisioned, then it runs.

    Attributes:
        cell: The cell.
        key: Its environment's content key, prefixed with the backend (``Backend.identify``):
            cells with the same key share one build.
        backend: The backend that provisions and runs it (``auto`` resolved).
        fingerprint: What its result is recorded under.
    """

    cell: Cell
    key: str
    backend: Backend
    fingerprint: str


#: A build's outcome: the environment, or why it could not be provisioned (a cell's verdict).
Outcome = Environment | Exception


@dataclass(frozen=True)
class Stages:
    """What each stage does to one cell (the Runner's methods).

    Attributes:
        look_up: A cell's result when it needs no run (reused, rejected, its environment
            cannot even be identified), else what provisioning and running it needs.
        build: Provision a pending cell's environment (raises as ``Backend.provision`` does).
        probe: Run a cell in its environment; the float is the seconds it took before the run.
        failed: The result of a cell whose environment could not be provisioned; the float as
            for ``probe``.
    """

    look_up: Callable[[Cell], CellResult | Pending]
    build: Callable[[Pending], Environment]
    probe: Callable[[Pending, Environment, float], CellResult]
    failed: Callable[[Pending, Exception, float], CellResult]


def builds_ahead(jobs: int) -> int:
    """Builds that may overlap running cells: one per four workers, at least one.

    Why four: a venv build (0.62 s wall with a warm uv cache) takes about a fifth of a demo
    cell's run (~3 s), so one build at a time keeps four workers supplied; its CPU (0.27 s, the
    rest is the index's answer) then costs each worker about a tenth of a core; and uv peaks at
    ~50 MiB (measured), small beside the 256 MiB ``jobs.py`` counts for each running cell
    without a memory limit: each build beside running cells adds about a fifth of one cell's
    share to the memory ``--jobs`` was chosen for. A Docker image build takes more CPU and
    memory, which is why this stays a fraction of ``jobs`` rather than growing with the
    look-ahead (``jobs`` cells).
    """
    return max(1, -(-jobs // 4))


def build_slots(jobs: int, busy: int) -> int:
    """How many environments may be building at once while ``busy`` of ``jobs`` workers have a
    cell (running, or ready and about to).

    A worker with no cell gives its core to a build — at the start every worker's cell is
    building, as it was before builds were pipelined, and when builds fall behind (cold caches,
    Docker images) idle workers lend them their cores — plus :func:`builds_ahead` builds that
    overlap running cells.
    """
    return max(0, jobs - busy) + builds_ahead(jobs)


@dataclass
class _Build:
    """One environment being provisioned (or waiting for a build slot) and the cells waiting
    for it: ``(position, pending, since, spent)`` — since when each waits, what it had spent."""

    key: str
    cells: list[tuple[int, Pending, float, float]] = field(default_factory=list)
    started: float | None = None


class Pipeline:
    """Runs cells through the stages with the bounds of the module docstring.

    Use :meth:`results` once, then :meth:`close` (or :meth:`abort` when the run was interrupted).

    Args:
        stages: What each stage does (the Runner's).
        jobs: How many cells run at once (``--jobs``).
        phase: Called from this thread as a cell starts building or waits, built, for a worker.
    """

    def __init__(self, stages: Stages, jobs: int, phase: Callable[[str, Phase], None]) -> None:
        self.stages = stages
        self.jobs = max(1, jobs)
        self.depth = 2 * self.jobs
        self.phase = phase
        # Sized so that nothing queues inside a pool: the bounds are the decisions above.
        most = self.depth + self.jobs + builds_ahead(self.jobs)
        self._prepare = ThreadPoolExecutor(most, thread_name_prefix="driftmatrix-prepare")
        self._workers = ThreadPoolExecutor(self.jobs, thread_name_prefix="driftmatrix-cell")
        self._open = 0  # admitted, not handed out
        self._lookups: dict[Future[tuple[CellResult | Pending, float, float]], int] = {}
        self._looked: dict[int, tuple[CellResult | Pending, float, float]] = {}  # out of order
        self._next = 0  # the position whose lookup is taken next
        self._wanted: dict[str, _Build] = {}  # key → build waiting for a slot, or building
        self._to_build: deque[str] = deque()  # keys waiting for a build slot, in matrix order
        self._builds: dict[Future[tuple[Outcome, float]], _Build] = {}
        self._outcomes: OrderedDict[str, Outcome] = OrderedDict()
        self._ready: list[tuple[int, Pending, Environment, float]] = []  # a heap by position
        self._said_ready: set[str] = set()
        self._runs: set[Future[CellResult]] = set()
        self._done: deque[CellResult] = deque()
        # The first cell (the reference) keeps a worker until it runs: before this pipeline it
        # held one from its first moment, and every comparison waits for it.
        self._first_open = True

    def results(self, cells: Iterable[Cell]) -> Iterator[CellResult]:
        """Each cell's result as it finishes; the next cells are admitted as results are taken.

        Raises:
            Exception: A stage's bug (not a cell's failure: those are results).
        """
        queue = enumerate(cells)
        while True:
            for position, cell in islice(queue, self.depth - self._open):
                self._open += 1
                self._lookups[self._prepare.submit(self._look_up, cell)] = position
            self._schedule()
            if self._done:
                self._open -= 1
                yield self._done.popleft()
                continue
            running: list[Future[Any]] = [*self._lookups, *self._builds, *self._runs]
            if not running:
                return
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                self._collect(future)

    def close(self) -> None:
        """Release the threads once :meth:`results` is exhausted."""
        self._prepare.shutdown()
        self._workers.shutdown()

    def abort(self, stop: Callable[[], None]) -> None:
        """Start nothing new, call ``stop`` (which stops the runs), and wait for what was
        started: a build in progress ends on its own (Ctrl-C reaches uv too) and its cells are
        never run or recorded."""
        for pool in (self._prepare, self._workers):
            pool.shutdown(wait=False, cancel_futures=True)
        stop()
        for pool in (self._prepare, self._workers):
            pool.shutdown(wait=True)

    def _look_up(self, cell: Cell) -> tuple[CellResult | Pending, float, float]:
        started = time.monotonic()
        found = self.stages.look_up(cell)
        return found, started, time.monotonic()

    def _build(self, pending: Pending) -> tuple[Outcome, float]:
        outcome: Outcome
        try:
            outcome = self.stages.build(pending)
        except Exception as exc:  # the cells' verdict (build-error, infra-error), not ours
            outcome = exc
        return outcome, time.monotonic()

    def _schedule(self) -> None:
        """Start the builds and runs the bounds allow, earliest cells first."""
        while self._to_build and len(self._builds) < build_slots(self.jobs, self._busy()):
            key = self._to_build.popleft()
            build = self._wanted[key]
            build.started = time.monotonic()
            for _, pending, _, _ in build.cells:
                self.phase(pending.cell.id, Phase.BUILDING)
            self._builds[self._prepare.submit(self._build, build.cells[0][1])] = build
        while self._ready:
            reserved = self._first_open and self._ready[0][0] != 0
            if len(self._runs) >= self.jobs - reserved:
                break
            position, pending, env, spent = heapq.heappop(self._ready)
            self._first_open &= position != 0
            self._said_ready.discard(pending.cell.id)
            self._runs.add(self._workers.submit(self.stages.probe, pending, env, spent))
        for _, pending, _, _ in self._ready:
            if pending.cell.id not in self._said_ready:
                self._said_ready.add(pending.cell.id)
                self.phase(pending.cell.id, Phase.READY)

    def _busy(self) -> int:
        """Workers with a cell: running, or ready to run in the next free one."""
        return len(self._runs) + len(self._ready)

    def _collect(self, future: Future[Any]) -> None:
        """Take in a finished lookup, build or run."""
        if future in self._lookups:
            # Taken in matrix order (lookups take milliseconds): builds then start in that
            # order, the reference's first, whichever lookup the threads finished first.
            self._looked[self._lookups.pop(future)] = future.result()
            while self._next in self._looked:
                self._take(self._next, *self._looked.pop(self._next))
                self._next += 1
        elif future in self._builds:
            build = self._builds.pop(future)
            del self._wanted[build.key]
            outcome, ended = future.result()
            self._outcomes[build.key] = outcome
            while len(self._outcomes) > self.depth:
                self._outcomes.popitem(last=False)
            begun = ended if build.started is None else build.started
            for position, pending, since, spent in build.cells:
                self._built(position, pending, outcome, spent + ended - max(since, begun))
        else:
            self._runs.discard(future)
            self._done.append(future.result())

    def _take(
        self, position: int, found: CellResult | Pending, started: float, looked: float
    ) -> None:
        """A cell looked up: finished, or waiting for its environment's build."""
        if isinstance(found, CellResult):
            self._finished(position, found)
        elif found.key in self._outcomes:
            self._built(position, found, self._outcomes[found.key], looked - started)
        else:
            build = self._wanted.get(found.key)
            if build is None:
                build = self._wanted[found.key] = _Build(found.key)
                self._to_build.append(found.key)
            elif build.started is not None:
                self.phase(found.cell.id, Phase.BUILDING)
            build.cells.append((position, found, looked, looked - started))

    def _built(self, position: int, pending: Pending, outcome: Outcome, spent: float) -> None:
        """A cell's environment is provisioned (or failed to be): it is ready, or finished."""
        if isinstance(outcome, Exception):
            self._finished(position, self.stages.failed(pending, outcome, spent))
        else:
            heapq.heappush(self._ready, (position, pending, outcome, spent))

    def _finished(self, position: int, result: CellResult) -> None:
        self._first_open &= position != 0
        self._done.append(result)
