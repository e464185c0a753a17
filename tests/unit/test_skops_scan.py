"""skops_scan.py: the host's listing of the types a skops file names, on committed files.

Nothing here loads a skops file or imports skops: an audit hook records every module import
during a scan, and each scan asserts there was none. The corpus in
``tests/data/artifacts/skops`` is committed (``make.py`` there regenerates it; see its README);
``expected.json`` says what each file must give, and what skops' own audit reported for it.
"""

from __future__ import annotations

import encodings.cp437  # noqa: F401  (zipfile decodes member names with it, on first use)
import hashlib
import io
import json
import sys
import time
import tracemalloc
import zipfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from driftmatrix.scan import ScanResult
from driftmatrix.skops_scan import (
    MAX_SCHEMA_BYTES,
    SKOPS_SCANNER_VERSION,
    scan_skops_bytes,
    scan_skops_file,
)

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "data" / "artifacts" / "skops"
EXPECTED: dict[str, dict[str, Any]] = json.loads((CORPUS / "expected.json").read_text())
#: What skops 0.16 writes for a RandomForestClassifier (every node's module:class).
FOREST = (
    "builtins:dict",
    "builtins:list",
    "builtins:str",
    "builtins:tuple",
    "numpy:int64",
    "numpy:ndarray",
    "sklearn.ensemble._forest:RandomForestClassifier",
    "sklearn.tree._classes:DecisionTreeClassifier",
    "sklearn.tree._tree:Tree",
)

_IMPORTS: list[str] = []


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event == "import":
        _IMPORTS.append(str(args[0]))


sys.addaudithook(_audit)


def _scan(name: str) -> ScanResult:
    before = len(_IMPORTS)
    result = scan_skops_file(CORPUS / name)
    assert _IMPORTS[before:] == [], "scanning imported modules"
    return result


def _dotted(names: tuple[str, ...]) -> set[str]:
    return {name.replace(":", ".", 1) for name in names}


def _importable(name: str) -> bool:
    return all(part.isidentifier() for part in name.split("."))


def test_every_corpus_file_has_an_expectation() -> None:
    assert sorted(path.name for path in CORPUS.glob("*.skops")) == sorted(EXPECTED)
    # The recorded skops audit belongs to these exact bytes.
    for name, entry in EXPECTED.items():
        assert hashlib.sha256((CORPUS / name).read_bytes()).hexdigest() == entry["sha256"]
    assert {entry["outcome"] for entry in EXPECTED.values()} == {
        "admitted",
        "rejected",
        "unscannable",
        "load-error",
    }


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_file_scans_as_expected(name: str) -> None:
    expected = EXPECTED[name]
    result = _scan(name)
    assert result.container == "skops"
    assert result.complete is expected["complete"]
    assert result.decidable is (expected["outcome"] != "unscannable")
    assert expected.get("problem", "") in result.problem
    assert "\n" not in result.problem
    assert list(result.globals) == sorted(set(result.globals))
    if not result.complete:
        assert result.globals == ()
        assert result.bytes_scanned == 0
    else:
        assert result.bytes_scanned > 0
        assert result.compression == "zip"
    if expected["outcome"] == "admitted":
        assert result.problem == ""


@pytest.mark.parametrize(
    "name",
    sorted(name for name, entry in EXPECTED.items() if "untrusted" in entry.get("skops", {})),
)
def test_the_listing_holds_every_type_skops_audits(name: str) -> None:
    # skops names a type module + "." + name; a name that is not a dotted identifier cannot be
    # trusted by any pattern, and the host rejects the file whatever its listing says.
    audited = set(EXPECTED[name]["skops"]["untrusted"])
    result = _scan(name)
    if not result.decidable:  # rejected as unscannable: nothing is handed to the loader
        assert EXPECTED[name]["outcome"] == "unscannable"
        return
    assert {n for n in audited if _importable(n)} <= _dotted(result.globals)
    if any(not _importable(n) for n in audited):
        assert EXPECTED[name]["outcome"] == "rejected"


def test_a_real_forest_lists_exactly_its_types() -> None:
    assert _scan("real_forest.skops").globals == FOREST


def test_real_pipelines_list_their_functions_slices_and_generators() -> None:
    assert "numpy:log1p" in _scan("real_log1p.skops").globals
    assert "builtins:slice" in _scan("real_column_transformer.skops").globals
    boosting = _scan("real_hist_gradient_boosting.skops").globals
    for name in (
        "_loss:CyHalfBinomialLoss",
        "sklearn._loss.link:Interval",
        "numpy.random._generator:Generator",
        "numpy.random:PCG64",  # the bit generator skops calls by name
        "sklearn.ensemble._hist_gradient_boosting.predictor:TreePredictor",
    ):
        assert name in boosting


def test_a_bound_method_is_listed_with_a_dotted_qualname() -> None:
    found = _scan("hostile_method_node.skops").globals
    assert "numpy:ndarray.dump" in found
    assert "numpy:ndarray" in found


def test_protocol_0_names_are_read_where_protocol_0_keeps_them() -> None:
    assert "os:system" in _scan("hostile_function_v0.skops").globals
    assert "numpy.random:test" in _scan("hostile_bit_generator_v0.skops").globals


def test_a_zip_bomb_is_refused_before_decompressing() -> None:
    path = CORPUS / "unscannable_zip_bomb.skops"
    assert path.stat().st_size < 1 << 20
    with zipfile.ZipFile(path) as archive:
        assert archive.getinfo("schema.json").file_size > MAX_SCHEMA_BYTES
    tracemalloc.start()
    started = time.monotonic()
    try:
        result = _scan(path.name)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.monotonic() - started < 2
    assert peak < 16 << 20
    assert (result.decidable, result.bytes_scanned) == (False, 0)


def test_json_nested_past_the_parser_is_undecidable_not_a_crash() -> None:
    result = _scan("unscannable_deep_nesting.skops")
    assert (result.complete, result.decidable) == (False, False)
    assert result.problem == "schema.json is nested too deeply to parse here"


def test_a_pickle_is_not_a_skops_file() -> None:
    pickle_file = ROOT / "tests" / "data" / "artifacts" / "hostile" / "hostile_eval.pkl"
    result = scan_skops_file(pickle_file)
    assert (result.complete, result.decidable, result.globals) == (False, True, ())
    assert result.problem.startswith("not a skops file: not a zip archive")
    assert result.compression == "none"


def test_the_scanner_version_is_a_positive_integer() -> None:
    assert isinstance(SKOPS_SCANNER_VERSION, int) and SKOPS_SCANNER_VERSION >= 1


def test_a_missing_file_raises_oserror(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        scan_skops_file(tmp_path / "absent.skops")


# -- properties: arbitrary input never crashes the host, and no named type is dropped ----------


def _zipped(schema: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("schema.json", schema)
    return buffer.getvalue()


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["__module__", "__class__", "__loader__", "content", "x"]), inner
        )
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    result = scan_skops_bytes(data)
    assert result.globals == () and not result.complete


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(["__module__", "__class__", "content", "a"]), _JSON))
def test_arbitrary_schemas_list_every_string_pair(tree: dict[str, Any]) -> None:
    result = scan_skops_bytes(_zipped(json.dumps(tree).encode()))
    assert result.complete and result.decidable
    stack: list[Any] = [tree]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            module, cls = (value.get(key) for key in ("__module__", "__class__"))
            if all(isinstance(part, str) and part.isidentifier() for part in (module, cls)):
                assert f"{module}:{cls}" in result.globals
            if "__module__" in value or "__class__" in value:
                assert any(":" in name for name in result.globals)
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
