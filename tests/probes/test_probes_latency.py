"""Latency and memory measured for real inside a cell, and ``slower`` through the real CLI.

The runner is started as the host starts it, in the cached Python 3.11 cell environment, on
real models (tests/probes/build_models.py, build_resource_models.py: built by the cell's own
interpreter, never unpickled here). Budgets are made small through the job's ``latency``
object where a test is about the bounds, so no test waits for them.

The last test runs the CLI on a two-cell matrix whose cells differ only in their CPU quota
(cgroups, enforced by the venv backend as root): the same CPU-bound forest is ``slower`` under
a fifth of a core. One artifact serves both cells, so the slowness must come from the
environment; a quota is the honest way to make it, and it is what "within the resources
production gives it" means.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import HERE, RUN_TIMEOUT, THREAD_ENV, make_job, start_runner
from realparts import missing

from probes import _memory
from probes.latency import estimate_seconds, latency_settings, percentile

pytestmark = pytest.mark.slow

Run = Callable[..., Any]  # the run_job fixture: returns conftest.RunnerOutcome
IMPORTS = {"scikit-learn": "sklearn", "numpy": "numpy", "joblib": "joblib"}
MODEL_PROBES = ["imports", "load", "predict"]


@pytest.fixture(scope="module")
def resource_models(cell_python: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The models of build_resource_models.py, built by the cell's interpreter."""
    out = tmp_path_factory.mktemp("resource-models")
    proc = subprocess.run(
        [str(cell_python), "-E", "-s", str(HERE / "build_resource_models.py"), str(out)],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **THREAD_ENV},
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    if proc.returncode != 0:
        pytest.fail(f"build_resource_models.py failed:\n{proc.stderr[-3000:]}")
    return {name: Path(path) for name, path in json.loads(proc.stdout).items()}


def run_with(cell_python: Path, tmp_path: Path, latency: dict[str, Any] | None, **job: Any) -> Any:
    """Run the runner on a job with an optional ``latency`` object (make_job has none)."""
    work = tmp_path / f"work-{len(list(tmp_path.iterdir()))}"
    work.mkdir()
    doc = make_job(work, **job)
    if latency is not None:
        doc["latency"] = latency
    (work / "job.json").write_text(json.dumps(doc))
    return start_runner(cell_python, work / "job.json", work)


def assert_batch_measured(batch: dict[str, Any], rows: int, max_calls: int) -> None:
    assert batch["rows"] == rows and batch["status"] == "ok", batch
    assert 1 <= batch["calls"] <= max_calls and batch["warmup"] == 1
    assert 0 < batch["min_ms"] <= batch["p50_ms"] <= batch["p95_ms"] <= batch["max_ms"]


# --- latency --------------------------------------------------------------------------------------


def test_latency_times_predict_on_three_batch_sizes(run_job: Run, cell_python, models) -> None:
    out = run_job(
        cell_python,
        artifact=models["clf_array.joblib"],
        golden=models["golden_iris.csv"],
        imports=IMPORTS,
        probes=["environment", "imports", "load", "predict", "roundtrip", "latency"],
    )
    latency = out.probe("latency")
    assert latency["status"] == "ok", latency
    assert latency["method"] == "predict" and latency["input"] == "array"
    assert (latency["budget_seconds"], latency["max_calls"]) == (0.5, 50)
    # The golden set has 15 rows: 100 and 1000 rows are it, repeated.
    for batch, rows in zip(latency["batches"], (1, 100, 1000), strict=True):
        assert_batch_measured(batch, rows, 200)
    assert out.result is not None and out.result["finished"] is True

    # Every probe that ran carries its own peak RSS, reset before it (Linux: VmHWM).
    for name, record in out.result["probes"].items():
        memory = record["memory"]
        assert memory["method"] == "VmHWM", name
        assert 0 < memory["start_kib"] <= memory["peak_kib"], name


def test_a_dataframe_model_is_timed_on_dataframes(tmp_path, cell_python, models) -> None:
    out = run_with(
        cell_python,
        tmp_path,
        {"budget_seconds": 0.05, "batch_sizes": [1, 50]},
        artifact=models["frame_strict.joblib"],
        golden=models["golden_frame.csv"],
        probes=["load", "predict", "latency"],
    )
    latency = out.probe("latency")
    assert latency["status"] == "ok", latency
    assert latency["input"] == "dataframe"
    assert latency["warnings"] == []  # the fitted columns, so no feature-name warning per call
    assert [b["rows"] for b in latency["batches"]] == [1, 50]


def test_a_size_over_the_budget_is_skipped_not_called(tmp_path, cell_python, models) -> None:
    # One microsecond: even one row of a real model takes longer, so nothing is timed.
    out = run_with(
        cell_python,
        tmp_path,
        {"budget_seconds": 1e-6},
        artifact=models["clf_array.joblib"],
        golden=models["golden_iris.csv"],
        probes=["load", "predict", "latency"],
    )
    latency = out.probe("latency")
    assert latency["status"] == "ok"
    assert [b["status"] for b in latency["batches"]] == ["skipped"] * 3
    assert all("over the 1e-06 s budget" in b["reason"] for b in latency["batches"])


def test_the_budget_and_max_calls_bound_each_size(tmp_path, cell_python, models) -> None:
    common = {"artifact": models["clf_array.joblib"], "golden": models["golden_iris.csv"]}
    probes = ["load", "predict", "latency"]
    by_budget = run_with(
        cell_python,
        tmp_path,
        {"budget_seconds": 0.005, "max_calls": 100_000, "batch_sizes": [100]},
        probes=probes,
        **common,
    ).probe("latency")["batches"][0]
    # 100,000 calls in 5 ms would be 50 ns a call: the budget stopped it.
    assert_batch_measured(by_budget, 100, 99_999)
    by_count = run_with(
        cell_python,
        tmp_path,
        {"budget_seconds": 60, "max_calls": 3, "batch_sizes": [1]},
        probes=probes,
        **common,
    ).probe("latency")["batches"][0]
    assert by_count["calls"] == 3


def test_a_size_that_raises_fails_the_probe_and_the_others_are_measured(
    tmp_path, cell_python, resource_models
) -> None:
    # numpy.squeeze turns a one-row batch into 1-D: the classifier refuses it, larger ones pass.
    out = run_with(
        cell_python,
        tmp_path,
        {"budget_seconds": 0.05},
        artifact=resource_models["squeezer.joblib"],
        golden=resource_models["golden_tiler.csv"],
        probes=["load", "predict", "roundtrip", "latency"],
    )
    assert out.probe("predict")["status"] == "ok"
    latency = out.probe("latency")
    assert latency["status"] == "failed"
    assert latency["error"]["type"] == "ValueError" and "1D array" in latency["error"]["message"]
    first, *others = latency["batches"]
    assert first["status"] == "failed" and first["error"] == latency["error"]
    for batch, rows in zip(others, (100, 1000), strict=True):
        assert_batch_measured(batch, rows, 200)
    assert out.result is not None and out.result["finished"] is True


def test_job_latency_settings_are_checked(tmp_path, cell_python, models) -> None:
    out = run_with(
        cell_python,
        tmp_path,
        {"budget_seconds": 0},
        artifact=models["clf_array.joblib"],
        golden=models["golden_iris.csv"],
    )
    assert out.result is not None and out.result["probes"] == {}
    assert out.result["error"]["type"] == "JobError"
    assert "budget_seconds" in out.result["error"]["message"]


@pytest.mark.parametrize(
    "doc",
    [
        {"budget": 1},
        {"batch_sizes": []},
        {"batch_sizes": [0]},
        {"batch_sizes": [True]},
        {"budget_seconds": "1"},
        {"budget_seconds": 601},
        {"max_calls": 0},
        {"max_calls": 2.0},
    ],
)
def test_bad_latency_settings_are_refused(doc: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        latency_settings(doc)


def test_percentiles_are_nearest_rank_calls() -> None:
    times = [0.004, 0.001, 0.003, 0.002]
    assert percentile(times, 50) == 0.002  # the lower middle call, not 0.0025
    assert percentile(list(range(1, 21)), 95) == 19  # ceil(0.95 * 20) = 19 exactly
    assert percentile([0.5], 95) == 0.5


def test_the_estimate_is_a_line_through_the_timed_points() -> None:
    # 15 golden rows in 10 ms, one row in 2 ms: 2 ms + (8 ms / 14 rows) per extra row.
    points = [(15, 0.010), (1, 0.002)]
    assert estimate_seconds(points, 1) == 0.002
    assert estimate_seconds(points, 1000) == pytest.approx(0.002 + 0.008 / 14 * 999)
    # A per-call cost that does not grow with rows (noise even makes it shrink): no slope.
    assert estimate_seconds([(15, 0.200), (1, 0.201)], 1000) == 0.201
    # One size timed only: proportional, the pessimistic guess.
    assert estimate_seconds([(10, 0.010)], 1000) == pytest.approx(1.0)


def test_latency_settings_default_and_sort() -> None:
    settings = latency_settings({"batch_sizes": [1000, 1, 1000]})
    assert settings.batch_sizes == (1, 1000)
    assert (settings.budget_seconds, settings.max_calls) == (0.5, 50)


# --- memory ---------------------------------------------------------------------------------------


def test_load_peak_holds_the_model(tmp_path, cell_python, resource_models) -> None:
    # Libraries are imported by the imports probe first, so load's rise is the model itself.
    out = run_with(
        cell_python,
        tmp_path,
        None,
        artifact=resource_models["forest.joblib"],
        golden=resource_models["golden_forest.csv"],
        imports=IMPORTS,
        probes=MODEL_PROBES,
    )
    load = out.probe("load")
    risen_kib = load["memory"]["peak_kib"] - load["memory"]["start_kib"]
    # The tree arrays are stored uncompressed: in memory they take about the file's size.
    assert risen_kib >= 0.8 * load["bytes"] / 1024, load


def test_predict_peak_sees_a_transient_that_was_freed(
    tmp_path, cell_python, resource_models
) -> None:
    out = run_with(
        cell_python,
        tmp_path,
        None,
        artifact=resource_models["tiler.joblib"],
        golden=resource_models["golden_tiler.csv"],
        imports=IMPORTS,
        probes=[*MODEL_PROBES, "roundtrip"],
    )
    predict, after = out.probe("predict")["memory"], out.probe("roundtrip")["memory"]
    block_kib = 10 * 1_000_000 * 8 / 1024  # 10 golden rows widened to 1,000,000 floats
    assert predict["peak_kib"] - predict["start_kib"] >= 0.9 * block_kib
    # Gone again when the next probe starts: only the reset high-water mark saw it.
    assert after["start_kib"] <= predict["peak_kib"] - 0.9 * block_kib


def test_the_peak_is_reset_per_probe_in_process() -> None:
    before = _memory.start()
    block = bytearray(64 * 1024 * 1024)
    block[::4096] = b"\1" * len(block[::4096])  # touch every page: resident, not just mapped
    del block
    spike = _memory.stop(before)
    after = _memory.stop(_memory.start())
    assert spike is not None and after is not None
    if spike["method"] != _memory.METHOD_HWM:
        missing("/proc/self/clear_refs cannot be written here: no per-probe peak")
    assert spike["peak_kib"] - spike["start_kib"] >= 60 * 1024
    assert after["peak_kib"] < spike["peak_kib"] - 60 * 1024  # the reset forgot the spike


def test_without_clear_refs_the_peak_is_the_process_peak(monkeypatch: pytest.MonkeyPatch) -> None:
    # A kernel or sandbox that refuses the reset: the real open() fails, getrusage answers.
    monkeypatch.setattr(_memory, "_CLEAR_REFS", "/proc/self/no-such-file")
    monkeypatch.setattr(_memory, "_reset_works", True)
    record = _memory.stop(_memory.start())
    assert record is not None and record["method"] == _memory.METHOD_MAXRSS
    assert record["peak_kib"] >= record["start_kib"] > 0
    assert _memory._reset_works is False  # not tried again for every probe


# --- slower, through the CLI ----------------------------------------------------------------------

QUOTA_MATRIX = """name = "latency-quota"

[artifact]
path = "{forest}"
golden = "{golden}"

[defaults]
python = "3.11"
# The versions the forest was built with (tests/probes/conftest.py CELL_REQUIREMENTS);
# threadpoolctl is left to the resolver: it does not touch the numbers.
packages = {{ "scikit-learn" = "1.5.2", numpy = "1.26.4", scipy = "1.14.1", joblib = "1.4.2" }}
limits = {{ timeout = "300s" }}

[axes]
limits = [{{ cpus = 1 }}, {{ cpus = 0.2 }}]

[reference]
limits = {{ cpus = 1 }}

[compare]
# A fifth of a core makes each 1000-row call wait for several CPU periods (about 4x here); the
# margin below that absorbs the noise of other processes on the same two cores.
latency_ratio = 1.5
"""


def test_a_cell_with_a_fifth_of_a_core_is_slower(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    resource_models: dict[str, Path],
) -> None:
    from driftmatrix.cli import main

    monkeypatch.setenv("DRIFTMATRIX_CACHE", str(Path.home() / ".cache/driftmatrix-tests/cli"))
    monkeypatch.setenv("UV_PYTHON_DOWNLOADS", "never")
    matrix = tmp_path / "matrix.toml"
    matrix.write_text(
        QUOTA_MATRIX.format(
            forest=resource_models["forest.joblib"], golden=resource_models["golden_forest.csv"]
        )
    )
    code = main(["run", str(matrix), "--out", str(tmp_path / "out")])
    terminal = capsys.readouterr().out
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    cells = {cell["limits"]["cpus"]: cell for cell in results["cells"]}
    if cells[0.2]["limits"]["enforced"].get("cpus") is None:
        missing("the venv backend cannot enforce a CPU quota here (no writable cgroup)")

    assert code == 0, terminal  # slower is a flag beside the verdict, not a finding
    reference, quota = cells[1.0], cells[0.2]
    assert results["reference"] == reference["id"]
    assert (reference["verdict"], reference["flags"]) == ("identical", [])
    assert quota["verdict"] == "identical"  # the same predictions, only later
    assert "slower" in quota["flags"] and "heavier" not in quota["flags"], quota["flags"]
    latency = quota["comparison"]["latency"]
    assert latency["exceeded"] is True and latency["ratio"] > 1.5
    assert latency["measure"].startswith("p50 ms of predict on ")
    assert quota["comparison"]["memory"]["exceeded"] is False
    row = next(line for line in terminal.splitlines() if quota["id"] in line)
    assert "slower" in row and "x)" in row
