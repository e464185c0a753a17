"""The JUnit XML report: one testsuite per cell, one testcase per probe and per comparison.

CI systems (GitHub Actions test reporters, GitLab, Jenkins) show JUnit files as test results, so
a matrix run reads there like a test run. The mapping:

* **testsuite** per cell, with the cell's Python, pins, backend, verdict and flags as properties;
* **testcase** ``probe:<name>`` per probe the cell's runner reported: a probe that failed is a
  ``<failure>`` when that is a finding about the model (imports, load, train, predict, the
  measurements after them), an ``<error>`` when the environment probe failed; a skipped probe is
  ``<skipped>`` with its reason;
* **testcase** ``cell`` per cell: its verdict. A verdict in ``fail_on`` is a ``<failure>``;
  ``build-error``/``infra-error`` are ``<error>`` (the tool or backend failed, not the model); a
  rejected artifact is a ``<failure>``;
* **testcase** ``compare:<aspect>`` per comparison with the reference (labels, scores, methods,
  contract, latency, memory): drift, a changed contract, ``slower``/``heavier`` are
  ``<failure>``s.

The file validates against the JUnit schema CI tools read (Jenkins' junit-10.xsd, kept in
tests/data/junit/); messages are one line, details go into the element's text.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

from driftmatrix.outcome import Flag, Verdict
from driftmatrix.report import _common as common
from driftmatrix.results import CellResult, RunResults

#: Probes whose failure is a fact about the tool, not the model.
_INFRA_PROBES = frozenset({"environment"})


def render(results: RunResults) -> str:
    """Render ``results`` as a JUnit XML document (UTF-8, with an XML declaration)."""
    fail_on = frozenset(common.fail_on(results))
    root = ET.Element("testsuites", name=str(results.matrix.get("name") or "driftmatrix"))
    totals: dict[str, int] = {"tests": 0, "failures": 0, "errors": 0}
    for cell in results.cells:
        suite = _suite(cell, results, fail_on)
        root.append(suite)
        for key in totals:
            totals[key] += int(suite.get(key, "0"))
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("time", f"{sum(cell.seconds for cell in results.cells):.3f}")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"


def _suite(cell: CellResult, results: RunResults, fail_on: frozenset[Verdict]) -> ET.Element:
    suite = ET.Element("testsuite", name=cell.id, time=f"{cell.seconds:.3f}")
    properties = ET.SubElement(suite, "properties")
    facts = {
        "python": cell.python,
        "backend": cell.backend,
        "verdict": cell.verdict.value,
        "flags": ", ".join(flag.value for flag in cell.flags),
        "reference": results.reference,
        **{f"pin:{name}": version for name, version in cell.packages.items()},
    }
    for name, value in facts.items():
        ET.SubElement(properties, "property", name=name, value=str(value))
    cases = [_verdict_case(cell, fail_on)]
    cases += [_probe_case(cell.id, name, record) for name, record in _records(cell)]
    cases += _comparison_cases(cell)
    counts: dict[str, int] = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for case in cases:
        suite.append(case)
        counts["tests"] += 1
        for tag, key in (("failure", "failures"), ("error", "errors"), ("skipped", "skipped")):
            if case.find(tag) is not None:
                counts[key] += 1
    for key, count in counts.items():
        suite.set(key, str(count))
    return suite


def _verdict_case(cell: CellResult, fail_on: frozenset[Verdict]) -> ET.Element:
    case = _case(cell.id, "cell", cell.seconds)
    verdict = cell.verdict
    reason = common.reason(cell)
    message = f"{verdict.value}: {reason}" if reason else verdict.value
    if verdict.is_infrastructure:
        _outcome(case, "error", verdict.value, message)
    elif verdict in fail_on:
        _outcome(case, "failure", verdict.value, message)
    elif verdict is Verdict.NOT_COMPARED:
        _outcome(case, "skipped", verdict.value, message)
    return case


def _probe_case(cell_id: str, name: str, record: Mapping[str, Any]) -> ET.Element:
    seconds = record.get("seconds")
    case = _case(cell_id, f"probe:{name}", seconds if isinstance(seconds, (int, float)) else 0.0)
    status = record.get("status")
    if status == "skipped":
        _outcome(case, "skipped", "skipped", str(record.get("reason") or "skipped"))
    elif status in ("failed", "running"):
        error = _mapping(record.get("error"))
        kind = str(error.get("type") or ("Died" if status == "running" else "Failed"))
        message = str(
            error.get("message")
            or ("the process died in this probe" if status == "running" else "")
        )
        tag = "error" if name in _INFRA_PROBES else "failure"
        _outcome(case, tag, kind, f"{kind}: {message}" if message else kind, error.get("traceback"))
    return case


def _comparison_cases(cell: CellResult) -> list[ET.Element]:
    comparison = _mapping(cell.comparison)
    if not comparison:
        return []
    cases: list[ET.Element] = []
    phrases = common.differences(comparison)
    drift = _case(cell.id, "compare:outputs", 0.0)
    if cell.verdict is Verdict.DRIFT:
        _outcome(drift, "failure", "drift", "; ".join(phrases) or "outputs differ")
    cases.append(drift)
    for aspect, flag in (
        ("contract", Flag.CONTRACT_CHANGED),
        ("latency", Flag.SLOWER),
        ("memory", Flag.HEAVIER),
    ):
        if comparison.get(aspect) is None:
            continue
        case = _case(cell.id, f"compare:{aspect}", 0.0)
        if flag in cell.flags:
            _outcome(case, "failure", flag.value, common.FLAG_MEANING[flag])
        cases.append(case)
    return cases


def _records(cell: CellResult) -> list[tuple[str, Mapping[str, Any]]]:
    return [(str(name), _mapping(record)) for name, record in cell.probes.items()]


def _case(cell_id: str, name: str, seconds: float) -> ET.Element:
    return ET.Element("testcase", classname=cell_id, name=name, time=f"{seconds:.3f}")


def _outcome(case: ET.Element, tag: str, kind: str, message: str, text: Any = None) -> None:
    element = ET.SubElement(case, tag, type=kind, message=" ".join(message.split())[:500])
    if isinstance(text, str) and text:
        element.text = text


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
