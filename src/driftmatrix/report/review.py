"""The review comment: one Markdown text for the pull request that changes a lock file.

Order: the verdict (``safe``, ``drift``, ``breaks``, or ``unknown``) and one sentence saying why;
the cause when ``--bisect`` looked for it; the two lock files; the package diff (direct and
transitive); every change the bisect tried and what it did; notes on what the lock files left
out; then the evidence — the run's own Markdown report (report/markdown.py) of the base and head
cells, given what is left of GitHub's comment limit (report/_fit.py). Long tables are cut with
a count of what was left out; review.json has everything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from driftmatrix.bisect import Bisection, Direction, Trial
from driftmatrix.lockdiff import Change, ChangeKind
from driftmatrix.lockfile import Lock
from driftmatrix.packages import canonical_name
from driftmatrix.report import markdown
from driftmatrix.report._common import VERDICT_MEANING, reason
from driftmatrix.report._fit import GITHUB_LIMIT
from driftmatrix.report._md import code as _code
from driftmatrix.report._md import table as _table
from driftmatrix.report._md import text as _text
from driftmatrix.results import CellResult, RunResults
from driftmatrix.review import HEAD, Outcome, ReviewRun, change_json, lock_json

_ICON = {Outcome.SAFE: "✅", Outcome.DRIFT: "⚠️", Outcome.BREAKS: "❌", Outcome.UNKNOWN: "❔"}
#: Rows of the package table and of the bisect table before the rest is counted instead.
MAX_ROWS = 50
#: Characters of one piece of evidence (an error message) in a table cell, and in a sentence.
MAX_EVIDENCE = 220
MAX_PROSE = 140
#: The least room worth giving the run's report; below it, the comment points to report.md.
_MIN_EVIDENCE = 3_000


@dataclass(frozen=True)
class Review:
    """Everything a review found: the render input of the comment and of review.json.

    Attributes:
        base: The base lock.
        head: The head lock.
        changes: What differs between them.
        run: The base and head cells, and the review's outcome.
        bisection: What ``--bisect`` found, or None when it did not run.
        bisect_requested: Whether ``--bisect`` was given (to say why it did not run).
        backend: The backend the cells ran on, as requested.
    """

    base: Lock
    head: Lock
    changes: tuple[Change, ...]
    run: ReviewRun | None
    bisection: Bisection | None = None
    bisect_requested: bool = False
    backend: str = "venv"

    @property
    def outcome(self) -> Outcome:
        """The verdict: ``safe`` when nothing changed (no cell ran), else the run's."""
        return self.run.outcome if self.run is not None else Outcome.SAFE

    def to_json(self) -> dict[str, Any]:
        """The review.json document."""
        cells = self.run.results.cells if self.run is not None else ()
        return {
            "outcome": self.outcome.value,
            "python": self.base.python,
            "backend": self.backend,
            "base": lock_json(self.base),
            "head": lock_json(self.head),
            "changes": [change_json(c) for c in self.changes],
            "cells": {c.id: c.verdict.value for c in cells},
            "bisect": self.bisection.to_json() if self.bisection else None,
        }


def render(review: Review, limit: int = GITHUB_LIMIT) -> str:
    """The review comment, at most ``limit`` characters.

    Args:
        review: What the review found.
        limit: The size it must fit (a GitHub comment by default).

    Returns:
        Markdown, ending with a newline.
    """
    outcome = review.outcome
    lines = [f"## driftmatrix review: {_ICON[outcome]} {outcome.value}", ""]
    lines += [f"**{_headline(review)}**", ""]
    if review.bisection is not None:
        lines += [f"**Cause** (`--bisect`): {_cause(review.bisection)}", ""]
    elif review.bisect_requested and review.run is not None:
        lines += [f"`--bisect` had nothing to look for: the head is {outcome.value}.", ""]
    lines += [_locks(review), ""]
    lines += _unpinned(review)
    lines += _changes(review.changes)
    if review.bisection is not None and review.bisection.trials:
        lines += _bisect(review.bisection)
    lines += _notes(review)
    if review.run is None:
        return "\n".join(lines).rstrip("\n") + "\n"
    room = limit - sum(len(line) + 1 for line in lines) - 200
    lines += ["### Evidence: the base and head cells", ""]
    if room < _MIN_EVIDENCE:
        lines += ["_The cells' report does not fit in this comment; report.md has it._", ""]
    else:
        evidence = markdown.render(_view(review.run.results, review.changes), limit=room)
        lines += [_nested(evidence)]
    return "\n".join(lines).rstrip("\n") + "\n"


def _nested(report: str) -> str:
    """The run's report under this comment's "Evidence" heading: its headings two levels down
    (its title would otherwise outrank the heading it sits under). Only headings start with
    ``#``: text from the run has its ``#`` escaped (report/_md.py)."""
    return "\n".join("##" + line if line.startswith("#") else line for line in report.split("\n"))


def _headline(review: Review) -> str:
    run = review.run
    if run is None:
        return "Nothing to review: both lock files install the same versions."
    base, head = run.base, run.head
    if base is None or head is None:
        return "No verdict: the run has no result for the base or the head cell."
    why = _why(head)
    # Train mode: every cell fits the model with its own packages (the recipe), then predicts.
    trained = run.results.artifact.get("mode") == "train"
    if review.outcome is Outcome.SAFE:
        flags = ", ".join(f"`{f.value}`" for f in head.flags)
        noted = f" (flags: {flags}; see its details below)" if flags else ""
        model = (
            "The model, refitted with the head's packages, predicts the same"
            if trained
            else "The model loads and predicts the same with the head's packages"
        )
        return f"{model}: the head is {head.verdict.value} to the base{noted}."
    if review.outcome is Outcome.DRIFT:
        done = "refitted with the head's packages" if trained else "loads with the head's packages"
        return _end(f"The model {done}, but predicts differently: {why}")
    if review.outcome is Outcome.BREAKS:
        return _end(f"The model breaks with the head's packages: {head.verdict.value} — {why}")
    if not base.verdict.ran:
        return (
            f"No verdict: the base cell itself is {base.verdict.value} — {_why(base)}; "
            "the head could not be compared with it."
        )
    return _end(
        f"No verdict: the head cell is {head.verdict.value} "
        f"({VERDICT_MEANING[head.verdict]}) — {why}"
    )


def _cause(bisection: Bisection) -> str:
    alone = bisection.stage(Direction.ALONE)
    target = bisection.target.value
    untried = _names(bisection.not_installable)
    also = f" Not installable alone, so not tried alone: {untried}." if untried else ""
    if bisection.culprits and len(alone) == 1 and alone[0].result.id == HEAD:
        return f"{_text(alone[0].change.text)} is the only change."
    if bisection.culprits:
        found = "; ".join(_trial_text(t) for t in alone if t.change in bisection.culprits)
        fine = _names(tuple(t.change for t in alone if t.outcome is Outcome.SAFE))
        rest = f" Alone, these give no finding: {fine}." if fine else ""
        return f"{_end(found)}{rest}{also}"
    if bisection.needed:
        return (
            f"no change alone gives {target}; it takes these together (taking any one of them "
            f"back from the head avoids it): {_names(bisection.needed)}.{also}"
        )
    return (
        f"not found: no change alone gives {target}, and taking any one back from the head "
        f"still gives it or could not be tried.{also}"
    )


def _end(sentence: str) -> str:
    """``sentence`` with a full stop, unless it already ends with one (or with "…")."""
    return sentence if sentence.endswith((".", "…", "!", "?")) else sentence + "."


def _trial_text(trial: Trial) -> str:
    what = "alone" if trial.direction is Direction.ALONE else "taken back"
    verdict = trial.result.verdict.value
    return f"**{_text(trial.change.text)}** {what}: {verdict}: {_why(trial.result)}"


def _locks(review: Review) -> str:
    base, head = review.base, review.head
    return (
        f"Base (the reference): `{_plain(base.label)}` ({len(base.pins)} packages) · "
        f"head: `{_plain(head.label)}` ({len(head.pins)} packages) · "
        f"Python {base.python} · {review.backend} backend."
    )


def _unpinned(review: Review) -> list[str]:
    """What a cell installed beyond its lock: uv resolved it, so the lock does not decide it."""
    if review.run is None:
        return []
    out = []
    for lock, cell in ((review.base, review.run.base), (review.head, review.run.head)):
        pinned = lock.versions
        extra = sorted(
            (canonical_name(name), str(version))
            for name, version in (cell.installed if cell is not None else {}).items()
            if canonical_name(name) not in pinned
        )
        if extra:
            shown = ", ".join(f"{_text(n)} {_text(v)}" for n, v in extra[:MAX_ROWS])
            more = f" and {len(extra) - MAX_ROWS} more" if len(extra) > MAX_ROWS else ""
            out += [
                f"**Not in the {cell.id if cell else ''} lock:** the cell also installed "
                f"{shown}{more}: uv chose these versions, not the lock (a complete lock, as "
                "`uv pip compile` writes it, pins them).",
                "",
            ]
    return out


def _changes(changes: tuple[Change, ...]) -> list[str]:
    if not changes:
        return []
    kinds = ", ".join(
        f"{sum(c.kind is kind for c in changes)} {kind.value}"
        for kind in ChangeKind
        if any(c.kind is kind for c in changes)
    )
    direct = sum(c.direct is True for c in changes)
    transitive = sum(c.direct is False for c in changes)
    known = f"; {direct} direct, {transitive} transitive" if direct or transitive else ""
    out = [f"### What changed: {len(changes)} packages ({kinds}{known})", ""]
    rows = []
    for c in changes:
        versions = [_text(c.base or "—"), _text(c.head or "—")]
        rows.append([f"`{_plain(c.name)}`", *versions, c.kind.value, c.dependency or "—"])
    out += _cut(_table(["package", "base", "head", "change", "dependency"], rows), "packages")
    return [*out, ""]


def _bisect(bisection: Bisection) -> list[str]:
    out = ["### Bisect", ""]
    out.append(
        "Each change was tried alone on top of the base"
        + (", then taken back from the head one at a time" if bisection.reverse_ran else "")
        + "; every cell is compared with the base."
    )
    rows = [_trial_row(t, bisection) for t in bisection.trials]
    header = ["change", "tried", "verdict", "result", "evidence"]
    return [*out, "", *_cut(_table(header, rows), "trials"), ""]


def _trial_row(trial: Trial, bisection: Bisection) -> list[str]:
    if not trial.installable:
        result = (
            "not installable alone" if trial.direction is Direction.ALONE else "not installable"
        )
    elif trial.change in bisection.culprits and trial.direction is Direction.ALONE:
        result = f"**culprit** ({trial.outcome.value})"
    elif trial.change in bisection.needed and trial.direction is Direction.REVERTED:
        result = f"**needed**: {trial.outcome.value} without it"
    else:
        result = trial.outcome.value
    tried = (
        "alone on the base" if trial.direction is Direction.ALONE else "taken back from the head"
    )
    evidence = _reason(trial.result)
    return [
        _text(trial.change.text),
        tried,
        f"`{trial.result.verdict.value}`",
        result,
        _code(evidence) if evidence else "—",
    ]


def _notes(review: Review) -> list[str]:
    notes = [*review.base.notes, *review.head.notes]
    if not notes:
        return []
    items = [f"- {_text(note)}" for note in notes[:MAX_ROWS]]
    if len(notes) > MAX_ROWS:
        items.append(f"- _{len(notes) - MAX_ROWS} more notes; review.json has them._")
    return [
        "<details>",
        f"<summary>What the lock files left out ({len(notes)} notes)</summary>",
        "",
        *items,
        "",
        "</details>",
        "",
    ]


def _view(results: RunResults, changes: Sequence[Change]) -> RunResults:
    """The run as its report should show it here: the table's package columns are the changed
    packages only (a lock pins dozens; results.json keeps every pin)."""
    names = {c.name for c in changes}

    def narrowed(cell: CellResult) -> CellResult:
        return replace(cell, packages={k: v for k, v in cell.packages.items() if k in names})

    return replace(results, cells=tuple(narrowed(c) for c in results.cells))


def _why(cell: CellResult) -> str:
    """Why a cell has its verdict, as Markdown prose."""
    return _text(_reason(cell, MAX_PROSE)) or "no error was recorded"


def _reason(cell: CellResult, limit: int = MAX_EVIDENCE) -> str:
    text = " ".join(reason(cell).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _cut(table: list[str], what: str) -> list[str]:
    """A Markdown table cut to :data:`MAX_ROWS` rows, with a count of the rest."""
    if len(table) <= MAX_ROWS + 2:
        return table
    left = len(table) - 2 - MAX_ROWS
    return [*table[: MAX_ROWS + 2], "", f"_{left} more {what} left out; review.json has them._"]


def _names(changes: Sequence[Change]) -> str:
    return ", ".join(_text(c.name) for c in changes)


def _plain(text: str) -> str:
    return text.replace("`", "'")
