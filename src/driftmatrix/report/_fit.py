"""Making the Markdown report fit where it is pasted: a pull-request comment, a job summary.

GitHub refuses a comment over 65,536 characters (a job summary may hold 1 MiB), so a report of
hundreds of cells must give something up, and it must say what. What stays, in this order: the
outcome and the verdict counts (always); the table rows of the reference and of the cells that
failed, most severe first, then the rest, up to half the budget; then the cells' details in the
same order while they fit. Whatever was left out is counted in one line that points to
results.json, which has every cell.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from driftmatrix.results import CellResult

#: GitHub's comment limit is 65,536 characters; keep a margin for what a bot wraps around it.
GITHUB_LIMIT = 64_000

Table = Callable[[Sequence[str], Sequence[Sequence[str]]], list[str]]


def assemble(
    head: list[str],
    headers: Sequence[str],
    rows: Sequence[tuple[CellResult, list[str]]],
    details: Sequence[list[str]],
    reference: str,
    table: Table,
    limit: int = GITHUB_LIMIT,
) -> list[str]:
    """The report's lines: everything when it fits in ``limit`` characters, else the most
    important parts, in matrix order, with counts of what was left out.

    Args:
        head: The lines before the table of cells (outcome, counts, context).
        headers: The table's column headers.
        rows: Each cell with its table row, in matrix order.
        details: Each cell's details block, in the same order.
        reference: The reference cell's id.
        table: Renders headers and rows as Markdown table lines.
        limit: The budget in characters.
    """
    cells = [cell for cell, _ in rows]
    whole = _lines(head, table(headers, [row for _, row in rows]), [*_flat(details)])
    if _size(whole) <= limit:
        return whole
    order = sorted(range(len(cells)), key=lambda i: _rank(cells[i], reference, i))
    shown: set[int] = set()
    for index in order:
        candidate = sorted(shown | {index})
        if _size(head) + _size(table(headers, [rows[i][1] for i in candidate])) > limit // 2:
            break
        shown.add(index)
    kept_rows = sorted(shown)
    lines_table = table(headers, [rows[i][1] for i in kept_rows])
    if len(kept_rows) < len(rows):
        lines_table += ["", _left_out(len(rows) - len(kept_rows), "rows of this table")]
    budget = limit - _size(head) - _size(lines_table) - 400
    kept_details: list[int] = []
    for index in order:
        cost = _size(details[index])
        if cost > budget:
            continue
        kept_details.append(index)
        budget -= cost
    blocks = [line for i in sorted(kept_details) for line in details[i]]
    if len(kept_details) < len(details):
        blocks += [_left_out(len(details) - len(kept_details), "cells' details"), ""]
    return _lines(head, lines_table, blocks)


def _rank(cell: CellResult, reference: str, index: int) -> tuple[int, int, int]:
    # The reference first, then the most severe verdicts, then matrix order.
    return (0 if cell.id == reference else 1, -cell.verdict.severity, index)


def _lines(head: list[str], table_lines: list[str], details: list[str]) -> list[str]:
    return [*head, "### Cells", "", *table_lines, "", "### Details", "", *details]


def _left_out(count: int, what: str) -> str:
    return f"_{count} {what} left out to fit a GitHub comment; results.json has every cell._"


def _flat(blocks: Sequence[list[str]]) -> list[str]:
    return [line for block in blocks for line in block]


def _size(lines: list[str]) -> int:
    return sum(len(line) + 1 for line in lines)
