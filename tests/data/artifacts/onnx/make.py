"""Write the small ONNX files the probe tests use: odd shapes of input and hostile references.

Usage (with any Python that has the ``onnx`` package, e.g. the producer environment of
``tests/data/onnx/build.py``)::

    python tests/data/artifacts/onnx/make.py

Every file is built with ``onnx.helper`` (no converter), so what each one declares is exactly
what this script says; ``expected.json`` beside them is the list the tests read.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = Path(__file__).resolve().parent
FEATURES = [f"f{i}" for i in range(5)]  # the columns of tests/data/onnx/*/golden_3c.csv


def model(graph: onnx.GraphProto, opset: int = 13, ir: int = 7, **domains: int) -> onnx.ModelProto:
    """A model with the given graph, IR version and opsets (ai.onnx plus ``domains``)."""
    imports = [helper.make_opsetid("", opset)]
    imports += [helper.make_opsetid(d.replace("_", "."), v) for d, v in domains.items()]
    made = helper.make_model(graph, opset_imports=imports, producer_name="make.py")
    made.ir_version = ir
    return made


def external(tensor: onnx.TensorProto, location: str) -> onnx.TensorProto:
    """Mark ``tensor`` as stored in ``location`` (what onnx.save_model writes for big weights)."""
    tensor.ClearField("raw_data")
    tensor.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", "60")):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    return tensor


def matmul(weights: onnx.TensorProto) -> onnx.GraphProto:
    """``Y = X @ W`` with X [N, 5] float and W [5, 3] an initializer."""
    return helper.make_graph(
        [helper.make_node("MatMul", ["X", "W"], ["Y"])],
        "matmul",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 5])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [None, 3])],
        [weights],
    )


def weights() -> onnx.TensorProto:
    """A [5, 3] float32 initializer."""
    return numpy_helper.from_array(np.arange(15, dtype=np.float32).reshape(5, 3) / 10, "W")


def files() -> dict[str, tuple[onnx.ModelProto | bytes, str]]:
    """File name → (model or raw bytes, what it is)."""
    columns = helper.make_graph(
        [helper.make_node("Concat", FEATURES, ["Y"], axis=1)],
        "columns",
        [helper.make_tensor_value_info(name, TensorProto.DOUBLE, [None, 1]) for name in FEATURES],
        [helper.make_tensor_value_info("Y", TensorProto.DOUBLE, [None, 5])],
    )
    branch = helper.make_graph(
        [helper.make_node("Identity", ["C"], ["Z"])],
        "then",
        [],
        [helper.make_tensor_value_info("Z", TensorProto.FLOAT, [1])],
        [external(numpy_helper.from_array(np.ones(1, np.float32), "C"), "/etc/hostname")],
    )
    nested = helper.make_graph(
        [
            helper.make_node("ReduceSum", ["X"], ["S"], keepdims=0),
            helper.make_node("Greater", ["S", "Zero"], ["B"]),
            helper.make_node("If", ["B"], ["Y"], then_branch=branch, else_branch=branch),
        ],
        "nested",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 5])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1])],
        [numpy_helper.from_array(np.zeros((), np.float32), "Zero")],
    )
    custom = helper.make_graph(
        [helper.make_node("Steal", ["X"], ["Y"], domain="com.example")],
        "custom",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 5])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [None, 5])],
    )
    good = model(matmul(weights())).SerializeToString()
    return {
        "matmul_float.onnx": (model(matmul(weights())), "one [N, 5] float input, one output"),
        "columns_double.onnx": (model(columns), "one [N, 1] double input per golden column"),
        "external_relative.onnx": (
            model(matmul(external(weights(), "weights.bin"))),
            "an initializer stored in weights.bin beside the model",
        ),
        "external_absolute.onnx": (
            model(matmul(external(weights(), "/etc/passwd"))),
            "an initializer read from /etc/passwd",
        ),
        "external_in_subgraph.onnx": (
            model(nested),
            "an If branch whose initializer is read from /etc/hostname",
        ),
        "custom_op.onnx": (model(custom, com_example=1), "an operator of an unregistered domain"),
        "truncated.onnx": (good[: len(good) // 2], "a valid model cut in half"),
        "not_onnx.onnx": (b"this is a text file, not a model\n", "text"),
        "empty.onnx": (b"", "zero bytes (an empty protobuf message: no IR version, no graph)"),
    }


def main() -> int:
    """Write every file and expected.json."""
    described = {}
    for name, (content, what) in files().items():
        data = content if isinstance(content, bytes) else content.SerializeToString()
        (HERE / name).write_bytes(data)
        described[name] = what
    (HERE / "expected.json").write_text(json.dumps(described, indent=2, sort_keys=True) + "\n")
    print(f"wrote {len(described)} files to {HERE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
