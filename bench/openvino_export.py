"""OpenVINO IR artifacts: OpenVINO's own converter from the torch model, and NNCF post-training int8.

fp32: `openvino.convert_model(logits_only(model), example_input=...)` (dynamic batch and sequence axes), inputs
named input_ids / attention_mask / token_type_ids, saved with `compress_to_fp16=False` (save_model's default
stores fp16 weights). int8: `nncf.quantize` of that IR (ModelType.TRANSFORMER, preset PERFORMANCE: symmetric int8
weights and activations; for TRANSFORMER models NNCF also applies SmoothQuant and fast bias
correction) calibrated on CALIBRATION_SIZE inputs: task
examples when the caller gives them (`--calibration task`), else the synthetic padded random inputs of
bench.export.sample_inputs; which one is in the artifact's `quantization` settings and so in every record.
An IR is two files, `<stem>.xml` and `<stem>.bin`; the .xml path names the artifact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

ROLES = ("input_ids", "attention_mask", "token_type_ids")
CALIBRATION_SIZE = 64


@dataclass(frozen=True)
class Calibration:
    """Inputs NNCF calibrates activation ranges on: `source` "synthetic" (random padded inputs) or "task:<name>"
    (that task's examples), and the feeds themselves ({role: int64 [1, seq]} each; empty: synthetic, made here)."""

    source: str = "synthetic"
    feeds: tuple = field(default=(), compare=False, repr=False)


def weights_file(xml: Path) -> Path:
    """The .bin an IR's .xml reads its weights from (same stem)."""
    return xml.with_suffix(".bin")


def export(model: torch.nn.Module, path: Path, seq_len: int) -> None:
    """OpenVINO's converter on the torch model; fp32 weights in `path`'s .bin."""
    import openvino as ov

    from bench.export_inputs import logits_only, sample_inputs

    with torch.no_grad():
        ir = ov.convert_model(
            logits_only(model).eval(),
            example_input=sample_inputs(2, seq_len, model.config.vocab_size),
        )
    for port, role in zip(ir.inputs, ROLES):  # the converter names them after graph values
        port.get_tensor().set_names({role})
    ov.save_model(ir, str(path), compress_to_fp16=False)


def settings(calibration: Calibration) -> dict:
    """The quantization settings recorded with the artifact (and keyed in its cache entry)."""
    from records.machine import package_versions

    return {
        "method": "nncf.quantize (post-training static int8: weights and activations)",
        "model_type": "TRANSFORMER",
        "preset": "PERFORMANCE",
        "calibration": calibration.source,
        "subset_size": CALIBRATION_SIZE,
        **package_versions(("nncf",)),
    }


def synthetic_feeds(vocab: int, seq_len: int) -> list[dict]:
    from bench.export_inputs import sample_inputs

    feeds = []
    for seed in range(CALIBRATION_SIZE):
        ids, mask, types = sample_inputs(2, seq_len, vocab, seed=100 + seed)
        row = seed % 2  # full and half-padded rows alternate
        feeds.append({r: t[row : row + 1].numpy() for r, t in zip(ROLES, (ids, mask, types))})
    return feeds


def quantize(src: Path, dst: Path, vocab: int, seq_len: int, calibration: Calibration) -> None:
    """nncf.quantize of the fp32 IR `src` into `dst`, calibrated on `calibration` (synthetic when it has no feeds)."""
    import logging

    import nncf
    import openvino as ov

    feeds = list(calibration.feeds) or synthetic_feeds(vocab, seq_len)
    logging.getLogger("nncf").setLevel(logging.WARNING)  # per-step progress lines otherwise
    quantized = nncf.quantize(
        ov.Core().read_model(str(src)),
        nncf.Dataset(feeds),
        model_type=nncf.ModelType.TRANSFORMER,
        preset=nncf.QuantizationPreset.PERFORMANCE,
        subset_size=min(CALIBRATION_SIZE, len(feeds)),
    )
    ov.save_model(quantized, str(dst), compress_to_fp16=False)


def move(src: Path, dst: Path) -> None:
    """Rename an IR (.xml and its .bin)."""
    weights_file(src).rename(weights_file(dst))
    src.rename(dst)


def size_bytes(xml: Path) -> int:
    return xml.stat().st_size + weights_file(xml).stat().st_size


def task_feeds(features: list[dict], seq_len: int) -> tuple:
    """Calibration feeds from task features (dicts with input_ids, optional token_type_ids), padded to seq_len."""
    feeds = []
    for f in features[:CALIBRATION_SIZE]:
        ids = np.asarray(f["input_ids"][:seq_len], dtype=np.int64)
        feed = {r: np.zeros((1, seq_len), np.int64) for r in ROLES}
        feed["input_ids"][0, : len(ids)] = ids
        feed["attention_mask"][0, : len(ids)] = 1
        if "token_type_ids" in f:
            feed["token_type_ids"][0, : len(ids)] = np.asarray(f["token_type_ids"][:seq_len])
        feeds.append(feed)
    return tuple(feeds)
