"""A sub-network loaded the way a user without this project loads it (transformers, trust_remote_code, dynabert
not importable) exports to ONNX and TFLite through bench.export, and the artifacts give the logits of today's
path (the project's extracted model exported in-process) to 1e-5."""

from pathlib import Path

import numpy as np
import pytest
from no_dynabert import run_without_dynabert

from bench.export import ensure_artifact, sample_inputs
from devices.runner import load
from dynabert import DynaBert, SubnetSpec, extract, load_model
from dynabert.evaluate import weights_sha

pytestmark = pytest.mark.slow  # exports every format

ROOT = Path(__file__).resolve().parents[2]
SEQ = 16
SPEC = SubnetSpec(0.5, 0.5)

ISOLATED = """
import json
from transformers import AutoModelForSequenceClassification
from bench.export import check, export_onnx, export_tflite

model = AutoModelForSequenceClassification.from_pretrained(SUB, trust_remote_code=True).eval()
out = {"class": type(model).__module__}
for fmt, export in (("onnx", export_onnx), ("tflite", export_tflite)):
    path = WORK + "/remote." + fmt
    export(model, path, SEQ)
    out[fmt] = {"path": path, "check": check(model, fmt, path, SEQ)}
print(json.dumps(out))
"""


def logits_of(path, fmt: str, vocab: int) -> np.ndarray:
    """The artifact's logits on bench.export's padded sample batch (TFLite: static batch 1, one row at a time)."""
    run, _ = load("litert" if fmt == "tflite" else "onnxruntime", str(path), 1)
    ids, mask, tt = (t.numpy() for t in sample_inputs(2, SEQ, vocab, seed=1))
    rows = [slice(0, 2)] if fmt == "onnx" else [slice(0, 1), slice(1, 2)]
    return np.concatenate(
        [
            run({"input_ids": ids[r], "attention_mask": mask[r], "token_type_ids": tt[r]})
            for r in rows
        ]
    )


@pytest.fixture(scope="module")
def remote_exports(tmp_path_factory):
    root = tmp_path_factory.mktemp("export-remote")
    hf = load_model("tiny")
    sub = extract(DynaBert(hf), SPEC)
    sub.save_pretrained(root / "sub")
    work = root / "isolated"
    script = f"SUB = {str(root / 'sub')!r}\nWORK = {str(work)!r}\nSEQ = {SEQ}\n" + ISOLATED
    return hf, sub, root, run_without_dynabert(script, work, timeout_s=600, extra_path=str(ROOT))


@pytest.mark.parametrize("fmt", ["onnx", "tflite"])
def test_export_of_remote_loaded_subnet_matches_todays_path(remote_exports, fmt):
    hf, sub, root, result = remote_exports
    assert result["class"].startswith("transformers_modules.")  # exported from the copied code
    meta = result[fmt]["check"]
    assert meta["ok"] and meta["max_abs_err"] <= 1e-4, (
        meta
    )  # the artifact against the remote model in torch
    today, today_meta = ensure_artifact(
        sub, weights_sha(hf), SPEC.subnet_id, fmt, SEQ, root / "cache"
    )
    assert today_meta["ok"], today_meta
    remote = logits_of(result[fmt]["path"], fmt, sub.config.vocab_size)
    np.testing.assert_allclose(
        remote, logits_of(today, fmt, sub.config.vocab_size), atol=1e-5, rtol=0
    )
