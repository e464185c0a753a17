"""Static checks are part of the suite, so CI's single test command enforces them too."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _check(*argv: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", *argv], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ruff_is_clean() -> None:
    _check("ruff", "check", "src", "probes", "tests", "noxfile.py", "artifacts", "benchmarks")


def test_mypy_strict_is_clean() -> None:
    _check("mypy")


def test_modules_stay_small() -> None:
    big = [
        f"{path.relative_to(ROOT)} ({n} lines)"
        for base in ("src", "probes")
        for path in (ROOT / base).rglob("*.py")
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > 420
    ]
    assert not big, "split these modules by concept: " + ", ".join(big)
