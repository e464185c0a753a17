"""review.py, bisect.py and report/review.py over a FakeBackend (tests/unit/fakes.py).

The locks are real values, the runs are real Runner runs (screening, verdicts, comparisons,
files); only the cells are played by the fake. Cell ids are the review's: ``base``, ``head``,
``only-<package>-<old>-to-<new>`` and ``revert-<package>-<new>-to-<old>``.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from fakes import PROBA, FakeBackend, Scenario, healthy, load_failed

from driftmatrix.artifactspec import ArtifactSpec
from driftmatrix.bisect import Bisection, Direction, bisect
from driftmatrix.errors import BuildError
from driftmatrix.lockdiff import Change, diff_locks
from driftmatrix.lockfile import Lock, Pin
from driftmatrix.outcome import Verdict
from driftmatrix.report._fit import GITHUB_LIMIT
from driftmatrix.report.review import Review, render
from driftmatrix.review import (
    IMPORTED,
    OUTCOMES,
    Outcome,
    ReviewRun,
    Setup,
    base_and_head,
    judge,
)
from driftmatrix.run import Runner, RunOptions

GOLDEN = (
    "row_id,tag,x,label\nr1,,1.0,0\nr2,missing-value,,1\nr3,extreme,1e300,0\nr4,class-1,2.5,1\n"
)
BASE = {"numpy": "1.24.4", "scikit-learn": "1.2.2", "scipy": "1.10.1", "beautifulsoup4": "4.12.3"}
HEAD = {"numpy": "1.26.4", "scikit-learn": "1.3.2", "scipy": "1.11.4", "beautifulsoup4": "4.12.3"}
DTYPE = "node array from the pickle has an incompatible dtype"


def lock(label: str, versions: dict[str, str], direct: tuple[str, ...] = ("scikit-learn",)) -> Lock:
    pins = tuple(
        Pin(n, v, n in direct, f"{label}:{i}") for i, (n, v) in enumerate(versions.items())
    )
    return Lock(label, "requirements", "3.11", tuple(sorted(pins, key=lambda p: p.name)))


def setup(tmp_path: Path) -> Setup:
    (tmp_path / "model.joblib").write_bytes(b"not a pickle: the host never deserializes it\n")
    (tmp_path / "golden.csv").write_text(GOLDEN, encoding="utf-8")
    artifact = ArtifactSpec(
        mode="load",
        path=tmp_path / "model.joblib",
        format="joblib",
        recipe=None,
        golden=tmp_path / "golden.csv",
        target="label",
    )
    return Setup(artifact=artifact, python="3.11")


def only(name: str) -> str:
    return f"only-{name}-{BASE[name]}-to-{HEAD[name]}"


def revert(name: str) -> str:
    return f"revert-{name}-{HEAD[name]}-to-{BASE[name]}"


def drifted() -> Scenario:
    return healthy(labels=(1, 1, 0, 1), proba=PROBA)


def review(
    tmp_path: Path, backend: FakeBackend, base: dict[str, str] = BASE, head: dict[str, str] = HEAD
) -> tuple[Setup, tuple[Lock, Lock], tuple[Change, ...], ReviewRun, RunOptions]:
    the_setup = setup(tmp_path)
    locks = (lock("base.txt", base), lock("head.txt", head))
    options = RunOptions(out_dir=tmp_path / "out", jobs=2, imported=IMPORTED)
    backends = {"venv": backend}
    results = Runner(base_and_head(the_setup, *locks), options, backends, tmp_path).run()
    return the_setup, locks, diff_locks(*locks), judge(results), options


def run_bisect(tmp_path: Path, backend: FakeBackend) -> tuple[Bisection, ReviewRun]:
    the_setup, locks, changes, judged, options = review(tmp_path, backend)
    found, _ = bisect(
        the_setup, locks, changes, judged, options, {"venv": backend}, tmp_path
    )
    return found, judged


def test_every_verdict_has_one_review_word() -> None:
    assert set(OUTCOMES) == set(Verdict)
    assert {OUTCOMES[v] for v in (Verdict.IDENTICAL, Verdict.EQUIVALENT)} == {Outcome.SAFE}
    assert OUTCOMES[Verdict.DRIFT] is Outcome.DRIFT
    for verdict in (Verdict.LOAD_ERROR, Verdict.PREDICT_ERROR, Verdict.OOM, Verdict.TIMEOUT):
        assert OUTCOMES[verdict] is Outcome.BREAKS
    assert OUTCOMES[Verdict.BUILD_ERROR] is Outcome.UNKNOWN


def test_base_is_the_reference_and_cells_pin_every_package(tmp_path: Path) -> None:
    backend = FakeBackend({"head": load_failed("ValueError", DTYPE)})
    _, _, changes, judged, _ = review(tmp_path, backend)
    assert judged.outcome is Outcome.BREAKS
    assert judged.results.reference == "base"
    assert judged.base is not None and judged.base.verdict is Verdict.IDENTICAL
    assert judged.head is not None and dict(judged.head.packages) == HEAD
    assert [c.name for c in changes] == ["scikit-learn", "numpy", "scipy"]
    # The imports probe checks the model libraries, not beautifulsoup4 (imported as bs4).
    assert set(backend.jobs["head"]["imports"]) == {"numpy", "scikit-learn", "scipy"} <= IMPORTED


def test_a_failing_base_gives_no_verdict(tmp_path: Path) -> None:
    backend = FakeBackend({"base": load_failed(), "head": drifted()})
    _, _, _, judged, _ = review(tmp_path, backend)
    assert judged.outcome is Outcome.UNKNOWN


def test_bisect_names_the_culprit_not_what_cannot_be_installed_alone(tmp_path: Path) -> None:
    backend = FakeBackend(
        {
            "head": load_failed("ValueError", DTYPE),
            only("scikit-learn"): load_failed("ValueError", DTYPE),
            only("scipy"): Scenario(raises=BuildError("scipy==1.11.4 depends on numpy>=1.25")),
        }
    )
    found, judged = run_bisect(tmp_path, backend)
    assert found.target is Outcome.BREAKS
    assert [c.name for c in found.culprits] == ["scikit-learn"]
    assert [c.name for c in found.not_installable] == ["scipy"]
    outcomes = {t.change.name: t.outcome for t in found.stage(Direction.ALONE)}
    assert outcomes == {
        "scikit-learn": Outcome.BREAKS,
        "numpy": Outcome.SAFE,
        "scipy": Outcome.UNKNOWN,
    }
    assert not found.reverse_ran and not any(c.startswith("revert-") for c in backend.provisioned)
    text = render(Review(*_locks(), diff_locks(*_locks()), judged, found, True))
    assert text.startswith("## driftmatrix review: ❌ breaks\n")
    cause = next(line for line in text.splitlines() if line.startswith("**Cause**"))
    assert "scikit-learn 1.2.2 → 1.3.2** alone: load-error: ValueError: node array" in cause
    assert "Not installable alone, so not tried alone: scipy" in cause
    assert (
        "| scipy 1.10.1 → 1.11.4 | alone on the base | `build-error` | not installable alone |"
        in text
    )


def test_bisect_reverses_when_no_change_alone_does_it(tmp_path: Path) -> None:
    # Drift only with numpy and scipy together: each alone is identical; taking either back
    # from the head avoids it, taking scikit-learn back does not.
    backend = FakeBackend({"head": drifted(), revert("scikit-learn"): drifted()})
    found, judged = run_bisect(tmp_path, backend)
    assert found.target is Outcome.DRIFT and found.culprits == () and found.reverse_ran
    assert sorted(c.name for c in found.needed) == ["numpy", "scipy"]
    assert backend.provisioned.count("base") == 2  # once for the review, once for the bisect
    assert len(found.trials) == 6
    text = render(Review(*_locks(), diff_locks(*_locks()), judged, found, True))
    assert "it takes these together" in text and "numpy, scipy" in text


def _locks() -> tuple[Lock, Lock]:
    return lock("base.txt", BASE), lock("head.txt", HEAD)


def test_one_change_is_its_own_culprit_without_a_cell(tmp_path: Path) -> None:
    backend = FakeBackend({"head": load_failed("ValueError", DTYPE)})
    head = {**BASE, "scikit-learn": "1.3.2"}
    the_setup, locks, changes, judged, options = review(tmp_path, backend, head=head)
    found, results = bisect(the_setup, locks, changes, judged, options, {"venv": backend}, tmp_path)
    assert results is None and [c.name for c in found.culprits] == ["scikit-learn"]
    assert backend.provisioned == ["base", "head"]
    text = render(Review(*locks, changes, judged, found, True))
    assert "scikit-learn 1.2.2 → 1.3.2 is the only change" in text


def test_safe_review_and_its_json(tmp_path: Path) -> None:
    _, locks, changes, judged, _ = review(tmp_path, FakeBackend())
    found = Review(*locks, changes, judged, None, bisect_requested=True)
    text = render(found)
    assert text.startswith("## driftmatrix review: ✅ safe\n")
    assert "`--bisect` had nothing to look for: the head is safe." in text
    doc = json.loads(json.dumps(found.to_json()))
    assert doc["outcome"] == "safe" and doc["cells"] == {"base": "identical", "head": "identical"}
    assert [c["name"] for c in doc["changes"]] == ["scikit-learn", "numpy", "scipy"]


def test_the_comment_fits_and_escapes_what_cells_say(tmp_path: Path) -> None:
    hostile = "<script>alert(1)</script> | ` **bold** " + "x" * 5000
    base = {f"pkg{i:03d}": "1.0" for i in range(400)}
    head = {f"pkg{i:03d}": "2.0" for i in range(400)}
    backend = FakeBackend({"head": load_failed("ValueError", hostile)})
    _, locks, changes, judged, _ = review(tmp_path, backend, base=base, head=head)
    text = render(Review(*locks, changes, judged))
    assert len(text) <= GITHUB_LIMIT
    assert text.startswith("## driftmatrix review: ❌ breaks\n")
    assert "<script>" not in text
    assert "350 more packages left out; review.json has them" in text
    assert "### Evidence: the base and head cells" in text


def test_the_cells_report_nests_under_the_evidence_heading(tmp_path: Path) -> None:
    """The embedded run report's headings sit below "Evidence" (a ``##`` title under a ``###``
    would outrank it), and a message starting with ``#`` is text, not a heading."""
    backend = FakeBackend({"head": load_failed("ValueError", "# not a heading\n## nor this")})
    _, locks, changes, judged, _ = review(tmp_path, backend)
    text = render(Review(*locks, changes, judged))
    headings = [line for line in text.splitlines() if line.startswith("#")]
    evidence = headings.index("### Evidence: the base and head cells")
    assert headings[evidence + 1] == "#### driftmatrix: review"
    assert all(line.startswith("####") for line in headings[evidence + 1 :]), headings
    assert not any("not a heading" in line or "nor this" in line for line in headings)


def test_nothing_changed() -> None:
    base = lock("a.txt", BASE)
    text = render(Review(base, base, (), None))
    assert text.startswith("## driftmatrix review: ✅ safe\n")
    assert "Nothing to review: both lock files install the same versions." in text


@pytest.mark.parametrize("missing_side", ["base", "head"])
def test_a_lost_cell_gives_no_verdict(tmp_path: Path, missing_side: str) -> None:
    _, _, _, judged, _ = review(tmp_path, FakeBackend())
    results = judged.results
    kept = tuple(c for c in results.cells if c.id != missing_side)
    assert judge(replace(results, cells=kept)).outcome is Outcome.UNKNOWN
