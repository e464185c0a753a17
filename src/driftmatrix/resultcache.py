"""Cell results cached by content: a cell whose inputs did not change is not run again.

A cell's result depends only on what its fingerprint covers (resume.py): the environment as
resolved (interpreter build, pins, platform, image), the limits, the artifact, golden set,
recipe and runner code, the probes and the trust decision. So what a cell did is kept under its
fingerprint, in ``cache_dir/results/<fp[:2]>/<fp>.json``, and any run on this machine — another
output directory, another matrix file with the same cell — reuses it instead of running the
cell. What is kept is the cell's observations (cellrun.py), not its verdict: a reused cell is
decided again by the running driftmatrix and compared again with this run's reference.

Decisions:

* **Infrastructure failures are never kept**: an ``infra-error`` (daemon down, runner died
  without a result) says nothing about the cell, and the next run must try again.
* **A build-error is kept for an hour** (:data:`BUILD_ERROR_SECONDS`): "no wheel for this
  Python" is a fact about the package index, which may publish the wheel later; within the
  hour (uv's own index cache is shorter) a rerun does not ask again.
* **A cell whose environment cannot be identified** (no interpreter for its Python, no Docker
  daemon) is never looked up nor kept: its key is unknown.
* **Jobs that leave files behind** (the grid's ``save`` probe writes the model the next stage
  loads) are not cached: a reused result would have no file.
* **A damaged entry is a miss**: truncated, not JSON, not our schema, or facts that cannot be
  decided — the cell runs again and its entry is rewritten. Never a traceback.
* Entries are written atomically (temp file, rename), so concurrent runs and a killed run
  never leave half an entry; not fsync-ed: an entry a crash of the machine empties is a miss.
  Nothing is evicted: delete ``cache_dir/results`` whenever no run is going.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from pathlib import Path

from driftmatrix.cellrun import CellRun
from driftmatrix.cells import Cell
from driftmatrix.outcome import Verdict
from driftmatrix.results import CellResult, write_json_atomic
from driftmatrix.resume import reusable
from driftmatrix.runner import MAX_RESULT_BYTES

#: Bump when the entry layout changes: older entries are then misses.
SCHEMA = 1
#: How long a build-error is reused (seconds).
BUILD_ERROR_SECONDS = 3600.0


class ResultCache:
    """What cells did, by fingerprint, in one directory (``cache_dir/results``).

    Args:
        directory: Where entries live.
        clock: Wall-clock seconds (tests pass a fake to age entries).
    """

    def __init__(self, directory: Path, clock: Callable[[], float] = time.time) -> None:
        self.directory = directory
        self._clock = clock

    def path(self, fingerprint: str) -> Path:
        """Where the entry of ``fingerprint`` lives."""
        return self.directory / fingerprint[:2] / f"{fingerprint}.json"

    def get(self, fingerprint: str) -> CellRun | None:
        """The run kept under ``fingerprint``; None when there is none or it is unusable."""
        try:
            with self.path(fingerprint).open("rb") as handle:
                data = handle.read(MAX_RESULT_BYTES + 1)
            if len(data) > MAX_RESULT_BYTES:
                return None
            doc = json.loads(data)
            if doc.get("schema") != SCHEMA or doc.get("fingerprint") != fingerprint:
                return None
            run = CellRun.from_json(doc["run"])
            stored = float(doc["stored"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
            return None
        if "build_error" in run.facts and self._clock() - stored > BUILD_ERROR_SECONDS:
            return None
        return run

    def put(self, fingerprint: str, run: CellRun) -> None:
        """Keep ``run`` under ``fingerprint`` (the caller decides what is worth keeping).

        Best effort: a cache that cannot be written (full disk, read-only) costs only a rerun
        next time, never this run's result.
        """
        doc = {"schema": SCHEMA, "fingerprint": fingerprint, "stored": self._clock()}
        with contextlib.suppress(OSError):
            # Compact: an entry holds the cell's raw outputs, and is written while cells run.
            entry = {**doc, "run": run.to_json()}
            write_json_atomic(self.path(fingerprint), entry, durable=False, indent=None)


@dataclass(frozen=True)
class Reuse:
    """Where a run may take a cell's result from instead of running the cell.

    Attributes:
        cache: The result cache; None when nothing is cached (a job that saves files).
        fresh: Never take a result from the cache, only keep new ones there (``--no-cache``:
            every cell runs, and what it does now replaces what was kept).
        resume_dir: The output directory whose ``cells/`` ``--resume`` keeps; None without it.
    """

    cache: ResultCache | None = None
    fresh: bool = False
    resume_dir: Path | None = None

    @classmethod
    def of(
        cls, cache_dir: Path, out_dir: Path, *, cache: bool, resume: bool, probes: Collection[str]
    ) -> Reuse:
        """What a run with these options may reuse.

        Args:
            cache_dir: driftmatrix's cache (entries go to its ``results``).
            out_dir: The run's output directory.
            cache: False with ``--no-cache``.
            resume: ``--resume``.
            probes: The probes the cells run; a job that saves a file (``save``) is not cached.
        """
        kept = ResultCache(cache_dir / "results") if "save" not in probes else None
        return cls(kept, fresh=not cache, resume_dir=out_dir if resume else None)

    def find(self, cell: Cell, fingerprint: str) -> CellResult | None:
        """A finished result for ``cell`` with this fingerprint, marked with where it came from.

        ``--resume`` first (the result this output directory already holds), then the cache.
        """
        if self.resume_dir is not None:
            previous = reusable(self.resume_dir, cell.id, fingerprint)
            if previous is not None:
                return replace(previous, reused="resume")
        run = self.cache.get(fingerprint) if self.cache is not None and not self.fresh else None
        if run is None:
            return None
        try:
            return run.result(cell, fingerprint, reused="cache")
        except Exception:  # facts damaged in a way only deciding them shows: run the cell
            return None

    def keep(self, fingerprint: str, run: CellRun, result: CellResult) -> None:
        """Cache ``run`` (decided as ``result``) unless it says nothing about the cell: an
        ``infra-error`` is the host's failure, not the cell's."""
        if self.cache is not None and result.verdict is not Verdict.INFRA_ERROR:
            self.cache.put(fingerprint, run)
