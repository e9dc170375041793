"""ONNX artifacts ship their onnxruntime session settings (`<artifact>.session.json`): written at export, checked
as shipped, read by the runner, named in every record, and they change the graph onnxruntime runs."""

import json

import numpy as np
import pytest

from bench import session_settings
from bench.cells import result_fields
from bench.export import ensure_artifact
from bench.session_compare import SessionCell, fused_op_counts, measure_interleaved
from devices.inputs import read_input_spec
from devices.local import LocalCpu
from devices.request import RunRequest
from devices.runner import load, make_inputs
from devices.runner import session_settings as runner_settings
from dynabert import SubnetSpec, extract

pytestmark = pytest.mark.slow  # the module fixture exports and times

SPEC = SubnetSpec(0.5, 0.5)


@pytest.fixture(scope="module")
def artifacts(tiny_dyna, tmp_path_factory):
    dyna, sha = tiny_dyna
    cache = tmp_path_factory.mktemp("artifacts")
    sub = extract(dyna, SPEC)
    return {
        fmt: ensure_artifact(sub, sha, SPEC.subnet_id, fmt, 16, cache)
        for fmt in ("onnx", "onnx-int8")
    }


@pytest.mark.parametrize("fmt", ["onnx", "onnx-int8"])
def test_export_writes_the_sidecar_the_runner_reads(artifacts, fmt):
    path, meta = artifacts[fmt]
    written = json.loads(session_settings.sidecar(path).read_text())
    assert (
        written["disabled_optimizers"]
        == ["SkipLayerNormFusion"]
        == meta["session_settings"]["disabled_optimizers"]
    )
    got = runner_settings(str(path))
    assert got["disabled_optimizers"] == ["SkipLayerNormFusion"] and got["source"].startswith(
        "sidecar"
    )
    assert runner_settings(str(path), "default")["disabled_optimizers"] == []
    assert (
        runner_settings(str(path), cuda=True)["disabled_optimizers"] == []
    )  # a CPU setting, not the CUDA EP's


@pytest.mark.parametrize("fmt", ["onnx", "onnx-int8"])
def test_shipped_session_runs_no_skiplayernorm_and_matches_the_default(artifacts, fmt):
    """onnxruntime fuses Add + LayerNormalization into SkipLayerNormalization by default; the shipped session
    keeps LayerNormalization, and both give the same logits (the export check already bounds them vs torch)."""
    path, meta = artifacts[fmt]
    default, shipped = fused_op_counts(path, "default"), fused_op_counts(path, "artifact")
    assert default["SkipLayerNormalization"] > 0, default
    assert shipped["SkipLayerNormalization"] == 0 and shipped["LayerNormalization"] > 0, shipped
    assert meta["ok"] and meta["max_abs_err"] <= (1e-4 if fmt == "onnx" else meta["tolerance"]), (
        meta
    )
    spec = read_input_spec(path)
    inputs = make_inputs(2, 16, spec.vocab_size, spec.type_vocab_size)
    outs = [
        load("onnxruntime", str(path), 1, session=mode)[0](inputs)
        for mode in ("default", "artifact")
    ]
    assert np.abs(outs[0] - outs[1]).max() <= (1e-5 if fmt == "onnx" else meta["tolerance"])


@pytest.mark.parametrize("session", ["default", "artifact"])
def test_session_options_land_in_the_record(artifacts, session):
    path, _ = artifacts["onnx"]
    request = RunRequest(
        artifact=path,
        runtime="onnxruntime",
        inputs=read_input_spec(path),
        seq_len=16,
        warmup=1,
        min_runs=2,
        min_time_s=0.0,
        session=session,
    )
    result = LocalCpu({"name": "local-cpu"}).run(request)
    assert result.ok, result.error
    _, env = result_fields(result)
    opts = env["session_options"]
    assert opts["disabled_optimizers"] == ([] if session == "default" else ["SkipLayerNormFusion"])
    assert (
        opts["graph_optimization_level"] == "ORT_ENABLE_ALL" and opts["intra_op_num_threads"] == 1
    )


def test_cached_artifact_without_sidecar_gets_one_and_is_checked_again(tiny_dyna, tmp_path):
    dyna, sha = tiny_dyna
    path, meta = ensure_artifact(extract(dyna, SPEC), sha, SPEC.subnet_id, "onnx", 16, tmp_path)
    session_settings.sidecar(path).unlink()
    again, meta2 = ensure_artifact(
        lambda: extract(dyna, SPEC), sha, SPEC.subnet_id, "onnx", 16, tmp_path
    )
    assert again == path and session_settings.is_current(path)
    assert meta2["ok"] and meta2["session_settings"]["disabled_optimizers"] == [
        "SkipLayerNormFusion"
    ]


def test_malformed_sidecar_is_named_with_the_fix(artifacts, tmp_path):
    path, _ = artifacts["onnx"]
    copy = tmp_path / "model.onnx"
    copy.write_bytes(path.read_bytes())
    session_settings.sidecar(copy).write_text(
        json.dumps(
            {"graph_optimization_level": "FAST", "disabled_optimizers": "SkipLayerNormFusion"}
        )
    )
    with pytest.raises(ValueError, match=r"model\.onnx\.session\.json.*fix or delete"):
        load("onnxruntime", str(copy), 1)
    session_settings.sidecar(copy).write_text('{"disabled_optimizers": [')  # cut short
    with pytest.raises(ValueError, match=r"model\.onnx\.session\.json: not JSON.*fix or delete"):
        load("onnxruntime", str(copy), 1)
    with pytest.raises(ValueError, match="unknown session settings"):
        load("onnxruntime", str(copy), 1, session="fastest")


def test_interleaved_comparison_times_every_cell_and_names_its_session(artifacts):
    path, _ = artifacts["onnx"]
    cells = [SessionCell("sub", path, mode) for mode in ("default", "artifact")]
    diff = measure_interleaved(cells, seq_len=16, rounds=2, runs_per_round=2, warmup=1, pin=False)
    assert list(diff) == [path] and diff[path] <= 1e-5
    assert [len(c.samples_ms) for c in cells] == [4, 4]
    assert [c.session_options["disabled_optimizers"] for c in cells] == [
        [],
        ["SkipLayerNormFusion"],
    ]
