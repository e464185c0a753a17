"""contract.py and its hooks: bad-input cases compared with the reference, ``contract-changed``.

The contract records are the ones the in-cell probe writes (docs/runner-protocol.md), built by
tests/unit/fakes.py; malformed ones are kept as files under tests/data/contract/malformed. The
Runner tests go through the real Runner, result files and reports over a FakeBackend.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest
from fakes import (
    CONTRACT_CASES,
    FakeBackend,
    contract_case,
    contract_record,
    crashed_in_contract,
    probe_records,
    result_doc,
    with_contract,
)

from driftmatrix.backends.base import Execution
from driftmatrix.compare import compare
from driftmatrix.comparison import Comparison, Observation, Tolerances
from driftmatrix.contract import CaseChange, ContractDiff, diff_contract, read_cases
from driftmatrix.outcome import CaseOutcome, Flag, Verdict
from driftmatrix.report import markdown
from driftmatrix.results import CellResult
from driftmatrix.run import Runner, RunOptions
from driftmatrix.spec import load_matrix
from driftmatrix.verdict import decide, decide_compared, error_info

MALFORMED = sorted(
    (Path(__file__).resolve().parents[1] / "data" / "contract" / "malformed").glob("*.json")
)
SEGV = Execution(exit_code=None, signal=signal.SIGSEGV)


def probes(**behaviours: str) -> dict[str, Any]:
    """Probe records with a finished contract probe (``behaviours`` override the defaults)."""
    return {"contract": contract_record(**behaviours)}


def running_at(case: str) -> dict[str, Any]:
    """Probe records of a process that died inside contract case ``case``."""
    doc = crashed_in_contract(case).result
    assert isinstance(doc, dict)
    return dict(doc["probes"])


# --- classification ----------------------------------------------------------------------------


def test_each_case_is_classified_by_outcome_type_and_failed_checks() -> None:
    cases = read_cases(probes(**{"single-row": "output"}))
    assert list(cases) == list(CONTRACT_CASES)
    assert cases["missing-column"].describe() == "error (ValueError)"
    assert cases["single-row"].describe() == "output"
    assert cases["unseen-category"].outcome is CaseOutcome.NOT_APPLICABLE
    assert cases["unseen-category"].describe() == "not-applicable"


def test_the_same_behaviour_is_no_change() -> None:
    diff = diff_contract(probes(), probes())
    assert diff == ContractDiff(compared=tuple(CONTRACT_CASES))
    assert not diff.differs


def test_an_error_that_became_silent_output_is_a_change() -> None:
    diff = diff_contract(probes(), probes(**{"unseen-missing": "output"}))
    assert diff is not None and diff.differs
    assert diff.changed == (CaseChange("unseen-missing", "error (ValueError)", "output"),)


def test_another_exception_type_is_a_change() -> None:
    diff = diff_contract(probes(), probes(**{"wrong-dtype": "TypeError"}))
    assert diff is not None
    assert diff.changed == (CaseChange("wrong-dtype", "error (ValueError)", "error (TypeError)"),)


def test_another_message_is_not_a_change() -> None:
    # Messages are reworded between releases and carry addresses: only the type classifies.
    cell = probes()
    cell["contract"]["cases"]["wrong-dtype"] = contract_case("ValueError", "at 0x7f3a12 ...")
    diff = diff_contract(probes(), cell)
    assert diff is not None and not diff.differs


def test_a_failed_output_check_is_a_change() -> None:
    cell = probes()
    cell["contract"]["cases"]["large-batch"] = contract_case("output", sums_to_one=False)
    diff = diff_contract(probes(), cell)
    assert diff is not None
    assert diff.changed == (CaseChange("large-batch", "output", "output (fails sums_to_one)"),)


def test_methods_that_disagree_are_named() -> None:
    cell = probes()
    case = contract_case("ValueError")
    case["methods"]["predict_proba"] = contract_case("output")["methods"]["predict_proba"]
    case["outcome"] = "mixed"
    cell["contract"]["cases"]["extra-column"] = case
    diff = diff_contract(probes(), cell)
    assert diff is not None
    (change,) = diff.changed
    assert change.cell == "predict: error (ValueError); predict_proba: output"


def test_a_method_only_one_side_has_is_not_a_contract_change() -> None:
    # A method missing on one side is methods-differ (compare.py); the contract compares the
    # methods both cells answered.
    cell = probes()
    for case in cell["contract"]["cases"].values():
        if "methods" in case:
            case["methods"]["decision_function"] = {"outcome": "error", "error": {"type": "X"}}
    diff = diff_contract(probes(), cell)
    assert diff is not None and not diff.differs


def test_a_death_inside_a_case_is_that_cases_crash() -> None:
    diff = diff_contract(probes(), running_at("empty-batch"))
    assert diff is not None
    assert diff.crashed == "empty-batch"
    assert diff.changed == (CaseChange("empty-batch", "error (ValueError)", "crash"),)
    # The cases after the crash never ran: unknown, so not compared.
    assert diff.compared == tuple(CONTRACT_CASES)[: list(CONTRACT_CASES).index("single-row")]


def test_the_same_crash_on_both_sides_is_no_change() -> None:
    diff = diff_contract(running_at("large-batch"), running_at("large-batch"))
    assert diff is not None and not diff.differs and diff.crashed == "large-batch"


def test_a_crash_of_the_reference_is_a_change_for_a_cell_that_answers() -> None:
    diff = diff_contract(running_at("large-batch"), probes())
    assert diff is not None and diff.crashed is None
    assert diff.changed == (CaseChange("large-batch", "crash", "output"),)


@pytest.mark.parametrize(
    "side",
    [
        {},  # an older runner, or the probe was not requested
        {"contract": {"status": "skipped", "seconds": 0.0, "reason": "probe 'predict' failed"}},
        {"contract": {"status": "running"}},  # died before its first case
    ],
)
def test_no_contract_on_one_side_is_no_comparison(side: dict[str, Any]) -> None:
    assert diff_contract(probes(), side) is None
    assert diff_contract(side, probes()) is None


def test_an_outcome_this_host_does_not_know_is_compared_as_text() -> None:
    cell = probes()
    cell["contract"]["cases"]["single-row"] = {"outcome": "hung", "methods": {}}
    diff = diff_contract(probes(), cell)
    assert diff is not None
    assert diff.changed == (CaseChange("single-row", "output", "hung"),)


@pytest.mark.parametrize("path", MALFORMED, ids=[p.stem for p in MALFORMED])
def test_a_malformed_record_is_read_defensively(path: Path) -> None:
    record = json.loads(path.read_text(encoding="utf-8"))
    for reference, cell in (({"contract": record}, probes()), (probes(), {"contract": record})):
        diff = diff_contract(reference, cell)
        if diff is not None:
            assert all(
                isinstance(c.reference, str) and isinstance(c.cell, str) for c in diff.changed
            )
            json.dumps(diff.to_json())


# --- comparison, verdict and flags ---------------------------------------------------------------


def observation(records: dict[str, Any]) -> Observation:
    return Observation({"methods": {"predict": [0, 1]}}, records)


def test_compare_fills_the_contract_and_its_json() -> None:
    comparison = compare(
        observation(probes()), observation(probes(**{"unseen-missing": "output"})), Tolerances()
    )
    assert comparison.contract is not None and comparison.contract.differs
    assert comparison.identical  # a contract change is not drift
    doc = comparison.to_json()["contract"]
    assert doc == {
        "compared": list(CONTRACT_CASES),
        "changed": [
            {"case": "unseen-missing", "reference": "error (ValueError)", "cell": "output"}
        ],
        "crashed": None,
    }


def test_without_contract_records_the_comparison_has_none() -> None:
    comparison = compare(observation({}), observation({}), Tolerances())
    assert comparison.contract is None and comparison.to_json()["contract"] is None


CHANGED = Comparison("ref", contract=ContractDiff(("x",), (CaseChange("x", "error", "output"),)))
UNCHANGED = Comparison("ref", contract=ContractDiff(("x",)))


def test_contract_changed_is_a_flag_that_never_changes_the_verdict() -> None:
    result = result_doc(probes=probe_records(contract=contract_record()))
    assert decide(result=result, comparison=CHANGED) == (
        Verdict.IDENTICAL,
        (Flag.CONTRACT_CHANGED,),
    )
    assert decide(result=result, comparison=UNCHANGED) == (Verdict.IDENTICAL, ())


def test_a_death_inside_contract_is_not_a_cell_failure() -> None:
    # The outputs were recorded before the contract probe ran: the cell is compared as usual,
    # and the crash is a finding about one case (contract.py), never infra- or predict-error.
    doc = crashed_in_contract("large-batch").result
    assert isinstance(doc, dict)
    assert decide(execution=SEGV, result=doc) == (Verdict.NOT_COMPARED, ())
    assert error_info(execution=SEGV, result=doc) is None
    assert decide(execution=SEGV, result=doc, comparison=CHANGED) == (
        Verdict.IDENTICAL,
        (Flag.CONTRACT_CHANGED,),
    )


def test_decide_compared_recomputes_contract_changed() -> None:
    cell = CellResult(
        id="c", backend="venv", python="3.11", packages={}, installed={}, environment={},
        limits={}, verdict=Verdict.NOT_COMPARED, flags=(Flag.CONTRACT_CHANGED,),
    )  # fmt: skip
    assert decide_compared(cell=cell, comparison=UNCHANGED) == (Verdict.IDENTICAL, ())
    assert decide_compared(cell=cell, comparison=CHANGED) == (
        Verdict.IDENTICAL,
        (Flag.CONTRACT_CHANGED,),
    )


# --- through the Runner and the Markdown report ---------------------------------------------------

MATRIX = """name = "contract"

[artifact]
path = "model.joblib"
golden = "golden.csv"
target = "label"

[defaults]
python = "3.11"
packages = { "scikit-learn" = "1.5.2", "numpy" = "1.26.4" }

[axes]
"scikit-learn" = ["1.5.2", "1.6.1", "1.7.2", "1.8.0"]

[reference]
"scikit-learn" = "1.5.2"
"""


def cell_id(version: str) -> str:
    return f"py3.11-scikit-learn{version}-numpy1.26.4"


def test_contract_changes_and_crashes_through_the_runner(tmp_path: Path) -> None:
    (tmp_path / "model.joblib").write_bytes(b"never loaded by the host\n")
    (tmp_path / "golden.csv").write_text("row_id,tag,x,label\nr1,,1.0,0\nr2,,2.0,1\n")
    (tmp_path / "matrix.toml").write_text(MATRIX)
    backend = FakeBackend(
        {
            cell_id("1.5.2"): with_contract(contract_record()),
            cell_id("1.6.1"): with_contract(contract_record()),
            cell_id("1.7.2"): with_contract(contract_record(**{"unseen-missing": "output"})),
            cell_id("1.8.0"): crashed_in_contract("large-batch"),
        }
    )
    runner = Runner(
        load_matrix(tmp_path / "matrix.toml"),
        RunOptions(out_dir=tmp_path / "out"),
        {"venv": backend},
        tmp_path / "cache",
    )
    results = runner.run()
    cells = {cell.id: cell for cell in results.cells}

    assert cells[cell_id("1.6.1")].flags == ()
    for changed in ("1.7.2", "1.8.0"):
        cell = cells[cell_id(changed)]
        assert cell.verdict is Verdict.IDENTICAL  # outputs match; only the contract changed
        assert cell.flags == (Flag.CONTRACT_CHANGED,)
        assert cell.error is None
    crashed = cells[cell_id("1.8.0")].comparison
    assert crashed is not None and crashed["contract"]["crashed"] == "large-batch"
    assert crashed["contract"]["changed"] == [
        {"case": "large-batch", "reference": "output", "cell": "crash"}
    ]

    report = markdown.render(results)
    assert "**Bad inputs:** 1 of 8 cases behave differently:" in report
    assert (
        "| `unseen-missing` | a bad input | <code>error (ValueError)</code> | <code>output</code> |"
        in report
    )
    assert "The process died during the bad-input case `large-batch` (a crash)." in report
