"""Bad-input contract cases of a cell compared with the reference's: which cases changed.

The in-cell ``contract`` probe (probes/contract.py, docs/runner-protocol.md) feeds the model
bad variants of the golden set and records per case and prediction method either a clear
exception or a silent output with its schema checks. Here each case is reduced to a stable
*classification* and compared with the reference cell's:

* per method: ``error (ValueError)`` — the exception's type, never its message (messages are
  reworded between releases and may hold addresses or sizes, so they would flag noise);
  ``output``, or ``output (fails sums_to_one, finite)`` naming the schema checks that failed;
* per case: ``crash`` when the process died inside it (the probe's record is still ``running``
  and names the case; the cases before it are known, the ones after it are not), and
  ``not-applicable`` when the golden set offers nothing to change.

A case differs when its classification differs on the prediction methods both cells answered
on the golden set (a method only one side has is ``methods-differ``'s business, not this).
Cases known on one side only (the other crashed earlier, or is an older runner) are not
compared. Any difference makes the cell ``contract-changed`` (verdict.py); it never changes
the verdict.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from driftmatrix.outcome import CaseOutcome, ProbeStatus

#: The probe's name in result.json.
PROBE = "contract"


@dataclass(frozen=True)
class Behaviour:
    """How one case went in one cell: the case's outcome and each method's classification."""

    outcome: CaseOutcome | str  # a str only for an outcome this host does not know
    methods: tuple[tuple[str, str], ...] = ()  # (method, "error (ValueError)" | "output" | ...)

    def describe(self, methods: tuple[str, ...] | None = None) -> str:
        """One phrase: ``error (ValueError)``, or per method when the methods disagree.

        Args:
            methods: Only these methods (None: all of them).
        """
        if self.outcome in (CaseOutcome.CRASH, CaseOutcome.NOT_APPLICABLE) or not self.methods:
            return self.outcome.value if isinstance(self.outcome, CaseOutcome) else self.outcome
        shown = [(m, key) for m, key in self.methods if methods is None or m in methods]
        keys = {key for _, key in shown}
        if len(keys) == 1:
            return keys.pop()
        return "; ".join(f"{method}: {key}" for method, key in shown)


@dataclass(frozen=True)
class CaseChange:
    """A case whose classification differs from the reference's."""

    case: str
    reference: str
    cell: str

    def to_json(self) -> dict[str, str]:
        """JSON form."""
        return {"case": self.case, "reference": self.reference, "cell": self.cell}


@dataclass(frozen=True)
class ContractDiff:
    """The contract cases of a cell against the reference's.

    Attributes:
        compared: Cases classified in both cells, in the runner's order.
        changed: Those whose classification differs.
        crashed: The case the cell's process died in, if it did.
    """

    compared: tuple[str, ...] = ()
    changed: tuple[CaseChange, ...] = ()
    crashed: str | None = None

    @property
    def differs(self) -> bool:
        """True when any case behaves differently from the reference (``contract-changed``)."""
        return bool(self.changed)

    def to_json(self) -> dict[str, Any]:
        """The ``contract`` object of a comparison in results.json."""
        return {
            "compared": list(self.compared),
            "changed": [change.to_json() for change in self.changed],
            "crashed": self.crashed,
        }


def diff_contract(reference: Mapping[str, Any], cell: Mapping[str, Any]) -> ContractDiff | None:
    """Compare the contract cases of two cells.

    Args:
        reference: The reference cell's probe records (``result.json``'s ``probes``).
        cell: The compared cell's probe records.

    Returns:
        The differences; None when either side has no contract cases (the probe was not
        requested, was skipped, or died before its first case).
    """
    ref_cases, cell_cases = read_cases(reference), read_cases(cell)
    if not ref_cases or not cell_cases:
        return None
    compared: list[str] = []
    changed: list[CaseChange] = []
    for case, ref in ref_cases.items():
        if case not in cell_cases:
            continue
        compared.append(case)
        ref_text, cell_text = _compare(ref, cell_cases[case])
        if ref_text != cell_text:
            changed.append(CaseChange(case, ref_text, cell_text))
    crashed = [case for case, b in cell_cases.items() if b.outcome is CaseOutcome.CRASH]
    return ContractDiff(tuple(compared), tuple(changed), crashed[0] if crashed else None)


def read_cases(probes: Mapping[str, Any]) -> dict[str, Behaviour]:
    """Every case a cell's contract record classifies, in the runner's order.

    A record still ``running`` belongs to a process that died inside the probe: its ``case``
    (the one being run) is ``crash``, and its ``cases`` are those that finished before.
    """
    record = probes.get(PROBE)
    if not isinstance(record, Mapping):
        return {}
    cases = record.get("cases")
    found = {
        str(name): classify(entry)
        for name, entry in (cases.items() if isinstance(cases, Mapping) else ())
        if isinstance(entry, Mapping)
    }
    current = record.get("case")
    if record.get("status") == ProbeStatus.RUNNING.value and isinstance(current, str):
        found[current] = Behaviour(CaseOutcome.CRASH)
    return found


def classify(entry: Mapping[str, Any]) -> Behaviour:
    """The stable classification of one case record (see the module docstring)."""
    outcome = _outcome(entry.get("outcome"))
    methods = entry.get("methods")
    keys = tuple(
        (str(name), _method_key(record))
        for name, record in (methods.items() if isinstance(methods, Mapping) else ())
        if isinstance(record, Mapping)
    )
    return Behaviour(outcome, keys)


def _compare(ref: Behaviour, cell: Behaviour) -> tuple[str, str]:
    """The two classifications as phrases, restricted to the methods both cells answered."""
    common = tuple(m for m, _ in ref.methods if m in dict(cell.methods))
    if not common:
        return ref.describe(), cell.describe()
    return ref.describe(common), cell.describe(common)


def _method_key(record: Mapping[str, Any]) -> str:
    outcome = record.get("outcome")
    if outcome == CaseOutcome.ERROR.value:
        error = record.get("error")
        kind = error.get("type") if isinstance(error, Mapping) else None
        return f"error ({kind})" if kind else "error"
    if outcome == CaseOutcome.OUTPUT.value:
        checks = record.get("checks")
        if record.get("check_error") or not isinstance(checks, Mapping):
            return "output (unchecked)"
        failed = sorted(str(name) for name, ok in checks.items() if ok is not True)
        return f"output (fails {', '.join(failed)})" if failed else "output"
    return str(outcome)


def _outcome(value: Any) -> CaseOutcome | str:
    for member in CaseOutcome:
        if member.value == value:
            return member
    return str(value)
