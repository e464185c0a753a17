"""The opcode handlers of the symbolic pickle machine (:class:`driftmatrix.scan_vm.Machine`).

One handler per opcode of protocols 0-5, each mirroring ``pickle._Unpickler``'s ``load_*``: the
same bytes consumed, the same malformed inputs rejected (:class:`Fails`), constants kept as Python
values and everything else symbolic. Calls and BUILD live in :mod:`driftmatrix.scan_calls`.
"""

from __future__ import annotations

import codecs
import pickletools
import sys
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from driftmatrix import scan_calls
from driftmatrix.scan_values import (
    Dct,
    Fails,
    Glob,
    Lst,
    Opaque,
    SetV,
    Tup,
    Unknowable,
    hashable,
    is_const,
    not_str,
)

if TYPE_CHECKING:
    from driftmatrix.scan_vm import Machine

NAMES = {op.code.encode("latin-1")[0]: op.name for op in pickletools.opcodes}
_CODES = {name: code for code, name in NAMES.items()}


def _decode(data: bytes | None, encoding: str, errors: str = "strict") -> Any:
    if data is None:
        return Opaque("str")
    try:
        return str(data, encoding, errors)
    except UnicodeDecodeError as exc:
        raise Fails(f"the string does not decode as {encoding} ({exc.reason})") from None


def _number(kind: Callable[..., Any], data: bytes, *base: int) -> Any:
    if len(data) > 4000:  # over int()'s digit limit on newer Pythons: not guessed at
        return Opaque("int" if kind is int else "float")
    try:
        return kind(data, *base)
    except ValueError:
        raise Fails(f"not a number: {data[:40]!r}") from None


def _memo_key(m: Machine) -> int:
    data, long = m.line()
    if long or len(data) > 4000:
        raise Unknowable("a memo key too long to read")
    key: int = _number(int, data[:-1])
    return key


# -- opcode handlers: each returns True at STOP ---------------------------------------------

Handler = Callable[["Machine"], Any]
HANDLERS: dict[int, tuple[str, Handler]] = {}


def _on(*names: str) -> Callable[[Handler], Handler]:
    def register(function: Handler) -> Handler:
        for name in names:
            HANDLERS[_CODES[name]] = (name, function)
        return function

    return register


def _push(name: str, make: Callable[[Machine], Any]) -> None:
    """An opcode that pushes one value (made first: making it may pop a MARK)."""

    def handler(m: Machine) -> None:
        value = make(m)
        m.stack.append(value)

    HANDLERS[_CODES[name]] = (name, handler)


def _proto(m: Machine) -> None:
    proto = m.view.read(1)[0]
    if proto > 5:
        raise Fails(f"unsupported pickle protocol {proto}")
    m.proto = proto


def _frame(m: Machine) -> None:
    size = m.read("<Q")
    if size > sys.maxsize:
        raise Fails("frame size > sys.maxsize")
    m.view.frame(size)


def _unsupported(m: Machine) -> None:
    raise Fails("persistent ids and out-of-band buffers make the loaders fail")


def _int(m: Machine) -> Any:
    data, long = m.line()
    if long:
        return Opaque("int")
    if data in (b"00\n", b"01\n"):
        return data == b"01\n"
    return _number(int, data, 0)


def _long(m: Machine) -> Any:
    data, long = m.line()
    data = data[:-1]
    if data.endswith(b"L"):
        data = data[:-1]
    return Opaque("int") if long else _number(int, data, 0)


def _float(m: Machine) -> Any:
    data, long = m.line()
    return Opaque("float") if long else _number(float, data[:-1])


def _long_n(m: Machine, fmt: str) -> Any:
    size = m.read(fmt)
    if size < 0:
        raise Fails("LONG pickle has negative byte count")
    data = m.payload(size)
    return Opaque("int") if data is None else int.from_bytes(data, "little", signed=True)


def _string(m: Machine) -> Any:
    data, long = m.line()
    data = data[:-1]
    if long:
        return Opaque("str")
    if len(data) < 2 or data[0] != data[-1] or data[:1] not in (b'"', b"'"):
        raise Fails("the STRING opcode argument must be quoted")
    try:
        with warnings.catch_warnings():
            # An invalid escape only warns (the loader goes on): never let it become an error.
            warnings.simplefilter("ignore")
            raw = codecs.escape_decode(data[1:-1])[0]
    except ValueError as exc:
        raise Fails(f"bad STRING escape ({exc})") from None
    return _decode(raw, "ascii")


def _binstring(m: Machine, fmt: str) -> Any:
    size = m.read(fmt)
    if size < 0:
        raise Fails("BINSTRING pickle has negative byte count")
    return _decode(m.payload(size), "ascii")


def _unicode(m: Machine) -> Any:
    data, long = m.line()
    return Opaque("str") if long else _decode(data[:-1], "raw-unicode-escape")


def _binbytes(m: Machine, fmt: str, kind: str = "bytes") -> Any:
    data = m.payload(m.read(fmt))
    return data if data is not None and kind == "bytes" else Opaque(kind)


_on("PROTO")(_proto)
_on("FRAME")(_frame)
_on("PERSID", "BINPERSID", "NEXT_BUFFER")(_unsupported)


@_on("STOP")
def _stop(m: Machine) -> bool:
    m.pop()  # pickle returns the top of the stack; an empty stack fails
    return True


_push("NONE", lambda m: None)
_push("NEWTRUE", lambda m: True)
_push("NEWFALSE", lambda m: False)
_push("INT", _int)
_push("LONG", _long)
_push("FLOAT", _float)
_push("BININT", lambda m: m.read("<i"))
_push("BININT1", lambda m: m.read("<B"))
_push("BININT2", lambda m: m.read("<H"))
_push("BINFLOAT", lambda m: m.read(">d"))
_push("LONG1", lambda m: _long_n(m, "<B"))
_push("LONG4", lambda m: _long_n(m, "<i"))
_push("STRING", _string)
_push("BINSTRING", lambda m: _binstring(m, "<i"))
_push("SHORT_BINSTRING", lambda m: _binstring(m, "<B"))
_push("UNICODE", _unicode)
_push("SHORT_BINUNICODE", lambda m: _decode(m.payload(m.read("<B")), "utf-8", "surrogatepass"))
_push("BINUNICODE", lambda m: _decode(m.payload(m.read("<I")), "utf-8", "surrogatepass"))
_push("BINUNICODE8", lambda m: _decode(m.payload(m.read("<Q")), "utf-8", "surrogatepass"))
_push("SHORT_BINBYTES", lambda m: _binbytes(m, "<B"))
_push("BINBYTES", lambda m: _binbytes(m, "<I"))
_push("BINBYTES8", lambda m: _binbytes(m, "<Q"))
_push("BYTEARRAY8", lambda m: _binbytes(m, "<Q", "bytearray"))


@_on("READONLY_BUFFER")
def _readonly_buffer(m: Machine) -> None:
    m.top()


# -- stack and memo -------------------------------------------------------------------------


@_on("MARK")
def _mark(m: Machine) -> None:
    m.metastack.append(m.stack)
    m.stack = []


@_on("POP")
def _pop(m: Machine) -> None:
    if m.stack:
        m.stack.pop()
    else:
        m.pop_mark()


@_on("POP_MARK")
def _pop_mark(m: Machine) -> None:
    m.pop_mark()


_push("DUP", lambda m: m.top())


def _put(m: Machine, key: int) -> None:
    if key < 0:
        raise Fails("negative PUT argument")
    m.memo[key] = m.top()


def _get(m: Machine, key: int) -> Any:
    if key not in m.memo:
        raise Fails(f"memo value not found at index {key}")
    return m.memo[key]


_on("PUT")(lambda m: _put(m, _memo_key(m)))
_on("BINPUT")(lambda m: _put(m, m.read("<B")))
_on("LONG_BINPUT")(lambda m: _put(m, m.read("<I")))
_on("MEMOIZE")(lambda m: _put(m, len(m.memo)))
_push("GET", lambda m: _get(m, _memo_key(m)))
_push("BINGET", lambda m: _get(m, m.read("<B")))
_push("LONG_BINGET", lambda m: _get(m, m.read("<I")))


# -- containers -----------------------------------------------------------------------------


def _tuple_n(m: Machine, n: int) -> None:
    if len(m.stack) < n:
        raise Fails("stack underflow")
    items = m.stack[len(m.stack) - n :] if n else []
    del m.stack[len(m.stack) - n :]
    m.stack.append(Tup(m.note(items)))


def _dict(m: Machine) -> Any:
    items = m.note(m.pop_mark())
    if len(items) % 2:
        raise Fails("odd number of items for DICT")
    d = Dct()
    for i in range(0, len(items), 2):
        d.map[hashable(items[i])] = items[i + 1]
    return d


_on("EMPTY_TUPLE")(lambda m: _tuple_n(m, 0))
_on("TUPLE1")(lambda m: _tuple_n(m, 1))
_on("TUPLE2")(lambda m: _tuple_n(m, 2))
_on("TUPLE3")(lambda m: _tuple_n(m, 3))
_push("TUPLE", lambda m: Tup(m.note(m.pop_mark())))
_push("EMPTY_LIST", lambda m: Lst([]))
_push("LIST", lambda m: Lst(m.note(m.pop_mark())))
_push("EMPTY_DICT", lambda m: Dct())
_push("DICT", _dict)
_push("EMPTY_SET", lambda m: SetV([], frozen=False))
_push("FROZENSET", lambda m: SetV(m.note(m.pop_mark()), frozen=True))


def _into(m: Machine, items: list[Any], kind: str) -> None:
    """APPEND(S), SETITEM(S), ADDITEMS: into a container, or a method call on an object."""
    target = m.top()
    m.note(items)
    if (kind == "list" and type(target) is Lst) or (
        kind == "set" and type(target) is SetV and not target.frozen
    ):
        target.items.extend(items)
    elif kind == "dict" and type(target) in (Dct, Lst):
        for i in range(0, len(items) - 1, 2):
            _setitem(target, items[i], items[i + 1])
        if len(items) % 2:
            raise Fails("odd number of items for SETITEMS")
    elif is_const(target) or type(target) in (Tup, Lst, Dct, SetV):
        raise Fails(f"cannot add items to a {type(target).__name__.lower()}")
    else:
        scan_calls.hand_over(m, items, target)  # the object's own append/__setitem__/add runs


def _setitem(target: Any, key: Any, value: Any) -> None:
    if type(target) is Dct:
        target.map[hashable(key)] = value
    elif type(key) in (int, bool) and -len(target.items) <= key < len(target.items):
        target.items[key] = value  # list[index] = value: pickle allows it
    elif is_const(key) or type(key) in (Tup, Lst, Dct, SetV):
        raise Fails("list assignment index is not a valid index")
    else:
        raise Unknowable("a list item set at a computed index")


_on("APPEND")(lambda m: _into(m, [m.pop()], "list"))
_on("APPENDS")(lambda m: _into(m, m.pop_mark(), "list"))
_on("SETITEM")(lambda m: _into(m, [*reversed([m.pop(), m.pop()])], "dict"))
_on("SETITEMS")(lambda m: _into(m, m.pop_mark(), "dict"))
_on("ADDITEMS")(lambda m: _into(m, m.pop_mark(), "set"))


# -- globals --------------------------------------------------------------------------------


def _global_line(m: Machine, encoding: str) -> str:
    data, long = m.line()
    if long:
        raise Unknowable("a global name longer than the scanner reads")
    text: str = _decode(data[:-1], encoding)
    return text


@_on("GLOBAL")
def _global(m: Machine) -> None:
    module = _global_line(m, "utf-8")
    m.stack.append(m.find_class(module, _global_line(m, "utf-8")))


@_on("STACK_GLOBAL")
def _stack_global(m: Machine) -> None:
    name, module = m.pop(), m.pop()
    if type(name) is str and type(module) is str:
        m.stack.append(m.find_class(module, name))
    elif not_str(name) or not_str(module):
        raise Fails("STACK_GLOBAL requires str")
    else:
        raise Unknowable("STACK_GLOBAL with a module or name computed at load time")


@_on("INST")
def _inst(m: Machine) -> None:
    module = _global_line(m, "ascii")
    klass = m.find_class(module, _global_line(m, "ascii"))
    value = scan_calls.instantiate(m, klass, m.pop_mark())
    m.stack.append(value)


@_on("OBJ")
def _obj(m: Machine) -> None:
    args = m.pop_mark()
    if not args:
        raise Fails("OBJ without a class")
    m.stack.append(scan_calls.instantiate(m, args[0], args[1:]))


def _ext(m: Machine, fmt: str) -> Any:
    code = m.read(fmt)
    if code <= 0:
        raise Fails("EXT specifies code <= 0")
    m.ctx.globals.add(f"<ext:{code}>")
    glob = Glob(f"<ext:{code}>", f"<ext:{code}>")
    glob.wrapper = "unknown"  # an extension code may name any class, a wrapper included
    return glob


_push("EXT1", lambda m: _ext(m, "<B"))
_push("EXT2", lambda m: _ext(m, "<H"))
_push("EXT4", lambda m: _ext(m, "<i"))
_on("REDUCE")(scan_calls.reduce)
_on("NEWOBJ")(scan_calls.newobj)
_on("NEWOBJ_EX")(scan_calls.newobj_ex)
_on("BUILD")(scan_calls.build)
assert set(HANDLERS) == set(NAMES), "every pickle opcode has a handler"
