"""One interpreter start per cell, counted on a real run of the venv backend.

Two kinds of start are counted, each where it cannot be missed:

* **the cells' interpreters**: a ``sitecustomize.py`` in the environment's site-packages (which
  every interpreter of that environment imports at start-up, ``-s`` or not) appends a line per
  start; a probe starting a subprocess of the cell's Python would add one.
* **the host's interpreter discovery**: the Python the cells ask for is found in a pyenv root
  whose ``python3.10`` is a script that logs each start before it runs the real interpreter;
  discovery must run it once per Python per run, not once per cell.

The environment is built first, in a cache of this test's own (uv's download cache makes that a
second), so that the counting starts with the run: it must build nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from realparts import missing

from driftmatrix.backends.interpreters import find_interpreter
from driftmatrix.backends.venv import MARKER, VenvBackend
from driftmatrix.errors import BuildError
from driftmatrix.spec import load_matrix

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "artifacts" / "demo"
MATRIX = f"""name = "starts"

[artifact]
path = "{DEMO / "model.joblib"}"
golden = "{DEMO / "golden.csv"}"
target = "default"

[defaults]
python = "3.10"
packages = {{ "scikit-learn" = "1.3.2", "numpy" = "1.26.4" }}

[axes]                      # two cells of one environment: one build, two starts
limits = [{{ cpus = 1 }}, {{ cpus = 2 }}]
"""
#: Logs the start of an interpreter of the cells' environment (its pid, parent and arguments).
SITECUSTOMIZE = """\
import os, sys
with open({log!r}, "a") as log:
    log.write("%d %d %r\\n" % (os.getpid(), os.getppid(), sys.argv))
"""
WRAPPER = """#!/bin/sh
echo "$*" >> {log}
exec {real} "$@"
"""


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def test_each_cell_starts_one_interpreter_and_discovery_one_per_python(tmp_path: Path) -> None:
    try:
        real = find_interpreter("3.10")
    except BuildError as exc:
        missing(str(exc))
    matrix = tmp_path / "matrix.toml"
    matrix.write_text(MATRIX, encoding="utf-8")
    cache = tmp_path / "cache"
    spec = load_matrix(matrix)
    env = VenvBackend(cache).provision(spec.cells[0])  # both cells share it
    marker = Path(env.location) / MARKER
    built = marker.stat().st_mtime_ns
    site = next(Path(env.location).glob("lib/python3.10/site-packages"))
    cell_log = tmp_path / "cell-starts.log"
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE.format(log=str(cell_log)), "utf-8")
    pyenv_bin = tmp_path / "pyenv" / "versions" / real.version / "bin"
    pyenv_bin.mkdir(parents=True)
    host_log = tmp_path / "discovery.log"
    wrapper = pyenv_bin / "python3.10"
    wrapper.write_text(WRAPPER.format(log=host_log, real=real.executable), encoding="utf-8")
    wrapper.chmod(0o755)

    def run(out: str) -> subprocess.CompletedProcess[str]:
        environ = {
            **os.environ,
            "PYTHONPATH": str(REPO / "src"),
            "DRIFTMATRIX_CACHE": str(cache),
            "PYENV_ROOT": str(tmp_path / "pyenv"),
            "UV_PYTHON_DOWNLOADS": "never",
        }
        command = [sys.executable, "-m", "driftmatrix", "run", str(matrix), "--out", out]
        return subprocess.run(
            command, cwd=tmp_path, env=environ, capture_output=True, text=True, timeout=600
        )

    compiled = [site / "sklearn/__pycache__/__init__.cpython-310.pyc"]  # by the imports probe
    compiled.append(site / "sklearn/ensemble/__pycache__/_forest.cpython-310.pyc")  # by load
    assert not any(path.exists() for path in compiled)  # uv installs no bytecode

    first = run("out1")
    assert first.returncode in (0, 1), first.stderr
    # The first cell wrote the bytecode of what it imported (write_bytecode), once for both.
    assert all(path.exists() for path in compiled)
    assert marker.stat().st_mtime_ns == built  # the environment was there: nothing was built
    starts = lines(cell_log)
    assert len(starts) == 2, starts  # one per cell, every probe inside it
    assert all("'-m'" in start or "probes" in start for start in starts)
    pids, parents = ({start.split()[i] for start in starts} for i in (0, 1))
    assert not pids & parents  # no cell interpreter started another
    assert len(lines(host_log)) == 1, lines(host_log)  # Python 3.10 verified once, not per cell

    again = run("out2")  # unchanged: every result from the cache
    assert again.returncode == first.returncode, again.stderr
    assert len(lines(cell_log)) == 2  # no cell interpreter started at all
    assert len(lines(host_log)) == 2  # discovery again, once (the cells' key needs it)
