"""``driftmatrix review`` on the command line: what it refuses (one line, exit 2) before any
environment is built, and a review with nothing to build."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from driftmatrix.cli import main

DATA = Path(__file__).resolve().parents[1] / "data" / "review"
BASE = str(DATA / "requirements" / "base.txt")
HEAD = str(DATA / "requirements" / "head.txt")


@pytest.fixture
def model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Flags naming a model and a golden set in the (temporary) current directory."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "model.joblib").write_bytes(b"not a pickle\n")
    (tmp_path / "golden.csv").write_text("row_id,x,label\nr1,1.0,0\n", encoding="utf-8")
    return ["--artifact", "model.joblib", "--golden", "golden.csv", "--target", "label"]


REFUSED = [
    ([], "neither --base nor --base-ref given"),
    (["--base", BASE], "neither --head nor --head-ref given"),
    (["--base", BASE, "--base-ref", "main", "--head", HEAD], "both --base and --base-ref"),
    (["--base", BASE, "--head", HEAD, "--lock", "uv.lock"], "--lock names the file in"),
    (["--base", BASE, "--head", HEAD, "--python", "3.1"], "--python: Python 3.1 is not supported"),
    (["--base", BASE, "--head", HEAD, "--python", "three"], "--python: not a Python version"),
    (["--base", BASE, "--head", HEAD, "--jobs", "0"], "--jobs 0: must be 1 or more"),
    (["--base", BASE, "--head", "nothere.txt"], "nothere.txt: no such file"),
    (["--base", BASE, "--head", str(DATA / "bad" / "range.txt")], "range.txt:2: 'scikit-learn>="),
]


@pytest.mark.parametrize(("flags", "message"), REFUSED, ids=[m for _, m in REFUSED])
def test_refused_in_one_line(
    model: list[str], flags: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["review", *flags, *model]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1 and err.startswith("driftmatrix: error: ")


MODEL_REFUSED = [
    ([], "no model: give --artifact MODEL"),
    (["--artifact", "model.joblib", "--recipe", "r.py:f", "--golden", "golden.csv"], "give one"),
    (["--artifact", "gone.joblib", "--golden", "golden.csv"], "--artifact: no such file"),
    (["--artifact", "model.joblib"], "--golden CSV is needed"),
    (["--artifact", "model.joblib", "--golden", "golden.csv", "--format", "onnx"], "contradicts"),
    (["--artifact", "model.joblib", "--golden", "nope.csv"], "--golden: no such file"),
    (["--recipe", "recipe", "--golden", "golden.csv"], "--recipe: not file.py:function"),
    (["--matrix", "m.toml", "--artifact", "model.joblib"], "--matrix gives the model"),
    (["--matrix", "gone.toml"], "gone.toml: cannot read the matrix file"),
]


@pytest.mark.parametrize(("flags", "message"), MODEL_REFUSED, ids=[m for _, m in MODEL_REFUSED])
def test_model_flags_are_checked_like_a_matrix_file(
    model: list[str], flags: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["review", "--base", BASE, "--head", HEAD, *flags]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_the_same_versions_need_no_cell(
    model: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The hashed file pins what head.txt pins: nothing to build, the verdict is safe.
    hashed = str(DATA / "requirements" / "head-hashed.txt")
    assert main(["review", "--base", HEAD, "--head", hashed, *model, "--out", "r"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("## driftmatrix review: ✅ safe\n")
    assert (tmp_path / "r" / "review.md").read_text(encoding="utf-8") == out
    doc = json.loads((tmp_path / "r" / "review.json").read_text(encoding="utf-8"))
    assert doc["outcome"] == "safe" and doc["changes"] == [] and doc["cells"] == {}
    assert not (tmp_path / "r" / "results.json").exists()


def test_help_lists_review(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["review", "--help"])
    out = capsys.readouterr().out
    assert "--base-ref REV" in out and "--bisect" in out
