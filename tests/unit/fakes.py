"""Fakes that implement driftmatrix's real interfaces, for testing the orchestration in-process.

:class:`FakeBackend` is a :class:`~driftmatrix.backends.base.Backend`: ``provision`` fails with
:class:`~driftmatrix.errors.BuildError` for configured pins, and ``run`` plays a scripted
:class:`Scenario` by writing a real protocol-1 ``result.json`` (docs/runner-protocol.md) into the
invocation's work directory and returning an :class:`~driftmatrix.backends.base.Execution`. The
:class:`~driftmatrix.run.Runner` then reads that file back with the real ``runner.read_result``,
so everything after the backend boundary is the production code path.

No fake ever opens the artifact: the host must never deserialize one, and neither do its tests.
"""

from __future__ import annotations

import copy
import json
import signal
import threading
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from driftmatrix.backends.base import Backend, Environment, Execution, Invocation
from driftmatrix.cells import Cell
from driftmatrix.errors import BuildError, InfraError

#: The golden set every scenario "predicts" on: row ids, edge-case tags, labels, probabilities.
ROW_IDS = ("r1", "r2", "r3", "r4")
TAGS = ("", "missing-value", "extreme", "class-1")
CLASSES = (0, 1)
LABELS = (0, 1, 0, 1)
PROBA = ((0.9, 0.1), (0.2, 0.8), (0.7, 0.3), (0.4, 0.6))
#: What the reference's environment has beyond its pins; differences show up in comparisons.
TRANSITIVE = {"scipy": "1.14.1", "joblib": "1.4.2", "threadpoolctl": "3.5.0"}

EXITED = Execution(exit_code=0, seconds=0.5)
#: Only a timeout is enforced by the fake "harness": memory/cpus were not asked for in the tests.
ENFORCED = {"timeout": "harness"}


def _ok(seconds: float = 0.01, **fields: Any) -> dict[str, Any]:
    return {"status": "ok", "seconds": seconds, "warnings": [], **fields}


def _failed(error_type: str, message: str, **fields: Any) -> dict[str, Any]:
    error = {"type": error_type, "message": message, "traceback": f"{error_type}: {message}"}
    return {"status": "failed", "seconds": 0.01, "warnings": [], "error": error, **fields}


def _skipped(reason: str) -> dict[str, Any]:
    return {"status": "skipped", "seconds": 0.0, "reason": reason}


RUNNING: dict[str, Any] = {"status": "running"}


def make_outputs(
    labels: tuple[Any, ...] = LABELS, proba: tuple[tuple[float, ...], ...] | None = PROBA
) -> dict[str, Any]:
    """The ``outputs`` record of a result: row ids, tags, classes and per-method values."""
    methods: dict[str, Any] = {"predict": list(labels)}
    if proba is not None:
        methods["predict_proba"] = [list(row) for row in proba]
    return {
        "row_ids": list(ROW_IDS),
        "tags": list(TAGS),
        "classes": list(CLASSES),
        "methods": methods,
    }


def probe_records(**overrides: Any) -> dict[str, Any]:
    """Every probe ``ok`` (what a healthy cell reports); an override of None drops that probe."""
    records: dict[str, Any] = {
        "environment": _ok(platform="Linux-fake-x86_64", machine="x86_64", cpu_count=2),
        "imports": _ok(
            0.5,
            modules={
                "sklearn": {"distribution": "scikit-learn", "status": "ok", "seconds": 0.4},
                "numpy": {"distribution": "numpy", "status": "ok", "seconds": 0.1},
            },
        ),
        "load": _ok(0.02, format="joblib", bytes=42, estimator="sklearn.linear_model.Fake"),
        "predict": _ok(
            rows=len(ROW_IDS),
            input="array",
            methods={
                "predict": {"status": "ok", "kind": "labels", "dtype": "int64", "shape": [4]},
                "predict_proba": {
                    "status": "ok",
                    "kind": "scores",
                    "dtype": "float64",
                    "shape": [4, 2],
                },
            },
        ),
        "roundtrip": _ok(0.03, identical=True, differs=[]),
    }
    for name, record in overrides.items():
        if record is None:
            records.pop(name, None)
        else:
            records[name] = record
    return records


def result_doc(
    *,
    probes: Mapping[str, Any] | None = None,
    outputs: Mapping[str, Any] | Literal["default"] | None = "default",
    finished: bool = True,
    error: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A protocol-1 ``result.json`` body; the fake adds ``cell`` and ``installed`` when it runs.

    Args:
        probes: Probe records (default: every probe ``ok``).
        outputs: The ``outputs`` record (default: :func:`make_outputs`); None writes null.
        finished: Whether the runner got to its last write.
        error: The runner's own failure (a bad job, a bug), or None.
    """
    records = dict(probes if probes is not None else probe_records())
    started = [name for name in records if records[name].get("status") != "skipped"]
    return {
        "protocol": 1,
        "finished": finished,
        "stage": started[-1] if started else None,
        "python": {"version": "3.11.7", "implementation": "CPython", "executable": "/fake/python"},
        "probes": records,
        "outputs": make_outputs() if outputs == "default" else (dict(outputs) if outputs else None),
        "error": dict(error) if error is not None else None,
    }


@dataclass(frozen=True)
class Scenario:
    """What one cell's runner does when the :class:`FakeBackend` runs it.

    Attributes:
        result: The ``result.json`` to write: a document (``cell`` and ``installed`` are filled
            in), raw text written as is (to be unreadable), or None to write no file at all.
        execution: How the process "ended".
        raises: An exception ``run`` raises instead (e.g. ``InfraError``: the backend failed).
        wait_for: ``run`` blocks on this event first (to make a cell finish after others).
        then_set: ``run`` sets this event when it is done (to release a waiting cell).
    """

    result: Mapping[str, Any] | str | None = field(default_factory=result_doc)
    execution: Execution = EXITED
    raises: BaseException | None = None
    wait_for: threading.Event | None = None
    then_set: threading.Event | None = None


# --- the scenarios every verdict comes from ------------------------------------------------------


def healthy(labels: tuple[Any, ...] = LABELS, proba: Any = PROBA) -> Scenario:
    """Loads and predicts ``labels``/``proba`` (compared with the reference later)."""
    return Scenario(result_doc(outputs=make_outputs(labels, proba)))


# --- latency and memory (probes/latency.py, probes/_memory.py) ----------------------------------


def memory(peak_kib: int, method: str = "VmHWM") -> dict[str, Any]:
    """A probe record's ``memory``: the peak RSS (KiB) while it ran, and how it was measured."""
    return {"method": method, "start_kib": peak_kib // 2, "peak_kib": peak_kib}


def latency_record(p50_ms: Mapping[int, float], method: str = "predict") -> dict[str, Any]:
    """A finished latency probe record: batch size (rows) → p50 in ms; the rest derived."""
    batches = [
        {"rows": rows, "status": "ok", "calls": 40, "warmup": 1, "p50_ms": p50}
        | {"min_ms": p50 * 0.9, "p95_ms": p50 * 1.5, "max_ms": p50 * 2}
        for rows, p50 in p50_ms.items()
    ]
    fields = {"budget_seconds": 0.5, "max_calls": 50, "batches": batches}
    return _ok(2.0, method=method, input="array", **fields)


def measured(
    p50_ms: float = 2.0, peak_kib: int = 150_000, latency: Mapping[str, Any] | None = None
) -> Scenario:
    """Loads and predicts as :func:`healthy`, with a latency probe and load/predict peaks.

    Args:
        p50_ms: p50 at 1000 rows (1 and 100 rows are faster).
        peak_kib: The peak of ``predict``; ``load`` peaks a little lower.
        latency: A latency probe record instead of the one ``p50_ms`` gives.
    """
    timing = latency or latency_record({1: p50_ms / 8, 100: p50_ms / 4, 1000: p50_ms})
    records = probe_records(latency=dict(timing))
    records["load"] = {**records["load"], "memory": memory(peak_kib - 2_000)}
    records["predict"] = {**records["predict"], "memory": memory(peak_kib)}
    return Scenario(result_doc(probes=records))


def import_failed() -> Scenario:
    """The pinned libraries do not import together (an ABI mismatch)."""
    message = "numpy.core.multiarray failed to import"
    modules = {
        "sklearn": {
            "distribution": "scikit-learn",
            "status": "failed",
            "seconds": 0.2,
            "error": {"type": "ImportError", "message": message},
        },
        "numpy": {"distribution": "numpy", "status": "ok", "seconds": 0.1},
    }
    probes = probe_records(
        imports=_failed("ImportError", message, modules=modules),
        load=_skipped("imports failed"),
        predict=_skipped("load did not succeed"),
        roundtrip=_skipped("load did not succeed"),
    )
    return Scenario(result_doc(probes=probes, outputs=None))


def load_failed(
    error_type: str = "UnpicklingError", message: str = "pickle data was truncated"
) -> Scenario:
    """The artifact does not deserialize."""
    probes = probe_records(
        load=_failed(error_type, message, format="joblib", bytes=42),
        predict=_skipped("load did not succeed"),
        roundtrip=_skipped("load did not succeed"),
    )
    return Scenario(result_doc(probes=probes, outputs=None))


def predict_failed() -> Scenario:
    """It loads, but ``predict`` raises (``predict_proba`` still answers)."""
    methods = {
        "predict": {
            "status": "failed",
            "error": {"type": "AttributeError", "message": "no attribute 'monotonic_cst'"},
        },
        "predict_proba": {"status": "ok", "kind": "scores", "dtype": "float64", "shape": [4, 2]},
    }
    probes = probe_records(
        predict=_failed("AttributeError", "no attribute 'monotonic_cst'", methods=methods),
        roundtrip=_skipped("predict did not succeed"),
    )
    only_proba = make_outputs()
    del only_proba["methods"]["predict"]
    return Scenario(result_doc(probes=probes, outputs=only_proba))


def timed_out() -> Scenario:
    """Stopped at the time limit while predicting (the runner's last write says ``running``)."""
    probes = probe_records(predict=RUNNING, roundtrip=None)
    return Scenario(
        result_doc(probes=probes, outputs=None, finished=False),
        Execution(exit_code=None, signal=signal.SIGKILL, timed_out=True, seconds=60.0),
    )


def oom_killed() -> Scenario:
    """Killed by the kernel's memory limit while loading."""
    probes = probe_records(load=RUNNING, predict=None, roundtrip=None)
    return Scenario(
        result_doc(probes=probes, outputs=None, finished=False),
        Execution(exit_code=None, signal=signal.SIGKILL, oom_killed=True, seconds=1.0),
    )


def segfault_in_load() -> Scenario:
    """The interpreter crashed inside ``load`` (a native extension reading a foreign layout)."""
    probes = probe_records(load=RUNNING, predict=None, roundtrip=None)
    return Scenario(
        result_doc(probes=probes, outputs=None, finished=False),
        Execution(exit_code=None, signal=signal.SIGSEGV, seconds=0.3),
    )


# --- the contract probe (bad inputs) -------------------------------------------------------------

#: What a strict classifier fitted on an array does with each bad input (probes/contract.py).
CONTRACT_CASES: dict[str, str] = {
    "missing-column": "ValueError",
    "extra-column": "ValueError",
    "wrong-dtype": "ValueError",
    "unseen-missing": "ValueError",
    "unseen-category": "not-applicable",
    "empty-batch": "ValueError",
    "single-row": "output",
    "large-batch": "output",
}


def contract_case(behaviour: str, message: str = "bad input", **failed_checks: bool) -> dict:
    """One case record: ``behaviour`` is an exception type, ``output`` or ``not-applicable``.

    ``failed_checks`` (e.g. ``sums_to_one=False``) override the output checks of every method.
    """
    if behaviour == "not-applicable":
        return {"outcome": behaviour, "reason": "the golden set has no categorical column"}
    methods = {}
    for method in ("predict", "predict_proba"):
        if behaviour == "output":
            checks = {"rows": True, "dtype": True, "finite": True, **failed_checks}
            methods[method] = {"outcome": "output", "dtype": "float64", "checks": checks}
        else:
            methods[method] = {"outcome": "error", "error": {"type": behaviour, "message": message}}
    outcome = "output" if behaviour == "output" else "error"
    return {"outcome": outcome, "change": "a bad input", "rows": 4, "methods": methods}


def contract_record(**behaviours: str) -> dict[str, Any]:
    """A finished contract probe record: :data:`CONTRACT_CASES` with ``behaviours`` overriding."""
    cases = {name: contract_case(kind) for name, kind in {**CONTRACT_CASES, **behaviours}.items()}
    return _ok(0.2, input="array", large_rows=50000, cases=cases)


def with_contract(record: Mapping[str, Any]) -> Scenario:
    """Loads and predicts as :func:`healthy`, with this contract probe record."""
    return Scenario(result_doc(probes=probe_records(contract=dict(record))))


def crashed_in_contract(case: str) -> Scenario:
    """Killed by SIGSEGV inside the contract case ``case``, after the cases before it finished."""
    before = list(CONTRACT_CASES)[: list(CONTRACT_CASES).index(case)]
    done = {name: contract_case(CONTRACT_CASES[name]) for name in before}
    record = {"status": "running", "input": "array", "case": case, "cases": done}
    return Scenario(
        result_doc(probes=probe_records(contract=record), finished=False),
        Execution(exit_code=None, signal=signal.SIGSEGV, seconds=0.4),
    )


def garbage_result() -> Scenario:
    """The runner left a result file that is not JSON."""
    return Scenario('{"protocol": 1, "probes": {', Execution(exit_code=0))


def no_result() -> Scenario:
    """The runner died before its first write."""
    return Scenario(None, Execution(exit_code=1, stderr_tail="Fatal Python error: init"))


# --- the backend -------------------------------------------------------------------------------


#: What the fake's ``save`` writes, followed by the producer's cell id (not a pickle: the host
#: scans it and finds no opcode it would run).
SAVED = b"model saved by "


class FakeBackend:
    """A :class:`~driftmatrix.backends.base.Backend` whose cells play scripted scenarios.

    Args:
        scenarios: Cell id → what its runner does; cells not named are :func:`healthy`.
        unbuildable: ``(package, version)`` pins that cannot be installed: ``provision`` of a
            cell with any of them raises ``BuildError``.
        name: The backend name cells refer to (``venv`` is the matrix default).
        pairs: ``(producer, consumer)`` → what the consumer does with a file the fake itself
            saved in the producer cell (the grid); overrides ``scenarios``.
        interpreters: Python as a cell writes it → the version it resolves to (default
            ``X.Y.0``): part of the environment's key, as a host's interpreter upgrade is.

    A job that requests ``save`` gets, as from the runner, ``artifact.<format>`` in its work
    directory (bytes naming the producer cell) and a ``save`` record, when it predicted.

    Attributes:
        provisioned: Cell ids in the order ``provision`` was called for them.
        runs: Cell ids in the order their runner *finished*.
        jobs: Cell id → the job document its runner got.
    """

    def __init__(
        self,
        scenarios: Mapping[str, Scenario] | None = None,
        unbuildable: Collection[tuple[str, str]] = (),
        name: str = "venv",
        pairs: Mapping[tuple[str, str], Scenario] | None = None,
        interpreters: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.interpreters = dict(interpreters or {})
        self.scenarios = dict(scenarios or {})
        self.pairs = dict(pairs or {})
        self.unbuildable = frozenset(unbuildable)
        self.provisioned: list[str] = []
        self.runs: list[str] = []
        self.jobs: dict[str, dict[str, Any]] = {}
        self._cells: dict[str, Cell] = {}
        self._cancelled = threading.Event()
        # The Runner calls provision/run from its worker threads.
        self._lock = threading.Lock()

    def identify(self, cell: Cell) -> str:
        """The key ``provision`` gives ``cell``'s environment (the cell and its interpreter)."""
        return f"{cell.fingerprint()}-{self._python(cell)}"

    def _python(self, cell: Cell) -> str:
        return self.interpreters.get(cell.python, f"{cell.python}.0")

    def provision(self, cell: Cell) -> Environment:
        """An environment for ``cell``, or ``BuildError`` when one of its pins is unbuildable."""
        with self._lock:
            self.provisioned.append(cell.id)
        broken = sorted(pin for pin in cell.packages if pin in self.unbuildable)
        if broken:
            name, version = broken[0]
            raise BuildError(f"no version of {name}=={version} is available on the index")
        key = self.identify(cell)
        with self._lock:
            self._cells[key] = cell
        return Environment(
            backend=self.name,
            key=key,
            python=f"/fake/envs/{key[:16]}/bin/python",
            python_version=self._python(cell),
            location=f"/fake/envs/{key[:16]}",
        )

    def run(self, env: Environment, invocation: Invocation) -> Execution:
        """Play the cell's scenario: write its ``result.json``, return its ``Execution``."""
        job = invocation.job
        cell_id = str(job["cell"])
        with self._lock:
            cell = self._cells[env.key]
            self.jobs[cell_id] = job
        # The contract the Runner owes a backend (base.Invocation, docs/runner-protocol.md):
        # a job for this very cell, existing inputs, an empty work directory, a staged runner.
        assert cell.id == cell_id, f"env of {cell.id} used for job of {cell_id}"
        assert job["protocol"] == 1 and job["work"] == str(invocation.work_dir)
        assert invocation.work_dir.is_dir() and not any(invocation.work_dir.iterdir())
        assert all(Path(path).exists() for path in job["files"].values())
        assert (invocation.runner_dir / "probes" / "__main__.py").is_file()
        assert invocation.limits == cell.limits
        scenario = self._scenario(cell_id, job)
        if scenario.wait_for is not None:
            # Bounded: a Runner bug must fail the test, not hang it.
            assert scenario.wait_for.wait(timeout=10), f"{cell_id} waited in vain"
        try:
            if self._cancelled.is_set():
                raise InfraError("the run was cancelled")
            if scenario.raises is not None:
                raise scenario.raises
            self._write(invocation.work_dir, cell, scenario.result)
            if "save" in job["probes"]:
                self._save(invocation.work_dir, cell, job["artifact"]["format"])
            return scenario.execution
        finally:
            with self._lock:
                self.runs.append(cell_id)
            if scenario.then_set is not None:
                scenario.then_set.set()

    def _scenario(self, cell_id: str, job: Mapping[str, Any]) -> Scenario:
        artifact = job["files"].get("artifact")
        if artifact is not None:
            data = Path(artifact).read_bytes()
            if data.startswith(SAVED):
                pair = self.pairs.get((data[len(SAVED) :].decode(), cell_id))
                if pair is not None:
                    return pair
        return self.scenarios.get(cell_id) or healthy()

    @staticmethod
    def _save(work: Path, cell: Cell, fmt: str) -> None:
        path = work / "result.json"
        if not path.is_file():
            return
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc["probes"].get("predict", {}).get("status") != "ok":
            return
        data = SAVED + cell.id.encode()
        (work / f"artifact.{fmt}").write_bytes(data)
        doc["probes"]["save"] = _ok(0.01, file=f"artifact.{fmt}", bytes=len(data), sha256="0" * 64)
        path.write_text(json.dumps(doc), encoding="utf-8")

    def cancel(self) -> None:
        """Stop every run: later ``run`` calls raise ``InfraError`` (as a real backend's do)."""
        self._cancelled.set()

    @property
    def cancelled(self) -> bool:
        """Whether the Runner cancelled this backend (it does so only when a run is aborted)."""
        return self._cancelled.is_set()

    @staticmethod
    def _write(work: Path, cell: Cell, result: Mapping[str, Any] | str | None) -> None:
        path = work / "result.json"
        if result is None:
            return
        if isinstance(result, str):
            path.write_text(result, encoding="utf-8")
            return
        doc = copy.deepcopy(dict(result))
        doc["cell"] = cell.id
        environment_ran = doc["probes"].get("environment", {}).get("status") == "ok"
        # As the runner does: `installed` is every distribution, transitive ones included,
        # and `{}` when the environment probe did not run.
        doc.setdefault("installed", {**TRANSITIVE, **cell.pins} if environment_ran else {})
        path.write_text(json.dumps(doc), encoding="utf-8")


def _conforms(backend: FakeBackend) -> Backend:
    # mypy checks here that FakeBackend structurally satisfies the real Backend protocol.
    return backend


# --- the pipeline: builds ahead of runs ----------------------------------------------------------


class PipelineBackend(FakeBackend):
    """A :class:`FakeBackend` that logs when each build and run starts and ends, counts how many
    are in progress at once, and can hold builds — to check the Runner's pipeline by events.

    Args:
        scenarios: As :class:`FakeBackend`.
        unbuildable: As :class:`FakeBackend`.
        shared: Key environments as the venv backend does — the interpreter and the pins, not
            the limits — so cells that differ only in limits share one environment.
        hold: Cell id → an event its ``provision`` waits for before building (bounded); ``cancel``
            sets them all, as Ctrl-C ends a build's uv.
        together: The first this many ``provision`` calls wait until they are all in progress
            at once (bounded).
        identified_together: The first this many ``identify`` calls wait until they were all
            made (bounded): that many cells are looked up, and want a build, at once.
        broken: Cell ids whose ``provision`` raises ``RuntimeError`` (a bug in the backend).

    Attributes:
        log: ``(what, cell id)`` in the order they happened: ``build``/``built`` around each
            ``provision``, ``run``/``ran`` around each ``run``.
        building: ``provision`` calls in progress now.
        most_building: The most ``provision`` calls in progress at once.
        most_running: The most ``run`` calls in progress at once.
        env_keys: Cell id → the key of the environment its runner ran in.
    """

    def __init__(
        self,
        scenarios: Mapping[str, Scenario] | None = None,
        unbuildable: Collection[tuple[str, str]] = (),
        *,
        shared: bool = False,
        hold: Mapping[str, threading.Event] | None = None,
        together: int = 0,
        identified_together: int = 0,
        broken: Collection[str] = (),
    ) -> None:
        super().__init__(scenarios, unbuildable)
        self.shared = shared
        self.hold = dict(hold or {})
        self.together = together
        self.identified_together = identified_together
        self.broken = frozenset(broken)
        self.log: list[tuple[str, str]] = []
        self.building = self.most_building = self._builds = self._identified = 0
        self.most_running = 0
        self.env_keys: dict[str, str] = {}
        self._running = 0
        self._known: dict[str, Cell] = {}
        self._reached: dict[tuple[str, str], threading.Event] = {}
        self._changed = threading.Condition(self._lock)

    def reached(self, what: str, cell_id: str) -> threading.Event:
        """An event set once ``(what, cell_id)`` is logged (``build``, ``built``, ``run``,
        ``ran``)."""
        with self._lock:
            return self._reached.setdefault((what, cell_id), threading.Event())

    def note(self, what: str, cell_id: str) -> None:
        """Log an event of the test's own (e.g. a phase the Runner reported) among the fake's."""
        with self._lock:
            self._note(what, cell_id)

    def _note(self, what: str, cell_id: str) -> None:  # with the lock held
        self.log.append((what, cell_id))
        self._reached.setdefault((what, cell_id), threading.Event()).set()
        self._changed.notify_all()

    def identify(self, cell: Cell) -> str:
        with self._lock:
            self._known[cell.id] = cell
            self._identified += 1
            self._changed.notify_all()
            if self._identified <= self.identified_together:
                wanted = self.identified_together
                together = self._changed.wait_for(lambda: self._identified >= wanted, 10)
                assert together, f"{wanted} cells were never looked up at once"
        if self.shared:
            return f"{cell.environment_key()}-{self._python(cell)}"
        return super().identify(cell)

    def provision(self, cell: Cell) -> Environment:
        with self._lock:
            self.building += 1
            self.most_building = max(self.most_building, self.building)
            self._builds += 1
            self._note("build", cell.id)
            together = True
            if self._builds <= self.together:
                # Bounded: a Runner that never lets them build at once fails, not hangs.
                together = self._changed.wait_for(lambda: self._builds >= self.together, 10)
        try:
            assert together, f"{self.together} builds never ran at once"
            hold = self.hold.get(cell.id)
            if hold is not None:
                assert hold.wait(timeout=10), f"the build of {cell.id} was held in vain"
            if cell.id in self.broken:
                raise RuntimeError("a bug in the backend")
            return super().provision(cell)
        finally:
            with self._lock:
                self.building -= 1
                self._note("built", cell.id)

    def run(self, env: Environment, invocation: Invocation) -> Execution:
        cell_id = str(invocation.job["cell"])
        with self._lock:
            self._running += 1
            self.most_running = max(self.most_running, self._running)
            self._note("run", cell_id)
            self.env_keys[cell_id] = env.key
            # A shared environment is not one cell's: tell the fake's run which cell this is.
            own = f"{env.key}/{cell_id}"
            self._cells[own] = self._known[cell_id]
        try:
            return super().run(replace(env, key=own), invocation)
        finally:
            with self._lock:
                self._running -= 1
                self._note("ran", cell_id)

    def cancel(self) -> None:
        super().cancel()
        for event in self.hold.values():
            event.set()
