"""Static scan of pickle and joblib files: every global they reference, and nothing executed.

The host never unpickles an artifact. Before a cell loads one, :func:`scan_file` lists the
globals (``module:qualname``) a loader would import, by walking the opcodes with a symbolic stack
machine (:mod:`driftmatrix.scan_vm`); :func:`driftmatrix.trust.untrusted` then decides.

A file is read the way each loader a cell may use reads it, and the globals of every reading are
reported together:

* ``joblib >= 1.5`` (the primary reading: ``complete``, ``bytes_scanned`` and ``container`` are
  its): ``NumpyUnpickler`` over the decompressed stream, skipping each array's raw bytes, with
  the alignment padding of joblib >= 1.2, an object array's nested pickle read to its frame end;
* ``joblib 1.2-1.4``: the nested pickle is read by ``pickle.load``, which stops right after STOP
  (only run when that differs);
* ``joblib < 1.2``: no alignment padding (only run when a wrapper asked for padding);
* ``pickle.load``: the raw file as a plain pickle, where an array's bytes are opcodes (run when a
  joblib wrapper or compression makes it differ). In a joblib container (``container ==
  "joblib"``), it only counts up to the first array wrapper: past it, pickle.load runs array
  bytes as opcodes, and loading a joblib container with pickle.load is the caller's to refuse;
* joblib < 0.10 "ZF" files are read as ``load_compatibility`` does.

Parse errors follow the prefix rule: a loader executes opcodes in order and fails where the
scanner fails, so a result that stops early (``complete=False``) is still ``decidable``. Only
what cannot be known (a computed STACK_GLOBAL operand, a wrapper whose size is not plain data,
lz4, limits) makes a file undecidable: the caller then rejects it.

After STOP, loaders stop reading. Bytes that follow are scanned too, as more pickles: their
globals are reported (a payload appended after a model is suspicious), and ``problem`` says
what follows when nothing else is wrong; data that does not parse there is ignored.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from driftmatrix.scan_stream import (
    FrameView,
    SeqView,
    Source,
    StreamCorrupt,
    TooLarge,
    chunks,
    detect,
)
from driftmatrix.scan_vm import Context, Located, Machine, Reading

#: Bump whenever a scan result could change for the same bytes (results are cached by content).
SCANNER_VERSION = 1
#: Pickles scanned after the first one's STOP, at most.
MAX_TRAILING = 64

_JOBLIB = Reading("joblib >= 1.5", "joblib")
_JOBLIB_1_2 = Reading("joblib 1.2-1.4", "joblib", nested_python=False)
_JOBLIB_OLD = Reading("joblib < 1.2", "joblib", padding=False, nested_python=False)
_COMPAT = Reading("joblib < 0.10", "compat")
_PLAIN = Reading("pickle.load", "", nested_python=False, python_frames=False)


@dataclass(frozen=True)
class ScanResult:
    """What a static scan found in a pickle, joblib or skops file (skops: driftmatrix.skops_scan).

    Attributes:
        globals: Every global referenced, as ``module:qualname`` (after the loader's own Python 2
            name mapping), sorted and unique; extension codes as ``<ext:N>``.
        complete: The whole stream, nested streams included, parsed up to STOP.
        decidable: False when the scanner cannot know what a loader would run: reject the file.
        problem: "" or one line: why the scan stopped early or could not decide, or what
            follows the pickle.
        container: ``skops`` for a skops file; ``joblib`` when joblib array payloads were
            seen, else ``pickle``. A
            ``joblib`` container must be loaded with ``joblib.load``: ``pickle.load`` would run
            its array bytes as opcodes, which the scan follows only as far as it can decide
            (``decidable`` does not cover that case), so reject it for a ``pickle`` cell.
        compression: ``none``, ``zlib``, ``gzip``, ``bz2``, ``xz``, ``lzma`` (or ``lz4``); ``zip``
            for a skops archive.
        bytes_scanned: Decompressed bytes walked (array bytes skipped included; for skops, the
            size of ``schema.json``).
    """

    globals: tuple[str, ...]
    complete: bool
    decidable: bool
    problem: str
    container: str
    compression: str
    bytes_scanned: int


@dataclass
class _Run:
    """One reading's outcome."""

    reading: Reading
    ctx: Context
    status: str = "ok"  # ok, fails or unknowable
    message: str = ""
    trailing: str = ""
    trailing_unknowable: str = ""
    scanned: int = 0


def scan_file(path: Path) -> ScanResult:
    """Scan the file at ``path`` without executing anything in it.

    Raises:
        OSError: The file cannot be opened or read.
    """
    # One handle for every reading: they all see the same file, even if the path changes.
    with open(path, "rb") as handle:
        return _scan(handle)


def scan_bytes(data: bytes) -> ScanResult:
    """Scan ``data`` as :func:`scan_file` scans a file's content (for tests and fuzzing)."""
    return _scan(io.BytesIO(data))


def _scan(handle: BinaryIO) -> ScanResult:
    head = handle.read(8)
    compression = detect(head)
    if compression == "lz4":
        problem = f"lz4 compression cannot be scanned here (magic {head[:4].hex()})"
        return ScanResult((), False, False, problem, "joblib", "lz4", 0)
    primary = _COMPAT if compression == "compat" else _JOBLIB
    first = _run(handle, compression, primary)
    runs = [first]
    if compression != "compat":
        base = first
        if first.ctx.nested_divergence:
            base = _run(handle, compression, _JOBLIB_1_2)
            runs.append(base)
        if base.ctx.aligned:
            runs.append(_run(handle, compression, _JOBLIB_OLD))
    if (
        compression != "none"
        or first.ctx.frame_divergence
        or any(run.ctx.wrapper_builds for run in runs)
    ):
        runs.append(_run(handle, "none", _PLAIN))
    container = "joblib" if first.ctx.arrays or compression == "compat" else "pickle"
    counted = [run for run in runs if not (container == "joblib" and _past_wrapper(run))]
    found: set[str] = set()
    for run in runs:
        found |= run.ctx.globals if run in counted else run.ctx.before_wrapper or set()
    unknowable = [
        run.message if run is first else f"{run.message} (as {run.reading.name} reads the file)"
        for run in counted
        if run.status == "unknowable"
    ] + [run.trailing_unknowable for run in counted if run.trailing_unknowable]
    problem = (
        unknowable[0]
        if unknowable
        else first.message
        if first.status == "fails"
        else first.trailing
    )
    return ScanResult(
        globals=tuple(sorted(found)),
        complete=first.status == "ok",
        decidable=not unknowable,
        problem=" ".join(problem.split()),
        container=container,
        compression="zlib" if compression == "compat" else compression,
        bytes_scanned=first.scanned,
    )


def _past_wrapper(run: _Run) -> bool:
    """``pickle.load`` got past a joblib array wrapper: it reads array bytes as opcodes.

    In a joblib container, that is garbage by construction (an object array's nested pickle then
    runs against the outer memo, naming globals such as ``steps:dtype``); a joblib container is
    loaded with joblib.load, and a caller that would use pickle.load on one rejects it (see
    :class:`ScanResult`). So past that point, that reading neither adds globals nor decides.
    """
    return run.reading is _PLAIN and run.ctx.wrapper_builds > 0


def _run(handle: BinaryIO, compression: str, reading: Reading) -> _Run:
    """Scan the file once, the way ``reading`` says, then whatever follows STOP."""
    run = _Run(reading, Context())
    handle.seek(0)
    src = Source(chunks(handle, compression))
    view = FrameView(src) if reading.python_frames else SeqView(src)
    try:
        Machine(view, reading, run.ctx).run()
        _trailing(view, reading, run)
    except Located as exc:
        run.status, run.message = ("fails" if exc.fails else "unknowable"), str(exc)
    except OSError:
        raise  # the file itself cannot be read
    except Exception as exc:  # a scanner bug must not crash the host: fail closed
        run.status, run.message = "unknowable", f"scanner error: {type(exc).__name__}: {exc}"
    run.scanned = src.pos
    return run


def _trailing(view: SeqView, reading: Reading, run: _Run) -> None:
    """Scan what follows STOP as further pickles, until the data ends or stops parsing."""
    start = view.tell()
    pickles = 0
    garbage = False
    try:
        while pickles < MAX_TRAILING and not view.at_end():
            try:
                Machine(view, reading, run.ctx).run()
            except Located as exc:
                if not exc.fails:
                    run.trailing_unknowable = f"after the pickle: {exc}"
                garbage = True
                break
            pickles += 1
    except (StreamCorrupt, TooLarge):
        garbage = True
    if pickles or garbage:
        parts = [f"{pickles} more pickle(s), their globals included"] if pickles else []
        parts += ["data that is not a pickle"] if garbage else []
        parts += ["more, not scanned"] if pickles == MAX_TRAILING else []
        run.trailing = f"after STOP at byte {start}: " + ", then ".join(parts)
