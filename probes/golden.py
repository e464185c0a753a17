"""The golden dataset: a CSV file read with the standard library only.

Reading is deliberately simple and identical in every cell, so that two cells always feed the
model the same values: a column is numeric when every non-empty cell is a decimal number (or
``nan``/``inf``), and then becomes floats with empty cells as NaN; any other column stays
strings with empty cells as None. The id, tag and target columns are never features.
"""

from __future__ import annotations

import csv
import math
import re

# Stricter than float(): float() also accepts "1_000" and surrounding blanks, which would turn a
# category code such as "1_0" into the number 10.0.
_NUMBER = re.compile(
    r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|nan|inf|infinity)\Z", re.IGNORECASE
)


class Golden:
    """A golden dataset, column-wise.

    Attributes:
        columns: Feature column names in file order (id, tag and target removed).
        values: Column name → list of cell values (floats for numeric columns, strings or None
            for the others), in row order.
        numeric: Column name → True when the column is numeric.
        row_ids: One id per row, as strings ("1", "2", ... when the file has no id column).
        tags: One tag per row ("" when the file has no tag column).
    """

    def __init__(self, columns, values, numeric, row_ids, tags) -> None:
        self.columns = columns
        self.values = values
        self.numeric = numeric
        self.row_ids = row_ids
        self.tags = tags

    @property
    def rows(self) -> int:
        """Number of data rows."""
        return len(self.row_ids)


def parse_number(text: str):
    """Return ``text`` as a float, None for an empty cell, or raise ValueError if not a number."""
    if text == "":
        return None
    if not _NUMBER.match(text):
        raise ValueError("not a number: {!r}".format(text))
    return float(text)


def read_golden(path: str, target=None, id_column=None, tag_column=None) -> Golden:
    """Read a golden CSV file.

    Args:
        path: The CSV file (UTF-8, with or without a byte-order mark; first row is the header).
        target: Label column, never a feature. None, or a name absent from the file, is allowed.
        id_column: Column with row ids; absent → ids "1".."n".
        tag_column: Column with row tags; absent → empty tags.

    Returns:
        The dataset.

    Raises:
        ValueError: The file has no header, no data rows, duplicate column names or a row whose
            length differs from the header.
        OSError: The file cannot be read.
    """
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if not header:
            raise ValueError("the golden file {} has no header row".format(path))
        _check_unique(header)
        rows = []
        for row in reader:
            if not row:
                continue  # csv yields [] for a blank line; it is not a data row
            if len(row) != len(header):
                raise ValueError(
                    "line {} of {} has {} cells but the header has {}".format(
                        reader.line_num, path, len(row), len(header)
                    )
                )
            rows.append(row)
    if not rows:
        raise ValueError("the golden file {} has no data rows".format(path))

    index = {name: position for position, name in enumerate(header)}
    roles = {target, id_column, tag_column}
    columns = [name for name in header if name not in roles]
    values = {}
    numeric = {}
    for name in columns:
        cells = [row[index[name]] for row in rows]
        parsed = _as_numbers(cells)
        numeric[name] = parsed is not None
        values[name] = parsed if parsed is not None else [cell if cell else None for cell in cells]
    if id_column in index:
        row_ids = [row[index[id_column]] for row in rows]
    else:
        row_ids = [str(number) for number in range(1, len(rows) + 1)]
    tags = [row[index[tag_column]] for row in rows] if tag_column in index else [""] * len(rows)
    return Golden(columns, values, numeric, row_ids, tags)


def _as_numbers(cells):
    """Return the cells as floats (NaN for empty ones), or None if any cell is not a number."""
    numbers = []
    for cell in cells:
        try:
            number = parse_number(cell)
        except ValueError:
            return None
        numbers.append(math.nan if number is None else number)
    return numbers


def _check_unique(header) -> None:
    seen = set()
    for name in header:
        if name in seen:
            raise ValueError("the golden file has two columns named {!r}".format(name))
        seen.add(name)
