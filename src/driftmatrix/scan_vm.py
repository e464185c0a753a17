"""The symbolic pickle machine: every opcode of protocols 0-5, and nothing is ever executed.

It follows ``pickle._Unpickler`` opcode by opcode (the C unpickler differs only in which malformed
inputs raise; following the more permissive of the two can only report more globals). Calls
produce symbolic objects; the only call semantics modelled are those that decide which bytes a
loader reads next: joblib's array wrappers and numpy dtypes, in :mod:`driftmatrix.scan_calls`.
"""

from __future__ import annotations

import _compat_pickle
import struct
import sys
from dataclasses import dataclass, field
from typing import Any

from driftmatrix.scan_ops import HANDLERS
from driftmatrix.scan_stream import FrameError, SeqView, StreamCorrupt, TooLarge, Truncated
from driftmatrix.scan_values import (
    Fails,
    Glob,
    Unknowable,
    wrapper_ref,
)

#: Opcodes one reading may run, at most: it bounds time and memory (each opcode adds O(1)).
MAX_OPS = 20_000_000
#: String/bytes payloads longer than this are skipped, not kept (their content is never needed).
KEEP = 4096
#: Total string/bytes content kept per reading.
MAX_KEPT = 256 * 1024**2


@dataclass(frozen=True)
class Reading:
    """One way a loader reads the file (see :mod:`driftmatrix.scan`).

    Attributes:
        name: For messages, e.g. ``joblib >= 1.5``.
        wrappers: ``joblib`` (NumpyUnpickler), ``compat`` (joblib < 0.10 files) or "" (plain).
        padding: Reads the alignment padding joblib >= 1.2 writes before array bytes.
        nested_python: An object array's nested pickle is read by ``pickle._Unpickler`` (joblib
            >= 1.5: it stops at the end of its frame) rather than ``pickle.load`` (after STOP).
        python_frames: The main stream is read by ``pickle._Unpickler`` (else the C unpickler).
    """

    name: str
    wrappers: str
    padding: bool = True
    nested_python: bool = True
    python_frames: bool = True


@dataclass
class Context:
    """What one reading learns, over its main, nested and trailing streams."""

    globals: set[str] = field(default_factory=set)
    ops: int = 0
    kept: int = 0
    walked: int = 0
    arrays: int = 0
    aligned: bool = False
    wrapper_builds: int = 0
    before_wrapper: frozenset[str] | None = None  # globals before pickle.load met a wrapper
    nested_divergence: bool = False
    frame_divergence: bool = False


class Located(Exception):
    """Where a loader fails (``fails``) or where the scan can no longer know what happens."""

    def __init__(self, message: str, fails: bool) -> None:
        super().__init__(message)
        self.fails = fails


class Machine:
    """One unpickler run over one stream: its own stack, marks and memo."""

    def __init__(self, view: SeqView, reading: Reading, ctx: Context, nested: bool = False):
        self.view = view
        self.reading = reading
        self.ctx = ctx
        self.nested = nested
        #: joblib's special BUILD applies to its own stream, not to an object array's nested
        #: pickle (a plain unpickler reads that).
        self.wrappers = "" if nested else reading.wrappers
        self.stack: list[Any] = []
        self.metastack: list[list[Any]] = []
        self.memo: dict[int, Any] = {}
        self.proto = 0
        self.wref_in_container = False
        self.escaped = False
        self.at = 0
        self.op = ""

    def run(self) -> None:
        """Run to STOP; raises :class:`Located` where a loader fails or the scan cannot know."""
        view, ctx, handlers = self.view, self.ctx, HANDLERS
        try:
            while True:
                self.at = view.tell()
                self.op = ""
                code = view.read(1)[0]
                ctx.ops += 1
                if ctx.ops > MAX_OPS:
                    raise Unknowable(f"more than {MAX_OPS} opcodes")
                entry = handlers.get(code)
                if entry is None:
                    raise Fails(f"invalid opcode 0x{code:02x}")
                self.op = entry[0]
                if entry[1](self):
                    return
        except Truncated:
            where = f"inside {self.op} at byte {self.at}" if self.op else "before STOP"
            message = f"the data ends at byte {view.src.pos} (truncated) {where}"
            raise Located(message, True) from None
        except FrameError as exc:
            if self.nested:
                ctx.nested_divergence = True
            else:
                ctx.frame_divergence = True
            raise Located(self.where(str(exc)), True) from None
        except (Fails, StreamCorrupt) as exc:
            raise Located(self.where(str(exc)), True) from None
        except (Unknowable, TooLarge) as exc:
            raise Located(self.where(str(exc)), False) from None

    def where(self, message: str) -> str:
        """``message`` with the opcode and its position."""
        return (
            f"{message} ({self.op} at byte {self.at})"
            if self.op
            else f"{message} (at byte {self.at})"
        )

    # -- helpers shared with scan_calls -----------------------------------------------------

    def pop(self) -> Any:
        if not self.stack:
            raise Fails("stack underflow")
        return self.stack.pop()

    def top(self) -> Any:
        if not self.stack:
            raise Fails("stack underflow")
        return self.stack[-1]

    def pop_mark(self) -> list[Any]:
        if not self.metastack:
            raise Fails("no MARK to pop")
        items = self.stack
        self.stack = self.metastack.pop()
        return items

    def note(self, items: list[Any]) -> list[Any]:
        """Values go into a container: remember if a joblib wrapper is among them."""
        if self.wrappers and not self.wref_in_container and any(map(wrapper_ref, items)):
            self.wref_in_container = True
        return items

    def read(self, fmt: str) -> Any:
        return struct.unpack(fmt, self.view.read(struct.calcsize(fmt)))[0]

    def line(self) -> tuple[bytes, bool]:
        return self.view.readline(KEEP)

    def payload(self, size: int) -> bytes | None:
        """A string/bytes payload: its content, or None when too long to keep."""
        if size > sys.maxsize:
            raise Fails(f"{self.op} exceeds the maximum size")
        data = self.view.blob(size, KEEP)
        if data is None or self.ctx.kept + len(data) > MAX_KEPT:
            return None
        self.ctx.kept += len(data)
        return data

    def find_class(self, module: str, name: str) -> Glob:
        """Record a global as the loader's ``find_class`` resolves it (py2 names mapped)."""
        if self.proto < 3:
            if (module, name) in _compat_pickle.NAME_MAPPING:
                module, name = _compat_pickle.NAME_MAPPING[(module, name)]
            elif module in _compat_pickle.IMPORT_MAPPING:
                module = _compat_pickle.IMPORT_MAPPING[module]
        shown = f"{_printable(module)}:{_printable(name)}"
        self.ctx.globals.add(shown)
        return Glob(shown, f"{module}.{name}")

    def run_nested(self, view: SeqView) -> None:
        """Scan an object array's nested pickle (its own stack and memo, same rules)."""
        sub = Machine(view, self.reading, self.ctx, nested=True)
        try:
            sub.run()
        except Located as exc:
            raise Located(f"in an object array's nested pickle: {exc}", exc.fails) from None
        if view.leftover():
            self.ctx.nested_divergence = True


def _printable(text: str) -> str:
    """A global's part as reported: non-printable characters escaped, very long names cut."""
    if not text.isprintable():
        text = text.encode("unicode_escape").decode("ascii")
    return text if len(text) <= 200 else text[:200] + "..."
