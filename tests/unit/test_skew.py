"""skew.py: the first pipeline step whose output differs from the reference's."""

from __future__ import annotations

from typing import Any

from driftmatrix.skew import compare_steps


def step(
    name: str, values: list[list[float]] | None, cls: str = "pkg.Scaler", **extra: Any
) -> dict[str, Any]:
    """A step record as the steps probe writes it (hashes derived from the values)."""
    record: dict[str, Any] = {"step": name, "class": cls, **extra}
    if values is not None:
        record["shape"] = [len(values), len(values[0])]
        record["columns"] = [repr([row[i] for row in values]) for i in range(len(values[0]))]
        record["values"] = values
    return record


def probes(*steps: dict[str, Any], applies: bool = True) -> dict[str, Any]:
    return {"steps": {"status": "ok", "applies": applies, "steps": list(steps)}}


def test_identical_steps_have_no_first_difference() -> None:
    one = probes(step("scale", [[1.0, 2.0]]), step("enc", [[0.0, 1.0]], "pkg.Encoder"))
    diff = compare_steps(one, one, 1e-9, 0.0)
    assert diff is not None and diff.first_difference is None
    assert [s.status for s in diff.steps] == ["identical", "identical"]


def test_the_first_step_beyond_tolerance_is_named() -> None:
    ref = probes(step("scale", [[1.0, 2.0]]), step("enc", [[0.0, 1.0, 5.0]], "pkg.OneHot"))
    cell = probes(step("scale", [[1.0, 2.0]]), step("enc", [[0.5, 1.0, 4.0]], "pkg.OneHot"))
    diff = compare_steps(ref, cell, 1e-9, 0.0)
    assert diff is not None and diff.first_difference is not None
    assert diff.first_difference.step == "enc"
    assert diff.first_difference.differing == 2 and diff.first_difference.max_abs == 1.0
    assert diff.summary == "scale (Scaler) identical, enc (OneHot) differs in 2 of 3 columns"


def test_differences_within_tolerance_are_equivalent() -> None:
    ref = probes(step("scale", [[1.0, 2.0]]))
    cell = probes(step("scale", [[1.0 + 1e-12, 2.0]]))
    diff = compare_steps(ref, cell, 1e-9, 0.0)
    assert diff is not None and [s.status for s in diff.steps] == ["equivalent"]
    assert diff.first_difference is None


def test_without_values_hashes_decide() -> None:
    ref = probes(step("big", None, shape=[5, 2], columns=["a", "b"]))
    cell = probes(step("big", None, shape=[5, 2], columns=["a", "c"]))
    diff = compare_steps(ref, cell, 1e-9, 0.0)
    assert diff is not None and diff.steps[0].status == "differs" and diff.steps[0].differing == 1


def test_shape_errors_missing_and_new_steps() -> None:
    ref = probes(
        step("a", [[1.0]]),
        step("b", None, error={"type": "ValueError"}),
        step("gone", [[1.0]]),
    )
    cell = probes(
        step("a", [[1.0, 2.0]]),
        step("b", [[1.0]]),
        step("added", [[1.0]]),
    )
    diff = compare_steps(ref, cell, 1e-9, 0.0)
    assert diff is not None
    assert [(s.step, s.status) for s in diff.steps] == [
        ("a", "shape"),
        ("b", "error"),
        ("gone", "missing"),
        ("added", "new"),
    ]


def test_no_comparison_unless_both_sides_recorded_steps() -> None:
    one = probes(step("a", [[1.0]]))
    assert compare_steps(one, probes(applies=False), 1e-9, 0.0) is None
    assert compare_steps({}, one, 1e-9, 0.0) is None
