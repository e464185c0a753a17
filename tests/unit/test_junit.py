"""The JUnit XML report: valid against the JUnit schema CI tools read, and saying the right thing.

Rendered from the report fixture (tests/data/reports/results.json, one cell per kind of outcome)
and from runs of the real Runner over the fake backend; validated with ``xmlschema`` against
Jenkins' junit-10.xsd (tests/data/junit/).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema

from driftmatrix.report import render
from driftmatrix.results import read_results

DATA = Path(__file__).resolve().parents[1] / "data"
SCHEMA = xmlschema.XMLSchema(str(DATA / "junit" / "junit-10.xsd"))


@pytest.fixture(scope="module")
def document() -> ET.Element:
    text = render(read_results(DATA / "reports"), "junit")
    SCHEMA.validate(text)  # raises with the offending element when invalid
    return ET.fromstring(text.encode("utf-8"))


def test_the_report_is_valid_junit(document: ET.Element) -> None:
    assert document.tag == "testsuites"
    suites = document.findall("testsuite")
    assert suites
    assert int(document.get("tests", "0")) == sum(int(s.get("tests", "0")) for s in suites)


def test_one_suite_per_cell_one_case_per_probe(document: ET.Element) -> None:
    results = read_results(DATA / "reports")
    suites = {suite.get("name"): suite for suite in document.findall("testsuite")}
    assert list(suites) == [cell.id for cell in results.cells]
    for cell in results.cells:
        names = [case.get("name") for case in suites[cell.id].findall("testcase")]
        assert names[0] == "cell"
        assert {f"probe:{name}" for name in cell.probes} <= set(names)
        properties = {p.get("name"): p.get("value") for p in suites[cell.id].iter("property")}
        assert properties["verdict"] == cell.verdict.value


def test_findings_are_failures_and_infrastructure_problems_are_errors(document: ET.Element) -> None:
    results = read_results(DATA / "reports")
    suites = {suite.get("name"): suite for suite in document.findall("testsuite")}
    seen = set()
    for cell in results.cells:
        verdict_case = suites[cell.id].find("testcase[@name='cell']")
        assert verdict_case is not None
        if cell.verdict.is_infrastructure:
            assert verdict_case.find("error") is not None, cell.id
            seen.add("error")
        elif cell.verdict.value in ("drift", "load-error", "predict-error", "import-error"):
            failure = verdict_case.find("failure")
            assert failure is not None, cell.id
            assert failure.get("type") == cell.verdict.value
            assert "\n" not in (failure.get("message") or "")
            seen.add("failure")
        elif cell.verdict.value in ("identical", "equivalent"):
            assert list(verdict_case) == [], cell.id
            seen.add("pass")
    assert seen == {"error", "failure", "pass"}  # the fixture covers all three


def test_a_failed_load_is_a_failure_of_the_cell_and_of_its_probe(tmp_path: Path) -> None:
    from fakes import FakeBackend, load_failed
    from test_run import REF, cell_id, write_matrix

    from driftmatrix.run import Runner, RunOptions
    from driftmatrix.spec import load_matrix

    matrix = write_matrix(tmp_path / "m", (REF, "1.6.1"))
    backend = FakeBackend({cell_id("1.6.1"): load_failed()})
    results = Runner(
        load_matrix(matrix), RunOptions(out_dir=tmp_path / "out"), {"venv": backend}, tmp_path / "c"
    ).run()
    text = render(results, "junit")
    SCHEMA.validate(text)
    root = ET.fromstring(text.encode("utf-8"))
    assert root.get("failures") == "2"  # the cell's verdict and its failed load probe
    failed = root.find(
        f"testsuite[@name='{cell_id('1.6.1')}']/testcase[@name='probe:load']/failure"
    )
    assert failed is not None and failed.get("type") == "UnpicklingError"
