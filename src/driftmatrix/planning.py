"""A run's plan: everything decided before the first cell starts, and nothing after.

Select the cells, stage the runner, freeze and screen the inputs, order the cells (the reference
first) and fingerprint each one. :class:`~driftmatrix.run.Runner` starts from the plan; alone,
the plan is what a benchmark times as "planning" (issue 7: under 2 s for 10,000 cells), so every
step here is linear in the number of cells.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from driftmatrix import runner, snapshot
from driftmatrix.cells import Cell
from driftmatrix.errors import InfraError, MatrixError
from driftmatrix.resume import Fingerprints, RunInputs
from driftmatrix.screening import NOT_SCANNED, Screening, screen
from driftmatrix.selection import check_supported, recipe_sha256, select_cells
from driftmatrix.spec import MatrixSpec

if TYPE_CHECKING:  # run.py imports this module
    from driftmatrix.backends.base import Backend
    from driftmatrix.run import RunOptions


@dataclass(frozen=True)
class Plan:
    """What a run will do, decided before any cell starts.

    Attributes:
        inputs: What every cell shares: the staged runner, the frozen inputs, their hashes.
        cells: The cells to start, in the order they start (the reference first).
        fingerprints: Cell id → the fingerprint of everything its result depends on.
    """

    inputs: RunInputs
    cells: tuple[Cell, ...]
    fingerprints: Mapping[str, str]


def backend_name(options: RunOptions, cell: Cell) -> str:
    """The backend that runs ``cell`` (``--backend`` wins over the matrix)."""
    return options.backend or cell.backend


def make_plan(
    spec: MatrixSpec, options: RunOptions, backends: Mapping[str, Backend], cache_dir: Path
) -> Plan:
    """Plan a run; starts no cell.

    Args:
        spec: The matrix.
        options: How to run it.
        backends: Backend name → backend; ``auto`` cells are fingerprinted as what it resolved to.
        cache_dir: Where the runner code is staged and screenings are cached.

    Raises:
        MatrixError: The artifact is not the one ``artifact.sha256`` pins, or its format is not
            supported.
        InfraError: An input cannot be read or copied.
        UsageError: An unknown ``options.cell_ids`` entry.
    """
    check_supported(spec)
    selected = select_cells(spec, options.cell_ids)
    options.out_dir.mkdir(parents=True, exist_ok=True)
    runner_dir, runner_hash = runner.stage(cache_dir)
    artifact, golden = _snapshots(spec, cache_dir, fresh=not options.cache)
    inputs = RunInputs(
        runner_dir=runner_dir,
        runner_hash=runner_hash,
        artifact_sha256=artifact.sha256 if artifact else "",
        golden_sha256=golden.sha256,
        artifact_file=artifact.path if artifact else None,
        golden_file=golden.path,
        recipe_sha256=recipe_sha256(spec),
        probes=options.probes,
        imported=options.imported,
    )
    expected = spec.artifact.sha256
    if expected and inputs.artifact_sha256 != expected:
        raise MatrixError(
            spec.path,
            "artifact.sha256",
            f"{spec.artifact.path} has sha256 {inputs.artifact_sha256}, not {expected}",
            "the file changed or is corrupt; nothing was run",
        )
    inputs = replace(inputs, screening=_screen(spec, options, inputs, cache_dir))
    todo = list(selected)
    if options.compare and spec.reference not in {c.id for c in todo}:
        todo.insert(0, spec.reference_cell)
    else:
        # The reference first: every comparison waits for it, nothing else does.
        todo.sort(key=lambda c: c.id != spec.reference)
    fingerprints, fingerprint = {}, Fingerprints(spec, inputs)
    for cell in todo:
        name = backend_name(options, cell)
        resolved = backends[name].name if name in backends else name  # "auto" as resolved
        fingerprints[cell.id] = fingerprint.of(cell, resolved)
    return Plan(inputs, tuple(todo), fingerprints)


def _snapshots(
    spec: MatrixSpec, cache_dir: Path, *, fresh: bool
) -> tuple[snapshot.Snapshot | None, snapshot.Snapshot]:
    """Freeze the artifact and the golden set: cells open these copies, never the originals.

    Raises:
        InfraError: An input could not be read or copied.
    """
    artifact = spec.artifact
    try:
        # Train mode never opens the artifact: every cell fits its own model.
        path = artifact.path if artifact.mode == "load" else None
        frozen = snapshot.take(path, cache_dir, fresh=fresh) if path is not None else None
        return frozen, snapshot.take(artifact.golden, cache_dir, fresh=fresh)
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        raise InfraError(f"cannot copy the run's inputs{where}: {exc.strerror or exc}") from exc


def _screen(spec: MatrixSpec, options: RunOptions, inputs: RunInputs, cache_dir: Path) -> Screening:
    """Scan the artifact on the host before any cell may open it (nothing is loaded)."""
    artifact = spec.artifact
    if inputs.artifact_file is None:
        return NOT_SCANNED
    hashes = (*options.trusted_sha256, *filter(None, [artifact.trusted_sha256]))
    return screen(
        inputs.artifact_file,
        artifact.format,
        inputs.artifact_sha256,
        artifact.trusted,
        hashes,
        cache_dir,
    )
