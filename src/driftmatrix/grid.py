"""The producer × consumer grid: every cell saves the model, every cell loads every cell's file.

``driftmatrix run`` answers "does *this* file work over there?". The grid answers the question
behind an upgrade and a rollback at once: which producer environment → consumer environment
pairs load, warn, drift or fail — forward (a file from an older release in a newer one) and
backward (a newer file in an older release). It is two stages of ordinary runs, so every pair
gets the same isolation, screening, verdicts and files as a cell of ``run``:

1. **Produce**: the matrix in train mode, each cell running the recipe and saving the model
   with its own libraries (the ``save`` probe) in the matrix's format.
2. **Consume**: for each producer that saved a file, the matrix in load mode on that file, with
   the producer as the reference cell: the diagonal is the producer re-loading its own file,
   every other cell is compared with it.

Outputs: ``OUT/produce/`` (stage 1), ``OUT/artifacts/<producer>.<format>`` (the files, read-only),
``OUT/from/<producer>/`` (one run directory per producer), ``OUT/grid.json``.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from driftmatrix.backends.base import Backend
from driftmatrix.errors import MatrixError
from driftmatrix.outcome import Flag, Verdict
from driftmatrix.results import CellResult, ErrorInfo
from driftmatrix.run import PhaseChange, Progress, Runner, RunOptions
from driftmatrix.spec import MatrixSpec

#: Stage 1: train (``load`` becomes ``train`` in train mode), predict, save.
PRODUCE_PROBES = ("environment", "imports", "load", "predict", "save")
#: Stage 2: load a producer's file and predict.
CONSUME_PROBES = ("environment", "imports", "load", "predict")


@dataclass(frozen=True)
class Producer:
    """A cell as a producer: the file it saved, or why it has none.

    Attributes:
        cell: The cell id.
        artifact: The saved file under ``OUT/artifacts``, or None.
        sha256: The file's sha256 ("" without a file).
        failure: Without a file: the cell's verdict (``build-error``; ``load-error`` when the
            recipe raised), or None.
        error: Why the cell saved nothing, or None.
    """

    cell: str
    artifact: Path | None
    sha256: str = ""
    failure: Verdict | None = None
    error: ErrorInfo | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "cell": self.cell,
            "artifact": str(self.artifact) if self.artifact else None,
            "sha256": self.sha256,
            "failure": self.failure.value if self.failure else None,
            "error": self.error.to_json() if self.error else None,
        }


@dataclass(frozen=True)
class Pair:
    """One producer → consumer pair and how it ended (the consumer cell's verdict).

    Attributes:
        producer: The producer cell id.
        consumer: The consumer cell id.
        verdict: The consumer's verdict against the producer re-loading its own file.
        flags: The consumer's flags (``version-warning`` above all).
        error: The consumer's error, or None.
        flipped: Label rows that differ from the producer's (None when not compared).
    """

    producer: str
    consumer: str
    verdict: Verdict
    flags: tuple[Flag, ...] = ()
    error: ErrorInfo | None = None
    flipped: int | None = None

    @property
    def outcome(self) -> str:
        """The grid's word for the pair: ``ok``, ``warn``, ``drift`` or ``fail:<verdict>``."""
        if self.verdict in (Verdict.IDENTICAL, Verdict.EQUIVALENT):
            warned = {Flag.VERSION_WARNING, Flag.LOAD_WARNING} & set(self.flags)
            return "warn" if warned else "ok"
        if self.verdict is Verdict.DRIFT:
            return "drift"
        return f"fail:{self.verdict.value}"

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "producer": self.producer,
            "consumer": self.consumer,
            "outcome": self.outcome,
            "verdict": self.verdict.value,
            "flags": [flag.value for flag in self.flags],
            "error": self.error.to_json() if self.error else None,
            "flipped": self.flipped,
        }


@dataclass(frozen=True)
class Grid:
    """Every producer and every pair, in matrix order.

    Attributes:
        matrix: The matrix's name.
        format: The format the producers saved in.
        cells: Cell ids in matrix order (rows and columns).
        producers: One per cell.
        pairs: One per producer that saved a file and consumer cell.
    """

    matrix: str
    format: str
    cells: tuple[str, ...]
    producers: tuple[Producer, ...]
    pairs: tuple[Pair, ...]

    def pair(self, producer: str, consumer: str) -> Pair | None:
        """The pair, or None when the producer saved nothing."""
        return next(
            (p for p in self.pairs if p.producer == producer and p.consumer == consumer), None
        )

    def to_json(self) -> dict[str, Any]:
        """The document written to ``grid.json``."""
        return {
            "matrix": self.matrix,
            "format": self.format,
            "cells": list(self.cells),
            "producers": [producer.to_json() for producer in self.producers],
            "pairs": [pair.to_json() for pair in self.pairs],
        }


def build_grid(
    spec: MatrixSpec,
    options: RunOptions,
    backends: Mapping[str, Backend],
    cache_dir: Path,
    progress: Progress | None = None,
    phase: PhaseChange | None = None,
    log: Callable[[str], None] | None = None,
) -> Grid:
    """Produce in every cell, then consume every producer's file in every cell.

    Args:
        spec: The matrix; it needs a recipe (every cell trains the model it saves).
        options: Output directory, jobs, backend override, ``--resume``; ``probes`` and
            ``cell_ids`` are set here.
        backends: Backend name → backend, as for a run.
        cache_dir: driftmatrix's cache.
        progress: Called as each cell of each stage finishes.
        phase: Called as each cell of each stage is queued, starts building, starts probing.
        log: Called with one line as each stage starts.

    Raises:
        MatrixError: The matrix has no recipe.
    """
    artifact = spec.artifact
    if artifact.recipe is None:
        raise MatrixError(
            spec.path,
            "artifact.recipe",
            "the grid needs a recipe: every cell trains the model and saves it",
            'add recipe = "recipe.py:train" (a function returning a fitted estimator)',
        )
    out = options.out_dir
    say = log or (lambda line: None)
    count = len(spec.cells)
    say(f"grid: training and saving the model in {count} cells")
    trained = replace(spec, artifact=replace(artifact, mode="train"))
    produce = replace(options, out_dir=out / "produce", probes=PRODUCE_PROBES, cell_ids=())
    produced = Runner(trained, produce, backends, cache_dir, progress, phase).run()
    producers = tuple(_producer(cell, out, artifact.format) for cell in produced.cells)
    pairs: list[Pair] = []
    for producer in producers:
        if producer.artifact is None:
            continue
        loaded = replace(
            spec,
            artifact=replace(
                artifact, mode="load", path=producer.artifact, sha256=None, trusted_sha256=None
            ),
            reference=producer.cell,
        )
        say(f"grid: loading the file of {producer.cell} in {count} cells")
        consume = replace(
            options, out_dir=out / "from" / producer.cell, probes=CONSUME_PROBES, cell_ids=()
        )
        results = Runner(loaded, consume, backends, cache_dir, progress, phase).run()
        pairs.extend(_pair(producer.cell, cell) for cell in results.cells)
    return Grid(
        matrix=spec.name,
        format=artifact.format,
        cells=tuple(cell.id for cell in spec.cells),
        producers=producers,
        pairs=tuple(pairs),
    )


def _producer(cell: CellResult, out: Path, fmt: str) -> Producer:
    save = cell.probes.get("save")
    if not isinstance(save, Mapping) or save.get("status") != "ok":
        # A model that fits and predicts but cannot be saved gives no artifact either: for the
        # grid that is the same finding as a recipe that raises.
        failure = cell.verdict if not cell.verdict.ran else Verdict.LOAD_ERROR
        error = cell.error
        if error is None and isinstance(save, Mapping):
            reported = save.get("error") or {}
            error = ErrorInfo(
                str(reported.get("type", "SaveFailed")), str(reported.get("message", ""))
            )
        error = error or ErrorInfo("NotSaved", "the cell saved no model")
        return Producer(cell.id, None, failure=failure, error=error)
    # The file the cell wrote is kept under a name of ours: the cell chose neither path nor name.
    source = out / "produce" / "work" / cell.id / f"artifact.{fmt}"
    target = out / "artifacts" / f"{cell.id}.{fmt}"
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        target.chmod(0o644)
    shutil.copyfile(source, target)
    target.chmod(0o444)
    return Producer(cell.id, target, sha256=str(save.get("sha256", "")))


def _pair(producer: str, cell: CellResult) -> Pair:
    flipped = None
    if isinstance(cell.comparison, Mapping):
        labels = cell.comparison.get("labels")
        if isinstance(labels, Mapping) and isinstance(labels.get("flipped"), int):
            flipped = labels["flipped"]
    return Pair(producer, cell.id, cell.verdict, cell.flags, cell.error, flipped)


def grid_exit_code(grid: Grid, fail_on: tuple[Verdict, ...]) -> int:
    """The exit code of ``driftmatrix grid``: the rule of ``driftmatrix run`` over every pair.

    1 when a pair, or a producer that could not give a model, ended with a verdict in
    ``fail_on``; else 3 when any ended with an infrastructure error; else 0.
    """
    verdicts = [pair.verdict for pair in grid.pairs]
    verdicts += [p.failure for p in grid.producers if p.failure is not None]
    if any(v in fail_on and not v.is_infrastructure for v in verdicts):
        return 1
    if any(v.is_infrastructure for v in verdicts):
        return 3
    return 0
