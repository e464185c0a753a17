"""Mutated matrix files: valid ones load into consistent specs; malformed ones, through the
command line, give exit 2 and one line, never a traceback.

A thousand malformed files per run, made by mutating the good matrices (values swapped for
nasty ones, lines deleted, duplicated, garbled or moved between tables, bytes cut or
corrupted). Each goes through ``driftmatrix run`` exactly as a user would call it; valid
mutants are filtered out (``assume``), so every counted example is a malformed file.
"""

from __future__ import annotations

import contextlib
import io
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from driftmatrix.cli import main
from driftmatrix.errors import MatrixError
from driftmatrix.spec import load_matrix

DATA = Path(__file__).resolve().parents[1] / "data" / "matrices"
SOURCES = [
    *sorted((DATA / "good").glob("*.toml")),
    DATA / "docker" / "mapped.toml",
    DATA / "e2e" / "two-cells.toml",
]
NASTY = [
    '"none"',
    "-1",
    "0",
    "1e400",
    "nan",
    "inf",
    "true",
    "[]",
    "{}",
    "[{}]",
    '""',
    '" "',
    '"\\u0000"',
    '"\\n"',
    "2024-01-01",
    "3.10",
    '"3.1O"',
    '"1g"',
    '"-1g"',
    '"0s"',
    '"abc"',
    "9" * 40,
    '"../.."',
    '["3.12", "3.12"]',
    '{ memory = "1g", memroy = "2g" }',
    '"py3.10"',
    '"*"',
    '"x.py:f"',
    '">=1.5"',
    '"1.5.2+cpu"',
    '"python:3.11"',
    '{ "3.9" = "x" }',
]
HEADERS = [
    "[artifact]",
    "[defaults]",
    "[axes]",
    "[[include]]",
    "[[exclude]]",
    "[reference]",
    "[compare]",
    "[docker]",
    "[docker.images]",
    "[defaults.limits]",
    "[artefact]",
]


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The good matrices' neighbours (artifacts) copied, so relative paths can resolve."""
    root = tmp_path_factory.mktemp("fuzz-cli")
    shutil.copytree(DATA / "good" / "artifacts", root / "artifacts")
    return root


@st.composite
def malformed_text(draw: st.DrawFn) -> bytes:
    source = draw(st.sampled_from(SOURCES))
    lines = source.read_text(encoding="utf-8").splitlines()
    for _ in range(draw(st.integers(1, 5))):
        index = draw(st.integers(0, max(len(lines) - 1, 0)))
        action = draw(
            st.sampled_from(["value", "delete", "duplicate", "garble", "header", "move", "key"])
        )
        line = lines[index] if lines else ""
        if action == "value" and "=" in line:
            lines[index] = line.split("=", 1)[0] + "= " + draw(st.sampled_from(NASTY))
        elif action == "delete" and lines:
            del lines[index]
        elif action == "duplicate":
            lines.insert(index, line)
        elif action == "garble":
            lines[index] = draw(st.text(max_size=40))
        elif action == "header":
            lines.insert(index, draw(st.sampled_from(HEADERS)))
        elif action == "move" and lines:
            lines.insert(draw(st.integers(0, len(lines))), lines.pop(index))
        else:
            key = draw(st.from_regex(r"[a-z_\-]{1,12}", fullmatch=True))
            lines.insert(index, f"{key} = {draw(st.sampled_from(NASTY))}")
    data = "\n".join(lines).encode("utf-8", errors="surrogatepass")
    cut = draw(st.one_of(st.none(), st.integers(0, len(data))))
    if cut is not None:
        data = data[:cut]
    if draw(st.booleans()) and data:
        at = draw(st.integers(0, len(data) - 1))
        data = data[:at] + draw(st.binary(min_size=1, max_size=3)) + data[at + 1 :]
    return data


@settings(
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(data=malformed_text())
def test_a_malformed_matrix_is_exit_2_and_one_line(sandbox: Path, data: bytes) -> None:
    path = sandbox / "matrix.toml"
    path.write_bytes(data)
    try:
        load_matrix(path)
    except MatrixError:
        pass
    else:
        assume(False)  # a valid mutant: covered by test_spec's fuzz test, not counted here
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["run", str(path), "--out", str(sandbox / "out")])
    out, err = stdout.getvalue(), stderr.getvalue()
    assert code == 2, err
    assert out == ""
    assert err.count("\n") == 1 and err.startswith(f"driftmatrix: error: {path}: "), err
    assert "Traceback" not in err
    assert not (sandbox / "out").exists()  # nothing was started


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=malformed_text())
def test_a_mutated_matrix_loads_consistently_or_raises_one_matrix_error(
    sandbox: Path, data: bytes
) -> None:
    path = sandbox / "mutant.toml"
    path.write_bytes(data)
    try:
        spec = load_matrix(path)
    except MatrixError as exc:
        assert "\n" not in str(exc) and str(exc).startswith(f"{path}: ")
    else:
        assert spec.reference in {cell.id for cell in spec.cells}
        assert len({cell.id for cell in spec.cells}) == len(spec.cells)
