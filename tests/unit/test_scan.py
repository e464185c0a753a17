"""scan.py: the static scanner finds every global, on real, benign, hostile and broken files.

Nothing here unpickles: an audit hook records every ``pickle.find_class`` of this process, and
each test asserts there was none. The corpus in ``tests/data/artifacts/hostile`` is committed
(``make.py`` there regenerates it; see its README).
"""

from __future__ import annotations

import io
import pickle
import pickletools
import random
import struct
import sys
import time
import tracemalloc
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from driftmatrix import scan_stream
from driftmatrix.scan import SCANNER_VERSION, ScanResult, scan_bytes, scan_file
from driftmatrix.spec import DEFAULT_TRUSTED
from driftmatrix.trust import BASELINE, untrusted

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "data" / "artifacts" / "hostile"
DEMO = ROOT / "artifacts" / "demo" / "model.joblib"
VERSIONS = sorted((ROOT / "tests" / "data" / "versions").glob("*/*.joblib"))
BENIGN = sorted(CORPUS.glob("benign_*"))
HOSTILE = sorted(CORPUS.glob("hostile_*"))
DEMO_GLOBALS = (
    "joblib.numpy_pickle:NumpyArrayWrapper",
    "numpy.core.multiarray:scalar",
    "numpy:dtype",
    "numpy:ndarray",
    "sklearn.ensemble._forest:ExtraTreesClassifier",
    "sklearn.tree._classes:ExtraTreeClassifier",
    "sklearn.tree._tree:Tree",
)
#: Each hostile file: the dangerous global it must report, None when it must be undecidable, or
#: JOBLIB_ONLY: a joblib container whose payload only pickle.load would run (the caller refuses
#: to pickle.load a joblib container).
JOBLIB_ONLY = "container:joblib"
EXPECTED: dict[str, str | None] = {
    "hostile_after_array.joblib": "posix:system",
    "hostile_appended.joblib": "posix:system",
    "hostile_array_bytes_as_opcodes.pkl": JOBLIB_ONLY,
    "hostile_computed_global.pkl": None,
    "hostile_dotted_qualname.pkl": "numpy:os.system",
    "hostile_eval.pkl": "builtins:eval",
    "hostile_exec.pkl": "builtins:exec",
    "hostile_ext.pkl": "<ext:1>",
    "hostile_getattr_chain.pkl": "builtins:getattr",
    "hostile_import_module.pkl": "importlib:import_module",
    "hostile_in_state.joblib": "posix:system",
    "hostile_inst_p0.pkl": "os:system",
    "hostile_memo_stack_global.pkl": "os:system",
    "hostile_nested_frame.joblib": "os:system",
    "hostile_numpy_load.pkl": "numpy:load",
    "hostile_object_array.joblib": "posix:system",
    "hostile_old_joblib.joblib": "os:system",
    "hostile_os_system_global_p0.pkl": "os:system",
    "hostile_posix_system.pkl": "posix:system",
    "hostile_runpy_run_code.pkl": "runpy:_run_code",
    "hostile_side_file.joblib": None,
    "hostile_subprocess_popen.pkl": "subprocess:Popen",
    "hostile_wrapfunc.pkl": "numpy.core.fromnumeric:_wrapfunc",
    "hostile_wrapper_escape.joblib": None,
    "hostile_zlib.joblib": "posix:system",
}

_FIND_CLASS: list[tuple[Any, ...]] = []


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event == "pickle.find_class":
        _FIND_CLASS.append(args)


sys.addaudithook(_audit)


@pytest.fixture(autouse=True)
def _never_unpickles() -> Iterator[None]:
    before = len(_FIND_CLASS)
    yield
    assert _FIND_CLASS[before:] == [], "the host process looked up a pickled global"


def well_formed(result: ScanResult) -> ScanResult:
    """Invariants of every result."""
    assert list(result.globals) == sorted(set(result.globals))
    assert "\n" not in result.problem and "\r" not in result.problem
    assert result.compression in ("none", "zlib", "gzip", "bz2", "xz", "lzma", "lz4")
    assert result.container in ("pickle", "joblib")
    assert result.bytes_scanned >= 0
    assert "scanner error" not in result.problem
    if not result.decidable or not result.complete:
        assert result.problem
    return result


# -- a tiny assembler for edge cases ----------------------------------------------------------


def sbu(text: str) -> bytes:
    data = text.encode()
    return b"\x8c" + bytes([len(data)]) + data


def glob(module: str, name: str) -> bytes:
    return sbu(module) + sbu(name) + b"\x93"


def dtype(spec: str, state: bytes | None = None, copy: bool = True) -> bytes:
    """numpy.dtype(spec, False, copy), then BUILD with ``state`` (default: a simple dtype)."""
    if state is None:
        state = b"(K\x03" + sbu("<") + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00t"
    return (
        glob("numpy", "dtype")
        + sbu(spec)
        + b"\x89"
        + (b"\x88" if copy else b"\x89")
        + (b"\x87R" + state + b"b")
    )


def wrapper(shape: bytes, dtype_ops: bytes, alignment: bytes | None = b"K\x10") -> bytes:
    """PROTO 4 and a NumpyArrayWrapper BUILD; ``shape`` is the opcodes pushing the shape."""
    state = b"}(" + sbu("subclass") + glob("numpy", "ndarray") + sbu("shape") + shape
    state += sbu("order") + sbu("F") + sbu("dtype") + dtype_ops
    if alignment is not None:
        state += sbu("numpy_array_alignment_bytes") + alignment
    return b"\x80\x04" + glob("joblib.numpy_pickle", "NumpyArrayWrapper") + b")\x81" + state + b"ub"


def tuple_of(*dims: int) -> bytes:
    return b"(" + b"".join(b"J" + struct.pack("<i", d) for d in dims) + b"t"


def padded(size: int, padding: int = 3) -> bytes:
    return bytes([padding]) + b"\xff" * padding + bytes(size)


# -- real artifacts ----------------------------------------------------------------------------


def test_the_demo_model_scans_to_exactly_its_globals() -> None:
    result = well_formed(scan_file(DEMO))
    assert result == ScanResult(
        globals=DEMO_GLOBALS,
        complete=True,
        decidable=True,
        problem="",
        container="joblib",
        compression="none",
        bytes_scanned=DEMO.stat().st_size,
    )
    assert untrusted(result.globals, DEFAULT_TRUSTED) == ()


@pytest.mark.parametrize("path", VERSIONS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_real_artifacts_from_several_releases_scan_completely(path: Path) -> None:
    result = well_formed(scan_file(path))
    assert (result.complete, result.decidable, result.problem) == (True, True, "")
    # Every array skipped exactly: the walk ends on the file's last byte.
    assert result.bytes_scanned == path.stat().st_size
    assert result.container == "joblib"
    assert all(
        g.startswith(("sklearn.", "numpy")) or "NumpyArrayWrapper" in g for g in result.globals
    )
    assert untrusted(result.globals, DEFAULT_TRUSTED) == ()


@pytest.mark.parametrize("path", BENIGN, ids=lambda p: p.name)
def test_benign_corpus_is_complete_and_trusted(path: Path) -> None:
    result = well_formed(scan_file(path))
    assert (result.complete, result.decidable, result.problem) == (True, True, "")
    assert untrusted(result.globals, DEFAULT_TRUSTED) == ()
    method = path.stem.rsplit("_", 1)[-1]
    if method in ("zlib", "gzip", "bz2", "xz", "lzma"):
        assert result.compression == method
    if path.suffix == ".joblib" and "_zf" not in path.name:
        assert result.container == "joblib"


def test_every_compressor_yields_the_same_walk() -> None:
    results = {scan_file(p) for p in CORPUS.glob("benign_tree_*.joblib") if "_p" not in p.name}
    assert len({(r.globals, r.bytes_scanned) for r in results}) == 1
    assert {r.compression for r in results} == {"zlib", "gzip", "bz2", "xz", "lzma"}


def test_an_object_array_is_a_nested_pickle_that_is_scanned() -> None:
    result = scan_file(CORPUS / "benign_string_classes.joblib")
    assert "numpy.core.multiarray:_reconstruct" in result.globals  # only in the nested pickle
    arrays = scan_file(CORPUS / "benign_arrays.joblib")
    assert arrays.bytes_scanned == (CORPUS / "benign_arrays.joblib").stat().st_size


def test_protocol_2_and_older_names_are_reported_as_the_loader_maps_them() -> None:
    result = scan_file(CORPUS / "benign_tree_p0.pkl")
    assert "copyreg:_reconstructor" in result.globals
    assert not any(g.startswith(("copy_reg:", "__builtin__:")) for g in result.globals)
    assert all(g in BASELINE or g.startswith(("numpy", "sklearn")) for g in result.globals)


def test_a_zf_file_of_old_joblib_is_decompressed() -> None:
    result = scan_file(CORPUS / "benign_zf.joblib")
    assert (result.complete, result.compression, result.container) == (True, "zlib", "joblib")
    broken = scan_bytes(b"ZFnot-a-number-here" + bytes(20))
    assert (broken.complete, broken.decidable) == (False, True)


# -- hostile corpus ----------------------------------------------------------------------------


def test_the_expectations_cover_the_whole_hostile_corpus() -> None:
    assert sorted(EXPECTED) == [p.name for p in HOSTILE]


@pytest.mark.parametrize("path", HOSTILE, ids=lambda p: p.name)
def test_every_hostile_file_is_caught(path: Path) -> None:
    result = well_formed(scan_file(path))
    expected = EXPECTED[path.name]
    if expected is None:
        assert not result.decidable
    elif expected == JOBLIB_ONLY:
        assert (result.container, result.complete, result.decidable) == ("joblib", True, True)
    else:
        assert expected in result.globals
        assert expected in untrusted(result.globals, DEFAULT_TRUSTED)


def test_a_payload_after_stop_is_reported_and_named() -> None:
    result = scan_file(CORPUS / "hostile_appended.joblib")
    assert result.complete and result.decidable
    assert "1 more pickle(s)" in result.problem


def test_trailing_pickles_are_scanned_up_to_a_limit() -> None:
    many = b"".join(pickle.dumps(n, protocol=2) for n in range(70))
    result = well_formed(scan_bytes(many + b"cos\nsystem\n."))
    assert "64 more pickle(s)" in result.problem and "more, not scanned" in result.problem
    junk = well_formed(scan_bytes(pickle.dumps(1) + b"cos\nsystem\n\x00"))
    assert "os:system" in junk.globals  # referenced before the junk stops parsing
    assert "data that is not a pickle" in junk.problem


def test_pickle_load_past_a_wrapper_counts_unless_the_file_is_a_joblib_container() -> None:
    payload = b"cos\nsystem\n(S'x'\ntR0"  # runs only where array bytes are read as opcodes
    body = wrapper(tuple_of(len(payload)), dtype("u1"), None)[2:] + payload + b"."
    # A joblib container: joblib skips the payload; pickle.load is not how it is loaded.
    container = well_formed(scan_bytes(b"\x80\x04" + body))
    assert container.container == "joblib" and "os:system" not in container.globals
    # Not a container for joblib (it fails early: an opcode straddles the end of a FRAME, which
    # only pickle._Unpickler rejects), but pickle.load reads on and runs the payload.
    framed = b"\x80\x04\x95" + struct.pack("<Q", 5) + body
    result = well_formed(scan_bytes(framed))
    assert (result.container, result.complete) == ("pickle", False)
    assert "os:system" in result.globals


def test_undecidable_files_say_why() -> None:
    assert "computed" in scan_file(CORPUS / "hostile_computed_global.pkl").problem
    assert "side file" in scan_file(CORPUS / "hostile_side_file.joblib").problem
    assert "handed to code" in scan_file(CORPUS / "hostile_wrapper_escape.joblib").problem


# -- the joblib array layout, byte for byte ---------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "itemsize"),
    [("f8", 8), ("i4", 4), ("u1", 1), ("b1", 1), ("c16", 16), ("M8", 8), ("m8", 8), ("f2", 2)],
)
def test_array_bytes_are_skipped_by_dtype_and_shape(spec: str, itemsize: int) -> None:
    head = wrapper(tuple_of(2, 3), dtype(spec))
    data = head + padded(6 * itemsize) + b"."
    result = well_formed(scan_bytes(data))
    assert (result.complete, result.bytes_scanned, result.container) == (True, len(data), "joblib")
    short = well_formed(scan_bytes(data[:-2]))
    assert (short.complete, short.decidable) == (False, True)
    assert "inside an array's" in short.problem


def test_flexible_dtypes_take_their_size_from_the_state() -> None:
    state = b"(K\x03" + sbu("|") + b"NNNJ\x0c\x00\x00\x00J\x04\x00\x00\x00K\x08t"
    data = wrapper(tuple_of(5), dtype("U3", state)) + padded(5 * 12) + b"."
    assert scan_bytes(data).bytes_scanned == len(data)


def test_zero_d_and_empty_arrays() -> None:
    zero_d = wrapper(b")", dtype("f8")) + padded(8) + b"."
    assert scan_bytes(zero_d).complete
    empty = wrapper(tuple_of(0, 4), dtype("f8")) + padded(0) + b"."
    assert scan_bytes(empty).bytes_scanned == len(empty)


def test_no_padding_without_an_alignment_or_with_none() -> None:
    for alignment in (None, b"N"):
        data = wrapper(tuple_of(4), dtype("u1"), alignment) + bytes(4) + b"."
        assert scan_bytes(data).bytes_scanned == len(data)


@pytest.mark.parametrize(
    ("shape", "words"),
    [
        (tuple_of(-1), "negative"),
        (b"(G@\x04\x00\x00\x00\x00\x00\x00t", "not an int"),
        (b"K\x05", "has no len()"),
        (tuple_of(2**31 - 1, 2**31 - 1, 2**31 - 1), "overflows"),
    ],
)
def test_impossible_shapes_make_the_loader_fail(shape: bytes, words: str) -> None:
    result = well_formed(scan_bytes(wrapper(shape, dtype("f8")) + bytes(64) + b"."))
    assert (result.complete, result.decidable) == (False, True)
    assert words in result.problem


@pytest.mark.parametrize(
    "dtype_ops",
    [
        dtype("float64"),  # a spec numpy pickles never use
        dtype("f3"),
        dtype("f8", b"(K\x03" + sbu("<") + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x01t"),
        dtype("O8", b"(K\x03" + sbu("|") + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00t"),
        glob("builtins", "str") + b"(" + sbu("x") + b"tR",  # not a dtype object
    ],
    ids=["name-spec", "bad-size", "flags-say-object", "object-without-flag", "computed"],
)
def test_a_dtype_that_cannot_be_pinned_down_is_undecidable(dtype_ops: bytes) -> None:
    result = well_formed(scan_bytes(wrapper(tuple_of(2), dtype_ops) + bytes(64) + b"."))
    assert not result.decidable


def test_a_computed_shape_or_alignment_is_undecidable() -> None:
    computed = glob("builtins", "int") + b"(" + sbu("3") + b"tR"
    assert not scan_bytes(wrapper(b"(" + computed + b"t", dtype("f8")) + b".").decidable
    assert not scan_bytes(wrapper(tuple_of(1), dtype("f8"), computed) + b".").decidable


def test_itemsize_zero_fails_like_joblib() -> None:
    state = b"(K\x03" + sbu("|") + b"NNNJ\x00\x00\x00\x00J\x01\x00\x00\x00K\x00t"
    result = scan_bytes(wrapper(tuple_of(3), dtype("V0", state)) + padded(0) + b".")
    assert (result.complete, result.decidable) == (False, True)


# -- broken files ------------------------------------------------------------------------------


def test_truncations_follow_the_prefix_rule() -> None:
    data = DEMO.read_bytes()
    full = set(scan_bytes(data).globals)
    previous: set[str] = set()
    for size in [*range(0, 1200, 7), *range(1200, len(data), 997), len(data) - 1]:
        result = well_formed(scan_bytes(data[:size]))
        assert (result.complete, result.decidable) == (False, True), size
        assert "truncated" in result.problem
        assert previous <= set(result.globals) <= full  # a longer prefix never sees less
        previous = set(result.globals)


def test_truncation_mid_opcode_and_mid_array() -> None:
    data = DEMO.read_bytes()
    assert "inside SHORT_BINUNICODE" in scan_bytes(data[:20]).problem
    assert "inside an array's" in scan_bytes(data[:5000]).problem


def _opcode_positions(data: bytes) -> list[int]:
    """Where the opcodes of the demo's leading pickle text are (genops only parses)."""
    positions = []
    try:
        for _, _, position in pickletools.genops(data):
            positions.append(position)
    except ValueError:
        pass
    return positions


def test_bit_flips_in_opcodes_never_raise() -> None:
    data = DEMO.read_bytes()
    for position in _opcode_positions(data)[:200]:
        for bit in (0, 3, 6):
            broken = bytearray(data)
            broken[position] ^= 1 << bit
            well_formed(scan_bytes(bytes(broken)))


@pytest.mark.parametrize(
    "name", ["not_pickle.npy", "not_pickle.zip", "not_pickle.txt"], ids=lambda n: n
)
def test_files_that_are_not_pickles(name: str) -> None:
    result = well_formed(scan_file(CORPUS / name))
    assert (result.complete, result.decidable, result.globals) == (False, True, ())


def test_empty_and_random_data() -> None:
    empty = well_formed(scan_bytes(b""))
    assert (empty.complete, empty.decidable, empty.globals) == (False, True, ())
    assert empty.problem == "the data ends at byte 0 (truncated) before STOP"
    rng = random.Random(7)
    for _ in range(300):
        well_formed(scan_bytes(bytes(rng.randrange(256) for _ in range(rng.randrange(400)))))


def test_lz4_cannot_be_scanned() -> None:
    result = well_formed(scan_bytes(b"\x04\x22\x4d\x18" + bytes(40)))
    assert (result.decidable, result.compression) == (False, "lz4")
    assert "lz4" in result.problem


@pytest.mark.parametrize(("name", "wbits"), [("zlib", 15), ("gzip", 31)])
def test_streamed_decompression_yields_what_joblib_reads(name: str, wbits: int) -> None:
    # Bounded output per call must not lose what zlib still holds when the input ends early.
    rng = random.Random(3)
    for _ in range(12):
        raw = bytes(rng.choices(b"abc", k=rng.randrange(1, 150_000)))
        packer = zlib.compressobj(rng.randint(1, 9), zlib.DEFLATED, wbits)
        packed = packer.compress(raw) + packer.flush()
        cut = packed[: rng.randrange(len(packed) + 1)]
        streamed = b"".join(scan_stream.chunks(io.BytesIO(cut), name))
        assert streamed == zlib.decompressobj(wbits).decompress(cut)


def test_an_unreadable_path_raises() -> None:
    with pytest.raises(OSError):
        scan_file(CORPUS / "no-such-file.joblib")


def test_corrupt_compressed_data_stops_the_scan() -> None:
    data = bytearray((CORPUS / "benign_tree_zlib.joblib").read_bytes())
    data[len(data) // 2] ^= 0xFF
    result = well_formed(scan_bytes(bytes(data)))
    assert (result.complete, result.decidable) == (False, True)


# -- plain pickles of every protocol -----------------------------------------------------------

PLAIN = {
    "text": ["é", "a\nb", "x" * 5000],
    "numbers": [0, -1, 255, 65536, -(2**31), 2**100, -(2**70), 1.5, float("inf")],
    "bytes": [b"", b"\x00\xff", b"y" * 70000, bytearray(b"ba")],
    "containers": [(), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), [], {}, {1: 2}, {3}, frozenset({4})],
    "flags": [None, True, False],
}


@pytest.mark.parametrize("protocol", range(6))
def test_plain_data_of_every_protocol_is_walked_exactly(protocol: int) -> None:
    value = [PLAIN, PLAIN]  # the second one is memo references
    data = pickle.dumps(value, protocol=protocol)
    result = well_formed(scan_bytes(data))
    assert (result.complete, result.problem, result.bytes_scanned) == (True, "", len(data))
    assert set(result.globals) <= set(BASELINE)


def test_an_invalid_escape_in_a_protocol_0_string_only_warns_the_loader() -> None:
    result = well_formed(scan_bytes(b"S'\\q'\n."))  # escape_decode warns; pytest errors on it
    assert (result.complete, result.problem) == (True, "")


@pytest.mark.parametrize(
    ("operand", "decidable"),
    [
        (b"K\x01", True),  # an int: the loader fails ("STACK_GLOBAL requires str")
        (glob("sklearn.base", "BaseEstimator") + b")\x81", True),  # an instance of a class
        (glob("builtins", "str") + b")\x81", False),  # str.__new__(str) is a str
        (glob("sklearn.utils", "f") + b")R", False),  # whatever a function returns
    ],
)
def test_stack_global_operands_are_typed(operand: bytes, decidable: bool) -> None:
    result = well_formed(scan_bytes(b"\x80\x04" + operand + sbu("system") + b"\x93."))
    assert (result.complete, result.decidable) == (False, decidable)


def test_oversized_payloads_are_skipped_not_kept() -> None:
    data = b"\x80\x04\x8e" + struct.pack("<Q", 50_000_000) + bytes(50_000_000) + b"."
    tracemalloc.start()
    try:
        result = scan_bytes(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.complete and peak < 8 * 1024**2


def test_a_compression_bomb_costs_bounded_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    # 64 MiB of array bytes compress to ~64 KiB; skipping them holds a chunk at a time.
    data = zlib.compress(wrapper(tuple_of(64 * 1024**2), dtype("u1")) + padded(64 * 1024**2))
    tracemalloc.start()
    try:
        result = scan_bytes(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.compression == "zlib" and "truncated" in result.problem
    assert peak < 16 * 1024**2
    monkeypatch.setattr(scan_stream, "MAX_DECOMPRESSED", 1024**2)
    capped = well_formed(scan_bytes(data))
    assert not capped.decidable and "decompresses beyond" in capped.problem


def test_scanner_version_is_an_int() -> None:
    assert isinstance(SCANNER_VERSION, int) and SCANNER_VERSION >= 1


# -- fuzzing -----------------------------------------------------------------------------------

SOURCES = [DEMO, *BENIGN, *HOSTILE]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=3000))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    started = time.monotonic()
    well_formed(scan_bytes(data))
    assert time.monotonic() - started < 10


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_artifacts_never_raise(data: st.DataObject) -> None:
    source = bytearray(data.draw(st.sampled_from(SOURCES)).read_bytes())
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(source) - 1))
        source[position] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        source = source[: data.draw(st.integers(0, len(source)))]
    started = time.monotonic()
    well_formed(scan_bytes(bytes(source)))
    assert time.monotonic() - started < 10
