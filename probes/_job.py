"""The two files of the protocol: reading job.json and writing result.json atomically."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile

from . import PROTOCOL
from .latency import latency_settings

RESULT_NAME = "result.json"
#: Artifact formats this runner can load (docs/runner-protocol.md, ``artifact.format``).
FORMATS = ("joblib", "pickle", "skops", "onnx")
#: Probes that open the artifact or the golden set, and therefore need ``files``.
_NEEDS_ARTIFACT = ("load",)
_NEEDS_GOLDEN = ("predict",)


class JobFileError(Exception):
    """The job file cannot be read, or names no usable work directory: exit code 2."""


class JobError(Exception):
    """The job file was read but is not a valid job: reported in result.json's ``error``."""


class Job:
    """A validated job.

    Attributes:
        cell: The cell id, copied into the result.
        work: Absolute path of the only writable directory.
        artifact: Absolute path of the artifact, or None when no probe needs it.
        artifact_format: ``joblib``, ``pickle``, ``skops`` or ``onnx``.
        trusted_types: For skops: the type names the host's screening trusts, passed to skops'
            loader as its ``trusted`` list (nothing else is trusted beyond skops' defaults).
        golden: Absolute path of the golden CSV, or None when no probe needs it.
        target: Golden column never fed to the model (None when there is none).
        id_column: Golden column holding row ids (None when there is none).
        tag_column: Golden column holding row tags (None when there is none).
        imports: Distribution name → import name, in job order.
        probes: Probe names, in job order.
        recipe_dir: Train mode: absolute path of the directory holding the recipe (None
            otherwise); the recipe may read files beside itself.
        recipe_file: Train mode: the recipe's file name inside ``recipe_dir``.
        recipe_function: Train mode: the function that returns a fitted estimator.
        latency: The latency probe's bounds (``latency.Settings``): the job's optional
            ``latency`` object over the runner's defaults.
        write_bytecode: Whether the probes that import the pinned libraries (environment,
            imports, load) may write their compiled bytecode beside the sources, into the
            cell's environment (``write_bytecode`` in the job; default false).
    """

    def __init__(self, doc: dict, work: str) -> None:
        self.cell = _optional_str(doc, "cell")
        self.work = work
        self.probes = _str_list(doc, "probes")
        files = _mapping(doc, "files")
        artifact = _mapping(doc, "artifact")
        golden = _mapping(doc, "golden")
        self.artifact_format = artifact.get("format", "joblib")
        needs_artifact = any(name in self.probes for name in _NEEDS_ARTIFACT)
        if needs_artifact and self.artifact_format not in FORMATS:
            raise JobError(
                "artifact.format {!r} is not supported by this runner (supported: {})".format(
                    self.artifact_format, ", ".join(FORMATS)
                )
            )
        self.trusted_types = _str_list(artifact, "trusted_types", "artifact.trusted_types", [])
        recipe = _mapping(doc, "recipe")
        needs_recipe = "train" in self.probes
        self.recipe_dir = _path(files, "files.recipe_dir", needs_recipe)
        self.recipe_file = _optional_str(recipe, "file", "recipe.file")
        self.recipe_function = _optional_str(recipe, "function", "recipe.function")
        if needs_recipe and not (self.recipe_file and self.recipe_function):
            raise JobError("the train probe needs recipe.file and recipe.function")
        self.artifact = _path(files, "files.artifact", needs_artifact)
        self.golden = _path(files, "files.golden", any(n in self.probes for n in _NEEDS_GOLDEN))
        self.target = _optional_str(golden, "target", "golden.target")
        self.id_column = _optional_str(golden, "id_column", "golden.id_column")
        self.tag_column = _optional_str(golden, "tag_column", "golden.tag_column")
        imports = _mapping(doc, "imports")
        for dist, module in imports.items():
            if not isinstance(module, str) or not module:
                raise JobError("imports[{!r}] must be a module name".format(dist))
        self.imports = dict(imports)
        self.write_bytecode = doc.get("write_bytecode", False)
        if not isinstance(self.write_bytecode, bool):
            raise JobError("write_bytecode must be true or false")
        try:  # optional bounds of the latency probe; its defaults when absent
            self.latency = latency_settings(_mapping(doc, "latency"))
        except ValueError as exc:
            raise JobError("latency: {}".format(exc)) from None


def read_job(path: str):
    """Read job.json.

    Args:
        path: Path of the job file.

    Returns:
        ``(doc, work)``: the parsed document and the absolute work directory. The document is
        validated separately (``Job(doc, work)``) because a readable but invalid job is still
        reported through result.json.

    Raises:
        JobFileError: The file cannot be read, is not a JSON object, or names no existing
            ``work`` directory (then there is nowhere to write a result).
    """
    try:
        with open(path, encoding="utf-8") as handle:
            doc = json.load(handle)
    except (OSError, ValueError) as exc:
        raise JobFileError("{}: {}".format(type(exc).__name__, exc)) from None
    if not isinstance(doc, dict):
        raise JobFileError("the job is not a JSON object")
    work = doc.get("work")
    if not isinstance(work, str) or not work:
        raise JobFileError("the job has no 'work' directory")
    # Absolute now: artifact code may os.chdir() while it loads.
    work = os.path.abspath(work)
    if not os.path.isdir(work):
        raise JobFileError("work directory {} does not exist".format(work))
    return doc, work


def check_protocol(doc: dict) -> None:
    """Raise JobError unless the job speaks this runner's protocol version."""
    if doc.get("protocol") != PROTOCOL:
        raise JobError(
            "protocol {!r} is not supported by this runner (it speaks {})".format(
                doc.get("protocol"), PROTOCOL
            )
        )


class ResultFile:
    """``work/result.json``, replaced atomically on every write.

    Args:
        work: The work directory.
    """

    def __init__(self, work: str) -> None:
        self.work = work
        self.path = os.path.join(work, RESULT_NAME)

    def write(self, doc: dict) -> None:
        """Write ``doc`` so that readers see either the previous version or this one, whole.

        The temp file lives in the work directory (``os.replace`` must not cross file systems)
        and is fsynced before the rename: on a full disk ``write()`` can succeed while the data
        never lands (FIELD-NOTES.md), and a half file would be worse than an old one.

        Raises:
            OSError: The file could not be written; the previous result.json is left intact.
        """
        fd, tmp = tempfile.mkstemp(prefix=".result-", suffix=".tmp", dir=self.work)
        try:
            # mkstemp makes the file private (0600); a host that reads it as another user (a
            # container's uid differs from the host's) must still be able to.
            os.chmod(tmp, 0o644)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(doc, handle, allow_nan=True, default=jsonable)
                handle.write("\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            _remove_quietly(tmp)
            raise
        _fsync_directory(self.work)


def jsonable(value):
    """``json.dump`` fallback: numpy values to Python ones, anything else to a readable form.

    Never raises, so that one odd output value cannot cost the whole result file.
    """
    to_list = getattr(value, "tolist", None)  # numpy scalars and arrays: exact Python values
    if callable(to_list):
        try:
            return to_list()
        except Exception:
            pass
    if isinstance(value, complex):
        return [value.real, value.imag]
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("latin-1")
    if isinstance(value, (set, frozenset)):
        return sorted((jsonable_key(item) for item in value), key=repr)
    try:
        return repr(value)
    except Exception:
        return "<unrepresentable {}>".format(type(value).__name__)


def jsonable_key(value):
    """Return ``value`` if json can write it as-is, else its :func:`jsonable` form."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return jsonable(value)


def _fsync_directory(path: str) -> None:
    # Makes the rename itself durable; not every platform or file system allows it.
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _remove_quietly(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def _mapping(doc: dict, key: str) -> dict:
    value = doc.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise JobError("{} must be an object".format(key))
    return value


def _str_list(doc: dict, key: str, label: str | None = None, default=None) -> list:
    value = doc.get(key, default)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise JobError("{} must be a list of names".format(label or key))
    return list(value)


def _optional_str(doc: dict, key: str, label: str | None = None):
    value = doc.get(key)
    if value is not None and not isinstance(value, str):
        raise JobError("{} must be a string or null".format(label or key))
    return value


def _path(files: dict, label: str, required: bool):
    value = files.get(label.split(".", 1)[1])
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise JobError("{} must be a path".format(label))
    return os.path.abspath(value)
