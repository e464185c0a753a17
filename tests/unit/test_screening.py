"""screening.py: the run's decision from the scan, on committed files (nothing is loaded)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from driftmatrix.screening import Screening, screen
from driftmatrix.spec import DEFAULT_TRUSTED

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
