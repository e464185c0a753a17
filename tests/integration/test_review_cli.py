"""``driftmatrix review`` end to end: real uv environments on Python 3.11, through the CLI.

The model is a DecisionTreeClassifier pickled by scikit-learn 1.2.2 (tests/data/versions). The
two lock files (tests/data/review/requirements, written by ``uv pip compile``) differ in every
package: scikit-learn 1.2.2 → 1.3.2, numpy 1.23.4 → 1.26.4, scipy 1.10.1 → 1.14.0, joblib and
threadpoolctl. Measured first in plain uv environments (``uv pip install`` of the pins, then
``joblib.load`` and ``predict``/``predict_proba``), outside driftmatrix:

- base: loads; head: ``ValueError: node array from the pickle has an incompatible dtype``;
- the base with scikit-learn 1.3.2 alone: the same ValueError;
- the base with numpy 1.26.4, joblib 1.4.2 or threadpoolctl 3.5.0 alone: bit-identical outputs;
- the base with scipy 1.14.0 alone: not installable (scipy 1.14.0 needs numpy>=1.23.5);
- the head with scikit-learn 1.2.2: bit-identical to the base.

Environments are cached in ``~/.cache/driftmatrix-tests/review``: with a warm cache each test
takes about ten seconds.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from realparts import missing

from driftmatrix.cli import main

pytestmark = pytest.mark.slow

DATA = Path(__file__).resolve().parents[1] / "data"
LOCKS = DATA / "review"
TREE = DATA / "versions" / "py3.10-scikit-learn1.2.2-numpy1.26.4"
MODEL = [
    "--artifact",
    str(TREE / "dt_2c.joblib"),
    "--golden",
    str(TREE / "golden_2c.csv"),
    "--target",
    "target",
    "--python",
    "3.11",
]
DTYPE = "node array from the pickle has an incompatible dtype"


@pytest.fixture(autouse=True)
def _cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "DRIFTMATRIX_CACHE", str(Path.home() / ".cache" / "driftmatrix-tests" / "review")
    )
    monkeypatch.setenv("UV_PYTHON_DOWNLOADS", "never")
    if shutil.which("uv") is None:
        missing("uv is not installed")


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def test_bisect_names_scikit_learn_when_numpy_and_scipy_changed_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code = main(
        [
            "review",
            "--base",
            str(LOCKS / "requirements" / "base.txt"),
            "--head",
            str(LOCKS / "requirements" / "head.txt"),
            *MODEL,
            "--out",
            str(out),
            "--bisect",
            "--jobs",
            "2",
        ]
    )
    printed = capsys.readouterr().out
    assert code == 1
    assert printed == (out / "review.md").read_text(encoding="utf-8")
    assert printed.startswith("## driftmatrix review: ❌ breaks\n")
    cause = next(line for line in printed.splitlines() if line.startswith("**Cause**"))
    assert f"**scikit-learn 1.2.2 → 1.3.2** alone: load-error: ValueError: {DTYPE}" in cause
    assert "Alone, these give no finding: numpy, joblib, threadpoolctl." in cause
    assert "Not installable alone, so not tried alone: scipy." in cause

    review = _json(out / "review.json")
    assert review["outcome"] == "breaks"
    assert review["cells"] == {"base": "identical", "head": "load-error"}
    bisect = review["bisect"]
    assert bisect["culprits"] == ["scikit-learn"]
    assert bisect["not_installable_alone"] == ["scipy"]
    assert not bisect["reverse_ran"]
    alone = {t["package"]: (t["verdict"], t["outcome"]) for t in bisect["trials"]}
    assert alone == {
        "scikit-learn": ("load-error", "breaks"),
        "numpy": ("identical", "safe"),
        "joblib": ("identical", "safe"),
        "threadpoolctl": ("identical", "safe"),
        "scipy": ("build-error", "unknown"),
    }
    scipy = next(t for t in bisect["trials"] if t["package"] == "scipy")
    assert "scipy==1.14.0 depends on numpy>=1.23.5" in scipy["error"]["message"]

    # Each cell got exactly the lock's versions, nothing more, nothing else.
    results = _json(out / "results.json")
    for cell in results["cells"]:
        pins = {p["name"]: p["version"] for p in review[cell["id"]]["pins"]}
        assert cell["installed"] == pins == cell["packages"]
    assert _json(out / "bisect" / "results.json")["reference"] == "base"


def test_uv_locks_read_from_git_revisions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    if shutil.which("git") is None:
        missing("git is not installed")
    repo = tmp_path / "repo"
    repo.mkdir()

    def git(*args: str) -> None:
        command = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args]
        subprocess.run(command, cwd=repo, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    for side, branch in (("base", "main"), ("head", "bump")):
        if branch == "bump":
            git("checkout", "-q", "-b", branch)
        for name in ("pyproject.toml", "uv.lock"):
            shutil.copy(LOCKS / "uv" / side / name, repo / name)
        git("add", ".")
        git("commit", "-q", "-m", side)
    monkeypatch.chdir(repo)
    code = main(["review", "--base-ref", "main", "--head-ref", "bump", *MODEL, "--out", "out"])
    printed = capsys.readouterr().out
    assert code == 1
    assert printed.startswith("## driftmatrix review: ❌ breaks\n")
    assert "Base (the reference): `main:uv.lock` (5 packages)" in printed
    assert "| `scikit-learn` | 1.2.2 | 1.3.2 | upgraded | direct |" in printed
    assert "| `scipy` | 1.10.1 | 1.14.0 | upgraded | transitive |" in printed
    assert "the project credit-model itself is not installed" in printed
    assert _json(repo / "out" / "review.json")["cells"]["head"] == "load-error"
