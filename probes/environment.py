"""The environment probe: a fingerprint of the interpreter, the machine and what is installed.

Everything here is best effort and read-only: a fact that cannot be read is reported as None
(or as an ``error`` next to it), never as a failed probe, and nothing is changed (thread counts
belong to the host, which sets them through the environment variables recorded here).
"""

from __future__ import annotations

import os
import platform
import re
import sys

from ._compat import distribution_name, numpy_blas_config, usable_cpu_count
from ._errors import error_info

#: Environment variables that set how many threads native libraries start.
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "OMP_THREAD_LIMIT",
)


def python_info() -> dict:
    """Return the top-level ``python`` object: version, implementation, executable."""
    return {
        "version": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
    }


def run(ctx, record: dict) -> None:
    """Fill the environment record and ``ctx.installed``.

    BLAS details are added later by :func:`add_blas`: threadpoolctl only sees libraries that are
    already loaded, and importing numpy here to load them would steal the imports probe's job
    (and a broken numpy fails differently the second time it is imported).
    """
    record["platform"] = _best_effort(platform.platform)
    record["machine"] = _best_effort(platform.machine)
    record["cpu_count"] = _best_effort(os.cpu_count)
    record["usable_cpus"] = _best_effort(usable_cpu_count)
    record["threads"] = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    record["prefix"] = sys.prefix
    record["base_prefix"] = getattr(sys, "base_prefix", sys.prefix)
    ctx.installed = installed_distributions()
    record["distributions"] = len(ctx.installed)


def installed_distributions() -> dict:
    """Return every installed distribution as ``{normalized name: version}``, sorted by name.

    Names are normalized as in PEP 503 (lower case, runs of ``-_.`` become ``-``), so that the
    host can match them with the pins of the matrix. When a name is installed twice on
    ``sys.path``, the first one wins: it is the one ``import`` finds.
    """
    try:
        from importlib import metadata
    except ImportError:  # pragma: no cover - Python<3.8 is not supported at all
        return {}
    found = {}
    for dist in metadata.distributions():
        try:
            name = distribution_name(dist)
            version = dist.version
        except Exception:
            continue  # a broken .dist-info must not hide the others
        if name:
            found.setdefault(normalize(name), str(version))
    return dict(sorted(found.items()))


def normalize(name: str) -> str:
    """PEP 503 normalization of a distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def add_blas(record: dict) -> None:
    """Add ``blas`` (and ``blas_source``) to an environment record, once libraries are loaded.

    Uses threadpoolctl when it can be imported (the runtime view: which BLAS/OpenMP libraries
    are loaded, their versions and thread counts), else numpy's build configuration if numpy
    is already imported, else an empty list. Never imports numpy itself.
    """
    try:
        from threadpoolctl import threadpool_info
    except Exception:
        threadpool_info = None
    try:
        if threadpool_info is not None:
            record["blas"] = [dict(info) for info in threadpool_info()]
            record["blas_source"] = "threadpoolctl"
            return
        numpy = sys.modules.get("numpy")
        config = numpy_blas_config(numpy) if numpy is not None else None
        record["blas"] = [config] if config else []
        record["blas_source"] = "numpy-config" if config else None
    except Exception as exc:
        record["blas"] = []
        record["blas_source"] = None
        record["blas_error"] = error_info(exc)


def _best_effort(produce):
    try:
        return produce()
    except Exception:
        return None
