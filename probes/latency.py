"""The latency probe: how long one call of the model's prediction method takes, per batch size.

It runs after ``predict``, in the same interpreter, on the model already in memory: interpreter
and container start, imports and loading are not part of the numbers, only the call itself.

What is measured, and why:

* **The method**: ``predict``, the call a service makes; a model without it is timed on the
  first of ``predict_proba``/``decision_function`` that answered in the predict probe. The
  record names it (``method``): the host compares only the same method on both sides.
* **Batch sizes**: 1 row (an online request), 100 (a micro-batch) and 1000 (bulk scoring). They
  are fixed, so that "p50 at 1000 rows" means the same in every matrix and every run. The rows
  are the golden set's, in file order, repeated when the golden set is smaller than the batch:
  every batch holds the same edge cases (missing values, extremes) in every cell, and a small
  golden set still gives a batch large enough for per-row work, not per-call overhead, to
  dominate. The input is built as the predict probe built it (DataFrame, array or ONNX feeds).
* **Warm-up**: one untimed call per batch size (first calls pay for lazy imports, caches and
  thread pools), after one call on the whole golden set that also feeds the time estimate.
* **Timing**: ``time.perf_counter`` around each call alone; batches are built beforehand. The
  garbage collector stays on (a model that allocates more pays for it in production too), but
  ``gc.collect()`` runs once before the first batch size so that earlier probes' garbage is not
  collected on the model's time. Once, not before every size: with scikit-learn loaded a full
  collection walks ~500k objects (27 ms measured), and what the model's own calls leave behind
  is the model's to pay for.
* **Bounds**: each batch size gets :data:`BUDGET_SECONDS` of timed calls and at most
  :data:`MAX_CALLS` (a job may set other sizes and bounds: ``latency`` in
  docs/runner-protocol.md; the host uses these defaults). A size whose single call is
  estimated to take longer than the budget is skipped with the estimate as its reason, and so
  are the larger ones. The estimate is a line
  ``a + b * rows`` through the calls timed so far (``a`` the time at the fewest rows, ``b`` the
  steepest slope seen), starting from the whole-golden-set call: the predict probe has just made
  that call, so it is known to end. A slow model therefore costs about one golden-set call plus,
  per batch size, a warm-up call and the budget (rarely one call more).
* **Statistics** per batch size, in milliseconds: ``min``, ``p50``, ``p95`` and ``max``, with
  ``calls``. Percentiles are nearest-rank: always the time of a call that happened, never an
  interpolation. With few calls the tail is a few calls: read ``p95`` with ``calls``.
"""

from __future__ import annotations

import gc
import time

from ._errors import error_info
from .predict import METHODS, build_input

#: Batch sizes in rows, ascending (the estimate walks up from small to large).
BATCH_SIZES = (1, 100, 1000)
#: Seconds of timed calls per batch size.
BUDGET_SECONDS = 0.5
#: Timed calls per batch size at most (a fast model reaches this long before the budget). 50,
#: not more: measured on the demo's forest (0.8-1.4 ms a call), the p50 of the first 50 calls was
#: within 1% of the p50 of 200, at a quarter of the cell's time (the probe took 0.5-0.7 s with 200).
MAX_CALLS = 50
#: Untimed calls before each batch size is timed.
WARMUP_CALLS = 1


class Settings:
    """The probe's bounds: the defaults above, or what the job's ``latency`` object says."""

    def __init__(self, batch_sizes=BATCH_SIZES, budget_seconds=BUDGET_SECONDS, max_calls=MAX_CALLS):
        self.batch_sizes = tuple(sorted(set(batch_sizes)))
        self.budget_seconds = budget_seconds
        self.max_calls = max_calls


def latency_settings(doc) -> Settings:
    """Read the job's optional ``latency`` object: ``batch_sizes``, ``budget_seconds``,
    ``max_calls``; a key left out keeps its default.

    Raises:
        ValueError: A value of the wrong type or out of range.
    """
    unknown = sorted(set(doc) - {"batch_sizes", "budget_seconds", "max_calls"})
    if unknown:
        raise ValueError("unknown key(s) {}".format(", ".join(unknown)))
    sizes = doc.get("batch_sizes", BATCH_SIZES)
    if (
        not isinstance(sizes, (list, tuple))
        or not sizes
        or not all(_positive_int(n) for n in sizes)
    ):
        raise ValueError("batch_sizes must be a non-empty list of row counts >= 1")
    budget = doc.get("budget_seconds", BUDGET_SECONDS)
    if isinstance(budget, bool) or not isinstance(budget, (int, float)) or not 0 < budget <= 600:
        raise ValueError("budget_seconds must be a number of seconds in (0, 600]")
    calls = doc.get("max_calls", MAX_CALLS)
    if not _positive_int(calls):
        raise ValueError("max_calls must be an integer >= 1")
    return Settings(sizes, float(budget), calls)


def run(ctx, record: dict) -> None:
    """Time the primary prediction method on each batch size; fill ``record``.

    Records ``method``, ``input`` (as the predict probe's), ``budget_seconds``, ``max_calls``
    and ``batches``: one entry per size, ``{rows, status, calls, warmup, min_ms, p50_ms, p95_ms,
    max_ms}`` when measured, ``{rows, status: "skipped", reason}`` when over the budget, or
    ``{rows, status: "failed", error}`` when a call raised; then the probe is ``failed`` too
    (with the first batch's error) while the other sizes are still measured.
    """
    method = primary_method(ctx.predictions)
    record["method"] = method
    features, record["input"], _note = build_input(ctx.estimator, ctx.golden)
    call = getattr(ctx.estimator, method)
    settings = ctx.job.latency
    budget = settings.budget_seconds
    record["budget_seconds"] = budget
    record["max_calls"] = settings.max_calls
    golden_rows = ctx.golden.rows
    points = [(golden_rows, _timed(call, features))]
    batches = []
    record["batches"] = batches
    gc.collect()
    for rows in settings.batch_sizes:
        # The estimate never falls as rows grow, so once a size is over, so are the larger ones.
        estimate = estimate_seconds(points, rows)
        if estimate > budget:
            reason = "one call would take about {:.3g} s: over the {:.3g} s budget".format(
                estimate, budget
            )
            batches.append({"rows": rows, "status": "skipped", "reason": reason})
            continue
        batch = take_rows(features, rows, golden_rows)
        try:
            times = time_calls(call, batch, budget, settings.max_calls)
        except Exception as exc:
            batches.append({"rows": rows, "status": "failed", "error": error_info(exc)})
            continue
        batches.append(dict({"rows": rows, "status": "ok"}, **summarize(times)))
        points.append((rows, percentile(times, 50)))
    failed = [batch for batch in batches if batch["status"] == "failed"]
    if failed:
        record["status"] = "failed"
        record["error"] = failed[0]["error"]


def primary_method(predictions) -> str:
    """``predict`` when it answered in the predict probe, else the first method that did.

    Raises:
        ValueError: No prediction method answered (then there is nothing to time).
    """
    for name in METHODS:
        if name in predictions:
            return name
    raise ValueError("no prediction method answered in the predict probe")


def take_rows(features, rows: int, available: int):
    """The first ``rows`` golden rows as a model input of the same kind, cycling if needed.

    Args:
        features: The golden input: a numpy array, a pandas DataFrame, or ONNX feeds
            (``{input name: array}``), rows along the first axis.
        rows: The batch size.
        available: Rows in ``features``.
    """
    import numpy

    index = numpy.arange(rows) % available
    if isinstance(features, dict):
        return {name: take_rows(value, rows, available) for name, value in features.items()}
    if hasattr(features, "iloc"):
        return features.iloc[index].reset_index(drop=True)
    return features[index]


def time_calls(call, batch, budget: float, max_calls: int) -> list:
    """Warm up, then time ``call(batch)`` until the budget or ``max_calls`` is used up.

    Returns:
        The seconds of each timed call (at least one).
    """
    for _ in range(WARMUP_CALLS):
        call(batch)
    times = []
    deadline = time.perf_counter() + budget
    while len(times) < max_calls:
        start = time.perf_counter()
        call(batch)
        end = time.perf_counter()
        times.append(end - start)
        if end >= deadline:
            break
    return times


def estimate_seconds(points, rows: int) -> float:
    """Estimate one call on ``rows`` rows from ``(rows, seconds)`` points timed so far.

    A line ``a + b * rows``: ``a`` is the time at the fewest rows timed, ``b`` the steepest
    slope from there to any larger point. With a single size timed, the time is assumed to grow
    in proportion to the rows beyond it (pessimistic: per-call overhead is scaled too). Fewer
    rows than the smallest point are assumed to be no slower than it.
    """
    fewest = min(r for r, _ in points)
    base = min(s for r, s in points if r == fewest)
    slopes = [(s - base) / (r - fewest) for r, s in points if r > fewest]
    if rows <= fewest:
        return base
    if not slopes:
        return base * rows / fewest
    return base + max(0.0, max(slopes)) * (rows - fewest)


def summarize(times: list) -> dict:
    """``calls``, ``warmup`` and ``min``/``p50``/``p95``/``max`` in milliseconds."""
    return {
        "calls": len(times),
        "warmup": WARMUP_CALLS,
        "min_ms": _ms(min(times)),
        "p50_ms": _ms(percentile(times, 50)),
        "p95_ms": _ms(percentile(times, 95)),
        "max_ms": _ms(max(times)),
    }


def percentile(values: list, q: int) -> float:
    """The nearest-rank ``q``-th percentile (p50 of an even count is the lower middle call)."""
    ordered = sorted(values)
    # ceil(q * n / 100) in integers: 0.95 * 20 in floats is not exactly 19.
    rank = max(1, -(-q * len(ordered) // 100))
    return ordered[rank - 1]


def _positive_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _timed(call, features) -> float:
    start = time.perf_counter()
    call(features)
    return time.perf_counter() - start


def _ms(seconds: float) -> float:
    # Microsecond resolution: finer digits are noise at these scales.
    return round(seconds * 1000.0, 3)
