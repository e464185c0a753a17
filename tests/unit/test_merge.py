"""merge.py: CI jobs' directories merged into one run, over the real Runner and a FakeBackend.

Each "job" is a real :class:`~driftmatrix.run.Runner` run of one shard without the reference
(what ``driftmatrix run --shard K/N`` does), written to its own directory; merging them must give
what one full run of the same matrix gives. Bad directories live in tests/data/merge/.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from fakes import FakeBackend, Scenario, measured
from test_run import CASES, REF, Case, backend_for, cell_id, run_matrix, write_matrix

from driftmatrix.cimatrix import shards
from driftmatrix.cli import main
from driftmatrix.errors import InfraError, UsageError
from driftmatrix.merge import MISSING_MESSAGE, Merged, merge, read_part
from driftmatrix.outcome import Flag, Verdict
from driftmatrix.results import (
    CellResult,
    RunResults,
    cell_path,
    read_cell,
    read_results,
    write_results,
)
from driftmatrix.run import Runner, RunOptions
from driftmatrix.spec import load_matrix
from driftmatrix.verdict import exit_code

BAD = Path(__file__).resolve().parents[1] / "data" / "merge"

#: scikit-learn version → what its cell does; the reference is measured so `slower` can show.
SCENARIOS: dict[str, Case] = {
    REF: Case(measured(p50_ms=2.0), Verdict.IDENTICAL),
    "1.6.1": CASES["drift-label"],
    "1.6.2": CASES["equivalent"],
    "1.6.3": CASES["load-error"],
    "1.6.4": CASES["build-error"],
    "1.6.5": Case(measured(p50_ms=9.0), Verdict.IDENTICAL),  # 4.5x the reference: slower
    "1.6.6": CASES["identical"],
}
CELLS = [cell_id(v) for v in SCENARIOS]


def full_run(directory: Path, matrix: Path) -> RunResults:
    """One full run of ``matrix`` into ``directory`` (results.json written, as `run` does)."""
    results = run_matrix(matrix, directory, backend_for(SCENARIOS)).results
    write_results(directory, results)
    return results


def job_runs(
    directory: Path,
    matrix: Path,
    count: int,
    backend: Callable[[], FakeBackend] = lambda: backend_for(SCENARIOS),
) -> list[Path]:
    """One job per shard of ``count``, each without the reference, in its own directory."""
    spec = load_matrix(matrix)
    dirs = []
    for shard in shards(spec.cells, spec.reference, count):
        out = directory / shard.id
        ids = tuple(cell.id for cell in shard.cells)
        run = run_matrix(matrix, out, backend(), cell_ids=ids, compare=False)
        assert sorted(run.backend.provisioned) == sorted(ids)  # never the reference of another
        write_results(out, run.results)
        dirs.append(out)
    return dirs


def merged(*dirs: Path) -> Merged:
    return merge([read_part(path) for path in dirs])


def without_timing(doc: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in doc.items() if key != "seconds"}


@pytest.fixture
def matrix(tmp_path: Path) -> Path:
    return write_matrix(tmp_path / "m", tuple(SCENARIOS))


# --- the done-means property, in-process -------------------------------------------------------


@pytest.mark.parametrize("count", [len(SCENARIOS), 3, 1])
def test_jobs_merged_equal_one_full_run(tmp_path: Path, matrix: Path, count: int) -> None:
    full = full_run(tmp_path / "full", matrix)
    dirs = job_runs(tmp_path / "jobs", matrix, count)

    written: list[CellResult] = []
    result = merge([read_part(path) for path in dirs], write=written.append)

    assert result.missing == () and result.duplicates == ()
    assert [c.id for c in result.results.cells] == [c.id for c in written] == CELLS
    # Both keep raw outputs in cell files only (memory stays flat): the merged cells as written.
    cells = [read_cell(cell_path(tmp_path / "full", cell.id)) for cell in full.cells]
    for mine, theirs in zip(written, cells, strict=True):
        # Everything, raw outputs and comparisons included; only the wall time differs.
        assert without_timing(mine.to_json(with_outputs=True)) == without_timing(
            theirs.to_json(with_outputs=True)
        )
    for kept, mine in zip(result.results.cells, written, strict=True):
        assert kept.outputs is None and kept.to_json(with_outputs=False) == mine.to_json(
            with_outputs=False
        )
    assert {c.id: c.verdict for c in result.results.cells} == {
        cell_id(v): case.verdict for v, case in SCENARIOS.items()
    }
    assert Flag.SLOWER in result.results.cells[CELLS.index(cell_id("1.6.5"))].flags
    doc, full_doc = result.results.to_json(), full.to_json()
    assert {k: v for k, v in doc.items() if k != "cells"} == {
        k: v for k, v in full_doc.items() if k != "cells"
    }
    assert exit_code(result.results, result.policy.fail_on) == 1  # drift, load-error


def test_a_job_alone_runs_exactly_its_cells_and_compares_nothing(
    tmp_path: Path, matrix: Path
) -> None:
    backend = backend_for(SCENARIOS)
    ids = (cell_id("1.6.1"), cell_id("1.6.3"))
    run = run_matrix(matrix, tmp_path / "job", backend, cell_ids=ids, compare=False)

    assert sorted(backend.provisioned) == sorted(ids)  # the reference is another job's
    assert run.verdicts == {ids[0]: Verdict.NOT_COMPARED, ids[1]: Verdict.LOAD_ERROR}
    assert all(cell.comparison is None for cell in run.results.cells)
    # What merge needs to check and to name missing cells is recorded.
    assert run.results.matrix["cells"] == CELLS
    assert set(run.results.inputs) >= {
        "matrix_sha256", "artifact_sha256", "golden_sha256", "runner_sha256", "probes"
    }  # fmt: skip


def test_the_reference_job_alone_is_not_compared_either(tmp_path: Path, matrix: Path) -> None:
    run = run_matrix(matrix, tmp_path / "job", cell_ids=(cell_id(REF),), compare=False)

    assert run.verdicts == {cell_id(REF): Verdict.NOT_COMPARED}


# --- refusals ----------------------------------------------------------------------------------


def test_jobs_of_another_golden_set_are_refused(tmp_path: Path, matrix: Path) -> None:
    dirs = job_runs(tmp_path / "jobs", matrix, 3)
    (matrix.parent / "golden.csv").write_text(
        "row_id,tag,x,label\nr1,,1.5,0\nr2,,2,1\nr3,,3,0\nr4,,4,1\n", encoding="utf-8"
    )
    other = job_runs(tmp_path / "other", matrix, 3)

    with pytest.raises(UsageError) as caught:
        merged(dirs[0], other[1])
    message = str(caught.value)
    assert str(other[1]) in message and str(dirs[0]) in message
    assert "golden set differs" in message and "\n" not in message


def test_jobs_of_another_matrix_file_are_refused(tmp_path: Path, matrix: Path) -> None:
    dirs = job_runs(tmp_path / "jobs", matrix, 3)
    changed = write_matrix(matrix.parent, tuple(SCENARIOS), timeout="61s")
    other = job_runs(tmp_path / "other", changed, 3)

    with pytest.raises(UsageError, match="the matrix file differs"):
        merged(*dirs[:2], other[2])


@pytest.mark.parametrize(
    ("key", "value", "label"),
    [
        ("artifact_sha256", "0" * 64, "artifact"),
        ("runner_sha256", "1" * 64, "runner (probe) code"),
        ("probes", ["environment", "load"], "probes"),
        ("driftmatrix", "0.0.1", "driftmatrix version"),
        ("trusted_types", ["os.system"], "trust decision (trusted types)"),
    ],
)
def test_every_recorded_input_must_match(
    tmp_path: Path, matrix: Path, key: str, value: Any, label: str
) -> None:
    dirs = job_runs(tmp_path / "jobs", matrix, 2)
    path = dirs[1] / "results.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["inputs"][key] = value
    path.write_text(json.dumps(doc), encoding="utf-8")

    with pytest.raises(UsageError, match=f"the {re.escape(label)} differs"):
        merged(*dirs)


def test_one_cell_with_different_inputs_in_two_dirs_is_refused(
    tmp_path: Path, matrix: Path
) -> None:
    dirs = job_runs(tmp_path / "jobs", matrix, 2)
    # The same cells on another backend: other fingerprints, same run inputs.
    other = tmp_path / "docker"
    options = RunOptions(other, cell_ids=(cell_id("1.6.6"),), compare=False, backend="docker")
    backends = {"docker": FakeBackend(name="docker")}
    write_results(other, Runner(load_matrix(matrix), options, backends, tmp_path / "c").run())

    with pytest.raises(UsageError) as caught:
        merged(*dirs, other)
    assert f"cell {cell_id('1.6.6')} is in {dirs[1]} and {other}" in str(caught.value)
    assert "fingerprints differ" in str(caught.value)


# --- duplicates and gaps -----------------------------------------------------------------------


def test_a_cell_in_two_dirs_with_the_same_inputs_is_kept_once(tmp_path: Path, matrix: Path) -> None:
    full = full_run(tmp_path / "full", matrix)
    dirs = job_runs(tmp_path / "jobs", matrix, 3)

    result = merged(*dirs, tmp_path / "full")

    assert len(result.duplicates) == len(CELLS)
    assert {d.kept for d in result.duplicates} <= set(dirs)
    assert [c.verdict for c in result.results.cells] == [c.verdict for c in full.cells]


@pytest.mark.parametrize("retry_first", [False, True])
def test_a_retried_job_wins_over_its_infrastructure_failure(
    tmp_path: Path, matrix: Path, retry_first: bool
) -> None:
    flaky = {
        **SCENARIOS,
        "1.6.6": Case(Scenario(raises=InfraError("runner lost")), Verdict.INFRA_ERROR),
    }
    failed = job_runs(tmp_path / "failed", matrix, 3, lambda: backend_for(flaky))
    retried = job_runs(tmp_path / "retried", matrix, 3)[2]
    dirs = [retried, *failed] if retry_first else [*failed, retried]

    result = merged(*dirs)

    cell = result.results.cells[CELLS.index(cell_id("1.6.6"))]
    assert cell.verdict is Verdict.IDENTICAL
    assert result.sources[cell.id] == retried


def test_a_missing_reference_leaves_every_cell_not_compared(tmp_path: Path, matrix: Path) -> None:
    dirs = job_runs(tmp_path / "jobs", matrix, 3)

    result = merged(*dirs[1:])

    assert result.missing == (cell_id(REF),)
    reference = result.results.cells[0]
    assert reference.verdict is Verdict.INFRA_ERROR and reference.error is not None
    assert (reference.error.type, reference.error.message) == ("Missing", MISSING_MESSAGE)
    verdicts = {c.id: c.verdict for c in result.results.cells}
    assert verdicts[cell_id("1.6.1")] is Verdict.NOT_COMPARED  # would be drift
    assert verdicts[cell_id("1.6.3")] is Verdict.LOAD_ERROR  # known without the reference
    assert exit_code(result.results, result.policy.fail_on) == 1  # the load-error is a finding


def test_missing_cells_are_infra_errors_in_matrix_order(tmp_path: Path, matrix: Path) -> None:
    dirs = job_runs(tmp_path / "jobs", matrix, 4)  # [ref] [1.6.1 1.6.2] [1.6.3 1.6.4] [1.6.5 1.6.6]

    result = merged(dirs[0], dirs[3])

    assert result.missing == tuple(cell_id(v) for v in ("1.6.1", "1.6.2", "1.6.3", "1.6.4"))
    assert [c.id for c in result.results.cells] == CELLS  # nothing silently dropped
    assert {c.verdict for c in result.results.cells if c.id in result.missing} == {
        Verdict.INFRA_ERROR
    }
    assert exit_code(result.results, result.policy.fail_on) == 3  # the rest pass: infra only


# --- bad directories (tests/data/merge/) -------------------------------------------------------

BAD_INPUTS = {
    "not-a-directory.json": "is not a directory",
    "no-such-directory": "does not exist",
    "no-results": "results.json: not found",
    "cut-short": "results.json: not a driftmatrix results file (JSONDecodeError",
    "not-utf8": "results.json: not a driftmatrix results file (UnicodeDecodeError",
    "a-list": "results.json: not a driftmatrix results file",
    "schema-2": "schema_version 2, expected 1",
    "bad-compare": "results.json: not a driftmatrix results file (KeyError",
    "no-inputs": "does not record the run's inputs",
    "cell-missing": "not found, though results.json lists the cell",
    "cell-corrupt": "not a driftmatrix cell result",
    "cell-of-another-run": "does not match results.json's",
}


@pytest.mark.parametrize("name", list(BAD_INPUTS))
def test_a_bad_directory_is_one_line_exit_2_and_nothing_is_written(
    tmp_path: Path, matrix: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    good = job_runs(tmp_path / "jobs", matrix, 2)
    before = (good[0] / "results.json").read_bytes()
    out = tmp_path / "merged"

    code = main(["merge", *map(str, good), str(BAD / name), "--out", str(out)])

    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    assert len(captured.err.splitlines()) == 1, captured.err
    assert str(BAD / name) in captured.err and BAD_INPUTS[name] in captured.err
    assert not out.exists()
    assert (good[0] / "results.json").read_bytes() == before


def test_bad_inputs_are_kept_as_files() -> None:
    present = {path.name for path in BAD.iterdir()}
    assert set(BAD_INPUTS) - {"no-such-directory"} <= present


# --- the command -------------------------------------------------------------------------------


def test_merge_writes_one_run_and_exits_with_its_code(
    tmp_path: Path, matrix: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dirs = job_runs(tmp_path / "jobs", matrix, 3)
    out = tmp_path / "merged"

    code = main(["merge", *map(str, dirs), "--out", str(out)])

    captured = capsys.readouterr()
    assert code == 1  # the run's own exit code: drift and a load-error are findings
    results = read_results(out)
    assert [c.id for c in results.cells] == CELLS
    assert sorted(p.stem for p in (out / "cells").glob("*.json")) == sorted(CELLS)
    assert {"report.md", "junit.xml"} <= {p.name for p in out.iterdir()}
    assert "drift" in captured.out and str(out / "results.json") in captured.out
    assert f"merged {len(CELLS)} of {len(CELLS)} cells from 3 directories" in captured.err
    # The merged directory is a run's directory: merging it again gives the same verdicts.
    again = merged(out)
    assert [c.verdict for c in again.results.cells] == [c.verdict for c in results.cells]


def test_merge_names_missing_cells_and_a_missing_reference(
    tmp_path: Path, matrix: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dirs = job_runs(tmp_path / "jobs", matrix, 4)

    code = main(["merge", str(dirs[3]), "--out", str(tmp_path / "merged")])

    err = capsys.readouterr().err
    assert code == 3
    assert "5 of 7 cells are in none of the directories (recorded as infra-error)" in err
    assert cell_id(REF) in err and "no cell could be compared" in err


def test_merge_never_writes_into_a_job_directory(
    tmp_path: Path, matrix: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dirs: Sequence[Path] = job_runs(tmp_path / "jobs", matrix, 2)
    before = {p: p.read_bytes() for p in dirs[0].rglob("*.json")}

    code = main(["merge", *map(str, dirs), "--out", str(dirs[0])])

    assert code == 2
    assert "is one of the directories being merged" in capsys.readouterr().err
    assert {p: p.read_bytes() for p in dirs[0].rglob("*.json")} == before


def test_copied_jobs_merge_from_any_place(tmp_path: Path, matrix: Path) -> None:
    """A CI download puts each job under another path: only the contents matter."""
    dirs = job_runs(tmp_path / "jobs", matrix, 2)
    moved = [shutil.copytree(d, tmp_path / "download" / f"part-{i}") for i, d in enumerate(dirs)]

    assert [c.verdict for c in merged(*moved).results.cells] == [
        c.verdict for c in merged(*dirs).results.cells
    ]
