"""A model whose native layer "crashes" on an empty batch: it kills its own process by SIGSEGV.

The contract probe must leave a result file naming the case the process died in. A real
segfault in native code depends on a library's bug; the signal is the same one, sent for real.
``build_models.py`` pickles it with the cell's interpreter; only the runner ever loads it (its
working directory is the repository root, where ``tests.probes.crash_model`` imports as a
namespace package). ``crash=False`` is its twin that answers the empty batch instead.
"""

import os
import signal

import numpy as np


class CrashOnEmpty:
    """Predicts class 0 for every row; dies (or answers nothing) on zero rows."""

    def __init__(self, crash=True):
        self.crash = crash
        self.classes_ = np.array([0, 1])

    def predict(self, X):
        rows = len(X)
        if rows == 0 and self.crash:
            os.kill(os.getpid(), signal.SIGSEGV)
        return np.zeros(rows, dtype=np.int64)
