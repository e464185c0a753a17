"""Standard-library parts of the runner, in process: errors, warnings, shims, files, equality."""

from __future__ import annotations

import json
import math
import os
import warnings
from pathlib import Path

import pytest

from probes._compat import sklearn_version_fields
from probes._errors import error_info, one_line
from probes._job import ResultFile
from probes._warnings import capture, describe
from probes.roundtrip import same_values


class LibraryMemoryError(MemoryError):
    """Stands for numpy's _ArrayMemoryError: a library subclass of a built-in exception."""


def raised(exc: BaseException) -> BaseException:
    try:
        raise exc
    except BaseException as caught:
        return caught


def ping(level: int) -> None:
    # Two functions calling each other: CPython folds only *identical* repeated frames.
    if level == 0:
        raise ValueError("first line\nsecond line")
    pong(level - 1)


def pong(level: int) -> None:
    ping(level - 1)


def test_error_info_is_one_line_with_a_short_traceback() -> None:
    try:
        ping(40)
    except ValueError as exc:
        info = error_info(exc)
    assert info["type"] == "ValueError"
    assert info["message"] == "first line second line"
    lines = info["traceback"].splitlines()
    assert len(lines) == 20
    assert "earlier traceback lines omitted" in lines[0]
    assert lines[-2:] == ["ValueError: first line", "second line"]
    assert "module" not in info


def test_error_info_names_the_builtin_base_of_library_exceptions() -> None:
    info = error_info(raised(LibraryMemoryError("Unable to allocate 8 EiB")))
    assert info["type"] == "LibraryMemoryError"
    assert info["builtin"] == "MemoryError"
    assert info["module"] == __name__


def test_error_info_messages() -> None:
    assert error_info(raised(SystemExit(3)))["message"] == "sys.exit(3) was called"
    assert error_info(raised(SystemExit("bye")))["message"] == "bye"
    assert len(error_info(raised(ValueError("x" * 2000)))["message"]) == 500
    assert error_info(raised(EOFError()))["message"] == (
        "the data ended early (the file is truncated or empty)"
    )
    assert error_info(raised(RuntimeError()))["message"] == ""

    class Unprintable(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no")

    assert error_info(raised(Unprintable()))["message"] == "<unprintable Unprintable>"
    assert one_line("\n\n  hello  \nworld") == "hello world"


class FakeVersionWarning(UserWarning):
    """Carries the attributes of scikit-learn>=1.3's InconsistentVersionWarning."""

    def __init__(self) -> None:
        super().__init__("version mismatch")
        self.estimator_name = "Ridge"
        self.original_sklearn_version = "1.2.2"
        self.current_sklearn_version = "1.5.2"


def test_capture_records_every_warning_and_merges_repeats() -> None:
    with capture() as caught:
        for _ in range(3):
            warnings.warn("same", RuntimeWarning, stacklevel=1)
        warnings.warn(FakeVersionWarning(), stacklevel=1)
        warnings.warn("old", DeprecationWarning, stacklevel=1)
    described = describe(caught)
    assert described[0] == {
        "category": "RuntimeWarning",
        "module": "builtins",
        "message": "same",
        "count": 3,
    }
    assert described[1]["original_sklearn_version"] == "1.2.2"
    assert described[1]["current_sklearn_version"] == "1.5.2"
    assert described[2]["category"] == "DeprecationWarning"


def test_old_sklearn_version_warning_is_parsed() -> None:
    message = UserWarning(
        "Trying to unpickle estimator LogisticRegression from version 0.24.2 when using "
        "version 1.2.2. This might lead to breaking code or invalid results."
    )
    assert sklearn_version_fields(message, UserWarning) == {
        "estimator_name": "LogisticRegression",
        "original_sklearn_version": "0.24.2",
        "current_sklearn_version": "1.2.2",
    }
    assert sklearn_version_fields(RuntimeWarning("Trying to"), RuntimeWarning) == {}


def test_result_file_is_replaced_atomically(tmp_path: Path) -> None:
    result = ResultFile(str(tmp_path))
    result.write({"n": 1})
    result.write({"values": [math.nan, -math.inf, 0.1], "odd": {1 + 2j, b"\xff"}})
    assert os.listdir(tmp_path) == ["result.json"]
    text = (tmp_path / "result.json").read_text()
    assert "NaN" in text and "-Infinity" in text
    doc = json.loads(text)
    assert doc["values"][2] == 0.1
    assert sorted(map(str, doc["odd"])) == ["[1.0, 2.0]", "\xff"]


def test_failed_write_leaves_no_temp_file(tmp_path: Path) -> None:
    # os.replace onto a non-empty directory fails after the temp file was written.
    (tmp_path / "result.json").mkdir()
    (tmp_path / "result.json" / "keep").write_text("")
    with pytest.raises(OSError):
        ResultFile(str(tmp_path)).write({"n": 2})
    assert os.listdir(tmp_path) == ["result.json"]


@pytest.mark.parametrize(
    ("left", "right", "same"),
    [
        ([1.0, math.nan], [1.0, math.nan], True),
        ([[0.5, 2.0]], [[0.5, 2.0]], True),
        ([0.0], [-0.0], False),
        ([1], [1.0], False),
        ([math.nan, 1.0], [1.0, math.nan], False),
        ([1.0, 2.0], [1.0, 2.0 + 2**-51], False),
        (["a", None], ["a", None], True),
        ([[1.0]], [[1.0], [2.0]], False),
    ],
)
def test_same_values(left, right, same) -> None:
    assert same_values(left, right) is same
