"""A dependency-upgrade review: the environment of two lock files, as two cells of one run.

The **base** lock (before the change) and the **head** lock (after it) each become a cell that
pins every package of its lock, transitive ones included, at the lock's version: the venv
backend installs them all with ``==`` in one uv call, so the cell gets exactly those releases (or
the cell is ``build-error`` with the resolver's reason), and anything the lock forgot is resolved
by uv and recorded in the cell's ``installed``. The base cell is the reference; the run is an
ordinary :class:`~driftmatrix.run.Runner` run (screening, probes, verdicts, results files).

Why the spec is built here rather than written as a matrix file: a lock pins dozens to hundreds
of packages, and a matrix file's cell ids name every pin; here the cells are called ``base`` and
``head`` (and ``only-…``/``revert-…`` when bisecting). ``[artifact]``, ``[compare]`` and
``[docker]`` still come from a matrix file when one is given (``--matrix``), parsed and
validated as ``driftmatrix run`` does.

The review's verdict is one of three words, mapped from driftmatrix's verdicts in one place
(:data:`OUTCOMES`): ``safe``, ``drift``, ``breaks``; ``unknown`` when the base itself fails or a
cell could not be built.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from driftmatrix.artifactspec import ArtifactSpec
from driftmatrix.cells import Cell, safe_version
from driftmatrix.dockerspec import DockerSpec
from driftmatrix.limits import Limits
from driftmatrix.lockdiff import Change
from driftmatrix.lockfile import Lock
from driftmatrix.outcome import Verdict
from driftmatrix.results import CellResult, RunResults
from driftmatrix.spec import CompareSpec, MatrixSpec

#: The ids of the review's two cells.
BASE = "base"
HEAD = "head"


class Outcome(enum.Enum):
    """The review's verdict on the head, most severe first."""

    BREAKS = "breaks"
    DRIFT = "drift"
    SAFE = "safe"
    #: No honest answer: the base cell itself failed, or a cell could not be built or run.
    UNKNOWN = "unknown"


#: The one mapping from a cell's verdict (compared with a base that ran) to the review's word.
OUTCOMES: Mapping[Verdict, Outcome] = {
    Verdict.IDENTICAL: Outcome.SAFE,
    Verdict.EQUIVALENT: Outcome.SAFE,
    Verdict.DRIFT: Outcome.DRIFT,
    Verdict.PREDICT_ERROR: Outcome.BREAKS,
    Verdict.LOAD_ERROR: Outcome.BREAKS,
    Verdict.IMPORT_ERROR: Outcome.BREAKS,
    Verdict.OOM: Outcome.BREAKS,
    Verdict.TIMEOUT: Outcome.BREAKS,
    # The artifact was refused by the host's scan: the base is refused too, so nothing changed.
    Verdict.REJECTED: Outcome.UNKNOWN,
    Verdict.NOT_COMPARED: Outcome.UNKNOWN,
    Verdict.BUILD_ERROR: Outcome.UNKNOWN,
    Verdict.INFRA_ERROR: Outcome.UNKNOWN,
}


def outcome_of(cell: CellResult, reference: CellResult | None) -> Outcome:
    """The review's word for ``cell``, compared with the base ``reference``.

    ``unknown`` whenever the reference did not load and predict: a cell that fails beside a
    failing base says nothing about the change.
    """
    if reference is None or not reference.verdict.ran:
        return Outcome.UNKNOWN
    return OUTCOMES[cell.verdict]


@dataclass(frozen=True)
class Setup:
    """What the review's cells share, whatever their pins.

    Attributes:
        artifact: ``[artifact]``: the model file (load mode) or recipe (train mode), golden set.
        compare: ``[compare]``: tolerances and ``fail_on``.
        docker: ``[docker]``: the images of docker cells.
        python: The Python version of every cell.
        limits: The limits of every cell.
        backend: The backend of every cell.
        source: The matrix file the settings came from, or None (command-line flags).
    """

    artifact: ArtifactSpec
    python: str
    compare: CompareSpec = field(default_factory=CompareSpec)
    docker: DockerSpec = field(default_factory=DockerSpec)
    limits: Limits = field(default_factory=Limits)
    backend: str = "venv"
    source: Path | None = None


def cell(cell_id: str, versions: Mapping[str, str], setup: Setup) -> Cell:
    """A cell pinning exactly ``versions``."""
    return Cell(cell_id, setup.python, tuple(sorted(versions.items())), setup.limits, setup.backend)


def review_spec(setup: Setup, cells: tuple[Cell, ...], name: str = "review") -> MatrixSpec:
    """The matrix of a review run: ``cells``, the first of them the reference.

    ``path`` names the matrix file the settings came from (or ``review``); ``sha256`` is a hash
    of everything that defines the run, so two reviews of the same inputs are recognisably equal.
    """
    doc = {
        "cells": [[c.id, c.python, list(c.packages), c.limits.to_json(), c.backend] for c in cells],
        "artifact": [str(setup.artifact.path), setup.artifact.recipe, str(setup.artifact.golden)],
        "compare": setup.compare.to_json(),
    }
    return MatrixSpec(
        name=name,
        path=setup.source or Path(name),
        sha256=hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest(),
        artifact=setup.artifact,
        cells=cells,
        reference=cells[0].id,
        compare=setup.compare,
        docker=setup.docker,
    )


def base_and_head(setup: Setup, base: Lock, head: Lock) -> MatrixSpec:
    """The review's run: the ``base`` cell (the reference) and the ``head`` cell."""
    return review_spec(setup, (cell(BASE, base.versions, setup), cell(HEAD, head.versions, setup)))


def change_id(prefix: str, change: Change, forward: bool) -> str:
    """A readable cell id for one change: ``only-scikit-learn-1.2.2-to-1.3.2`` (the base with
    this change alone) or ``revert-scikit-learn-1.3.2-to-1.2.2`` (the head without it)."""
    old, new = (change.base, change.head) if forward else (change.head, change.base)
    return f"{prefix}-{change.name}-{safe_version(old or 'none')}-to-{safe_version(new or 'none')}"


@dataclass(frozen=True)
class ReviewRun:
    """The base and head cells, run and compared.

    Attributes:
        results: The run (base is the reference).
        outcome: The review's verdict on the head.
    """

    results: RunResults
    outcome: Outcome

    @property
    def base(self) -> CellResult | None:
        """The base cell's result."""
        return next((c for c in self.results.cells if c.id == BASE), None)

    @property
    def head(self) -> CellResult | None:
        """The head cell's result."""
        return next((c for c in self.results.cells if c.id == HEAD), None)


def judge(results: RunResults) -> ReviewRun:
    """The review's verdict from a run of the base and head cells."""
    base = next((c for c in results.cells if c.id == BASE), None)
    head = next((c for c in results.cells if c.id == HEAD), None)
    outcome = outcome_of(head, base) if head is not None else Outcome.UNKNOWN
    return ReviewRun(results, outcome)


def lock_json(lock: Lock) -> dict[str, Any]:
    """A lock as review.json records it."""
    return {
        "label": lock.label,
        "format": lock.format,
        "python": lock.python,
        "pins": [
            {"name": p.name, "version": p.version, "direct": p.direct, "where": p.where}
            for p in lock.pins
        ],
        "notes": list(lock.notes),
    }


def change_json(change: Change) -> dict[str, Any]:
    """A change as review.json records it."""
    return {
        "name": change.name,
        "kind": change.kind.value,
        "base": change.base,
        "head": change.head,
        "direct": change.direct,
    }


#: The distributions a review cell's imports probe checks, when the lock pins them: the model
#: libraries. A lock pins dozens of other packages whose import names it does not give (the
#: distribution ``beautifulsoup4`` is imported as ``bs4``); importing those by a guessed name
#: would make a healthy cell ``import-error``. Loading the model imports what it needs anyway.
IMPORTED = frozenset(
    {
        "scikit-learn", "numpy", "scipy", "joblib", "threadpoolctl", "pandas", "skops",
        "onnx", "onnxruntime", "skl2onnx", "xgboost", "lightgbm", "catboost",
    }
)  # fmt: skip
