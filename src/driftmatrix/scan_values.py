"""Symbolic values of the scanner's pickle machine, and what it knows of numpy and joblib.

Constants (str, bytes, int, float, bool, None) are plain Python values. Everything else is one of
the classes below; none of them is ever called, imported or executed. The machine only needs to
know values exactly where a wrong guess would make it read different bytes than a loader:
STACK_GLOBAL operands, and the attributes of a joblib array wrapper (shape, dtype, alignment),
which decide how many raw bytes follow it.
"""

from __future__ import annotations

import re
from typing import Any

#: Qualified names (``module.qualname``, as the loader resolves them) of joblib's array wrappers.
NUMPY_WRAPPER = "joblib.numpy_pickle.NumpyArrayWrapper"
SIDE_FILE_WRAPPERS = frozenset(
    {
        "joblib.numpy_pickle.NDArrayWrapper",
        "joblib.numpy_pickle.ZNDArrayWrapper",
        "joblib.numpy_pickle_compat.NDArrayWrapper",
        "joblib.numpy_pickle_compat.ZNDArrayWrapper",
    }
)
_WRAPPER_NAMES = frozenset({"NumpyArrayWrapper", "NDArrayWrapper", "ZNDArrayWrapper"})
#: Where ``numpy.dtype`` is found (numpy 1.x and 2.x pickles both say ``numpy:dtype``).
DTYPE_CLASSES = frozenset(
    f"{module}.dtype"
    for module in (
        "numpy",
        "numpy.core",
        "numpy._core",
        "numpy.core.multiarray",
        "numpy._core.multiarray",
        "numpy.core._multiarray_umath",
        "numpy._core._multiarray_umath",
        "numpy.core.numerictypes",
        "numpy._core.numerictypes",
    )
)
#: ``copyreg`` helpers that create an instance of their first argument without calling it.
RECONSTRUCTOR = "copyreg._reconstructor"
NEW_OBJECT = frozenset({"copyreg.__newobj__", "copyreg.__newobj_ex__"})
OBJECT = "builtins.object"
#: ``NumpyArrayWrapper.__init__``'s parameters (joblib >= 1.2; the last one defaults to 16).
_WRAPPER_INIT = ("subclass", "shape", "order", "dtype", "allow_mmap", "numpy_array_alignment_bytes")
_WRAPPER_DEFAULTS = {"allow_mmap": False, "numpy_array_alignment_bytes": 16}
#: numpy type strings as ``dtype.__reduce__`` writes them: kind and size.
_TYPESTR = re.compile(r"[<>=|]?([biufcOSUVMm])(\d{1,9})")
#: Sizes numpy accepts for fixed-size kinds; anything else is not guessed at.
_SIZES = {
    "b": {1},
    "i": {1, 2, 4, 8},
    "u": {1, 2, 4, 8},
    "f": {2, 4, 8, 12, 16},
    "c": {8, 16, 24, 32},
    "M": {8},
    "m": {8},
    "O": {4, 8},
}


class Fails(Exception):
    """A real loader raises here: nothing after this point runs (the prefix rule)."""


class Unknowable(Exception):
    """The scanner cannot know what a loader would read or run next."""


class Tup:
    """A tuple (its items may be mutable symbolic containers)."""

    __slots__ = ("items",)
    wrapper = ""

    def __init__(self, items: list[Any]) -> None:
        self.items = items


class Lst:
    """A list."""

    __slots__ = ("items",)
    wrapper = ""

    def __init__(self, items: list[Any]) -> None:
        self.items = items


class Dct:
    """A dict; constant keys hash as in Python, symbolic keys by identity."""

    __slots__ = ("map",)
    wrapper = ""

    def __init__(self) -> None:
        self.map: dict[Any, Any] = {}


class SetV:
    """A set or frozenset."""

    __slots__ = ("frozen", "items")
    wrapper = ""

    def __init__(self, items: list[Any], frozen: bool) -> None:
        self.items = items
        self.frozen = frozen


class Glob:
    """A global the stream references, ``name`` as ``module:qualname``."""

    __slots__ = ("dotted", "name", "wrapper")

    def __init__(self, name: str, dotted: str) -> None:
        self.name = name
        self.dotted = dotted
        self.wrapper = wrapper_kind(dotted)


class Obj:
    """An object a loader would create: by calling ``maker`` (``called``) or as its instance.

    Attributes:
        maker: The class or callable (a :class:`Glob`, or anything symbolic).
        called: True when the object is whatever ``maker(...)`` returned (maker may be a function,
            so the type is not known); False when it is an instance of the class ``maker``.
        wrapper: ``numpy``, ``side-file`` or ``like`` for joblib array wrappers, ``unknown`` when
            made by something computed at load time (it could be a wrapper), else "".
        attrs: A ``numpy`` wrapper's instance attributes; None when they cannot be known.
    """

    __slots__ = ("attrs", "called", "maker", "wrapper")

    def __init__(self, maker: Any, called: bool) -> None:
        self.maker = maker
        self.called = called
        if type(maker) is Glob and maker.wrapper != "unknown":
            self.wrapper = "" if called else maker.wrapper
        else:
            self.wrapper = "unknown"  # made by a class or callable computed at load time
        self.attrs: dict[str, Any] | None = {} if self.wrapper == "numpy" else None


class Opaque:
    """A value the scanner does not track (its Python type, when known, in ``kind``)."""

    __slots__ = ("kind",)
    wrapper = ""

    def __init__(self, kind: str) -> None:
        self.kind = kind


class DType:
    """A ``numpy.dtype`` under construction: enough to know ``itemsize`` and ``hasobject``.

    ``why`` says why they cannot be known (only a problem if an array wrapper uses this dtype).
    """

    __slots__ = ("copy", "hasobject", "itemsize", "kind", "why")
    wrapper = ""

    def __init__(self, args: list[Any] | None, kwargs: bool = False) -> None:
        self.kind = ""
        self.itemsize = 0
        self.hasobject = False
        self.copy = False
        self.why = ""
        if args is None or kwargs or not 1 <= len(args) <= 3:
            self.why = "a numpy dtype built from unusual arguments"
            return
        spec = args[0]
        match = _TYPESTR.fullmatch(spec) if type(spec) is str else None
        if match is None:
            self.why = f"a numpy dtype from an unrecognised spec {short(spec)}"
            return
        self.kind, size = match[1], int(match[2])
        if self.kind not in "SUV" and size not in _SIZES[self.kind]:
            self.why = f"a numpy dtype of unknown size {spec!r}"
            return
        copy = args[2] if len(args) == 3 else False
        if not is_const(copy):
            self.why = "a numpy dtype whose copy flag is computed"
            return
        self.copy = bool(copy)
        self.itemsize = size * 4 if self.kind == "U" else size
        self.hasobject = self.kind == "O"

    def setstate(self, state: Any) -> None:
        """``dtype.__setstate__`` (numpy's ``arraydescr_setstate``), for size and object flag."""
        if self.why:
            return
        if not self.copy and self.kind not in "SUV":
            return  # numpy returned its shared builtin dtype, whose setstate ignores the state
        if not self.copy and self.itemsize == 0:
            self.why = "an unsized flexible numpy dtype without copy"
            return
        if type(state) is not Tup or len(state.items) not in (5, 6, 7, 8, 9):
            if type(state) in (Tup, Lst, Dct, SetV) or is_const(state):
                raise Fails("numpy rejects this dtype state")
            self.why = "a numpy dtype whose state is computed"
            return
        items = state.items
        if len(items) < 8 or type(items[0]) is not int or not 3 <= items[0] <= 4:
            if len(items) >= 6 and type(items[0]) is int and not 0 <= items[0] <= 4:
                raise Fails(f"numpy cannot read version {items[0]} dtype state")
            self.why = "an old-format numpy dtype state"
            return
        _, _, subarray, names, fields, elsize, _, flags = items[:8]
        if (names is None) != (fields is None):
            raise Fails("inconsistent fields and names in a numpy dtype state")
        if self.kind in "SUV":
            if type(elsize) is not int or elsize < 0:
                self.why = "a flexible numpy dtype without a plain size"
                return
            self.itemsize = elsize
        if type(flags) is not int:
            self.why = "a numpy dtype whose flags are computed"
            return
        if -128 <= flags < 0:
            flags += 128  # numpy used to store a signed char
        if flags < 0:
            raise Fails("incorrect value for a numpy dtype's flags")
        structural = self._structural(subarray, fields)
        if structural is None:
            self.why = "a numpy dtype whose fields are not plain dtypes"
        elif structural != bool(flags & 1):
            self.why = "a numpy dtype whose object flag disagrees with its fields"
        self.hasobject = bool(flags & 1)

    def _structural(self, subarray: Any, fields: Any) -> bool | None:
        """Whether the dtype holds Python objects, from its parts; None if it cannot be told."""
        parts: list[Any] = []
        if subarray is not None:
            if type(subarray) is not Tup or len(subarray.items) != 2:
                return None
            parts.append(subarray.items[0])
        if fields is not None:
            if type(fields) is not Dct:
                return None
            for value in fields.map.values():
                if type(value) is not Tup or not 2 <= len(value.items) <= 3:
                    return None
                parts.append(value.items[0])
        found = self.kind == "O"
        for part in parts:
            if type(part) is not DType or part.why:
                return None
            found = found or part.hasobject
        return found


def wrapper_kind(dotted: str) -> str:
    """``numpy``, ``side-file`` or ``like`` (looks like one, from elsewhere) for joblib wrappers."""
    if dotted == NUMPY_WRAPPER:
        return "numpy"
    if dotted in SIDE_FILE_WRAPPERS:
        return "side-file"
    return "like" if dotted.rpartition(".")[2] in _WRAPPER_NAMES else ""


def wrapper_ref(value: Any) -> bool:
    """Whether ``value`` is, or may be, a joblib array wrapper or wrapper class."""
    return bool(getattr(value, "wrapper", ""))


def is_const(value: Any) -> bool:
    """A constant whose Python value is known."""
    return value is None or type(value) in (str, bytes, int, float, bool)


def short(value: Any) -> str:
    """A short, one-line description of a value for messages."""
    if is_const(value):
        text = repr(value)
        return text if len(text) <= 40 else text[:37] + "..."
    if type(value) is Glob:
        return value.name
    return type(value).__name__.lower()


def init_wrapper(args: list[Any] | None) -> dict[str, Any] | None:
    """The attributes ``NumpyArrayWrapper(*args)`` sets; None when the call cannot be modelled."""
    if args is None or not 4 <= len(args) <= len(_WRAPPER_INIT):
        return None
    attrs = dict(_WRAPPER_DEFAULTS)
    attrs.update(zip(_WRAPPER_INIT, args, strict=False))
    return attrs


def build_wrapper(attrs: dict[str, Any] | None, state: Any) -> dict[str, Any] | None:
    """Apply BUILD to a wrapper's attributes as ``pickle._Unpickler.load_build`` does.

    The wrapper class has no ``__setstate__``: a dict state updates ``__dict__`` and a
    ``(state, slotstate)`` pair also calls ``setattr``. Returns None when the outcome cannot be
    known (computed keys, dunder names that change how the object behaves).
    """
    if attrs is None or "__setstate__" in attrs:
        return None
    attrs = dict(attrs)
    slots = None
    if type(state) is Tup and len(state.items) == 2:
        state, slots = state.items
    for part, is_slots in ((state, False), (slots, True)):
        if (is_const(part) and not part) or (isinstance(part, (Tup, Lst, SetV)) and not part.items):
            continue  # a falsy state is skipped
        if type(part) is not Dct:
            if is_const(part) or type(part) in (Tup, Lst, SetV):
                raise Fails("BUILD of an array wrapper with a state that is not a dict")
            return None
        for key, value in part.map.items():
            if type(key) is not str:
                if is_const(key):
                    if is_slots:
                        raise Fails("setattr() with a non-string attribute name")
                    continue  # stored in __dict__ under a non-name key: no attribute
                return None
            if key.startswith("__"):
                return None
            attrs[key] = value
    return attrs


def not_str(value: Any) -> bool:
    """Whether ``value`` is surely not an exact ``str`` (as STACK_GLOBAL demands)."""
    if is_const(value):
        return type(value) is not str
    if type(value) in (Tup, Lst, Dct, SetV, Glob, DType):
        return True
    if type(value) is Obj:
        # An instance made by a class's __new__: a str only if the class is str itself.
        maker = value.maker
        return (
            not value.called
            and type(maker) is Glob
            and maker.wrapper != "unknown"
            and maker.dotted != "builtins.str"
        )
    return type(value) is Opaque and value.kind in ("int", "float", "bytes", "bytearray", "ndarray")


def hashable(key: Any) -> Any:
    """``key``, if a dict may hold it (lists, dicts and sets are unhashable)."""
    if type(key) in (Lst, Dct) or (type(key) is SetV and not key.frozen):
        raise Fails("unhashable dict key")
    return key
