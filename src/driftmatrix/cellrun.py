"""What one cell did, as observed, and the result decided from it.

A :class:`CellRun` holds the facts a cell's verdict is decided from — how the runner process
ended, what it wrote, why the environment could not be built — plus where it ran and how long it
took. It is what the result cache keeps (resultcache.py): the observations, never the verdict,
so a cached cell is decided again by this driftmatrix (its verdict rules, error wording and flags
can change between releases without a rerun), and only what the cell itself did is reused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from driftmatrix import verdict
from driftmatrix.backends.base import Execution
from driftmatrix.cells import Cell
from driftmatrix.results import CellResult

#: The facts :func:`driftmatrix.verdict.decide` takes that a cache entry keeps as plain JSON.
_PLAIN_FACTS = ("requested", "result", "unreadable", "rejected_globals")


@dataclass(frozen=True)
class CellRun:
    """One run of a cell: the facts its verdict is decided from, where and how long it ran.

    Attributes:
        backend: The backend that ran it (``auto`` resolved).
        facts: Keyword arguments of :func:`driftmatrix.verdict.decide`: ``requested`` limits,
            ``execution``, the runner's ``result``, ``unreadable``, ``build_error``,
            ``infra_error``, ``rejected_globals``.
        environment: Where it ran, as provisioned (``location``, ``base``); empty when the
            environment could not be built.
        seconds: Wall time of the cell, build included.
    """

    backend: str
    facts: Mapping[str, Any]
    environment: Mapping[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def result(self, cell: Cell, fingerprint: str, reused: str | None = None) -> CellResult:
        """The cell's result, decided from these facts by this driftmatrix (not yet compared).

        Args:
            cell: The cell (its id and pins are this run's, whichever cell the facts came from).
            fingerprint: The fingerprint the result is recorded under.
            reused: Where the facts came from when they were not observed now (``"cache"``).
        """
        facts = self.facts
        execution: Execution | None = facts.get("execution")
        decided, flags = verdict.decide(**facts)
        doc: Mapping[str, Any] = facts.get("result") or {}
        return CellResult(
            id=cell.id,
            backend=self.backend,
            python=cell.python,
            packages=cell.pins,
            installed=dict(doc.get("installed") or {}),
            environment=_environment(self.environment, doc),
            limits={
                **cell.limits.to_json(),
                "enforced": dict(execution.enforced) if execution else {},
            },
            verdict=decided,
            flags=flags,
            probes=dict(doc.get("probes") or {}),
            outputs=doc.get("outputs"),
            error=verdict.error_info(**facts),
            fingerprint=fingerprint,
            seconds=self.seconds,
            reused=reused,
        )

    def to_json(self) -> dict[str, Any]:
        """JSON form (exceptions become their messages; verdict.decide takes those too)."""
        facts: dict[str, Any] = {k: self.facts[k] for k in _PLAIN_FACTS if k in self.facts}
        execution = self.facts.get("execution")
        if execution is not None:
            facts["execution"] = {**asdict(execution), "enforced": dict(execution.enforced)}
        for name in ("build_error", "infra_error"):
            if self.facts.get(name) is not None:
                facts[name] = str(self.facts[name])
        return {
            "backend": self.backend,
            "facts": facts,
            "environment": dict(self.environment),
            "seconds": self.seconds,
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> CellRun:
        """Parse the JSON form (raises ``KeyError``/``TypeError``/``ValueError`` when malformed)."""
        stored = doc["facts"]
        if not isinstance(stored, Mapping):
            raise TypeError("facts is not an object")
        facts: dict[str, Any] = {k: stored[k] for k in _PLAIN_FACTS if k in stored}
        if stored.get("execution") is not None:
            facts["execution"] = Execution(**stored["execution"])
        for name in ("build_error", "infra_error"):
            if stored.get(name) is not None:
                facts[name] = str(stored[name])
        return cls(
            backend=str(doc["backend"]),
            facts=facts,
            environment=dict(doc.get("environment") or {}),
            seconds=float(doc.get("seconds", 0.0)),
        )


def _environment(provisioned: Mapping[str, Any], doc: Mapping[str, Any]) -> dict[str, Any]:
    """Where a cell ran, with the interpreter as the cell itself reported it."""
    python = doc.get("python")
    return {**provisioned, **({"python": dict(python)} if isinstance(python, dict) else {})}
