"""Calls and BUILD in the symbolic machine, and joblib's array wrappers.

A loader's REDUCE/NEWOBJ/OBJ/INST run code the scanner never runs: they yield symbolic objects.
BUILD matters more: under ``joblib.load`` (``NumpyUnpickler.load_build``), BUILD on a
``NumpyArrayWrapper`` makes joblib read the array's raw bytes straight from the file, outside any
opcode, or a whole nested pickle when the dtype holds objects. The scanner must skip exactly those
bytes, so it models the wrapper's attributes and the dtype; whatever it cannot pin down makes the
file unscannable rather than risk reading different bytes than joblib.

A wrapper could also hide: handed to code (a trusted function may return it) and BUILT later under
another guise, it would make joblib read bytes the scanner thinks are opcodes. Legitimate files
never hand a wrapper to anything, so once one is, every later BUILD is unknowable.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from driftmatrix.scan_stream import FrameView, SeqView
from driftmatrix.scan_values import (
    DTYPE_CLASSES,
    NEW_OBJECT,
    OBJECT,
    RECONSTRUCTOR,
    Dct,
    DType,
    Fails,
    Glob,
    Lst,
    Obj,
    Opaque,
    SetV,
    Tup,
    Unknowable,
    build_wrapper,
    init_wrapper,
    is_const,
    short,
    wrapper_ref,
)

if TYPE_CHECKING:
    from driftmatrix.scan_vm import Machine

#: Values walked when checking whether a wrapper was handed to code, per reading.
MAX_WALK = 20_000_000
_CONTAINERS = (Tup, Lst, Dct, SetV)


def _items(m: Machine, args: Any) -> list[Any] | None:
    """What ``f(*args)`` passes; None when it cannot be known."""
    if type(args) in (Tup, Lst):
        return list(args.items)
    if type(args) is Dct:
        return list(args.map)
    if type(args) in (str, bytes):
        return list(args)
    if is_const(args):
        raise Fails(f"{m.op} arguments are not iterable ({short(args)})")
    return None  # a set's order, or anything computed


def carries_wrapper(m: Machine, value: Any) -> bool:
    """Whether ``value`` is, or contains, a joblib wrapper (instance or class)."""
    if wrapper_ref(value):
        return True
    if not m.wref_in_container or type(value) not in _CONTAINERS:
        return False
    todo, seen = [value], set()
    while todo:
        item = todo.pop()
        if wrapper_ref(item):
            return True
        if type(item) not in _CONTAINERS or id(item) in seen:
            continue
        seen.add(id(item))
        part = [*item.map.keys(), *item.map.values()] if type(item) is Dct else item.items
        m.ctx.walked += len(part)
        if m.ctx.walked > MAX_WALK:
            raise Unknowable("too many values to follow joblib's array wrappers")
        todo.extend(part)
    return False


def hand_over(m: Machine, values: list[Any] | None, target: Any = None) -> None:
    """``values`` are handed to code (a call, a method): note if a wrapper escapes that way."""
    if not m.wrappers or m.escaped:
        return
    if wrapper_ref(target) or (values is not None and any(carries_wrapper(m, v) for v in values)):
        m.escaped = True
    elif values is None and m.wref_in_container:
        m.escaped = True  # unknown arguments might hold a wrapper


def _new(m: Machine, cls: Any, args: list[Any] | None, init: bool) -> Any:
    """``cls(*args)`` (``init``) or ``cls.__new__(cls, *args)``, symbolically."""
    if type(cls) is Glob:
        if cls.dotted in DTYPE_CLASSES:
            return DType(args)
        if cls.wrapper and cls.wrapper != "unknown":
            obj = Obj(cls, called=False)
            if init and cls.wrapper == "numpy":
                obj.attrs = init_wrapper(args)
            hand_over(m, args)
            return obj
    elif is_const(cls) or type(cls) in _CONTAINERS:
        raise Fails(f"{m.op} on {short(cls)}, which is not a class")
    hand_over(m, args, cls)
    return Obj(cls, called=init)


def reduce(m: Machine) -> None:
    """REDUCE: ``func(*args)``."""
    args = m.pop()
    func = m.top()
    items = _items(m, args)
    if type(func) is Glob and (func.dotted == RECONSTRUCTOR or func.dotted in NEW_OBJECT):
        # copyreg helpers make an instance of their first argument without calling it; with
        # _reconstructor(cls, base, state) and a base other than object, base.__init__ runs too,
        # so the instance's attributes cannot be known.
        if not items:
            hand_over(m, items)
            m.stack[-1] = Obj(Opaque("class"), called=False)
            return
        obj = _new(m, items[0], [], init=False)
        hand_over(m, items[1:])
        plain = func.dotted != RECONSTRUCTOR or (
            len(items) == 3 and type(items[1]) is Glob and items[1].dotted == OBJECT
        )
        if type(obj) is Obj and not plain:
            obj.attrs = None
        m.stack[-1] = obj
        return
    m.stack[-1] = _new(m, func, items, init=True)


def newobj(m: Machine) -> None:
    """NEWOBJ: ``cls.__new__(cls, *args)``."""
    args = m.pop()
    cls = m.pop()
    m.stack.append(_new(m, cls, _items(m, args), init=False))


def newobj_ex(m: Machine) -> None:
    """NEWOBJ_EX: ``cls.__new__(cls, *args, **kwargs)``."""
    kwargs = m.pop()
    args = m.pop()
    cls = m.pop()
    items = _items(m, args)
    if type(kwargs) is not Dct or kwargs.map:
        hand_over(m, None if type(kwargs) is not Dct else list(kwargs.map.values()))
        if type(cls) is Glob and cls.dotted in DTYPE_CLASSES:
            m.stack.append(DType(None))
            return
    m.stack.append(_new(m, cls, items, init=False))


def instantiate(m: Machine, klass: Any, args: list[Any]) -> Any:
    """INST/OBJ (``pickle._Unpickler._instantiate``): ``klass(*args)``, or ``__new__`` if none."""
    m.note(args)
    if args or type(klass) is not Glob:
        return _new(m, klass, args, init=True)
    # No arguments: a class gets __new__, a function is called; both are covered by _new
    # with init=False for the wrappers and an unknown result otherwise.
    if klass.wrapper or klass.dotted in DTYPE_CLASSES:
        return _new(m, klass, [], init=False)
    return Obj(klass, called=True)


def build(m: Machine) -> None:
    """BUILD: ``inst.__setstate__(state)`` or a ``__dict__`` update; joblib's arrays follow."""
    state = m.pop()
    inst = m.top()
    if type(inst) is DType:
        inst.setstate(state)
        return
    if is_const(inst) or type(inst) in _CONTAINERS:
        if (is_const(state) and state) or (type(state) in _CONTAINERS and _truthy(state)):
            raise Fails(f"BUILD on a {type(inst).__name__.lower()}, which has no __dict__")
        return
    kind = inst.wrapper if type(inst) is Obj else ""
    if not m.wrappers:
        # pickle.load: an ordinary BUILD; past a joblib wrapper it reads array bytes as opcodes.
        if kind and not m.ctx.wrapper_builds:
            m.ctx.before_wrapper = frozenset(m.ctx.globals)
        m.ctx.wrapper_builds += bool(kind)
        return
    if m.escaped and kind != "numpy":
        raise Unknowable("BUILD after a joblib array wrapper was handed to code")
    if carries_wrapper(m, state):
        raise Unknowable("BUILD puts a joblib array wrapper into an object's state")
    if not kind or (kind == "numpy" and m.wrappers == "compat"):
        return  # an ordinary object (joblib < 0.10 only knows NDArrayWrapper)
    m.ctx.wrapper_builds += 1
    if kind == "side-file":
        raise Unknowable(
            f"{inst.maker.name} makes joblib load the array from a side file with "
            "allow_pickle=True, which this scan cannot see"
        )
    if kind != "numpy":
        what = inst.maker.name if type(inst.maker) is Glob else "a class computed at load time"
        raise Unknowable(f"cannot tell whether {what} is joblib's NumpyArrayWrapper")
    inst.attrs = build_wrapper(inst.attrs, state)
    _read_array(m, inst.attrs)
    m.stack[-1] = Opaque("ndarray")


def _truthy(value: Any) -> bool:
    return bool(value.map) if type(value) is Dct else bool(value.items)


def _count(shape: Any) -> int:
    """``prod(shape)`` as joblib computes it, for an array read as raw bytes."""
    if type(shape) not in (Tup, Lst):
        if is_const(shape) or type(shape) in _CONTAINERS:
            raise Fails(f"an array wrapper's shape {short(shape)} is not a tuple of ints")
        raise Unknowable("an array wrapper's shape is computed at load time")
    count = 1
    for dim in shape.items:
        if type(dim) not in (int, bool):
            if is_const(dim) or type(dim) in _CONTAINERS:
                raise Fails(f"an array wrapper's shape holds {short(dim)}, not an int")
            raise Unknowable("an array wrapper's shape holds a value computed at load time")
        if dim < 0:
            raise Fails("an array wrapper's shape has a negative dimension")
        count *= dim
    if count >= 2**63:
        raise Fails("an array wrapper's size overflows int64")
    return count


def _read_array(m: Machine, attrs: dict[str, Any] | None) -> None:
    """What ``NumpyArrayWrapper.read_array`` reads from the file after BUILD."""
    if attrs is None:
        raise Unknowable("the attributes of a joblib array wrapper cannot be known")
    for name in ("shape", "dtype"):
        if name not in attrs:
            raise Fails(f"the array wrapper has no {name}")
    shape, dtype = attrs["shape"], attrs["dtype"]
    if (is_const(shape) and type(shape) not in (str, bytes)) or type(shape) is Glob:
        raise Fails(f"the array wrapper's shape {short(shape)} has no len()")
    if type(dtype) is not DType:
        if is_const(dtype) or type(dtype) in _CONTAINERS:
            raise Fails(f"the array wrapper's dtype {short(dtype)} is not a numpy dtype")
        raise Unknowable("the dtype of a joblib array wrapper is not a plain numpy dtype")
    if dtype.why:
        raise Unknowable(dtype.why)
    src = m.view.src
    if dtype.hasobject:
        # The array is a whole pickle of its own, read by a plain unpickler on the file.
        view = FrameView(src) if m.reading.nested_python else SeqView(src)
        m.run_nested(view)
        m.ctx.arrays += 1
        return
    count = _count(shape)
    if dtype.itemsize == 0:
        raise Fails("an array of itemsize 0 (joblib divides by it)")
    alignment = attrs.get("numpy_array_alignment_bytes")
    if alignment is not None:
        m.ctx.aligned = True
        if m.reading.padding:
            if not (is_const(alignment) or type(alignment) in _CONTAINERS):
                raise Unknowable("an array wrapper whose alignment may or may not be None")
            padding = src.read(1)
            src.skip(padding[0] if padding else 0)
    size = count * dtype.itemsize
    if src.skip(size) < size:
        raise Fails(f"the data ends at byte {src.pos} (truncated) inside an array's {size} bytes")
    m.ctx.arrays += 1
