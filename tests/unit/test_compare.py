"""compare.py: labels exactly, scores with atol/rtol, bit identity, shapes, methods, packages."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftmatrix.compare import MAX_LABEL_ROWS, MAX_SCORE_ROWS, compare
from driftmatrix.comparison import Comparison, Observation, Ratio, Tolerances
from driftmatrix.outcome import Verdict
from driftmatrix.packages import canonical_name, diff_packages
from driftmatrix.results import CellResult
from driftmatrix.spec import CompareSpec

EXACT = Tolerances(atol=0.0, rtol=0.0)
KINDS = {"predict": "labels", "predict_proba": "scores", "decision_function": "scores"}


def observe(
    methods: dict[str, Any], *, kinds: dict[str, str] | None = None, **extra: Any
) -> Observation:
    """An observation as the runner reports it; ``kinds`` default to a classifier's."""
    kinds = KINDS if kinds is None else kinds
    n = len(next(iter(methods.values()))) if methods else 0
    outputs = {
        "row_ids": [f"r{i + 1:03d}" for i in range(n)],
        "tags": ["boundary" if i % 2 else "" for i in range(n)],
        "classes": [0, 1],
        "methods": methods,
        **extra,
    }
    probe_methods = {m: {"status": "ok", "kind": kinds[m]} for m in methods if m in kinds}
    return Observation(outputs, {"predict": {"status": "ok", "methods": probe_methods}})


def scores(ref: list[Any], cell: list[Any], policy: Tolerances = EXACT) -> Comparison:
    return compare(
        observe({"predict_proba": ref}),
        observe({"predict_proba": cell}),
        policy,
        reference_id="ref",
    )


# --- identical, equivalent, drift ---------------------------------------------------------------


def test_same_outputs_are_identical() -> None:
    obs = observe({"predict": [0, 1, 1], "predict_proba": [[0.9, 0.1], [0.2, 0.8], [0.4, 0.6]]})
    result = compare(obs, obs, EXACT, reference_id="ref")
    assert result.identical and not result.drifted
    doc = result.to_json()
    assert doc["reference"] == "ref"
    assert doc["labels"]["identical"] and doc["scores"]["identical"]
    assert doc["labels"]["flipped"] == 0 and doc["labels"]["total"] == 3
    assert doc["scores"]["beyond"] == 0 and doc["scores"]["max_abs"] == 0.0


def test_flipped_labels_are_listed_by_row_id_and_tag_with_per_class_counts() -> None:
    ref = observe({"predict": [0, 1, 1, 0]})
    cell = observe({"predict": [0, 0, 1, 1]})
    labels = compare(ref, cell, EXACT, reference_id="ref").to_json()["labels"]
    assert labels["method"] == "predict"
    assert (labels["flipped"], labels["total"], labels["identical"]) == (2, 4, False)
    assert labels["rows"] == [
        {"row": "r002", "tag": "boundary", "reference": 1, "cell": 0},
        {"row": "r004", "tag": "boundary", "reference": 0, "cell": 1},
    ]
    assert labels["per_class"] == {
        "0": {"reference": 2, "cell": 2},
        "1": {"reference": 2, "cell": 2},
    }


def test_flipped_rows_are_capped_but_the_count_is_exact() -> None:
    n = MAX_LABEL_ROWS + 25
    result = compare(observe({"predict": [0] * n}), observe({"predict": [1] * n}), EXACT)
    assert result.labels is not None
    assert result.labels.flipped == n and len(result.labels.rows) == MAX_LABEL_ROWS
    assert result.labels.per_class == (("0", n, 0), ("1", 0, n))


@pytest.mark.parametrize(
    ("ref", "cell"),
    [(1, 1.0), (1, "1"), (1, True), ("yes", "Yes"), (0.0, -0.0)],
    ids=["int-float", "int-str", "int-bool", "case", "signed-zero"],
)
def test_labels_compare_value_and_json_type(ref: Any, cell: Any) -> None:
    result = compare(observe({"predict": [ref]}), observe({"predict": [cell]}), EXACT)
    assert result.labels is not None and result.labels.flipped == 1 and result.drifted


def test_scores_within_tolerance_are_equivalent_not_identical() -> None:
    result = scores([[0.1, 0.9]], [[0.1 + 1e-16, 0.9]], Tolerances(atol=1e-9))
    assert not result.drifted and not result.identical
    assert result.scores is not None and result.scores.beyond == 0
    assert result.scores.max_abs == pytest.approx(1.3877787807814457e-17)


def test_scores_beyond_tolerance_drift_with_rows_and_maxima() -> None:
    result = scores([[0.5, 0.5], [0.2, 0.8], [1.0, 0.0]], [[0.5, 0.5], [0.25, 0.75], [1.0, 0.0]])
    assert result.drifted
    doc = result.to_json()["scores"]
    method = doc["methods"]["predict_proba"]
    assert (doc["beyond"], doc["total"], method["beyond"]) == (1, 3, 1)
    assert method["max_abs"] == pytest.approx(0.05)
    assert method["max_rel"] == pytest.approx(0.25)  # 0.05 / |0.2|
    assert method["rows"] == [
        {"row": "r002", "tag": "boundary", "reference": [0.2, 0.8], "cell": [0.25, 0.75],
         "abs": pytest.approx(0.05)},
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("ref", "cell", "atol", "rtol", "within"),
    [
        (2.0, 2.5, 0.0, 0.25, True),  # |a-b| == rtol*|ref| is within (<=, like numpy.isclose)
        (2.0, 2.5, 0.0, 0.2, False),
        (2.5, 2.0, 0.0, 0.2, True),  # relative to the *reference*, not symmetric
        (1.0, 1.5, 0.5, 0.0, True),
        (1.0, 1.5, 0.25, 0.25, True),  # atol + rtol*|ref|
        (1.0, 1.5, 0.25, 0.2, False),
    ],
)
def test_tolerance_is_atol_plus_rtol_times_reference(
    ref: float, cell: float, atol: float, rtol: float, within: bool
) -> None:
    result = scores([ref], [cell], Tolerances(atol=atol, rtol=rtol))
    assert result.drifted is not within


def test_signed_zero_is_within_tolerance_but_not_bit_identical() -> None:
    result = scores([0.0], [-0.0])
    assert not result.drifted and not result.identical


def test_int_and_float_scores_are_equal_within_tolerance_but_not_identical() -> None:
    result = scores([1], [1.0])
    assert not result.drifted and not result.identical


# --- non-finite values ---------------------------------------------------------------------------


def test_nan_at_the_same_position_is_equal_and_identical() -> None:
    result = scores([[math.nan, 1.0]], [[math.nan, 1.0]])
    assert result.identical and not result.drifted


def test_nan_against_a_number_is_beyond_with_infinite_difference() -> None:
    result = scores([[0.5, 0.5]], [[0.5, math.nan]], Tolerances(atol=1.0))
    assert result.drifted
    doc = result.to_json()
    assert doc["scores"]["max_abs"] == "inf"
    assert doc["scores"]["methods"]["predict_proba"]["rows"][0]["cell"] == [0.5, "nan"]
    json.dumps(doc, allow_nan=False)  # strict JSON


@pytest.mark.parametrize(
    ("ref", "cell", "drifted"),
    [(math.inf, math.inf, False), (-math.inf, -math.inf, False), (math.inf, -math.inf, True),
     (math.inf, 1e308, True), (1.0, math.inf, True)],
)  # fmt: skip
def test_infinities(ref: float, cell: float, drifted: bool) -> None:
    assert scores([ref], [cell], Tolerances(atol=1e300)).drifted is drifted


def test_max_rel_skips_a_zero_reference_but_atol_still_judges_it() -> None:
    result = scores([0.0, 0.5], [1e-17, 0.5], Tolerances(atol=1e-9))
    assert result.scores is not None
    assert result.scores.max_rel == 0.0 and not result.drifted
    assert scores([0.0], [1e-3], Tolerances(atol=1e-9)).drifted


def test_overflowing_difference_is_beyond() -> None:
    assert scores([1e308], [-1e308], Tolerances(atol=1e300)).drifted


def test_huge_integers_compare_exactly() -> None:
    assert not scores([10**400], [10**400]).drifted
    assert scores([10**400], [10**400 + 1]).drifted


# --- shapes --------------------------------------------------------------------------------------


def test_score_shape_mismatch_makes_every_row_beyond_and_says_so() -> None:
    result = scores([[0.5, 0.5], [0.1, 0.9]], [[0.5, 0.3, 0.2], [0.1, 0.8, 0.1]])
    assert result.drifted
    method = result.to_json()["scores"]["methods"]["predict_proba"]
    assert method["shape_mismatch"] == {"reference": [2, 2], "cell": [2, 3]}
    assert (method["beyond"], method["total"], method["max_abs"]) == (2, 2, None)
    assert result.to_json()["scores"]["max_abs"] is None


def test_label_row_count_mismatch_flips_every_reference_row() -> None:
    result = compare(observe({"predict": [0, 1, 1]}), observe({"predict": [0, 1]}), EXACT)
    assert result.labels is not None
    assert (result.labels.flipped, result.labels.total) == (3, 3)
    assert result.labels.rows[-1].cell is None
    assert result.to_json()["labels"]["shape_mismatch"] == {"reference": [3], "cell": [2]}


def test_ragged_outputs_are_compared_element_by_element() -> None:
    assert not scores([[0.1], [0.2, 0.3]], [[0.1], [0.2, 0.3]]).drifted
    result = scores([[0.1], [0.2, 0.3]], [[0.1], [0.2]])
    assert result.drifted
    assert result.to_json()["scores"]["methods"]["predict_proba"]["shape_mismatch"] == {
        "reference": "ragged",
        "cell": [2, 1],
    }


# --- which methods, which kinds ------------------------------------------------------------------


def test_kind_comes_from_the_probe_record_so_a_regressor_predict_is_scores() -> None:
    kinds = {"predict": "scores"}
    ref = observe({"predict": [1.0, 2.0]}, kinds=kinds)
    cell = observe({"predict": [1.0 + 1e-12, 2.0]}, kinds=kinds)
    result = compare(ref, cell, Tolerances(atol=1e-9))
    assert result.labels is None and result.scores is not None
    assert not result.drifted and not result.identical


def test_kind_is_inferred_from_values_without_a_probe_record() -> None:
    ref = Observation({"methods": {"predict": [1, 2], "transform": [[0.5], [0.25]]}})
    result = compare(ref, ref, EXACT, reference_id="ref")
    assert result.labels is not None and result.labels.method == "predict"
    assert result.scores is not None and [m.method for m in result.scores.methods] == ["transform"]
    # Without row ids or tags, rows are numbered from 1 and untagged.
    cell = Observation({"methods": {"predict": [1, 3], "transform": [[0.5], [0.25]]}})
    row = compare(ref, cell, EXACT).to_json()["labels"]["rows"][0]
    assert (row["row"], row["tag"]) == ("2", "")


def test_further_label_methods_are_listed_under_others() -> None:
    kinds = {"predict": "labels", "transform": "labels"}
    ref = observe({"transform": ["a", "b"], "predict": [0, 1]}, kinds=kinds)
    cell = observe({"transform": ["a", "c"], "predict": [0, 1]}, kinds=kinds)
    result = compare(ref, cell, EXACT)
    doc = result.to_json()["labels"]
    assert doc["method"] == "predict" and doc["flipped"] == 0
    assert [(o["method"], o["flipped"]) for o in doc["others"]] == [("transform", 1)]
    assert result.drifted


def test_missing_method_is_drift_and_extra_method_is_not() -> None:
    ref = observe({"predict": [0, 1], "predict_proba": [[1.0, 0.0], [0.0, 1.0]]})
    cell = observe({"predict": [0, 1], "decision_function": [-1.0, 1.0]})
    result = compare(ref, cell, EXACT)
    assert result.missing == ("predict_proba",) and result.extra == ("decision_function",)
    assert result.drifted and result.methods_differ and not result.identical
    assert result.to_json()["methods"] == {
        "missing": ["predict_proba"],
        "extra": ["decision_function"],
    }
    only_extra = compare(observe({"predict": [0, 1]}), cell, EXACT)
    assert only_extra.identical and not only_extra.drifted and only_extra.methods_differ


def test_a_method_that_raised_in_the_cell_is_not_missing() -> None:
    ref = observe({"predict": [0, 1], "predict_proba": [[1.0, 0.0], [0.0, 1.0]]})
    cell = observe({"predict": [0, 1]})
    failed = {"status": "failed", "error": {"type": "AttributeError", "message": "x"}}
    probes = {"predict": {"status": "failed", "methods": {"predict_proba": failed}}}
    cell = Observation(cell.outputs, probes)
    assert compare(ref, cell, EXACT).missing == ()


def test_score_rows_are_capped_and_the_summary_counts_distinct_rows() -> None:
    n = MAX_SCORE_ROWS + 5
    ref = observe({"predict_proba": [[0.0]] * n, "decision_function": [0.0] * n})
    cell = observe({"predict_proba": [[1.0]] * n, "decision_function": [1.0] * n})
    result = compare(ref, cell, EXACT)
    assert result.scores is not None
    assert all(len(m.rows) == MAX_SCORE_ROWS and m.beyond == n for m in result.scores.methods)
    assert (result.scores.beyond, result.scores.total) == (n, n)


# --- packages, ratios, inputs --------------------------------------------------------------------


def test_packages_diff_by_canonical_name_including_transitive() -> None:
    diff = diff_packages(
        {"Scikit_Learn": "1.3.2", "numpy": "1.26.4", "scipy": "1.11.4", "joblib": "1.3.2"},
        {"scikit-learn": "1.5.2", "NumPy": "1.26.4", "joblib": "1.3.2", "narwhals": "1.9.0"},
    )
    assert diff.to_json() == {
        "changed": {"scikit-learn": ["1.3.2", "1.5.2"]},
        "added": {"narwhals": "1.9.0"},
        "removed": {"scipy": "1.11.4"},
    }
    assert canonical_name("zope.Interface__x") == "zope-interface-x"


def test_ratio_slots() -> None:
    assert Ratio(reference=1.0, cell=2.5, limit=2.0).exceeded
    assert not Ratio(reference=1.0, cell=2.0, limit=2.0).exceeded
    assert Ratio(reference=0.0, cell=2.0, limit=2.0).to_json()["ratio"] is None
    assert not Ratio(reference=1.0, cell=9.0, limit=None).exceeded
    obs = observe({"predict": [0]})
    doc = compare(obs, obs, EXACT).to_json()
    assert doc["latency"] is None and doc["memory"] is None


@pytest.mark.parametrize("field", ["atol", "rtol", "latency_ratio", "memory_ratio"])
@pytest.mark.parametrize("value", [-1.0, math.nan, math.inf])
def test_tolerances_reject_nonsense(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        Tolerances(**{field: value})


def test_cell_results_can_be_compared_directly_with_the_matrix_policy() -> None:
    def cell(cid: str, proba: list[list[float]]) -> CellResult:
        obs = observe({"predict_proba": proba})
        return CellResult(
            id=cid, backend="venv", python="3.12", packages={}, installed={"numpy": "2.1.3"},
            limits={}, verdict=Verdict.NOT_COMPARED, probes=obs.probes, outputs=obs.outputs,
        )  # fmt: skip

    result = compare(cell("ref", [[0.5, 0.5]]), cell("c", [[0.5, 0.5 + 1e-12]]), CompareSpec())
    assert result.reference == "ref" and not result.drifted and not result.identical


def test_nothing_to_compare_without_outputs() -> None:
    with pytest.raises(ValueError, match="predicted"):
        compare(Observation(None), observe({"predict": [0]}), EXACT)


def test_json_form_survives_a_file_round_trip() -> None:
    result = scores([[math.nan, 0.5, -math.inf]], [[0.1, 0.5, math.inf]])
    doc = result.to_json()
    assert json.loads(json.dumps(doc, allow_nan=False)) == doc


# --- properties ----------------------------------------------------------------------------------

finite = st.floats(allow_nan=False, allow_infinity=False, width=64, min_value=-1e6, max_value=1e6)
anything = st.floats(width=64)


@given(st.lists(st.lists(anything, min_size=2, max_size=2), min_size=1, max_size=20))
def test_anything_compared_with_itself_is_identical(rows: list[list[float]]) -> None:
    assert scores(rows, rows).identical


# No deadline: its first example imports numpy, which can take longer than any per-example limit.
@settings(deadline=None)
@given(
    st.lists(st.tuples(finite, finite), min_size=1, max_size=30),
    st.sampled_from([0.0, 1e-9, 1e-3]),
    st.sampled_from([0.0, 1e-7, 0.1]),
)
def test_rows_beyond_agree_with_numpy_isclose(
    pairs: list[tuple[float, float]], atol: float, rtol: float
) -> None:
    np = pytest.importorskip("numpy")
    ref, cell = [p[0] for p in pairs], [p[1] for p in pairs]
    result = scores(ref, cell, Tolerances(atol=atol, rtol=rtol))
    expected = int((~np.isclose(cell, ref, atol=atol, rtol=rtol, equal_nan=True)).sum())
    assert result.scores is not None and result.scores.beyond == expected


def test_skops_audits_that_differ_are_listed() -> None:
    from driftmatrix.auditdiff import diff_audit

    ref = {"load": {"status": "ok", "untrusted_types": ["numpy.int64"]}}
    cell = {"load": {"status": "ok", "untrusted_types": ["sklearn.tree._tree.Tree"]}}
    diff = diff_audit(ref, cell)
    assert diff is not None and diff.differs
    assert diff.to_json() == {"added": ["sklearn.tree._tree.Tree"], "removed": ["numpy.int64"]}
    assert diff_audit(ref, ref) is not None and not diff_audit(ref, ref).differs  # type: ignore[union-attr]
    assert diff_audit(ref, {"load": {"status": "ok"}}) is None
