"""``review --bisect``: which changed package makes the head break or drift.

Two stages of ordinary runs (in ``OUT/bisect``, the base cell the reference in both):

1. **Alone**: for every change, a cell with the base's pins and that one change
   (``only-numpy-1.24.4-to-1.26.4``). A change whose cell reproduces the head's outcome
   (``breaks`` or ``drift``) is a *culprit*. A change whose cell cannot be built — the resolver
   refuses it without the other changes — is reported as not installable on its own, never as
   a culprit.
2. **Reverted**, only when no change reproduces it alone: for every change, the head with that
   change taken back (``revert-numpy-1.26.4-to-1.24.4``). A change whose reversal avoids the
   outcome is *needed* for it: together, the needed changes cause it.

Every cell of a stage runs in parallel (``--jobs``), with the probes that decide a verdict
(environment, imports, load or train, predict): a bisect asks the same question as the review, at
a fraction of the cost. When only one package changed, the head *is* that change alone, and no
cell is run.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from driftmatrix.backends.base import Backend
from driftmatrix.lockdiff import Change
from driftmatrix.lockfile import Lock
from driftmatrix.outcome import Verdict
from driftmatrix.results import CellResult, RunResults
from driftmatrix.review import (
    BASE,
    Outcome,
    ReviewRun,
    Setup,
    cell,
    change_id,
    outcome_of,
    review_spec,
)
from driftmatrix.run import PhaseChange, Progress, Runner, RunOptions

#: What a bisect cell probes: enough for a verdict (``load`` is ``train`` in train mode).
BISECT_PROBES = ("environment", "imports", "load", "predict")


class Direction(enum.Enum):
    """How a change was tried."""

    ALONE = "alone"  # the base with this change only
    REVERTED = "reverted"  # the head without this change


@dataclass(frozen=True)
class Trial:
    """One change tried in one cell.

    Attributes:
        change: The change.
        direction: Alone on the base, or taken back from the head.
        result: The cell (compared with the base).
        outcome: The review's word for it (``unknown`` when it could not be built).
    """

    change: Change
    direction: Direction
    result: CellResult
    outcome: Outcome

    @property
    def installable(self) -> bool:
        """False when the environment could not be built (the resolver refused the pins)."""
        return self.result.verdict is not Verdict.BUILD_ERROR

    def to_json(self) -> dict[str, Any]:
        """JSON form (review.json)."""
        error = self.result.error
        return {
            "package": self.change.name,
            "direction": self.direction.value,
            "cell": self.result.id,
            "verdict": self.result.verdict.value,
            "outcome": self.outcome.value,
            "installable": self.installable,
            "error": error.to_json() if error else None,
        }


@dataclass(frozen=True)
class Bisection:
    """What the bisect found.

    Attributes:
        target: The head's outcome it looked for (``breaks`` or ``drift``).
        trials: Every change tried, alone first, then reverted.
        culprits: The changes that reproduce the outcome alone.
        needed: When none does alone: the changes whose reversal avoids it.
        reverse_ran: Whether the second stage ran.
    """

    target: Outcome
    trials: tuple[Trial, ...]
    culprits: tuple[Change, ...]
    needed: tuple[Change, ...] = ()
    reverse_ran: bool = False

    def stage(self, direction: Direction) -> tuple[Trial, ...]:
        """The trials of one stage."""
        return tuple(t for t in self.trials if t.direction is direction)

    @property
    def not_installable(self) -> tuple[Change, ...]:
        """Changes that could not be tried alone: the resolver refused them on the base."""
        return tuple(t.change for t in self.stage(Direction.ALONE) if not t.installable)

    def to_json(self) -> dict[str, Any]:
        """JSON form (review.json)."""
        return {
            "target": self.target.value,
            "culprits": [c.name for c in self.culprits],
            "needed": [c.name for c in self.needed],
            "not_installable_alone": [c.name for c in self.not_installable],
            "reverse_ran": self.reverse_ran,
            "trials": [t.to_json() for t in self.trials],
        }


@dataclass(frozen=True)
class Hooks:
    """Where a bisect reports what it does (all optional)."""

    progress: Progress | None = None
    phase: PhaseChange | None = None
    log: Callable[[str], None] = lambda line: None


def bisect(
    setup: Setup,
    locks: tuple[Lock, Lock],
    changes: tuple[Change, ...],
    review: ReviewRun,
    options: RunOptions,
    backends: Mapping[str, Backend],
    cache_dir: Path,
    hooks: Hooks | None = None,
) -> tuple[Bisection, RunResults | None]:
    """Find the change(s) behind the head's outcome.

    Args:
        setup: The review's artifact, Python, limits, backend.
        locks: The base and head locks.
        changes: What differs between them.
        review: The base and head run (its outcome is what the bisect looks for).
        options: The review's run options; ``out_dir`` is the review's (``bisect/`` goes below).
        backends: As for the review's run.
        cache_dir: driftmatrix's cache.
        hooks: Progress callbacks.

    Returns:
        What it found, and the bisect's own run (None when no cell had to run).
    """
    hooks = hooks or Hooks()
    head = review.head
    if len(changes) == 1 and head is not None:
        trial = Trial(changes[0], Direction.ALONE, head, review.outcome)
        found = review.outcome in (Outcome.BREAKS, Outcome.DRIFT)
        culprits: tuple[Change, ...] = changes if found else ()
        return Bisection(review.outcome, (trial,), culprits), None
    base_versions, head_versions = locks[0].versions, locks[1].versions
    alone = {change_id("only", c, True): (c, c.apply(base_versions)) for c in changes}
    reverted = {change_id("revert", c, False): (c, c.undo(head_versions)) for c in changes}
    cells = (
        cell(BASE, base_versions, setup),
        *(cell(i, versions, setup) for i, (_, versions) in alone.items()),
        *(cell(i, versions, setup) for i, (_, versions) in reverted.items()),
    )
    spec = review_spec(setup, cells, name="review-bisect")
    out = options.out_dir / "bisect"
    stage_options = replace(options, out_dir=out, probes=BISECT_PROBES)

    def run(ids: tuple[str, ...], resume: bool) -> RunResults:
        chosen = replace(stage_options, cell_ids=ids, resume=resume)
        return Runner(spec, chosen, backends, cache_dir, hooks.progress, hooks.phase).run()

    hooks.log(f"bisect: trying each of {len(changes)} changes alone on top of the base")
    first = run(tuple(alone), options.resume)
    trials = _trials(first, alone, Direction.ALONE)
    culprits = tuple(t.change for t in trials if t.outcome is review.outcome)
    if culprits:
        return Bisection(review.outcome, trials, culprits), first
    hooks.log(
        f"bisect: no change alone gives {review.outcome.value}; "
        f"taking each of the {len(changes)} changes back from the head"
    )
    # The base cell of the first stage is reused: same inputs, same fingerprint.
    second = run(tuple(reverted), True)
    back = _trials(second, reverted, Direction.REVERTED)
    needed = tuple(
        t.change
        for t in back
        if t.installable and t.outcome not in (review.outcome, Outcome.UNKNOWN)
    )
    merged = replace(first, cells=(*first.cells, *(c for c in second.cells if c.id != BASE)))
    return Bisection(review.outcome, trials + back, (), needed, reverse_ran=True), merged


def _trials(
    results: RunResults,
    planned: Mapping[str, tuple[Change, dict[str, str]]],
    direction: Direction,
) -> tuple[Trial, ...]:
    base = results.reference_result
    by_id = {c.id: c for c in results.cells}
    return tuple(
        Trial(change, direction, by_id[cell_id], outcome_of(by_id[cell_id], base))
        for cell_id, (change, _) in planned.items()
        if cell_id in by_id
    )
