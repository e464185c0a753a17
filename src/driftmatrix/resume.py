"""What ``--resume`` and the result cache key on: a fingerprint of everything a cell's result
depends on.

Two steps: :func:`cell_fingerprint` is planned before any cell starts (the cell as written and
the run's inputs), :func:`result_fingerprint` adds the environment the cell's Python and pins
resolve to on this machine, once its backend has identified it. A finished cell's result is
reused only when the fingerprint matches, so a changed artifact, golden set, pin, limit, probe
code, interpreter build, Python image or trust decision makes the cell run again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from driftmatrix import __version__
from driftmatrix.cells import Cell
from driftmatrix.outcome import Verdict
from driftmatrix.results import CellResult, cell_path, read_cell
from driftmatrix.screening import NOT_SCANNED, Screening
from driftmatrix.spec import MatrixSpec


@dataclass(frozen=True)
class RunInputs:
    """What every cell of this run shares: the staged runner, the frozen inputs, their hashes.

    ``artifact_file`` and ``golden_file`` are the run's read-only copies (driftmatrix.snapshot).
    """

    runner_dir: Path
    runner_hash: str
    artifact_sha256: str
    golden_sha256: str
    artifact_file: Path | None = None
    golden_file: Path = Path()
    recipe_sha256: str = ""
    probes: tuple[str, ...] = ()
    screening: Screening = NOT_SCANNED
    imported: frozenset[str] | None = None

    def to_json(self, spec: MatrixSpec) -> dict[str, Any]:
        """results.json's ``inputs``: what every cell of the run shares. ``driftmatrix merge``
        combines only jobs whose inputs are equal (the same matrix, artifact, golden set, recipe,
        runner code, probes and trust decision), so no merged report mixes two runs."""
        return {
            "driftmatrix": __version__,
            "matrix_sha256": spec.sha256,
            "artifact_sha256": self.artifact_sha256,
            "golden_sha256": self.golden_sha256,
            "recipe_sha256": self.recipe_sha256,
            "runner_sha256": self.runner_hash,
            "probes": list(self.probes),
            "rejected": list(self.screening.rejection),
            "trusted_types": list(self.screening.trusted_types),
        }


def cell_fingerprint(spec: MatrixSpec, cell: Cell, backend: str, inputs: RunInputs) -> str:
    """Everything a cell's result depends on; ``--resume`` reuses a result only when it matches.

    Args:
        spec: The matrix.
        cell: The cell.
        backend: The backend it runs on, ``auto`` resolved.
        inputs: Hashes of the artifact, golden set and runner.
    """
    return Fingerprints(spec, inputs).of(cell, backend)


class Fingerprints:
    """:func:`cell_fingerprint` of every cell of one run: what the cells share is gathered once
    (a plan fingerprints every cell, 10,000 of them in a large matrix).

    Args:
        spec: The matrix.
        inputs: Hashes of the artifact, golden set and runner.
    """

    def __init__(self, spec: MatrixSpec, inputs: RunInputs) -> None:
        self._spec = spec
        self._shared: dict[str, Any] = {
            "artifact": inputs.artifact_sha256,
            "format": spec.artifact.format,
            "golden": inputs.golden_sha256,
            "target": spec.artifact.target,
            "runner": inputs.runner_hash,
            # Train mode: the recipe file (not the files it may read beside itself).
            "recipe": inputs.recipe_sha256,
            "probes": list(inputs.probes),
            # A rejection depends on `trusted` and on trusted hashes, not only on the file.
            "rejection": list(inputs.screening.rejection),
            # What a skops loader in the cell may construct.
            "trusted_types": list(inputs.screening.trusted_types),
        }
        if inputs.imported is not None:  # absent otherwise: plain runs keep their fingerprints
            self._shared["imported"] = sorted(inputs.imported)
        if inputs.recipe_sha256 and spec.artifact.recipe:
            # The function the cells call: another one in the same file is another model.
            self._shared["recipe_function"] = spec.artifact.recipe.rpartition(":")[2]

    def of(self, cell: Cell, backend: str) -> str:
        """The fingerprint of ``cell`` on ``backend`` (``auto`` resolved)."""
        doc = {**self._shared, "cell": cell.fingerprint(), "backend": backend}
        if backend == "docker":
            # The image its Python comes from: another image is another environment.
            doc["image"] = self._spec.docker.identity(cell.python)
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def result_fingerprint(planned: str, environment: str | None) -> str:
    """The fingerprint a cell's result is recorded, resumed and cached under.

    Args:
        planned: :func:`cell_fingerprint`: the cell as written and the run's inputs.
        environment: The content key of the environment it runs in (``Backend.identify``:
            the interpreter *as resolved*, so a new patch release or another build behind
            ``python = "3.10"`` runs the cell again, and the image for docker); None when it
            could not be identified (the cell then fails to build, and is never cached).
    """
    # The host's version too: how a cell is started (its job, environment variables, container
    # profile, limits) is driftmatrix's code, and a release may change it.
    doc = {"planned": planned, "environment": environment, "driftmatrix": __version__}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def reusable(out_dir: Path, cell_id: str, fingerprint: str) -> CellResult | None:
    """A previous result of this cell with the same inputs, unless it was an infra failure."""
    path = cell_path(out_dir, cell_id)
    try:
        previous = read_cell(path)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if previous.fingerprint != fingerprint or previous.verdict is Verdict.INFRA_ERROR:
        return None
    return previous
