"""The host's ONNX parts: float32-aware score tolerance, the parity flag, format support.

The float32 values below are real float32 numbers (one ulp apart, as onnxruntime with one and
two intra-op threads gives them: tests/integration/test_onnx.py measures it), written as the
runner writes them (their float64 ``repr``).
"""

from __future__ import annotations

import struct
from typing import Any

import pytest

from driftmatrix.compare import compare
from driftmatrix.comparison import Observation, Tolerances
from driftmatrix.outcome import Flag, Verdict
from driftmatrix.selection import SUPPORTED_FORMATS
from driftmatrix.tolerance import FLOAT32_TOLERANCE, for_method
from driftmatrix.verdict import decide


def f32(value: float) -> float:
    """``value`` rounded to float32, as a Python float (what ``tolist()`` of float32 gives)."""
    return float(struct.unpack("f", struct.pack("f", value))[0])


def next_f32(value: float) -> float:
    """The float32 right after ``value``: one ulp up."""
    (bits,) = struct.unpack("I", struct.pack("f", value))
    return float(struct.unpack("f", struct.pack("I", bits + 1))[0])


P = f32(0.85216117)
P_ULP = next_f32(P)


def observed(values: list[Any], dtype: str | list[str], labels: list[Any] | None = None) -> Any:
    """One cell's report: predict_proba of ``dtype`` (and labels when given)."""
    methods: dict[str, Any] = {"predict_proba": {"status": "ok", "kind": "scores", "dtype": dtype}}
    outputs: dict[str, Any] = {"predict_proba": values}
    if labels is not None:
        methods["predict"] = {"status": "ok", "kind": "labels", "dtype": "int64"}
        outputs["predict"] = labels
    return Observation({"methods": outputs}, probes={"predict": {"methods": methods}})


def test_one_float32_ulp_is_within_tolerance_but_not_identical() -> None:
    assert 0 < P_ULP - P < 1e-7  # an ulp of a value in [0.5, 1) is 2**-24
    comparison = compare(
        observed([[P, 1 - P]], "float32"), observed([[P_ULP, 1 - P]], "float32"), Tolerances()
    )
    assert comparison.scores is not None
    (method,) = comparison.scores.methods
    assert (method.beyond, method.identical, method.max_abs) == (0, False, P_ULP - P)
    assert not comparison.drifted and not comparison.identical
    doc = comparison.to_json()["scores"]["methods"]["predict_proba"]
    assert doc["atol"] == doc["rtol"] == FLOAT32_TOLERANCE == 4 * 2.0**-23


def test_the_same_difference_in_float64_is_drift() -> None:
    comparison = compare(
        observed([[P, 1 - P]], "float64"), observed([[P_ULP, 1 - P]], "float64"), Tolerances()
    )
    assert comparison.drifted
    assert "atol" not in comparison.to_json()["scores"]["methods"]["predict_proba"]


@pytest.mark.parametrize(
    ("reference", "cell"), [("float32", "float64"), ("float64", "float32"), ("float32", None)]
)
def test_a_change_of_dtype_keeps_the_matrix_tolerance(reference: str, cell: str | None) -> None:
    applied = for_method(
        Tolerances(),
        "predict_proba",
        observed([], reference).probes,
        observed([], cell).probes if cell else {},
    )
    assert (applied.atol, applied.rtol, applied.widened) == (1e-9, 0.0, False)


def test_float32_beyond_a_few_ulps_is_still_drift() -> None:
    comparison = compare(
        observed([[0.5]], "float32"), observed([[f32(0.5 + 1e-5)]], "float32"), Tolerances()
    )
    assert comparison.drifted


def test_a_looser_matrix_tolerance_is_kept() -> None:
    applied = for_method(
        Tolerances(atol=1e-3, rtol=1e-2),
        "predict_proba",
        observed([], "float32").probes,
        observed([], "float32").probes,
    )
    assert (applied.atol, applied.rtol, applied.widened) == (1e-3, 1e-2, False)


def test_multi_output_float32_parts_are_widened_only_when_all_are() -> None:
    both = observed([], ["float32", "float32"]).probes
    mixed = observed([], ["float32", "float64"]).probes
    assert for_method(Tolerances(), "predict_proba", both, both).widened
    assert not for_method(Tolerances(), "predict_proba", both, mixed).widened


def test_labels_of_a_float32_model_stay_exact() -> None:
    comparison = compare(
        observed([[P, 1 - P]], "float32", labels=[0]),
        observed([[P, 1 - P]], "float32", labels=[1]),
        Tolerances(),
    )
    assert comparison.labels is not None and comparison.labels.flipped == 1
    assert comparison.drifted


def runner_result(parity: dict[str, Any]) -> dict[str, Any]:
    ok = {"status": "ok", "seconds": 0.1, "warnings": []}
    return {
        "protocol": 1,
        "finished": True,
        "probes": {
            "environment": ok,
            "imports": ok,
            "load": ok,
            "predict": {**ok, "methods": {"predict": {"status": "ok", "kind": "labels"}}},
            "parity": parity,
        },
        "outputs": {"methods": {"predict": [0, 1]}},
        "error": None,
    }


@pytest.mark.parametrize(
    ("parity", "flagged"),
    [
        ({"status": "ok", "differs": ["predict_proba"]}, True),
        ({"status": "ok", "differs": []}, False),
        # A conversion that failed is a measurement that could not be made, not a difference.
        ({"status": "failed", "error": {"type": "RuntimeError", "message": "x"}}, False),
        ({"status": "skipped", "reason": "not installed in this cell: skl2onnx"}, False),
    ],
)
def test_parity_flags_but_never_decides(parity: dict[str, Any], flagged: bool) -> None:
    verdict, flags = decide(result=runner_result(parity))
    assert verdict is Verdict.NOT_COMPARED  # what any ran cell is before its comparison
    assert (Flag.PARITY_DIFFERS in flags) is flagged


def test_onnx_is_a_supported_format() -> None:
    assert "onnx" in SUPPORTED_FORMATS
