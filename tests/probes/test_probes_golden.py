"""probes/golden.py, in process: it is standard library only and loads no artifact."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from probes.golden import parse_number, read_golden


def write(tmp_path: Path, text: str, name: str = "golden.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8", newline="")
    return path


def test_roles_numbers_strings_and_empty_cells(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "row_id,age,city,tag,default\n"
        "r1,31.5,Paris,,0\n"
        "r2,,,missing-value,1\n"
        'r3,1e3,"Lyon, FR",edge,0\n',
    )
    golden = read_golden(path, target="default", id_column="row_id", tag_column="tag")
    assert golden.columns == ["age", "city"]
    assert golden.numeric == {"age": True, "city": False}
    age = golden.values["age"]
    assert age[0] == 31.5 and math.isnan(age[1]) and age[2] == 1000.0
    assert golden.values["city"] == ["Paris", None, "Lyon, FR"]
    assert golden.row_ids == ["r1", "r2", "r3"]
    assert golden.tags == ["", "missing-value", "edge"]
    assert golden.rows == 3


def test_absent_roles_default(tmp_path: Path) -> None:
    path = write(tmp_path, "a,b\n1,2\n3,4\n")
    golden = read_golden(path, target="y", id_column="row_id", tag_column=None)
    assert golden.columns == ["a", "b"]
    assert golden.row_ids == ["1", "2"]
    assert golden.tags == ["", ""]


def test_floats_round_trip_exactly(tmp_path: Path) -> None:
    values = [0.1, 1 / 3, 5e-324, 1.7976931348623157e308, -0.0]
    path = write(tmp_path, "x\n" + "".join(repr(v) + "\n" for v in values))
    parsed = read_golden(path).values["x"]
    assert [v.hex() for v in parsed] == [v.hex() for v in values]


def test_non_finite_and_strict_numbers() -> None:
    assert math.isnan(parse_number("NaN"))
    assert parse_number("-inf") == -math.inf
    assert parse_number("+Infinity") == math.inf
    assert parse_number(".5") == 0.5
    assert parse_number("") is None
    for text in ("1_000", " 1", "0x10", "1,5", "e5", "abc"):
        with pytest.raises(ValueError):
            parse_number(text)


def test_one_non_number_makes_a_string_column(tmp_path: Path) -> None:
    path = write(tmp_path, "code,n\n10,1\n1_0,2\n,3\n")
    golden = read_golden(path)
    assert golden.numeric == {"code": False, "n": True}
    assert golden.values["code"] == ["10", "1_0", None]


def test_byte_order_mark_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffrow_id,x\r\nr1,1\r\n\r\nr2,2\r\n".encode())
    golden = read_golden(path, id_column="row_id")
    assert golden.columns == ["x"]
    assert golden.row_ids == ["r1", "r2"]


def test_all_empty_column_is_numeric_nan(tmp_path: Path) -> None:
    golden = read_golden(write(tmp_path, "x,y\n,1\n,2\n"))
    assert golden.numeric["x"] is True
    assert all(math.isnan(v) for v in golden.values["x"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no header"),
        ("a,b\n", "no data rows"),
        ("a,a\n1,2\n", "two columns named 'a'"),
        ("a,b\n1,2\n3\n", "line 3"),
    ],
    ids=["empty", "header-only", "duplicate", "ragged"],
)
def test_malformed_files(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        read_golden(write(tmp_path, text))
