"""An exclusive file lock, so that threads and processes build one thing once."""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if needed; never deleted, to avoid races).

    flock rather than lockf/fcntl locks: flock belongs to the open file description, so two
    threads of one process (each opening the file) exclude each other too, not just processes.
    """
    with open(path, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
