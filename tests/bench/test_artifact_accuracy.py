"""Accuracy of the exported artifacts: the same dev examples through the runtime the sweep times."""

import numpy as np
import pytest
import torch

import records
from bench.artifact_accuracy import main, predict
from dynabert import DynaBert, SubnetSpec, extract
from dynabert.data import encode, get_task, load_task
from dynabert.presets import load_model, load_tokenizer

pytestmark = pytest.mark.slow  # exports and scores every artifact


@pytest.mark.parametrize("runtime,fmt", [("onnxruntime", "onnx"), ("litert", "tflite")])
def test_artifact_logits_match_torch_on_dev_examples(
    tiny_checkpoint, sst2_dir, tmp_path, runtime, fmt
):
    from bench.export import ensure_artifact
    from devices.runner import load
    from dynabert.evaluate import weights_sha

    hf = load_model(str(tiny_checkpoint))
    sub = extract(DynaBert(hf), SubnetSpec(0.5, 0.5))
    _, splits = load_task(get_task("sst2"), sst2_dir)
    features = encode(splits["dev"], load_tokenizer(str(tiny_checkpoint)), 32, 12)
    path, _ = ensure_artifact(sub, weights_sha(hf), "w0.50-d0.50", fmt, 32, tmp_path)
    run, _ = load(runtime, str(path), 1)
    got = predict(run, features, 32, static=fmt == "tflite")
    with torch.no_grad():
        ref = torch.cat([sub(torch.tensor([f["input_ids"]])).logits for f in features]).numpy()
    np.testing.assert_allclose(got, ref, atol=1e-4)  # padding to the static length changes nothing


def test_cli_writes_one_record_per_subnetwork_and_runtime(
    tiny_checkpoint, sst2_dir, tmp_path, capsys
):
    store = tmp_path / "acc.jsonl"
    args = [
        "--checkpoint",
        str(tiny_checkpoint),
        "--task",
        "sst2",
        "--data-dir",
        sst2_dir,
        "--runtimes",
        "onnxruntime,onnxruntime-int8",
        "--widths",
        "1.0,0.25",
        "--depths",
        "0.5",
        "--seq-len",
        "32",
        "--max-eval-samples",
        "40",
        "--results",
        str(store),
        "--cache-dir",
        str(tmp_path / "cache"),
    ]
    assert main(args) == 0
    recs = records.read(store)
    assert sorted((r.subnet_id, r.runtime) for r in recs) == sorted(
        (s, r) for s in ("w1.00-d0.50", "w0.25-d0.50") for r in ("onnxruntime", "onnxruntime-int8")
    )
    assert all(
        r.kind == "accuracy" and 0 <= r.metric_value <= 1 and "40 examples" in r.split for r in recs
    )
    assert {r.precision for r in recs} == {"fp32", "int8"}
    assert main(args) == 0 and len(records.read(store)) == 4  # a re-run skips what the store holds
    assert main([*args[:-4], "--runtimes", "torch", "--results", str(store)]) == 2
    assert "non-artifact runtime" in capsys.readouterr().err
