"""Dev accuracy of the exported artifacts themselves (ONNX / TFLite, fp32 / int8), not of the torch model.

A latency measured on an int8 artifact belongs beside the int8 artifact's own accuracy: quantisation can cost
accuracy, and the random-input logit check in bench/export.py only bounds the logit error. Each dev example
runs through the same runtime and artifact file the sweep times (batch 1; the TFLite signature is static, so
every example is padded to the artifact's sequence length, with its attention mask). Artifacts that failed the
logit check are evaluated too, so a reader can see whether the failure matters; their records say so.
Writes one accuracy record per (sub-network, runtime), with `runtime` set; bench.frame prefers it to the torch
accuracy for that runtime's latency. `python -m bench.artifact_accuracy --checkpoint OUT/depth --task sst2
--data-dir DIR --runtimes onnxruntime-int8,litert-int8 --results R.jsonl`; the task flags (--split, --max-errors,
--task custom --text-columns --label-column, --widths, --depths) are `dynabert evaluate`'s, set up by the same
dynabert.evaluate.prepare (only the scored split is read; labels mapped by name; MNLI splits keyed mnli-m/mnli-mm).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

import argfields
import records
from argfields import option
from bench.cells import RUNTIMES
from dynabert.options import TaskOptions
from records.provenance import this_run


def predict(run, features: list[dict], seq_len: int, static: bool) -> np.ndarray:
    """Logits [N, labels] of `run` (a runner callable) over features, one example at a time."""
    rows = []
    for f in features:
        ids = np.asarray(f["input_ids"][:seq_len], dtype=np.int64)
        n = len(ids) if not static else seq_len
        feed = {
            "input_ids": np.zeros((1, n), np.int64),
            "attention_mask": np.zeros((1, n), np.int64),
            "token_type_ids": np.zeros((1, n), np.int64),
        }
        feed["input_ids"][0, : len(ids)] = ids
        feed["attention_mask"][0, : len(ids)] = 1
        if "token_type_ids" in f:
            feed["token_type_ids"][0, : len(ids)] = np.asarray(f["token_type_ids"][:seq_len])
        rows.append(np.asarray(run(feed)).reshape(-1))
    return np.stack(rows)


ARTIFACT_RUNTIMES = ", ".join(r for r in RUNTIMES if r != "torch")


@dataclass(kw_only=True)
class ArtifactAccuracyOptions(TaskOptions):
    """`python -m bench.artifact_accuracy`: `dynabert evaluate`'s task options, and which artifacts."""

    runtimes: str = option(
        "onnxruntime-int8,litert-int8",
        help=f"comma-separated, of {ARTIFACT_RUNTIMES}",
        group="artifacts",
    )
    seq_len: int = option(
        128, help="the artifacts' sequence length (as in the sweep)", group="artifacts", min=1
    )
    family: str = option(
        "dynabert", help="dynabert, baseline or fixed-control (as in evaluate)", group="output"
    )
    max_eval_samples: int | None = option(
        None, help="score the first N examples of the split (default: all)", group="task", min=1
    )
    results: str = option(help="results store to append the accuracy records to", group="output")
    cache_dir: str | None = option(
        None, help="artifact cache (default ~/.cache/dynabert-edge/artifacts)", group="artifacts"
    )
    calibration: str = option(
        "synthetic",
        help="openvino-int8: calibrate NNCF on random padded inputs (synthetic) or on the first examples "
        "of the task's train split (task); the record's quantization names which",
        group="artifacts",
        choices=("synthetic", "task"),
    )


def build_parser():
    return argfields.command_parser(
        "python -m bench.artifact_accuracy",
        "Dev accuracy of the exported ONNX / TFLite artifacts themselves -> accuracy records.",
        "python -m bench.artifact_accuracy --checkpoint runs/sst2 --task sst2 --data-dir glue/SST-2 "
        "--runtimes onnxruntime-int8 --results results.jsonl",
        ArtifactAccuracyOptions,
    )


def main(argv: list[str] | None = None) -> int:
    opts, _ = argfields.parse(build_parser(), argv)
    from dynabert.evaluate import prepare  # torch: after parsing, so that --help answers without it

    try:
        runtimes = [r.strip() for r in opts.runtimes.split(",") if r.strip()]
        bad = [r for r in runtimes if r not in RUNTIMES or r == "torch"]
        if bad:
            raise ValueError(
                f"unknown or non-artifact runtime(s) {bad}; choose from {ARTIFACT_RUNTIMES}"
            )
        records.check_writable(opts.results)  # before anything is exported or scored
        if opts.cache_dir:
            records.check_out_dir(opts.cache_dir, "--cache-dir")
        ev = prepare(opts, opts.seq_len, "--seq-len", opts.max_eval_samples)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    from dynabert.evaluate import weights_sha

    sha, store, prov = weights_sha(ev.dyna.hf), records.Store.open(opts.results), this_run()
    calibration = task_calibration(ev, opts) if opts.calibration == "task" else None
    for spec in ev.specs:
        for runtime in runtimes:
            measure(ev, sha, spec, runtime, opts, store, prov, calibration)
    return 0


def task_calibration(ev, opts: ArtifactAccuracyOptions):
    """NNCF calibration inputs from the task's train split (never the scored split): its first examples."""
    from bench.openvino_export import CALIBRATION_SIZE, Calibration, task_feeds
    from dynabert.data import encode, load_split
    from dynabert.presets import load_tokenizer

    data = load_split(ev.task, opts.data_dir, "train", ev.labels, opts.max_errors)
    features = encode(data, load_tokenizer(str(ev.model_dir)), opts.seq_len, CALIBRATION_SIZE)
    return Calibration(
        f"task:{ev.task.name} train split (first {CALIBRATION_SIZE} examples)",
        task_feeds(features, opts.seq_len),
    )


def measure(
    ev,
    sha: str,
    spec,
    runtime: str,
    opts: ArtifactAccuracyOptions,
    store: records.Store,
    prov: records.Provenance,
    calibration=None,
) -> None:
    """One accuracy record of (sub-network, runtime) from its artifact into `store`; skipped if it holds it.
    `calibration`: NNCF's inputs for an OpenVINO int8 artifact (None: synthetic)."""
    from bench.export import STATIC_SHAPE, default_cache, ensure_artifact
    from devices.runner import load
    from dynabert.evaluate import describe, metric_fields
    from dynabert.extract import extract
    from dynabert.flops import cost
    from dynabert.metrics import METRICS, one_class_warning, undefined

    c = cost(ev.dyna.full_size, spec, opts.seq_len)
    fmt, runner_runtime, precision = RUNTIMES[runtime]
    split_label = ev.split_label(f"; {runtime} artifact")
    key = records.Key(
        kind="accuracy",
        model_id=str(ev.model_dir),
        checkpoint_sha=sha,
        subnet_id=spec.subnet_id,
        task=ev.task_key,
        split=split_label,
        runtime=runtime,
        seq_len=opts.seq_len,
    )
    if store.done(key):  # a re-run skips what the store holds
        print(f"{spec.subnet_id} {runtime}: already in {opts.results}; skipped")
        return
    cache = Path(opts.cache_dir) if opts.cache_dir else default_cache()
    path, meta = ensure_artifact(
        lambda: extract(ev.dyna, spec),
        sha,
        spec.subnet_id,
        fmt,
        opts.seq_len,
        cache,
        calibration=calibration,
    )
    run, version = load(runner_runtime, str(path), 1)
    static = fmt.removesuffix("-int8") in STATIC_SHAPE
    logits = predict(run, ev.features, opts.seq_len, static=static)
    preds = (logits[:, 0] if ev.labels is None else logits.argmax(-1)).tolist()
    gold = [f["labels"] for f in ev.features]
    metrics, reason = METRICS[ev.task.metric](preds, gold), undefined(ev.task.metric, preds, gold)
    if why := one_class_warning(preds, gold):
        print(f"warning: {fmt} artifact: {why}", file=sys.stderr)
    check = (
        "passed"
        if meta["ok"]
        else f"FAILED (max abs err {meta['max_abs_err']:.3g} > {meta['tolerance']:.3g})"
    )
    measured = records.Measurement(
        **records.cost_fields(c),
        family=opts.family,
        format=fmt.split("-")[0],
        precision=precision,
        artifact_bytes=meta.get("bytes"),
        export_max_abs_err=meta.get("max_abs_err"),
        export_ok=meta["ok"],
        quantization=meta.get("quantization"),
        accuracy_source="measured",
        **metric_fields(metrics, reason),
    )
    store.append(records.Record.of(key, measured, replace(prov, runtime_version=version)))
    print(f"{spec.subnet_id} {runtime}: {describe(metrics, reason)} (artifact logit check {check})")


if __name__ == "__main__":
    sys.exit(main())
