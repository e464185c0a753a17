"""Dozens of corrupted variants of the demo model, each through a real run, as a user would.

Each ends as ``load-error`` (the cell tried and failed, one line, no traceback) or, where the
damage turns a module name into one outside ``trusted``, ``rejected`` (no cell opened it).
The variants are committed files (tests/data/artifacts/corrupt/, made by its make.py).
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
CACHE = Path.home() / ".cache" / "driftmatrix-tests" / "cli"

MATRIX = """
name = "corrupt"
[artifact]
path = "{artifact}"
format = "joblib"
golden = "{golden}"
target = "default"
[defaults]
python = "3.10"
packages = {{ "scikit-learn" = "1.3.2", numpy = "1.26.4" }}
limits = {{ timeout = "120s" }}
"""


def _run(name: str, tmp_path: Path) -> tuple[str, subprocess.CompletedProcess[str]]:
    directory = tmp_path / name
    directory.mkdir()
    matrix = directory / "matrix.toml"
    matrix.write_text(
        MATRIX.format(artifact=CORRUPT / name, golden=REPO / "artifacts" / "demo" / "golden.csv")
    )
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
    # Build the one environment once before the parallel runs share it.
    warm = tmp_path / "warm"
    warm.mkdir()
    _run(next(iter(EXPECTED)), warm)
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = list(pool.map(lambda name: _run(name, tmp_path), EXPECTED))
    problems = []
    for name, proc in runs:
        out = tmp_path / name / "out"
        if not (out / "results.json").is_file():
            problems.append(f"{name}: no results (exit {proc.returncode}): {proc.stderr[-300:]}")
            continue
        (cell,) = json.loads((out / "results.json").read_text())["cells"]
        if cell["verdict"] != EXPECTED[name]:
            problems.append(f"{name}: {cell['verdict']} ({cell['error']}), not {EXPECTED[name]}")
        if proc.returncode != 1 or "Traceback" in proc.stderr + proc.stdout:
            problems.append(f"{name}: exit {proc.returncode}: {proc.stderr[-300:]}")
        if "\n" in (cell["error"] or {}).get("message", ""):
            problems.append(f"{name}: a multi-line error message")
    assert problems == []
