"""Offline attention fusion of an exported ONNX graph with onnxruntime's transformers optimizer.

onnxruntime's session optimizer fuses no attention in this project's export (each layer keeps ~15 small nodes
around its MatMuls). Its offline BERT optimizer (`onnxruntime.transformers.optimizer.optimize_model`) can fuse each
layer into one `com.microsoft.Attention` node, also for width-pruned layers (the node's own head count; Q/K/V
weights of heads x head size columns, not hidden size), once two shapes of the dynamo export are written the way
its pattern matcher expects (`prepare`):
- the mask's `Unsqueeze(attention_mask, axes=[1, 2])` becomes two single-axis Unsqueezes (it matches
  `Mul <- Sub <- Cast <- Unsqueeze <- Unsqueeze`);
- the score scaling `Mul(QK^T, c)` becomes `Div(QK^T, 1/c)` (its matcher takes the first `Mul` parent of the mask
  `Add`, which with two Muls is the wrong one). The fused node scales by 1/sqrt(head size), so every `c` must
  equal that (checked; `ValueError` otherwise).
The mask stays a raw 2D mask (`AttentionMaskFormat.AttentionMask`), so any mask (left/right/inner padding) gives
the exported model's result, not only right padding. SkipLayerNormalization is not fused (docs/ort-skiplayernorm.md),
nor the embeddings (EmbedLayerNormalization would hide the vocabulary lookups devices/inputs.py reads); GELU
becomes BiasGelu. `python -m bench.export` checks the fused file against torch (1e-4) like any artifact.
One line for a user, on a plain export `model.onnx` (after `prepare`):
`optimize_model("model.onnx", model_type="bert", num_heads=0, hidden_size=0, opt_level=0,
optimization_options=options()).save_model_to_file("fused.onnx")`.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

FUSED_OPS = (
    "Attention",
    "MultiHeadAttention",
    "BiasGelu",
    "Gelu",
    "FastGelu",
    "SkipLayerNormalization",
    "EmbedLayerNormalization",
)
RECIPE = (
    "onnxruntime.transformers.optimizer.optimize_model(model_type='bert', num_heads=0, hidden_size=0 "
    "(per layer, read from the graph), opt_level=0, FusionOptions('bert') with enable_skip_layer_norm=False, "
    "enable_embed_layer_norm=False, attention_mask_format=AttentionMask), after bench.ort_fusion.prepare"
)


def options():
    """FusionOptions: BERT fusions, no SkipLayerNormalization, no EmbedLayerNormalization, the mask kept as a raw
    2D mask."""
    from onnxruntime.transformers.fusion_options import AttentionMaskFormat, FusionOptions

    opt = FusionOptions("bert")
    opt.enable_skip_layer_norm = False
    opt.enable_embed_layer_norm = (
        False  # keeps the embedding Gathers (devices/inputs.py reads the vocabulary there)
    )
    opt.attention_mask_format = AttentionMaskFormat.AttentionMask
    return opt


def _split_unsqueezes(graph) -> int:
    """Unsqueeze(graph input, several constant axes) -> a chain of single-axis Unsqueezes (ascending axes)."""
    from onnx import helper, numpy_helper

    inits = {i.name: i for i in graph.initializer}
    inputs = {i.name for i in graph.input}
    done = 0
    for node in [n for n in graph.node if n.op_type == "Unsqueeze" and n.input[0] in inputs]:
        if len(node.input) < 2 or node.input[1] not in inits:
            continue
        axes = sorted(int(a) for a in numpy_helper.to_array(inits[node.input[1]]).ravel())
        if len(axes) < 2:
            continue
        at, prev = list(graph.node).index(node), node.input[0]
        graph.node.remove(node)
        for k, axis in enumerate(axes):
            name = f"{node.name}_axis{k}"
            graph.initializer.append(
                numpy_helper.from_array(np.array([axis], np.int64), name + "_axes")
            )
            out = node.output[0] if k == len(axes) - 1 else name + "_out"
            graph.node.insert(
                at + k, helper.make_node("Unsqueeze", [prev, name + "_axes"], [out], name)
            )
            prev = out
        done += 1
    return done


def _scales_to_div(graph) -> list[float]:
    """Mul(MatMul output, scalar c) feeding Add -> Softmax becomes Div(., 1/c); returns the c values."""
    from onnx import numpy_helper

    inits = {i.name: i for i in graph.initializer}
    producer = {o: n for n in graph.node for o in n.output}
    consumers: dict[str, list] = {}
    for n in graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    scales = []
    for node in graph.node:
        if node.op_type != "Mul" or node.input[1] not in inits or node.input[0] not in producer:
            continue
        c = numpy_helper.to_array(inits[node.input[1]])
        nxt = consumers.get(node.output[0], [])
        if (
            producer[node.input[0]].op_type != "MatMul"
            or c.size != 1
            or len(nxt) != 1
            or nxt[0].op_type != "Add"
            or not any(s.op_type == "Softmax" for s in consumers.get(nxt[0].output[0], []))
        ):
            continue
        recip = numpy_helper.from_array((1.0 / c).astype(c.dtype), node.name + "_reciprocal")
        graph.initializer.append(recip)
        node.op_type, node.input[1] = "Div", recip.name
        scales.append(float(c.ravel()[0]))
    return scales


def prepare(model) -> dict:
    """Rewrite (in place) the two export shapes onnxruntime's BERT attention matcher does not take (module
    docstring). Returns {"split_unsqueeze": n, "scales": [c, ...]}."""
    return {
        "split_unsqueeze": _split_unsqueezes(model.graph),
        "scales": _scales_to_div(model.graph),
    }


def _head_sizes(graph) -> list[int]:
    """Head size of every fused Attention node: its Q width (qkv_hidden_sizes[0], else weight columns / 3) over
    its num_heads."""
    from onnx import helper, numpy_helper

    inits = {i.name: i for i in graph.initializer}
    sizes = []
    for node in (n for n in graph.node if n.op_type == "Attention"):
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        q_width = (
            list(attrs["qkv_hidden_sizes"])[0]
            if "qkv_hidden_sizes" in attrs
            else numpy_helper.to_array(inits[node.input[1]]).shape[1] // 3
        )
        sizes.append(q_width // int(attrs["num_heads"]))
    return sizes


class _PrunedWidthNotice(logging.Filter):
    """onnxruntime's fusion warns on every width-pruned layer that the attention width (heads x head size, read
    from the graph) differs from the layer's input width; that is what pruning is, and the fusion handles it
    (qkv weights of that width). Only this message is dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Input hidden size")


def fuse(src: Path, dst: Path) -> dict:
    """Write `src`'s attention-fused graph to `dst` (module docstring); returns what was done: the recipe, the
    onnxruntime version, the prepare() rewrites and the fused node counts {op: n}.

    Raises ValueError when a layer's score scale is not 1/sqrt(its head size) (the fused node would scale wrong).
    """
    import onnx
    import onnxruntime
    from onnxruntime.transformers.optimizer import optimize_model

    model = onnx.load(str(src))
    rewrites = prepare(model)
    drop = _PrunedWidthNotice()
    loggers = [
        logging.getLogger(n)
        for n in ("fusion_attention", "onnxruntime.transformers.fusion_attention")
    ]
    for lg in loggers:
        lg.addFilter(drop)
    try:
        optimizer = optimize_model(
            model,
            model_type="bert",
            num_heads=0,
            hidden_size=0,
            opt_level=0,
            optimization_options=options(),
        )
    finally:
        for lg in loggers:
            lg.removeFilter(drop)
    graph = optimizer.model.graph
    heads = _head_sizes(graph)
    wrong = [
        (c, h)
        for h in set(heads)
        for c in rewrites["scales"]
        if not np.isclose(c, 1 / np.sqrt(h), rtol=1e-6, atol=0)
    ]
    if wrong:
        raise ValueError(
            f"{src}: attention score scale {wrong[0][0]} is not 1/sqrt(head size {wrong[0][1]}); "
            "the fused Attention node would scale differently; export without fusion"
        )
    types = [n.op_type for n in graph.node]
    optimizer.save_model_to_file(str(dst))
    return {
        "recipe": RECIPE,
        "onnxruntime": onnxruntime.__version__,
        "prepare": {
            "split_unsqueeze": rewrites["split_unsqueeze"],
            "scales_to_div": len(rewrites["scales"]),
        },
        "fused": {op: types.count(op) for op in FUSED_OPS if types.count(op)},
        "head_sizes": sorted(set(heads)),
    }
