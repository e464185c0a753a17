"""The runner's standard-library ONNX reader, in process, on real exports and hostile files.

The real exports' IR versions and opsets are checked against what the ``onnx`` package itself
read in the producer environment (the fixture manifest), so the reader is compared with the
reference implementation, not with itself.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from probes import onnx_proto

DATA = Path(__file__).resolve().parents[1] / "data"
EXPORTS = next((DATA / "onnx").glob("py*/manifest.json")).parent
ODD = DATA / "artifacts" / "onnx"


def manifest() -> dict:
    return json.loads((EXPORTS / "manifest.json").read_text())


@pytest.mark.parametrize("name", sorted(manifest()["models"]))
def test_header_matches_what_the_onnx_package_read(name: str) -> None:
    want = manifest()["models"][name]
    header = onnx_proto.read_header((EXPORTS / name).read_bytes())
    assert header["ir_version"] == want["ir_version"]
    assert header["opsets"] == want["opsets"]
    assert header["producer"] == "skl2onnx " + manifest()["producer"]["packages"]["skl2onnx"]


def test_describe_names_ir_and_every_opset() -> None:
    header = onnx_proto.read_header((EXPORTS / "lr_3c.onnx").read_bytes())
    assert onnx_proto.describe(header) == "IR 10, opsets ai.onnx 9, ai.onnx.ml 1"


@pytest.mark.parametrize("name", ["lr_3c.onnx", "lr_3c_op13.onnx", "rf_3c_op13.onnx"])
def test_class_labels_of_zipmap_and_tensor_exports(name: str) -> None:
    # lr: a ZipMap names the keys; rf (zipmap=False): the TreeEnsembleClassifier's labels.
    assert onnx_proto.class_labels((EXPORTS / name).read_bytes()) == [0, 1, 2]


def test_exports_have_no_external_data() -> None:
    for name in manifest()["models"]:
        assert onnx_proto.external_data((EXPORTS / name).read_bytes()) == []


@pytest.mark.parametrize(
    ("name", "locations"),
    [
        ("external_relative.onnx", ["weights.bin"]),
        ("external_absolute.onnx", ["/etc/passwd"]),
        # In an If branch: two attributes (then/else) share the same graph.
        ("external_in_subgraph.onnx", ["/etc/hostname", "/etc/hostname"]),
    ],
)
def test_external_data_is_found_wherever_the_tensor_is(name: str, locations: list[str]) -> None:
    assert onnx_proto.external_data((ODD / name).read_bytes()) == locations


@pytest.mark.parametrize("name", ["truncated.onnx", "not_onnx.onnx"])
def test_malformed_bytes_raise_proto_error(name: str) -> None:
    data = (ODD / name).read_bytes()
    with pytest.raises(onnx_proto.ProtoError):
        onnx_proto.read_header(data)
        onnx_proto.external_data(data)


def test_an_empty_file_is_an_empty_message() -> None:
    # Protobuf reads zero bytes as a message with every field unset; onnxruntime decides.
    header = onnx_proto.read_header(b"")
    assert header == {"ir_version": None, "opsets": {}, "producer": "", "metadata": {}}
    assert onnx_proto.describe(header) == "IR ?, opsets (none)"


def test_cut_anywhere_never_raises_anything_but_proto_error() -> None:
    data = (EXPORTS / "rf_3c_op13.onnx").read_bytes()
    for end in range(0, len(data), 7):
        try:
            onnx_proto.read_header(data[:end])
            onnx_proto.external_data(data[:end])
            onnx_proto.class_labels(data[:end])
        except onnx_proto.ProtoError:
            pass


def test_negative_int64_and_groups_are_read_as_protobuf_does() -> None:
    # ir_version = -1 (ten-byte two's complement), then a group (field 15) that is skipped.
    data = bytes([0x08]) + b"\xff" * 9 + b"\x01" + bytes([0x7B, 0x08, 0x01, 0x7C])
    assert onnx_proto.read_header(data)["ir_version"] == -1


def test_nesting_deeper_than_the_limit_is_refused() -> None:
    # model.graph → node → attribute.g → node → ...: If bodies inside If bodies.
    graph = b""
    for _ in range(onnx_proto.MAX_DEPTH // 3 + 2):
        graph = _field(1, _field(5, _field(6, graph)))
    with pytest.raises(onnx_proto.ProtoError, match="nest"):
        onnx_proto.external_data(_field(7, graph))


def _field(number: int, payload: bytes) -> bytes:
    size = len(payload)
    length = bytearray()
    while True:
        byte = size & 0x7F
        size >>= 7
        length.append(byte | (0x80 if size else 0))
        if not size:
            break
    return bytes([number << 3 | 2]) + bytes(length) + payload
