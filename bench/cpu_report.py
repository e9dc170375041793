"""The measurement-core report: one model's 12 sub-networks x five runtimes on the local CPU, swept twice.

Reports, from the two sweeps' records: the median/p90/peak-memory/file-size table; efficiency (achieved GFLOP/s
of the full model per runtime over this CPU's single-thread sgemm peak, measured in the same run); fidelity
(each sub-network's speed-up over the full model divided by its FLOPs ratio); stability (run-to-run spread of
the medians); harness cost (wall time of each sweep).
`python -m bench.cpu_report --model minilm-l6 --out reports/minilm-cpu` (resumable: finished cells are kept).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from bench.sweep import RUNTIMES
from dynabert import records


def sweep(model: str, store: Path, seq_len: int, threads: int, min_time_s: float) -> float:
    """Run one sweep as its own process (as a user would); returns its wall time in seconds."""
    cmd = [sys.executable, "-m", "bench.sweep", "--model", model, "--runtimes", ",".join(RUNTIMES), "--threads",
           str(threads), "--seq-len", str(seq_len), "--min-time", str(min_time_s), "--results", str(store)]
    t0 = time.time()
    subprocess.run(cmd, check=False)
    return time.time() - t0


def sgemm_peak(threads: int) -> float:
    """Single-thread sgemm GFLOP/s, in a fresh process pinned like the measured cells."""
    from devices.local import pinned_cpus

    cpus = set(pinned_cpus(threads))
    code = (f"import os; os.sched_setaffinity(0, {cpus!r}); from bench.stats import sgemm_peak_gflops; "
            f"print(sgemm_peak_gflops({threads}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def analyse(run1: Path, run2: Path, peak_gflops: float) -> dict[str, pd.DataFrame]:
    a = pd.DataFrame([r.to_dict() for r in records.read(run1) if r.status == "ok"])
    b = pd.DataFrame([r.to_dict() for r in records.read(run2) if r.status == "ok"])
    cols = ["subnet_id", "runtime", "flops", "flops_with_attention", "params", "latency_ms_p50", "latency_ms_p90",
            "peak_rss_mb", "artifact_bytes", "export_max_abs_err", "latency_cv"]
    m = a[cols].merge(b[["subnet_id", "runtime", "latency_ms_p50"]], on=["subnet_id", "runtime"], suffixes=("", "_run2"))
    m["spread_pct"] = 100 * (m.latency_ms_p50_run2 - m.latency_ms_p50).abs() / m[["latency_ms_p50", "latency_ms_p50_run2"]].min(axis=1)
    full = m[m.subnet_id == "w1.00-d1.00"].set_index("runtime")
    eff = pd.DataFrame({"median ms": full.latency_ms_p50,
                        "GFLOP/s (dense+attention)": full.flops_with_attention / 1e9 / (full.latency_ms_p50 / 1e3)})
    eff["fraction of sgemm peak"] = eff["GFLOP/s (dense+attention)"] / peak_gflops
    m["flops_ratio"] = m.flops_with_attention / m.runtime.map(full.flops_with_attention)
    m["speedup"] = m.runtime.map(full.latency_ms_p50) / m.latency_ms_p50
    m["fidelity"] = m.speedup * m.flops_ratio
    return {"cells": m, "efficiency": eff}


def write(out: Path, model: str, seq_len: int, threads: int, tables: dict, peak: float, walls: dict, cpu: str,
          affinity: object = None) -> Path:
    m, eff = tables["cells"], tables["efficiency"]
    lat = m.pivot_table(index="subnet_id", columns="runtime", values="latency_ms_p50", sort=False)
    p90 = m.pivot_table(index="subnet_id", columns="runtime", values="latency_ms_p90", sort=False)
    mem = m.pivot_table(index="subnet_id", columns="runtime", values="peak_rss_mb", sort=False)
    size = m.pivot_table(index="subnet_id", columns="runtime", values="artifact_bytes", sort=False) / 2**20
    fid = m.pivot_table(index="subnet_id", columns="runtime", values="fidelity", sort=False)
    ratio = m.drop_duplicates("subnet_id").set_index("subnet_id").flops_ratio
    fid.insert(0, "FLOPs ratio", ratio)
    spread = m.pivot_table(index="subnet_id", columns="runtime", values="spread_pct", sort=False)
    m.to_csv(out / "cells.csv", index=False)
    eligible = m[m.flops_ratio >= 0.25]
    lines = [
        f"# {model}: 12 sub-networks x 5 runtimes on the local CPU", "",
        f"Measured on `{cpu}`, {threads} thread(s), batch 1, seq {seq_len}; each cell in a fresh process pinned to "
        f"CPU(s) {affinity} (the sweep and the OS keep CPU 0): 10 "
        "warm-up runs, then runs until both 30 runs and 2 s are reached; latency = median (p50) of per-run wall "
        "time. Memory = peak RSS increase of that process over python+numpy (runtime import, model load, "
        "inference). FLOPs = 2 x MACs with attention products, batch 1. Two complete sweeps (run 1, run 2) "
        "from the same cached artifacts.", "",
        "Command (resumable):", "```", f"python -m bench.cpu_report --model {model} --out {out} --seq-len {seq_len} "
        f"--threads {threads}", "```", "",
        "## Median latency (ms), run 1", "", lat.to_markdown(floatfmt=".2f"), "",
        "## p90 latency (ms), run 1", "", p90.to_markdown(floatfmt=".2f"), "",
        "## Peak RSS increase (MB), run 1", "", (mem.to_markdown(floatfmt=".0f") if mem.notna().any().any() else
        "Withdrawn: these sweeps read ru_maxrss, which Linux carries across fork + exec, so every cell reported the "
        "sweep process's own size. The runner now reads VmHWM (reset by exec); memory has to be re-measured."), "",
        "## Artifact size (MiB)", "", size.to_markdown(floatfmt=".1f"), "",
        f"## Efficiency: full model GFLOP/s vs this CPU's single-thread sgemm peak ({peak:.1f} GFLOP/s, torch "
        "2048x2048 fp32, best of 2 s)", "", eff.to_markdown(floatfmt=".3g"),
        "", "Target: >= 0.60 for onnxruntime fp32. int8 runtimes execute int8 products, so their fraction of the "
        "fp32 peak can exceed 1.", "",
        "## Fidelity: speed-up over the full model / FLOPs ratio (1.0 = latency scales exactly with FLOPs)", "",
        fid.to_markdown(floatfmt=".2f"), "",
        f"Target: >= 0.8 for every sub-network at or above 25% of the full FLOPs. Met in "
        f"{int((eligible.fidelity >= 0.8).sum())} of {len(eligible)} such cells; below: "
        + (", ".join(f"{r.subnet_id}/{r.runtime} {r.fidelity:.2f}" for r in eligible[eligible.fidelity < 0.8].itertuples())
           or "none") + ".", "",
        "## Stability: |run 2 - run 1| / min, % (medians)", "", spread.to_markdown(floatfmt=".1f"), "",
        f"Target: within 3%. {int((m.spread_pct <= 3).sum())} of {len(m)} cells within 3%; median spread "
        f"{m.spread_pct.median():.1f}%, max {m.spread_pct.max():.1f}%.", "",
        "## Harness cost", "", *[f"- {k}: {v / 60:.1f} min wall" for k, v in walls.items()],
        "- target: <= 10 minutes for a sweep on this 2-core machine (run 1 includes every export; run 2 reuses them)", "",
        "Raw records: `run1.jsonl`, `run2.jsonl` (every per-run sample is kept); joined table: `cells.csv`."]
    path = out / "README.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.cpu_report", description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="minilm-l6")
    ap.add_argument("--out", default="reports/minilm-cpu")
    ap.add_argument("--seq-len", type=int, default=128)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--min-time", type=float, default=2.0)
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    timing_path = out / "timing.json"
    walls = json.loads(timing_path.read_text()) if timing_path.exists() else {}
    for run in ("run1", "run2"):
        if run not in walls:
            walls[run] = sweep(args.model, out / f"{run}.jsonl", args.seq_len, args.threads, args.min_time)
            timing_path.write_text(json.dumps(walls, indent=1))
    if "sgemm_peak_gflops" not in walls:
        walls["sgemm_peak_gflops"] = sgemm_peak(args.threads)
        timing_path.write_text(json.dumps(walls, indent=1))
    peak = walls.pop("sgemm_peak_gflops")
    tables = analyse(out / "run1.jsonl", out / "run2.jsonl", peak)
    first = records.read(out / "run1.jsonl")[0]
    affinity = first.env.get("cpu_affinity")
    print(f"report: {write(out, args.model, args.seq_len, args.threads, tables, peak, walls, first.cpu_model, affinity)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
