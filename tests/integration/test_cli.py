"""The command line end to end: real matrix files, real uv environments, real exit codes.

The matrices live in tests/data/matrices/e2e/ and probe the committed demo model
(artifacts/demo/model.joblib, pickled with scikit-learn 1.3.2) and a truncated copy of it
(tests/data/artifacts/). Environments are kept in a stable cache (``CACHE``) so they are built
once across test runs; uv's own download cache makes even the first build quick.

Tests that build or start environments are marked ``slow``; the others (matrix errors, ``list``,
``report`` usage) need no environment and run everywhere. Where stderr itself is the thing under
test (tracebacks, one-line errors, an installed wheel), the CLI runs as a real subprocess; the
rest call ``cli.main`` in-process, under the suite's ``filterwarnings = error``. Either way the
test process never unpickles an artifact: only a cell's own interpreter does.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from driftmatrix.cli import main

REPO = Path(__file__).resolve().parents[2]
E2E = REPO / "tests" / "data" / "matrices" / "e2e"
REPORTS = REPO / "tests" / "data" / "reports"
GOLDEN = REPO / "artifacts" / "demo" / "golden.csv"
#: Shared by every run of this module (and across sessions): environments are built once.
CACHE = Path.home() / ".cache" / "driftmatrix-tests" / "cli"
PY311 = "/root/.pyenv/versions/3.11.7/bin/python3.11"

REF = "py3.10-scikit-learn1.3.2-numpy1.26.4"
NEXT = "py3.10-scikit-learn1.4.2-numpy1.26.4"
NO_NUMPY = "py3.10-scikit-learn1.3.2-numpy1.26.99"
RUN_TIMEOUT = 900  # seconds; a first build of both environments takes well under a minute


@pytest.fixture
def cache(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point driftmatrix (in-process and in subprocesses started from here) at ``CACHE``."""
    CACHE.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("DRIFTMATRIX_CACHE", str(CACHE))
    monkeypatch.setenv("UV_PYTHON_DOWNLOADS", "never")
    return CACHE


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run ``driftmatrix ARGS`` in this process; return (exit code, stdout, stderr)."""
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def cli_process(
    *args: str, cwd: Path, executable: list[str] | None = None, source: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run the CLI as a real process (stderr as a user sees it).

    Args:
        args: The command line after ``driftmatrix``.
        cwd: The working directory.
        executable: The command; default ``python -m driftmatrix`` from this checkout.
        source: Put this checkout's ``src`` on PYTHONPATH (off for an installed wheel).
    """
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    if source:
        env["PYTHONPATH"] = str(REPO / "src")
    return subprocess.run(
        [*(executable or [sys.executable, "-m", "driftmatrix"]), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )


def verdicts(out: Path) -> dict[str, str]:
    doc = json.loads((out / "results.json").read_text(encoding="utf-8"))
    return {cell["id"]: cell["verdict"] for cell in doc["cells"]}


def cell_doc(out: Path, cell_id: str) -> dict[str, Any]:
    path = out / "cells" / f"{cell_id}.json"
    doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return doc


def golden_rows() -> int:
    return len(GOLDEN.read_text(encoding="utf-8").splitlines()) - 1


# --- (a) the two-cell matrix, and `report` re-rendering it ---------------------------------------


@pytest.mark.slow
def test_two_cells_drift_then_report_rerenders_without_running(
    cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code, stdout, stderr = cli(capsys, "run", str(E2E / "two-cells.toml"), "--out", str(out))

    assert code == 1, stderr  # drift is a finding
    assert verdicts(out) == {REF: "identical", NEXT: "drift"}
    for path in (
        "results.json",
        "report.md",
        "junit.xml",
        f"cells/{REF}.json",
        f"cells/{NEXT}.json",
    ):
        assert (out / path).is_file(), path
    # The drift is real and explained: rows flipped, and scikit-learn warned about the version.
    drifted = cell_doc(out, NEXT)
    assert drifted["comparison"]["labels"]["flipped"] > 0
    assert "version-warning" in drifted["flags"]
    assert drifted["installed"]["scikit-learn"] == "1.4.2"
    # The raw outputs of every row are kept per cell, for later comparisons and --resume.
    assert len(cell_doc(out, REF)["outputs"]["row_ids"]) == golden_rows()
    # The reference cell reproduces the outputs the demo's manifest recorded when it was built.
    manifest = json.loads((GOLDEN.parent / "manifest.json").read_text(encoding="utf-8"))
    methods = cell_doc(out, REF)["outputs"]["methods"]
    assert {
        name: hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()
        for name, values in methods.items()
    } == manifest["outputs"]
    # One progress line per cell (stderr is not a terminal: plain lines), then the table.
    assert len(re.findall(r"^\[\d/2\] ", stderr, re.MULTILINE)) == 2
    assert "\x1b" not in stderr
    assert REF in stdout and NEXT in stdout and "drift" in stdout

    # `report` renders from results.json alone: given nothing else (no cells, no matrix, no
    # cache), it still renders every format, so it cannot have re-run anything.
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(out / "results.json", alone / "results.json")
    before = sorted(p.name for p in alone.iterdir())
    code, md, _ = cli(capsys, "report", str(alone), "--format", "md")
    assert code == 0
    assert md == (out / "report.md").read_text(encoding="utf-8") + "\n"
    code, text, _ = cli(capsys, "report", str(alone), "--format", "json")
    assert code == 0
    assert json.loads(text) == json.loads((out / "results.json").read_text(encoding="utf-8"))
    code, table, _ = cli(capsys, "report", str(alone), "--format", "terminal")
    assert code == 0 and REF in table and NEXT in table and "drift" in table
    assert sorted(p.name for p in alone.iterdir()) == before  # nothing was written


@pytest.mark.slow
def test_a_terminal_gets_a_live_display(cache: Path, tmp_path: Path) -> None:
    """stderr on a real pseudo-terminal: the live block (done/running/queued, each running
    cell's phase) is drawn and erased, and what stays on screen is one line per cell."""
    shutil.rmtree(cache / "results", ignore_errors=True)  # cells from the cache never run
    primary, secondary = os.openpty()
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "TERM": "xterm"}
    command = [sys.executable, "-m", "driftmatrix", "run", str(E2E / "two-cells.toml")]
    with subprocess.Popen(
        [*command, "--out", str(tmp_path / "out")],
        stdout=subprocess.PIPE,
        stderr=secondary,
        env=env,
        cwd=tmp_path,
    ) as process:
        os.close(secondary)
        chunks = []
        while True:
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # EIO: the process closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        stdout = process.communicate(timeout=RUN_TIMEOUT)[0].decode()
    os.close(primary)
    raw = b"".join(chunks).decode()
    assert process.returncode == 1, raw
    assert "\x1b[?25l" in raw and raw.endswith("\x1b[?25h")  # the cursor is given back
    assert re.search(r"0 of 2 done( · 1 (building|ready|probing))+ · [01] queued", raw)
    assert re.search(rf"(building|probing) +{re.escape(NEXT)}", raw)
    assert re.search(rf"\[\d/2\] {re.escape(NEXT)}  drift", raw)
    assert "drift" in stdout and "\x1b[?25" not in stdout  # the table itself is not redrawn


def test_report_with_an_unknown_format_is_one_line_exit_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, stdout, stderr = cli(capsys, "report", str(REPORTS), "--format", "xml")

    assert code == 2 and stdout == ""
    assert len(stderr.splitlines()) == 1
    assert "xml" in stderr and "md" in stderr and "terminal" in stderr


# --- (b) a pin that does not exist ---------------------------------------------------------------


@pytest.mark.slow
def test_an_unbuildable_cell_is_build_error_and_the_others_still_run(
    cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code, _, stderr = cli(capsys, "run", str(E2E / "missing-pin.toml"), "--out", str(out))

    assert code == 1, stderr  # the drift is a finding, whatever the build error
    assert verdicts(out) == {REF: "identical", NEXT: "drift", NO_NUMPY: "build-error"}
    error = cell_doc(out, NO_NUMPY)["error"]
    assert error["type"] == "BuildError" and "1.26.99" in error["message"]
    assert "\n" not in error["message"]


# --- (c) an artifact that does not load ----------------------------------------------------------


@pytest.mark.slow
def test_a_truncated_artifact_is_load_error_without_a_traceback(
    cache: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    proc = cli_process("run", str(E2E / "truncated.toml"), "--out", str(out), cwd=tmp_path)

    assert proc.returncode == 1, proc.stderr  # load-error is a finding
    assert verdicts(out) == {REF: "load-error"}
    error = cell_doc(out, REF)["error"]
    # The deserializer's exception type, and its message as one line (pickle's EOFError for a
    # file that ends early has an empty message; the protocol allows that).
    assert re.fullmatch(r"[A-Za-z_][\w.]*(Error|Exception)", error["type"]), error
    assert "\n" not in error["message"]
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    assert "load-error  " in proc.stderr and error["type"] in proc.stderr
    assert REF in proc.stdout and "load-error" in proc.stdout


# --- (d) a misspelt key --------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["run", "list"])
def test_a_misspelt_key_is_one_line_naming_file_and_key(tmp_path: Path, command: str) -> None:
    matrix = E2E / "misspelt-key.toml"
    proc = cli_process(command, str(matrix), cwd=tmp_path)

    assert proc.returncode == 2 and proc.stdout == ""
    assert len(proc.stderr.splitlines()) == 1, proc.stderr
    line = proc.stderr.strip()
    assert str(matrix) in line and "defualts" in line and "did you mean 'defaults'" in line
    assert not (tmp_path / "out").exists()  # nothing ran


# --- (e) the CI include-list ---------------------------------------------------------------------


def test_list_json_is_a_ci_include_list(capsys: pytest.CaptureFixture[str]) -> None:
    code, stdout, stderr = cli(capsys, "list", str(E2E / "two-cells.toml"), "--json")

    assert code == 0 and stderr == ""
    doc = json.loads(stdout)
    assert list(doc) == ["include"]  # one job per cell (more: tests/unit/test_cimatrix.py)
    assert [entry["cells"] for entry in doc["include"]] == [[REF], [NEXT]]
    assert [entry["reference"] for entry in doc["include"]] == [True, False]
    assert [entry["shard"] for entry in doc["include"]] == ["1/2", "2/2"]
    assert {entry["python"] for entry in doc["include"]} == {"3.10"}


# --- (f) the installed wheel ---------------------------------------------------------------------


def uv(*args: str) -> None:
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    proc = subprocess.run(
        [shutil.which("uv") or "uv", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr


@pytest.mark.slow
def test_the_installed_wheel_runs_a_cell(cache: Path, tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    uv("build", "--wheel", "--python", PY311, "--out-dir", str(dist), str(REPO))
    (wheel,) = dist.glob("driftmatrix-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "driftmatrix/_cell/probes/__main__.py" in names  # the in-cell runner ships
    assert not any(name.startswith("probes/") for name in names)  # ...inside driftmatrix only

    venv = tmp_path / "venv"
    uv("venv", "--python", PY311, str(venv))
    uv("pip", "install", "--python", str(venv / "bin" / "python"), str(wheel))

    # From a directory with no checkout in sight and no PYTHONPATH: only the wheel is used.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = cli_process(
        "-c",
        "from driftmatrix import runner; print(runner.source_dir())",
        cwd=elsewhere,
        executable=[str(venv / "bin" / "python")],
        source=False,
    )
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(venv), where.stdout

    out = elsewhere / "out"
    proc = cli_process(
        "run",
        str(E2E / "two-cells.toml"),
        "--cell",
        REF,
        "--out",
        str(out),
        cwd=elsewhere,
        executable=[str(venv / "bin" / "driftmatrix")],
        source=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert verdicts(out) == {REF: "identical"}
    assert "Traceback" not in proc.stderr
