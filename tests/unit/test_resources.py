"""Latency and memory on the host: what is compared (resources.py), the flags, the reports.

The runner's records come from tests/unit/fakes.py (the shapes probes/latency.py and
probes/_memory.py write); runs go through the real Runner over a FakeBackend, so the flags reach
results.json by the production path. The in-cell measurements themselves are tested for real in
tests/probes/test_probes_latency.py.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest
from fakes import (
    FakeBackend,
    Scenario,
    latency_record,
    measured,
    memory,
    probe_records,
    result_doc,
)

from driftmatrix import resources
from driftmatrix.backends.base import Execution
from driftmatrix.compare import compare
from driftmatrix.comparison import Observation, Ratio, Tolerances
from driftmatrix.outcome import Flag, Verdict
from driftmatrix.report import _resources as report_resources
from driftmatrix.report import render
from driftmatrix.results import CellResult, RunResults, read_results, write_results
from driftmatrix.run import Runner, RunOptions
from driftmatrix.spec import load_matrix
from driftmatrix.verdict import decide, error_info

FAST = latency_record({1: 0.5, 100: 0.8, 1000: 2.0})
LOAD, PREDICT = {"status": "ok", "memory": memory(100_000)}, {"status": "ok"}


def probes_with(**records: Any) -> dict[str, Any]:
    """Probe records of a healthy cell with ``records`` replacing some."""
    return probe_records(**records)


def peaks(load_kib: int, predict_kib: int, method: str = "VmHWM") -> dict[str, Any]:
    base = probe_records()
    return probe_records(
        load={**base["load"], "memory": memory(load_kib, method)},
        predict={**base["predict"], "memory": memory(predict_kib, method)},
    )


# --- what is compared ----------------------------------------------------------------------------


def test_latency_is_the_p50_at_the_largest_batch_both_measured() -> None:
    slow = latency_record({1: 0.6, 100: 3.0})  # 1000 rows was over the budget in this cell
    ratio = resources.compare_latency(probes_with(latency=FAST), probes_with(latency=slow), 2.0)
    assert ratio == Ratio(0.8, 3.0, 2.0, "p50 ms of predict on 100 rows")
    assert ratio.exceeded and ratio.to_json()["measure"] == "p50 ms of predict on 100 rows"


def test_one_row_reads_as_one_row() -> None:
    one = latency_record({1: 0.5})
    ratio = resources.compare_latency(probes_with(latency=one), probes_with(latency=one), 2.0)
    assert ratio is not None and ratio.measure == "p50 ms of predict on 1 row"
    assert not ratio.exceeded


@pytest.mark.parametrize(
    "cell",
    [
        pytest.param(None, id="not-run"),
        pytest.param({"status": "skipped", "seconds": 0.0, "reason": "probe 'predict' failed"}),
        pytest.param({"status": "running"}, id="died-inside"),
        pytest.param(latency_record({1000: 2.0}, method="predict_proba"), id="other-method"),
        pytest.param(latency_record({}), id="every-size-over-budget"),
        pytest.param(latency_record({1000: float("nan")}), id="nan"),
        pytest.param({**FAST, "batches": "garbage"}, id="garbage"),
    ],
)
def test_latency_missing_or_incomparable_on_one_side_is_none(cell: Any) -> None:
    probes = probe_records(latency=cell) if cell is not None else probe_records()
    assert resources.compare_latency(probes_with(latency=FAST), probes, 2.0) is None
    assert resources.compare_latency(probes, probes_with(latency=FAST), 2.0) is None


def test_a_failed_latency_probe_still_counts_the_sizes_it_measured() -> None:
    failed = {
        **latency_record({100: 0.9, 1000: 2.2}),
        "status": "failed",
        "error": {"type": "ValueError", "message": "needs 2 rows"},
    }
    failed["batches"].insert(0, {"rows": 1, "status": "failed", "error": failed["error"]})
    ratio = resources.compare_latency(probes_with(latency=FAST), probes_with(latency=failed), 2.0)
    assert ratio == Ratio(2.0, 2.2, 2.0, "p50 ms of predict on 1000 rows")


def test_memory_is_the_larger_peak_of_load_and_predict() -> None:
    ratio = resources.compare_memory(peaks(100_000, 120_000), peaks(190_000, 150_000), 1.5)
    assert ratio == Ratio(120_000.0, 190_000.0, 1.5, "peak RSS KiB of load and predict (VmHWM)")
    assert ratio.exceeded


def test_train_mode_measures_train_and_predict() -> None:
    base = probe_records(load=None)
    probes = {
        **base,
        "train": {"status": "ok", "seconds": 1.0, "memory": memory(180_000)},
        "predict": {**base["predict"], "memory": memory(170_000)},
    }
    found = resources.peak(probes)
    assert found == resources.Peak(180_000, "VmHWM", ("train", "predict"))


@pytest.mark.parametrize(
    "cell",
    [
        pytest.param(probe_records(), id="no-memory"),
        pytest.param(peaks(100_000, 120_000, method="ru_maxrss"), id="other-method"),
        pytest.param(
            {**peaks(100_000, 120_000), "predict": {"status": "failed", "memory": memory(1)}},
            id="predict-failed",
        ),
        pytest.param(
            {
                **peaks(1, 1),
                "load": {"status": "ok", "memory": {"method": "VmHWM", "peak_kib": True}},
            },
            id="garbage",
        ),
    ],
)
def test_memory_missing_or_incomparable_on_one_side_is_none(cell: dict[str, Any]) -> None:
    assert resources.compare_memory(peaks(100_000, 120_000), cell, 1.5) is None
    assert resources.compare_memory(cell, peaks(100_000, 120_000), 1.5) is None


def test_compare_fills_latency_and_memory_with_the_policy_limits() -> None:
    outputs = {"methods": {"predict": [0, 1]}}
    reference = Observation(outputs, {**peaks(100_000, 120_000), "latency": FAST})
    slow = latency_record({1: 0.5, 100: 0.8, 1000: 4.5})
    cell = Observation(outputs, {**peaks(100_000, 150_000), "latency": slow})
    result = compare(reference, cell, Tolerances(latency_ratio=2.0, memory_ratio=1.5))
    assert result.latency == Ratio(2.0, 4.5, 2.0, "p50 ms of predict on 1000 rows")
    assert result.memory is not None and result.memory.limit == 1.5
    assert result.latency.exceeded and not result.memory.exceeded
    doc = result.to_json()
    assert doc["latency"]["ratio"] == 2.25 and doc["latency"]["exceeded"] is True
    assert doc["memory"]["ratio"] == 1.25 and doc["memory"]["exceeded"] is False
    # No limit in the policy: measured and shown, never flagged.
    unlimited = compare(reference, cell, Tolerances(latency_ratio=None, memory_ratio=None))
    assert unlimited.latency is not None and not unlimited.latency.exceeded


# --- verdicts: a measurement, never a finding -------------------------------------------------


def test_a_failed_latency_probe_does_not_change_the_verdict() -> None:
    failed = {
        "status": "failed",
        "seconds": 0.1,
        "warnings": [],
        "error": {"type": "ValueError", "message": "Expected 2D array"},
        "batches": [],
    }
    doc = result_doc(probes=probe_records(latency=failed))
    reference = Observation(doc["outputs"], probe_records(latency=FAST))
    comparison = compare(reference, Observation(doc["outputs"], doc["probes"]), Tolerances())
    assert comparison.latency is None
    facts = {"result": doc, "execution": Execution(exit_code=0), "comparison": comparison}
    assert decide(**facts) == (Verdict.IDENTICAL, ())
    assert error_info(**facts) is None


def test_a_process_that_died_timing_calls_keeps_its_compared_verdict() -> None:
    # A native crash inside a timed call: the outputs were already written and compared.
    doc = result_doc(probes=probe_records(latency={"status": "running"}), finished=False)
    crashed = Execution(exit_code=None, signal=signal.SIGSEGV)
    comparison = compare(
        Observation(doc["outputs"], probe_records()),
        Observation(doc["outputs"], doc["probes"]),
        Tolerances(),
    )
    facts = {"result": doc, "execution": crashed, "comparison": comparison}
    assert decide(**facts) == (Verdict.IDENTICAL, ())
    assert error_info(**facts) is None


# --- through the Runner, into results.json and the reports ----------------------------------------

MATRIX = """name = "resources"

[artifact]
path = "model.joblib"
golden = "golden.csv"
target = "label"

[defaults]
python = "3.11"
packages = { "scikit-learn" = "1.5.2", numpy = "1.26.4" }

[axes]
"scikit-learn" = ["1.5.2", "1.6.1", "1.7.2", "1.8.0"]

[reference]
"scikit-learn" = "1.5.2"

[compare]
latency_ratio = 2.0
memory_ratio = 1.5
"""


def cell_id(sklearn: str) -> str:
    return f"py3.11-scikit-learn{sklearn}-numpy1.26.4"


def run(tmp_path: Path, scenarios: dict[str, Scenario]) -> RunResults:
    (tmp_path / "model.joblib").write_bytes(b"never loaded by the host\n")
    (tmp_path / "golden.csv").write_text("row_id,tag,x,label\nr1,,1.0,0\nr2,,2.0,1\n")
    (tmp_path / "matrix.toml").write_text(MATRIX)
    runner = Runner(
        load_matrix(tmp_path / "matrix.toml"),
        RunOptions(out_dir=tmp_path / "out"),
        {"venv": FakeBackend(scenarios)},
        tmp_path / "cache",
    )
    # Through the file, as the CLI writes it: every report is rendered from results.json alone.
    write_results(tmp_path / "out", runner.run())
    return read_results(tmp_path / "out")


@pytest.fixture
def results(tmp_path: Path) -> RunResults:
    died = measured(latency={"status": "running"})
    died = Scenario(died.result, Execution(exit_code=None, signal=signal.SIGSEGV))
    return run(
        tmp_path,
        {
            cell_id("1.5.2"): measured(p50_ms=2.0, peak_kib=150_000),
            cell_id("1.6.1"): measured(p50_ms=5.0, peak_kib=160_000),  # 2.5x slower
            cell_id("1.7.2"): measured(p50_ms=2.2, peak_kib=240_000),  # 1.6x heavier
            cell_id("1.8.0"): died,  # the process crashed inside a timed call
        },
    )


def test_slower_and_heavier_reach_results_json(results: RunResults) -> None:
    cells = {cell.id: cell for cell in results.cells}
    assert cells[cell_id("1.5.2")].flags == ()
    assert cells[cell_id("1.6.1")].flags == (Flag.SLOWER,)
    assert cells[cell_id("1.7.2")].flags == (Flag.HEAVIER,)
    assert cells[cell_id("1.8.0")].flags == ()
    assert {cell.verdict for cell in results.cells} == {Verdict.IDENTICAL}
    slower = cells[cell_id("1.6.1")].comparison
    assert slower is not None
    assert slower["latency"] == {
        "reference": 2.0,
        "cell": 5.0,
        "ratio": 2.5,
        "limit": 2.0,
        "exceeded": True,
        "measure": "p50 ms of predict on 1000 rows",
    }
    assert slower["memory"]["reference"] == 150_000 and slower["memory"]["exceeded"] is False
    assert cells[cell_id("1.8.0")].comparison["latency"] is None  # type: ignore[index]


def test_the_terminal_table_shows_p50_and_peak_with_their_ratios(results: RunResults) -> None:
    text = render(results, "terminal")
    header = next(line for line in text.splitlines() if "cell" in line and "verdict" in line)
    assert "p50 ms" in header and "peak MiB" in header
    table = [line for line in text.splitlines() if " venv " in line]
    rows = {cell.id: next(line for line in table if cell.id in line) for cell in results.cells}
    assert " 2 " in rows[cell_id("1.5.2")] and "(1x)" not in rows[cell_id("1.5.2")]
    assert "5 (2.5x)" in rows[cell_id("1.6.1")]
    assert "234 (1.6x)" in rows[cell_id("1.7.2")]  # 240,000 KiB
    assert " died " in rows[cell_id("1.8.0")]


def test_the_markdown_details_say_what_was_compared(results: RunResults) -> None:
    text = render(results, "md")
    assert "| p50 ms | peak MiB |" in text
    slower = text.split(f"<code>{cell_id('1.6.1')}</code>")[1].split("</details>")[0]
    assert "**Latency** of one `predict` call, in the cell (ms):" in slower
    assert "| 1000 | 40 | 5 | 7.5 | 4.5 | 10 |" in slower
    assert (
        "Against the reference (p50 ms of predict on 1000 rows): 5 ms vs 2 ms, 2.5x (limit 2x): "
        "**beyond the limit**." in slower
    )
    assert "**Memory:** 154 MiB while loading, 156 MiB while predicting" in slower
    assert "Against the reference: 156 MiB vs 146 MiB, 1.07x (limit 1.5x)." in slower
    reference = text.split(f"<code>{cell_id('1.5.2')}</code>")[1].split("</details>")[0]
    assert "**Latency** of one" in reference and "Against the reference" not in reference
    died = text.split(f"<code>{cell_id('1.8.0')}</code>")[1].split("</details>")[0]
    assert "**Latency:** not measured: the process ended while the latency probe" in died


def test_json_report_carries_the_ratios(results: RunResults) -> None:
    doc = json.loads(render(results, "json"))
    latency = {c["id"]: c["comparison"]["latency"] for c in doc["cells"]}
    assert latency[cell_id("1.6.1")]["exceeded"] is True


@pytest.mark.parametrize(
    ("record", "shown", "sentence"),
    [
        pytest.param(
            {"status": "failed", "error": {"type": "ValueError", "message": "no"}, "batches": []},
            "failed",
            "**Latency:** not measured: the latency probe raised ValueError: no.",
            id="failed",
        ),
        pytest.param(
            latency_record({}),
            "over budget",
            "**Latency:** not measured: one call of every batch size would take longer",
            id="over-budget",
        ),
        pytest.param({"status": "skipped", "reason": "probe 'predict' failed"}, "-", None),
    ],
)
def test_a_latency_probe_without_numbers_says_why(
    record: dict[str, Any], shown: str, sentence: str | None
) -> None:
    cell = CellResult(
        id="c",
        backend="venv",
        python="3.11",
        packages={},
        installed={},
        limits={},
        verdict=Verdict.IDENTICAL,
        probes=probe_records(latency=record),
    )
    assert report_resources.latency_cell(cell, reference="r") == shown
    details = report_resources.markdown_details(cell, "r", str)
    assert any(sentence in paragraph for paragraph in details) if sentence else not details
