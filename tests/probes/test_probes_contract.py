"""The contract probe against real scikit-learn models in a real cell (Python 3.11 venv).

What each case does is scikit-learn 1.5.2's real behaviour on these models (measured by the
runs themselves; the messages quoted are scikit-learn's). The crash test kills a real runner
process with SIGSEGV inside a case and then classifies what it left with the host's real code.
"""

from __future__ import annotations

import csv
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from driftmatrix.backends.base import Execution
from driftmatrix.compare import compare
from driftmatrix.comparison import Observation, Tolerances
from driftmatrix.contract import diff_contract, read_cases
from driftmatrix.outcome import Flag, Verdict
from driftmatrix.verdict import decide, error_info

pytestmark = pytest.mark.slow

Run = Callable[..., Any]  # the run_job fixture: returns conftest.RunnerOutcome
PROBES = ["load", "predict", "contract"]
CASES = [
    "missing-column",
    "extra-column",
    "wrong-dtype",
    "unseen-missing",
    "unseen-category",
    "empty-batch",
    "single-row",
    "large-batch",
]


def contract_of(out: Any) -> dict[str, Any]:
    """The finished contract record of a run, checked for the protocol's common fields."""
    assert out.returncode == 0, out.stderr
    record: dict[str, Any] = out.probe("contract")
    assert record["status"] == "ok", record
    assert list(record["cases"]) == CASES
    for case in record["cases"].values():
        for method in case.get("methods", {}).values():
            if method["outcome"] == "error":
                message = method["error"]["message"]
                assert "\n" not in message and len(message) <= 200
                assert "traceback" not in method["error"]
    return record


def outcomes(record: dict[str, Any]) -> dict[str, tuple[str, ...]]:
    """Case → (case outcome, then each method's outcome or exception type)."""
    table = {}
    for name, case in record["cases"].items():
        methods = case.get("methods", {})
        table[name] = (
            case["outcome"],
            *(
                m["error"]["type"] if m["outcome"] == "error" else m["outcome"]
                for m in methods.values()
            ),
        )
    return table


def all_checks_pass(case: dict[str, Any]) -> bool:
    return all(all(m["checks"].values()) for m in case["methods"].values())


def golden_column(path: Path, name: str) -> list[str]:
    with path.open(newline="", encoding="utf-8") as handle:
        return [row[name] for row in csv.DictReader(handle)]


def test_dataframe_model_with_a_categorical_column(run_job: Run, cell_python, models) -> None:
    golden = models["golden_frame.csv"]
    out = run_job(cell_python, artifact=models["frame_strict.joblib"], golden=golden, probes=PROBES)
    record = contract_of(out)

    # The contract as the model sees it: its fitted columns (not the file's order or extras).
    assert record["input"] == "dataframe"
    columns = record["columns"]
    assert (columns["total"], columns["numeric"], columns["categorical"]) == (5, 4, 1)
    described = {c["name"]: c for c in columns["described"]}
    assert list(described) == [
        "sepal_length",
        "sepal_width",
        "petal_length",
        "petal_width",
        "color",
    ]
    lengths = [float(v) for v in golden_column(golden, "sepal_length")]
    assert described["sepal_length"] == {
        "name": "sepal_length",
        "kind": "numeric",
        "missing": False,
        "min": min(lengths),
        "max": max(lengths),
    }
    assert described["color"]["categories"] == ["blue", "green", "red"]
    assert record["large_rows"] == 50000

    error = ("error", "ValueError", "ValueError", "ValueError")
    output = ("output", "output", "output", "output")
    assert outcomes(record) == {
        "missing-column": error,
        "extra-column": output,  # ColumnTransformer selects its columns by name
        "wrong-dtype": error,
        "unseen-missing": error,  # LogisticRegression takes no NaN
        "unseen-category": error,  # OneHotEncoder(handle_unknown="error")
        "empty-batch": error,
        "single-row": output,
        "large-batch": output,
    }
    cases = record["cases"]
    assert cases["missing-column"]["change"] == "dropped column 'color' (the last of 5)"
    first = cases["unseen-category"]["methods"]["predict"]["error"]["message"]
    assert first == "Found unknown categories ['driftmatrix-unseen'] in column 0 during transform"
    assert "'sepal_length'" in cases["unseen-missing"]["change"]
    for name in ("extra-column", "single-row", "large-batch"):
        assert all_checks_pass(cases[name]), cases[name]
    large = cases["large-batch"]["methods"]
    assert large["predict"]["shape"] == [50000]
    assert large["predict_proba"]["shape"] == [50000, 3]
    assert set(large["predict"]["checks"]) == {"rows", "dtype", "classes"}
    assert set(large["predict_proba"]["checks"]) == {
        "rows", "dtype", "finite", "in_range", "sums_to_one"
    }  # fmt: skip
    assert cases["single-row"]["methods"]["decision_function"]["shape"] == [1, 3]


def test_array_model_gets_one_feature_fewer_or_more(run_job: Run, cell_python, models) -> None:
    out = run_job(
        cell_python,
        artifact=models["clf_array.joblib"],
        golden=models["golden_iris.csv"],
        probes=PROBES,
    )
    record = contract_of(out)
    assert record["input"] == "array"
    assert record["columns"]["categorical"] == 0
    cases = record["cases"]
    missing = cases["missing-column"]["methods"]["predict"]["error"]["message"]
    assert missing == "X has 3 features, but LogisticRegression is expecting 4 features as input."
    extra = cases["extra-column"]["methods"]["predict"]["error"]["message"]
    assert extra == "X has 5 features, but LogisticRegression is expecting 4 features as input."
    assert cases["unseen-category"] == {
        "outcome": "not-applicable",
        "reason": "the golden set has no categorical (non-numeric) column",
    }
    assert cases["wrong-dtype"]["methods"]["predict"]["error"]["type"] == "ValueError"
    assert cases["large-batch"]["rows"] == 50000 and all_checks_pass(cases["large-batch"])


def test_regressor_with_missing_values_in_every_column(run_job: Run, cell_python, models) -> None:
    out = run_job(
        cell_python, artifact=models["reg.joblib"], golden=models["golden_reg.csv"], probes=PROBES
    )
    cases = contract_of(out)["cases"]
    assert cases["unseen-missing"]["outcome"] == "not-applicable"  # NaN is nothing new here
    assert "every column already has missing values" in cases["unseen-missing"]["reason"]
    single = cases["single-row"]["methods"]
    assert list(single) == ["predict"]
    assert single["predict"]["checks"] == {"rows": True, "dtype": True, "finite": True}
    # A regressor has no classes and no probabilities: those checks do not apply.
    assert cases["large-batch"]["methods"]["predict"]["checks"] == single["predict"]["checks"]


def test_two_runs_classify_every_case_the_same(run_job: Run, cell_python, models) -> None:
    job = {
        "artifact": models["frame_strict.joblib"],
        "golden": models["golden_frame.csv"],
        "probes": PROBES,
    }
    first, second = (contract_of(run_job(cell_python, **job)) for _ in range(2))
    assert read_cases({"contract": first}) == read_cases({"contract": second})
    diff = diff_contract({"contract": first}, {"contract": second})
    assert diff is not None and diff.compared == tuple(CASES) and not diff.differs

    def without_timings(record: dict[str, Any]) -> dict[str, Any]:
        return {
            name: {k: v for k, v in case.items() if k != "seconds"}
            for name, case in record["cases"].items()
        }

    # Not only the classification: the inputs, messages, shapes and checks are the same too.
    assert without_timings(first) == without_timings(second)


def test_a_crash_inside_a_case_is_recorded_as_that_case(run_job: Run, cell_python, models) -> None:
    golden = models["golden_iris.csv"]
    crashed = run_job(
        cell_python, artifact=models["crash_on_empty.joblib"], golden=golden, probes=PROBES
    )
    twin = run_job(cell_python, artifact=models["empty_ok.joblib"], golden=golden, probes=PROBES)

    assert crashed.returncode == -signal.SIGSEGV
    result = crashed.result
    assert result is not None and result["finished"] is False and result["stage"] == "contract"
    record = crashed.probe("contract")
    assert record["status"] == "running"
    assert record["case"] == "empty-batch"
    assert list(record["cases"]) == CASES[: CASES.index("empty-batch")]
    assert crashed.probe("predict")["status"] == "ok"  # the outputs were recorded before

    answered = contract_of(twin)["cases"]["empty-batch"]
    assert answered["outcome"] == "output" and answered["methods"]["predict"]["shape"] == [0]

    # The host reads the dead process's file: a contract finding, not a failed cell.
    def observed(out: Any) -> Observation:
        assert out.result is not None
        return Observation(out.result["outputs"], out.result["probes"], {})

    comparison = compare(observed(twin), observed(crashed), Tolerances())
    assert comparison.contract is not None and comparison.contract.crashed == "empty-batch"
    assert [c.to_json() for c in comparison.contract.changed] == [
        {"case": "empty-batch", "reference": "output", "cell": "crash"}
    ]
    died = Execution(exit_code=None, signal=signal.SIGSEGV)
    assert decide(execution=died, result=result, comparison=comparison) == (
        Verdict.IDENTICAL,
        (Flag.CONTRACT_CHANGED,),
    )
    assert error_info(execution=died, result=result, comparison=comparison) is None
