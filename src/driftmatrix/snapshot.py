"""Input files frozen for a run: the bytes that were hashed and scanned are the bytes cells open.

Without this, the artifact could change between the host's scan and a cell's load (a build step
still writing it, or someone replacing it on purpose), and a cell would load bytes nobody
scanned. So the host reads each input once, hashing it while it writes a private read-only copy
into the run's output directory, and every cell of the run gets the copy. The copy is replaced on
the next run of the same output directory, so at most one copy of each input is kept.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

#: Where the copies live, inside the run's output directory.
INPUT_DIR = "input"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Snapshot:
    """A frozen input file.

    Attributes:
        source: The file as the matrix names it (what reports show).
        path: The read-only copy every cell opens.
        sha256: Hex sha256 of the copied bytes.
    """

    source: Path
    path: Path
    sha256: str


def take(source: Path, out_dir: Path, role: str) -> Snapshot:
    """Copy ``source`` to ``out_dir/input/<role>/<name>`` (mode 0444), hashing what is copied.

    Args:
        source: The input file.
        out_dir: The run's output directory.
        role: ``artifact`` or ``golden``; one directory each, so two inputs with the same file
            name never collide.

    Raises:
        OSError: The file cannot be read or the copy cannot be written.
    """
    target_dir = out_dir / INPUT_DIR / role
    target_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, temporary = tempfile.mkstemp(prefix=".copy-", dir=target_dir)
    try:
        with source.open("rb") as reader, os.fdopen(fd, "wb") as writer:
            for chunk in iter(lambda: reader.read(_CHUNK), b""):
                digest.update(chunk)
                writer.write(chunk)
            writer.flush()
            os.fsync(writer.fileno())
        # Read-only for everyone: a cell (another uid in docker) reads it, nothing rewrites it.
        os.chmod(temporary, 0o444)
        target = target_dir / source.name
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return Snapshot(source=source, path=target, sha256=digest.hexdigest())
