"""What the host imports for each command: nothing a command does not use (issue 7).

Every command's module is imported to build the parser, so anything one of them imports at the
top is paid by all: ``driftmatrix --help``, ``list --json`` in a CI job, and each ``run``. These
tests count modules, not milliseconds: each command runs in a fresh interpreter, which then
names the modules of :data:`HEAVY` it imported.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
DATA = ROOT / "tests" / "data"

#: Modules only some commands need. tabulate costs ~25 ms to import (it asks importlib.metadata
#: for its own version): only where a table is printed; the docker SDK, far more.
HEAVY = (
    "tabulate",
    "importlib.metadata",
    "matplotlib",
    "docker",
    "driftmatrix.run",
    "driftmatrix.progress",
    "driftmatrix.results",
    "driftmatrix.spec",
    "driftmatrix.backends.venv",
    "driftmatrix.report.html",
    "driftmatrix.report.terminal",
    "driftmatrix.report.markdown",
)

_PROGRAM = """
import io, json, sys
from contextlib import redirect_stdout
from driftmatrix.cli import main
with redirect_stdout(io.StringIO()):
    try:
        main(sys.argv[2:])
    except SystemExit:  # --help
        pass
print(json.dumps([name for name in json.loads(sys.argv[1]) if name in sys.modules]))
"""


def imported(*argv: str, cwd: Path = ROOT) -> set[str]:
    """The modules of :data:`HEAVY` that ``driftmatrix ARGV`` imported, in a fresh interpreter."""
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    done = subprocess.run(
        [sys.executable, "-c", _PROGRAM, json.dumps(HEAVY), *argv],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        check=True,
    )
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_the_parser_imports_no_command_machinery() -> None:
    assert imported("--help") == set()


def test_list_json_reads_the_matrix_and_nothing_of_a_run() -> None:
    # A CI job's first step: 10,000 cells, start-up included, in well under a second.
    assert imported("list", "--json", "matrix/demo.toml") == {"driftmatrix.spec"}


def test_the_list_table_needs_its_table_library_only() -> None:
    # tabulate asks importlib.metadata for its own version.
    table = {"tabulate", "importlib.metadata"}
    assert imported("list", "matrix/demo.toml") == {"driftmatrix.spec", *table}


@pytest.mark.parametrize("fmt", ["terminal", "md", "junit", "json"])
def test_a_report_imports_its_own_renderer_only(tmp_path: Path, fmt: str) -> None:
    shutil.copy(DATA / "html" / "results.json", tmp_path / "results.json")
    wanted = {
        "terminal": {"driftmatrix.report.terminal", "tabulate", "importlib.metadata"},
        "md": {"driftmatrix.report.markdown"},
    }.get(fmt, set())
    found = imported("report", str(tmp_path), "--format", fmt)
    assert found == {"driftmatrix.results", *wanted}
