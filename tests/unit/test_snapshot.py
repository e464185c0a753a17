"""snapshot.py: the inputs a run freezes, so that cells open exactly the bytes that were hashed,
copied once per content and not read again while the source is unchanged."""

from __future__ import annotations

import hashlib
import os
import stat
import time
from pathlib import Path

import pytest

from driftmatrix.snapshot import take


def later() -> float:
    """A clock past the racy window: files written by the test count as settled."""
    return time.time() + 60


def inode(path: Path) -> int:
    """Every copy is a new file renamed into place: another inode means it was copied again
    (the old one is still allocated while the new one is written, so numbers never repeat)."""
    return path.stat().st_ino


def test_the_copy_holds_the_hashed_bytes_is_read_only_and_named_by_content(tmp_path: Path) -> None:
    source = tmp_path / "model.joblib"
    data = os.urandom(3 * (1 << 20) + 17)  # more than one chunk
    source.write_bytes(data)
    frozen = take(source, tmp_path / "cache")

    digest = hashlib.sha256(data).hexdigest()
    assert frozen.source == source and frozen.sha256 == digest
    assert frozen.path == tmp_path / "cache" / "inputs" / digest / "model.joblib"
    assert frozen.path.read_bytes() == data
    assert stat.S_IMODE(frozen.path.stat().st_mode) == 0o444


def test_changing_the_source_afterwards_does_not_change_the_copy(tmp_path: Path) -> None:
    source = tmp_path / "model.pkl"
    source.write_bytes(b"scanned bytes")
    frozen = take(source, tmp_path / "cache", clock=later)
    source.write_bytes(b"bytes nobody scanned")

    assert frozen.path.read_bytes() == b"scanned bytes"
    changed = take(source, tmp_path / "cache", clock=later)
    assert changed.path.read_bytes() == b"bytes nobody scanned"
    assert changed.sha256 == hashlib.sha256(b"bytes nobody scanned").hexdigest()


def test_an_unchanged_source_is_neither_read_nor_copied_again(tmp_path: Path) -> None:
    source = tmp_path / "golden.csv"
    source.write_text("a\n1\n")
    first = take(source, tmp_path / "cache", clock=later)
    copied = inode(first.path)
    second = take(source, tmp_path / "cache", clock=later)

    assert second == first
    assert inode(second.path) == copied


def test_a_source_changed_within_the_racy_window_is_read_every_time(tmp_path: Path) -> None:
    source = tmp_path / "golden.csv"
    source.write_text("a\n1\n")
    first = take(source, tmp_path / "cache")  # the real clock: written just now
    copied = inode(first.path)
    second = take(source, tmp_path / "cache")

    assert second.sha256 == first.sha256
    assert inode(second.path) != copied  # read and copied again


def test_a_rewrite_that_keeps_size_and_mtime_is_still_noticed(tmp_path: Path) -> None:
    source = tmp_path / "model.joblib"
    source.write_bytes(b"version 1")
    before = source.stat()
    first = take(source, tmp_path / "cache", clock=later)
    source.write_bytes(b"version 2")  # same size
    os.utime(source, ns=(before.st_atime_ns, before.st_mtime_ns))  # mtime put back; ctime moves

    again = take(source, tmp_path / "cache", clock=later)
    assert again.sha256 == hashlib.sha256(b"version 2").hexdigest() != first.sha256
    assert again.path.read_bytes() == b"version 2"


def test_a_damaged_copy_is_replaced(tmp_path: Path) -> None:
    source = tmp_path / "model.joblib"
    source.write_bytes(b"the real model")
    first = take(source, tmp_path / "cache", clock=later)
    first.path.chmod(0o644)
    first.path.write_bytes(b"the real mode!")  # same size: only its status tells

    again = take(source, tmp_path / "cache", clock=later)
    assert again.path == first.path and again.path.read_bytes() == b"the real model"
    assert stat.S_IMODE(again.path.stat().st_mode) == 0o444


def test_fresh_reads_and_copies_again(tmp_path: Path) -> None:
    source = tmp_path / "golden.csv"
    source.write_text("a\n1\n")
    first = take(source, tmp_path / "cache", clock=later)
    copied = inode(first.path)
    fresh = take(source, tmp_path / "cache", fresh=True, clock=later)

    assert fresh.sha256 == first.sha256
    assert inode(fresh.path) != copied


def test_one_content_is_one_directory_whatever_the_path(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "model.joblib").write_bytes(b"same")
    (tmp_path / "b" / "model.joblib").write_bytes(b"same")
    one = take(tmp_path / "a" / "model.joblib", tmp_path / "cache")
    two = take(tmp_path / "b" / "model.joblib", tmp_path / "cache")

    assert one.path == two.path
    assert [p.name for p in (tmp_path / "cache" / "inputs").iterdir() if p.name != "sources"] == [
        one.sha256
    ]


def test_an_unreadable_source_raises_and_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        take(tmp_path / "absent.joblib", tmp_path / "cache")
    store = tmp_path / "cache" / "inputs"
    assert not store.exists() or list(store.iterdir()) == []


def test_no_temporary_file_is_left_behind(tmp_path: Path) -> None:
    source = tmp_path / "golden.csv"
    source.write_text("a\n1\n")
    take(source, tmp_path / "cache", clock=later)
    take(source, tmp_path / "cache", fresh=True, clock=later)

    names = {p.name for p in (tmp_path / "cache" / "inputs").rglob("*")}
    assert not [name for name in names if name.startswith(".")]
