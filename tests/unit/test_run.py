"""run.py: the Runner end to end over a FakeBackend (tests/unit/fakes.py).

Every test writes a small real matrix file and loads it with the real ``spec.load_matrix``; the
fake backend writes real ``result.json`` files that the Runner reads back with the real
``runner.read_result``. So these tests cover the orchestration — selection, staging, verdicts,
comparison with the reference, per-cell files, ``--resume``, parallelism and progress — with
nothing patched. The artifact is a few dummy bytes: neither the host nor the fake ever loads it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from fakes import (
    PROBA,
    FakeBackend,
    Scenario,
    garbage_result,
    healthy,
    import_failed,
    load_failed,
    make_outputs,
    no_result,
    oom_killed,
    predict_failed,
    segfault_in_load,
    timed_out,
)

from driftmatrix.backends.base import Environment
from driftmatrix.cells import Cell
from driftmatrix.errors import InfraError, MatrixError, UsageError
from driftmatrix.outcome import Verdict
from driftmatrix.results import CellResult, RunResults, cell_path, write_results
from driftmatrix.run import PhaseChange, Runner, RunOptions
from driftmatrix.spec import load_matrix

REF = "1.5.2"  # the reference cell's scikit-learn; every other cell differs only in this pin
ARTIFACT_BYTES = b"not a pickle: the host never deserializes an artifact\n"
GOLDEN = (
    "row_id,tag,x,label\nr1,,1.0,0\nr2,missing-value,,1\nr3,extreme,1e300,0\nr4,class-1,2.5,1\n"
)


def cell_id(sklearn: str, numpy: str = "1.26.4") -> str:
    """The id of a cell of :func:`write_matrix` (ids are a stable, documented format)."""
    return f"py3.11-scikit-learn{sklearn}-numpy{numpy}"


def write_matrix(
    directory: Path,
    versions: tuple[str, ...],
    *,
    reference: str = REF,
    timeout: str = "60s",
    extra: str = "",
) -> Path:
    """Write ``matrix.toml`` (one cell per scikit-learn version) and its input files.

    Args:
        directory: Where the matrix, ``model.joblib`` and ``golden.csv`` go.
        versions: The scikit-learn axis.
        reference: The reference cell's scikit-learn version.
        timeout: The default time limit (part of every cell's fingerprint, not of its id).
        extra: More lines for ``[artifact]`` (e.g. ``sha256 = ...``).
    """
    directory.mkdir(parents=True, exist_ok=True)
    if not (directory / "model.joblib").exists():
        (directory / "model.joblib").write_bytes(ARTIFACT_BYTES)
    if not (directory / "golden.csv").exists():
        (directory / "golden.csv").write_text(GOLDEN, encoding="utf-8")
    axis = ", ".join(f'"{v}"' for v in dict.fromkeys(versions))  # the reference may be listed twice
    path = directory / "matrix.toml"
    path.write_text(
        f"""name = "fake"

[artifact]
path = "model.joblib"
golden = "golden.csv"
target = "label"
{extra}

[defaults]
python = "3.11"
packages = {{ "scikit-learn" = "{REF}", numpy = "1.26.4" }}
limits = {{ timeout = "{timeout}" }}

[axes]
"scikit-learn" = [{axis}]

[reference]
"scikit-learn" = "{reference}"
""",
        encoding="utf-8",
    )
    return path


@dataclass
class Run:
    """One Runner run and what was observed of it."""

    results: RunResults
    backend: FakeBackend
    progress: list[tuple[str, Verdict, int, int]] = field(default_factory=list)

    @property
    def verdicts(self) -> dict[str, Verdict]:
        return {cell.id: cell.verdict for cell in self.results.cells}

    def cell(self, cell_id_: str) -> CellResult:
        return next(cell for cell in self.results.cells if cell.id == cell_id_)


def run_matrix(
    matrix: Path,
    out: Path,
    backend: FakeBackend | None = None,
    *,
    cache_dir: Path | None = None,
    phase: PhaseChange | None = None,
    **options: Any,
) -> Run:
    """Run ``matrix`` with the Runner over ``backend``; record every progress call."""
    backend = backend or FakeBackend()
    calls: list[tuple[str, Verdict, int, int]] = []
    runner = Runner(
        load_matrix(matrix),
        RunOptions(out_dir=out, **options),
        {"venv": backend},
        cache_dir or out.parent / "cache",
        progress=lambda result, done, total: calls.append((result.id, result.verdict, done, total)),
        phase=phase,
    )
    return Run(runner.run(), backend, calls)


# --- every verdict through the Runner ------------------------------------------------------------

SHIFTED = tuple(tuple(p + 1e-12 for p in row) for row in PROBA)  # within atol = 1e-9
MOVED = tuple(tuple(p + 1e-3 for p in row) for row in PROBA)  # beyond it


@dataclass(frozen=True)
class Case:
    """A candidate cell's scenario and the verdict (and error type) it must end with."""

    scenario: Scenario | None  # None: the cell's pins cannot be built
    verdict: Verdict
    error_type: str | None = None


CASES: dict[str, Case] = {
    "identical": Case(healthy(), Verdict.IDENTICAL),
    "equivalent": Case(healthy(proba=SHIFTED), Verdict.EQUIVALENT),
    "drift-label": Case(healthy(labels=(0, 1, 1, 1)), Verdict.DRIFT),
    "drift-score": Case(healthy(proba=MOVED), Verdict.DRIFT),
    "predict-error": Case(predict_failed(), Verdict.PREDICT_ERROR, "AttributeError"),
    "load-error": Case(load_failed(), Verdict.LOAD_ERROR, "UnpicklingError"),
    "load-error-segfault": Case(segfault_in_load(), Verdict.LOAD_ERROR, "Signal SIGSEGV"),
    "import-error": Case(import_failed(), Verdict.IMPORT_ERROR, "ImportError"),
    "build-error": Case(None, Verdict.BUILD_ERROR, "BuildError"),
    "timeout": Case(timed_out(), Verdict.TIMEOUT, "Timeout"),
    "oom": Case(oom_killed(), Verdict.OOM, "OOMKilled"),
    "infra-error-unreadable": Case(garbage_result(), Verdict.INFRA_ERROR, "NoResult"),
    "infra-error-no-result": Case(no_result(), Verdict.INFRA_ERROR, "NoResult"),
    "infra-error-backend": Case(
        Scenario(raises=InfraError("the daemon is down")), Verdict.INFRA_ERROR, "InfraError"
    ),
}


def backend_for(cases: Mapping[str, Case]) -> FakeBackend:
    """A backend playing ``cases`` (scikit-learn version → case) for their cells."""
    scenarios = {cell_id(v): c.scenario for v, c in cases.items() if c.scenario is not None}
    broken = [("scikit-learn", v) for v, c in cases.items() if c.scenario is None]
    return FakeBackend(scenarios, unbuildable=broken)


@pytest.mark.parametrize("name", list(CASES))
def test_every_verdict_is_reachable_through_the_runner(tmp_path: Path, name: str) -> None:
    case = CASES[name]
    matrix = write_matrix(tmp_path / "m", (REF, "1.6.1"))
    run = run_matrix(matrix, tmp_path / "out", backend_for({"1.6.1": case}))

    cell = run.cell(cell_id("1.6.1"))
    assert cell.verdict is case.verdict
    if case.error_type is None:
        assert cell.error is None and cell.comparison is not None
    else:
        assert cell.error is not None and cell.error.type == case.error_type
        assert cell.error.message and "\n" not in cell.error.message
        # A cell that failed on its own is never compared: there is nothing to compare.
        assert cell.comparison is None
    # The candidate's failure does not reach the reference.
    assert run.cell(cell_id(REF)).verdict is Verdict.IDENTICAL


def test_verdict_details_come_from_the_runner_facts(tmp_path: Path) -> None:
    cases = {
        "1.6.1": CASES["drift-label"],
        "1.6.2": CASES["equivalent"],
        "1.6.3": CASES["timeout"],
        "1.6.4": CASES["infra-error-unreadable"],
        "1.6.5": CASES["build-error"],
    }
    matrix = write_matrix(tmp_path / "m", (REF, *cases))
    run = run_matrix(matrix, tmp_path / "out", backend_for(cases))

    # Drift names the flipped row by id and by the golden row's tag.
    labels = run.cell(cell_id("1.6.1")).comparison["labels"]  # type: ignore[index]
    assert (labels["flipped"], labels["total"]) == (1, 4)
    assert [(row["row"], row["tag"]) for row in labels["rows"]] == [("r3", "extreme")]
    # Equivalent: scores differ, but only within tolerance.
    scores = run.cell(cell_id("1.6.2")).comparison["scores"]  # type: ignore[index]
    assert scores["beyond"] == 0 and 0 < scores["max_abs"] <= 1e-9 and not scores["identical"]
    # Timeout names the limit and the probe it stopped.
    error = run.cell(cell_id("1.6.3")).error
    assert error is not None and "60 s" in error.message and "predict" in error.message
    # An unreadable result says why it could not be read.
    error = run.cell(cell_id("1.6.4")).error
    assert error is not None and "not JSON" in error.message
    # A build error carries the backend's reason and never reaches `run`.
    error = run.cell(cell_id("1.6.5")).error
    assert error is not None and "scikit-learn==1.6.5" in error.message
    assert cell_id("1.6.5") not in run.backend.runs
    # Facts recorded beside the verdict: what the backend enforced and what the cell had.
    ran = run.cell(cell_id("1.6.1"))
    assert ran.limits["timeout"] == 60.0 and ran.limits["enforced"] == {}
    assert ran.installed["scikit-learn"] == "1.6.1" and ran.installed["scipy"] == "1.14.1"


def test_the_reference_is_compared_with_itself(tmp_path: Path) -> None:
    matrix = write_matrix(tmp_path / "m", (REF, "1.6.1"))
    run = run_matrix(matrix, tmp_path / "out")

    reference = run.cell(cell_id(REF))
    assert reference.verdict is Verdict.IDENTICAL
    assert reference.comparison is not None
    assert reference.comparison["reference"] == cell_id(REF)
    assert reference.comparison["labels"]["flipped"] == 0
    assert reference.comparison["scores"]["identical"] is True
    assert reference.comparison["packages"] == {"changed": {}, "added": {}, "removed": {}}
    # The other cell's comparison names the transitive difference too (its own pin here).
    other = run.cell(cell_id("1.6.1")).comparison
    assert other is not None and other["packages"]["changed"] == {"scikit-learn": [REF, "1.6.1"]}


@pytest.mark.parametrize("failure", ["load-error", "predict-error", "timeout", "build-error"])
def test_a_failed_reference_leaves_the_others_not_compared(tmp_path: Path, failure: str) -> None:
    cases = {
        REF: CASES[failure],
        "1.6.1": CASES["identical"],
        "1.6.2": CASES["drift-label"],  # would be drift, but there is nothing to compare with
        "1.6.3": CASES["load-error"],  # a failure of its own stays its own
    }
    matrix = write_matrix(tmp_path / "m", tuple(cases))
    run = run_matrix(matrix, tmp_path / "out", backend_for(cases))

    assert run.verdicts == {
        cell_id(REF): CASES[failure].verdict,
        cell_id("1.6.1"): Verdict.NOT_COMPARED,
        cell_id("1.6.2"): Verdict.NOT_COMPARED,
        cell_id("1.6.3"): Verdict.LOAD_ERROR,
    }
    assert all(cell.comparison is None for cell in run.results.cells)


def test_failing_cells_do_not_affect_the_others(tmp_path: Path) -> None:
    # One matrix holding every case, failures interleaved with healthy cells, run in parallel:
    # each cell must end exactly as it does alone in test_every_verdict_is_reachable_...
    cases = {f"1.6.{i}": case for i, case in enumerate(CASES.values())}
    matrix = write_matrix(tmp_path / "m", (REF, *cases))
    run = run_matrix(matrix, tmp_path / "out", backend_for(cases), jobs=2)

    expected = {cell_id(v): case.verdict for v, case in cases.items()}
    assert run.verdicts == {cell_id(REF): Verdict.IDENTICAL, **expected}
    # Every cell was attempted once; only the unbuildable one never reached `run`.
    assert sorted(run.backend.provisioned) == sorted(run.verdicts)
    assert len(run.backend.runs) == len(run.verdicts) - 1
    # Results come back in matrix order whatever the completion order was.
    assert [cell.id for cell in run.results.cells] == [cell_id(v) for v in (REF, *cases)]


def _comparable(results: RunResults) -> list[dict[str, Any]]:
    """The results without wall times and where a reused cell came from (the only things
    allowed to differ between runs)."""
    return [
        {**cell.to_json(with_outputs=True), "seconds": 0, "reused": None} for cell in results.cells
    ]


def test_jobs_2_gives_the_same_results_as_jobs_1(tmp_path: Path) -> None:
    cases = {f"1.6.{i}": case for i, case in enumerate(CASES.values())}
    matrix = write_matrix(tmp_path / "m", (REF, *cases))
    one = run_matrix(matrix, tmp_path / "out1", backend_for(cases), jobs=1, cache=False)
    two = run_matrix(matrix, tmp_path / "out2", backend_for(cases), jobs=2, cache=False)

    assert _comparable(one.results) == _comparable(two.results)
    assert not one.backend.cancelled and not two.backend.cancelled


def test_the_reference_runs_first_wherever_the_matrix_lists_it(tmp_path: Path) -> None:
    # Every comparison waits for the reference, nothing else does: it starts first.
    matrix = write_matrix(tmp_path / "m", ("1.4.0", "1.4.1", REF, "1.6.1"))
    run = run_matrix(matrix, tmp_path / "out", jobs=1)

    assert run.backend.runs == [cell_id(v) for v in (REF, "1.4.0", "1.4.1", "1.6.1")]
    # Results and reports keep the matrix order.
    assert list(run.verdicts) == [cell_id(v) for v in ("1.4.0", "1.4.1", REF, "1.6.1")]
    assert set(run.verdicts.values()) == {Verdict.IDENTICAL}


def test_cells_finishing_before_the_reference_are_settled_once_it_is_in(tmp_path: Path) -> None:
    # The reference's runner is held until another cell has finished, so the Runner must keep
    # that cell waiting and compare it only when the reference arrives.
    released = threading.Event()
    cases = {
        REF: Case(Scenario(wait_for=released), Verdict.IDENTICAL),
        "1.6.1": Case(replace(healthy(labels=(0, 1, 1, 1)), then_set=released), Verdict.DRIFT),
        "1.6.2": CASES["equivalent"],
        "1.6.3": CASES["load-error"],
    }
    matrix = write_matrix(tmp_path / "m", tuple(cases))
    run = run_matrix(matrix, tmp_path / "out", backend_for(cases), jobs=2)

    runs = run.backend.runs  # in the order they finished: 1.6.1 really did before the reference
    assert runs.index(cell_id("1.6.1")) < runs.index(cell_id(REF))
    final = {cell_id(v): case.verdict for v, case in cases.items()}
    assert run.verdicts == final
    # Progress: once per cell, numbered 1..n of n, each with its *final* verdict (never the
    # provisional not-compared of a cell waiting for the reference), the reference first.
    assert [(done, total) for _, _, done, total in run.progress] == [(i, 4) for i in (1, 2, 3, 4)]
    assert {cid: verdict for cid, verdict, _, _ in run.progress} == final
    assert len(run.progress) == len(final) and run.progress[0][0] == cell_id(REF)


def test_progress_is_called_once_per_cell_with_final_verdicts(tmp_path: Path) -> None:
    cases = {"1.6.1": CASES["drift-label"], "1.6.2": CASES["oom"], "1.6.3": CASES["build-error"]}
    matrix = write_matrix(tmp_path / "m", (REF, *cases))
    run = run_matrix(matrix, tmp_path / "out", backend_for(cases), jobs=1)

    assert sorted(cid for cid, *_ in run.progress) == sorted(run.verdicts)
    assert {cid: verdict for cid, verdict, _, _ in run.progress} == run.verdicts
    assert [done for _, _, done, _ in run.progress] == [1, 2, 3, 4]
    assert {total for *_, total in run.progress} == {4}


# --- files -------------------------------------------------------------------------------------


def test_cell_files_hold_outputs_and_results_json_does_not(tmp_path: Path) -> None:
    cases = {"1.6.1": CASES["drift-label"], "1.6.2": CASES["load-error"]}
    matrix = write_matrix(tmp_path / "m", (REF, *cases))
    out = tmp_path / "out"
    run = run_matrix(matrix, out, backend_for(cases))
    write_results(out, run.results)

    for cell in run.results.cells:
        doc = json.loads(cell_path(out, cell.id).read_text(encoding="utf-8"))
        # The file is the final, compared record (not the provisional one written first); the
        # raw outputs are there only, not in the run's results (memory stays flat in cells).
        assert cell.outputs is None
        doc.pop("outputs")
        assert doc == {"schema_version": 1, **cell.to_json(with_outputs=False)}
    outputs = {
        cid: json.loads(cell_path(out, cid).read_text(encoding="utf-8"))["outputs"]
        for cid in run.verdicts
    }
    assert outputs == {
        cell_id(REF): make_outputs(),
        cell_id("1.6.1"): make_outputs(labels=(0, 1, 1, 1)),
        cell_id("1.6.2"): None,  # it never predicted
    }
    assert sorted(p.name for p in (out / "cells").iterdir()) == sorted(
        f"{cid}.json" for cid in run.verdicts
    )

    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert results["reference"] == cell_id(REF)
    assert [cell["id"] for cell in results["cells"]] == list(run.verdicts)
    assert all("outputs" not in cell for cell in results["cells"])
    assert results["cells"] == [cell.to_json(with_outputs=False) for cell in run.results.cells]
    # The raw predictions are nowhere in it (a flipped row is named, its values are not lists).
    assert json.dumps(list(PROBA[0])) not in json.dumps(results)


# --- --cell -------------------------------------------------------------------------------------


def test_cell_selection_runs_the_chosen_cell_and_the_reference(tmp_path: Path) -> None:
    matrix = write_matrix(tmp_path / "m", (REF, "1.6.1", "1.7.2"))
    out = tmp_path / "out"
    run = run_matrix(matrix, out, cell_ids=(cell_id("1.7.2"),))

    assert sorted(run.backend.runs) == sorted([cell_id(REF), cell_id("1.7.2")])
    assert [cell.id for cell in run.results.cells] == [cell_id(REF), cell_id("1.7.2")]
    assert run.verdicts[cell_id("1.7.2")] is Verdict.IDENTICAL  # really compared
    assert not cell_path(out, cell_id("1.6.1")).exists()


def test_selecting_the_reference_runs_only_the_reference(tmp_path: Path) -> None:
    matrix = write_matrix(tmp_path / "m", (REF, "1.6.1"))
    run = run_matrix(matrix, tmp_path / "out", cell_ids=(cell_id(REF),))

    assert run.backend.runs == [cell_id(REF)]
    assert run.verdicts == {cell_id(REF): Verdict.IDENTICAL}


def test_an_unknown_cell_is_a_usage_error_with_a_suggestion(tmp_path: Path) -> None:
    matrix = write_matrix(tmp_path / "m", (REF, "1.6.1", "1.7.2"))
    out = tmp_path / "out"
    with pytest.raises(UsageError) as raised:
        run_matrix(matrix, out, cell_ids=(cell_id("1.7.3"),))

    message = str(raised.value)
    assert cell_id("1.7.3") in message and str(matrix) in message
    assert f"did you mean '{cell_id('1.7.2')}'" in message
    assert "\n" not in message
    assert not out.exists()  # refused before anything was created or run


# --- --resume -----------------------------------------------------------------------------------
# These runs keep the result cache out (cache=False): --resume alone is what they test
# (test_resultcache.py tests the cache, and both together).

RESUME_CASES = {"1.6.1": CASES["drift-label"], "1.6.2": CASES["load-error"]}


def first_run(tmp_path: Path, cases: Mapping[str, Case] = RESUME_CASES) -> tuple[Path, Run]:
    matrix = write_matrix(tmp_path / "m", (REF, *cases))
    return matrix, run_matrix(matrix, tmp_path / "out", backend_for(cases))


def resumed(matrix: Path, tmp_path: Path, cases: Mapping[str, Case]) -> Run:
    """Run ``matrix`` again into the same directory with --resume."""
    return run_matrix(matrix, tmp_path / "out", backend_for(cases), resume=True, cache=False)


def test_resume_reuses_finished_unchanged_cells(tmp_path: Path) -> None:
    matrix, first = first_run(tmp_path)
    again = resumed(matrix, tmp_path, RESUME_CASES)

    assert again.backend.runs == [] and again.backend.provisioned == []
    assert _comparable(again.results) == _comparable(first.results)
    # Reused cells are still reported, with their verdicts.
    assert {cid: verdict for cid, verdict, _, _ in again.progress} == first.verdicts


def test_without_resume_every_cell_runs_again(tmp_path: Path) -> None:
    matrix, first = first_run(tmp_path)
    again = run_matrix(matrix, tmp_path / "out", backend_for(RESUME_CASES), cache=False)

    assert sorted(again.backend.runs) == sorted(first.backend.runs)


def test_resume_reruns_every_cell_when_the_golden_set_changes(tmp_path: Path) -> None:
    matrix, first = first_run(tmp_path)
    golden = matrix.parent / "golden.csv"
    golden.write_text(GOLDEN + "r5,extreme,-1e300,0\n", encoding="utf-8")
    again = resumed(matrix, tmp_path, RESUME_CASES)

    assert sorted(again.backend.runs) == sorted(first.backend.runs)


def test_resume_reruns_every_cell_when_the_artifact_changes(tmp_path: Path) -> None:
    matrix, first = first_run(tmp_path)
    (matrix.parent / "model.joblib").write_bytes(ARTIFACT_BYTES + b"v2")
    again = resumed(matrix, tmp_path, RESUME_CASES)

    assert sorted(again.backend.runs) == sorted(first.backend.runs)


def test_resume_reruns_only_the_cell_whose_pins_changed(tmp_path: Path) -> None:
    matrix, _ = first_run(tmp_path)
    cases = {"1.6.1": CASES["drift-label"], "1.6.9": CASES["load-error"]}  # 1.6.2 → 1.6.9
    write_matrix(matrix.parent, (REF, *cases))
    again = resumed(matrix, tmp_path, cases)

    assert again.backend.runs == [cell_id("1.6.9")]
    assert again.verdicts == {
        cell_id(REF): Verdict.IDENTICAL,
        cell_id("1.6.1"): Verdict.DRIFT,
        cell_id("1.6.9"): Verdict.LOAD_ERROR,
    }


def test_resume_reruns_cells_whose_limits_changed_under_the_same_id(tmp_path: Path) -> None:
    matrix, first = first_run(tmp_path)
    write_matrix(matrix.parent, (REF, *RESUME_CASES), timeout="90s")
    again = resumed(matrix, tmp_path, RESUME_CASES)

    assert sorted(again.verdicts) == sorted(first.verdicts)  # same ids: the timeout is not in them
    assert sorted(again.backend.runs) == sorted(first.backend.runs)
    assert {cell.limits["timeout"] for cell in again.results.cells} == {90.0}


def test_resume_never_reuses_an_infra_error(tmp_path: Path) -> None:
    cases = {"1.6.1": CASES["infra-error-unreadable"]}
    matrix, first = first_run(tmp_path, cases)
    assert first.verdicts[cell_id("1.6.1")] is Verdict.INFRA_ERROR

    fixed = {"1.6.1": CASES["identical"]}
    again = resumed(matrix, tmp_path, fixed)

    assert again.backend.runs == [cell_id("1.6.1")]  # the reference was reused
    assert again.verdicts[cell_id("1.6.1")] is Verdict.IDENTICAL


def test_resume_compares_reused_cells_with_a_rerun_reference(tmp_path: Path) -> None:
    # The reference hit an infrastructure error: the others were recorded not-compared, with
    # their outputs. Resuming re-runs only the reference and compares the kept outputs with it.
    cases = {REF: CASES["infra-error-backend"], "1.6.1": CASES["drift-label"]}
    matrix, first = first_run(tmp_path, cases)
    assert first.verdicts[cell_id("1.6.1")] is Verdict.NOT_COMPARED

    fixed = {REF: CASES["identical"], "1.6.1": CASES["drift-label"]}
    again = resumed(matrix, tmp_path, fixed)

    assert again.backend.runs == [cell_id(REF)]
    assert again.verdicts == {cell_id(REF): Verdict.IDENTICAL, cell_id("1.6.1"): Verdict.DRIFT}


def test_resume_reruns_a_cell_whose_file_is_damaged(tmp_path: Path) -> None:
    matrix, _ = first_run(tmp_path)
    cell_path(tmp_path / "out", cell_id("1.6.1")).write_text("{", encoding="utf-8")
    again = resumed(matrix, tmp_path, RESUME_CASES)

    assert again.backend.runs == [cell_id("1.6.1")]
    assert again.verdicts[cell_id("1.6.1")] is Verdict.DRIFT


# --- the artifact's pinned hash ----------------------------------------------------------------


def test_a_sha256_mismatch_stops_the_run_before_any_cell(tmp_path: Path) -> None:
    matrix = write_matrix(tmp_path / "m", (REF, "1.6.1"), extra=f'sha256 = "{"0" * 64}"')
    out = tmp_path / "out"
    backend = FakeBackend()
    with pytest.raises(MatrixError) as raised:
        run_matrix(matrix, out, backend)

    assert raised.value.key == "artifact.sha256" and "nothing was run" in str(raised.value)
    assert backend.provisioned == [] and backend.runs == []
    assert not (out / "cells").exists()


def test_a_matching_sha256_runs(tmp_path: Path) -> None:
    import hashlib

    digest = hashlib.sha256(ARTIFACT_BYTES).hexdigest()
    matrix = write_matrix(tmp_path / "m", (REF, "1.6.1"), extra=f'sha256 = "{digest}"')
    run = run_matrix(matrix, tmp_path / "out")

    assert set(run.verdicts.values()) == {Verdict.IDENTICAL}
    assert run.results.artifact["sha256"] == digest


# --- frozen inputs -------------------------------------------------------------------------------


class OverwritingBackend(FakeBackend):
    """A fake whose provisioning overwrites the artifact: a writer racing the run after its scan."""

    def __init__(self, artifact: Path) -> None:
        super().__init__()
        self.artifact = artifact

    def provision(self, cell: Cell) -> Environment:
        self.artifact.write_bytes(HOSTILE)
        return super().provision(cell)


def test_cells_open_the_bytes_that_were_hashed_and_scanned(tmp_path: Path) -> None:
    import hashlib

    matrix = write_matrix(tmp_path / "m", (REF, "1.6.1"))
    backend = OverwritingBackend(tmp_path / "m" / "model.joblib")
    run = run_matrix(matrix, tmp_path / "out", backend)

    assert set(run.verdicts.values()) == {Verdict.IDENTICAL}
    digest = hashlib.sha256(ARTIFACT_BYTES).hexdigest()
    assert run.results.artifact["sha256"] == digest
    assert run.results.artifact["path"] == str(tmp_path / "m" / "model.joblib")
    for job in backend.jobs.values():
        artifact = Path(job["files"]["artifact"])
        # The content-addressed copy (snapshot.py), not the file the matrix names.
        assert artifact.parent == tmp_path / "cache" / "inputs" / digest
        assert artifact.read_bytes() == ARTIFACT_BYTES  # not the bytes written after the scan
        assert Path(job["files"]["golden"]).read_text() == GOLDEN


# --- the static scan: untrusted artifacts are never opened ----------------------------------------

#: A protocol-0 pickle that calls os.system when loaded (hand-written opcodes; never loaded here).
HOSTILE = b"cos\nsystem\n(S'echo pwned'\ntR."


def _hostile_matrix(directory: Path, extra: str = "") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "model.joblib").write_bytes(HOSTILE)
    return write_matrix(directory, (REF, "1.6.1"), extra=extra)


def test_an_artifact_with_untrusted_globals_is_rejected_in_every_cell(tmp_path: Path) -> None:
    run = run_matrix(_hostile_matrix(tmp_path / "m"), tmp_path / "out")

    assert set(run.verdicts.values()) == {Verdict.REJECTED}
    assert run.backend.provisioned == [] and run.backend.runs == []  # no cell ever opened it
    assert run.results.artifact["globals"] == ["os:system"]
    assert run.results.artifact["scan"]["rejected"] is True
    error = run.cell(cell_id(REF)).error
    assert error is not None and "os:system" in error.message and "never loaded" in error.message
    assert (tmp_path / "out" / "cells" / f"{cell_id(REF)}.json").is_file()


def test_a_file_trusted_by_its_sha256_is_run(tmp_path: Path) -> None:
    import hashlib

    digest = hashlib.sha256(HOSTILE).hexdigest()
    run = run_matrix(_hostile_matrix(tmp_path / "m"), tmp_path / "out", trusted_sha256=(digest,))
    assert set(run.verdicts.values()) == {Verdict.IDENTICAL}
    assert run.results.artifact["scan"]["trusted_by_hash"] is True
    assert run.results.artifact["globals"] == ["os:system"]  # still listed

    in_matrix = _hostile_matrix(tmp_path / "m2", extra=f'trusted_sha256 = "{digest}"')
    assert set(run_matrix(in_matrix, tmp_path / "out2").verdicts.values()) == {Verdict.IDENTICAL}
    other = _hostile_matrix(tmp_path / "m3", extra=f'trusted_sha256 = "{"0" * 64}"')
    assert set(run_matrix(other, tmp_path / "out3").verdicts.values()) == {Verdict.REJECTED}


def test_a_rejection_is_not_resumed_once_the_file_is_trusted(tmp_path: Path) -> None:
    import hashlib

    matrix = _hostile_matrix(tmp_path / "m")
    out = tmp_path / "out"
    assert set(run_matrix(matrix, out).verdicts.values()) == {Verdict.REJECTED}
    again = run_matrix(matrix, out, resume=True)
    assert set(again.verdicts.values()) == {Verdict.REJECTED} and again.backend.runs == []
    digest = hashlib.sha256(HOSTILE).hexdigest()
    trusted = run_matrix(matrix, out, resume=True, trusted_sha256=(digest,))
    assert set(trusted.verdicts.values()) == {Verdict.IDENTICAL}


# --- skops: the host's listing decides, the cell's skops gets exactly the trusted types --------

SKOPS = Path(__file__).resolve().parents[1] / "data" / "artifacts" / "skops"


def _skops_matrix(directory: Path, artifact: str, trusted: str = "") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "model.skops").write_bytes((SKOPS / artifact).read_bytes())
    (directory / "golden.csv").write_text(GOLDEN, encoding="utf-8")
    path = directory / "matrix.toml"
    path.write_text(
        f"""[artifact]
path = "model.skops"
golden = "golden.csv"
target = "label"
{trusted}
[defaults]
python = "3.11"
packages = {{ "scikit-learn" = "{REF}", skops = "0.16.0" }}
[axes]
"scikit-learn" = ["{REF}", "1.6.1"]
""",
        encoding="utf-8",
    )
    return path


def test_a_skops_file_naming_untrusted_types_is_rejected_before_any_cell(tmp_path: Path) -> None:
    run = run_matrix(_skops_matrix(tmp_path / "m", "hostile_os_system.skops"), tmp_path / "out")

    assert set(run.verdicts.values()) == {Verdict.REJECTED}
    assert run.backend.provisioned == []
    assert "os:system" in run.results.artifact["globals"]
    error = run.cell(f"py3.11-scikit-learn{REF}-skops0.16.0").error
    assert error is not None and "os:system" in error.message


def test_the_cells_skops_gets_exactly_the_types_the_host_trusted(tmp_path: Path) -> None:
    run = run_matrix(_skops_matrix(tmp_path / "m", "real_forest.skops"), tmp_path / "out")

    assert set(run.verdicts.values()) == {Verdict.IDENTICAL}
    trusted = {tuple(job["artifact"]["trusted_types"]) for job in run.backend.jobs.values()}
    assert len(trusted) == 1
    (types,) = trusted
    assert "sklearn.tree._tree.Tree" in types and "builtins.dict" in types
    assert all(job["artifact"]["format"] == "skops" for job in run.backend.jobs.values())


def test_narrowing_trusted_rejects_a_skops_file_and_reruns_on_resume(tmp_path: Path) -> None:
    out = tmp_path / "out"
    wide = run_matrix(_skops_matrix(tmp_path / "m", "real_forest.skops"), out)
    assert set(wide.verdicts.values()) == {Verdict.IDENTICAL}
    narrow = _skops_matrix(tmp_path / "m", "real_forest.skops", 'trusted = ["numpy.*"]')
    again = run_matrix(narrow, out, resume=True)
    assert set(again.verdicts.values()) == {Verdict.REJECTED}
    assert "sklearn.tree._tree:Tree" in again.results.artifact["scan"]["untrusted"]


# --- train mode ----------------------------------------------------------------------------------


def _train_matrix(directory: Path, recipe: str = "def train():\n    return None\n") -> Path:
    matrix = write_matrix(directory, (REF, "1.6.1"))
    (directory / "recipe.py").write_text(recipe, encoding="utf-8")
    text = matrix.read_text(encoding="utf-8").replace(
        'path = "model.joblib"', 'mode = "train"\nrecipe = "recipe.py:train"'
    )
    matrix.write_text(text, encoding="utf-8")
    return matrix


def test_train_mode_cells_run_the_recipe_instead_of_loading(tmp_path: Path) -> None:
    run = run_matrix(_train_matrix(tmp_path / "m"), tmp_path / "out")

    assert set(run.verdicts.values()) == {Verdict.IDENTICAL}
    assert run.results.artifact["mode"] == "train"
    assert run.results.artifact["scan"]["scanned"] is False
    for job in run.backend.jobs.values():
        assert "load" not in job["probes"] and job["probes"][2] == "train"
        assert job["recipe"] == {"file": "recipe.py", "function": "train"}
        assert job["files"]["recipe_dir"] == str(tmp_path / "m")
        assert "artifact" not in job["files"]
    frozen = [path.name for path in (tmp_path / "cache" / "inputs").glob("*/*")]
    assert frozen == ["golden.csv"]  # the artifact is never read, never copied


def test_resume_reruns_train_mode_cells_when_the_recipe_changes(tmp_path: Path) -> None:
    matrix = _train_matrix(tmp_path / "m")
    out = tmp_path / "out"
    run_matrix(matrix, out)
    same = run_matrix(matrix, out, resume=True)
    assert same.backend.runs == []
    _train_matrix(tmp_path / "m", "def train():\n    return 1\n")
    changed = run_matrix(matrix, out, resume=True)
    assert sorted(changed.backend.runs) == sorted(changed.verdicts)
