"""Where driftmatrix keeps what outlives a run: environments, the staged runner, scan results."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """Where environments and the staged runner are kept (``DRIFTMATRIX_CACHE`` overrides)."""
    explicit = os.environ.get("DRIFTMATRIX_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "driftmatrix"
