"""Dozens of corrupted variants of the demo model, each through a real run, as a user would.

Each ends as ``load-error`` (the cell tried and failed, one line, no traceback) or, where the
damage turns a module name into one outside ``trusted``, ``rejected`` (no cell opened it).
The variants are committed files (tests/data/artifacts/corrupt/, made by its make.py). The
broken and hostile skops files of tests/data/artifacts/skops/ go through the same runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
CORRUPT = REPO / "tests" / "data" / "artifacts" / "corrupt"
EXPECTED: dict[str, str] = json.loads((CORRUPT / "expected.json").read_text(encoding="utf-8"))
SKOPS = REPO / "tests" / "data" / "artifacts" / "skops"
#: skops corpus outcome (screening) → the verdict of a run; admitted real files are left out.
SKOPS_VERDICTS = {"load-error": "load-error", "rejected": "rejected", "unscannable": "rejected"}
CACHE = Path.home() / ".cache" / "driftmatrix-tests" / "cli"

MATRIX = """
name = "corrupt"
[artifact]
path = "{artifact}"
format = "{fmt}"
golden = "{golden}"
target = "default"
[defaults]
python = "3.10"
packages = {{ "scikit-learn" = "1.3.2", numpy = "1.26.4"{more} }}
limits = {{ timeout = "120s" }}
"""


def _run(
    name: str, tmp_path: Path, source: Path = CORRUPT
) -> tuple[str, subprocess.CompletedProcess[str]]:
    directory = tmp_path / name
    directory.mkdir()
    matrix = directory / "matrix.toml"
    skops = source == SKOPS
    text = MATRIX.format(
        artifact=source / name,
        golden=REPO / "artifacts" / "demo" / "golden.csv",
        fmt="skops" if skops else "joblib",
        more=', skops = "0.16.0"' if skops else "",
    )
    matrix.write_text(text)
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "DRIFTMATRIX_CACHE": str(CACHE)}
    env["UV_PYTHON_DOWNLOADS"] = "never"
    proc = subprocess.run(
        [sys.executable, "-m", "driftmatrix", "run", str(matrix), "--out", str(directory / "out")],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    return name, proc


def test_every_corrupted_variant_is_load_error_or_rejected(tmp_path: Path) -> None:
    assert len(EXPECTED) >= 24
    assert _problems(tmp_path, CORRUPT, EXPECTED) == []


def test_every_broken_or_hostile_skops_file_is_load_error_or_rejected(tmp_path: Path) -> None:
    corpus = json.loads((SKOPS / "expected.json").read_text(encoding="utf-8"))
    expected = {
        name: SKOPS_VERDICTS[entry["outcome"]]
        for name, entry in corpus.items()
        if entry["outcome"] in SKOPS_VERDICTS
    }
    assert len(expected) >= 20
    assert _problems(tmp_path, SKOPS, expected) == []
    for name, verdict in expected.items():
        (cell,) = json.loads((tmp_path / name / "out" / "results.json").read_text())["cells"]
        if verdict == "load-error":
            # The cell's own skops failed on it, with the error skops itself gives for it.
            wanted = corpus[name]["skops"]["error"].split(":")[0]
            assert cell["error"]["type"] == wanted, (name, cell["error"])
        else:
            assert cell["probes"] == {}, name  # no cell opened it


def _problems(tmp_path: Path, source: Path, expected: dict[str, str]) -> list[str]:
    """Run every file of ``expected`` (two at a time); list what did not end as expected."""
    # Build the one environment once before the parallel runs share it.
    warm = tmp_path / "warm"
    warm.mkdir()
    _run(next(iter(expected)), warm, source)
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = list(pool.map(lambda name: _run(name, tmp_path, source), expected))
    problems = []
    for name, proc in runs:
        out = tmp_path / name / "out"
        if not (out / "results.json").is_file():
            problems.append(f"{name}: no results (exit {proc.returncode}): {proc.stderr[-300:]}")
            continue
        (cell,) = json.loads((out / "results.json").read_text())["cells"]
        if cell["verdict"] != expected[name]:
            problems.append(f"{name}: {cell['verdict']} ({cell['error']}), not {expected[name]}")
        if proc.returncode != 1 or "Traceback" in proc.stderr + proc.stdout:
            problems.append(f"{name}: exit {proc.returncode}: {proc.stderr[-300:]}")
        if "\n" in (cell["error"] or {}).get("message", ""):
            problems.append(f"{name}: a multi-line error message")
    return problems
