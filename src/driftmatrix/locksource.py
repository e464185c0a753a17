"""Where a lock file is read from: the working tree, or a git revision (``git cat-file``).

``--base-ref main --lock uv.lock`` reads ``uv.lock`` as it is in ``main`` without checking
anything out, so a review of a pull request needs only the repository. Files a lock includes
(``-r other.txt``) are read from the same place. Paths are relative to the current directory,
as for a file on disk (git's ``REV:./path``).
"""

from __future__ import annotations

import os
import posixpath
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from driftmatrix.errors import UsageError

_GIT_TIMEOUT = 60.0


@dataclass(frozen=True)
class Source:
    """Files as they are in the working tree (``ref`` None) or in the git revision ``ref``."""

    ref: str | None = None

    def label(self, path: PurePosixPath) -> str:
        """How messages name ``path`` here: ``requirements.txt`` or ``main:requirements.txt``."""
        return f"{self.ref}:{path}" if self.ref is not None else str(path)

    def read(self, path: PurePosixPath) -> bytes:
        """The bytes of ``path``.

        Raises:
            UsageError: The file (or the revision, or git) is missing or unreadable; one line
                that names it and says what to do.
        """
        if self.ref is None:
            return _read_file(Path(path))
        return _read_git(self.ref, path)

    def check(self) -> None:
        """Fail early, before any file is read, when the revision cannot be read.

        Raises:
            UsageError: git is missing, this is not a repository, or the revision is unknown.
        """
        if self.ref is not None:
            _commit(self.ref)


def _read_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file (looked for {path.absolute()})") from None
    except IsADirectoryError:
        raise UsageError(f"{path}: is a directory, not a lock file") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read it: {exc.strerror or exc}") from None


def _git(*args: str) -> subprocess.CompletedProcess[bytes]:
    git = shutil.which("git")
    if git is None:
        raise UsageError(
            "reading a lock file from a git revision needs git, which is not on PATH "
            "(install git, or pass the files with --base/--head)"
        )
    try:
        return subprocess.run([git, *args], capture_output=True, timeout=_GIT_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UsageError(f"git {args[0]} failed: {exc}") from exc


def _commit(ref: str) -> str:
    """The commit ``ref`` names; one clear line when it names none."""
    if ref.startswith("-") or not ref.strip():
        raise UsageError(f"{ref!r} is not a git revision")
    inside = _git("rev-parse", "--is-inside-work-tree")
    if inside.returncode != 0:
        raise UsageError(
            f"{ref}: {os.getcwd()} is not inside a git repository "
            "(run driftmatrix review from the repository, or pass the files with --base/--head)"
        )
    found = _git("rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}")
    if found.returncode != 0:
        raise UsageError(
            f"{ref}: no such git revision here "
            "(git branch -a and git log --oneline list the names; fetch it first if it is remote)"
        )
    return found.stdout.decode().strip()


def _read_git(ref: str, path: PurePosixPath) -> bytes:
    commit = _commit(ref)
    spec = f"{commit}:{_tree_path(path)}"
    kind = _git("cat-file", "-t", spec)
    label = f"{ref}:{path}"
    if kind.returncode != 0:
        raise UsageError(
            f"{label}: no such file in {ref} "
            f"(git ls-tree -r --name-only {ref} lists its files; paths are relative to here)"
        )
    if kind.stdout.decode().strip() != "blob":
        raise UsageError(f"{label}: is a directory in {ref}, not a lock file")
    blob = _git("cat-file", "blob", spec)
    if blob.returncode != 0:
        message = blob.stderr.decode(errors="replace").strip().splitlines()
        raise UsageError(f"{label}: git cannot read it: {message[-1] if message else '?'}")
    return blob.stdout


def _tree_path(path: PurePosixPath) -> str:
    """``path`` as git's ``REV:<path>`` wants it: relative to here (``./``), ``..`` folded."""
    if path.is_absolute():
        top = _git("rev-parse", "--show-toplevel").stdout.decode().strip()
        relative = posixpath.relpath(str(path), top)
        if relative.startswith(".."):
            raise UsageError(f"{path}: outside the git repository at {top}")
        return relative
    return "./" + posixpath.normpath(str(path))
