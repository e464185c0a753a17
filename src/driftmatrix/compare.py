"""Compare one cell's outputs with the reference cell's: labels, scores, methods, packages.

Pure functions over the JSON the in-cell runner reports (docs/runner-protocol.md); the host never
needs numpy. Decisions, so that every report and verdict means the same thing:

* **Which method is which.** A method's ``kind`` comes from the reference's ``predict`` probe
  record (then the cell's); without one, a method whose every leaf is a float is ``scores``,
  anything else ``labels`` (the runner's own rule). Only methods that succeeded on both sides are
  compared.
* **Labels** are compared exactly, value and JSON type: ``1`` vs ``1.0`` or ``1`` vs ``"1"`` is a
  flipped row, because a caller's ``pred == 1`` or dict lookup changes behaviour. The primary
  label method (``predict`` when it is labels) is ``labels`` in the JSON; other label-kind
  methods are listed under ``labels.others``.
* **Scores** are compared elementwise with ``|cell - ref| <= atol + rtol * |ref|``
  (``numpy.isclose`` with the reference as ``b``); at least a few float32 ulps when both sides
  are float32 (tolerance.py). ``beyond``/``total`` count *rows* (a row is beyond when any of
  its elements is); the summary over all score methods counts distinct rows.
* **Bit identity** (``identical``) is equality of ``float.hex`` and of the JSON type, so
  ``-0.0`` vs ``0.0`` and ``1`` vs ``1.0`` are within tolerance but *not* identical. The runner
  writes floats with their shortest round-trip ``repr``, so this is true bit identity (except NaN
  payloads, which JSON cannot carry).
* **Non-finite values.** NaN vs NaN at the same position is equal and identical; so is ``inf``
  vs ``inf`` of the same sign. NaN or ``inf`` against anything else, or a non-number against a
  different value, is beyond tolerance with an absolute and relative difference of ``inf``.
* **max_rel** is relative to ``|ref|`` and skips positions where the reference is 0 (the ratio is
  undefined there; a probability moving from 0.0 to 1e-17 would otherwise read "infinitely
  different"). Those positions are still judged by ``atol``. It is 0.0 when nothing was measured.
* **Shape mismatch** (different row count, column count, or nesting): every reference row counts
  as flipped/beyond, ``max_abs``/``max_rel`` are None (not measurable) and ``shape_mismatch``
  names both shapes.
* **Methods**: ``missing`` are methods the reference answered that the cell's estimator does not
  have at all (a method that *raised* in the cell is a predict failure, not "missing");
  ``extra`` are methods only the cell answered. A missing method is **drift**: its outputs are
  gone, the extreme case of a shape change, and a caller of it now gets ``AttributeError``.
  ``predict-error`` stays a fact about the cell alone (a method raised there). Extra methods do
  not make outputs non-identical; the verdict logic flags both as ``methods-differ``.
* **Packages** (packages.py): every installed distribution (transitive ones included) under
  its canonical PEP 503 name.
* **Latency and memory**: see resources.py (p50 at the largest batch both cells timed; peak RSS
  of loading and predicting); None when either side did not measure it, so no flag.
* **Contract** (contract.py): each bad-input case's classification (outcome, exception type,
  failed output checks; never the message) against the reference's.
* **skops' audit** (auditdiff.py): the types each cell's skops does not trust by default,
  added and removed against the reference's.
* **Feature skew** (skew.py): each pipeline step's output against the reference's step of the
  same name, with the score tolerance; the first step that differs is where a drift starts.
* **A sample for plots**: a score method that is not bit-identical (and keeps its shape) keeps
  the first value of up to ``MAX_SAMPLE_ROWS`` evenly spaced rows on both sides, because
  results.json has no raw outputs and the HTML report plots the reference against the cell.

The result is a :class:`~driftmatrix.comparison.Comparison` (comparison.py: the frozen values
and their JSON form).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import replace
from itertools import chain
from typing import Any, Protocol, TypeAlias

from driftmatrix.auditdiff import diff_audit
from driftmatrix.comparison import (
    Comparison,
    LabelDiff,
    RowDiff,
    ScoreDiff,
    Scores,
    Shape,
    ShapeMismatch,
)
from driftmatrix.contract import diff_contract
from driftmatrix.elementwise import SAME, bit_identical, combine
from driftmatrix.elementwise import diff as elementwise_diff
from driftmatrix.packages import diff_packages
from driftmatrix.resources import compare_latency, compare_memory
from driftmatrix.skew import compare_steps
from driftmatrix.tolerance import Tolerance, for_method

#: Flipped label rows kept in a comparison (the count is always exact).
MAX_LABEL_ROWS = 50
#: Rows beyond tolerance kept per score method.
MAX_SCORE_ROWS = 10
#: Rows sampled per score method that differs (their first value on both sides, for plots).
MAX_SAMPLE_ROWS = 100


class Policy(Protocol):
    """What ``compare`` needs from ``[compare]``; spec.py's ``CompareSpec`` satisfies it."""

    @property
    def atol(self) -> float: ...

    @property
    def rtol(self) -> float: ...

    @property
    def latency_ratio(self) -> float | None: ...

    @property
    def memory_ratio(self) -> float | None: ...


class Observed(Protocol):
    """What one cell reported; :class:`~driftmatrix.results.CellResult` satisfies it."""

    @property
    def outputs(self) -> Mapping[str, Any] | None: ...

    @property
    def probes(self) -> Mapping[str, Any]: ...

    @property
    def installed(self) -> Mapping[str, str]: ...


def compare(
    reference: Observed, cell: Observed, policy: Policy, *, reference_id: str | None = None
) -> Comparison:
    """Compare a cell with the reference cell.

    Args:
        reference: What the reference cell reported (a ``CellResult`` or an ``Observation``).
        cell: What the cell under comparison reported.
        policy: Tolerances (``atol``, ``rtol``) and resource ratios, e.g. spec.py's CompareSpec.
        reference_id: Id of the reference cell; defaults to ``reference.id`` when it has one.

    Returns:
        The comparison; see the module docstring for the exact semantics.

    Raises:
        ValueError: either side has no outputs (it never predicted; nothing to compare).
    """
    if reference.outputs is None or cell.outputs is None:
        raise ValueError("both cells must have predicted to be compared")
    ref_out, cell_out = reference.outputs, cell.outputs
    ref_methods, cell_methods = _methods(ref_out), _methods(cell_out)
    cell_known = set(cell_methods) | set(_probe_methods(cell.probes))
    ref_known = set(ref_methods) | set(_probe_methods(reference.probes))
    rows = _row_labels(ref_out)
    labels: list[LabelDiff] = []
    scores: list[ScoreDiff] = []
    for name, ref_values in ref_methods.items():
        if name not in cell_methods:
            continue
        if _kind(name, ref_values, reference.probes, cell.probes) == "labels":
            classes = ref_out.get("classes")
            labels.append(_compare_labels(name, ref_values, cell_methods[name], rows, classes))
        else:
            applied = for_method(policy, name, reference.probes, cell.probes)
            diff = _compare_scores(name, ref_values, cell_methods[name], rows, applied)
            scores.append(replace(diff, tolerance=applied) if applied.widened else diff)
    labels.sort(key=lambda diff: diff.method != "predict")  # what a reader means by "labels"
    return Comparison(
        reference=reference_id if reference_id is not None else str(getattr(reference, "id", "")),
        labels=labels[0] if labels else None,
        other_labels=tuple(labels[1:]),
        scores=Scores(tuple(scores)) if scores else None,
        missing=tuple(name for name in ref_methods if name not in cell_known),
        extra=tuple(name for name in cell_methods if name not in ref_known),
        packages=diff_packages(reference.installed, cell.installed),
        latency=compare_latency(reference.probes, cell.probes, policy.latency_ratio),
        memory=compare_memory(reference.probes, cell.probes, policy.memory_ratio),
        contract=diff_contract(reference.probes, cell.probes),
        skew=compare_steps(reference.probes, cell.probes, policy.atol, policy.rtol),
        audit=diff_audit(reference.probes, cell.probes),
    )


# --- labels and scores -------------------------------------------------------------------------


_Rows: TypeAlias = tuple[list[str], list[str]]  # golden row ids and tags


def _row_labels(outputs: Mapping[str, Any]) -> _Rows:
    ids, tags = outputs.get("row_ids"), outputs.get("tags")
    return (
        [str(i) for i in ids] if isinstance(ids, list) else [],
        ["" if t is None else str(t) for t in tags] if isinstance(tags, list) else [],
    )


def _row(rows: _Rows, index: int, ref: list[Any], cell: list[Any], abs_: float | None) -> RowDiff:
    # Row numbers from 1 and no tag when the golden set has no id/tag column (the runner's rule).
    ids, tags = rows
    return RowDiff(
        row=ids[index] if index < len(ids) else str(index + 1),
        tag=tags[index] if index < len(tags) else "",
        reference=ref[index],
        cell=cell[index] if index < len(cell) else None,
        abs=abs_,
    )


def _compare_labels(method: str, ref: Any, cell: Any, rows: _Rows, classes: Any) -> LabelDiff:
    ref_rows, cell_rows = _rows(ref), _rows(cell)
    mismatch = _shape_mismatch(ref, cell)
    flipped_at = [
        i
        for i, value in enumerate(ref_rows)
        if mismatch or i >= len(cell_rows) or not bit_identical(value, cell_rows[i])
    ]
    shown = tuple(_row(rows, i, ref_rows, cell_rows, None) for i in flipped_at[:MAX_LABEL_ROWS])
    return LabelDiff(
        method=method,
        flipped=len(flipped_at),
        total=len(ref_rows),
        rows=shown,
        per_class=_per_class(ref_rows, cell_rows, classes),
        shape_mismatch=mismatch,
    )


def _per_class(
    ref_rows: list[Any], cell_rows: list[Any], classes: Any
) -> tuple[tuple[str, int, int], ...]:
    # The model's declared classes first (in its order), then anything else either side produced.
    ref_keys, cell_keys = list(map(_label_key, ref_rows)), list(map(_label_key, cell_rows))
    declared = map(_label_key, classes if isinstance(classes, list) else [])
    order = dict.fromkeys(chain(declared, ref_keys, cell_keys))
    ref_counts, cell_counts = Counter(ref_keys), Counter(cell_keys)
    return tuple((key, ref_counts[key], cell_counts[key]) for key in order)


def _label_key(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, list):
        return "[" + ", ".join(_label_key(v) for v in value) + "]"
    return repr(value)


def _compare_scores(method: str, ref: Any, cell: Any, rows: _Rows, tol: Tolerance) -> ScoreDiff:
    ref_rows, cell_rows = _rows(ref), _rows(cell)
    mismatch = _shape_mismatch(ref, cell)
    if mismatch is not None:
        count = min(len(ref_rows), MAX_SCORE_ROWS)
        shown = tuple(_row(rows, i, ref_rows, cell_rows, None) for i in range(count))
        return ScoreDiff(
            method=method,
            max_abs=None,
            max_rel=None,
            beyond=len(ref_rows),
            total=len(ref_rows),
            identical=False,
            rows=shown,
            shape_mismatch=mismatch,
            beyond_rows=frozenset(range(len(ref_rows))),
        )
    if ref_rows == cell_rows and bit_identical(ref_rows, cell_rows):
        # The common case, found at C speed first; == alone would take -0.0 for 0.0 and 1 for
        # 1.0, so bit identity decides.
        return ScoreDiff(
            method=method,
            max_abs=SAME.abs,
            max_rel=SAME.rel,
            beyond=0,
            total=len(ref_rows),
            identical=True,
            rows=(),
            beyond_rows=frozenset(),
        )
    total = SAME
    beyond: list[int] = []
    shown_rows: list[RowDiff] = []
    for i, (r, c) in enumerate(zip(ref_rows, cell_rows, strict=True)):
        diff = elementwise_diff(r, c, tol.atol, tol.rtol)
        total = combine(total, diff)
        if diff.beyond:
            beyond.append(i)
            if len(shown_rows) < MAX_SCORE_ROWS:
                shown_rows.append(_row(rows, i, ref_rows, cell_rows, diff.abs))
    return ScoreDiff(
        method=method,
        max_abs=total.abs,
        max_rel=total.rel,
        beyond=len(beyond),
        total=len(ref_rows),
        identical=total.identical,
        rows=tuple(shown_rows),
        beyond_rows=frozenset(beyond),
        sample=() if total.identical else _sample(ref_rows, cell_rows),
    )


def _sample(ref_rows: list[Any], cell_rows: list[Any]) -> tuple[tuple[Any, Any], ...]:
    """The first value of evenly spaced rows on both sides (all rows when there are few)."""
    count = min(len(ref_rows), MAX_SAMPLE_ROWS)
    picked = sorted({i * len(ref_rows) // count for i in range(count)}) if count else []
    return tuple((_first(ref_rows[i]), _first(cell_rows[i])) for i in picked)


def _first(value: Any) -> Any:
    # A row of predict_proba is a list of columns: its first one (the first output).
    while isinstance(value, list) and value:
        value = value[0]
    return value


# --- structure ---------------------------------------------------------------------------------


def _rows(values: Any) -> list[Any]:
    return values if isinstance(values, list) else [values]


def _shape(value: Any) -> Shape:
    if not isinstance(value, list):
        return ()
    if not any(isinstance(v, list) for v in value):  # a row of scalars (or no row): no recursion
        return (len(value),)
    inner = {_shape(v) for v in value}
    if not inner:
        return (len(value),)
    if len(inner) > 1 or None in inner:
        return None
    (child,) = inner
    return (len(value), *child) if child is not None else None


def _shape_mismatch(ref: Any, cell: Any) -> ShapeMismatch | None:
    ref_shape, cell_shape = _shape(_rows(ref)), _shape(_rows(cell))
    if ref_shape == cell_shape and ref_shape is not None:
        return None
    if ref_shape is None and cell_shape is None and len(_rows(ref)) == len(_rows(cell)):
        return None  # both ragged: compared element by element, structure differences are beyond
    return ShapeMismatch(ref_shape, cell_shape)


def _methods(outputs: Mapping[str, Any]) -> dict[str, Any]:
    methods = outputs.get("methods")
    return dict(methods) if isinstance(methods, Mapping) else {}


def _probe_methods(probes: Mapping[str, Any]) -> Mapping[str, Any]:
    predict = probes.get("predict")
    methods = predict.get("methods") if isinstance(predict, Mapping) else None
    return methods if isinstance(methods, Mapping) else {}


def _kind(name: str, values: Any, *probe_sets: Mapping[str, Any]) -> str:
    for probes in probe_sets:
        record = _probe_methods(probes).get(name)
        if isinstance(record, Mapping) and record.get("kind") in ("labels", "scores"):
            return str(record["kind"])
    return "scores" if _all_floats(values) else "labels"


def _all_floats(value: Any) -> bool:
    if isinstance(value, list):
        return all(_all_floats(v) for v in value)
    return isinstance(value, float)
