"""Lock files read from git revisions (locksource.py), in a real temporary repository."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path, PurePosixPath

import pytest
from realparts import missing

from driftmatrix.errors import UsageError
from driftmatrix.lockfile import read_lock
from driftmatrix.locksource import Source

DATA = Path(__file__).resolve().parents[1] / "data" / "review"


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``main`` has the base locks, ``bump`` the head's; the working tree is on main."""
    if shutil.which("git") is None:
        missing("git is not installed")
    root = tmp_path / "repo"
    (root / "env").mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    for side, branch in (("base", "main"), ("head", "bump")):
        if branch == "bump":
            git(root, "checkout", "-q", "-b", "bump")
        shutil.copy(DATA / "requirements" / f"{side}.txt", root / "env" / "pinned.txt")
        # An include, so that -r is read from the same revision too.
        (root / "env" / "requirements.txt").write_text("-r pinned.txt\n", encoding="utf-8")
        shutil.copy(DATA / "uv" / side / "uv.lock", root / "uv.lock")
        git(root, "add", ".")
        git(root, "commit", "-q", "-m", side)
    git(root, "checkout", "-q", "main")
    monkeypatch.chdir(root)
    return root


def test_each_revision_gives_its_own_lock(repo: Path) -> None:
    base = read_lock(Source("main"), PurePosixPath("env/requirements.txt"), "3.11")
    head = read_lock(Source("bump"), PurePosixPath("env/requirements.txt"), "3.11")
    assert base.label == "main:env/requirements.txt"
    assert (base.versions["scikit-learn"], head.versions["scikit-learn"]) == ("1.2.2", "1.3.2")
    assert head.pin("numpy").where == "bump:env/pinned.txt:5"  # type: ignore[union-attr]
    uv = read_lock(Source("bump"), PurePosixPath("uv.lock"), "3.11")
    assert uv.versions == head.versions


def test_paths_are_relative_to_the_current_directory(repo: Path) -> None:
    os.chdir(repo / "env")
    lock = read_lock(Source("bump"), PurePosixPath("requirements.txt"), "3.11")
    assert lock.versions["scikit-learn"] == "1.3.2"
    assert read_lock(Source("main"), PurePosixPath("../uv.lock"), "3.11").versions["numpy"] == (
        "1.23.4"
    )
    absolute = PurePosixPath(repo / "uv.lock")
    assert read_lock(Source("main"), absolute, "3.11").versions["numpy"] == "1.23.4"


@pytest.mark.parametrize(
    ("ref", "path", "message"),
    [
        ("nosuch", "uv.lock", "nosuch: no such git revision here"),
        ("main", "gone.txt", "main:gone.txt: no such file in main"),
        ("main", "env", "main:env: is a directory in main, not a lock file"),
        ("--output=x", "uv.lock", "'--output=x' is not a git revision"),
    ],
)
def test_a_missing_revision_or_path_is_one_line(
    repo: Path, ref: str, path: str, message: str
) -> None:
    with pytest.raises(UsageError) as caught:
        read_lock(Source(ref), PurePosixPath(path), "3.11")
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_outside_a_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if shutil.which("git") is None:
        missing("git is not installed")
    outside = tmp_path / "plain"
    outside.mkdir()
    monkeypatch.chdir(outside)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    with pytest.raises(UsageError, match="is not inside a git repository"):
        Source("main").check()


def test_without_git(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "no-tools"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(UsageError, match="needs git, which is not on PATH"):
        Source("main").check()
    # The working tree needs no git.
    assert read_lock(Source(), PurePosixPath("uv.lock"), "3.11").versions["numpy"] == "1.23.4"
