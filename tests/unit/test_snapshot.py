"""snapshot.py: the inputs a run freezes, so that cells open exactly the bytes that were hashed."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

from driftmatrix.snapshot import take


def test_the_copy_holds_the_hashed_bytes_and_is_read_only(tmp_path: Path) -> None:
    source = tmp_path / "model.joblib"
    data = os.urandom(3 * (1 << 20) + 17)  # more than one chunk
    source.write_bytes(data)
    frozen = take(source, tmp_path / "out", "artifact")

    assert frozen.source == source
    assert frozen.path == tmp_path / "out" / "input" / "artifact" / "model.joblib"
    assert frozen.path.read_bytes() == data
    assert frozen.sha256 == hashlib.sha256(data).hexdigest()
    assert stat.S_IMODE(frozen.path.stat().st_mode) == 0o444


def test_changing_the_source_afterwards_does_not_change_the_copy(tmp_path: Path) -> None:
    source = tmp_path / "model.pkl"
    source.write_bytes(b"scanned bytes")
    frozen = take(source, tmp_path / "out", "artifact")
    source.write_bytes(b"bytes nobody scanned")
    assert frozen.path.read_bytes() == b"scanned bytes"


def test_a_second_run_replaces_the_copy_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    source = tmp_path / "golden.csv"
    source.write_text("a\n1\n")
    take(source, tmp_path / "out", "golden")
    source.write_text("a\n2\n")
    frozen = take(source, tmp_path / "out", "golden")
    assert frozen.path.read_text() == "a\n2\n"
    assert [p.name for p in frozen.path.parent.iterdir()] == ["golden.csv"]


def test_an_unreadable_source_raises_and_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        take(tmp_path / "absent.joblib", tmp_path / "out", "artifact")
    assert list((tmp_path / "out" / "input" / "artifact").iterdir()) == []
