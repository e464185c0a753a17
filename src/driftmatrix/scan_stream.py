"""Byte streams for the static scanner: detection, bounded decompression and the two ways to read.

A pickle loader reads the file through one of two disciplines, and the scanner must follow the
same one byte for byte, or it would look at different bytes than the loader executes:

* :class:`SeqView`: the C unpickler behind ``pickle.load`` (and joblib < 1.5 for the nested pickle
  of an object array). It reads strictly in sequence; a FRAME is only a prefetch hint, and it
  leaves the file right after STOP.
* :class:`FrameView`: ``pickle._Unpickler``, which joblib uses for its own stream. A FRAME is read
  whole into memory and opcodes come from it until it is exhausted, while joblib reads array bytes
  straight from the file, *after* the frame. Errors match ``pickle._Unframer``.

Nothing here interprets pickle data; :mod:`driftmatrix.scan_vm` does.
"""

from __future__ import annotations

import bz2
import lzma
import zlib
from collections.abc import Callable, Iterator
from typing import BinaryIO, Protocol

#: Decompressed bytes the scanner walks at most; beyond, the file is unscannable (a bomb, or
#: simply too big to vouch for).
MAX_DECOMPRESSED = 32 * 1024**3
#: A FRAME is buffered whole, as ``pickle._Unpickler`` does; picklers write frames of ~64 KiB.
MAX_FRAME = 64 * 1024**2
_CHUNK = 1 << 16
#: joblib's magic numbers (joblib/compressor.py), checked in joblib's order.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"ZF", "compat"),
    (b"\x78", "zlib"),
    (b"\x1f\x8b", "gzip"),
    (b"BZ", "bz2"),
    (b"\x5d\x00", "lzma"),
    (b"\xfd\x37\x7a\x58\x5a", "xz"),
    (b"\x04\x22\x4d\x18", "lz4"),
)
#: ``joblib.numpy_pickle_compat``: "ZF", the length in hex padded to this width, then zlib data.
_ZF_HEADER = 2 + len(hex(2**64))


class Readable(Protocol):
    """What the decompressors need from a file: ``read``."""

    def read(self, n: int, /) -> bytes: ...


class Truncated(Exception):
    """The data ended before what the loader asked for."""


class _Exhausted(Exception):
    """The current frame is used up: reading moves on to the file."""


class FrameError(Exception):
    """``pickle._Unframer`` rejects this (the C unpickler would not): the readings part ways."""


class StreamCorrupt(Exception):
    """The compressed data is corrupt here: the loader's read raises, so loading stops."""


class TooLarge(Exception):
    """Beyond a scanner limit: what follows cannot be vouched for."""


def detect(head: bytes) -> str:
    """The compression joblib would detect from the first bytes (``_detect_compressor``)."""
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    return "none"


class Source:
    """A sequential byte stream; ``pos`` counts the (decompressed) bytes delivered so far."""

    def __init__(self, chunks: Iterator[bytes], limit: int | None = None) -> None:
        self._chunks = chunks
        self._buf = b""
        self._off = 0
        self._limit = MAX_DECOMPRESSED if limit is None else limit
        self._pulled = 0
        self.pos = 0

    def _fill(self) -> bool:
        """Get the next chunk; False at the end of the data."""
        for chunk in self._chunks:
            if not chunk:
                continue
            self._pulled += len(chunk)
            if self._pulled > self._limit:
                raise TooLarge(f"the data decompresses beyond {self._limit} bytes")
            self._buf, self._off = chunk, 0
            return True
        self._buf, self._off = b"", 0
        return False

    def at_end(self) -> bool:
        """True when no byte is left."""
        return self._off >= len(self._buf) and not self._fill()

    def read(self, n: int) -> bytes:
        """Up to ``n`` bytes (fewer only at the end of the data); ``n`` must be small."""
        if self._off + n <= len(self._buf):
            data = self._buf[self._off : self._off + n]
            self._off += n
            self.pos += n
            return data
        parts = []
        while n > 0 and (self._off < len(self._buf) or self._fill()):
            part = self._buf[self._off : self._off + n]
            self._off += len(part)
            n -= len(part)
            parts.append(part)
        data = b"".join(parts)
        self.pos += len(data)
        return data

    def skip(self, n: int) -> int:
        """Discard up to ``n`` bytes, a chunk at a time; returns how many were discarded."""
        done = 0
        while done < n and (self._off < len(self._buf) or self._fill()):
            step = min(n - done, len(self._buf) - self._off)
            self._off += step
            done += step
        self.pos += done
        return done

    def readline(self, keep: int) -> tuple[bytes, bool]:
        """A line with its ``\\n`` (or what is left at the end of the data), like ``readline()``.

        Returns:
            The line, and whether it was longer than ``keep`` bytes: then only its first ``keep``
            bytes are returned (the rest is consumed all the same).
        """
        parts: list[bytes] = []
        kept = 0
        long = False
        while self._off < len(self._buf) or self._fill():
            end = self._buf.find(b"\n", self._off)
            stop = len(self._buf) if end < 0 else end + 1
            part = self._buf[self._off : stop]
            self.pos += len(part)
            self._off = stop
            if kept + len(part) > keep:
                long = True
                part = part[: max(0, keep - kept)]
            parts.append(part)
            kept += len(part)
            if end >= 0:
                break
        return b"".join(parts), long


class SeqView:
    """How the C unpickler reads: in sequence, FRAME being a mere hint (see the module doc)."""

    python_frames = False

    def __init__(self, src: Source) -> None:
        self.src = src

    def tell(self) -> int:
        """The position of the next byte in the stream."""
        return self.src.pos

    def read(self, n: int) -> bytes:
        """Exactly ``n`` bytes (small ``n``); raises :class:`Truncated` when the data ends."""
        data = self.src.read(n)
        if len(data) < n:
            raise Truncated
        return data

    def blob(self, n: int, keep: int) -> bytes | None:
        """``n`` payload bytes: returned when ``n <= keep``, else skipped (None)."""
        if n <= keep:
            return self.read(n)
        if self.src.skip(n) < n:
            raise Truncated
        return None

    def readline(self, keep: int) -> tuple[bytes, bool]:
        """A line, as :meth:`Source.readline`."""
        return self.src.readline(keep)

    def frame(self, size: int) -> None:
        """The C unpickler only prefetches a frame: nothing to do."""

    def leftover(self) -> int:
        """Bytes of the current frame not read yet: none, frames are transparent here."""
        return 0

    def at_end(self) -> bool:
        """True when no byte is left."""
        return self.src.at_end()


class FrameView(SeqView):
    """How ``pickle._Unpickler`` reads (``pickle._Unframer``): frames are buffered whole."""

    python_frames = True

    def __init__(self, src: Source) -> None:
        super().__init__(src)
        self._frame: bytes | None = None
        self._off = 0
        self._start = 0
        self._short = False

    def tell(self) -> int:
        """The stream position of the next opcode byte (inside the frame when there is one)."""
        if self._frame is not None and self._off < len(self._frame):
            return self._start + self._off
        return self.src.pos  # an exhausted frame hands over to the file

    def _take(self, n: int, keep: int) -> bytes | None:
        """``n`` bytes from the frame (None past ``keep``); raises :class:`_Exhausted` once the
        frame is used up (the file takes over), :class:`FrameError` when it ends mid-read."""
        assert self._frame is not None
        avail = len(self._frame) - self._off
        if avail == 0 and n != 0:
            self._frame = None
            raise _Exhausted
        if avail < n:
            raise Truncated if self._short else FrameError("pickle exhausted before end of frame")
        self._off += n
        return self._frame[self._off - n : self._off] if n <= keep else None

    def read(self, n: int) -> bytes:
        """Exactly ``n`` bytes, from the frame while there is one."""
        if self._frame is not None:
            try:
                data = self._take(n, n)
            except _Exhausted:
                pass
            else:
                assert data is not None
                return data
        return super().read(n)

    def blob(self, n: int, keep: int) -> bytes | None:
        """Payload bytes, from the frame while there is one (see :meth:`SeqView.blob`)."""
        if self._frame is not None:
            try:
                return self._take(n, keep)
            except _Exhausted:
                pass
        return super().blob(n, keep)

    def readline(self, keep: int) -> tuple[bytes, bool]:
        """A line, from the frame while there is one; it must end inside the frame."""
        if self._frame is not None:
            end = self._frame.find(b"\n", self._off)
            if self._off == len(self._frame):
                self._frame = None
            elif end < 0:
                raise (
                    Truncated if self._short else FrameError("pickle exhausted before end of frame")
                )
            else:
                line = self._frame[self._off : end + 1]
                self._off = end + 1
                return line[:keep], len(line) > keep
        return super().readline(keep)

    def frame(self, size: int) -> None:
        """FRAME: read ``size`` bytes (fewer at the end of the data) into the frame buffer."""
        if self._frame is not None and self._off < len(self._frame):
            raise FrameError("beginning of a new frame before end of current frame")
        self._start = self.src.pos
        # A short read is no error (the frame is just shorter): read up to the cap to know.
        self._frame = self.src.read(min(size, MAX_FRAME + 1))
        if len(self._frame) > MAX_FRAME:
            raise TooLarge(f"a FRAME of {size} bytes (over the scanner's {MAX_FRAME})")
        self._off = 0
        # The data ended inside the frame: reading past its end is a truncation.
        self._short = len(self._frame) < size

    def leftover(self) -> int:
        """Bytes of the current frame not read yet (dropped when this unpickler stops)."""
        return 0 if self._frame is None else len(self._frame) - self._off

    def at_end(self) -> bool:
        """True when neither the frame nor the file has a byte left."""
        return self.leftover() == 0 and self.src.at_end()


def _file_chunks(handle: BinaryIO) -> Iterator[bytes]:
    while chunk := handle.read(_CHUNK):
        yield chunk


def _zlib_chunks(handle: Readable, wbits: int, what: str) -> Iterator[bytes]:
    """Decompress like joblib's ``BinaryZlibFile``: one stream; what follows it is never read.

    Output is bounded per call (``max_length``), so a bomb costs bounded memory.
    """
    decompressor = zlib.decompressobj(wbits)
    pending = b""
    at_end = False
    while not decompressor.eof:
        if not pending and not at_end:
            pending = handle.read(_CHUNK)
            at_end = not pending
        try:
            # With empty input this flushes what zlib still holds: all input is consumed but
            # max_length left output inside it (joblib, unbounded, would have it all).
            out = decompressor.decompress(pending, _CHUNK)
        except zlib.error as exc:
            raise StreamCorrupt(f"the {what} data is corrupt ({exc})") from None
        pending = decompressor.unconsumed_tail
        if out:
            yield out
        elif at_end and not pending:
            return  # truncated: the loader sees the end of the data here


def _file_object_chunks(
    opener: Callable[[BinaryIO], bz2.BZ2File | lzma.LZMAFile], handle: BinaryIO, what: str
) -> Iterator[bytes]:
    """Decompress through the stdlib file object joblib itself uses (bz2.BZ2File, LZMAFile)."""
    with opener(handle) as stream:
        while True:
            try:
                chunk = stream.read(_CHUNK)
            except (OSError, EOFError, lzma.LZMAError) as exc:
                raise StreamCorrupt(f"the {what} data is corrupt or truncated ({exc})") from None
            if not chunk:
                return
            yield chunk


def _zf_chunks(handle: BinaryIO) -> Iterator[bytes]:
    """joblib < 0.10 "ZF" files: a hex length header, then one zlib stream (read_zfile)."""
    header = handle.read(_ZF_HEADER)
    try:
        int(header[2:], 16)
    except ValueError:
        raise StreamCorrupt("the ZF header's length is not a number") from None
    first = handle.read(1)
    rest = b"" if first == b" " else first  # a py2-era header is one space wider
    yield from _zlib_chunks(_Prefixed(rest, handle), 15, "ZF (zlib)")


class _Prefixed:
    """A read-only handle that yields ``head`` before the rest of ``handle``."""

    def __init__(self, head: bytes, handle: BinaryIO) -> None:
        self._head = head
        self._handle = handle

    def read(self, n: int) -> bytes:
        if self._head:
            data, self._head = self._head[:n], self._head[n:]
            return data
        return self._handle.read(n)


def chunks(handle: BinaryIO, compression: str) -> Iterator[bytes]:
    """The decompressed content of ``handle`` as joblib reads it, in bounded chunks."""
    if compression in ("zlib", "gzip"):
        return _zlib_chunks(handle, 15 if compression == "zlib" else 31, compression)
    if compression == "bz2":
        return _file_object_chunks(lambda h: bz2.BZ2File(h, "rb"), handle, compression)
    if compression in ("lzma", "xz"):
        return _file_object_chunks(lambda h: lzma.LZMAFile(h, "rb"), handle, compression)
    if compression == "compat":
        return _zf_chunks(handle)
    return _file_chunks(handle)
