"""The colours of the HTML report: one pair per verdict, shared by the page and its plots.

A reader learns the colours once, in the verdict grid, and reads every plot with them. Verdicts
that mean the same thing to a reviewer share a colour: green is safe, amber is "predicts, but
differently", red is "the model breaks here", crimson is "killed by a limit", violet is "the
tool or the environment failed, not the model". Each verdict has a strong colour (plot marks,
borders) and a light tint (backgrounds behind text, which must stay readable).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from driftmatrix.outcome import Verdict


@dataclass(frozen=True)
class Colours:
    """A verdict's colours as ``#rrggbb``: ``strong`` for marks, ``tint`` behind text."""

    strong: str
    tint: str


_SAFE = Colours("#1b7837", "#d9f0d3")
_WITHIN = Colours("#5aae61", "#edf8e9")
_UNKNOWN = Colours("#8c8c8c", "#eeeeee")
_DRIFT = Colours("#e08214", "#fee0b6")
_BREAKS = Colours("#c51b29", "#fbd0d3")
_KILLED = Colours("#8e0152", "#f6cde6")
_TOOL = Colours("#6a51a3", "#e5e0f2")

#: Every verdict's colours.
VERDICT: Mapping[Verdict, Colours] = {
    Verdict.IDENTICAL: _SAFE,
    Verdict.EQUIVALENT: _WITHIN,
    Verdict.NOT_COMPARED: _UNKNOWN,
    Verdict.DRIFT: _DRIFT,
    Verdict.PREDICT_ERROR: _BREAKS,
    Verdict.LOAD_ERROR: _BREAKS,
    Verdict.IMPORT_ERROR: _BREAKS,
    Verdict.REJECTED: _BREAKS,
    Verdict.OOM: _KILLED,
    Verdict.TIMEOUT: _KILLED,
    Verdict.BUILD_ERROR: _TOOL,
    Verdict.INFRA_ERROR: _TOOL,
}

#: Plot marks that are not verdicts: measurements within their limit, beyond it, and limits.
MEASURED = "#4a6fa5"
BEYOND = "#d6604d"
LIMIT = "#222222"
REFERENCE = "#1b7837"
MUTED = "#666666"

#: The plots' frame: text (the page's ink), axis lines, tick labels and grid lines.
INK = "#1f2328"
AXIS = "#888888"
TICK = "#444444"
GRID = "#dddddd"

#: The run's outcome banner: passes, a finding, infrastructure only.
VERDICT_OUTCOME: Mapping[str, Colours] = {"ok": _SAFE, "fail": _BREAKS, "infra": _TOOL}
