"""verdict.py: every verdict, the precedence between them, flags, errors and exit codes."""

from __future__ import annotations

import signal
from dataclasses import dataclass, field
from typing import Any

import pytest

from driftmatrix.backends.base import Execution
from driftmatrix.compare import compare
from driftmatrix.comparison import Comparison, LabelDiff, Observation, Ratio, Tolerances
from driftmatrix.errors import BuildError, InfraError
from driftmatrix.limits import Limits
from driftmatrix.outcome import DEFAULT_FAIL_ON, Flag, Verdict
from driftmatrix.results import CellResult, ErrorInfo, RunResults
from driftmatrix.verdict import decide, decide_compared, error_info, exit_code

OK = {"status": "ok", "seconds": 0.1}
ERROR = {"type": "ValueError", "message": "boom"}
IDENTICAL = Comparison(reference="ref")
DRIFTED = Comparison(reference="ref", labels=LabelDiff(method="predict", flipped=2, total=10))
EQUIVALENT = compare(
    Observation({"methods": {"predict_proba": [0.5]}}),
    Observation({"methods": {"predict_proba": [0.5 + 1e-12]}}),
    Tolerances(atol=1e-9),
)
MISSING = Comparison(reference="ref", missing=("predict_proba",))


def result(
    finished: bool = True, error: Any = None, outputs: Any = "default", **probes: Any
) -> dict[str, Any]:
    """A runner result.json: every probe ``ok`` unless overridden (None removes a probe)."""
    records: dict[str, Any] = {
        "environment": OK,
        "imports": {**OK, "modules": {"sklearn": OK, "numpy": OK}},
        "load": {**OK, "warnings": []},
        "predict": {
            **OK,
            "methods": {"predict": {"status": "ok", "kind": "labels"}},
            "warnings": [],
        },
        "roundtrip": {**OK, "identical": True},
    }
    for name, record in probes.items():
        if record is None:
            records.pop(name)
        else:
            records[name] = record
    return {
        "protocol": 1,
        "finished": finished,
        "probes": records,
        "outputs": {"methods": {"predict": [0, 1]}} if outputs == "default" else outputs,
        "error": error,
    }


def failed(**extra: Any) -> dict[str, Any]:
    return {"status": "failed", "error": ERROR, **extra}


RUNNING = {"status": "running"}
SKIPPED = {"status": "skipped", "reason": "load failed"}
EXITED = Execution(exit_code=0)
SEGV = Execution(exit_code=None, signal=signal.SIGSEGV)
SIGNAL = lambda number: Execution(exit_code=None, signal=number)  # noqa: E731
TIMED_OUT = Execution(exit_code=None, signal=signal.SIGKILL, timed_out=True)
OOM_KILLED = Execution(exit_code=137, oom_killed=True)


@dataclass(frozen=True)
class Case:
    """Facts about a cell and the verdict (and error type) they must give."""

    verdict: Verdict
    facts: dict[str, Any] = field(default_factory=dict)
    error_type: str | None = None


def case(verdict: Verdict, error_type: str | None = None, **facts: Any) -> Case:
    return Case(verdict, facts, error_type)


V = Verdict
DIED = {"finished": False}


VERDICTS = {
    "infra: backend failed": case(V.INFRA_ERROR, "InfraError", infra_error=InfraError("down")),
    "infra: no result file": case(V.INFRA_ERROR, "NoResult", execution=Execution(exit_code=1)),
    "infra: unreadable result": case(V.INFRA_ERROR, "NoResult", unreadable="Expecting value"),
    "infra: runner error": case(
        V.INFRA_ERROR, "KeyError", result=result(error={"type": "KeyError", "message": "'x'"})
    ),
    "infra: died in environment": case(
        V.INFRA_ERROR, "Signal SIGSEGV", execution=SEGV, result=result(**DIED, environment=RUNNING)
    ),
    "infra: died between probes": case(
        V.INFRA_ERROR, "RunnerStopped", execution=SEGV, result=result(**DIED, roundtrip=None)
    ),
    "infra: no predictions": case(
        V.INFRA_ERROR, "NoOutputs", result=result(predict=SKIPPED, outputs=None)
    ),
    "build": case(V.BUILD_ERROR, "BuildError", build_error=BuildError("no wheel for cp313")),
    "timeout": case(V.TIMEOUT, "Timeout", execution=TIMED_OUT, result=result(**DIED, load=RUNNING)),
    "oom": case(V.OOM, "OOMKilled", execution=OOM_KILLED, result=result(**DIED, load=RUNNING)),
    "rejected": case(V.REJECTED, "UntrustedGlobals", rejected_globals=["os.system"]),
    "rejected by skops in the cell": case(
        V.REJECTED, "UntrustedTypes",
        result=result(load=failed(refused_types=["pkg.Evil"]), predict=SKIPPED, outputs=None),
    ),
    "import failed": case(V.IMPORT_ERROR, "ValueError", result=result(imports=failed())),
    "import crashed": case(
        V.IMPORT_ERROR, "Signal SIGILL", execution=SIGNAL(signal.SIGILL),
        result=result(**DIED, imports=RUNNING),
    ),
    "load failed": case(V.LOAD_ERROR, "ValueError", result=result(load=failed(), predict=SKIPPED)),
    "load segfault": case(
        V.LOAD_ERROR, "Signal SIGSEGV", execution=SEGV, result=result(**DIED, load=RUNNING)
    ),
    "load segfault, docker --init": case(
        V.LOAD_ERROR, "Signal SIGSEGV", execution=Execution(exit_code=139),
        result=result(**DIED, load=RUNNING),
    ),
    "load died, exit code": case(
        V.LOAD_ERROR, "ProcessExit", execution=Execution(exit_code=1),
        result=result(**DIED, load=RUNNING),
    ),
    "load died, no facts": case(V.LOAD_ERROR, "ProcessDied", result=result(**DIED, load=RUNNING)),
    "predict failed": case(V.PREDICT_ERROR, "ValueError", result=result(predict=failed())),
    "predict aborted": case(
        V.PREDICT_ERROR, "Signal SIGABRT", execution=SIGNAL(signal.SIGABRT),
        result=result(**DIED, predict=RUNNING),
    ),
    "not compared": case(V.NOT_COMPARED, execution=EXITED, result=result()),
    "drift": case(V.DRIFT, result=result(), comparison=DRIFTED),
    "drift: method missing": case(V.DRIFT, result=result(), comparison=MISSING),
    "equivalent": case(V.EQUIVALENT, result=result(), comparison=EQUIVALENT),
    "identical": case(V.IDENTICAL, execution=EXITED, result=result(), comparison=IDENTICAL),
    "identical: died in roundtrip": case(
        V.IDENTICAL, execution=SEGV, result=result(**DIED, roundtrip=RUNNING), comparison=IDENTICAL
    ),
    "identical: crash at exit": case(
        V.IDENTICAL, execution=Execution(exit_code=139), result=result(), comparison=IDENTICAL
    ),
}  # fmt: skip

# Two causes at once: the more severe one (or the explained one) wins.
PRECEDENCE = {
    "infra over build": case(V.INFRA_ERROR, infra_error="daemon down", build_error="x"),
    "build over timeout": case(V.BUILD_ERROR, build_error="x", execution=TIMED_OUT),
    "timeout over oom": case(
        V.TIMEOUT, execution=Execution(exit_code=None, timed_out=True, oom_killed=True)
    ),
    "timeout over a missing result": case(V.TIMEOUT, execution=TIMED_OUT, result=None),
    "oom over rejected": case(V.OOM, execution=OOM_KILLED, rejected_globals=["os.system"]),
    "oom over a finished result": case(
        V.OOM, execution=OOM_KILLED, result=result(), comparison=IDENTICAL
    ),
    "rejected over import": case(
        V.REJECTED, rejected_globals=["os.system"], result=result(imports=failed())
    ),
    "refused types count only when load failed": case(
        V.IDENTICAL, result=result(load={**OK, "refused_types": ["pkg.Evil"]}),
        comparison=IDENTICAL,
    ),
    "import over load": case(V.IMPORT_ERROR, result=result(imports=failed(), load=failed())),
    "load over predict": case(V.LOAD_ERROR, result=result(load=failed(), predict=failed())),
    "predict over drift": case(
        V.PREDICT_ERROR, result=result(predict=failed()), comparison=DRIFTED
    ),
    "load failure explains a runner error": case(
        V.LOAD_ERROR, result=result(load=failed(), error=ERROR)
    ),
    "runner error over a comparison": case(
        V.INFRA_ERROR, result=result(error=ERROR), comparison=IDENTICAL
    ),
    "missing method over extra": case(
        V.DRIFT, result=result(), comparison=Comparison("r", missing=("x",), extra=("y",))
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", VERDICTS.values(), ids=VERDICTS.keys())
def test_verdict(case: Case) -> None:
    verdict, _ = decide(**case.facts)
    assert verdict is case.verdict
    error = error_info(**case.facts)
    if case.error_type is None:
        assert error is None
    else:
        assert error is not None and error.type == case.error_type
        assert error.message and "\n" not in error.message


def test_every_verdict_is_covered() -> None:
    assert {case.verdict for case in VERDICTS.values()} == set(Verdict)


@pytest.mark.parametrize("case", PRECEDENCE.values(), ids=PRECEDENCE.keys())
def test_precedence(case: Case) -> None:
    assert decide(**case.facts)[0] is case.verdict


# --- flags ---------------------------------------------------------------------------------------


def flags_of(**facts: Any) -> tuple[Flag, ...]:
    return decide(**facts)[1]


def warning(category: str, **extra: str) -> dict[str, str]:
    return {"category": category, "module": "sklearn.base", "message": "careful", **extra}


def test_version_warning_and_other_load_warnings() -> None:
    vw = warning("InconsistentVersionWarning", original_sklearn_version="1.3.2")
    load = {**OK, "warnings": [vw, vw, warning("UserWarning")]}
    assert flags_of(result=result(load=load)) == (Flag.VERSION_WARNING, Flag.LOAD_WARNING)
    assert flags_of(result=result(load={**OK, "warnings": [vw]})) == (Flag.VERSION_WARNING,)


def test_old_scikit_learn_user_warning_with_versions_is_a_version_warning() -> None:
    old = warning("UserWarning", original_sklearn_version="1.3.2", current_sklearn_version="1.2.2")
    assert flags_of(result=result(load={**OK, "warnings": [old]})) == (Flag.VERSION_WARNING,)


def test_flags_beside_a_failure_verdict() -> None:
    load = failed(warnings=[warning("InconsistentVersionWarning")])
    assert decide(result=result(load=load)) == (Verdict.LOAD_ERROR, (Flag.VERSION_WARNING,))


def test_predict_warning() -> None:
    predict = {**OK, "methods": {}, "warnings": [warning("RuntimeWarning")]}
    assert flags_of(result=result(predict=predict)) == (Flag.PREDICT_WARNING,)


@pytest.mark.parametrize(
    ("roundtrip", "execution", "expected"),
    [
        ({**OK, "identical": True}, EXITED, ()),
        (
            {**OK, "identical": False, "differs": ["predict_proba"]},
            EXITED,
            (Flag.ROUNDTRIP_DIFFERS,),
        ),
        (failed(), EXITED, (Flag.ROUNDTRIP_FAILED,)),
        (RUNNING, SEGV, (Flag.ROUNDTRIP_FAILED,)),
        (RUNNING, TIMED_OUT, ()),  # the timeout says why; nothing "raised"
        (SKIPPED, EXITED, ()),
    ],
)
def test_roundtrip_flags(
    roundtrip: dict[str, Any], execution: Execution, expected: tuple[Flag, ...]
) -> None:
    finished = roundtrip is not RUNNING
    assert (
        flags_of(execution=execution, result=result(finished=finished, roundtrip=roundtrip))
        == expected
    )


@pytest.mark.parametrize(
    ("requested", "enforced", "flagged"),
    [
        (Limits(memory=2**30, cpus=1.0), {"memory": None, "cpus": "cgroup", "timeout": "x"}, True),
        (
            Limits(memory=2**30, cpus=1.0),
            {"memory": "cgroup", "cpus": "cgroup", "timeout": "x"},
            False,
        ),
        (Limits(memory=None, cpus=None), {"memory": None, "cpus": None, "timeout": "x"}, False),
        ({"memory": "512m", "cpus": None, "timeout": 300.0}, {"memory": None}, True),
        ({"memory": "512m", "cpus": None, "timeout": 300.0}, {"cpus": None}, False),
        (None, {"memory": None}, False),
    ],
)
def test_limits_not_enforced_only_for_requested_limits(
    requested: Any, enforced: dict[str, Any], flagged: bool
) -> None:
    execution = Execution(exit_code=0, enforced=enforced)
    flags = flags_of(execution=execution, result=result(), requested=requested)
    assert (Flag.LIMITS_NOT_ENFORCED in flags) is flagged


def test_comparison_flags_in_declaration_order() -> None:
    comparison = Comparison(
        reference="r",
        extra=("transform",),
        latency=Ratio(1.0, 3.0, 2.0),
        memory=Ratio(1.0, 2.0, 1.5),
    )
    execution = Execution(exit_code=0, enforced={"memory": None})
    vw = warning("InconsistentVersionWarning")
    facts = {
        "execution": execution,
        "result": result(load={**OK, "warnings": [vw]}),
        "requested": Limits(memory=1),
    }
    assert decide(**facts, comparison=comparison) == (
        Verdict.IDENTICAL,
        (
            Flag.VERSION_WARNING,
            Flag.SLOWER,
            Flag.HEAVIER,
            Flag.LIMITS_NOT_ENFORCED,
            Flag.METHODS_DIFFER,
        ),
    )


# --- error messages ------------------------------------------------------------------------------


def test_predict_error_names_the_failing_methods() -> None:
    attr = {"type": "AttributeError", "message": "no attribute 'monotonic_cst'\nTraceback..."}
    methods = {
        "predict": {"status": "failed", "error": attr},
        "predict_proba": {"status": "failed", "error": attr},
        "decision_function": {"status": "ok"},
    }
    error = error_info(result=result(predict=failed(methods=methods)))
    assert error == ErrorInfo(
        "AttributeError", "predict: no attribute 'monotonic_cst' (predict_proba failed too)"
    )


def test_import_error_names_the_module() -> None:
    sklearn_error = {"type": "ImportError", "message": "numpy.core.multiarray failed to import"}
    modules = {"numpy": OK, "sklearn": {"status": "failed", "error": sklearn_error}}
    error = error_info(result=result(imports={"status": "failed", "modules": modules}))
    assert error == ErrorInfo("ImportError", "sklearn: numpy.core.multiarray failed to import")


def test_load_error_is_the_probe_exception_on_one_line() -> None:
    load = failed(error={"type": "ModuleNotFoundError", "message": "No module named 'x'\nmore"})
    assert error_info(result=result(load=load)) == ErrorInfo(
        "ModuleNotFoundError", "No module named 'x'"
    )


def test_a_crash_names_the_signal_the_probe_and_stderr() -> None:
    execution = Execution(
        exit_code=None,
        signal=signal.SIGSEGV,
        stderr_tail="Fatal Python error: Segmentation fault\n\n",
    )
    error = error_info(execution=execution, result=result(finished=False, load=RUNNING))
    assert error is not None and error.type == "Signal SIGSEGV"
    assert "while the load probe was running" in error.message
    assert error.message.endswith("stderr: Fatal Python error: Segmentation fault")


def test_limits_are_named_in_timeout_and_oom_messages() -> None:
    limits = Limits(memory=96 * 2**20, timeout=300.0)
    timeout = error_info(
        execution=TIMED_OUT, result=result(finished=False, predict=RUNNING), requested=limits
    )
    assert timeout == ErrorInfo(
        "Timeout", "stopped at its 300 s time limit while the predict probe was running"
    )
    oom = error_info(execution=OOM_KILLED, result=None, requested=limits)
    assert oom == ErrorInfo("OOMKilled", "killed by its 96m memory limit")


def test_a_multi_line_build_error_is_kept_whole_on_one_line() -> None:
    error = error_info(
        build_error=BuildError("No solution found:\n  Because numpy==1.26.4 has no cp313 wheel")
    )
    assert error == ErrorInfo(
        "BuildError", "No solution found: Because numpy==1.26.4 has no cp313 wheel"
    )


def test_long_messages_are_capped() -> None:
    error = error_info(result=result(load=failed(error={"type": "E", "message": "x" * 2000})))
    assert error is not None and len(error.message) <= 500 and error.message.endswith("…")


def test_no_result_message_says_why_and_how_the_process_ended() -> None:
    execution = Execution(exit_code=2, stderr_tail="usage: probes JOB.json\n")
    error = error_info(
        execution=execution, result=None, unreadable="Expecting value: line 1 column 1"
    )
    assert error == ErrorInfo(
        "NoResult",
        "no result: Expecting value: line 1 column 1 (exit code 2); stderr: usage: probes JOB.json",
    )


# --- decide_compared -----------------------------------------------------------------------------


def recorded(verdict: Verdict, flags: tuple[Flag, ...] = (), cell_id: str = "c") -> CellResult:
    return CellResult(
        cell_id, "venv", "3.12", packages={}, installed={}, limits={}, verdict=verdict, flags=flags
    )


def test_decide_compared_keeps_a_failure() -> None:
    cell = recorded(Verdict.LOAD_ERROR, (Flag.VERSION_WARNING,))
    assert decide_compared(cell=cell, comparison=DRIFTED) == (
        Verdict.LOAD_ERROR,
        (Flag.VERSION_WARNING,),
    )


@pytest.mark.parametrize(
    ("comparison", "verdict"),
    [
        (None, Verdict.NOT_COMPARED),
        (DRIFTED, Verdict.DRIFT),
        (EQUIVALENT, Verdict.EQUIVALENT),
        (IDENTICAL, Verdict.IDENTICAL),
        (MISSING, Verdict.DRIFT),
    ],
)
def test_decide_compared_decides_a_cell_that_ran(
    comparison: Comparison | None, verdict: Verdict
) -> None:
    assert decide_compared(cell=recorded(Verdict.NOT_COMPARED), comparison=comparison)[0] is verdict


def test_decide_compared_recomputes_only_the_comparison_flags() -> None:
    cell = recorded(Verdict.DRIFT, (Flag.VERSION_WARNING, Flag.SLOWER, Flag.METHODS_DIFFER))
    assert decide_compared(cell=cell, comparison=MISSING) == (
        Verdict.DRIFT,
        (Flag.VERSION_WARNING, Flag.METHODS_DIFFER),
    )
    assert decide_compared(cell=cell, comparison=None) == (
        Verdict.NOT_COMPARED,
        (Flag.VERSION_WARNING,),
    )


def test_decide_and_decide_compared_agree() -> None:
    facts: dict[str, Any] = {
        "execution": EXITED,
        "result": result(roundtrip={**OK, "identical": False}),
    }
    verdict, flags = decide(**facts)
    assert verdict is Verdict.NOT_COMPARED
    cell = recorded(verdict, flags)
    for comparison in (DRIFTED, EQUIVALENT, IDENTICAL, MISSING):
        assert decide_compared(cell=cell, comparison=comparison) == decide(
            **facts, comparison=comparison
        )


# --- exit codes ----------------------------------------------------------------------------------


def run_of(*verdicts: Verdict) -> RunResults:
    cells = tuple(recorded(v, cell_id=f"c{i}") for i, v in enumerate(verdicts))
    return RunResults(matrix={}, artifact={}, reference="c0", cells=cells)


@pytest.mark.parametrize(
    ("verdicts", "fail_on", "code"),
    [
        ((Verdict.IDENTICAL, Verdict.EQUIVALENT), DEFAULT_FAIL_ON, 0),
        ((Verdict.IDENTICAL, Verdict.DRIFT), DEFAULT_FAIL_ON, 1),
        ((Verdict.IDENTICAL, Verdict.DRIFT), (Verdict.LOAD_ERROR,), 0),
        ((Verdict.IDENTICAL, Verdict.BUILD_ERROR), DEFAULT_FAIL_ON, 3),
        ((Verdict.IDENTICAL, Verdict.INFRA_ERROR), (), 3),  # a cell that never ran never passes
        ((Verdict.IDENTICAL, Verdict.BUILD_ERROR), (Verdict.BUILD_ERROR,), 3),
        ((Verdict.DRIFT, Verdict.INFRA_ERROR), DEFAULT_FAIL_ON, 1),  # findings win
        ((Verdict.LOAD_ERROR, Verdict.NOT_COMPARED), DEFAULT_FAIL_ON, 1),
        ((Verdict.BUILD_ERROR, Verdict.NOT_COMPARED), DEFAULT_FAIL_ON, 3),
        ((), DEFAULT_FAIL_ON, 0),
    ],
)
def test_exit_code(verdicts: tuple[Verdict, ...], fail_on: tuple[Verdict, ...], code: int) -> None:
    assert exit_code(run_of(*verdicts), fail_on) == code
