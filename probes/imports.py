"""The imports probe: do the pinned libraries import, together, in this interpreter?"""

from __future__ import annotations

import importlib
import time

from ._errors import error_info


def run(ctx, record: dict) -> None:
    """Import every module of ``job.imports`` in job order and time each import.

    A module that fails is recorded with its error and the others are still tried (seeing which
    of them fail helps to find the culprit); the probe is ``failed`` with the first error.
    ``KeyboardInterrupt`` and ``SystemExit`` propagate: the runner records them and stops.
    """
    modules = {}
    record["modules"] = modules
    first_error = None
    for distribution, name in ctx.job.imports.items():
        # Left as "running" if the interpreter dies inside this import.
        modules[name] = {"distribution": distribution, "status": "running"}
        start = time.perf_counter()
        try:
            module = importlib.import_module(name)
        except Exception as exc:
            modules[name].update(status="failed", seconds=_since(start), error=error_info(exc))
            first_error = first_error or modules[name]["error"]
            continue
        modules[name].update(
            status="ok",
            seconds=_since(start),
            version=_attribute(module, "__version__"),
            # Where it came from: a stray directory on sys.path can shadow the pinned package.
            file=_attribute(module, "__file__"),
        )
    if first_error is not None:
        record["status"] = "failed"
        record["error"] = first_error


def _since(start: float) -> float:
    return round(time.perf_counter() - start, 6)


def _attribute(module, name: str):
    # A lazy module's __getattr__ may raise anything; a missing fact is None, not a failure.
    try:
        value = getattr(module, name, None)
        return None if value is None else str(value)
    except Exception:
        return None
