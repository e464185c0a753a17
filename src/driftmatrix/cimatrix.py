"""A CI job matrix from a matrix file: cells packed into shards, one shard per job.

GitHub Actions runs at most 256 jobs per matrix, so a large matrix is packed: ``shards(spec, N)``
splits the cells into exactly N shards, a pure function of the matrix's cell order and N. The
same function serves ``driftmatrix list --json`` (which prints one include entry per shard) and
``driftmatrix run --shard K/N`` (which runs shard K itself), so a job passes only the short
string ``K/N``: GitHub expressions cannot loop over a list of cells to build ``--cell`` options,
and ``K/N`` is also what other CI systems hand a job (GitLab's ``CI_NODE_INDEX/CI_NODE_TOTAL``).

Packing: with two shards or more, the reference cell is a shard of its own (shard 1). Every
comparison waits for it, so its job should be short and easy to find; the other cells are cut,
in matrix order, into contiguous runs whose sizes differ by at most one (neighbouring cells share
Python versions and pins, so a job sets up few interpreters and reuses environments).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from driftmatrix.errors import UsageError

if TYPE_CHECKING:  # only annotations: `driftmatrix --help` must not load the matrix reader
    from driftmatrix.cells import Cell
    from driftmatrix.spec import MatrixSpec

#: GitHub Actions' limit on the jobs one matrix may generate.
GITHUB_MAX_JOBS = 256

_SHARD = re.compile(r"(\d+)/(\d+)")


@dataclass(frozen=True)
class Shard:
    """One CI job's share of a matrix.

    Attributes:
        index: 1-based position among the shards.
        count: How many shards the matrix was packed into.
        cells: Its cells, in matrix order (empty only when there are more shards than cells).
        reference: The reference cell's id, if it is one of ``cells``.
    """

    index: int
    count: int
    cells: tuple[Cell, ...]
    reference: str | None = None

    @property
    def label(self) -> str:
        """``K/N``, the value of ``driftmatrix run --shard``."""
        return f"{self.index}/{self.count}"

    @property
    def id(self) -> str:
        """A unique name for its output directory and CI artifact: the cell id of a one-cell
        shard (readable in a job list), else ``shard-K-of-N`` (cell ids always start ``py``)."""
        if len(self.cells) == 1:
            return self.cells[0].id
        return f"shard-{self.index:0{len(str(self.count))}d}-of-{self.count}"

    @property
    def name(self) -> str:
        """The job's display name."""
        if len(self.cells) == 1:
            cell = self.cells[0].id
            return f"{cell} (reference)" if self.reference else cell
        if not self.cells:
            return f"{self.label}: no cells"
        more = len(self.cells) - 1
        return f"{self.label}: {self.cells[0].id} and {more} more"

    def to_json(self) -> dict[str, Any]:
        """One ``strategy.matrix`` include entry (what the job's steps read as ``matrix.*``).

        ``python`` is every Python version the shard's cells need, one per line: the form
        ``actions/setup-python`` accepts for several versions.
        """
        return {
            "name": self.name,
            "shard": self.label,
            "id": self.id,
            "python": "\n".join(dict.fromkeys(cell.python for cell in self.cells)),
            "reference": self.reference is not None,
            "cells": [cell.id for cell in self.cells],
        }


def shards(cells: Sequence[Cell], reference: str, count: int) -> tuple[Shard, ...]:
    """Pack cells into exactly ``count`` shards: a pure function, every cell in exactly one.

    Args:
        cells: The matrix's cells, in matrix order.
        reference: The reference cell's id (one of ``cells``).
        count: How many shards (CI jobs); 1 or more. With more shards than cells, some are empty.

    Raises:
        UsageError: ``count`` is less than 1.
    """
    if count < 1:
        raise UsageError(f"{count} shards: there must be 1 or more")
    if count == 1:
        return (Shard(1, 1, tuple(cells), reference),)
    first = tuple(cell for cell in cells if cell.id == reference)
    others = [cell for cell in cells if cell.id != reference]
    parts, rest = [first], count - 1
    for i in range(rest):
        parts.append(tuple(others[i * len(others) // rest : (i + 1) * len(others) // rest]))
    return tuple(
        Shard(index, count, part, reference if index == 1 and part else None)
        for index, part in enumerate(parts, start=1)
    )


def job_matrix(spec: MatrixSpec, max_jobs: int = GITHUB_MAX_JOBS) -> dict[str, Any]:
    """The GitHub Actions ``strategy.matrix`` value: ``{"include": [one entry per shard]}``.

    One shard per cell while the cells fit in ``max_jobs``; beyond it, ``max_jobs`` shards.

    Raises:
        UsageError: ``max_jobs`` is less than 1.
    """
    if max_jobs < 1:
        raise UsageError(f"--max-jobs {max_jobs}: must be 1 or more")
    count = min(max_jobs, len(spec.cells))
    return {"include": [shard.to_json() for shard in shards(spec.cells, spec.reference, count)]}


def parse_shard(text: str) -> tuple[int, int]:
    """``"K/N"`` → ``(K, N)``.

    Raises:
        UsageError: Not two numbers with ``1 <= K <= N``.
    """
    match = _SHARD.fullmatch(text.strip())
    if match is None or not 1 <= int(match[1]) <= int(match[2]):
        raise UsageError(
            f"--shard {text[:40]}: expected K/N with 1 <= K <= N, e.g. 2/5 "
            "(the `shard` of an entry of `driftmatrix list --json`)"
        )
    return int(match[1]), int(match[2])


def select_shard(spec: MatrixSpec, text: str) -> Shard:
    """The shard ``--shard K/N`` names.

    Raises:
        UsageError: ``text`` is not ``K/N``.
    """
    index, count = parse_shard(text)
    return shards(spec.cells, spec.reference, count)[index - 1]
