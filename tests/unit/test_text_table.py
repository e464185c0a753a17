"""report/_table.py draws the tables of the terminal report and ``driftmatrix list`` exactly as
tabulate's ``simple`` format does (without importing it): compared with tabulate itself."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from tabulate import tabulate

from driftmatrix.report._table import table

#: The terminal report's colours and reset.
_COLOURS = ("\033[32m", "\033[33m", "\033[31m", "\033[35m", "\033[1m", "\033[0m")


def drawn_by_tabulate(headers: list[str], rows: list[list[str]]) -> str:
    return tabulate(rows, headers=headers, tablefmt="simple", disable_numparse=True)


_plain = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=14)
_coloured = st.builds(lambda c, t: f"{c}{t}\033[0m", st.sampled_from(_COLOURS), _plain)
#: What tabulate measures its own way (wide and combining characters, line breaks, its
#: separating-line marker, escapes that are not colours): drawn by tabulate itself.
_odd = st.builds(
    lambda odd, t: odd + t,
    st.sampled_from(["×", "中文", "e\u0301", "\n", "a\r\nb", "\x01", "\x1b[2J", "\t"]),
    _plain,
)
_cell = st.one_of(_plain, _plain, _coloured, _odd, st.builds(lambda t: f"  {t} ", _plain))


@st.composite
def tables(draw: st.DrawFn) -> tuple[list[str], list[list[str]]]:
    columns = draw(st.integers(1, 7))
    headers = draw(st.lists(_cell, min_size=columns, max_size=columns))
    rows = draw(st.lists(st.lists(_cell, min_size=columns, max_size=columns), max_size=6))
    return headers, rows


@given(tables())
def test_every_table_is_tabulates_simple_format(drawn: tuple[list[str], list[list[str]]]) -> None:
    headers, rows = drawn
    assert table(headers, rows) == drawn_by_tabulate(headers, rows)


def test_a_coloured_table_of_cells() -> None:
    headers = ["", "cell", "verdict", "seconds"]
    rows = [
        ["*", "py3.10-scikit-learn1.3.2", "\033[32midentical\033[0m", "2.7"],
        ["", "py3.12-scikit-learn1.7.2", "\033[31mpredict-error\033[0m", "cached"],
    ]
    assert table(headers, rows) == drawn_by_tabulate(headers, rows)
    dashes = "--  ------------------------  -------------  ---------"
    assert table(headers, rows).splitlines()[1] == dashes


def test_an_empty_table_is_drawn_by_tabulate() -> None:
    assert table(["cell", "verdict"], []) == drawn_by_tabulate(["cell", "verdict"], [])
