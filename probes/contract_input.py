"""The contract probe's inputs: the golden set as the model sees it, and the bad variants of it.

The contract is derived from the golden set, column by column, in the form the predict probe
fed it (:func:`predict.build_input`): the fitted columns of a DataFrame when the estimator has
``feature_names_in_`` and pandas imports, otherwise the golden feature columns of a 2-D array.
Each case changes one thing about that table and is rendered back the same way, so that the
only difference from the golden input is the change the case names. Every choice (which column,
which row, which value) is fixed by the golden set alone: two runs feed identical inputs.
"""

from __future__ import annotations

from .predict import fitted_feature_names

#: Rows of the large batch at most (the golden rows repeated).
LARGE_ROWS = 50000
#: Input size budget of the large batch, 8 bytes per cell (a float64, or an object pointer: the
#: repeated rows share their string objects). Measured in a scikit-learn 1.5.2 cell: after its
#: imports a cell holds ~145 MiB; predict + predict_proba of a 100-tree forest on a 38 MiB input
#: peaked 57 MiB above that, a ColumnTransformer pipeline on a 7-column 50,000-row frame 15 MiB.
#: 4 MiB leaves pipelines room for a dozen copies of their input inside a 256 MiB cell: the
#: contract probe must not be what gets a cell killed by its memory limit.
LARGE_INPUT_BYTES = 4 * 1024 * 1024
#: What goes into a numeric column in the wrong-dtype case.
WRONG_TEXT = "not-a-number"
#: Columns and categories described in the probe record (the counts are always exact).
MAX_DESCRIBED_COLUMNS = 50
MAX_DESCRIBED_CATEGORIES = 20


class Table:
    """A model input as columns: what every case changes before it is rendered.

    Attributes:
        kind: ``"dataframe"`` or ``"array"``, as the predict probe fed the model.
        names: Column names, in input order.
        columns: One numpy array per column (float64 for numeric columns, object otherwise).
        numeric: One bool per column.
    """

    def __init__(self, kind, names, columns, numeric) -> None:
        self.kind = kind
        self.names = names
        self.columns = columns
        self.numeric = numeric

    @property
    def rows(self) -> int:
        """Number of rows."""
        return len(self.columns[0]) if self.columns else 0

    def replace(self, names=None, columns=None, numeric=None) -> Table:
        """A copy with some parts replaced (the columns themselves are shared, not copied)."""
        return Table(
            self.kind,
            list(self.names if names is None else names),
            list(self.columns if columns is None else columns),
            list(self.numeric if numeric is None else numeric),
        )

    def with_cell(self, position: int, value, numeric: bool) -> Table:
        """A copy whose column ``position`` has ``value`` in its first row."""
        import numpy

        column = self.columns[position]
        changed = column.astype(numpy.float64 if numeric else object, copy=True)
        changed[0] = value
        columns = list(self.columns)
        columns[position] = changed
        flags = list(self.numeric)
        flags[position] = numeric
        return self.replace(columns=columns, numeric=flags)

    def take(self, rows: int) -> Table:
        """A copy with exactly ``rows`` rows: the first ones, or the rows repeated in order."""
        import numpy

        return self.replace(columns=[numpy.resize(column, rows) for column in self.columns])

    def render(self):
        """The model input: a DataFrame or a 2-D array, built as the predict probe builds it."""
        import numpy

        if self.kind == "dataframe":
            import pandas

            # An explicit dtype per column, as in predict: pandas>=3 would infer its own strings.
            series = {
                name: pandas.Series(column, dtype=column.dtype)
                for name, column in zip(self.names, self.columns)  # noqa: B905 (3.8+)
            }
            return pandas.DataFrame(series, columns=self.names)
        dtype = numpy.float64 if all(self.numeric) else object
        features = numpy.empty((self.rows, len(self.columns)), dtype=dtype)
        for position, column in enumerate(self.columns):
            features[:, position] = column
        return features


def golden_table(estimator, golden, input_kind: str) -> Table:
    """The golden set as the predict probe fed it to ``estimator``.

    Args:
        estimator: The loaded model.
        golden: The golden set (``golden.Golden``).
        input_kind: What the predict probe recorded as ``input`` (``dataframe`` or ``array``).
    """
    import numpy

    names = fitted_feature_names(estimator) if input_kind == "dataframe" else None
    names = names or list(golden.columns)
    columns = []
    for name in names:
        values = golden.values[name]
        if golden.numeric[name]:
            columns.append(numpy.asarray(values, dtype=numpy.float64))
        else:
            # Filled element by element: asarray(list_of_str) would make a fixed-width array.
            column = numpy.empty(len(values), dtype=object)
            column[:] = values
            columns.append(column)
    return Table(input_kind, names, columns, [golden.numeric[name] for name in names])


def describe(table: Table) -> dict:
    """The contract as the golden set shows it: each column's kind, range, categories, gaps."""
    described = []
    for position in range(min(len(table.names), MAX_DESCRIBED_COLUMNS)):
        name, column = table.names[position], table.columns[position]
        numeric = table.numeric[position]
        entry = {"name": name, "kind": "numeric" if numeric else "categorical"}
        entry["missing"] = _has_missing(column, numeric)
        if numeric:
            present = column[column == column]  # NaN is the only value unequal to itself
            entry["min"] = float(present.min()) if len(present) else None
            entry["max"] = float(present.max()) if len(present) else None
        else:
            categories = _categories(column)
            entry["categories"] = categories[:MAX_DESCRIBED_CATEGORIES]
            entry["categories_total"] = len(categories)
        described.append(entry)
    return {
        "total": len(table.names),
        "numeric": sum(1 for flag in table.numeric if flag),
        "categorical": sum(1 for flag in table.numeric if not flag),
        "described": described,
    }


def large_rows(table: Table) -> int:
    """Rows of the large batch: up to :data:`LARGE_ROWS`, within :data:`LARGE_INPUT_BYTES`."""
    width = max(1, len(table.columns))
    return max(1, min(LARGE_ROWS, LARGE_INPUT_BYTES // (8 * width)))


# --- the cases: each returns (table, change) or (None, reason why it does not apply) -----------


def missing_column(table: Table):
    """The last column dropped (for an array: one feature fewer)."""
    if not table.names:
        return None, "the model input has no columns"
    last = len(table.names) - 1
    change = "dropped column {!r} (the last of {})".format(table.names[last], len(table.names))
    return (
        table.replace(
            names=table.names[:last], columns=table.columns[:last], numeric=table.numeric[:last]
        ),
        change,
    )


def extra_column(table: Table):
    """A column the model never saw, all zeros, added at the end (array: one feature more)."""
    import numpy

    name = "driftmatrix_extra"
    while name in table.names:
        name += "_"
    column = numpy.zeros(table.rows, dtype=numpy.float64)
    change = "added column {!r} (all 0.0)".format(name)
    return (
        table.replace(
            names=[*table.names, name],
            columns=[*table.columns, column],
            numeric=[*table.numeric, True],
        ),
        change,
    )


def wrong_dtype(table: Table):
    """Text in the first row of the first numeric column (which becomes an object column)."""
    position = _first(table, lambda i: table.numeric[i])
    if position is None:
        return None, "the golden set has no numeric column"
    change = "{!r} in row 1 of numeric column {!r}".format(WRONG_TEXT, table.names[position])
    return table.with_cell(position, WRONG_TEXT, numeric=False), change


def unseen_missing(table: Table):
    """A missing value in the first row of the first column that has none in the golden set.

    Numeric columns first (NaN), then categorical ones (None, as an empty golden cell reads).
    """
    for numeric, value in ((True, float("nan")), (False, None)):
        position = _first(
            table,
            lambda i, numeric=numeric: (
                table.numeric[i] == numeric and not _has_missing(table.columns[i], numeric)
            ),
        )
        if position is not None:
            change = "{} in row 1 of column {!r}, which has none in the golden set".format(
                "NaN" if numeric else "None", table.names[position]
            )
            return table.with_cell(position, value, numeric=numeric), change
    return None, "every column already has missing values in the golden set"


def unseen_category(table: Table):
    """A category the golden set never shows, in the first row of the first categorical column."""
    position = _first(table, lambda i: not table.numeric[i])
    if position is None:
        return None, "the golden set has no categorical (non-numeric) column"
    seen = set(_categories(table.columns[position]))
    value = "driftmatrix-unseen"
    while value in seen:
        value += "_"
    change = "{!r} in row 1 of column {!r}".format(value, table.names[position])
    return table.with_cell(position, value, numeric=False), change


def empty_batch(table: Table):
    """No rows at all, every column kept."""
    return table.take(0), "0 rows"


def single_row(table: Table):
    """The first golden row alone."""
    return table.take(1), "the first golden row alone"


def large_batch(table: Table):
    """The golden rows repeated in order up to :func:`large_rows` rows."""
    rows = large_rows(table)
    if rows <= table.rows:
        return None, (
            "the golden set already has {} rows, as many as the large batch may have ({} for "
            "{} columns)".format(table.rows, rows, len(table.columns))
        )
    return table.take(rows), "the {} golden rows repeated to {} rows".format(table.rows, rows)


#: The cases, in the order they run (the riskiest, the large batch, last).
CASES = (
    ("missing-column", missing_column),
    ("extra-column", extra_column),
    ("wrong-dtype", wrong_dtype),
    ("unseen-missing", unseen_missing),
    ("unseen-category", unseen_category),
    ("empty-batch", empty_batch),
    ("single-row", single_row),
    ("large-batch", large_batch),
)


def _first(table: Table, wanted):
    for position in range(len(table.columns)):
        if wanted(position):
            return position
    return None


def _has_missing(column, numeric: bool) -> bool:
    if numeric:
        return bool((column != column).any())  # NaN is the only value unequal to itself
    return any(value is None for value in column)


def _categories(column) -> list:
    return sorted({str(value) for value in column if value is not None})
