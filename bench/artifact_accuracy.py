"""Dev accuracy of the exported artifacts themselves (ONNX / TFLite, fp32 / int8), not of the torch model.

A latency measured on an int8 artifact belongs beside the int8 artifact's own accuracy: quantisation can cost
accuracy, and the random-input logit check in bench/export.py only bounds the logit error. Each dev example
runs through the same runtime and artifact file the sweep times (batch 1; the TFLite signature is static, so
every example is padded to the artifact's sequence length, with its attention mask). Artifacts that failed the
logit check are evaluated too, so a reader can see whether the failure matters; their records say so.
Writes one accuracy record per (sub-network, runtime), with `runtime` set; bench.frame prefers it to the torch
accuracy for that runtime's latency. `python -m bench.artifact_accuracy --checkpoint OUT/depth --task sst2
--data-dir DIR --runtimes onnxruntime-int8,litert-int8 --results R.jsonl`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from bench.cells import RUNTIMES
from dynabert import records
from dynabert.config import DEFAULT_DEPTHS, DEFAULT_WIDTHS, default_grid, parse_mults


def predict(run, features: list[dict], seq_len: int, static: bool) -> np.ndarray:
    """Logits [N, labels] of `run` (a runner callable) over features, one example at a time."""
    rows = []
    for f in features:
        ids = np.asarray(f["input_ids"][:seq_len], dtype=np.int64)
        n = len(ids) if not static else seq_len
        feed = {"input_ids": np.zeros((1, n), np.int64), "attention_mask": np.zeros((1, n), np.int64),
                "token_type_ids": np.zeros((1, n), np.int64)}
        feed["input_ids"][0, : len(ids)] = ids
        feed["attention_mask"][0, : len(ids)] = 1
        if "token_type_ids" in f:
            feed["token_type_ids"][0, : len(ids)] = np.asarray(f["token_type_ids"][:seq_len])
        rows.append(np.asarray(run(feed)).reshape(-1))
    return np.stack(rows)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m bench.artifact_accuracy", description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", required=True, help="training OUTPUT, stage folder or model directory")
    ap.add_argument("--task", required=True)
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--split", default=None, help="dev file stem (default: the task's first dev set)")
    ap.add_argument("--runtimes", default="onnxruntime-int8,litert-int8",
                    help=f"comma-separated, of {', '.join(r for r in RUNTIMES if r != 'torch')}")
    ap.add_argument("--widths", default=",".join(map(str, DEFAULT_WIDTHS)))
    ap.add_argument("--depths", default=",".join(map(str, DEFAULT_DEPTHS)))
    ap.add_argument("--seq-len", type=int, default=128, help="the artifacts' sequence length (as in the sweep)")
    ap.add_argument("--family", default="dynabert", help="dynabert, baseline or fixed-control (as in evaluate)")
    ap.add_argument("--max-eval-samples", type=int, default=None)
    ap.add_argument("--results", required=True, help="results store to append the accuracy records to")
    ap.add_argument("--cache-dir", help="artifact cache (default ~/.cache/dynabert-edge/artifacts)")
    return ap


def parse_runtimes(text: str) -> list[str]:
    """The artifact runtimes of a comma-separated list; ValueError naming unknown ones (torch has no artifact)."""
    runtimes = [r.strip() for r in text.split(",") if r.strip()]
    bad = [r for r in runtimes if r not in RUNTIMES or r == "torch"]
    if bad:
        raise ValueError(f"unknown or non-artifact runtime(s) {bad}; choose from "
                         f"{', '.join(r for r in RUNTIMES if r != 'torch')}")
    return runtimes


def main(argv: list[str] | None = None) -> int:
    from bench.export import default_cache, ensure_artifact
    from devices.runner import load
    from dynabert.data import encode, get_task, load_task, metric_for
    from dynabert.evaluate import weights_sha
    from dynabert.extract import extract
    from dynabert.flops import cost
    from dynabert.model import DynaBert
    from dynabert.presets import load_model, load_tokenizer
    from dynabert.train_cli import resolve_checkpoint

    args = build_parser().parse_args(argv)
    try:
        runtimes = parse_runtimes(args.runtimes)
        model_dir = resolve_checkpoint(args.checkpoint)
        task = get_task(args.task)
        split = args.split or task.dev_files[0]
        labels, splits = load_task(task, args.data_dir)
        tokenizer = load_tokenizer(str(model_dir))
        features = encode(splits[split], tokenizer, args.seq_len, args.max_eval_samples)
        gold = [f["labels"] for f in features]
        hf = load_model(str(model_dir))
        dyna, sha = DynaBert(hf), weights_sha(hf)
        specs = default_grid(parse_mults(args.widths, "widths"), parse_mults(args.depths, "depths"))
        cache = Path(args.cache_dir) if args.cache_dir else default_cache()
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    prov = records.provenance()
    done = records.done_keys(args.results)  # a re-run skips what is already in the store
    for spec in specs:
        c = cost(dyna.full_size, spec, args.seq_len)
        for runtime in runtimes:
            fmt, runner_runtime, precision = RUNTIMES[runtime]
            split_label = (f"{split} ({splits[split].source}, {len(features)} examples; {runtime} artifact)")
            probe = records.Record(kind="accuracy", subnet_id=spec.subnet_id, width_mult=spec.width_mult,
                                   depth_mult=spec.depth_mult, model_id=str(model_dir),
                                   checkpoint_sha=sha, task=task.name, split=split_label, runtime=runtime,
                                   seq_len=args.seq_len)
            if probe.key in done:
                print(f"{spec.subnet_id} {runtime}: already in {args.results}; skipped")
                continue
            path, meta = ensure_artifact(lambda: extract(dyna, spec), sha, spec.subnet_id, fmt, args.seq_len, cache)
            run, version = load(runner_runtime, str(path), 1)
            logits = predict(run, features, args.seq_len, static=fmt.startswith("tflite"))
            metrics = metric_for(task)((logits[:, 0] if labels is None else logits.argmax(-1)).tolist(), gold)
            name = next(iter(metrics))
            check = "passed" if meta["ok"] else f"FAILED (max abs err {meta['max_abs_err']:.3g} > {meta['tolerance']:.3g})"
            records.append(args.results, records.Record(
                kind="accuracy", subnet_id=spec.subnet_id, width_mult=spec.width_mult, depth_mult=spec.depth_mult,
                model_id=str(model_dir), checkpoint_sha=sha, n_layers=c.n_layers, n_heads=c.n_heads,
                ffn_dim=c.ffn_dim, task=task.name, family=args.family, format=fmt.split("-")[0], precision=precision,
                runtime=runtime, params=c.params_active, params_total=c.params_total, flops=c.flops_dense,
                flops_with_attention=c.flops_with_attention, flops_source="analytic", seq_len=args.seq_len,
                artifact_bytes=meta.get("bytes"), export_max_abs_err=meta.get("max_abs_err"), export_ok=meta["ok"],
                runtime_version=version, metric_name=name, metric_value=metrics[name], metrics=metrics,
                split=split_label,
                accuracy_source="measured", **prov))
            print(f"{spec.subnet_id} {runtime}: {name} {metrics[name]:.4f} (artifact logit check {check})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
