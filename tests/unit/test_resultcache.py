"""resultcache.py through the Runner: what a cell did is reused, by content, from any run.

The FakeBackend counts what it provisions and runs, so "nothing ran" is observed, not assumed;
every run here gets its own output directory and shares one cache directory, as two
``driftmatrix run`` invocations on one machine do.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fakes import FakeBackend, healthy
from test_run import CASES, GOLDEN, REF, Case, Run, backend_for, cell_id, run_matrix, write_matrix

from driftmatrix.cellrun import CellRun
from driftmatrix.cells import Cell
from driftmatrix.errors import BuildError
from driftmatrix.outcome import Verdict
from driftmatrix.progress import finished_line
from driftmatrix.report import render
from driftmatrix.resultcache import BUILD_ERROR_SECONDS, ResultCache
from driftmatrix.results import RunResults, cell_path
from driftmatrix.runner import PROBES

MIXED = {
    "1.6.1": CASES["drift-label"],
    "1.6.2": CASES["load-error"],
    "1.6.3": CASES["timeout"],
    "1.6.4": CASES["build-error"],
}


def run(tmp_path: Path, out: str, cases: dict[str, Case] = MIXED, **options: Any) -> Run:
    """Run the matrix of ``tmp_path/m`` into ``tmp_path/out`` with the shared cache."""
    return run_matrix(
        tmp_path / "m" / "matrix.toml",
        tmp_path / out,
        backend_for(cases),
        cache_dir=tmp_path / "cache",
        **options,
    )


def comparable(results: RunResults) -> list[dict[str, Any]]:
    """Everything but where a result came from (``reused``)."""
    return [{**cell.to_json(with_outputs=False), "reused": None} for cell in results.cells]


def entries(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "cache" / "results").glob("*/*.json"))


def test_an_unchanged_rerun_runs_nothing_and_reports_the_same(tmp_path: Path) -> None:
    write_matrix(tmp_path / "m", (REF, *MIXED))
    first = run(tmp_path, "out1")
    again = run(tmp_path, "out2")  # another output directory: the cache is the machine's

    assert again.backend.provisioned == [] and again.backend.runs == []
    assert comparable(again.results) == comparable(first.results)
    assert {cell.reused for cell in again.results.cells} == {"cache"}
    assert {cell.reused for cell in first.results.cells} == {None}
    # What the cell took when it ran, not the milliseconds of reusing it.
    assert [c.seconds for c in again.results.cells] == [c.seconds for c in first.results.cells]
    assert sorted(cid for cid, *_ in again.progress) == sorted(first.verdicts)
    for cell in again.results.cells:  # on disk as every finished cell is, outputs and all
        doc = json.loads(cell_path(tmp_path / "out2", cell.id).read_text(encoding="utf-8"))
        assert doc["reused"] == "cache"
        assert (doc["outputs"] is not None) == cell.verdict.ran
        assert "reused" not in cell_path(tmp_path / "out1", cell.id).read_text(encoding="utf-8")


def test_an_entry_is_one_line_of_compact_json(tmp_path: Path) -> None:
    # It holds the cell's raw outputs and is written while other cells run: the C encoder
    # writes it compact several times faster than Python's writes it indented.
    write_matrix(tmp_path / "m", (REF, "1.6.1"))
    run(tmp_path, "out1", {})

    assert len(entries(tmp_path)) == 2
    for entry in entries(tmp_path):
        text = entry.read_text(encoding="utf-8")
        assert text.startswith('{"schema":1,"fingerprint":"') and text.count("\n") == 1
        assert json.loads(text)["run"]["facts"]


def test_changing_one_cells_pin_reruns_only_that_cell(tmp_path: Path) -> None:
    write_matrix(tmp_path / "m", (REF, *MIXED))
    run(tmp_path, "out1")
    changed = {**MIXED, "1.6.9": MIXED["1.6.2"]}
    del changed["1.6.2"]
    write_matrix(tmp_path / "m", (REF, *changed))
    again = run(tmp_path, "out2", changed)

    assert again.backend.provisioned == again.backend.runs == [cell_id("1.6.9")]
    assert again.cell(cell_id("1.6.9")).reused is None
    assert again.verdicts == {cell_id(REF): Verdict.IDENTICAL} | {
        cell_id(v): case.verdict for v, case in changed.items()
    }


def test_a_changed_golden_set_reruns_every_cell(tmp_path: Path) -> None:
    write_matrix(tmp_path / "m", (REF, *MIXED))
    first = run(tmp_path, "out1")
    (tmp_path / "m" / "golden.csv").write_text(GOLDEN + "r5,extreme,-1e300,0\n", encoding="utf-8")
    again = run(tmp_path, "out2")

    assert sorted(again.backend.provisioned) == sorted(first.backend.provisioned)
    assert sorted(again.backend.runs) == sorted(first.backend.runs)


def test_a_changed_interpreter_behind_the_same_python_reruns_every_cell(tmp_path: Path) -> None:
    write_matrix(tmp_path / "m", (REF, "1.6.1"))
    run(tmp_path, "out1", {})
    upgraded = FakeBackend(interpreters={"3.11": "3.11.8"})  # "3.11" now resolves to 3.11.8
    again = run_matrix(
        tmp_path / "m" / "matrix.toml", tmp_path / "out2", upgraded, cache_dir=tmp_path / "cache"
    )

    assert sorted(again.backend.runs) == sorted([cell_id(REF), cell_id("1.6.1")])


def test_no_cache_reruns_every_cell_and_replaces_what_was_kept(tmp_path: Path) -> None:
    write_matrix(tmp_path / "m", (REF, "1.6.1"))
    drifting = {"1.6.1": CASES["drift-label"]}
    first = run(tmp_path, "out1", drifting)
    fixed = {"1.6.1": CASES["identical"]}
    forced = run(tmp_path, "out2", fixed, cache=False)

    assert sorted(forced.backend.runs) == sorted(first.backend.runs)
    assert forced.verdicts[cell_id("1.6.1")] is Verdict.IDENTICAL
    # What the forced run observed is what the cache holds now.
    later = run(tmp_path, "out3", drifting)
    assert later.backend.runs == [] and later.verdicts[cell_id("1.6.1")] is Verdict.IDENTICAL


def test_a_new_cell_is_compared_with_the_cached_reference(tmp_path: Path) -> None:
    write_matrix(tmp_path / "m", (REF, "1.6.1"))
    run(tmp_path, "out1", {"1.6.1": CASES["identical"]})
    grown = {"1.6.1": CASES["identical"], "1.6.2": CASES["drift-label"]}
    write_matrix(tmp_path / "m", (REF, *grown))
    again = run(tmp_path, "out2", grown)

    assert again.backend.runs == [cell_id("1.6.2")]
    assert again.cell(cell_id(REF)).reused == "cache"
    assert again.verdicts[cell_id("1.6.2")] is Verdict.DRIFT
    labels = again.cell(cell_id("1.6.2")).comparison["labels"]  # type: ignore[index]
    assert labels["flipped"] == 1


def test_cached_cells_are_compared_again_with_a_reference_that_ran_again(tmp_path: Path) -> None:
    # An infra-error is never kept: the reference runs again, the cached cell is compared anew.
    failed = {REF: CASES["infra-error-backend"], "1.6.1": CASES["drift-label"]}
    write_matrix(tmp_path / "m", tuple(failed))
    first = run(tmp_path, "out1", failed)
    assert first.verdicts[cell_id("1.6.1")] is Verdict.NOT_COMPARED
    assert len(entries(tmp_path)) == 1  # the cell; the reference's failure is not kept

    fixed = {REF: CASES["identical"], "1.6.1": CASES["drift-label"]}
    again = run(tmp_path, "out2", fixed)
    assert again.backend.runs == [cell_id(REF)]
    assert again.verdicts == {cell_id(REF): Verdict.IDENTICAL, cell_id("1.6.1"): Verdict.DRIFT}


def test_a_build_error_is_kept_but_an_infra_error_is_not(tmp_path: Path) -> None:
    cases = {"1.6.1": CASES["build-error"], "1.6.2": CASES["infra-error-unreadable"]}
    write_matrix(tmp_path / "m", (REF, *cases))
    run(tmp_path, "out1", cases)
    again = run(tmp_path, "out2", cases)

    assert again.backend.provisioned == again.backend.runs == [cell_id("1.6.2")]
    assert again.verdicts[cell_id("1.6.1")] is Verdict.BUILD_ERROR


def test_a_build_error_is_reused_for_an_hour_only(tmp_path: Path) -> None:
    now = [1000.0]
    cache = ResultCache(tmp_path, clock=lambda: now[0])
    built = CellRun("venv", {"requested": {}, "build_error": "no wheel for numpy==9.9"})
    ran = CellRun("venv", {"requested": {}, "result": {"protocol": 1, "probes": {}}}, seconds=2.0)
    cache.put("a" * 64, built)
    cache.put("b" * 64, ran)

    now[0] += BUILD_ERROR_SECONDS - 1
    assert cache.get("a" * 64) == built and cache.get("b" * 64) == ran
    now[0] += 2
    assert cache.get("a" * 64) is None  # the index may have published the wheel since
    assert cache.get("b" * 64) == ran  # what a cell did does not age


class NoInterpreter(FakeBackend):
    """A host without the cells' Python: the environment cannot even be identified."""

    def identify(self, cell: Cell) -> str:
        raise BuildError(f"no Python {cell.python} interpreter found (looked in pyenv)")


def test_a_cell_whose_environment_cannot_be_identified_fails_and_is_not_kept(
    tmp_path: Path,
) -> None:
    matrix = write_matrix(tmp_path / "m", (REF, "1.6.1"))
    for out in ("out1", "out2"):
        missing = NoInterpreter()
        failed = run_matrix(matrix, tmp_path / out, missing, cache_dir=tmp_path / "cache")
        assert set(failed.verdicts.values()) == {Verdict.BUILD_ERROR}
        assert missing.provisioned == []  # nothing is built for an unknown environment
        error = failed.cell(cell_id("1.6.1")).error
        assert error is not None and "no Python 3.11" in error.message
    assert entries(tmp_path) == []
    installed = run_matrix(matrix, tmp_path / "out3", cache_dir=tmp_path / "cache")
    assert set(installed.verdicts.values()) == {Verdict.IDENTICAL}


DAMAGE = {
    "truncated": lambda text: text[: len(text) // 2],
    "empty": lambda text: "",
    "not-json": lambda text: "\x00\xff garbage",
    "another-schema": lambda text: text.replace('"schema":1', '"schema":99'),
    "another-fingerprint": lambda text: text.replace('"fingerprint":"', '"fingerprint":"0', 1),
    "unknown-execution-field": lambda text: text.replace('"exit_code"', '"exit_kode"'),
    "undecidable-result": lambda text: text.replace('"probes":{', '"probes":5,"x":{', 1),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_entry_is_a_miss_and_is_rewritten(tmp_path: Path, damage: str) -> None:
    write_matrix(tmp_path / "m", (REF, "1.6.1"))
    cases = {"1.6.1": CASES["drift-label"]}
    first = run(tmp_path, "out1", cases)
    for entry in entries(tmp_path):
        damaged = DAMAGE[damage](entry.read_text(encoding="utf-8"))
        assert damaged != entry.read_text(encoding="utf-8")  # the damage found what it breaks
        entry.write_text(damaged, encoding="utf-8")

    again = run(tmp_path, "out2", cases)
    assert sorted(again.backend.runs) == sorted(first.backend.runs)
    assert again.verdicts == first.verdicts
    assert run(tmp_path, "out3", cases).backend.runs == []  # rewritten by the rerun


def test_jobs_that_save_files_are_not_cached(tmp_path: Path) -> None:
    # The grid's producers leave the model they saved in their work directory for the next
    # stage; a reused result would come without it.
    write_matrix(tmp_path / "m", (REF, "1.6.1"))
    probes = (*PROBES, "save")
    first = run(tmp_path, "out1", {}, probes=probes)
    again = run(tmp_path, "out2", {}, probes=probes)

    assert sorted(again.backend.runs) == sorted(first.backend.runs) and entries(tmp_path) == []


def test_resume_takes_the_output_directorys_cells_first(tmp_path: Path) -> None:
    write_matrix(tmp_path / "m", (REF, "1.6.1"))
    run(tmp_path, "out1", {})
    again = run(tmp_path, "out1", {}, resume=True)

    assert again.backend.runs == []
    assert {cell.reused for cell in again.results.cells} == {"resume"}


def test_reports_and_progress_say_which_cells_were_reused(tmp_path: Path) -> None:
    write_matrix(tmp_path / "m", (REF, "1.6.1"))
    first = run(tmp_path, "out1", {})
    grown = {"1.6.1": CASES["identical"], "1.6.2": Case(healthy(), Verdict.IDENTICAL)}
    write_matrix(tmp_path / "m", (REF, *grown))
    again = run(tmp_path, "out2", grown)

    reused = again.cell(cell_id("1.6.1"))
    ran = again.cell(cell_id("1.6.2"))
    assert f"({reused.seconds:.1f}s, cached)" in finished_line(reused, 1, 3)
    assert "cached" not in finished_line(ran, 2, 3)
    for fmt in ("terminal", "md"):
        rows = {
            line.split()[0 if fmt == "terminal" else 1].strip("`*"): line
            for line in render(again.results, fmt).splitlines()
            if "scikit-learn1.6." in line and ("|" in line) == (fmt == "md")
        }
        assert f"{reused.seconds:.1f} cached" in rows[cell_id("1.6.1")]
        assert "cached" not in rows[cell_id("1.6.2")]
    assert "cached" not in render(first.results, "terminal")


def test_another_recipe_function_in_the_same_file_reruns_the_cells(tmp_path: Path) -> None:
    matrix = write_matrix(tmp_path / "m", (REF, "1.6.1"))
    recipe = "def train():\n    return None\n\n\ndef train_again():\n    return None\n"
    (tmp_path / "m" / "recipe.py").write_text(recipe, encoding="utf-8")
    text = matrix.read_text(encoding="utf-8")

    def train(function: str, out: str) -> list[str]:
        mode = f'mode = "train"\nrecipe = "recipe.py:{function}"'
        matrix.write_text(text.replace('path = "model.joblib"', mode), encoding="utf-8")
        return run(tmp_path, out, {}).backend.runs

    assert len(train("train", "out1")) == 2
    assert train("train", "out2") == []
    assert len(train("train_again", "out3")) == 2  # the file's hash alone would say "unchanged"
