"""Regenerate the skops scan corpus in this folder: real, hostile and broken ``.skops`` files.

Two steps, crafted files first::

    python3 tests/data/artifacts/skops/make.py                 # any Python 3.10+, stdlib only
    SKOPS_PYTHON tests/data/artifacts/skops/make.py --real   # SKOPS_PYTHON: a Python with skops

The first writes every crafted file (hostile and broken ones, built with ``zipfile`` and ``json``
only) and its expectation in ``expected.json``. The second needs an interpreter with skops
(written with skops 0.16.0, scikit-learn 1.5.2, numpy 2.5): it writes the ``real_*`` files with
``skops.io.dump``, then records skops' own audit (``skops.io.get_untrusted_types``, which builds
the node tree without importing or constructing anything) of *every* file under ``"skops"`` in
``expected.json``. Both steps rewrite README.md. Tests only read the committed files.

Nothing harmful is executed here: hostile files only *name* dangerous callables.
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
import sys
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
EXPECTED = HERE / "expected.json"
#: Fixed member timestamps: the same inputs give the same bytes.
STAMP = (1980, 1, 1, 0, 0, 0)
#: Over the host's 256 MiB cap on schema.json (driftmatrix.skops_scan.MAX_SCHEMA_BYTES).
BOMB_BYTES = 257 * 1024 * 1024
Node = dict[str, Any]

# -- nodes, laid out as skops 0.16 writes them (protocol 2) ------------------------------------


def json_node(value: object) -> Node:
    return {
        "__class__": "str",
        "__module__": "builtins",
        "__loader__": "JsonNode",
        "content": json.dumps(value),
        "is_json": True,
    }


def type_node(module: str, name: str) -> Node:
    return {"__class__": name, "__module__": module, "__loader__": "TypeNode"}


def list_node(items: list[Node], kind: str = "list") -> Node:
    loader = "TupleNode" if kind == "tuple" else "ListNode"
    return {"__class__": kind, "__module__": "builtins", "__loader__": loader, "content": items}


def dict_node(mapping: dict[str, Node]) -> Node:
    return {
        "__class__": "dict",
        "__module__": "builtins",
        "__loader__": "DictNode",
        "content": mapping,
        "key_types": list_node([type_node("builtins", "str") for _ in mapping]),
    }


def object_node(module: str, name: str, attrs: dict[str, Node]) -> Node:
    node = {"__class__": name, "__module__": module, "__loader__": "ObjectNode"}
    return {**node, "content": dict_node(attrs)}


def function_node(module: Any, name: Any) -> Node:
    return {"__class__": name, "__module__": module, "__loader__": "FunctionNode"}


def function_transformer(func: Node) -> Node:
    """``FunctionTransformer(func=...)``: the transformer calls ``func(X)`` on predict."""
    attrs = {"func": func, "inverse_func": json_node(None), "validate": json_node(False)}
    attrs |= {"accept_sparse": json_node(False), "check_inverse": json_node(True)}
    return object_node("sklearn.preprocessing._function_transformer", "FunctionTransformer", attrs)


def pipeline(*steps: Node) -> Node:
    named = [list_node([json_node(f"step{i}"), step], "tuple") for i, step in enumerate(steps)]
    attrs = {"steps": list_node(named), "memory": json_node(None), "verbose": json_node(False)}
    return object_node("sklearn.pipeline", "Pipeline", attrs)


def generator(bit_generator: object, protocol: int) -> Node:
    """A ``numpy.random.Generator`` whose bit generator is ``numpy.random.<bit_generator>``."""
    if protocol == 0:  # the name raw in the state (skops' protocol 0 never audits it)
        state: Node = {"bit_generator": bit_generator, "state": {"state": 1, "inc": 1}}
    else:
        state = dict_node({"bit_generator": json_node(bit_generator)})
    content = {"bit_generator": state, "seed_seq": dict_node({})}
    node = {"__class__": "Generator", "__module__": "numpy.random._generator"}
    return {**node, "__loader__": "RandomGeneratorNode", "content": content}


def schema(root: Node, protocol: Any = 2) -> bytes:
    return json.dumps({**root, "protocol": protocol, "_skops_version": "0.16.0"}).encode()


# -- archives ----------------------------------------------------------------------------------


def archive(members: list[tuple[str, bytes]], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about a duplicate name; that is the point
        with zipfile.ZipFile(buffer, "w") as zf:
            for name, data in members:
                info = zipfile.ZipInfo(name, STAMP)
                info.compress_type = method
                zf.writestr(info, data)
    return buffer.getvalue()


def bomb() -> bytes:
    """A schema.json of BOMB_BYTES (a JSON string of one repeated letter), streamed through."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        info = zipfile.ZipInfo("schema.json", STAMP)
        info.compress_type = zipfile.ZIP_DEFLATED
        with zf.open(info, "w") as member:
            head = b'{"protocol": 2, "pad": "'
            member.write(head)
            left = BOMB_BYTES - len(head) - 2
            block = b"A" * (1 << 20)
            while left > 0:
                member.write(block[:left])
                left -= len(block)
            member.write(b'"}')
    return buffer.getvalue()


def method_patched(data: bytes, method: int) -> bytes:
    """A one-member archive whose compression method field says ``method``."""
    raw = bytearray(data)
    raw[8:10] = struct.pack("<H", method)  # the local header starts the file
    central = raw.rindex(b"PK\x01\x02")
    raw[central + 10 : central + 12] = struct.pack("<H", method)
    return bytes(raw)


def crc_broken(data: bytes) -> bytes:
    """A stored one-member archive with one byte of the member changed (its CRC now fails)."""
    raw = bytearray(data)
    name_length, extra_length = struct.unpack("<HH", raw[26:30])
    raw[30 + name_length + extra_length] ^= 0x20  # "{" becomes "["
    return bytes(raw)


def deep(levels: int) -> bytes:
    return b'{"a": ' * levels + b"1" + b"}" * levels


def hidden(levels: int) -> Node:
    """``os.system`` at the bottom of ``levels`` nested lists."""
    node = function_node("os", "system")
    for _ in range(levels):
        node = list_node([node])
    return dict_node({"deep": node})


def single(tree: bytes, method: int = zipfile.ZIP_DEFLATED) -> Callable[[], bytes]:
    """An archive holding only ``schema.json``, made on demand."""
    return lambda: archive([("schema.json", tree)], method)


def rejected(*names: str) -> dict[str, Any]:
    return {"outcome": "rejected", "untrusted": list(names), "complete": True}


def unscannable(problem: str) -> dict[str, Any]:
    return {"outcome": "unscannable", "problem": problem, "complete": False}


def load_error(problem: str, complete: bool = False) -> dict[str, Any]:
    return {"outcome": "load-error", "problem": problem, "complete": complete}


def crafted() -> dict[str, tuple[Callable[[], bytes], str, dict[str, Any]]]:
    """Every crafted file: its bytes (made on demand), what it is, its expected outcome."""
    log1p = function_transformer(function_node("numpy", "log1p"))
    good = schema(pipeline(log1p))
    array = {"__class__": "ndarray", "__module__": "numpy", "__loader__": "NdArrayNode"}
    array |= {"type": "json", "content": [], "shape": list_node([json_node(0)], "tuple")}
    method = {"__class__": "ndarray", "__module__": "numpy", "__loader__": "MethodNode"}
    method["content"] = {"func": "dump", "obj": array}  # ndarray.dump(file) pickles to a path
    operator = {"__class__": "methodcaller", "__module__": "operator"}
    operator |= {"__loader__": "OperatorFuncNode", "attrs": list_node([json_node("system")])}
    v0_function = function_node("numpy", "function")
    v0_function["content"] = {"module_path": "os", "function": "system"}
    popen = object_node("subprocess", "Popen", {"args": json_node("id")})
    two = [("schema.json", good), ("schema.json", schema(function_node("os", "system")))]
    return {
        "hostile_os_system.skops": (
            single(schema(pipeline(function_transformer(function_node("os", "system"))))),
            "a Pipeline whose FunctionTransformer's func is the FunctionNode `os.system`",
            rejected("os:system"),
        ),
        "hostile_eval.skops": (
            single(schema(function_transformer(function_node("builtins", "eval")))),
            "a FunctionTransformer whose func is `builtins.eval`",
            rejected("builtins:eval"),
        ),
        "hostile_subprocess_popen.skops": (
            single(schema(popen)),
            "an ObjectNode of `subprocess.Popen`",
            rejected("subprocess:Popen"),
        ),
        "hostile_posix_system.skops": (
            single(schema(function_transformer(function_node("posix", "system")))),
            "a FunctionNode `posix.system` (what `os.system` pickles as)",
            rejected("posix:system"),
        ),
        "hostile_method_node.skops": (
            single(schema(function_transformer(method))),
            "a MethodNode: `ndarray.dump` (pickles to a path) bound to a trusted numpy array",
            rejected("numpy:ndarray.dump"),
        ),
        "hostile_operator.skops": (
            single(schema(function_transformer(operator))),
            'an OperatorFuncNode `operator.methodcaller("system")`',
            rejected("operator:methodcaller"),
        ),
        "hostile_hidden_deep.skops": (
            single(schema(hidden(150))),
            "`os.system` under 150 nested ListNodes (300 JSON levels: parseable)",
            rejected("os:system"),
        ),
        "hostile_nonstring_module.skops": (
            single(schema(function_transformer(function_node(["os"], "system")))),
            'a FunctionNode whose `__module__` is the JSON array `["os"]`',
            rejected("<__module__ is an array>:system"),
        ),
        "hostile_bad_module_name.skops": (
            single(schema(object_node("sklearn.ensemble/../../os", "Thing", {}))),
            "a module name with non-identifier characters that `sklearn.*` matches as text",
            rejected("sklearn.ensemble/../../os:Thing"),
        ),
        "hostile_function_v0.skops": (
            single(schema(function_transformer(v0_function), protocol=0)),
            "protocol 0: a FunctionNode naming `numpy.function`, importing content's `os.system`",
            rejected("os:system"),
        ),
        "hostile_bit_generator.skops": (
            single(schema(generator("test", 2))),
            "a Generator whose bit generator is `numpy.random.test` (runs pytest when called)",
            rejected("numpy.random:test"),
        ),
        "hostile_bit_generator_v0.skops": (
            single(schema(generator("test", 0), protocol=0)),
            "the same in protocol 0, where skops does not audit the name",
            rejected("numpy.random:test"),
        ),
        "unscannable_zip_bomb.skops": (
            bomb,
            f"schema.json of {BOMB_BYTES} bytes (deflated to a few hundred KB)",
            unscannable("over the limit"),
        ),
        "unscannable_deep_nesting.skops": (
            single(deep(100_000)),
            "schema.json nested 100,000 levels deep",
            unscannable("nested too deeply"),
        ),
        "unscannable_two_schemas.skops": (
            lambda: archive(two),
            "two schema.json members (a benign one first, `os.system` last)",
            unscannable("two schema.json members"),
        ),
        "unscannable_ppmd.skops": (
            lambda: method_patched(single(good, zipfile.ZIP_STORED)(), 98),
            "schema.json marked as PPMd-compressed (method 98, no zipfile reads it)",
            unscannable("compression method 98"),
        ),
        "broken_not_a_zip.skops": (
            lambda: b"this is not a zip archive\n",
            "a text file",
            load_error("not a zip archive"),
        ),
        "broken_empty.skops": (lambda: b"", "an empty file", load_error("not a zip archive")),
        "broken_no_schema.skops": (
            lambda: archive([("model.npy", b"\x93NUMPY")]),
            "a zip archive without schema.json",
            load_error("no schema.json"),
        ),
        "broken_invalid_json.skops": (
            single(b'{"__class__": "Pipeline", '),
            "schema.json cut short (invalid JSON)",
            load_error("not valid JSON"),
        ),
        "broken_json_list.skops": (
            single(b'[{"__class__": "system", "__module__": "os"}]'),
            "schema.json is a JSON array, not a node (skops fails on it before any audit)",
            load_error("an array, not a node"),
        ),
        "broken_bad_crc.skops": (
            lambda: crc_broken(single(good, zipfile.ZIP_STORED)()),
            "a stored schema.json with one byte changed: its CRC-32 fails",
            load_error("damaged"),
        ),
        "broken_protocol_string.skops": (
            single(schema(log1p, "2")),
            'a benign FunctionTransformer with `"protocol": "2"` (skops refuses it)',
            load_error("not an integer", complete=True),
        ),
    }


# -- real files (needs skops) ------------------------------------------------------------------

REAL = {
    "real_forest.skops": "`RandomForestClassifier(n_estimators=2, max_depth=2)`",
    "real_column_transformer.skops": (
        "`Pipeline(ColumnTransformer(StandardScaler, OneHotEncoder), LogisticRegression)`"
    ),
    "real_log1p.skops": "`Pipeline(FunctionTransformer(np.log1p), LinearRegression)`",
    "real_hist_gradient_boosting.skops": (
        "`HistGradientBoostingClassifier(max_iter=2, max_depth=2)` (a numpy Generator, "
        "`_loss` types, and TreePredictor, which skops does not trust by default)"
    ),
}


def real() -> dict[str, bytes]:
    import numpy as np
    import skops.io as sio
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

    rng = np.random.RandomState(0)
    x = rng.rand(30, 3)
    y = (x[:, 0] > 0.5).astype(int)
    categorical = np.column_stack([x[:, :2], rng.randint(0, 3, 30)])
    columns = ColumnTransformer(
        [("num", StandardScaler(), [0, 1]), ("cat", OneHotEncoder(handle_unknown="ignore"), [2])]
    )
    models = {
        "real_forest.skops": RandomForestClassifier(
            n_estimators=2, max_depth=2, random_state=0
        ).fit(x, y),
        "real_column_transformer.skops": make_pipeline(columns, LogisticRegression()).fit(
            categorical, y
        ),
        "real_log1p.skops": make_pipeline(FunctionTransformer(np.log1p), LinearRegression()).fit(
            x, x[:, 1]
        ),
        "real_hist_gradient_boosting.skops": HistGradientBoostingClassifier(
            max_iter=2, max_depth=2, random_state=0
        ).fit(x, y),
    }
    return {
        name: sio.dumps(model, compression=zipfile.ZIP_DEFLATED, compresslevel=9)
        for name, model in models.items()
    }


def audit(path: Path) -> dict[str, Any]:
    """skops' own audit of ``path`` (nothing imported or constructed), or how it failed."""
    import skops.io as sio

    if path.name == "unscannable_zip_bomb.skops":
        return {"skipped": f"skops would read all {BOMB_BYTES} bytes into memory"}
    try:
        return {"untrusted": sorted(sio.get_untrusted_types(file=path))}
    except Exception as exc:  # recorded: the cell's skops fails the same way
        return {"error": f"{type(exc).__name__}: {str(exc)[:120]}"}


# -- outputs -----------------------------------------------------------------------------------


README = """\
# skops scan corpus: real, hostile and broken `.skops` files

Inputs of `tests/unit/test_skops_scan.py` and `tests/unit/test_screening.py`, committed; tests
only read them (the host never loads a skops file). Regenerate with

```sh
python3 tests/data/artifacts/skops/make.py              # crafted files, stdlib only
SKOPS_PYTHON tests/data/artifacts/skops/make.py --real  # real files (skops, sklearn)
```

(see `make.py`). `expected.json` holds each file's expected screening with the default
`trusted` patterns: `admitted` (not rejected: the cell loads it), `rejected` with exactly those
untrusted names, `unscannable` (rejected: the host cannot list what the cell might load), or
`load-error` (not rejected: the cell's skops cannot read it either, and fails with its own
message), and the file's sha256. Under `skops` it holds skops' own audit of the file
(`get_untrusted_types`, or the error it raised; kept while the file's bytes stay the same): the
host's listing must contain every name skops reports, and trust them all in an admitted file.

| file | what it is | outcome | sha256 |
|---|---|---|---|
"""


def readme(descriptions: dict[str, str], expected: dict[str, Any]) -> str:
    rows = []
    for name in sorted(expected):
        entry = expected[name]
        outcome = entry["outcome"]
        if outcome == "rejected":
            outcome += ": " + ", ".join(f"`{n}`" for n in entry["untrusted"])
        rows.append(
            f"| `{name}` | {descriptions.get(name, '')} | {outcome} | `{entry['sha256']}` |"
        )
    return README + "\n".join(rows) + "\n"


def main() -> None:
    old: dict[str, Any] = json.loads(EXPECTED.read_text()) if EXPECTED.exists() else {}
    expected = dict(old)
    descriptions = dict(REAL)
    made: dict[str, tuple[bytes, dict[str, Any]]] = {}
    for name, (make, description, outcome) in crafted().items():
        descriptions[name] = description
        if "--real" not in sys.argv:
            made[name] = (make(), outcome)
    if "--real" in sys.argv:
        made = {
            name: (data, {"outcome": "admitted", "complete": True}) for name, data in real().items()
        }
    for name, (data, outcome) in made.items():
        (HERE / name).write_bytes(data)
        digest = hashlib.sha256(data).hexdigest()
        expected[name] = {**outcome, "sha256": digest}
        if old.get(name, {}).get("sha256") == digest and "skops" in old[name]:
            expected[name]["skops"] = old[name]["skops"]  # same bytes: skops' audit still holds
    if "--real" in sys.argv:
        for name in expected:
            expected[name]["skops"] = audit(HERE / name)
    expected = {name: expected[name] for name in sorted(expected) if (HERE / name).exists()}
    EXPECTED.write_text(json.dumps(expected, indent=2) + "\n")
    (HERE / "README.md").write_text(readme(descriptions, expected))


if __name__ == "__main__":
    main()
