"""ONNX models in a cell: an onnxruntime session held behind the methods the probes call.

Loading: the file's header is read first with the standard library (:mod:`probes.onnx_proto`),
so that the IR version and opsets are recorded even when onnxruntime refuses the model, and a
model whose tensors live in external files is refused before onnxruntime opens anything. The
session gets an explicit provider list (``CPUExecutionProvider`` only: the cell tests what the
pinned CPU runtime does, whatever else the wheel offers) and the cell's thread budget (the
host's ``OMP_NUM_THREADS``, which follows the CPU quota). No custom-op library is ever
registered, so a model that needs one fails to load and says which operator is missing.

Predicting: :class:`OnnxModel` offers ``predict`` (the first output: skl2onnx's labels, or a
regressor's / transformer's values) and, when the model has a second output, ``predict_proba``
(probabilities: skl2onnx's ZipMap list of ``{class: p}`` dicts becomes rows in class order; a
``zipmap=False`` export gives the tensor itself). Its input is built from the golden set by
:meth:`OnnxModel.feeds` according to the session's declared inputs.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import re

from . import onnx_proto

#: The one execution provider every cell uses.
PROVIDERS = ("CPUExecutionProvider",)
#: ONNX tensor element types a CSV column can be turned into → numpy dtype names.
_DTYPES = {
    "tensor(float)": "float32",
    "tensor(double)": "float64",
    "tensor(int64)": "int64",
    "tensor(int32)": "int32",
    "tensor(string)": "object",
}
# onnxruntime's messages start with a status code and the model's path and carry the C++ source
# location and signature of the check that failed ("[ONNXRuntimeError] : 1 : FAIL : Load model
# from /x.onnx failed:/onnxruntime_src/.../model.cc:179 onnxruntime::Model::Model(...) "): noise
# for a reader (the type says the code, the record the path), pushing the reason itself past the
# protocol's 500 characters.
_STATUS = re.compile(r"\A\s*\[ONNXRuntimeError\] : \d+ : \w+ : (?:Load model from .*? failed:)?")
_SOURCE_LOCATION = re.compile(r"/\S*\.(?:cc|cpp|h):\d+ [\w:~]+\([^()]*\)(?: const)? ?")


class ExternalData(ValueError):
    """The model keeps tensors in other files; the cell refuses it before onnxruntime opens it."""


class UnreadableModel(ValueError):
    """The file is not a well-formed ONNX protobuf; onnxruntime was not given it."""


def load(path: str, record: dict):
    """Open ``path`` with the cell's onnxruntime; record what the file declares and the session.

    Records ``onnx``: ``ir_version``, ``opsets`` (domain → version), ``producer``, ``metadata``,
    ``runtime`` (onnxruntime's version), and once a session exists, ``providers``,
    ``intra_op_threads``, ``inputs`` and ``outputs`` (name, type, shape).

    Raises:
        UnreadableModel: The bytes are not an ONNX model.
        ExternalData: Tensors name external files.
        Exception: onnxruntime's own error, its message naming the model's IR version and opsets.
    """
    info = {}
    record["onnx"] = info
    data = _read(path)
    try:
        header = onnx_proto.read_header(data)
        external = onnx_proto.external_data(data)
        labels = onnx_proto.class_labels(data)
    except onnx_proto.ProtoError as exc:
        raise UnreadableModel(
            "not an ONNX model (its protobuf is malformed: {}); not given to onnxruntime".format(
                exc
            )
        ) from None
    finally:
        if isinstance(data, mmap.mmap):
            data.close()
    info.update(header)
    if external:
        shown = ", ".join(repr(name) for name in external[:5])
        raise ExternalData(
            "the model keeps tensors in external files ({}); only self-contained .onnx files are"
            " probed, and onnxruntime was not given it".format(shown)
        )
    import onnxruntime  # the cell's pinned runtime: its version is what is being tested

    info["runtime"] = getattr(onnxruntime, "__version__", None)
    try:
        session = open_session(path)
    except Exception as exc:
        explain(exc, header, info["runtime"])
        raise
    info["providers"] = list(session.get_providers())
    info["intra_op_threads"] = thread_budget()
    info["inputs"] = [_describe(arg) for arg in session.get_inputs()]
    info["outputs"] = [_describe(arg) for arg in session.get_outputs()]
    return OnnxModel(session, labels)


def open_session(source):
    """An onnxruntime session on ``source`` (a path or the model's bytes), as every cell opens one.

    The CPU provider only, named explicitly (onnxruntime>=1.9 refuses to guess when a wheel has
    several), ``intra_op_num_threads`` from :func:`thread_budget`, one inter-op thread.
    """
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = thread_budget()
    options.inter_op_num_threads = 1
    # remove the suppress once onnxruntime<1.6 leaves supported matrices (no config entries).
    with contextlib.suppress(Exception):
        # Idle pool threads would otherwise spin-wait on cores shared with other cells.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(source, sess_options=options, providers=list(PROVIDERS))


def thread_budget() -> int:
    """The threads one session may use: ``OMP_NUM_THREADS`` as the host set it, else 1."""
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        value = os.environ.get(name, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return 1


class OnnxModel:
    """An onnxruntime session with the prediction methods of a scikit-learn estimator.

    Attributes:
        session: The ``InferenceSession``.
        classes_: The class labels the graph declares (None when it declares none).
        outputs: Method name → output name, e.g. ``{"predict": "output_label"}``.
    """

    def __init__(self, session, labels=None) -> None:
        import numpy

        self.session = session
        # An array, as scikit-learn's classes_: predict.classes_of reads a list as multi-output.
        self.classes_ = None if labels is None else numpy.asarray(labels)
        outputs = session.get_outputs()
        self.outputs = {"predict": outputs[0].name}
        if len(outputs) > 1:
            self.outputs["predict_proba"] = outputs[1].name
            # A label output next to the probabilities: what _compat.is_classifier reads when
            # scikit-learn is not in the cell (it need not be, to run an ONNX model).
            if not _is_float(outputs[0].type):
                self._estimator_type = "classifier"

    def predict(self, feeds):
        """The first output on ``feeds`` (labels for a classifier)."""
        return self._run("predict", feeds)

    @property
    def predict_proba(self):
        """The second output: probabilities as a 2-D array, one column per class.

        Raises:
            AttributeError: The model has one output (``hasattr`` is then False, as the predict
                probe expects of a method a model does not offer).
        """
        if "predict_proba" not in self.outputs:
            raise AttributeError("this ONNX model has a single output: no predict_proba")
        return lambda feeds: self._run("predict_proba", feeds)

    def _run(self, method: str, feeds):
        import numpy

        if not isinstance(feeds, dict):
            feeds = self._array_feeds(numpy, feeds)
        (value,) = self.session.run([self.outputs[method]], feeds)
        if isinstance(value, list) and value and isinstance(value[0], dict):
            # ZipMap: one {class: probability} dict per row. The graph's labels fix the column
            # order; without them, the order onnxruntime gives the keys in.
            keys = list(value[0]) if self.classes_ is None else self.classes_.tolist()
            return numpy.array([[row[key] for key in keys] for row in value], dtype=numpy.float32)
        return value

    def _array_feeds(self, numpy, features):
        # Called with an array (or DataFrame) instead of :meth:`feeds` (other probes' inputs, a
        # user's habit): a one-input model gets it in its declared type, like a fitted estimator.
        inputs = self.session.get_inputs()
        if len(inputs) != 1:
            raise TypeError(
                "this ONNX model takes {} named inputs; pass a dict of arrays".format(len(inputs))
            )
        dtype = _DTYPES.get(inputs[0].type)
        if dtype is None:
            raise TypeError("the model's input has type {}".format(inputs[0].type))
        return {inputs[0].name: numpy.asarray(features, dtype=dtype)}

    def feeds(self, golden):
        """Build the session's inputs from the golden set.

        One 2-D input (skl2onnx's default) gets every feature column in file order; several
        inputs (an export of a pipeline fed by a DataFrame) get one column each, by name, as an
        ``[N, 1]`` array. Each is built in the input's declared element type.

        Returns:
            ``(feeds, kind)``: ``{input name: array}`` and ``"array"`` or ``"columns"``.

        Raises:
            ValueError: The golden set lacks a column, has another number of features than the
                input declares, or holds a value the declared type cannot represent.
            TypeError: An input's type cannot be built from a CSV file.
        """
        inputs = self.session.get_inputs()
        if len(inputs) == 1 and len(inputs[0].shape or ()) == 2:
            arg = inputs[0]
            width = arg.shape[1]
            if isinstance(width, int) and width != len(golden.columns):
                raise ValueError(
                    "the model's input {!r} takes {} features; the golden set has {} feature"
                    " columns".format(arg.name, width, len(golden.columns))
                )
            columns = [_column(golden, name, arg) for name in golden.columns]
            return {arg.name: _stack(columns, golden.rows, arg)}, "array"
        missing = [arg.name for arg in inputs if arg.name not in golden.values]
        if missing:
            raise ValueError(
                "the golden set has no column {} that the model takes as an input".format(
                    ", ".join(repr(name) for name in missing[:10])
                )
            )
        feeds = {arg.name: _stack([_column(golden, arg.name, arg)], golden.rows, arg)
                 for arg in inputs}  # fmt: skip
        return feeds, "columns"


def explain(exc: BaseException, header: dict, runtime) -> None:
    """Make onnxruntime's refusal say which runtime refused which IR version and opsets.

    The message becomes ``onnxruntime 1.17.3 refused the model (IR 10, opsets ai.onnx 9,
    ai.onnx.ml 1): Unsupported model IR version: 10, max supported IR version: 9``: the facts
    first, as they were read from the file, because onnxruntime does not always name them
    (1.8 says only "Unknown model file format version."). The exception keeps its type.
    """
    try:
        text = " ".join(_SOURCE_LOCATION.sub(" ", _STATUS.sub("", str(exc))).split())
        message = "onnxruntime {} refused the model ({}): {}".format(
            runtime, onnx_proto.describe(header), text
        )
        exc.args = (message, *exc.args[1:])
    except Exception:
        pass  # an exception that will not take a new message keeps its own


def _read(path: str):
    with open(path, "rb") as handle:
        try:
            # Mapped, not read: a large model is not copied into this process before
            # onnxruntime reads it again.
            return mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        except ValueError:
            return b""  # an empty file cannot be mapped


def _describe(arg) -> dict:
    return {"name": arg.name, "type": arg.type, "shape": list(arg.shape or [])}


def _is_float(onnx_type: str) -> bool:
    return onnx_type in ("tensor(float)", "tensor(double)", "tensor(float16)")


def _column(golden, name: str, arg) -> list:
    dtype = _DTYPES.get(arg.type)
    if dtype is None:
        raise TypeError(
            "the model's input {!r} has type {}, which cannot be built from a CSV file".format(
                arg.name, arg.type
            )
        )
    values = golden.values[name]
    numeric = golden.numeric[name]
    if dtype == "object":
        if numeric:
            raise TypeError(
                "the model's input {!r} takes strings; golden column {!r} is numeric".format(
                    arg.name, name
                )
            )
        return values
    if not numeric:
        raise ValueError(
            "the model's input {!r} takes numbers ({}); golden column {!r} is not numeric".format(
                arg.name, arg.type, name
            )
        )
    if dtype.startswith("int") and not all(v == v and float(v).is_integer() for v in values):
        raise ValueError(
            "the model's input {!r} takes integers; golden column {!r} holds other numbers or"
            " empty cells".format(arg.name, name)
        )
    return values


def _stack(columns: list, rows: int, arg):
    import numpy

    dtype = numpy.dtype(_DTYPES[arg.type])
    array = numpy.empty((rows, len(columns)), dtype=dtype)
    for position, values in enumerate(columns):
        # Through float64 first: the golden value is a double, and float32 inputs must be the
        # same rounding of it in every cell (numpy's cast, not a parse of the text).
        array[:, position] = numpy.asarray(values, dtype=object if dtype.kind == "O" else "float64")
    return array
