"""What an ONNX file declares, read from its protobuf bytes with the standard library only.

The load probe needs two facts before (and whether or not) onnxruntime accepts the file: the
model's IR version and opset imports, so that a refusal can say which ones were refused even
when onnxruntime's own message does not (1.8 says only "Unknown model file format version"),
and in cells without the ``onnx`` package; and whether any tensor keeps its data in an external
file, which the cell refuses (see :func:`external_data`).

Only the few fields needed are decoded (onnx.proto3 field numbers); everything else is skipped
by its wire type, as protobuf itself skips unknown fields. Malformed bytes raise
:class:`ProtoError`, never anything else.
"""

from __future__ import annotations

#: ModelProto fields.
_IR_VERSION, _PRODUCER_NAME, _PRODUCER_VERSION, _GRAPH, _OPSET_IMPORT = 1, 2, 3, 7, 8
_METADATA_PROPS, _TRAINING_INFO, _FUNCTIONS = 14, 20, 25
#: Where tensors and sub-graphs live, per message type: field number → message type of that
#: field. These are the only paths by which a TensorProto can appear in a model.
_CHILDREN = {
    "model": {_GRAPH: "graph", _TRAINING_INFO: "training", _FUNCTIONS: "function"},
    "training": {1: "graph", 2: "graph"},  # TrainingInfoProto.initialization, .algorithm
    "function": {7: "node"},  # FunctionProto.node
    "graph": {1: "node", 5: "tensor", 15: "sparse"},  # GraphProto.node, initializer, sparse_init
    "node": {5: "attribute"},  # NodeProto.attribute
    # AttributeProto.t, g, tensors, graphs, sparse_tensor, sparse_tensors
    "attribute": {5: "tensor", 6: "graph", 10: "tensor", 11: "graph", 22: "sparse", 23: "sparse"},
    "sparse": {1: "tensor", 2: "tensor"},  # SparseTensorProto.values, indices
    "tensor": {},
}
#: TensorProto.external_data (StringStringEntryProto) and TensorProto.data_location.
_EXTERNAL_DATA, _DATA_LOCATION, _EXTERNAL = 13, 14, 1
#: Sub-graphs nest (If and Loop bodies); a file nested deeper than this is refused, not followed.
MAX_DEPTH = 64


class ProtoError(ValueError):
    """The bytes are not a well-formed protobuf message."""


def read_header(data) -> dict:
    """Read the model-level facts of an ONNX ``ModelProto``.

    Args:
        data: The file's bytes (``bytes``, ``mmap`` or anything sliceable like them).

    Returns:
        ``{"ir_version", "opsets", "producer", "metadata"}``: the IR version (None when the
        field is absent), ``{domain: version}`` of the opset imports (the default domain, which
        the file may spell ``""``, as ``ai.onnx``), ``"name version"`` of the producer and the
        ``metadata_props`` as a dict.

    Raises:
        ProtoError: The bytes are not a protobuf message.
    """
    header = {"ir_version": None, "opsets": {}, "producer": "", "metadata": {}}
    producer = ["", ""]
    for field, wire, value in _fields(data, 0, len(data)):
        if field == _IR_VERSION and wire == 0:
            header["ir_version"] = value
        elif field in (_PRODUCER_NAME, _PRODUCER_VERSION) and wire == 2:
            producer[field - _PRODUCER_NAME] = _text(data, value)
        elif field == _OPSET_IMPORT and wire == 2:
            entry = _scalars(data, value, strings=(1,), ints=(2,))
            domain = entry.get(1) or "ai.onnx"
            header["opsets"][domain] = entry.get(2)
        elif field == _METADATA_PROPS and wire == 2:
            entry = _scalars(data, value, strings=(1, 2))
            header["metadata"][entry.get(1, "")] = entry.get(2, "")
    header["opsets"] = dict(sorted(header["opsets"].items()))
    header["producer"] = " ".join(part for part in producer if part)
    return header


def describe(header: dict) -> str:
    """``"IR 10, opsets ai.onnx 9, ai.onnx.ml 1"``: the header in the words of an error message."""
    ir = header.get("ir_version")
    opsets = ", ".join(
        "{} {}".format(domain, version) for domain, version in sorted(header["opsets"].items())
    )
    return "IR {}, opsets {}".format("?" if ir is None else ir, opsets or "(none)")


def external_data(data) -> list:
    """The external files the model's tensors name (``location``), in file order.

    Why it matters: onnxruntime reads such a tensor's bytes from the named path, relative to the
    model's directory — or anywhere, for an absolute or ``..`` path in older releases. A cell
    only has the model file itself (the host freezes that one file), so a model with external
    data cannot be probed as it is, and a hostile one could have onnxruntime read a file the
    cell was never given into its outputs. The load probe refuses both before onnxruntime opens
    the file.

    Returns:
        Every ``location`` named by a tensor marked ``EXTERNAL`` (or that carries
        ``external_data`` entries); ``"<unnamed>"`` for one without a location.

    Raises:
        ProtoError: The bytes are malformed, or sub-graphs nest deeper than :data:`MAX_DEPTH`.
    """
    found = []
    _walk(data, 0, len(data), "model", 0, found)
    return found


def class_labels(data):
    """The class labels the main graph's classifier declares, in the order of its outputs.

    skl2onnx's ``ZipMap`` (``classlabels_int64s`` / ``classlabels_strings``) decides the keys of
    the probability dicts; without one (``zipmap=False``), the ``ai.onnx.ml`` classifier node's
    ``classlabels_ints`` / ``classlabels_strings`` give the order of the probability columns.

    Returns:
        A list of ints or strings, or None when no node declares labels.

    Raises:
        ProtoError: The bytes are malformed.
    """
    found = {}
    for field, wire, span in _fields(data, 0, len(data)):
        if field != _GRAPH or wire != 2:
            continue
        for node_field, node_wire, node in _fields(data, span[0], span[1]):
            if node_field != 1 or node_wire != 2:
                continue  # GraphProto.node
            op_type, labels = _node_labels(data, node)
            if labels is not None and (op_type == "ZipMap" or op_type.endswith("Classifier")):
                found.setdefault("zipmap" if op_type == "ZipMap" else "classifier", labels)
    return found.get("zipmap", found.get("classifier"))


def _node_labels(data, node):
    op_type = ""
    labels = None
    for field, wire, value in _fields(data, node[0], node[1]):
        if field == 4 and wire == 2:  # NodeProto.op_type
            op_type = _text(data, value)
        elif field == 5 and wire == 2:  # NodeProto.attribute
            name, ints, strings = "", [], []
            for attr_field, attr_wire, attr_value in _fields(data, value[0], value[1]):
                if attr_field == 1 and attr_wire == 2:
                    name = _text(data, attr_value)
                elif attr_field == 8 and attr_wire == 0:
                    ints.append(attr_value)
                elif attr_field == 8 and attr_wire == 2:  # packed, as proto3 writes them
                    pos, end = attr_value
                    while pos < end:
                        number, pos = _varint(data, pos, end)
                        ints.append(number)
                elif attr_field == 9 and attr_wire == 2:
                    strings.append(_text(data, attr_value))
            if name.startswith("classlabels_"):
                labels = strings if name.endswith("strings") else ints
    return op_type, labels


def _walk(data, start: int, end: int, kind: str, depth: int, found: list) -> None:
    if depth > MAX_DEPTH:
        raise ProtoError("sub-graphs nest deeper than {} levels".format(MAX_DEPTH))
    children = _CHILDREN[kind]
    external = False
    locations = []
    for field, wire, value in _fields(data, start, end):
        if wire != 2:
            if kind == "tensor" and field == _DATA_LOCATION and wire == 0:
                external = external or value == _EXTERNAL
            continue
        if kind == "tensor" and field == _EXTERNAL_DATA:
            entry = _scalars(data, value, strings=(1, 2))
            if entry.get(1) == "location":
                locations.append(entry.get(2, ""))
            external = True
        elif field in children:
            _walk(data, value[0], value[1], children[field], depth + 1, found)
    if external:
        found.extend(locations or ["<unnamed>"])


def _fields(data, start: int, end: int):
    """Yield ``(field, wire type, value)``; a length-delimited value is its ``(start, end)``."""
    pos = start
    while pos < end:
        key, pos = _varint(data, pos, end)
        field, wire = key >> 3, key & 7
        if field == 0:
            raise ProtoError("field number 0 at byte {}".format(pos))
        if wire == 0:
            value, pos = _varint(data, pos, end)
        elif wire == 1 or wire == 5:
            size = 8 if wire == 1 else 4
            if pos + size > end:
                raise ProtoError("the data ends inside a fixed-size field")
            value, pos = None, pos + size
        elif wire == 2:
            size, pos = _varint(data, pos, end)
            if pos + size > end:
                raise ProtoError(
                    "field {} claims {} bytes at byte {}; the message ends first".format(
                        field, size, pos
                    )
                )
            value, pos = (pos, pos + size), pos + size
        elif wire == 3:
            value, pos = None, _skip_group(data, pos, end, field)
        else:
            raise ProtoError("wire type {} at byte {} is not protobuf".format(wire, pos))
        yield field, wire, value


def _skip_group(data, pos: int, end: int, field: int) -> int:
    # Deprecated groups still parse in protobuf (as unknown fields); skip them the same way.
    depth = 1
    while depth:
        if pos >= end:
            raise ProtoError("the data ends inside a group")
        key, pos = _varint(data, pos, end)
        wire = key & 7
        if wire == 3:
            depth += 1
        elif wire == 4:
            depth -= 1
        elif wire == 0:
            _, pos = _varint(data, pos, end)
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
        elif wire == 2:
            size, pos = _varint(data, pos, end)
            pos += size
        else:
            raise ProtoError("wire type {} inside group {}".format(wire, field))
    if pos > end:
        raise ProtoError("the data ends inside a group")
    return pos


def _varint(data, pos: int, end: int):
    result = 0
    shift = 0
    while True:
        if pos >= end:
            raise ProtoError("the data ends inside a number")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            break
        shift += 7
        if shift >= 70:
            raise ProtoError("a number longer than 10 bytes at byte {}".format(pos))
    # int64 fields are written as 64-bit two's complement: a negative version is still a number.
    result &= (1 << 64) - 1
    return (result - (1 << 64) if result >= 1 << 63 else result), pos


def _scalars(data, span, strings=(), ints=()) -> dict:
    """The string and integer fields of a small message (last value wins, as in protobuf)."""
    found = {}
    for field, wire, value in _fields(data, span[0], span[1]):
        if field in strings and wire == 2:
            found[field] = _text(data, value)
        elif field in ints and wire == 0:
            found[field] = value
    return found


def _text(data, span) -> str:
    return bytes(data[span[0] : span[1]]).decode("utf-8", "replace")
