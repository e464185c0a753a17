"""Static listing of the types a skops file names: what ``skops.io.load`` would import.

A skops file is a zip archive: ``schema.json``, a JSON tree of nodes, plus the raw array files
(``.npy``, ``.npz``, ``.bin``) that numpy and scipy read without pickle. Each node names the type
skops will import (``getattr(importlib.import_module(__module__), __class__)``) and the node
class (``__loader__``) that builds it. The host reads ``schema.json`` from the archive (never
extracting anything to disk), parses it with the same stdlib ``json`` skops uses (so duplicate
keys resolve the same way: the last one wins) and walks it iteratively. Nothing is imported.

Skops' own audit, in the cell, is the authority: it refuses any type it does not trust by
default and the host did not pass as trusted. This listing is the host's triage, and must be a
superset of what that audit checks, so that :func:`driftmatrix.trust.untrusted` can reject a
file before any environment is built, and the types it trusts can be handed to the cell's loader.

What the host cannot read the cell's skops cannot read either (not a zip, no ``schema.json``,
invalid JSON): the result is then ``complete=False`` but ``decidable``, no types are listed, so
the cell's loader trusts nothing beyond skops' defaults, and fails with skops' own message. A
file is undecidable (and so rejected) only when the cell might read what the host could not: a
``schema.json`` over :data:`MAX_SCHEMA_BYTES` (the host's memory is at stake), nested deeper than
this interpreter's JSON parser goes (another Python's goes deeper), compressed with a method this
``zipfile`` lacks, or present twice in the archive.
"""

from __future__ import annotations

import contextlib
import io
import json
import zipfile
from pathlib import Path
from typing import IO, Any

from driftmatrix.scan import ScanResult

#: Bump whenever a scan result could change for the same bytes (results are cached by content).
SKOPS_SCANNER_VERSION = 1
#: Decompressed ``schema.json`` read at most. Arrays live in their own members, so a real
#: schema is kilobytes to a few megabytes; parsed, it takes several times its size in memory.
MAX_SCHEMA_BYTES = 256 * 1024 * 1024
_SCHEMA = "schema.json"
_CHUNK = 1024 * 1024
#: Zip compression methods every CPython ``zipfile`` reads: stored, deflate, bzip2, lzma.
_READABLE_METHODS = frozenset({0, 8, 12, 14})
#: Types a node class imports whatever its ``__module__``/``__class__`` say (skops' ReduceNode
#: subclasses build these constructors and audit them).
_IMPLIED = {
    "TreeNode": "sklearn.tree._tree:Tree",
    "QuantileForestNode": "quantile_forest._quantile_forest_fast:QuantileForest",
}
_JSON_TYPES = {
    dict: "an object",
    str: "a string",
    list: "an array",
    bool: "a boolean",
    int: "a number",
    float: "a number",
    type(None): "null",
}


class _Unreadable(Exception):
    """The host cannot list the file's types; ``decidable`` says whether the cell can."""

    def __init__(self, message: str, decidable: bool) -> None:
        super().__init__(message)
        self.decidable = decidable


def scan_skops_file(path: Path) -> ScanResult:
    """List every type the skops file at ``path`` names, without importing or loading any.

    Returns:
        ``globals`` as ``module:qualname`` (a bound method as ``module:Class.method``), sorted
        and unique; ``container`` is ``skops``; ``compression`` is ``zip`` (``none`` when the
        file is not a zip archive); ``bytes_scanned`` counts the bytes of ``schema.json`` parsed
        (0 when none were).

    Raises:
        OSError: The file cannot be opened.
    """
    with open(path, "rb") as handle:
        return _scan(handle)


def scan_skops_bytes(data: bytes) -> ScanResult:
    """Scan ``data`` as :func:`scan_skops_file` scans a file's content (for tests and fuzzing)."""
    return _scan(io.BytesIO(data))


def _scan(handle: IO[bytes]) -> ScanResult:
    try:
        archive = zipfile.ZipFile(handle)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        # zipfile reports a malformed archive in all of these ways (a bad offset is an OSError
        # on a real file); the cell's zipfile fails the same way.
        return _result((), False, True, f"not a skops file: not a zip archive ({exc})", "none", 0)
    try:
        with archive:
            data = _read_schema(archive)
            schema = _parse(data)
            found = tuple(sorted(_types(schema)))
    except _Unreadable as exc:
        return _result((), False, exc.decidable, str(exc), "zip", 0)
    except MemoryError:
        return _result((), False, False, "schema.json does not fit in memory here", "zip", 0)
    except Exception as exc:  # a scanner bug must not crash the host: fail closed
        problem = f"scanner error: {type(exc).__name__}: {exc}"
        return _result((), False, False, problem, "zip", 0)
    return _result(found, True, True, _protocol(schema), "zip", len(data))


def _result(
    found: tuple[str, ...], complete: bool, decidable: bool, problem: str, kind: str, size: int
) -> ScanResult:
    return ScanResult(found, complete, decidable, " ".join(problem.split()), "skops", kind, size)


def _read_schema(archive: zipfile.ZipFile) -> bytes:
    """``schema.json``'s bytes, as skops' ``zip_file.read("schema.json")`` gets them, capped."""
    if sum(info.filename == _SCHEMA for info in archive.infolist()) > 1:
        # zipfile takes the last one, but nothing legitimate writes two, and a reader that
        # takes the first would see another schema than the one listed here.
        raise _Unreadable("two schema.json members in the zip archive", False)
    try:
        info = archive.getinfo(_SCHEMA)
    except KeyError:
        raise _Unreadable("not a skops file: no schema.json in the zip archive", True) from None
    if info.flag_bits & 0x1:
        raise _Unreadable("schema.json is encrypted (skops cannot read it)", True)
    if info.compress_type not in _READABLE_METHODS:
        # A newer zipfile in the cell may read it (Python 3.14 reads zstd): the host cannot
        # list what it would load.
        message = f"schema.json uses zip compression method {info.compress_type}, unreadable here"
        raise _Unreadable(message, False)
    if info.file_size > MAX_SCHEMA_BYTES:
        # zipfile returns at most the declared size: nothing is decompressed to find out.
        raise _Unreadable(f"schema.json declares {info.file_size} bytes, over the limit", False)
    parts: list[bytes] = []
    size = 0
    try:
        with archive.open(info) as member:
            while chunk := member.read(_CHUNK):
                size += len(chunk)
                if size > MAX_SCHEMA_BYTES:  # the declared size lied: never trust it alone
                    raise _Unreadable("schema.json decompresses past the limit", False)
                parts.append(chunk)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        # A bad CRC, a cut or corrupt stream: the cell's zipfile fails on the same bytes.
        raise _Unreadable(f"schema.json is damaged ({exc})", True) from None
    except RuntimeError as exc:  # a decompressor module missing from this Python
        raise _Unreadable(f"schema.json cannot be decompressed here ({exc})", False) from None
    return b"".join(parts)


def _parse(data: bytes) -> dict[str, Any]:
    try:
        schema = json.loads(data)
    except RecursionError:
        # The parser's depth limit is the interpreter's: Python 3.12 parses 1000 levels that
        # 3.11 refuses, so the cell might read, and load, what the host cannot list.
        raise _Unreadable("schema.json is nested too deeply to parse here", False) from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise _Unreadable(f"schema.json is not valid JSON ({exc})", True) from None
    if not isinstance(schema, dict):
        raise _Unreadable(f"schema.json is {_describe(schema)}, not a node", True)
    return schema


def _types(schema: dict[str, Any]) -> set[str]:
    """Every type any node names. Iterative: a deep tree must not exhaust the host's stack.

    Any object with ``__module__`` or ``__class__`` counts as a node, wherever it is: which
    objects skops treats as nodes depends on each loader's layout, and a listing that only
    over-approximates never misses one (a data dict with such keys is merely rejected).
    """
    found: set[str] = set()
    stack: list[Any] = [schema]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            if "__module__" in value or "__class__" in value:
                found.update(_node_types(value))
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return found


def _node_types(node: dict[str, Any]) -> list[str]:
    """The types one node makes skops import (and audit), as ``module:qualname``."""
    module, cls = _part(node, "__module__"), _part(node, "__class__")
    names = [f"{module}:{cls}"]
    loader = node.get("__loader__")
    content = node.get("content")
    content = content if isinstance(content, dict) else {}
    if loader == "FunctionNode" and ("module_path" in content or "function" in content):
        # Protocol 0 imports content.module_path / content.function instead.
        names.append(f"{_part(content, 'module_path')}:{_part(content, 'function')}")
    elif loader == "MethodNode":
        # getattr(obj, func) on the built object; skops audits it as module.Class.func. The
        # dotted qualname keeps a ``pkg.*`` pattern from trusting it (see driftmatrix.trust).
        func = _part(content, "func")
        names.append(f"{module}:{cls}.{func}")
        obj = content.get("obj")
        if isinstance(obj, dict):
            names.append(f"{_part(obj, '__module__')}:{_part(obj, '__class__')}.{func}")
    elif loader == "RandomGeneratorNode":
        names.extend(f"numpy.random:{name}" for name in _bit_generators(content))
    elif isinstance(loader, str) and loader in _IMPLIED:
        names.append(_IMPLIED[loader])
    return names


def _bit_generators(content: dict[str, Any]) -> list[str]:
    """The bit generator class names a Generator node calls ``numpy.random.<name>`` for.

    Protocols 1+ keep it as the JSON text of a JsonNode inside the state's DictNode (what skops
    audits); protocol 0 keeps it raw in the state, and skops does not audit it at all.
    """
    state = content.get("bit_generator")
    if not isinstance(state, dict):
        return []
    names = [state.get("bit_generator")]  # protocol 0
    inner = state.get("content")
    entry = inner.get("bit_generator") if isinstance(inner, dict) else None
    text = entry.get("content") if isinstance(entry, dict) else None
    if isinstance(text, str):
        # Not JSON: skops cannot read a name there either, and refuses the file.
        with contextlib.suppress(ValueError, RecursionError):
            names.append(json.loads(text))
    return [_printable(name) for name in names if isinstance(name, str)]


def _part(node: dict[str, Any], key: str) -> str:
    """A name part as listed: anything but a string becomes a form no pattern can trust."""
    if key not in node:
        return f"<{key} missing>"
    value = node[key]
    if not isinstance(value, str):
        return f"<{key} is {_describe(value)}>"
    return _printable(value)


def _printable(text: str) -> str:
    """Non-printable characters escaped, very long names cut (either makes a name untrusted)."""
    if not text.isprintable():
        text = text.encode("unicode_escape").decode("ascii")
    return text if len(text) <= 200 else text[:200] + "..."


def _describe(value: object) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _protocol(schema: dict[str, Any]) -> str:
    """A note when skops will refuse the file's protocol (the cell then fails to load it).

    Newer protocols than the cell's skops knows are refused too; the host cannot know which.
    """
    if "protocol" not in schema:
        return "no skops protocol in schema.json"
    protocol = schema["protocol"]
    if not isinstance(protocol, int) or isinstance(protocol, bool):
        return f"the skops protocol in schema.json is {_describe(protocol)}, not an integer"
    return f"skops protocol {protocol} is negative" if protocol < 0 else ""
