"""The producer × consumer grid as a table: rows produce, columns consume.

Columns are numbered (cell ids are long) and a legend maps each number to its cell. Each entry
is the pair's outcome: ``ok`` (same predictions as the producer), ``warn`` (the same, with a
version or load warning), ``drift`` (it loads and predicts something else), ``fail:<verdict>``
(it does not load, does not predict, or the consumer could not be built), shown as the verdict
itself (``load-error``). The failures are listed under the table, one short line each.
"""

from __future__ import annotations

from tabulate import tabulate

from driftmatrix.grid import Grid, Pair

_EMPTY = "-"
#: Error messages in the list under the table are cut here (grid.json keeps them whole).
_MESSAGE = 100


def render_grid(grid: Grid, fmt: str = "terminal") -> str:
    """The grid as plain text (``terminal``) or GitHub Markdown (``md``)."""
    numbers = {cell: index + 1 for index, cell in enumerate(grid.cells)}
    headers = ["producer \\ consumer", *(str(numbers[cell]) for cell in grid.cells)]
    rows = []
    for producer in grid.producers:
        label = f"{numbers[producer.cell]}. {producer.cell}"
        if producer.artifact is None:
            failure = producer.failure.value if producer.failure else "no model"
            rows.append([label, f"no file ({failure})", *([_EMPTY] * (len(grid.cells) - 1))])
            continue
        rows.append([label, *(_entry(grid.pair(producer.cell, cell)) for cell in grid.cells)])
    table = tabulate(rows, headers=headers, tablefmt="github" if fmt == "md" else "simple")
    lines = []
    if fmt == "md":
        lines += [f"## Producer × consumer grid: {grid.matrix} ({grid.format})", ""]
    else:
        lines += [f"driftmatrix grid: {grid.matrix} ({grid.format} files)", ""]
    lines += [table, "", _counts(grid), ""]
    lines += _details(grid, markdown=fmt == "md")
    return "\n".join(lines).rstrip() + "\n"


def _entry(pair: Pair | None) -> str:
    if pair is None:
        return _EMPTY
    if pair.outcome == "drift" and pair.flipped:
        return f"drift ({pair.flipped})"
    # A failure is named by its verdict: which stage broke is what a reader needs.
    return pair.verdict.value if pair.outcome.startswith("fail") else pair.outcome


def _counts(grid: Grid) -> str:
    counts: dict[str, int] = {}
    for pair in grid.pairs:
        word = pair.outcome.split(":")[0]
        counts[word] = counts.get(word, 0) + 1
    order = ("ok", "warn", "drift", "fail")
    parts = [f"{counts[word]} {word}" for word in order if counts.get(word)]
    missing = sum(1 for p in grid.producers if p.artifact is None)
    text = f"{len(grid.pairs)} pairs: " + (", ".join(parts) or "none")
    if missing:
        text += f"; {missing} producer(s) saved no model"
    return text


def _details(grid: Grid, *, markdown: bool) -> list[str]:
    bullet = "- " if markdown else "  "
    lines: list[str] = []
    for producer in grid.producers:
        if producer.artifact is None and producer.error is not None:
            lines.append(
                f"{bullet}{producer.cell} saved no model: {producer.error.type}: "
                f"{_short(producer.error.message)}"
            )
    for pair in grid.pairs:
        if pair.outcome.startswith("fail") and pair.error is not None:
            lines.append(
                f"{bullet}{pair.producer} → {pair.consumer}: {pair.verdict.value}: "
                f"{pair.error.type}: {_short(pair.error.message)}"
            )
    if lines:
        lines.insert(0, "Failures:" if not markdown else "**Failures**")
        if markdown:
            lines.insert(1, "")
    return lines


def _short(message: str) -> str:
    return message if len(message) <= _MESSAGE else message[: _MESSAGE - 1] + "…"
