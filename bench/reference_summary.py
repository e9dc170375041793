"""README.md of the reference run: what ran, how long each step took, and the targets met or missed, from records.

`python -m bench.reference_summary --out reports/sst2-minilm` (the last step of bench.reference_run).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

from dynabert import records


def load(out: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    recs = records.read(out / "records.jsonl", warn=False)
    acc = pd.DataFrame([r.to_dict() for r in recs if r.kind == "accuracy" and r.status == "ok"])
    lat = pd.DataFrame([r.to_dict() for r in recs if r.kind == "latency" and r.status == "ok"])
    acc["accuracy"] = 100 * acc.metric_value
    acc["who"] = acc.model_id.map(lambda m: Path(m).parent.name if Path(m).name == "best" else Path(m).name)
    return acc, lat


def write(out: Path, runs: Path) -> Path:
    acc, lat = load(out)
    steps = json.loads((out / "steps.json").read_text())
    dyn = acc[acc.family == "dynabert"].set_index("subnet_id")
    teacher = acc[acc.who == "teacher"].accuracy.iloc[0]
    table1 = dyn.pivot_table(index="width_mult", columns="depth_mult", values="accuracy").sort_index(ascending=False) \
        .sort_index(axis=1, ascending=False)
    full, small = dyn.loc["w1.00-d1.00"].accuracy, dyn.loc["w0.25-d0.50"].accuracy
    summ = {s: json.loads((runs / s / "summary.json").read_text()) for s in ("teacher", "width", "depth")}
    lines = ["# DynaBERT on SST-2 from MiniLM-L6: the reference run", "",
             "![accuracy vs size and latency](figures/sst2_local-cpu_onnxruntime-int8_t1.png)", "",
             "One command, resumable (each finished step is skipped):", "```",
             "python -m bench.reference_run --width-samples 8000 --depth-samples 4000", "```", "",
             "Machine: 2-core x86 VM, no GPU (CPU model and library versions in `index.md`). Data: GLUE SST-2 "
             "(`../shared/data/glue/SST-2/`, train 67,349, dev 872); all accuracies below are **measured on the dev "
             "set** (872 examples), which also chose each checkpoint (official-code practice): they are optimistic.",
             "", "## Budget (cut short to fit a 2-core machine; the paper uses 3 epochs per stage and augmentation)",
             "- teacher: packaged `minilm-l6` (all-MiniLM-L6-v2), 1 epoch of SST-2 train (67,349 examples), lr 5e-5, "
             "batch 32",
             f"- stage 1 (width): {summ['width']['train_examples']:,} training examples, 1 pass "
             f"({summ['width']['steps']} steps), lr 2e-5, lambda1=1, lambda2=0.1, code-rule rewiring on dev",
             f"- stage 2 (width x depth): {summ['depth']['train_examples']:,} training examples, 1 pass "
             f"({summ['depth']['steps']} steps), lambda1=lambda2=1, full-width teacher",
             f"- baselines (DistilBERT-style 3-layer, TinyBERT-style 3-layer, fixed-size control w0.25-d0.50): "
             f"{summ['width']['train_examples'] + summ['depth']['train_examples']:,} examples each = stages 1 + 2 "
             "together, same teacher", "",
             "## Step times", "", "| step | wall time (min) | command |", "|---|---|---|"]
    for name, s in steps.items():
        lines.append(f"| {name} | {s['seconds'] / 60:.1f} | `{s['command'][:140]}` |")
    lines += ["", "## Table 1 layout (dev accuracy %, rows width, columns depth)", "", table1.to_markdown(floatfmt=".1f"),
              "", f"Teacher (MiniLM-L6 fine-tuned): {teacher:.1f}%.", "", "## Targets", ""]
    lines.append(f"- teacher >= 89%: {teacher:.2f}% -> {'met' if teacher >= 89 else 'missed'}")
    lines.append(f"- DynaBERT (1.0, 1.0) within 0.5 points of the teacher: {full:.2f}% ({full - teacher:+.2f}) -> "
                 f"{'met' if full >= teacher - 0.5 else 'missed'}")
    lines.append(f"- DynaBERT (0.25, 0.5) within 4 points of the teacher: {small:.2f}% ({small - teacher:+.2f}) -> "
                 f"{'met' if small >= teacher - 4 else 'missed'}")
    base = acc[acc.family != "dynabert"]
    for row in base.itertuples():
        if row.who == "teacher":
            continue
        cheaper = dyn[dyn.flops <= row.flops]
        worse = cheaper[cheaper.accuracy < row.accuracy]
        lines.append(f"- vs {row.who} ({row.accuracy:.2f}%, {row.flops / 1e9:.2f} GFLOPs, {row.subnet_id}): "
                     f"{len(cheaper) - len(worse)} of {len(cheaper)} DynaBERT sub-networks with <= its FLOPs are at "
                     f"least as accurate" + (f"; below it: {', '.join(worse.index)}" if len(worse) else ""))
    if not lat.empty:
        smallest = lat[(lat.runtime == "onnxruntime-int8") & (lat.subnet_id == "w0.25-d0.50") & (lat.family == "dynabert")]
        teach = lat[(lat.runtime == "onnxruntime-int8") & lat.model_id.str.contains("teacher")]
        if len(smallest) and len(teach):
            s, t = smallest.latency_ms_p50.iloc[0], teach.latency_ms_p50.iloc[0]
            lines.append(f"- onnxruntime int8, 1 thread, seq 128, local CPU: smallest sub-network (0.25, 0.5) "
                         f"median {s:.2f} ms at {small:.2f}% vs the teacher {t:.2f} ms at {teacher:.2f}% "
                         f"({t / s:.1f}x faster, {small - teacher:+.2f} points)")
    lines += ["", "Full report (figures, per-cell tables, machine info): [index.md](index.md). Records: `records.jsonl`."]
    path = out / "README.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.reference_summary")
    ap.add_argument("--out", default="reports/sst2-minilm")
    ap.add_argument("--runs", default="runs/sst2-minilm")
    args = ap.parse_args(argv)
    print(f"summary: {write(Path(args.out), Path(args.runs))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
