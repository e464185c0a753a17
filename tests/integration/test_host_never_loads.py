"""The host process never unpickles an artifact: an audit hook counts every ``find_class``.

Whole runs happen in this test process (``driftmatrix.cli.main``), over a joblib model, a plain
pickle, a skops file and hostile ones; the cells load in their own interpreters, which the hook
does not see. A pickle round trip made here on purpose proves the hook is live, and the host
never imports skops (its loader would be the only way to open a skops file here).
"""

from __future__ import annotations

import collections
import json
import pickle
import sys
import threading
from pathlib import Path

import pytest

from driftmatrix.cli import main

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
HOSTILE = REPO / "tests" / "data" / "artifacts" / "hostile"
SKOPS_HOSTILE = REPO / "tests" / "data" / "artifacts" / "skops" / "hostile_os_system.skops"
SKOPS_DIR = REPO / "tests" / "data" / "versions" / "py3.10-scikit-learn1.3.2-numpy1.26.4-skops0.9.0"
DEMO_GOLDEN = REPO / "artifacts" / "demo" / "golden.csv"
CACHE = Path.home() / ".cache" / "driftmatrix-tests" / "cli"

_counting = threading.Event()
_found: list[str] = []


def _hook(event: str, args: tuple[object, ...]) -> None:
    if event == "pickle.find_class" and _counting.is_set():
        _found.append(f"{args[0]}:{args[1]}")


sys.addaudithook(_hook)  # cannot be removed again: it only counts while _counting is set

MATRIX = """
name = "host-never-loads"
[artifact]
path = "{artifact}"
golden = "{golden}"
target = "{target}"
[defaults]
python = "3.10"
packages = {{ "scikit-learn" = "1.3.2", numpy = "1.26.4"{more} }}
limits = {{ timeout = "120s" }}
"""


def _run(
    tmp_path: Path, artifact: Path, golden: Path = DEMO_GOLDEN, skops: bool = False
) -> dict[str, object]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    matrix = tmp_path / "matrix.toml"
    text = MATRIX.format(
        artifact=artifact,
        golden=golden,
        target="target" if skops else "default",
        more=', skops = "0.9.0"' if skops else "",
    )
    matrix.write_text(text, encoding="utf-8")
    main(["run", str(matrix), "--out", str(tmp_path / "out")])
    (cell,) = json.loads((tmp_path / "out" / "results.json").read_text())["cells"]
    return dict(cell)


def test_runs_over_joblib_pickle_and_hostile_files_never_unpickle_in_the_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DRIFTMATRIX_CACHE", str(CACHE))
    monkeypatch.setenv("UV_PYTHON_DOWNLOADS", "never")
    _found.clear()
    _counting.set()
    try:
        joblib_cell = _run(tmp_path / "joblib", REPO / "artifacts" / "demo" / "model.joblib")
        pickle_cell = _run(tmp_path / "pickle", HOSTILE / "benign_tree_p4.pkl")
        hostile_cell = _run(tmp_path / "hostile", HOSTILE / "hostile_in_state.joblib")
        hostile_pickle = _run(tmp_path / "hostile-pkl", HOSTILE / "hostile_exec.pkl")
        skops_cell = _run(
            tmp_path / "skops", SKOPS_DIR / "et10_2c.skops", SKOPS_DIR / "golden_2c.csv", True
        )
        hostile_skops = _run(tmp_path / "hostile-skops", SKOPS_HOSTILE, skops=True)
        loads_in_the_host = list(_found)
        pickle.loads(pickle.dumps(collections.OrderedDict()))  # the hook is live
        proof = list(_found[len(loads_in_the_host) :])
    finally:
        _counting.clear()
    capsys.readouterr()
    assert loads_in_the_host == []
    assert proof == ["collections:OrderedDict"]
    # The cells did load what they were allowed to, in their own interpreters...
    assert joblib_cell["verdict"] == "identical"
    assert pickle_cell["probes"]["load"]["status"] in {"ok", "failed"}  # type: ignore[index]
    assert skops_cell["verdict"] == "identical"
    assert "skops" not in sys.modules
    # ...and nothing opened the hostile files.
    assert hostile_cell["verdict"] == "rejected" and hostile_cell["probes"] == {}
    assert hostile_pickle["verdict"] == "rejected" and hostile_pickle["probes"] == {}
    assert hostile_skops["verdict"] == "rejected" and hostile_skops["probes"] == {}
