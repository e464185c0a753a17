"""Shared by every test package: a real part that is missing is skipped locally, fails in CI."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

#: CI sets CI=true; there every real part (uv, each Python, cgroups, Docker) must be present.
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing(reason: str) -> NoReturn:
    """Skip the test locally; fail it in CI, where nothing real may be silently skipped."""
    if IN_CI:
        pytest.fail(f"{reason} — CI must provide it", pytrace=False)
    pytest.skip(reason)
