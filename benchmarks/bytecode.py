"""What compiled bytecode is worth to a cell's imports (a diagnostic beside the floor).

A cell's imports are most of the floor. uv installs without ``.pyc`` files (pip compiles at
install time), so the first venv cell in a new environment compiles every module it imports and
writes the bytecode (the job's ``write_bytecode``); every later cell imports it compiled. This
measures the same imports in one throwaway uv environment both ways: what an environment's first
cell pays, in the cold run, and every later cell saves.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from benchmarks.timing import Timed, run_timed

#: What the demo's cells import before and while loading the model.
IMPORTS = "import numpy, scipy, sklearn, sklearn.ensemble, joblib"


@dataclass(frozen=True)
class BytecodeRun:
    """The same imports without and with compiled bytecode.

    Attributes:
        pins: The environment's pins, e.g. ``scikit-learn==1.3.2 numpy==1.26.4``.
        source: ``python -s -B -c IMPORTS`` with no ``.pyc`` files (best of two).
        compiled: The same after ``compileall`` (best of two).
    """

    pins: str
    source: Timed
    compiled: Timed


def measure(
    python: str,
    pins: Mapping[str, str],
    *,
    work: Path,
    logs: Path,
    env: Mapping[str, str],
    timeout: float,
) -> BytecodeRun | None:
    """Build a uv environment for ``pins`` and time its imports without, then with bytecode.

    Args:
        python: The interpreter's path.
        pins: Distribution → version.
        work: Where the environment is made (deleted first).
        logs: Directory for the commands' output.
        env: The environment for uv and the interpreter.
        timeout: Seconds each command may take.

    Returns:
        The measurement, or None when the environment could not be built (see the logs).
    """
    shutil.rmtree(work, ignore_errors=True)
    requirements = [f"{name}=={version}" for name, version in pins.items()]
    venv = run_timed(
        "bytecode-venv",
        ["uv", "venv", "--python", python, str(work)],
        log=logs / "bytecode-venv.log",
        timeout=timeout,
        env=env,
    )
    target = str(work / "bin" / "python")
    install = run_timed(
        "bytecode-install",
        ["uv", "pip", "install", "--python", target, "--only-binary", ":all:", *requirements],
        log=logs / "bytecode-install.log",
        timeout=timeout,
        env=env,
    )
    if venv.returncode != 0 or install.returncode != 0:
        return None

    def best(label: str) -> Timed:
        runs = [
            run_timed(
                label,
                [target, "-s", "-B", "-c", IMPORTS],
                log=logs / f"bytecode-{label}-{n}.log",
                timeout=timeout,
                env=env,
            )
            for n in range(2)
        ]
        return min(runs, key=lambda timed: timed.seconds)

    source = best("source")
    run_timed(
        "compileall",
        [target, "-m", "compileall", "-q", str(work / "lib")],
        log=logs / "bytecode-compileall.log",
        timeout=timeout,
        env=env,
    )
    return BytecodeRun(pins=" ".join(requirements), source=source, compiled=best("compiled"))
