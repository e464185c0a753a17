"""Input files frozen for a run: the bytes that were hashed and scanned are the bytes cells open.

Without this, the artifact could change between the host's scan and a cell's load (a build step
still writing it, or someone replacing it on purpose), and a cell would load bytes nobody
scanned. So the host reads each input once, hashing it while it writes a read-only copy, and
every cell of the run gets the copy.

Copies are content-addressed in driftmatrix's cache (``cache_dir/inputs/<sha256>/<name>``): one
artifact is copied once, however many runs and output directories use it. A later run reuses the
copy without reading the source again when the source's status — device, inode, size,
modification and change times — is the one recorded when it was hashed (as git and make trust a
file's status), and the copy's own status is unchanged too. A file changed less than
:data:`RACY_SECONDS` before it was hashed is read again every time: a rewrite within the same
timestamp tick would keep its status (git's "racily clean" entries).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from driftmatrix.results import write_json_atomic

#: Where the copies live, inside driftmatrix's cache directory.
INPUT_DIR = "inputs"
#: A source modified (or its status changed) this recently is hashed again on every run.
RACY_SECONDS = 2.0
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


def take(
    source: Path, cache_dir: Path, *, fresh: bool = False, clock: Callable[[], float] = time.time
) -> Snapshot:
    """Freeze ``source``: a read-only (0444) copy under ``cache_dir/inputs``, and its sha256.

    Args:
        source: The input file.
        cache_dir: driftmatrix's cache directory.
        fresh: Read and copy the source again, whatever was recorded (``--no-cache``).
        clock: Wall-clock seconds, for the racy-file rule (tests pass a fake).

    Raises:
        OSError: The file cannot be read or the copy cannot be written.
    """
    store = cache_dir / INPUT_DIR
    record = store / "sources" / f"{_digest(str(source.resolve()))}.json"
    before = _status(source.stat())
    if not fresh:
        known = _recorded(record, before, source.name, store)
        if known is not None:
            return Snapshot(source=source, path=known[0], sha256=known[1])
    store.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, temporary = tempfile.mkstemp(prefix=".copy-", dir=store)
    try:
        with source.open("rb") as reader, os.fdopen(fd, "wb") as writer:
            for chunk in iter(lambda: reader.read(_CHUNK), b""):
                digest.update(chunk)
                writer.write(chunk)
            writer.flush()
            os.fsync(writer.fileno())
        # Read-only for everyone: a cell (another uid in docker) reads it, nothing rewrites it.
        os.chmod(temporary, 0o444)
        sha256 = digest.hexdigest()
        target = store / sha256 / source.name
        target.parent.mkdir(exist_ok=True)
        # Replaced even when a copy is there: only the bytes just hashed are trusted (another
        # run that still reads the old copy keeps its open file, the same bytes).
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    after = _status(source.stat())
    if after == before and clock() - max(before[3], before[4]) / 1e9 >= RACY_SECONDS:
        _remember(record, before, sha256, target)
    return Snapshot(source=source, path=target, sha256=sha256)


def _status(stat: os.stat_result) -> list[int]:
    """What changes when a file's content may have: device, inode, size, mtime, ctime (ns)."""
    return [stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns]


def _recorded(record: Path, status: list[int], name: str, store: Path) -> tuple[Path, str] | None:
    """The copy and sha256 recorded for a source with exactly this status, if still intact."""
    try:
        doc = json.loads(record.read_text(encoding="utf-8"))
        sha256 = str(doc["sha256"])
        copy = store / sha256 / name
        if doc["status"] != status or doc["copy"] != _status(copy.stat()):
            return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return copy, sha256


def _remember(record: Path, status: list[int], sha256: str, copy: Path) -> None:
    """Record the source's status and hash (best effort: without it, the next run re-reads)."""
    with contextlib.suppress(OSError):
        doc = {"status": status, "sha256": sha256, "copy": _status(copy.stat())}
        write_json_atomic(record, doc, durable=False)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
