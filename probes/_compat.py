"""Version shims: every difference between supported Pythons and library releases lives here.

Each shim says when it can be removed, so that dropping an old version from the supported
matrices is a matter of deleting code rather than auditing it.
"""

from __future__ import annotations

import os
import re
import warnings

#: The attributes scikit-learn>=1.3 sets on ``InconsistentVersionWarning``.
SKLEARN_VERSION_FIELDS = ("estimator_name", "original_sklearn_version", "current_sklearn_version")

# scikit-learn<1.3 raised a plain UserWarning with this text (sklearn/base.py, __setstate__).
_OLD_VERSION_WARNING = re.compile(
    r"Trying to unpickle estimator (?P<estimator_name>\S+) from version "
    r"(?P<original_sklearn_version>\S+) when using version (?P<current_sklearn_version>[^\s.]+"
    r"(?:\.[^\s.]+)*)\."
)


def distribution_name(dist) -> str | None:
    """Return the project name of an ``importlib.metadata`` distribution, or None if unnamed."""
    # remove once Python<3.10 leaves supported matrices (Distribution.name is 3.10+).
    name = getattr(dist, "name", None)
    if name is None:
        metadata = dist.metadata
        name = metadata["Name"] if metadata is not None else None
    return str(name) if name else None


def usable_cpu_count() -> int | None:
    """Return how many CPUs this process may run on (affinity), or None when unknown."""
    # remove the fallbacks once Python<3.13 leaves supported matrices (process_cpu_count).
    counter = getattr(os, "process_cpu_count", None)
    if counter is not None:
        return counter()
    affinity = getattr(os, "sched_getaffinity", None)
    if affinity is not None:
        return len(affinity(0))
    return os.cpu_count()


def sklearn_version_fields(message, category: type) -> dict:
    """Return the scikit-learn version facts a load warning carries, if it is a version warning.

    Args:
        message: The warning instance (``warnings.WarningMessage.message``).
        category: Its class.

    Returns:
        A subset of ``estimator_name``, ``original_sklearn_version`` and
        ``current_sklearn_version`` as strings; empty for any other warning.
    """
    fields = {}
    for attr in SKLEARN_VERSION_FIELDS:
        value = getattr(message, attr, None)
        if value is not None:
            fields[attr] = str(value)
    if fields or not issubclass(category, UserWarning):
        return fields
    # remove once scikit-learn<1.3 leaves supported matrices (no InconsistentVersionWarning).
    match = _OLD_VERSION_WARNING.search(str(message))
    return match.groupdict() if match else {}


def is_classifier(estimator) -> bool:
    """Return True when ``estimator`` is a scikit-learn classifier (False when unknown)."""
    try:
        from sklearn.base import is_classifier as sklearn_is_classifier
    except Exception:
        sklearn_is_classifier = None
    if sklearn_is_classifier is not None:
        # Asking is the runner's business, not the model's: a warning raised by the question
        # (scikit-learn>=1.6 warns about estimators without __sklearn_tags__) must not be
        # reported as a prediction warning.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                return bool(sklearn_is_classifier(estimator))
            except Exception:
                pass
    # remove once scikit-learn<1.6 leaves supported matrices: _estimator_type is the old marker,
    # still useful when scikit-learn itself cannot answer.
    try:
        return getattr(estimator, "_estimator_type", None) == "classifier"
    except Exception:
        return False


def numpy_blas_config(numpy) -> dict | None:
    """Return numpy's build-time BLAS configuration, or None when it cannot say."""
    show_config = getattr(numpy, "show_config", None)
    if show_config is not None:
        try:
            blas = show_config(mode="dicts")["Build Dependencies"]["blas"]
            return dict(blas)
        except TypeError:
            pass  # numpy<1.26: show_config() takes no mode; fall through.
    # remove once numpy<1.26 leaves supported matrices (distutils-era numpy.__config__).
    config = getattr(numpy, "__config__", None)
    found = {}
    for name in dir(config) if config is not None else ():
        value = getattr(config, name, None)
        if name.endswith("_info") and "blas" in name and isinstance(value, dict):
            found[name] = value
    return found or None
