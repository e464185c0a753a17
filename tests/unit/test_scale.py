"""The host at scale (issue 7): work linear in the number of cells, memory flat in it.

No test here times anything (speed is measured by ``benchmarks/``, with ``tests/scale.py``).
Instead they count what the host does — Python calls, bytecode steps, comparisons, objects
alive — at N cells and at 2N: linear work doubles, an all-pairs path quadruples.
"""

from __future__ import annotations

import gc
import io
import json
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
import scale
from fakes import FakeBackend, Scenario, healthy
from test_run import REF, cell_id, write_matrix

from driftmatrix.cimatrix import job_matrix, shards
from driftmatrix.merge import merge, read_part
from driftmatrix.outcome import Verdict
from driftmatrix.packed import Packed
from driftmatrix.progress import LiveDisplay, Phase
from driftmatrix.results import (
    cell_path,
    read_cell,
    write_cell,
    write_results,
)
from driftmatrix.run import Runner, RunOptions
from driftmatrix.selection import select_cells
from driftmatrix.spec import load_matrix

#: Doubling the cells may at most multiply the work by this (linear: 2; all pairs: 4).
LINEAR = 2.5


def calls(action: Callable[[], object]) -> int:
    """How many Python functions ``action`` calls (``sys.setprofile``: this thread only)."""
    count = 0

    def profile(frame: FrameType, event: str, arg: object) -> None:
        nonlocal count
        count += event == "call"

    sys.setprofile(profile)
    try:
        action()
    finally:
        sys.setprofile(None)
    return count


def steps(action: Callable[[], object]) -> int:
    """How many bytecode instructions ``action`` executes (loops inside a function count)."""
    count = 0

    def trace(frame: FrameType, event: str, arg: object) -> Callable[..., Any]:
        nonlocal count
        frame.f_trace_opcodes = True
        count += event == "opcode"
        return trace

    sys.settrace(trace)
    try:
        action()
    finally:
        sys.settrace(None)
    return count


def grows_linearly(work: Callable[[int], int], size: int) -> tuple[int, int]:
    """``work`` at ``size`` and at twice that; asserts the second is at most LINEAR times."""
    small, large = work(size), work(2 * size)
    assert large <= LINEAR * small, f"{size} → {small}, {2 * size} → {large}: not linear"
    return small, large


# --- the matrix generator ------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["axes", "include"])
@pytest.mark.parametrize("cells", [1, 37, 1_000, 10_000])
def test_generated_matrix_has_exactly_the_cells_asked_for(
    tmp_path: Path, layout: str, cells: int
) -> None:
    spec = load_matrix(scale.write_matrix(tmp_path, cells, layout=layout))

    assert len(spec.cells) == cells == len({cell.id for cell in spec.cells})
    if layout == "axes" and cells >= 1_000:
        # Mostly the product of the axes, some cells excluded, a few legacy includes.
        assert spec.reference == "py3.10-scikit-learn1.3.2-numpy1.26.4-scipy1.11.4-mem1g-cpu1"
        assert sum(cell.python == "3.8" for cell in spec.cells) < cells // 4


# --- reading, expanding, planning, listing --------------------------------------------------


@pytest.mark.parametrize("layout", ["axes", "include"])
def test_reading_a_matrix_is_linear_in_its_cells(tmp_path: Path, layout: str) -> None:
    def work(cells: int) -> int:
        path = scale.write_matrix(tmp_path / str(cells), cells, layout=layout)
        return calls(lambda: load_matrix(path))

    grows_linearly(work, 1_000)


def test_planning_a_run_is_linear_in_its_cells(tmp_path: Path) -> None:
    def work(cells: int) -> int:
        spec = load_matrix(scale.write_matrix(tmp_path / str(cells), cells))
        options = RunOptions(out_dir=tmp_path / f"out{cells}")
        runner = Runner(spec, options, {"venv": FakeBackend()}, tmp_path / "cache")
        runner.plan()  # the first plan scans the artifact; later ones find the scan cached
        return calls(runner.plan)

    grows_linearly(work, 1_000)


def test_plan_orders_the_reference_first_and_fingerprints_every_cell(tmp_path: Path) -> None:
    spec = load_matrix(scale.write_matrix(tmp_path, 200))
    options = RunOptions(out_dir=tmp_path / "out")
    plan = Runner(spec, options, {"venv": FakeBackend()}, tmp_path / "cache").plan()

    assert plan.cells[0].id == spec.reference
    assert sorted(cell.id for cell in plan.cells) == sorted(cell.id for cell in spec.cells)
    assert set(plan.fingerprints) == {cell.id for cell in spec.cells}
    assert len(set(plan.fingerprints.values())) == 200  # every cell its own inputs
    assert not (tmp_path / "out" / "cells").exists()  # no cell started


def test_the_ci_job_matrix_is_linear_in_cells(tmp_path: Path) -> None:
    def work(cells: int) -> int:
        spec = load_matrix(scale.write_matrix(tmp_path / str(cells), cells))
        return calls(lambda: job_matrix(spec))

    grows_linearly(work, 2_000)


class CountingId(str):
    """A cell id that counts how often it is compared (``str``'s own ``==`` is not a call)."""

    compared = 0

    def __eq__(self, other: object) -> bool:
        CountingId.compared += 1
        return str.__eq__(self, other)

    __hash__ = str.__hash__


def test_selecting_thousands_of_cells_looks_each_up_once(tmp_path: Path) -> None:
    spec = load_matrix(scale.write_matrix(tmp_path, 2_000))
    wanted = tuple(CountingId(cell.id) for cell in spec.cells[::2])
    CountingId.compared = 0

    chosen = select_cells(spec, wanted)

    assert [cell.id for cell in chosen] == list(wanted)
    # A set lookup compares an id about once; scanning the tuple would compare it ~1,000 times.
    assert CountingId.compared < 3 * len(spec.cells)


def test_queueing_cells_on_a_terminal_costs_the_same_per_cell(tmp_path: Path) -> None:
    def work(cells: int) -> int:
        display = LiveDisplay(io.StringIO(), clock=lambda: 0.0, columns=lambda: 120, interval=None)

        def queue() -> None:
            for index in range(cells):
                display.phase(f"cell-{index}", Phase.QUEUED)
            display.phase("cell-0", Phase.BUILDING)

        return steps(queue)

    grows_linearly(work, 200)


# --- memory: what a run keeps ---------------------------------------------------------------------


def _outputs_alive() -> int:
    """Raw outputs documents (a cell's per-row values) alive in this process now."""
    gc.collect()
    keys = {"row_ids", "tags", "classes", "methods"}
    return sum(1 for obj in gc.get_objects() if isinstance(obj, dict) and obj.keys() == keys)


class Paced(FakeBackend):
    """Runs the cells other than the reference one at a time, each only once the Runner has
    dealt with the one before (compared it, or put it aside to wait for the reference): no
    finished cell piles up unseen, so what is alive is what the Runner keeps.

    Attributes:
        alive: :func:`_outputs_alive` as each of those cells starts.
    """

    def __init__(self, reference: str, scenarios: dict[str, Scenario] | None = None) -> None:
        super().__init__(scenarios)
        self.reference = reference
        self.turn = threading.Semaphore(1)
        self.alive: list[int] = []

    def run(self, env: Any, invocation: Any) -> Any:
        if invocation.job["cell"] != self.reference:
            assert self.turn.acquire(timeout=10), "the Runner never dealt with the last cell"
            self.alive.append(_outputs_alive())
        return super().run(env, invocation)

    def progress(self, result: Any, done: int, total: int) -> None:
        if result.id != self.reference:
            self.turn.release()

    def phase(self, cell: str, phase: Phase) -> None:
        if phase is Phase.WAITING:
            self.turn.release()


def _paced_run(tmp_path: Path, backend: Paced, versions: tuple[str, ...], jobs: int) -> Any:
    spec = load_matrix(write_matrix(tmp_path / "m", (REF, *versions)))
    options = RunOptions(out_dir=tmp_path / "out", jobs=jobs)
    runner = Runner(
        spec, options, {"venv": backend}, tmp_path / "cache", backend.progress, backend.phase
    )
    return runner.run()


def test_settled_cells_do_not_keep_their_outputs_in_memory(tmp_path: Path) -> None:
    versions = tuple(f"1.6.{i}" for i in range(24))
    backend = Paced(cell_id(REF))

    results = _paced_run(tmp_path, backend, versions, jobs=1)

    assert len(backend.alive) == 24
    # Flat (the reference's may arrive after the first count): keeping the outputs of settled
    # cells would add one per cell.
    assert max(backend.alive) - min(backend.alive) <= 1
    assert all(cell.outputs is None for cell in results.cells)
    for cell in results.cells:  # ... every cell file has them
        assert read_cell(cell_path(tmp_path / "out", cell.id)).outputs is not None


def test_cells_waiting_for_the_reference_wait_without_their_outputs(tmp_path: Path) -> None:
    versions = tuple(f"1.6.{i}" for i in range(12))
    last_done = threading.Event()
    scenarios: dict[str, Scenario] = {
        cell_id(REF): Scenario(healthy().result, wait_for=last_done),
        cell_id(versions[-1]): Scenario(healthy(labels=(1, 1, 0, 1)).result, then_set=last_done),
    }
    backend = Paced(cell_id(REF), scenarios)

    results = _paced_run(tmp_path, backend, versions, jobs=2)

    assert len(backend.alive) == 12
    assert max(backend.alive) - min(backend.alive) <= 1  # not one more per waiting cell
    verdicts = {cell.id: cell.verdict for cell in results.cells}
    assert verdicts[cell_id(versions[-1])] is Verdict.DRIFT  # compared, outputs from its file
    assert {verdicts[cell_id(v)] for v in versions[:-1]} == {Verdict.IDENTICAL}
    written = read_cell(cell_path(tmp_path / "out", cell_id(versions[0])))
    assert written.outputs is not None and written.verdict is Verdict.IDENTICAL


def test_a_run_keeps_settled_cells_packed(tmp_path: Path) -> None:
    results = _paced_run(tmp_path, Paced(cell_id(REF)), ("1.6.1", "1.6.2"), jobs=1)

    for cell in results.cells:
        assert isinstance(cell.probes, Packed) and isinstance(cell.comparison, Packed)
        assert cell.to_json(with_outputs=False) == {
            **read_cell(cell_path(tmp_path / "out", cell.id)).to_json(with_outputs=False),
            "seconds": round(cell.seconds, 3),
        }


def test_finished_cells_cannot_pile_up_faster_than_they_are_compared(tmp_path: Path) -> None:
    started: list[int] = []
    settled = 0

    class Instant(FakeBackend):  # every cell finishes at once, as a reused result does
        def run(self, env: Any, invocation: Any) -> Any:
            started.append(len(self.runs) + 1 - settled)  # started, not yet compared
            return super().run(env, invocation)

    def progress(result: Any, done: int, total: int) -> None:
        nonlocal settled
        settled = done
        time.sleep(0.005)  # comparing is slower than finishing

    spec = load_matrix(write_matrix(tmp_path / "m", (REF, *(f"1.6.{i}" for i in range(30)))))
    options = RunOptions(out_dir=tmp_path / "out", jobs=1)
    Runner(spec, options, {"venv": Instant()}, tmp_path / "cache", progress).run()

    assert len(started) == 31 and settled == 31
    assert max(started) <= 2  # never more than twice the workers submitted and not compared


def test_merging_ci_jobs_keeps_no_cell_outputs_in_memory(tmp_path: Path) -> None:
    versions = tuple(f"1.6.{i}" for i in range(20))
    spec = load_matrix(write_matrix(tmp_path / "m", (REF, *versions)))
    dirs = []
    for shard in shards(spec.cells, spec.reference, 3):
        ids = tuple(cell.id for cell in shard.cells)
        options = RunOptions(out_dir=tmp_path / shard.id, cell_ids=ids, compare=False)
        write_results(
            options.out_dir, Runner(spec, options, {"venv": FakeBackend()}, tmp_path / "c").run()
        )
        dirs.append(options.out_dir)
    before = _outputs_alive()
    parts = [read_part(path) for path in dirs]
    alive: list[int] = []

    merged = merge(parts, write=lambda cell: alive.append(_outputs_alive()))

    assert _outputs_alive() == before  # reading the jobs kept none
    assert len(alive) == 21 and max(alive) - before <= 2  # the reference's and the cell's
    assert all(cell.outputs is None for cell in merged.results.cells)
    assert {cell.verdict for cell in merged.results.cells} == {Verdict.IDENTICAL}


def test_cell_files_are_compact_strict_json(tmp_path: Path) -> None:
    run = _paced_run(tmp_path, Paced(cell_id(REF)), ("1.6.1",), jobs=1)
    cell = replace(run.cells[1], probes={"odd": {"v": [float("nan"), 1.5]}}, outputs={"x": [1]})

    path = write_cell(tmp_path / "out", cell)

    text = path.read_text(encoding="utf-8")
    assert "\n" not in text.strip() and "NaN" not in text  # one line, strict JSON
    assert json.loads(text)["probes"] == {"odd": {"v": ["nan", 1.5]}}
    assert read_cell(path).outputs == {"x": [1]}
