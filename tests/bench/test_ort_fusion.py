"""ONNX artifacts are the export with onnxruntime's offline attention fusion applied (bench/ort_fusion.py): one
`Attention` node per layer at every width (the sub-network's own head count), exact against torch (1e-4) for any
mask, int8 quantized from the fused graph within its bound, and what was applied named in the sidecar and in
every record's session options."""

import json

import numpy as np
import onnx
import pytest
import torch
from onnx import helper, numpy_helper

from bench import ort_fusion, session_settings
from bench.export import FP32_TOL, ensure_artifact, unfused_path
from devices.inputs import read_input_spec
from devices.runner import load
from dynabert import DynaBert, SubnetSpec, extract
from dynabert.evaluate import weights_sha

from factories import tiny_distilbert, tiny_roberta
from messages import assert_names

pytestmark = pytest.mark.slow  # every test exports

SPECS = [
    SubnetSpec(0.5, 0.5),
    SubnetSpec(0.25, 1.0),
]  # width-pruned: heads x head size < hidden size


def attention_nodes(path):
    graph = onnx.load(str(path)).graph
    return [
        {a.name: helper.get_attribute_value(a) for a in n.attribute}
        for n in graph.node
        if n.op_type in ("Attention", "QAttention")
    ]


def masks(batch_seq=(4, 16)):
    """Right, left and inner padding, and a full row: the fused node must take any 2D mask."""
    b, s = batch_seq
    m = np.ones((b, s), np.int64)
    m[0, s // 2 :] = 0
    m[1, : s // 3] = 0
    m[2, [1, 5, 6, 11]] = 0
    return m


def run_both(model, path, mask):
    g = torch.Generator().manual_seed(3)
    ids = torch.randint(5, model.config.vocab_size, mask.shape, generator=g)
    tt = torch.zeros_like(ids)
    with torch.no_grad():
        ref = model(ids, torch.from_numpy(mask), tt).logits.numpy()
    run, _ = load("onnxruntime", str(path), 1)
    return run(
        {"input_ids": ids.numpy(), "attention_mask": mask, "token_type_ids": tt.numpy()}
    ), ref


@pytest.mark.parametrize("spec", SPECS, ids=[s.subnet_id for s in SPECS])
def test_every_layer_fuses_into_one_attention_node_with_its_own_heads(tiny_dyna, tmp_path, spec):
    dyna, sha = tiny_dyna
    sub = extract(dyna, spec)
    path, meta = ensure_artifact(sub, sha, spec.subnet_id, "onnx", 16, tmp_path)
    assert meta["ok"] and meta["max_abs_err"] <= FP32_TOL
    nodes = attention_nodes(path)
    assert (
        len(nodes)
        == sub.config.num_hidden_layers
        == meta["graph_optimizations"]["fused"]["Attention"]
    )
    assert {n["num_heads"] for n in nodes} == {sub.config.num_attention_heads}
    assert meta["graph_optimizations"]["head_sizes"] == [sub.config.attention_head_size]
    assert unfused_path(path).is_file() and not attention_nodes(unfused_path(path))
    got, ref = run_both(sub, path, masks())
    assert (
        np.abs(got - ref).max() <= FP32_TOL
    )  # left / inner padding too: the mask stays a raw 2D mask


def test_fusion_is_named_in_the_sidecar_and_the_session_options(tiny_dyna, tmp_path):
    dyna, sha = tiny_dyna
    spec = SPECS[0]
    path, meta = ensure_artifact(extract(dyna, spec), sha, spec.subnet_id, "onnx", 16, tmp_path)
    sidecar = json.loads(session_settings.sidecar(path).read_text())
    assert sidecar["offline_optimizations"] == meta["graph_optimizations"]
    assert "optimize_model" in sidecar["offline_optimizations"]["recipe"]
    for mode in ("artifact", "default"):  # the fusion is in the file: both sessions run it
        extras: dict = {}
        load("onnxruntime", str(path), 1, extras=extras, session=mode)
        assert extras["session_options"]["offline_optimizations"]["fused"]["Attention"] == 1


def test_int8_is_quantized_from_the_fused_graph_within_its_bound(tiny_dyna, tmp_path):
    dyna, sha = tiny_dyna
    spec = SPECS[1]
    sub = extract(dyna, spec)
    path, meta = ensure_artifact(sub, sha, spec.subnet_id, "onnx-int8", 16, tmp_path)
    assert meta["ok"] and meta["max_abs_err"] <= meta["tolerance"]
    assert len(attention_nodes(path)) == sub.config.num_hidden_layers
    assert (
        meta["graph_optimizations"]["fused_after_quantization"]["QAttention"]
        == sub.config.num_hidden_layers
    )
    assert "quantize_dynamic" in meta["graph_optimizations"]["then"]
    got, ref = run_both(sub, path, masks())
    assert np.abs(got - ref).max() <= meta["tolerance"]


@pytest.mark.parametrize("make", [tiny_roberta, tiny_distilbert], ids=["roberta", "distilbert"])
def test_other_layouts_fuse_and_stay_exact(make, tmp_path):
    dyna = DynaBert(make())
    spec = SubnetSpec(0.5, 1.0)
    sub = extract(dyna, spec)
    path, meta = ensure_artifact(sub, weights_sha(dyna.hf), spec.subnet_id, "onnx", 16, tmp_path)
    assert meta["ok"] and meta["max_abs_err"] <= FP32_TOL, meta
    assert meta["graph_optimizations"]["fused"].get("Attention") == sub.config.num_hidden_layers
    assert "EmbedLayerNormalization" not in meta["graph_optimizations"]["fused"]
    assert (
        read_input_spec(path).vocab_size == sub.config.vocab_size
    )  # the embedding lookups stay readable
    got, ref = run_both(sub, path, masks())
    assert np.abs(got - ref).max() <= FP32_TOL


def test_a_scale_other_than_one_over_sqrt_head_size_is_refused(tiny_dyna, tmp_path):
    """The fused node scales by 1/sqrt(head size): a graph scaling otherwise is refused by name, and the export
    then ships the unfused graph with the reason (still checked against torch)."""
    from bench.export import export_onnx_fused

    dyna, _ = tiny_dyna
    plain = tmp_path / "plain.onnx"
    export_onnx_fused(extract(dyna, SPECS[0]), tmp_path / "fused.onnx", 16, plain)
    model = onnx.load(str(plain))
    ort_fusion._scales_to_div(model.graph)  # Div by sqrt(d): make it Div by 2 * sqrt(d)
    for init in model.graph.initializer:
        if init.name.endswith("_reciprocal"):
            init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init) * 2, init.name))
    for node in model.graph.node:  # back to Mul form so fuse() sees an export-shaped graph
        if node.op_type == "Div" and node.input[1].endswith("_reciprocal"):
            scale = numpy_helper.to_array(
                next(i for i in model.graph.initializer if i.name == node.input[1])
            )
            node.op_type = "Mul"
            model.graph.initializer.append(
                numpy_helper.from_array((1 / scale).astype(np.float32), node.name + "_c")
            )
            node.input[1] = node.name + "_c"
    onnx.save(model, str(tmp_path / "scaled.onnx"))
    with pytest.raises(ValueError, match=r"scale .* is not 1/sqrt\(head size"):
        ort_fusion.fuse(tmp_path / "scaled.onnx", tmp_path / "out.onnx")


def test_a_failed_fusion_ships_the_plain_export_and_says_so(
    tiny_dyna, tmp_path, monkeypatch, capsys
):
    """Never a silently slower artifact: the reason is printed at export time and kept in the summary."""
    from bench.export import export_onnx_fused

    def refuse(*a, **k):
        raise ValueError("pattern not found")

    monkeypatch.setattr(ort_fusion, "fuse", refuse)
    dyna, _ = tiny_dyna
    summary = export_onnx_fused(
        extract(dyna, SPECS[0]), tmp_path / "a.onnx", 16, tmp_path / "a.unfused.onnx"
    )
    assert summary["error"] == "ValueError: pattern not found" and summary["fused"] == {}
    assert (tmp_path / "a.onnx").read_bytes() == (tmp_path / "a.unfused.onnx").read_bytes()
    assert_names(
        capsys.readouterr().err,
        "a.onnx",
        "attention fusion failed",
        "ValueError: pattern not found",
    )


def test_int8_that_fails_its_check_is_quantized_again_with_attention_left_fp32(
    tiny_dyna, tmp_path, monkeypatch
):
    """Accuracy-aware int8 (bench.export.onnx_int8_candidates): when the fastest settings' artifact fails the
    numerics check, the next settings are tried, the first that passes is kept, and the record says which."""
    import bench.export as export

    real, seen = export._checked, []

    def first_fails(model, fmt, path, seq_len, *rest):
        verdict = real(model, fmt, path, seq_len, *rest)
        if fmt == "onnx-int8":
            seen.append(path.name)
            if len(seen) == 1:
                return {**verdict, "ok": False, "max_abs_err": 9.0}
        return verdict

    monkeypatch.setattr(export, "_checked", first_fails)
    dyna, sha = tiny_dyna
    spec = SPECS[1]
    sub = extract(dyna, spec)
    path, meta = ensure_artifact(sub, sha, spec.subnet_id, "onnx-int8", 16, tmp_path)
    attempts = meta["graph_optimizations"]["quantization_attempts"]
    assert [a["ok"] for a in attempts] == [False, True] and attempts[0]["max_abs_err"] == 9.0
    assert meta["ok"] and meta["quantization"]["op_types_to_quantize"] == ["MatMul"]
    assert "QAttention" not in meta["graph_optimizations"]["fused_after_quantization"]
    assert (
        len(attention_nodes(path)) == sub.config.num_hidden_layers
    )  # the fused Attention kept, in fp32
    assert not list(tmp_path.rglob("try*"))  # the trial files are gone
