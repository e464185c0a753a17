"""screening.py: the run's decision from the scan, on committed files (nothing is loaded)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from driftmatrix.scan import SCANNER_VERSION
from driftmatrix.screening import NOT_SCANNED, SCANNED_FORMATS, Screening, screen
from driftmatrix.skops_scan import SKOPS_SCANNER_VERSION
from driftmatrix.spec import DEFAULT_TRUSTED
from driftmatrix.trust import untrusted

HOSTILE = Path(__file__).resolve().parents[1] / "data" / "artifacts" / "hostile"


def _screen(name: str, fmt: str, cache: Path) -> Screening:
    path = HOSTILE / name
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return screen(path, fmt, digest, DEFAULT_TRUSTED, (), cache)


def test_a_benign_joblib_model_is_admitted(tmp_path: Path) -> None:
    assert _screen("benign_tree_zlib.joblib", "joblib", tmp_path).rejection == ()


def test_a_joblib_file_declared_a_plain_pickle_is_rejected(tmp_path: Path) -> None:
    # pickle.load would run its raw array bytes as opcodes: not what the scan read.
    screening = _screen("benign_tree_zlib.joblib", "pickle", tmp_path)
    assert screening.decidable is False
    assert screening.rejection and 'set format = "joblib"' in screening.rejection[0]
    payload = _screen("hostile_array_bytes_as_opcodes.pkl", "pickle", tmp_path)
    assert payload.rejection


def test_scans_are_cached_by_content(tmp_path: Path) -> None:
    first = _screen("hostile_zlib.joblib", "joblib", tmp_path)
    assert len(list((tmp_path / "scans").glob("*.json"))) == 1
    assert _screen("hostile_zlib.joblib", "joblib", tmp_path) == first
    assert "posix:system" in first.rejection


# -- skops ---------------------------------------------------------------------------------------

SKOPS = HOSTILE.parent / "skops"
SKOPS_EXPECTED: dict[str, dict[str, Any]] = json.loads((SKOPS / "expected.json").read_text())


def _screen_skops(name: str, cache: Path, trusted_sha256: tuple[str, ...] = ()) -> Screening:
    path = SKOPS / name
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return screen(path, "skops", digest, DEFAULT_TRUSTED, trusted_sha256, cache)


@pytest.mark.parametrize("name", sorted(SKOPS_EXPECTED))
def test_each_skops_file_is_screened_as_expected(name: str, tmp_path: Path) -> None:
    expected = SKOPS_EXPECTED[name]
    screening = _screen_skops(name, tmp_path)
    assert screening.scanned
    outcome = expected["outcome"]
    if outcome == "rejected":
        assert screening.rejection == tuple(expected["untrusted"])
    elif outcome == "unscannable":
        assert len(screening.rejection) == 1
        assert screening.rejection[0].startswith("<unscannable: ")
    else:  # admitted, or left to the cell's skops, which cannot read it either
        assert screening.rejection == ()
    if outcome == "admitted":
        # Every type skops' audit would refuse by default is handed to its loader as trusted.
        assert set(expected["skops"]["untrusted"]) <= set(screening.trusted_types)


def test_trusted_types_are_the_dotted_names_of_the_trusted_globals(tmp_path: Path) -> None:
    assert _screen_skops("real_forest.skops", tmp_path).trusted_types == (
        "builtins.dict",
        "builtins.list",
        "builtins.str",
        "builtins.tuple",
        "numpy.int64",
        "numpy.ndarray",
        "sklearn.ensemble._forest.RandomForestClassifier",
        "sklearn.tree._classes.DecisionTreeClassifier",
        "sklearn.tree._tree.Tree",
    )


def test_untrusted_types_are_never_handed_to_the_loader(tmp_path: Path) -> None:
    screening = _screen_skops("hostile_os_system.skops", tmp_path)
    assert screening.rejection == ("os:system",)
    assert "os.system" not in screening.trusted_types
    assert "sklearn.pipeline.Pipeline" in screening.trusted_types


def test_a_file_trusted_by_hash_hands_every_type_to_the_loader(tmp_path: Path) -> None:
    digest = hashlib.sha256((SKOPS / "hostile_method_node.skops").read_bytes()).hexdigest()
    screening = _screen_skops("hostile_method_node.skops", tmp_path, (digest.upper(),))
    assert screening.rejection == ()
    assert screening.untrusted == ("numpy:ndarray.dump",)
    assert "numpy.ndarray.dump" in screening.trusted_types


def test_a_pickle_has_no_trusted_types_beyond_its_globals(tmp_path: Path) -> None:
    screening = _screen("benign_tree_zlib.joblib", "joblib", tmp_path)
    assert set(screening.trusted_types) == {n.replace(":", ".") for n in screening.globals}
    assert NOT_SCANNED.trusted_types == ()


def test_builtin_containers_are_trusted_in_skops_files_only(tmp_path: Path) -> None:
    assert "builtins:dict" in _screen_skops("real_forest.skops", tmp_path).globals
    pickle_rules = untrusted(["builtins:dict", "builtins:list"], DEFAULT_TRUSTED)
    assert pickle_rules == ("builtins:dict", "builtins:list")


def test_the_same_bytes_scanned_as_pickle_and_as_skops_never_share_a_cache_entry(
    tmp_path: Path,
) -> None:
    path = SKOPS / "real_log1p.skops"
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    as_skops = screen(path, "skops", digest, DEFAULT_TRUSTED, (), tmp_path)
    as_pickle = screen(path, "pickle", digest, DEFAULT_TRUSTED, (), tmp_path)
    entries = sorted(entry.name for entry in (tmp_path / "scans").glob("*.json"))
    assert entries == [
        f"{digest}-pickle-v{SCANNER_VERSION}.json",
        f"{digest}-skops-v{SKOPS_SCANNER_VERSION}.json",
    ]
    assert as_skops.rejection == () and as_pickle.globals != as_skops.globals
    # Read back from the cache, each gives the same screening again.
    assert screen(path, "skops", digest, DEFAULT_TRUSTED, (), tmp_path) == as_skops
    assert screen(path, "pickle", digest, DEFAULT_TRUSTED, (), tmp_path) == as_pickle


def test_skops_is_a_scanned_format() -> None:
    assert "skops" in SCANNED_FORMATS
