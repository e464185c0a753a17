"""The train probe (train mode): run the matrix's recipe in this cell and keep what it fitted.

The recipe is the user's own code (from the matrix file, never from an artifact): a function
that takes no arguments and returns a fitted estimator, or a tuple whose first item is the
estimator and whose other items are the data it was fitted on. Running it in every cell is what
catches changed defaults (``KMeans(n_init=...)`` became ``"auto"`` in scikit-learn 1.4) and
changed numerics of fitting itself, which no loaded artifact can show.

Seeds are fixed before the call (``random`` and numpy's global generator) and the host fixes
``PYTHONHASHSEED``, so two runs of the same cell fit the same model. Warnings raised while
fitting (a ``FutureWarning`` announcing a default change) are recorded by the runner.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import random
import sys

from .load import class_path

#: The seed every cell starts the recipe with.
SEED = 0


def run(ctx, record: dict) -> None:
    """Call the recipe, keep its estimator in ``ctx.estimator``.

    Records ``recipe`` (``file:function``), ``estimator`` (class path) and, when the recipe
    returned its training data too, ``data``: per item its type, shape and a sha256 of its bytes
    — a changed data generator across releases then shows as a changed hash, not as drift of
    unknown cause.

    Raises:
        Exception: Whatever importing or calling the recipe raises; a recipe that returns
            nothing usable raises ``TypeError``.
    """
    job = ctx.job
    record["recipe"] = "{}:{}".format(job.recipe_file, job.recipe_function)
    function = _recipe_function(job.recipe_dir, job.recipe_file, job.recipe_function)
    _seed()
    result = function()
    estimator, data = (result[0], result[1:]) if isinstance(result, tuple) else (result, ())
    if estimator is None or not any(
        hasattr(estimator, name) for name in ("predict", "predict_proba", "decision_function")
    ):
        raise TypeError(
            "the recipe returned {}, not a fitted estimator (or a tuple starting with one)".format(
                class_path(estimator)
            )
        )
    ctx.estimator = estimator
    record["estimator"] = class_path(estimator)
    if data:
        record["data"] = [_describe(item) for item in data]


def _recipe_function(directory: str, file_name: str, function_name: str):
    path = os.path.join(directory, file_name)
    # The recipe may import modules that sit beside it, as it would when run as a script.
    if directory not in sys.path:
        sys.path.insert(0, directory)
    spec = importlib.util.spec_from_file_location("driftmatrix_recipe", path)
    if spec is None or spec.loader is None:
        raise ImportError("cannot import the recipe {}".format(path))
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    function = getattr(module, function_name, None)
    if not callable(function):
        raise AttributeError("the recipe {} has no function {!r}".format(file_name, function_name))
    return function


def _seed() -> None:
    random.seed(SEED)
    try:
        import numpy
    except ImportError:
        return
    numpy.random.seed(SEED)


def _describe(item) -> dict:
    """Type, shape and a content hash of one training-data item (array, frame, list...)."""
    described = {"type": class_path(item)}
    shape = getattr(item, "shape", None)
    if shape is not None:
        described["shape"] = list(shape)
    try:
        import numpy

        array = numpy.ascontiguousarray(numpy.asarray(item))
        if array.dtype != object:
            digest = hashlib.sha256(str(array.dtype).encode() + array.tobytes())
            described["sha256"] = digest.hexdigest()
    except Exception:
        pass  # a description, never a failure of the probe
    return described
