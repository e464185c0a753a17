"""The benchmark's arithmetic (benchmarks/measures.py): the floor, ratios, pass or fail.

Only the pure helpers are checked here; the benchmark itself runs on demand, never in the suite.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load() -> ModuleType:
    # By path: benchmarks/ is not a package on the test path, and importing it must not need to be.
    spec = importlib.util.spec_from_file_location(
        "bench_measures", ROOT / "benchmarks" / "measures.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being created
    spec.loader.exec_module(module)
    return module


measures = _load()

RESULTS = {
    "cells": [
        {
            "id": "ref",
            "probes": {
                "environment": {"status": "ok", "seconds": 0.05},
                "imports": {"status": "ok", "seconds": 1.5},
                "load": {"status": "ok", "seconds": 0.5},
                "predict": {"status": "ok", "seconds": 0.25},
                "latency": {"status": "ok", "seconds": 1.0},
            },
        },
        {
            "id": "broken",
            "probes": {
                "imports": {"status": "ok", "seconds": 2.0},
                "load": {"status": "failed", "seconds": 0.25},
                "predict": {"status": "skipped", "seconds": 0.0},
            },
        },
        {"id": "no-wheel", "probes": {}},
    ]
}


def test_the_floor_counts_only_the_named_probes_of_every_cell() -> None:
    floor = measures.probe_seconds(RESULTS, measures.FLOOR_PROBES)
    assert floor == {"ref": 2.25, "broken": 2.25, "no-wheel": 0.0}
    assert measures.probe_seconds(RESULTS)["ref"] == pytest.approx(3.3)


def test_the_floor_is_spread_over_the_cores_the_run_could_use() -> None:
    per_cell = {"a": 3.0, "b": 5.0}
    assert measures.floor_seconds(per_cell, jobs=2, cores=2) == 4.0
    assert measures.floor_seconds(per_cell, jobs=8, cores=2) == 4.0  # more jobs than cores
    assert measures.floor_seconds(per_cell, jobs=1, cores=2) == 8.0


def test_ratios_and_targets() -> None:
    assert measures.ratio(30.0, 3.0) == 10.0
    assert math.isinf(measures.ratio(1.0, 0.0))
    at_least = measures.Target(">=", 10, "×")
    assert at_least.met_by(10.0) and not at_least.met_by(9.99)
    below = measures.Target("<", 2, "s")
    assert below.met_by(1.99) and not below.met_by(2.0)
    assert str(measures.Target("<=", 1.3, "×")) == "≤ 1.3×"
    assert str(measures.Target("<", 200, "MiB")) == "< 200 MiB"


def test_a_row_says_pass_fail_info_pending_or_error() -> None:
    target = measures.Target("<=", 1, "s")

    def row(measured: float | None, **extra: object) -> object:
        return measures.Row("k", "what", measured, "s", "raw", **extra)

    assert row(0.5, target=target).result == "pass"
    assert row(1.5, target=target).result == "FAIL"
    assert row(1.5).result == "info"
    assert row(None, target=target).result == "pending"
    assert row(None, target=target, error="cold: exit 3").result == "ERROR"
    assert row(0.5, target=target).shown == "0.50 s"
