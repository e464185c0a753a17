"""pipeline.py: environments built ahead of the cells, through the real Runner.

Each test runs a real matrix over a :class:`~fakes.PipelineBackend`, which logs when each build
and run starts and ends and counts how many are in progress at once. Nothing is timed: where an
order matters, a fake build or run waits (bounded) for the event that must come first, so a
Runner that does not pipeline fails instead of passing by luck.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from fakes import PipelineBackend, Scenario
from test_run import REF, cell_id, run_matrix, write_matrix

from driftmatrix.outcome import Verdict
from driftmatrix.pipeline import build_slots, builds_ahead
from driftmatrix.progress import Phase
from driftmatrix.results import cell_path
from driftmatrix.run import Runner, RunOptions
from driftmatrix.spec import load_matrix


class Phases:
    """Every phase change, in order; ``ready`` is set once ``wanted`` cells were reported ready."""

    def __init__(self, wanted: int = 0) -> None:
        self.events: list[tuple[str, Phase]] = []
        self.wanted = wanted
        self.ready = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, cell: str, phase: Phase) -> None:
        with self._lock:
            self.events.append((cell, phase))
            if phase is Phase.READY and self.wanted and len(self.of(Phase.READY)) >= self.wanted:
                self.ready.set()

    def of(self, phase: Phase) -> list[str]:
        return [cell for cell, seen in self.events if seen is phase]

    def cell(self, cell: str) -> list[str]:
        return [phase.value for seen, phase in self.events if seen == cell]


def starts(backend: PipelineBackend, what: str) -> list[str]:
    """The cells in the order their builds (``build``) or runs (``run``) started."""
    return [cell for event, cell in backend.log if event == what]


def test_the_next_environment_is_built_while_a_cell_runs(tmp_path: Path) -> None:
    # One worker: the reference's run only ends once the next cell's environment is built —
    # built ahead, while the reference runs, or the fake's wait fails the reference.
    matrix = write_matrix(tmp_path / "m", (REF, "1.6.1"))
    backend = PipelineBackend()
    backend.scenarios[cell_id(REF)] = Scenario(wait_for=backend.reached("built", cell_id("1.6.1")))
    phases = Phases()
    run = run_matrix(matrix, tmp_path / "out", backend, jobs=1, phase=phases)

    assert run.verdicts == {cell_id(REF): Verdict.IDENTICAL, cell_id("1.6.1"): Verdict.IDENTICAL}
    log = backend.log
    assert log.index(("built", cell_id("1.6.1"))) < log.index(("ran", cell_id(REF)))
    assert starts(backend, "run") == [cell_id(REF), cell_id("1.6.1")]  # the reference first
    assert backend.most_running == 1
    # Built, then waiting for the one worker: "ready", never "building" until it runs.
    assert phases.cell(cell_id("1.6.1")) == ["queued", "building", "ready", "probing"]


def test_never_more_than_jobs_cells_run_at_once(tmp_path: Path) -> None:
    # The first two cells hold both workers until two more cells are built and ready: a Runner
    # that started a ready cell without a free worker would run three at once. (1.6.1 is built
    # once the reference runs, the next two once 1.6.1 runs: both workers are busy by then.)
    versions = ("1.6.1", "1.6.2", "1.6.3", "1.6.4", "1.6.5")
    matrix = write_matrix(tmp_path / "m", (REF, *versions))
    phases = Phases(wanted=2)
    held = Scenario(wait_for=phases.ready)
    backend = PipelineBackend({cell_id(REF): held, cell_id("1.6.1"): held})
    backend.hold[cell_id("1.6.1")] = backend.reached("run", cell_id(REF))
    for version in ("1.6.2", "1.6.3"):
        backend.hold[cell_id(version)] = backend.reached("run", cell_id("1.6.1"))
    run = run_matrix(matrix, tmp_path / "out", backend, jobs=2, phase=phases)

    assert set(run.verdicts.values()) == {Verdict.IDENTICAL}
    assert backend.most_running == 2
    assert sorted(phases.of(Phase.READY)[:2]) == [cell_id("1.6.2"), cell_id("1.6.3")]
    for version in ("1.6.2", "1.6.3"):
        assert phases.cell(cell_id(version))[:4] == ["queued", "building", "ready", "probing"]
    # The ready cells are handed the freed workers before cells admitted after them.
    started = starts(backend, "run")
    assert started[:2] == [cell_id(REF), cell_id("1.6.1")]
    assert sorted(started[2:4]) == [cell_id("1.6.2"), cell_id("1.6.3")]


def test_the_reference_keeps_a_worker_until_it_runs(tmp_path: Path) -> None:
    # The reference's build is the slowest: it ends after 1.6.2's, which ends once 1.6.1 runs
    # in one of the two workers. The other worker waits for the reference, so 1.6.2 (built and
    # ready) runs after it; 1.6.1 runs until the reference starts.
    matrix = write_matrix(tmp_path / "m", (REF, "1.6.1", "1.6.2"))
    backend = PipelineBackend()
    backend.hold[cell_id(REF)] = backend.reached("built", cell_id("1.6.2"))
    backend.hold[cell_id("1.6.2")] = backend.reached("run", cell_id("1.6.1"))
    backend.scenarios[cell_id("1.6.1")] = Scenario(wait_for=backend.reached("run", cell_id(REF)))
    phases = Phases()
    run = run_matrix(matrix, tmp_path / "out", backend, jobs=2, phase=phases)

    assert set(run.verdicts.values()) == {Verdict.IDENTICAL}
    assert starts(backend, "run") == [cell_id(v) for v in ("1.6.1", REF, "1.6.2")]
    assert "ready" in phases.cell(cell_id("1.6.2"))


@pytest.mark.parametrize(("jobs", "ahead"), [(1, 1), (2, 1), (4, 1), (5, 2), (8, 2), (16, 4)])
def test_builds_are_bounded_apart_from_the_workers(jobs: int, ahead: int) -> None:
    # One build per four workers (at least one) may overlap running cells; a worker without a
    # cell lends its core to one more.
    assert builds_ahead(jobs) == ahead
    assert build_slots(jobs, busy=0) == jobs + ahead  # at the start: every worker's cell
    assert build_slots(jobs, busy=1) == jobs - 1 + ahead
    assert build_slots(jobs, busy=jobs) == ahead  # all workers busy: only the look-ahead
    assert build_slots(jobs, busy=2 * jobs) == ahead  # ready cells queue for workers


def test_the_build_bound_holds_in_a_run(tmp_path: Path) -> None:
    # Four cells (2 × jobs in flight) want a build at once; the first builds wait until three
    # are in progress at once — the bound while both workers are idle — so a Runner building one
    # at a time fails. The fourth is started only once a build has finished.
    versions = tuple(f"1.6.{i}" for i in range(7))
    matrix = write_matrix(tmp_path / "m", (REF, *versions))
    backend = PipelineBackend(together=build_slots(2, busy=0), identified_together=4)
    phases = Phases()

    def phase(cell: str, value: Phase) -> None:
        phases(cell, value)
        backend.note(value.value, cell)  # in one timeline with the builds

    run = run_matrix(matrix, tmp_path / "out", backend, jobs=2, phase=phase)

    assert set(run.verdicts.values()) == {Verdict.IDENTICAL}
    assert backend.most_building == 3 and backend.most_running <= 2
    assert sorted(backend.provisioned) == sorted(run.verdicts)
    # Builds are started in matrix order, the reference's first ...
    assert phases.of(Phase.BUILDING) == [cell_id(v) for v in (REF, *versions)]
    # ... and the fourth only once one of the first three was built.
    events = [event for event, _ in backend.log]
    fourth = backend.log.index(("building", cell_id(versions[2])))
    assert "built" in events[:fourth]


def _shared_matrix(directory: Path, versions: tuple[str, ...]) -> Path:
    """Three cells per scikit-learn version that differ only in their memory limit."""
    path = write_matrix(directory, versions)
    limits = ", ".join(f'{{ memory = "{memory}" }}' for memory in ("512m", "1g", "2g"))
    text = path.read_text(encoding="utf-8").replace(
        "\n\n[reference]\n",
        f'\nlimits = [{limits}]\n\n[reference]\nlimits = {{ memory = "512m" }}\n',
    )
    path.write_text(text, encoding="utf-8")
    return path


def _limits_id(version: str, memory: str) -> str:
    return f"{cell_id(version)}-mem{memory}"


def test_cells_sharing_an_environment_share_one_build(tmp_path: Path) -> None:
    matrix = _shared_matrix(tmp_path / "m", (REF, "1.6.1", "1.6.2"))
    backend = PipelineBackend(shared=True)
    phases = Phases()
    run = run_matrix(matrix, tmp_path / "out", backend, jobs=2, cache=False, phase=phases)

    assert len(run.verdicts) == 9 and set(run.verdicts.values()) == {Verdict.IDENTICAL}
    assert len(backend.provisioned) == 3  # one per environment, not per cell
    by_key: dict[str, set[str]] = {}
    for cell, key in backend.env_keys.items():
        by_key.setdefault(key, set()).add(cell)
    assert sorted(map(sorted, by_key.values())) == [
        sorted(_limits_id(v, memory) for memory in ("512m", "1g", "2g"))
        for v in (REF, "1.6.1", "1.6.2")
    ]
    # Every cell ran in its own work directory with its own limits (the fake checks both).
    assert sorted(backend.runs) == sorted(run.verdicts)


def test_a_reused_cell_is_never_provisioned(tmp_path: Path) -> None:
    matrix = write_matrix(tmp_path / "m", (REF, "1.6.1", "1.6.2"))
    cache = tmp_path / "cache"
    run_matrix(matrix, tmp_path / "out1", PipelineBackend(), cache_dir=cache, jobs=2)
    write_matrix(tmp_path / "m", (REF, "1.6.1", "1.6.3", "1.6.2", "1.6.4"))
    backend, phases = PipelineBackend(), Phases()
    again = run_matrix(matrix, tmp_path / "out2", backend, cache_dir=cache, jobs=2, phase=phases)

    new = [cell_id("1.6.3"), cell_id("1.6.4")]
    assert sorted(backend.provisioned) == new and sorted(backend.runs) == new
    assert sorted(phases.of(Phase.BUILDING)) == new
    reused = {cell.id for cell in again.results.cells if cell.reused == "cache"}
    assert reused == {cell_id(v) for v in (REF, "1.6.1", "1.6.2")}
    assert set(again.verdicts.values()) == {Verdict.IDENTICAL}


def test_a_failed_build_fails_only_the_cells_of_that_environment(tmp_path: Path) -> None:
    # 1.6.1 cannot be installed (a build-error in each of its cells); provisioning 1.6.2 with
    # a 1g limit hits a bug in the backend (an infra-error of that cell alone).
    matrix = _shared_matrix(tmp_path / "m", (REF, "1.6.1", "1.6.2"))
    bug = _limits_id("1.6.2", "1g")
    backend = PipelineBackend(unbuildable=[("scikit-learn", "1.6.1")], broken=[bug])
    run = run_matrix(matrix, tmp_path / "out", backend, jobs=2, cache=False)

    for memory in ("512m", "1g", "2g"):
        failed = run.cell(_limits_id("1.6.1", memory))
        assert failed.verdict is Verdict.BUILD_ERROR
        assert failed.error is not None and "scikit-learn==1.6.1" in failed.error.message
        assert run.verdicts[_limits_id(REF, memory)] is Verdict.IDENTICAL
    broken = run.cell(bug)
    assert broken.verdict is Verdict.INFRA_ERROR
    assert broken.error is not None and broken.error.message == "RuntimeError: a bug in the backend"
    assert run.verdicts[_limits_id("1.6.2", "512m")] is Verdict.IDENTICAL
    assert run.verdicts[_limits_id("1.6.2", "2g")] is Verdict.IDENTICAL
    assert sorted(backend.runs) == sorted(
        cell for cell, verdict in run.verdicts.items() if verdict is Verdict.IDENTICAL
    )


def test_shared_failures_are_one_build_too(tmp_path: Path) -> None:
    matrix = _shared_matrix(tmp_path / "m", (REF, "1.6.1"))
    backend = PipelineBackend(unbuildable=[("scikit-learn", "1.6.1")], shared=True)
    run = run_matrix(matrix, tmp_path / "out", backend, jobs=2, cache=False)

    assert {run.verdicts[_limits_id("1.6.1", m)] for m in ("512m", "1g", "2g")} == {
        Verdict.BUILD_ERROR
    }
    assert len(backend.provisioned) == 2  # the reference's environment and 1.6.1's
    assert sorted(backend.runs) == [_limits_id(REF, m) for m in ("1g", "2g", "512m")]


def test_an_interrupted_run_leaves_no_build_running(tmp_path: Path) -> None:
    # Ctrl-C arrives as the reference is settled, while 1.6.1's environment is building.
    matrix = write_matrix(tmp_path / "m", (REF, "1.6.1", "1.6.2", "1.6.3"))
    building = cell_id("1.6.1")
    backend = PipelineBackend(hold={building: threading.Event()})
    backend.scenarios[cell_id(REF)] = Scenario(wait_for=backend.reached("build", building))
    at_interrupt: list[int] = []

    def interrupt(result: Any, done: int, total: int) -> None:
        at_interrupt.append(len(backend.log))
        raise KeyboardInterrupt

    runner = Runner(
        load_matrix(matrix),
        RunOptions(out_dir=tmp_path / "out", jobs=1),
        {"venv": backend},
        tmp_path / "cache",
        progress=interrupt,
    )
    with pytest.raises(KeyboardInterrupt):
        runner.run()

    assert backend.cancelled and backend.building == 0  # awaited, not left behind
    after = backend.log[at_interrupt[0] :]
    assert [event for event, _ in after if event in ("build", "run")] == []  # nothing new
    assert ("built", building) in backend.log
    out = tmp_path / "out"
    assert cell_path(out, cell_id(REF)).is_file()  # what finished is kept
    assert not any(cell_path(out, cell_id(v)).exists() for v in ("1.6.1", "1.6.2", "1.6.3"))
