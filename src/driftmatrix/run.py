"""A run: every selected cell provisioned, probed, compared with the reference, written down.

The run is a chain of small stages (as in nox): plan (planning.py: select cells, stage the
runner, freeze the inputs, fingerprint the cells) → for each cell look up a result to reuse,
else provision its environment (ahead, pipeline.py) and run, read, classify, write
``cells/<id>.json`` → compare every cell with the reference → write ``results.json``. A cell that
fails never affects another, and every finished cell is on disk before the next stage starts,
so an interrupted run loses nothing.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from driftmatrix import planning, runner, verdict
from driftmatrix.backends.base import Backend, Environment, Invocation
from driftmatrix.cellrun import CellRun
from driftmatrix.cells import Cell
from driftmatrix.compare import Policy, compare
from driftmatrix.errors import BuildError, InfraError
from driftmatrix.jobs import default_jobs as default_jobs  # the commands' default --jobs
from driftmatrix.pipeline import Pending, Pipeline, Stages
from driftmatrix.planning import Plan
from driftmatrix.progress import Phase
from driftmatrix.resultcache import Reuse
from driftmatrix.results import CellResult, RunResults, cell_path, read_cell, write_cell
from driftmatrix.resume import RunInputs, result_fingerprint
from driftmatrix.spec import MatrixSpec

#: Called with each finished cell, its position and the total, for progress lines.
Progress = Callable[[CellResult, int, int], None]

#: Called as a cell enters a phase (queued, building, ready, probing, waiting), for a live display.
PhaseChange = Callable[[str, Phase], None]


@dataclass(frozen=True)
class RunOptions:
    """How to run a matrix.

    Attributes:
        out_dir: Where results go.
        jobs: How many cells run at once.
        cell_ids: Run only these cells (and the reference, which every comparison needs).
        compare: False for a CI job's share: exactly ``cell_ids``, compared later by ``merge``.
        resume: Reuse finished cells whose inputs are unchanged from ``out_dir/cells``.
        cache: Reuse results of unchanged cells from the result cache, and keep new ones there
            (resultcache.py); False for ``--no-cache``, which also re-reads the inputs.
        backend: Override every cell's backend (``--backend``), or None.
        trusted_sha256: Artifact hashes trusted whatever globals they reference
            (``--trust-sha256``), beside the matrix's ``artifact.trusted_sha256``.
        probes: The probes every cell's job requests (``load`` becomes ``train`` in train
            mode); the full suite unless a command needs less or more (``driftmatrix grid``).
        imported: The pinned distributions the imports probe checks (None: every pin); a lock
            pins dozens whose import names cannot be guessed (``driftmatrix review``).
    """

    out_dir: Path
    jobs: int = 1
    cell_ids: tuple[str, ...] = ()
    compare: bool = True
    resume: bool = False
    cache: bool = True
    backend: str | None = None
    trusted_sha256: tuple[str, ...] = ()
    probes: tuple[str, ...] = runner.PROBES
    imported: frozenset[str] | None = None


class Cancelled(Exception):
    """A cell was stopped because the run was interrupted; it has no result."""


class Runner:
    """Runs a matrix with the given backends.

    Args:
        spec: The matrix.
        options: How to run it.
        backends: Backend name → backend instance, for every backend the cells use.
        cache_dir: Where the runner code is staged, inputs frozen and results cached.
        progress: Called as each cell finishes.
        phase: Called as each cell is queued, starts building, is ready for a free worker,
            starts probing, waits for the reference.
    """

    def __init__(
        self,
        spec: MatrixSpec,
        options: RunOptions,
        backends: Mapping[str, Backend],
        cache_dir: Path,
        progress: Progress | None = None,
        phase: PhaseChange | None = None,
    ) -> None:
        self.spec = spec
        self.options = options
        self.backends = backends
        self.cache_dir = cache_dir
        self.progress = progress
        self.phase = phase or (lambda cell_id, phase: None)
        self._cancelled = threading.Event()
        self._reuse = Reuse.of(
            cache_dir,
            options.out_dir,
            cache=options.cache,
            resume=options.resume,
            probes=options.probes,
        )

    def backend_name(self, cell: Cell) -> str:
        """The backend that runs ``cell`` (``--backend`` wins over the matrix)."""
        return planning.backend_name(self.options, cell)

    def plan(self) -> Plan:
        """Everything before the first cell starts, and nothing after (planning.py)."""
        return planning.make_plan(self.spec, self.options, self.backends, self.cache_dir)

    def run(self) -> RunResults:
        """Run the selected cells (and the reference), compare, write results.json.

        Memory stays flat in the number of cells: a cell's raw outputs live in its file once it
        is written, and only the reference's are kept (every comparison needs them).
        """
        plan = self.plan()
        inputs, todo = plan.inputs, plan.cells
        final: dict[str, CellResult] = {}
        waiting: list[CellResult] = []  # finished before the reference: compared once it is in
        aside: set[str] = set()  # waiting without their outputs
        reference: CellResult | None = None
        for cell in todo:
            self.phase(cell.id, Phase.QUEUED)
        stages = Stages(
            look_up=lambda cell: self._look_up(cell, plan),
            build=self._provision,
            probe=lambda pending, env, spent: self._probe(pending, env, spent, plan.inputs),
            failed=self._failed,
        )
        # At most twice --jobs cells are in flight (pipeline.py): cells that finish at once
        # (reused results) cannot pile up, outputs and all, faster than they are compared, and
        # environments are built no further ahead than --jobs cells.
        pipeline = Pipeline(stages, self.options.jobs, self.phase)
        try:
            for result in pipeline.results(todo):
                if result.id == self.spec.reference and self.options.compare:
                    reference = result
                    waiting.insert(0, result)
                elif reference is None and self.options.compare:
                    # Its file holds the outputs until the reference is in: not memory.
                    waiting.append(result.kept())
                    aside.add(result.id)
                    self.phase(result.id, Phase.WAITING)
                    continue
                else:
                    waiting.append(result)
                for done in waiting:
                    if done.id in aside:
                        # Its outputs from its file, and what the file does not hold exactly:
                        # the seconds (rounded there) and where a reused result came from.
                        on_disk = read_cell(cell_path(self.options.out_dir, done.id))
                        done = replace(on_disk, seconds=done.seconds, reused=done.reused)
                    final[done.id] = self._settle(done, reference, len(final) + 1, len(todo))
                waiting.clear()
        except BaseException:
            # Ctrl-C (or a bug): start nothing new, kill what runs, keep what finished — every
            # finished cell is already on disk, so --resume continues from here.
            self._cancelled.set()
            pipeline.abort(self._cancel_backends)
            raise
        pipeline.close()
        cells = tuple(final[cell.id] for cell in self.spec.cells if cell.id in final)
        return self.results(cells, inputs)

    def _cancel_backends(self) -> None:
        for backend in self.backends.values():
            backend.cancel()

    def _settle(
        self, cell: CellResult, reference: CellResult | None, done: int, total: int
    ) -> CellResult:
        """Compare a finished cell with the reference (if any), write its file, report progress.

        Returns the result as the run keeps it (``CellResult.kept``: no raw outputs, they are
        in the file now; probe records and comparison packed).
        """
        result = compare_with_reference(cell, reference, self.spec.compare)
        write_cell(self.options.out_dir, result)
        if self.progress:
            self.progress(result, done, total)
        return result.kept()

    def results(self, cells: tuple[CellResult, ...], inputs: RunInputs) -> RunResults:
        """The run's results from its settled cells."""
        artifact, screening = self.spec.artifact, inputs.screening
        return RunResults(
            matrix={
                "name": self.spec.name,
                "path": str(self.spec.path),
                "sha256": self.spec.sha256,
                "cells": [cell.id for cell in self.spec.cells],  # `merge` names those never run
            },
            artifact={
                "mode": artifact.mode,
                "path": str(artifact.path) if artifact.path else None,
                "recipe": artifact.recipe,
                "format": artifact.format,
                "sha256": inputs.artifact_sha256,
                "golden": str(artifact.golden),
                "globals": list(screening.globals),
                "scan": screening.to_json(),
            },
            reference=self.spec.reference,
            cells=cells,
            compare=self.spec.compare.to_json(),
            inputs=inputs.to_json(self.spec),
        )

    def _look_up(self, cell: Cell, plan: Plan) -> CellResult | Pending:
        """The stage before any build: a cell's result when nothing is to run (its artifact is
        rejected, its result is reused, its environment cannot even be identified), else what
        provisioning and running it needs. A reused cell never gets an environment built."""
        backend_name = self.backend_name(cell)
        inputs, started = plan.inputs, time.monotonic()
        if inputs.screening.rejection:
            # Never opened by any cell: no environment is even built for it.
            facts: dict[str, Any] = {"requested": cell.limits.to_json()}
            facts["rejected_globals"] = inputs.screening.rejection
            resolved = self.backends[backend_name].name if backend_name in self.backends else ""
            run = CellRun(resolved or backend_name, facts)
            return self._record(cell, run, result_fingerprint(plan.fingerprints[cell.id], None))
        failure: Exception | None = None
        try:
            key: str | None = self.backends[backend_name].identify(cell)
        except Exception as exc:  # the cell fails as provisioning would; recorded below
            key, failure = None, exc
        fingerprint = result_fingerprint(plan.fingerprints[cell.id], key)
        reused = self._reuse.find(cell, fingerprint)
        if reused is not None:
            if reused.reused == "cache":
                write_cell(self.options.out_dir, reused)  # on disk as every finished cell is
            return reused
        if failure is not None:
            # An environment nobody could identify has no key to keep its result under.
            seconds = time.monotonic() - started
            return self._conclude(cell, backend_name, fingerprint, failure_facts(failure), seconds)
        backend = self.backends[backend_name]  # "auto" is recorded as what it resolved to
        return Pending(cell, f"{backend.name}:{key}", backend, fingerprint)

    def _provision(self, pending: Pending) -> Environment:
        """The build stage (pipeline.py): the environment of ``pending`` and every cell that
        shares its key."""
        if self._cancelled.is_set():
            raise Cancelled(pending.cell.id)  # nothing new starts once the run is interrupted
        return pending.backend.provision(pending.cell)

    def _failed(self, pending: Pending, exc: Exception, spent: float) -> CellResult:
        """A cell whose environment could not be provisioned: build-error (or infra-error)."""
        facts, cell = failure_facts(exc), pending.cell
        return self._conclude(
            cell, pending.backend.name, pending.fingerprint, facts, spent, keep=True
        )

    def _probe(
        self, pending: Pending, env: Environment, spent: float, inputs: RunInputs
    ) -> CellResult:
        """The run stage, in one of the --jobs workers: start the cell's runner in ``env``;
        every failure becomes its verdict. ``spent``: the seconds it took before (its build)."""
        cell, backend, started = pending.cell, pending.backend, time.monotonic()
        facts: dict[str, Any] = {}
        try:
            work = self.options.out_dir / "work" / cell.id
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir(parents=True)
            job = runner.build_job(
                cell_id=cell.id,
                artifact=inputs.artifact_file,
                artifact_format=self.spec.artifact.format,
                golden=inputs.golden_file,
                target=self.spec.artifact.target,
                packages=cell.pins,
                work=work,
                probes=self.options.probes,
                trusted_types=inputs.screening.trusted_types,
                recipe=self.spec.artifact.recipe if self.spec.artifact.mode == "train" else None,
                imported=self.options.imported,
            )
            self.phase(cell.id, Phase.PROBING)
            execution = backend.run(env, Invocation(inputs.runner_dir, job, work, cell.limits))
            facts["execution"] = execution
            facts["result"] = runner.read_result(work)
        except Exception as exc:  # a backend bug must not cost the other cells their results
            facts.update(failure_facts(exc))
        seconds = spent + time.monotonic() - started
        environment = {"location": env.location, "base": env.base}
        return self._conclude(
            cell, backend.name, pending.fingerprint, facts, seconds, environment, keep=True
        )

    def _conclude(
        self,
        cell: Cell,
        backend: str,
        fingerprint: str,
        facts: Mapping[str, Any],
        seconds: float,
        environment: Mapping[str, Any] | None = None,
        *,
        keep: bool = False,
    ) -> CellResult:
        """Record what a cell did (and ``keep`` it in the result cache)."""
        if self._cancelled.is_set():
            # Killed by us, not by its own doing: recording a verdict would be a lie.
            raise Cancelled(cell.id)
        facts = {"requested": cell.limits.to_json(), **facts}
        run = CellRun(backend, facts, environment or {}, seconds)
        result = self._record(cell, run, fingerprint)
        if keep:
            self._reuse.keep(fingerprint, run, result)
        return result

    def _record(self, cell: Cell, run: CellRun, fingerprint: str) -> CellResult:
        """Decide the cell's verdict from what it did, write its file, return it."""
        result = run.result(cell, fingerprint)
        write_cell(self.options.out_dir, result)
        return result


def failure_facts(exc: Exception) -> dict[str, Any]:
    """The facts a cell's verdict is decided from when its build or run raised ``exc``."""
    if isinstance(exc, BuildError):
        return {"build_error": exc}
    if isinstance(exc, (InfraError, OSError)):
        return {"infra_error": exc}
    if isinstance(exc, runner.ResultUnreadable):
        return {"unreadable": str(exc)}
    # A backend bug must not cost the other cells their results: this cell's infra-error.
    return {"infra_error": f"{type(exc).__name__}: {exc}"}


def compare_with_reference(
    cell: CellResult, reference: CellResult | None, policy: Policy
) -> CellResult:
    """The cell with its final verdict: compared with the reference when both ran."""
    if not cell.verdict.ran:
        return cell
    if reference is None or not reference.verdict.ran:
        decided, flags = verdict.decide_compared(cell=cell, comparison=None)
        return cell.with_comparison(decided, flags, None)
    comparison = compare(reference, cell, policy)
    decided, flags = verdict.decide_compared(cell=cell, comparison=comparison)
    return cell.with_comparison(decided, flags, comparison.to_json())
