"""runner.read_result: a cell's result file is untrusted input to the host.

It is written by code running in the cell (the artifact's own code, in the worst case), so the
host never follows a symlink to it, never reads more than a fixed size, refuses shapes it cannot
rely on and never lets a hostile file cost it unbounded memory. Bad files live in
``tests/data/results/bad``; the ones too large to keep are generated here.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from driftmatrix.runner import (
    MAX_RESULT_BYTES,
    MAX_RESULT_CONTAINERS,
    RESULT_NAME,
    ResultUnreadable,
    read_result,
)

BAD = Path(__file__).resolve().parents[1] / "data" / "results" / "bad"
EXPECTED = {
    "a-list.json": "not a JSON object",
    "cut-short.json": "not JSON",
    "empty.json": "not JSON",
    "error-a-string.json": "'error' is not an object",
    "installed-a-list.json": "'installed' is not an object",
    "not-utf8.json": "not JSON",
    "outputs-a-string.json": "'outputs' is not an object",
    "probe-without-status.json": "no valid 'probes' record",
    "probes-a-list.json": "no valid 'probes' record",
    "protocol-2.json": "result protocol 2, expected 1",
}


def test_every_bad_file_has_an_expectation() -> None:
    assert sorted(p.name for p in BAD.iterdir()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_malformed_result_is_refused_with_a_reason(tmp_path: Path, name: str) -> None:
    shutil.copy(BAD / name, tmp_path / RESULT_NAME)
    with pytest.raises(ResultUnreadable, match=EXPECTED[name]):
        read_result(tmp_path)


def test_a_valid_result_is_read(tmp_path: Path) -> None:
    doc = {"protocol": 1, "probes": {"load": {"status": "ok"}}, "outputs": None, "error": None}
    (tmp_path / RESULT_NAME).write_text(json.dumps(doc))
    assert read_result(tmp_path) == doc


def test_a_missing_result_says_so(tmp_path: Path) -> None:
    with pytest.raises(ResultUnreadable, match="wrote no result file"):
        read_result(tmp_path)


def test_a_symlink_is_never_followed(tmp_path: Path) -> None:
    # A cell could point result.json at any host file readable by the host's user.
    secret = tmp_path / "secret.json"
    secret.write_text('{"protocol": 1, "probes": {}}')
    work = tmp_path / "work"
    work.mkdir()
    (work / RESULT_NAME).symlink_to(secret)
    with pytest.raises(ResultUnreadable, match="symlink; refused"):
        read_result(work)


def test_a_file_larger_than_the_cap_is_not_read(tmp_path: Path) -> None:
    with (tmp_path / RESULT_NAME).open("wb") as handle:
        handle.truncate(MAX_RESULT_BYTES + 1)  # sparse: costs no disk
    with pytest.raises(ResultUnreadable, match="larger than"):
        read_result(tmp_path)


def test_a_file_of_countless_empty_containers_is_not_parsed(tmp_path: Path) -> None:
    # Within the byte cap, but parsing it would take gigabytes of host memory.
    count = MAX_RESULT_CONTAINERS + 1
    (tmp_path / RESULT_NAME).write_bytes(b"[" + b"[]," * (count - 2) + b"[]]")
    with pytest.raises(ResultUnreadable, match="arrays/objects"):
        read_result(tmp_path)


def test_nesting_past_the_recursion_limit_is_refused(tmp_path: Path) -> None:
    depth = 200_000
    (tmp_path / RESULT_NAME).write_bytes(b"[" * depth + b"]" * depth)
    with pytest.raises(ResultUnreadable, match="nests too deeply"):
        read_result(tmp_path)
