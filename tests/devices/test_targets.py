"""One RunRequest (batch 2, a vocabulary of 1,000 words, 3 labels) through every kind of target: each runs exactly
that shape with inputs from the model's own vocabularies, or refuses it by name.

Local CPU and torch: by output shape and by the logits equalling torch's on the runner's inputs; qemu-arm: by the
instruction count (batch 2 about twice batch 1); SSH: against a real sshd on 127.0.0.1; adb: by the command line
a fake `adb` receives (shape and value ranges); cuda (no GPU here): by the runtime mapping and its refusals.
"""

import os
import stat
from pathlib import Path

import numpy as np
import pytest
import torch
from test_ssh import profile_for, server  # noqa: F401 (the loopback sshd fixture)
from transformers import BertConfig, BertForSequenceClassification

from bench.export import ensure_artifact, export_tflite
from devices import qemu_arm
from devices.adb import Adb
from devices.cuda import Cuda, gpu_runtime
from devices.inputs import read_input_spec
from devices.local import LocalCpu
from devices.qemu_arm import QemuArm
from devices.request import RunRequest
from devices.runner import make_inputs, token_id_range
from devices.ssh import Ssh
from devices.targets import TARGETS, target_for
from dynabert import DynaBert, SubnetSpec, extract

SEQ, LABELS = 32, 3
FIXTURE = Path(__file__).with_name("fixtures") / "benchmark_model_output.txt"


@pytest.fixture(scope="module")
def model_1k(tmp_path_factory):
    """A 2-layer BERT (hidden 256, 4 heads, FFN 1024) with a 1,000-word vocabulary, and its artifacts."""
    torch.manual_seed(0)
    hf = BertForSequenceClassification(
        BertConfig(
            vocab_size=1000,
            hidden_size=256,
            num_hidden_layers=2,
            num_attention_heads=4,
            intermediate_size=1024,
            max_position_embeddings=64,
            num_labels=LABELS,
        )
    ).eval()
    sub = extract(DynaBert(hf), SubnetSpec())
    folder = tmp_path_factory.mktemp("vocab1k")
    sub.save_pretrained(folder / "torch")
    export_tflite(sub, folder / "b2.tflite", SEQ, batch=2)
    arts = {
        fmt: ensure_artifact(sub, "vocab1k", "w1.00-d1.00", fmt, SEQ, folder)[0]
        for fmt in ("onnx", "tflite")
    }
    return sub, {
        "torch": folder / "torch",
        "onnx": arts["onnx"],
        "tflite-b1": arts["tflite"],
        "tflite-b2": folder / "b2.tflite",
    }


def request(path: Path, runtime: str, batch: int = 2, **kw) -> RunRequest:
    return RunRequest(
        artifact=path,
        runtime=runtime,
        inputs=read_input_spec(path),
        batch=batch,
        seq_len=SEQ,
        warmup=1,
        min_runs=2,
        min_time_s=0.0,
        **kw,
    )


@pytest.mark.slow
def test_input_spec_is_read_from_each_artifact(model_1k):
    _, arts = model_1k
    for name, path in arts.items():
        spec = read_input_spec(path)
        assert (spec.vocab_size, spec.type_vocab_size) == (1000, 2), name
    assert (
        read_input_spec(arts["onnx"]).batch is None
        and read_input_spec(arts["tflite-b2"]).batch == 2
    )
    assert token_id_range(1000) == (500, 1000) and token_id_range(21128) == (1000, 21128)


def test_table_has_one_target_per_profile_kind():
    assert set(TARGETS) == {"local-cpu", "cuda", "qemu-arm", "ssh", "adb"}
    with pytest.raises(ValueError, match="kind 'toaster' is not one of"):
        target_for({"name": "x", "kind": "toaster"})


@pytest.mark.slow
@pytest.mark.parametrize(
    "fmt,runtime", [("onnx", "onnxruntime"), ("torch", "torch"), ("tflite-b2", "litert")]
)
def test_local_cpu_runs_batch_2_from_the_models_vocabulary(model_1k, fmt, runtime, tmp_path):
    sub, arts = model_1k
    out = tmp_path / "y.npy"
    result = LocalCpu({"name": "local-cpu"}).run(request(arts[fmt], runtime, save_output=str(out)))
    assert result.ok, result.error
    assert result.output_shape == [2, LABELS] and result.batch == 2 and len(result.samples_ms) >= 2
    inputs = make_inputs(2, SEQ, 1000, 2)
    assert inputs["input_ids"].max() < 1000 and set(np.unique(inputs["token_type_ids"])) <= {0, 1}
    with torch.no_grad():
        ref = sub(
            *(
                torch.from_numpy(inputs[k])
                for k in ("input_ids", "attention_mask", "token_type_ids")
            )
        ).logits.numpy()
    assert (
        np.abs(np.load(out) - ref).max() <= 1e-4
    )  # the runner fed exactly these in-vocabulary inputs


@pytest.mark.slow
def test_static_batch_1_artifact_refuses_batch_2_by_name(model_1k):
    _, arts = model_1k
    for target in (
        LocalCpu({"name": "local-cpu"}),
        Adb({"name": "phone", "benchmark_binary": "/x"}),
    ):
        result = target.run(request(arts["tflite-b1"], "litert"))
        assert result.refused and "static batch of 1; batch 2 was asked" in result.error


@pytest.mark.slow
@pytest.mark.arm
def test_qemu_arm_counts_twice_the_instructions_at_batch_2(model_1k):
    ok, why = qemu_arm.status()
    if not ok:
        pytest.skip(f"emulated ARM target not ready ({why}): python -m devices setup qemu-arm")
    _, arts = model_1k
    target = QemuArm({"name": "qemu-arm"})
    one, two = (
        target.run(target.plan(request(arts["onnx"], "onnxruntime", batch=b, save_output=None)))
        for b in (1, 2)
    )
    assert one.ok and two.ok, (one.error, two.error)
    assert (
        one.machine == "aarch64"
        and two.output_shape == [2, LABELS]
        and one.output_shape == [1, LABELS]
    )
    ratio = two.instructions_per_inference / one.instructions_per_inference
    assert 1.6 <= ratio <= 2.4, (one.instructions_per_inference, two.instructions_per_inference)


@pytest.mark.slow
def test_ssh_runs_batch_2_on_the_board(model_1k, server, tmp_path):  # noqa: F811
    _, arts = model_1k
    target = Ssh(profile_for(server, tmp_path))
    assert target.check()[0]
    result = target.run(request(arts["onnx"], "onnxruntime"))
    assert result.ok, result.error
    assert result.output_shape == [2, LABELS] and result.batch == 2 and result.seq_len == SEQ
    refused = target.run(request(arts["torch"], "torch"))
    assert refused.refused and "local only" in refused.error


@pytest.fixture
def logging_adb(tmp_path, monkeypatch):
    """An `adb` on PATH that logs every call and replays recorded benchmark_model output."""
    script = tmp_path / "bin" / "adb"
    script.parent.mkdir()
    script.write_text(f"""#!/bin/sh
echo "$@" >> {tmp_path}/calls
[ "$1" = "-s" ] && shift 2
case "$1" in
  get-state) echo device ;;
  shell) case "$2" in *benchmark_model\\ --graph*) cat {FIXTURE} ;; esac ;;
esac
""")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{script.parent}{os.pathsep}{os.environ['PATH']}")
    return tmp_path / "calls"


@pytest.mark.slow
def test_adb_passes_shape_and_value_ranges_to_benchmark_model(model_1k, logging_adb):
    _, arts = model_1k
    target = Adb(
        {"name": "phone", "serial": "", "benchmark_binary": "/data/local/tmp/benchmark_model"}
    )
    result = target.run(request(arts["tflite-b2"], "litert"))
    assert result.ok, result.error
    line = [c for c in logging_adb.read_text().splitlines() if "--graph=" in c][-1]
    a, m, t = (f"serving_default_args_{i}" for i in range(3))
    assert f"--input_layer={a},{m},{t}" in line
    assert f"--input_layer_shape=2,{SEQ}:2,{SEQ}:2,{SEQ}" in line
    assert (
        f"--input_layer_value_range={a},500,999:{m},1,1:{t},0,1" in line
    )  # the runner's ranges, inclusive
    assert "--num_threads=1 --warmup_runs=1 --warmup_min_secs=0 --num_runs=2 --min_secs=0" in line
    assert "taskset" in line  # pinned to the last CPU, as the runner pins itself
    assert result.aggregates["latency_ms_p50"] == pytest.approx(20.301) and result.batch == 2


@pytest.mark.slow
def test_cuda_maps_runtimes_and_refuses_the_rest(model_1k, monkeypatch):
    _, arts = model_1k
    assert gpu_runtime("torch", "fp32")[0] == "torch-cuda"
    assert gpu_runtime("onnxruntime", "fp32")[0] == "onnxruntime-cuda"
    for runtime, precision, why in (
        ("litert", "fp32", "no CUDA runtime"),
        ("onnxruntime", "int8", "MatMulInteger"),
    ):
        mapped, reason = gpu_runtime(runtime, precision)
        assert (
            mapped is None and why in reason and "never run on the CPU under a GPU label" in reason
        )
    target = Cuda({"name": "gpu1", "gpu_index": 1})
    assert target.run(request(arts["tflite-b2"], "litert")).refused
    seen = []
    monkeypatch.setattr("devices.cuda.run_runner", lambda req, rt, extra: seen.append((rt, extra)))
    target.run(request(arts["onnx"], "onnxruntime"))
    assert seen == [("onnxruntime-cuda", ("--gpu-index", "1"))]  # the profile's GPU, not device 0


@pytest.mark.slow
def test_cuda_without_a_cuda_build_names_the_install(model_1k):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    _, arts = model_1k
    ok, line = Cuda({"name": "cuda"}).check()
    assert not ok and "pip install torch --index-url" in line
    torch_gpu = Cuda({"name": "cuda"}).run(request(arts["torch"], "torch"))
    assert (
        not torch_gpu.ok
        and "CPU-only build" in torch_gpu.error
        and "pip install torch" in torch_gpu.error
    )
    ort_gpu = Cuda({"name": "cuda"}).run(request(arts["onnx"], "onnxruntime"))
    assert not ort_gpu.ok and "pip install onnxruntime-gpu" in ort_gpu.error
