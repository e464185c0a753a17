"""Regenerate the scanner's test corpus (benign and hostile pickle/joblib files) in this folder.

Run with any Python 3.10+: ``python3 tests/data/artifacts/hostile/make.py``. Unless scikit-learn
1.5.2 is importable, it builds an isolated environment with uv (Python 3.11, scikit-learn 1.5.2,
numpy 1.26.4, joblib) and re-runs itself there. It writes every file and README.md (with each
file's sha256). Tests only read the committed files; they never run this.

Nothing harmful is executed: hostile files are either written opcode by opcode, or pickled from
objects whose ``__reduce__`` *returns* a dangerous call (pickling never calls it).
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import struct
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PYTHON = "/root/.pyenv/versions/3.11.7/bin/python3.11"
PINS = ("scikit-learn==1.5.2", "numpy==1.26.4", "joblib")
ECHO = "echo pwned"
#: name -> how it was made (README); filled by write().
MADE: dict[str, str] = {}


# -- a tiny pickle assembler (protocol 4 opcodes unless said otherwise) -----------------------


def sbu(text: str) -> bytes:
    """SHORT_BINUNICODE."""
    data = text.encode()
    return b"\x8c" + bytes([len(data)]) + data


def stack_global(module: str, name: str) -> bytes:
    """STACK_GLOBAL from two strings."""
    return sbu(module) + sbu(name) + b"\x93"


def binint(value: int) -> bytes:
    """BININT."""
    return b"J" + struct.pack("<i", value)


def os_system_p0() -> bytes:
    """Protocol 0 text opcodes for os.system("echo pwned"), leaving the stack as it was."""
    return b"cos\nsystem\n(S'" + ECHO.encode() + b"'\ntR0"


def dtype(spec: str, endian: str, elsize: int, alignment: int, flags: int) -> bytes:
    """numpy.dtype(spec, False, True) with its version 3 state, as numpy pickles it."""
    state = b"(K\x03" + sbu(endian) + b"NNN" + binint(elsize) + binint(alignment)
    state += b"K" + bytes([flags]) + b"t"
    return stack_global("numpy", "dtype") + sbu(spec) + b"\x89\x88\x87R" + state + b"b"


def wrapper(dtype_ops: bytes, count: int, alignment: bool) -> bytes:
    """A joblib NumpyArrayWrapper of shape (count,), built as joblib pickles it (BUILD last)."""
    state = b"}(" + sbu("subclass") + stack_global("numpy", "ndarray")
    state += sbu("shape") + b"K" + bytes([count]) + b"\x85" + sbu("order") + sbu("C")
    state += sbu("dtype") + dtype_ops + sbu("allow_mmap") + b"\x89"
    if alignment:
        state += sbu("numpy_array_alignment_bytes") + b"K\x10"
    return stack_global("joblib.numpy_pickle", "NumpyArrayWrapper") + b")\x81" + state + b"ub"


def hidden_in_frame(payload: bytes) -> bytes:
    """An object array's pickle, then ``payload`` after its STOP but inside its FRAME."""
    import numpy as np

    body = pickle.dumps(np.array([None], dtype=object), protocol=2)[2:]  # PROTO dropped
    return b"\x80\x04\x95" + struct.pack("<Q", len(body) + len(payload)) + body + payload


def balanced(payload: bytes, size: int) -> bytes:
    """``payload`` preceded by stack-neutral filler (NONE POP / BININT1 POP) to ``size`` bytes."""
    filler = size - len(payload)
    assert filler >= 0 and filler != 1
    units = b""
    if filler % 2:
        units, filler = b"K\x000", filler - 3
    return units + b"N0" * (filler // 2) + payload


# -- objects whose pickles reference dangerous callables ---------------------------------------


class Call:
    """Pickles as ``func(*args)``: pickling references func, and never calls it."""

    def __init__(self, func: Any, *args: Any) -> None:
        self.func, self.args = func, args

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return self.func, self.args


def write(name: str, data: bytes, how: str) -> None:
    """Write one corpus file and remember how it was made."""
    (HERE / name).write_bytes(data)
    MADE[name] = how


def joblib_bytes(value: Any, **kwargs: Any) -> bytes:
    """joblib.dump into bytes (through a real file: joblib aligns arrays on file offsets)."""
    import joblib

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.joblib"
        joblib.dump(value, path, **kwargs)
        return path.read_bytes()


def benign(tree: Any, labelled: Any) -> None:
    """Ordinary artifacts: every compressor and protocol, the arrays joblib special-cases."""
    import numpy as np

    for method in ("zlib", "gzip", "bz2", "xz", "lzma"):
        write(
            f"benign_tree_{method}.joblib",
            joblib_bytes(tree, compress=(method, 3)),
            f"`joblib.dump(tree, compress=({method!r}, 3))`",
        )
    write("benign_tree_compress9.joblib", joblib_bytes(tree, compress=9), "`compress=9` (zlib)")
    for protocol in range(6):
        write(
            f"benign_tree_p{protocol}.pkl",
            pickle.dumps(tree, protocol=protocol),
            f"`pickle.dumps(tree, protocol={protocol})`",
        )
    for protocol in (0, 2, 5):
        write(
            f"benign_tree_p{protocol}.joblib",
            joblib_bytes(tree, protocol=protocol),
            f"`joblib.dump(tree, protocol={protocol})`",
        )
    write(
        "benign_string_classes.joblib",
        joblib_bytes(labelled),
        "a tree fitted on string labels: `classes_` is an object array (a nested pickle)",
    )
    arrays = {
        "zero_d": np.array(3.5),
        "fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3)),
        "empty": np.zeros((0, 3)),
        "structured": np.array([(1.5, 2)], dtype=[("x", "<f8"), ("y", "<i2")]),
        "structured_object": np.array([(1, "a")], dtype=[("i", "<i4"), ("o", "O")]),
        "subarray": np.zeros(2, dtype=[("v", "<f8", (3,))]),
        "bool": np.array([True, False]),
        "complex": np.array([1 + 2j]),
        "datetime": np.array(["2024-01-01"], dtype="datetime64[ns]"),
        "unicode": np.array(["abc", "de"]),
        "bytes": np.array([b"ab"], dtype="S3"),
        "half": np.arange(3, dtype=np.float16),
        "big_endian": np.arange(3, dtype=">i4"),
        # zeros: np.arange would leave the 80-bit long double's padding bytes uninitialised
        "longdouble": np.zeros(2, dtype=np.longdouble),
        "objects": np.array([None, "x", 3], dtype=object),
    }
    write(
        "benign_arrays.joblib",
        joblib_bytes(arrays),
        "a dict of arrays: 0-d, Fortran order, empty, structured (with and without an object "
        "field), subarray, bool, complex, datetime64, unicode, bytes, float16, big-endian, "
        "longdouble, object",
    )
    write(
        "benign_arrays_p2.joblib",
        joblib_bytes(arrays, protocol=2),
        "the same dict, `protocol=2`",
    )
    from joblib.numpy_pickle_compat import write_zfile

    zf = io.BytesIO()
    write_zfile(zf, pickle.dumps({"coef": [1.0, 2.0]}, protocol=2))
    write("benign_zf.joblib", zf.getvalue(), 'joblib < 0.10 "ZF" file (`write_zfile`) of a dict')


def hostile_objects(fit: Any) -> None:
    """Dangerous calls pickled from objects (the files reference them; nothing ran).

    ``fit()`` makes a fresh fitted tree (a deep copy would carry uninitialised padding bytes of
    the tree's node structs, and the files would differ from run to run).
    """
    import importlib
    import runpy
    import subprocess as sp

    import numpy as np

    calls = {
        "posix_system.pkl": (Call(os.system, ECHO), "os.system (pickled as posix.system)"),
        "exec.pkl": (Call(exec, "print('pwned')"), "builtins.exec"),
        "eval.pkl": (Call(eval, "print('pwned')"), "builtins.eval"),
        "import_module.pkl": (
            Call(getattr, Call(importlib.import_module, "os"), "system"),
            "getattr(importlib.import_module('os'), 'system')",
        ),
        "subprocess_popen.pkl": (Call(sp.Popen, ["echo", "pwned"]), "subprocess.Popen"),
        "runpy_run_code.pkl": (Call(runpy._run_code, "print('pwned')", {}), "runpy._run_code"),
    }
    for name, (call, what) in calls.items():
        write(f"hostile_{name}", pickle.dumps(call, protocol=4), f"`pickle.dumps` of a {what} call")
    evil = fit()
    evil.extra_ = [{"hook": (Call(os.system, ECHO),)}]
    write(
        "hostile_in_state.joblib",
        joblib_bytes(evil),
        "a fitted tree with `extra_ = [{'hook': (os.system call,)}]` in its state",
    )
    write(
        "hostile_zlib.joblib",
        joblib_bytes(evil, compress=3),
        "hostile_in_state.joblib's tree, `joblib.dump(..., compress=3)` (zlib)",
    )
    write(
        "hostile_appended.joblib",
        joblib_bytes(fit()) + pickle.dumps(Call(os.system, ECHO), protocol=4),
        "a valid tree, then a second pickle (os.system) after its STOP",
    )
    evil = fit()
    evil.extra_ = np.array([Call(os.system, ECHO), 1], dtype=object)
    write(
        "hostile_object_array.joblib",
        joblib_bytes(evil),
        "a tree with an object array attribute holding the call (joblib's nested pickle)",
    )
    write(
        "hostile_after_array.joblib",
        joblib_bytes({"weights": np.arange(64.0), "hook": Call(os.system, ECHO)}),
        "the call right after a float array's raw bytes",
    )


def hostile_opcodes() -> None:
    """Hostile files written opcode by opcode."""
    call = b"(" + sbu(ECHO) + b"tR"
    getattr_chain = (
        b"\x80\x04"
        + stack_global("builtins", "getattr")
        + stack_global("builtins", "__import__")
        + sbu("os")
        + b"\x85R"
        + sbu("system")
        + b"\x86R"
        + call
        + b"."
    )
    write("hostile_getattr_chain.pkl", getattr_chain, "getattr(__import__('os'), 'system')(...)")
    memo = b"\x80\x04" + sbu("os") + b"\x94" + sbu("system") + b"\x94" + b"00"  # memoized
    memo += b"h\x00h\x01\x93" + call + b"."
    write("hostile_memo_stack_global.pkl", memo, "STACK_GLOBAL whose strings come from BINGET")
    write("hostile_os_system_global_p0.pkl", os_system_p0()[:-1] + b".", "protocol 0 GLOBAL")
    inst = b"(S'" + ECHO.encode() + b"'\nios\nsystem\n."
    write("hostile_inst_p0.pkl", inst, "protocol 0 INST os.system")
    write("hostile_ext.pkl", b"\x80\x02\x82\x01" + call + b".", "EXT1 code 1, then called")
    computed = b"\x80\x04" + stack_global("builtins", "str") + b"(C\x02os" + sbu("ascii")
    computed += b"tR" + sbu("system") + b"\x93" + call + b"."
    write(
        "hostile_computed_global.pkl",
        computed,
        "STACK_GLOBAL whose module is str(b'os', 'ascii'): undecidable",
    )
    dotted = b"\x80\x04" + stack_global("numpy", "os.system") + call + b"."
    write("hostile_dotted_qualname.pkl", dotted, "protocol 4 qualname numpy:os.system")
    wrapfunc = b"\x80\x04" + stack_global("numpy.core.fromnumeric", "_wrapfunc")
    wrapfunc += b"(" + stack_global("numpy.core.overrides", "os") + sbu("system") + sbu(ECHO)
    wrapfunc += b"tR."
    write("hostile_wrapfunc.pkl", wrapfunc, "numpy's _wrapfunc(module os, 'system', ...)")
    npload = b"\x80\x04" + stack_global("numpy", "load") + b"(" + sbu("/tmp/x.npy") + b"N\x88tR."
    write("hostile_numpy_load.pkl", npload, "numpy.load(path, None, True): allow_pickle")
    u1 = dtype("u1", "|", -1, -1, 0)
    o8 = dtype("O8", "|", -1, -1, 63)
    # joblib < 1.2 reads no padding: it takes the padding byte as the array's first byte and
    # then runs the array's last 65 bytes as opcodes. joblib >= 1.2 skips them all.
    data = bytes(135) + balanced(os_system_p0(), 65)
    old = b"\x80\x04" + wrapper(u1, 200, True) + bytes([64]) + b"\xff" * 64 + data + b"."
    write("hostile_old_joblib.joblib", old, "a payload only joblib < 1.2 runs (no padding)")
    plain = b"\x80\x04" + wrapper(u1, 40, False) + balanced(os_system_p0(), 40) + b"."
    write(
        "hostile_array_bytes_as_opcodes.pkl",
        plain,
        "a joblib array whose raw bytes are opcodes to pickle.load: joblib never runs them; the "
        "scan reports a joblib container, which a pickle cell must refuse",
    )
    nested = b"\x80\x04" + wrapper(o8, 1, True) + hidden_in_frame(os_system_p0()) + b"."
    write(
        "hostile_nested_frame.joblib",
        nested,
        "an object array's nested pickle with bytes after STOP in its frame: joblib >= 1.5 "
        "skips them, joblib 1.2-1.4 (pickle.load) runs them",
    )
    side = b"\x80\x04" + stack_global("joblib.numpy_pickle_compat", "NDArrayWrapper") + b")\x81"
    side += b"}(" + sbu("filename") + sbu("evil.npy") + sbu("subclass")
    side += stack_global("numpy", "ndarray") + b"ub."
    write("hostile_side_file.joblib", side, "NDArrayWrapper: joblib loads a side file")
    escape = b"\x80\x04" + stack_global("sklearn.utils", "_safe_indexing") + b"(]("
    escape += stack_global("joblib.numpy_pickle", "NumpyArrayWrapper") + b")\x81" + b"eK\x00tR"
    escape += b"}b."
    write(
        "hostile_wrapper_escape.joblib",
        escape,
        "a wrapper handed to a function, then BUILT: undecidable",
    )


def others() -> None:
    """Files that are not pickles at all."""
    import numpy as np

    buffer = io.BytesIO()
    np.save(buffer, np.arange(4))
    write("not_pickle.npy", buffer.getvalue(), "`numpy.save` of an int array")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(zipfile.ZipInfo("model.txt", (2024, 1, 1, 0, 0, 0)), "not a model")
    write("not_pickle.zip", buffer.getvalue(), "a zip archive")
    write("not_pickle.txt", b"hello, this is text\n", "a text file")


def readme() -> None:
    """README.md: how each file was made, with its sha256."""
    import joblib
    import numpy
    import sklearn

    rows = [
        f"| `{name}` | {how} | `{hashlib.sha256((HERE / name).read_bytes()).hexdigest()}` |"
        for name, how in sorted(MADE.items())
    ]
    versions = (
        f"Python {sys.version.split()[0]}, scikit-learn {sklearn.__version__}, "
        f"numpy {numpy.__version__}, joblib {joblib.__version__}"
    )
    text = f"""# Scanner corpus: benign and hostile pickle/joblib files

Inputs of `tests/unit/test_scan.py` and `tests/unit/test_trust.py`, committed; tests only read
them (the host never unpickles anything). Regenerate with

```sh
python3 tests/data/artifacts/hostile/make.py
```

which builds an isolated uv environment and writes every file and this README
({versions}).
`tree` is `DecisionTreeClassifier(max_depth=2, random_state=0)` fitted on 40 random rows of 3
features. Files named `benign_*` are ordinary artifacts (every compressor joblib supports, every
pickle protocol, the array layouts joblib writes specially); `hostile_*` ones must be caught
(the dangerous global reported, or the file undecidable: `EXPECTED` in test_scan.py);
`not_pickle.*` are other formats. Corrupted variants of the demo model are made by the tests
themselves (truncations, bit flips), from `artifacts/demo/model.joblib`. Hostile files call
`os.system("echo pwned")` (or similar) when *loaded*; making them runs nothing: they are
written opcode by opcode, or pickled from objects whose `__reduce__` returns the call.

| file | how it was made | sha256 |
|---|---|---|
""" + "\n".join(rows)
    (HERE / "README.md").write_text(text + "\n", encoding="utf-8")


def main() -> int:
    """Build the corpus (in the pinned environment, re-running there if needed)."""
    try:
        import sklearn
    except ImportError:
        sklearn = None
    if sklearn is None or sklearn.__version__ != "1.5.2":
        with tempfile.TemporaryDirectory() as tmp:
            env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
            subprocess.run(["uv", "venv", "-q", "-p", PYTHON, tmp], check=True, env=env)
            python = str(Path(tmp) / "bin" / "python")
            subprocess.run(["uv", "pip", "install", "-q", "-p", python, *PINS], check=True)
            return subprocess.run([python, __file__], check=False).returncode
    import numpy as np
    from sklearn.tree import DecisionTreeClassifier

    rng = np.random.RandomState(0)
    features = rng.normal(size=(40, 3))
    labels = (features[:, 0] > 0).astype(int)

    def fit() -> Any:
        return DecisionTreeClassifier(max_depth=2, random_state=0).fit(features, labels)

    tree = fit()
    labelled = DecisionTreeClassifier(max_depth=2, random_state=0).fit(
        features, np.array(["cat", "dog"], dtype=object)[labels]
    )
    for stale in HERE.iterdir():
        if stale.suffix in (".pkl", ".joblib", ".npy", ".zip", ".txt"):
            stale.unlink()
    benign(tree, labelled)
    hostile_objects(fit)
    hostile_opcodes()
    others()
    readme()
    return 0


if __name__ == "__main__":
    sys.exit(main())
