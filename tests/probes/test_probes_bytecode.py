"""``write_bytecode``: the probes that import the pinned libraries may leave their bytecode behind.

The runner is started as a host starts it (``-s -B -m probes``), here with this interpreter and a
throwaway package on ``PYTHONPATH`` standing in for an environment's site-packages: what is
checked is which ``__pycache__`` directories appear, not what scikit-learn does.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from conftest import REPO, RUN_TIMEOUT, make_job

RECIPE = """\
import beside_recipe


def train():
    return beside_recipe.Model()
"""


def run_runner(tmp_path: Path, **job_fields: Any) -> dict[str, Any]:
    """Run the imports and train probes with a package on the path; return result.json."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "pinned_lib.py").write_text("VALUE = 1\n")
    recipe_dir = tmp_path / "recipe"
    recipe_dir.mkdir()
    (recipe_dir / "recipe.py").write_text(RECIPE)
    (recipe_dir / "beside_recipe.py").write_text(
        "class Model:\n    def predict(self, rows):\n        return rows\n"
    )
    work = tmp_path / "work"
    work.mkdir()
    job = make_job(work, probes=["environment", "imports", "train"], imports={"lib": "pinned_lib"})
    job["files"]["recipe_dir"] = str(recipe_dir)
    job["recipe"] = {"file": "recipe.py", "function": "train"}
    job.update(job_fields)
    (work / "job.json").write_text(json.dumps(job))
    proc = subprocess.run(
        [sys.executable, "-s", "-B", "-m", "probes", str(work / "job.json")],
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "HOME": str(work), "PYTHONPATH": str(site)},
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads((work / "result.json").read_text())
    return result


def compiled(directory: Path) -> list[str]:
    """The module names that have bytecode in ``directory/__pycache__``."""
    cache = directory / "__pycache__"
    return sorted(p.name.split(".")[0] for p in cache.glob("*.pyc")) if cache.is_dir() else []


def test_the_libraries_are_compiled_in_place_when_the_job_allows_it(tmp_path: Path) -> None:
    result = run_runner(tmp_path, write_bytecode=True)
    assert result["probes"]["imports"]["status"] == "ok"
    assert result["probes"]["train"]["status"] == "ok", result["probes"]["train"]
    assert compiled(tmp_path / "site") == ["pinned_lib"]
    # The recipe and what it imports live in the user's directory: never written into.
    assert compiled(tmp_path / "recipe") == []


def test_nothing_is_written_by_default(tmp_path: Path) -> None:
    result = run_runner(tmp_path)
    assert result["probes"]["imports"]["status"] == "ok"
    assert compiled(tmp_path / "site") == []
    assert compiled(tmp_path / "recipe") == []


def test_a_write_bytecode_that_is_not_a_boolean_is_a_job_error(tmp_path: Path) -> None:
    result = run_runner(tmp_path, write_bytecode="yes")
    assert result["error"]["type"] == "JobError"
    assert "write_bytecode" in result["error"]["message"]
    assert compiled(tmp_path / "site") == []
