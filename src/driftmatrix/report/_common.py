"""What every human-readable report says the same way: counts, outcome, reasons, numbers.

Reports read only a :class:`~driftmatrix.results.RunResults` (results.json): a cell's comparison
is the JSON mapping written by :meth:`driftmatrix.comparison.Comparison.to_json`, so every reader
here is defensive about missing keys and about ``"inf"``/``"nan"`` written as strings.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from driftmatrix.errors import EXIT_FINDING, EXIT_INFRA
from driftmatrix.outcome import DEFAULT_FAIL_ON, Flag, Verdict
from driftmatrix.packages import canonical_name
from driftmatrix.results import CellResult, RunResults
from driftmatrix.verdict import exit_code

#: One plain sentence per verdict, for readers who have never seen the tool.
VERDICT_MEANING: Mapping[Verdict, str] = {
    Verdict.INFRA_ERROR: "the tool or its backend failed; the cell produced no result",
    Verdict.BUILD_ERROR: "the environment could not be built (pins unresolvable, no wheel)",
    Verdict.TIMEOUT: "stopped at its time limit",
    Verdict.OOM: "killed by its memory limit",
    Verdict.REJECTED: "the model file references code outside `trusted`; it was never loaded",
    Verdict.IMPORT_ERROR: "the pinned libraries fail to import together",
    Verdict.LOAD_ERROR: "the model file failed to load",
    Verdict.PREDICT_ERROR: "the model loaded, but a prediction method raised",
    Verdict.NOT_COMPARED: "ran, but the reference cell failed, so there is nothing to compare with",
    Verdict.DRIFT: "predictions differ from the reference beyond tolerance",
    Verdict.EQUIVALENT: "predictions differ from the reference only within tolerance",
    Verdict.IDENTICAL: "predictions are bit-identical to the reference",
}

#: One plain sentence per flag.
FLAG_MEANING: Mapping[Flag, str] = {
    Flag.VERSION_WARNING: "scikit-learn warned that the model was saved with another version",
    Flag.LOAD_WARNING: "warnings while loading the model",
    Flag.TRAIN_WARNING: "warnings while the recipe fitted the model (train mode)",
    Flag.PREDICT_WARNING: "warnings while predicting",
    Flag.ROUNDTRIP_DIFFERS: "saving and re-loading the model in this cell changed its outputs",
    Flag.ROUNDTRIP_FAILED: "saving or re-loading the model in this cell failed",
    Flag.PARITY_DIFFERS: "converted to ONNX here (skl2onnx), onnxruntime predicts otherwise",
    Flag.SLOWER: "slower than the reference beyond `latency_ratio`",
    Flag.HEAVIER: "needs more memory than the reference beyond `memory_ratio`",
    Flag.CONTRACT_CHANGED: "behaves differently from the reference on bad inputs",
    Flag.LIMITS_NOT_ENFORCED: "a requested resource limit was not enforced by this backend",
    Flag.METHODS_DIFFER: "offers other prediction methods than the reference",
}


def fail_on(results: RunResults) -> tuple[Verdict, ...]:
    """The ``fail_on`` policy recorded with the run (the default when none was)."""
    names = results.compare.get("fail_on")
    if not isinstance(names, list):
        return DEFAULT_FAIL_ON
    return tuple(v for v in Verdict if v.value in names)


def counts(results: RunResults) -> list[tuple[Verdict, int]]:
    """How many cells ended with each verdict, best first (identical … infra-error)."""
    found = [cell.verdict for cell in results.cells]
    return [(v, found.count(v)) for v in reversed(Verdict) if v in found]


def summary_line(results: RunResults) -> str:
    """``7 cells: 2 identical, 1 equivalent, 2 drift, 1 load-error, 1 build-error``."""
    total = len(results.cells)
    parts = ", ".join(f"{n} {v.value}" for v, n in counts(results))
    return f"{total} cell{'s' if total != 1 else ''}: {parts}" if parts else "no cells"


def outcome_line(results: RunResults) -> tuple[int, str]:
    """The run's exit code and a sentence saying what it means."""
    code = exit_code(results, fail_on(results))
    policy = fail_on(results)
    failing = [cell for cell in results.cells if cell.verdict in policy]
    broken = [cell for cell in results.cells if cell.verdict.is_infrastructure]
    if code == EXIT_FINDING:
        found = ", ".join(
            f"{n} {v.value}" for v, n in counts(results) if v in policy and not v.is_infrastructure
        )
        verb = "fails" if len(failing) == 1 else "fail"
        text = f"FAIL: {len(failing)} of {_cells(len(results.cells))} {verb} the policy ({found})"
        if broken:
            text += f"; {_cells(len(broken))} could not be built or run"
        return code, text
    if code == EXIT_INFRA:
        return code, (
            f"INFRASTRUCTURE ERROR: {_cells(len(broken))} could not be built or run; "
            "the others pass the policy"
        )
    uncompared = [cell for cell in results.cells if cell.verdict is Verdict.NOT_COMPARED]
    if uncompared:
        # A CI job's share (`run --shard`) ends here: nothing failed on its own, but no cell was
        # compared either, so "PASS" would claim more than anyone knows yet.
        return code, (
            f"NOT COMPARED: {_cells(len(uncompared))} ran without a comparison with the "
            "reference; nothing failed on its own (`driftmatrix merge` this directory with the "
            "other jobs' to compare)"
        )
    return code, f"PASS: every cell passes the policy (fail_on: {_names(policy)})"


def reference_problem(results: RunResults) -> str | None:
    """The plain sentence saying the reference failed and nothing could be compared, if so."""
    reference = results.reference_result
    if reference is None:
        return (
            f"The reference cell {results.reference} is not in these results, "
            "so no other cell could be compared."
        )
    if reference.verdict.ran:
        return None
    return (
        f"The reference cell {reference.id} failed ({reference.verdict.value}), "
        "so no other cell could be compared."
    )


def pinned_packages(results: RunResults) -> list[str]:
    """Names of the packages the matrix pins, in the order the cells name them."""
    names: dict[str, None] = {}
    for cell in results.cells:
        names.update(dict.fromkeys(cell.packages))
    return list(names)


def version(cell: CellResult, name: str) -> str:
    """The version of ``name`` installed in ``cell``; the requested pin if nothing was installed."""
    installed = {canonical_name(k): v for k, v in cell.installed.items()}
    return str(installed.get(canonical_name(name)) or cell.packages.get(name) or "-")


def reuse_word(cell: CellResult) -> str | None:
    """``cached`` or ``resumed`` when this run reused the cell's result instead of running it."""
    return {"cache": "cached", "resume": "resumed"}.get(cell.reused or "")


def seconds(cell: CellResult) -> str:
    """A cell's wall time (when it ran), and whether this run reused its result."""
    word = reuse_word(cell)
    return f"{cell.seconds:.1f}" + (f" {word}" if word else "")


def flipped(cell: CellResult) -> str:
    """``3/120`` for a compared classifier, ``-`` otherwise."""
    labels = _mapping(_mapping(cell.comparison).get("labels"))
    if not labels:
        return "-"
    return f"{labels.get('flipped', 0)}/{labels.get('total', 0)}"


def max_abs(cell: CellResult) -> str:
    """The largest score difference, ``shape`` when a shape changed, ``-`` when not compared."""
    scores = _mapping(_mapping(cell.comparison).get("scores"))
    if not scores:
        return "-"
    methods = _mapping(scores.get("methods"))
    if any(_mapping(m).get("shape_mismatch") for m in methods.values()):
        return "shape"
    return number(scores.get("max_abs"))


def reason(cell: CellResult) -> str:
    """One line saying why a cell has its verdict (empty when there is nothing to add)."""
    if cell.error is not None:
        # A message may be empty (EOFError on an empty file): then the type says it all.
        return f"{cell.error.type}: {cell.error.message}" if cell.error.message else cell.error.type
    if cell.verdict is Verdict.NOT_COMPARED:
        return "not compared: the reference cell did not run to the end"
    return "; ".join(differences(_mapping(cell.comparison)))


def differences(comparison: Mapping[str, Any]) -> list[str]:
    """What differs from the reference, as short phrases (empty when nothing does)."""
    phrases: list[str] = []
    labels = _mapping(comparison.get("labels"))
    for diff in [labels, *map(_mapping, _list(labels.get("others")))] if labels else []:
        method, mismatch = diff.get("method", "predict"), _mapping(diff.get("shape_mismatch"))
        if mismatch:
            phrases.append(f"{method} output shape changed {_shape_change(mismatch)}")
        elif diff.get("flipped"):
            phrases.append(f"{diff['flipped']} of {diff.get('total')} labels flipped ({method})")
    for method, diff in _mapping(_mapping(comparison.get("scores")).get("methods")).items():
        diff = _mapping(diff)
        mismatch = _mapping(diff.get("shape_mismatch"))
        if mismatch:
            phrases.append(f"{method} output shape changed {_shape_change(mismatch)}")
        elif diff.get("beyond"):
            phrases.append(
                f"{method}: {diff['beyond']} of {diff.get('total')} rows beyond tolerance, "
                f"max abs diff {number(diff.get('max_abs'))}"
            )
    methods = _mapping(comparison.get("methods"))
    phrases.extend(f"{m} missing (the reference has it)" for m in _list(methods.get("missing")))
    phrases.extend(f"{m} only in this cell" for m in _list(methods.get("extra")))
    skew = _mapping(comparison.get("skew"))
    if phrases and skew.get("first_difference"):
        # Where the difference starts, when the model is a pipeline whose steps were recorded.
        phrases.append(f"pipeline: {skew.get('summary')}")
    return phrases


def coverage(results: RunResults) -> tuple[list[str], str | None]:
    """What the golden set misses (the reference cell's coverage probe), and its leaf share.

    Returns:
        ``(gaps, leaves)``: one sentence per gap, and "reaches 85% of the leaves (10 trees)" for
        tree models (None otherwise).
    """
    reference = results.reference_result
    record = _mapping(reference.probes.get("coverage")) if reference is not None else {}
    if record.get("status") != "ok":
        return [], None
    gaps = [str(gap) for gap in _list(record.get("gaps"))]
    leaves = _mapping(record.get("leaves"))
    share = leaves.get("share")
    text = None
    if isinstance(share, (int, float)):
        trees = leaves.get("trees")
        text = f"reaches {share:.0%} of the leaves" + (f" ({trees} trees)" if trees != 1 else "")
    return gaps, text


def finite(value: Any) -> float | None:
    """A finite number from results.json (which may say ``NaN`` or ``Infinity``), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def number(value: Any) -> str:
    """A difference for people: ``0``, ``2.22e-16``, ``0.0312``, ``inf``; ``-`` for None."""
    if value is None:
        return "-"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)  # "inf"/"nan" as results.json writes them
    return "0" if value == 0 else f"{value:.3g}"


def value_text(value: Any, limit: int = 60) -> str:
    """A model output value on one line (lists compact), shortened past ``limit`` characters."""
    text = value if isinstance(value, str) else json.dumps(value, separators=(", ", ": "))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def tolerance_text(results: RunResults) -> str | None:
    """``atol 1e-09, rtol 0`` from the recorded policy; None when none was recorded."""
    policy = results.compare
    scores = _mapping(policy.get("scores"))  # the matrix file's spelling: scores = {atol, rtol}
    atol = policy.get("atol", scores.get("atol"))
    rtol = policy.get("rtol", scores.get("rtol"))
    if atol is None and rtol is None:
        return None
    return f"atol {number(atol)}, rtol {number(rtol)}"


def _shape_change(mismatch: Mapping[str, Any]) -> str:
    return f"from {mismatch.get('reference')} to {mismatch.get('cell')}"


def _cells(n: int) -> str:
    return f"{n} cell{'s' if n != 1 else ''}"


def _names(verdicts: tuple[Verdict, ...]) -> str:
    return ", ".join(v.value for v in verdicts) or "nothing"


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
