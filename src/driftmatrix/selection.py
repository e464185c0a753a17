"""What a run is asked to do, checked before anything runs: which cells, and whether this
version can probe the artifact's format at all."""

from __future__ import annotations

import hashlib
from pathlib import Path

from driftmatrix.cells import Cell
from driftmatrix.errors import InfraError, MatrixError, UsageError
from driftmatrix.spec import MatrixSpec
from driftmatrix.suggest import did_you_mean

#: What the in-cell runner can probe today.
SUPPORTED_FORMATS = ("joblib", "pickle", "skops", "onnx")


def select_cells(spec: MatrixSpec, cell_ids: tuple[str, ...]) -> tuple[Cell, ...]:
    """The cells to run, in matrix order; unknown ids are a usage error with a suggestion."""
    if not cell_ids:
        return spec.cells
    known = {cell.id for cell in spec.cells}
    for wanted in cell_ids:
        if wanted not in known:
            raise UsageError(
                f"--cell {wanted}: no such cell in {spec.path}{did_you_mean(wanted, known)}"
                " (see `driftmatrix list`)"
            )
    chosen = frozenset(cell_ids)  # a shard of a large matrix names thousands of ids
    return tuple(cell for cell in spec.cells if cell.id in chosen)


def check_supported(spec: MatrixSpec) -> None:
    """Refuse, before anything runs, what this version cannot do yet (never a silent skip)."""
    if spec.artifact.format not in SUPPORTED_FORMATS:
        raise MatrixError(
            spec.path,
            "artifact.format",
            f"{spec.artifact.format!r} artifacts are not supported yet",
            f"supported: {', '.join(SUPPORTED_FORMATS)}",
        )


def recipe_sha256(spec: MatrixSpec) -> str:
    """Train mode: the sha256 of the recipe file ("" in load mode); part of every fingerprint.

    Raises:
        InfraError: The recipe cannot be read.
    """
    if spec.artifact.mode != "train" or spec.artifact.recipe is None:
        return ""
    path = Path(spec.artifact.recipe.rpartition(":")[0])
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise InfraError(f"cannot read the recipe {path}: {exc.strerror or exc}") from exc
