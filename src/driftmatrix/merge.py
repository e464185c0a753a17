"""Merging the output directories of a run's CI jobs into one run (``driftmatrix merge``).

Each job of a CI matrix runs its share of the cells without the reference
(``driftmatrix run --shard K/N``) and leaves ``results.json`` plus ``cells/<id>.json``, which hold
the raw outputs. Merging reads every directory, refuses to mix runs, and compares every cell with
the reference cell from whichever job ran it, exactly as one full run would have
(:func:`driftmatrix.run.compare_with_reference` under the ``[compare]`` policy the jobs recorded).

Decisions:

* **One run only.** Every directory's ``inputs`` (matrix, artifact, golden set, recipe, runner
  code, probes, trust decision, driftmatrix version) must be equal; the first difference is one
  line naming both directories.
* **A cell in two directories** is fine when both ran it with the same inputs (equal
  fingerprints): the first one that is not an ``infra-error`` is kept (as ``--resume`` would
  rerun an infrastructure failure, a retried job's result wins over the failed try), else the
  first. Different fingerprints mean different runs: an error.
* **Never a silent gap.** A cell of the matrix that no directory holds is recorded as
  ``infra-error`` (``Missing``): the CI failed to produce it, so the run cannot pass (exit 3
  unless a finding makes it 1). When that cell is the reference, every other cell that ran is
  ``not-compared``, as in a run whose reference failed.
* **Bad input** (not a directory, no or corrupt ``results.json``, a listed cell file missing or
  corrupt) is a :class:`~driftmatrix.errors.UsageError` raised before anything is written.
* **Memory stays flat in the number of cells**: a part keeps its cells without their raw
  outputs (``CellResult.kept``); merging reads each cell's file again when it compares it, hands
  the merged cell, outputs included, to ``write``, and keeps it packed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

from driftmatrix.errors import UsageError
from driftmatrix.outcome import Verdict
from driftmatrix.results import (
    CellResult,
    ErrorInfo,
    RunResults,
    cell_path,
    read_cell,
    read_results,
)
from driftmatrix.run import compare_with_reference
from driftmatrix.spec import CompareSpec

_T = TypeVar("_T")

#: results.json ``inputs`` keys, as a refusal names them.
_INPUTS = {
    "driftmatrix": "driftmatrix version",
    "matrix_sha256": "matrix file",
    "artifact_sha256": "artifact",
    "golden_sha256": "golden set",
    "recipe_sha256": "recipe",
    "runner_sha256": "runner (probe) code",
    "probes": "probes",
    "rejected": "trust decision (rejected globals)",
    "trusted_types": "trust decision (trusted types)",
}

#: Why a missing cell has no result (its record's error message).
MISSING_MESSAGE = (
    "no merged directory holds this cell: its job failed before writing results, "
    "or its output was not downloaded"
)


@dataclass(frozen=True)
class Part:
    """One job's output directory, read and checked.

    Attributes:
        path: The directory.
        results: Its results.json, but its cells (``cells`` has them).
        cells: Its cells as their own files hold them, in results order, without their raw
            outputs (:func:`merge` reads those again, one cell at a time).
    """

    path: Path
    results: RunResults
    cells: tuple[CellResult, ...]


@dataclass(frozen=True)
class Duplicate:
    """A cell held by more than one directory with the same inputs."""

    cell: str
    kept: Path
    dropped: Path


@dataclass(frozen=True)
class Merged:
    """The merged run.

    Attributes:
        results: Every cell of the matrix in matrix order, compared with the reference.
        sources: Cell id → the directory its result came from (missing cells have none).
        missing: Cells no directory holds, in matrix order (recorded as ``infra-error``).
        duplicates: Cells held by several directories with the same inputs.
    """

    results: RunResults
    sources: Mapping[str, Path]
    missing: tuple[str, ...]
    duplicates: tuple[Duplicate, ...]

    @property
    def policy(self) -> CompareSpec:
        """The ``[compare]`` policy the jobs recorded (``fail_on`` decides the exit code)."""
        return CompareSpec.from_json(self.results.compare)


def read_part(path: Path) -> Part:
    """Read one job's output directory.

    Raises:
        UsageError: It is not a directory, has no readable results.json from a driftmatrix
            that records ``inputs``, or a cell file results.json lists is missing or corrupt.
    """
    if not path.is_dir():
        what = "does not exist" if not path.exists() else "is not a directory"
        raise UsageError(f"{path}: {what}; give the output directories of `driftmatrix run`")
    results_file = path / "results.json"
    missing = f"; is {path} a `driftmatrix run --out` directory whose job finished?"
    results = _load(results_file, _read_results, "results file", missing)
    if not results.inputs or not isinstance(results.matrix.get("cells"), list):
        raise UsageError(
            f"{results_file}: written by a driftmatrix that does not record the run's inputs;"
            " run the job again with this version to merge it"
        )
    cells = tuple(_read_cell(path, entry).kept() for entry in results.cells)
    return Part(path, replace(results, cells=()), cells)  # the cells once, not twice


def _read_results(path: Path) -> RunResults:
    results = read_results(path.parent)
    CompareSpec.from_json(results.compare)  # refuse now a policy merge could not use
    return results


def _read_cell(directory: Path, entry: CellResult) -> CellResult:
    path = cell_path(directory, entry.id)
    missing = ", though results.json lists the cell (upload results.json and cells/ together)"
    cell = _load(path, read_cell, "cell result", missing)
    if cell.id != entry.id or cell.fingerprint != entry.fingerprint:
        raise UsageError(
            f"{path}: does not match results.json's {entry.id} (another run's file?);"
            " run the job again"
        )
    return cell


def _load(path: Path, reader: Callable[[Path], _T], what: str, missing: str) -> _T:
    """``reader(path)``, its failures as one line naming the file."""
    try:
        return reader(path)
    except FileNotFoundError:
        raise UsageError(f"{path}: not found{missing}") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UsageError(f"{path}: not a driftmatrix {what} ({_why(exc)})") from None


def _why(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return (f"{type(exc).__name__}: {text}" if text else type(exc).__name__)[:200]


def check_same_run(parts: Sequence[Part]) -> None:
    """Refuse directories that come from different runs.

    Raises:
        UsageError: Two directories' inputs differ (names both and what differs).
    """
    first = parts[0]
    for part in parts[1:]:
        for key, label in _INPUTS.items():
            mine, theirs = first.results.inputs.get(key), part.results.inputs.get(key)
            if mine != theirs:
                raise UsageError(
                    f"{part.path} is not from the same run as {first.path}: the {label} differs"
                    f" ({_short(theirs)} vs {_short(mine)}); merge the jobs of one run only"
                )


def _short(value: Any) -> str:
    if isinstance(value, str) and len(value) == 64:
        return value[:12] + "…"  # a sha256: enough to tell two apart
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:59] + "…"


def merge(parts: Sequence[Part], write: Callable[[CellResult], object] | None = None) -> Merged:
    """Merge the jobs' directories into one run, every cell compared with the reference.

    Args:
        parts: The directories, in the order given (earlier ones win ties between duplicates).
        write: Called with each merged cell, raw outputs included, in matrix order (the command
            writes its file); the merged results keep the cells without them.

    Raises:
        UsageError: No directories, directories from different runs, one cell with different
            inputs in two directories, or a cell file that changed since it was read.
    """
    if not parts:
        raise UsageError("merge: give at least one output directory")
    check_same_run(parts)
    chosen, sources, duplicates = _choose(parts)
    first = parts[0].results
    policy = CompareSpec.from_json(first.compare)

    def whole(cell_id: str) -> CellResult:
        return _reread(sources[cell_id], chosen[cell_id])

    reference = whole(first.reference) if first.reference in chosen else None
    cells, missing = [], []
    for cell_id in first.matrix["cells"]:
        if cell_id in chosen:
            cell = compare_with_reference(whole(cell_id), reference, policy)
        else:
            missing.append(cell_id)
            cell = missing_cell(cell_id)
        if write is not None:
            write(cell)
        cells.append(cell.kept())
    results = RunResults(
        matrix=first.matrix,
        artifact=first.artifact,
        reference=first.reference,
        cells=tuple(cells),
        compare=first.compare,
        inputs=first.inputs,
    )
    return Merged(results, sources, tuple(missing), tuple(duplicates))


def _reread(directory: Path, kept: CellResult) -> CellResult:
    """The cell's file again, raw outputs included (it was checked when its part was read)."""
    path = cell_path(directory, kept.id)
    cell = _load(path, read_cell, "cell result", "")
    if cell.fingerprint != kept.fingerprint:
        raise UsageError(f"{path}: changed while it was being merged; merge again")
    return cell


def _choose(
    parts: Sequence[Part],
) -> tuple[dict[str, CellResult], dict[str, Path], list[Duplicate]]:
    """One result per cell id, and where it came from."""
    chosen: dict[str, CellResult] = {}
    sources: dict[str, Path] = {}
    duplicates: list[Duplicate] = []
    for part in parts:
        for cell in part.cells:
            held = chosen.get(cell.id)
            if held is None:
                chosen[cell.id], sources[cell.id] = cell, part.path
                continue
            if held.fingerprint != cell.fingerprint:
                raise UsageError(
                    f"cell {cell.id} is in {sources[cell.id]} and {part.path} with different"
                    " inputs (fingerprints differ): not the same run; merge one run's jobs"
                )
            if held.verdict is Verdict.INFRA_ERROR and cell.verdict is not Verdict.INFRA_ERROR:
                duplicates.append(Duplicate(cell.id, part.path, sources[cell.id]))
                chosen[cell.id], sources[cell.id] = cell, part.path
            else:
                duplicates.append(Duplicate(cell.id, sources[cell.id], part.path))
    return chosen, sources, duplicates


def missing_cell(cell_id: str) -> CellResult:
    """The record of a cell no directory holds: ``infra-error`` (``Missing``), nothing known."""
    return CellResult(
        id=cell_id,
        backend="",
        python="",
        packages={},
        installed={},
        limits={},
        verdict=Verdict.INFRA_ERROR,
        error=ErrorInfo("Missing", MISSING_MESSAGE),
    )
