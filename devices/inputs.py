"""An artifact's input spec read from the artifact itself: input names and dtype, the rows of its word and
token-type embedding tables, and its static batch / sequence length.

torch (an extracted model directory): config.json. ONNX: the graph's inputs, and the Gather whose indices are
`input_ids` / `token_type_ids` (its table an initializer, or one dequantised from one). TFLite: the signature's
inputs (args_0..2 = ids, mask, types in export order) and the EMBEDDING_LOOKUP / GATHER they feed. The spec is
cached beside a file artifact as `<artifact>.inputs.json` (keyed by size and mtime), so a large ONNX is parsed once.
Must not import dynabert or bench.
"""

from __future__ import annotations

import json
from pathlib import Path

from devices.request import ROLES, InputSpec

WALK = 6  # ops between a graph input and its lookup (casts, reshapes) followed at most


def read_input_spec(path: str | Path) -> InputSpec:
    """The InputSpec of a torch directory, .onnx or .tflite; ValueError naming the file when it cannot be read."""
    path = Path(path)
    if path.is_dir():
        return torch_spec(path)
    if not path.is_file():
        raise ValueError(f"artifact {path} does not exist")
    cache = path.with_name(path.name + ".inputs.json")
    stamp = [path.stat().st_size, path.stat().st_mtime_ns]
    saved = _cached(cache, stamp)
    if saved is not None:
        return saved
    if path.suffix == ".onnx":
        spec = onnx_spec(path)
    elif path.suffix == ".tflite":
        spec = tflite_spec(path)
    else:
        raise ValueError(
            f"artifact {path}: unknown format (expected a model directory, .onnx or .tflite)"
        )
    cache.write_text(json.dumps({"stamp": stamp, "spec": spec.__dict__}))
    return spec


def _cached(cache: Path, stamp: list) -> InputSpec | None:
    """The InputSpec saved in `cache` for this file version; None when absent, stale or damaged (then it is read
    from the artifact again and the cache rewritten: it only ever holds what the artifact says)."""
    try:
        saved = json.loads(cache.read_text())
        if saved.get("stamp") == stamp:
            return InputSpec(**{**saved["spec"], "names": tuple(saved["spec"]["names"])})
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        pass
    return None


def torch_spec(path: Path) -> InputSpec:
    config_path = path / "config.json"
    if not config_path.is_file():
        raise ValueError(f"artifact {path} is a directory without config.json (not a saved model)")
    try:
        config = json.loads(config_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(
            f"{config_path}: not JSON ({err}); save the model again (save_pretrained)"
        ) from None
    if not isinstance(config, dict):
        raise ValueError(
            f"{config_path}: holds a JSON {type(config).__name__}, not a model config object; save the "
            f"model again (save_pretrained)"
        )
    vocab = config.get("vocab_size")
    if not vocab:
        raise ValueError(f"{config_path} has no vocab_size")
    return InputSpec(ROLES, "int64", int(vocab), max(1, int(config.get("type_vocab_size") or 1)))


def onnx_spec(path: Path) -> InputSpec:
    import onnx

    graph = onnx.load(str(path)).graph
    dims = {t.name: list(t.dims) for t in graph.initializer}
    producer = {out: node for node in graph.node for out in node.output}
    inputs = {i.name: i for i in graph.input if i.name not in dims}
    missing = [r for r in ROLES[:2] if r not in inputs]
    if missing:
        raise ValueError(f"{path}: no graph input(s) {missing}; inputs are {sorted(inputs)}")

    def table_rows(
        name: str,
    ) -> int | None:  # an initializer, possibly behind DequantizeLinear/Cast
        for _ in range(WALK):
            if name in dims:
                return dims[name][0] if len(dims[name]) == 2 else None
            if name not in producer:
                return None
            name = producer[name].input[0]
        return None

    def source_input(name: str) -> str | None:
        for _ in range(WALK):
            if name in inputs:
                return name
            if name not in producer:
                return None
            name = producer[name].input[0]
        return None

    rows = {}
    for node in graph.node:
        if node.op_type == "Gather" and (role := source_input(node.input[1])) in ROLES:
            rows.setdefault(role, table_rows(node.input[0]))
    if not rows.get("input_ids"):
        raise ValueError(
            f"{path}: no embedding lookup of input_ids found; cannot tell the vocabulary size"
        )
    shape = [d.dim_value or None for d in inputs["input_ids"].type.tensor_type.shape.dim]
    dtype = onnx.helper.tensor_dtype_to_np_dtype(
        inputs["input_ids"].type.tensor_type.elem_type
    ).name
    return InputSpec(
        ROLES,
        dtype,
        rows["input_ids"],
        rows.get("token_type_ids") or 1,
        *(shape + [None, None])[:2],
    )


def tflite_spec(path: Path) -> InputSpec:
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        raise ValueError(
            f"reading {path} needs LiteRT here: pip install 'dynabert-edge[tflite]' "
            "(or: pip install ai-edge-litert)"
        ) from None
    interp = Interpreter(model_path=str(path))
    details = interp.get_signature_runner().get_input_details()
    order = sorted(details)  # args_0, args_1, args_2 = ids, mask, types (export order)
    if len(order) != 3:
        raise ValueError(f"{path}: expected 3 signature inputs (ids, mask, types), found {order}")
    index_role = {details[name]["index"]: role for name, role in zip(order, ROLES)}
    tensors = {t["index"]: t for t in interp.get_tensor_details()}
    ops = interp._get_ops_details()  # noqa: SLF001 (LiteRT's only op-graph view)
    producer = {out: op for op in ops for out in op["outputs"]}

    def source_role(index: int) -> str | None:
        for _ in range(WALK):
            if index in index_role:
                return index_role[index]
            if index not in producer or not len(producer[index]["inputs"]):
                return None
            index = producer[index]["inputs"][0]
        return None

    rows = {}
    for op in ops:
        if op["op_name"] in ("EMBEDDING_LOOKUP", "GATHER"):
            ids, table = (
                (op["inputs"][0], op["inputs"][1])
                if op["op_name"] == "EMBEDDING_LOOKUP"
                else (op["inputs"][1], op["inputs"][0])
            )
            if (role := source_role(ids)) and len(tensors[table]["shape"]) == 2:
                rows.setdefault(role, int(tensors[table]["shape"][0]))
    if not rows.get("input_ids"):
        raise ValueError(
            f"{path}: no embedding lookup of the ids input found; cannot tell the vocabulary size"
        )
    names = tuple(tensors[details[n]["index"]]["name"] for n in order)
    batch, seq = (int(v) for v in details[order[0]]["shape"])
    return InputSpec(
        names,
        details[order[0]]["dtype"].__name__,
        rows["input_ids"],
        rows.get("token_type_ids") or 1,
        batch,
        seq,
    )
