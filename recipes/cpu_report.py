"""The measurement-core report: one model's 12 sub-networks x five runtimes on the local CPU, swept twice.

Reports, from the two sweeps' records: the median/p90/peak-memory/file-size table; efficiency (achieved GFLOP/s
of the full model per runtime over this CPU's single-thread sgemm peak, measured in the same run); fidelity
(each sub-network's speed-up over the full model divided by its FLOPs ratio); stability (run-to-run spread of
the medians); harness cost (wall time of each sweep).
`python -m recipes.cpu_report --model minilm-l6 --out reports/minilm-cpu` (resumable: finished cells are kept).
The README's prose is generated from the records (batch, warm-up runs, CPUs, CPU model) and the run's settings.
"""

from __future__ import annotations

import inspect
import json
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

import argfields
import records
from argfields import option
from bench.stats import sgemm_peak_gflops
from bench.sweep import SweepConfig, run_sweep
from devices.local import pinned_cpus

RUNTIMES = (
    "torch",
    "onnxruntime",
    "onnxruntime-int8",
    "litert",
    "litert-int8",
)  # this report's five


@dataclass(frozen=True)
class Settings:
    """The run's settings (the sweep's defaults unless given); the README states these, never literals."""

    model: str = "minilm-l6"
    seq_len: int = 128
    threads: int = 1
    min_time_s: float = SweepConfig.min_time_s
    min_runs: int = SweepConfig.min_runs
    warmup: int = SweepConfig.warmup
    processes: int = 1


def sweep(s: Settings, store: Path) -> float:
    """Run one sweep (bench.sweep.run_sweep: every cell in a fresh process of its own); returns its wall time in
    seconds. A killed sweep resumes: finished cells are kept in `store`."""
    t0 = time.time()
    run_sweep(
        SweepConfig(
            models=[s.model],
            results=str(store),
            runtimes=tuple(RUNTIMES),
            threads=(s.threads,),
            seq_len=s.seq_len,
            min_time_s=s.min_time_s,
            min_runs=s.min_runs,
            warmup=s.warmup,
            processes=s.processes,
        )
    )
    return time.time() - t0


def pinned_peak(cpus: set[int], threads: int) -> float:
    """sgemm_peak_gflops in this process, first pinned to `cpus` (run in a fresh process by sgemm_peak)."""
    os.sched_setaffinity(0, cpus)
    return sgemm_peak_gflops(threads)


def sgemm_peak(threads: int) -> float:
    """Single-thread sgemm GFLOP/s, in a fresh (spawned) process pinned like the measured cells."""
    spawn = multiprocessing.get_context(
        "spawn"
    )  # fresh: no thread pool or allocator state of this one
    with ProcessPoolExecutor(1, mp_context=spawn) as pool:
        return pool.submit(pinned_peak, set(pinned_cpus(threads)), threads).result()


def sgemm_method() -> str:
    """How bench.stats.sgemm_peak_gflops measures the peak, from its own defaults."""
    p = inspect.signature(sgemm_peak_gflops).parameters
    return f"torch {p['n'].default}x{p['n'].default} fp32, best of {p['seconds'].default:g} s"


def analyse(run1: Path, run2: Path, peak_gflops: float) -> dict[str, pd.DataFrame]:
    a = pd.DataFrame([r.to_dict() for r in records.read(run1) if r.status == "ok"])
    b = pd.DataFrame([r.to_dict() for r in records.read(run2) if r.status == "ok"])
    cols = [
        "subnet_id",
        "runtime",
        "flops",
        "flops_with_attention",
        "params",
        "latency_ms_p50",
        "latency_ms_p90",
        "peak_rss_mb",
        "artifact_bytes",
        "export_max_abs_err",
        "latency_cv",
    ]
    m = a[cols].merge(
        b[["subnet_id", "runtime", "latency_ms_p50"]],
        on=["subnet_id", "runtime"],
        suffixes=("", "_run2"),
    )
    m["spread_pct"] = (
        100
        * (m.latency_ms_p50_run2 - m.latency_ms_p50).abs()
        / m[["latency_ms_p50", "latency_ms_p50_run2"]].min(axis=1)
    )
    full = m[m.subnet_id == "w1.00-d1.00"].set_index("runtime")
    eff = pd.DataFrame(
        {
            "median ms": full.latency_ms_p50,
            "GFLOP/s (dense+attention)": full.flops_with_attention
            / 1e9
            / (full.latency_ms_p50 / 1e3),
        }
    )
    eff["fraction of sgemm peak"] = eff["GFLOP/s (dense+attention)"] / peak_gflops
    m["flops_ratio"] = m.flops_with_attention / m.runtime.map(full.flops_with_attention)
    m["speedup"] = m.runtime.map(full.latency_ms_p50) / m.latency_ms_p50
    m["fidelity"] = m.speedup * m.flops_ratio
    return {"cells": m, "efficiency": eff}


def spread_stats(run1: Path, run2: Path) -> str:
    """Median / max spread of the medians between two sweeps, and how many cells are within 3%."""
    s = analyse(run1, run2, peak_gflops=1.0)["cells"].spread_pct
    return f"median spread {s.median():.1f}%, max {s.max():.1f}%, {int((s <= 3).sum())} of {len(s)} cells within 3%"


def drift_line(m: pd.DataFrame) -> str:
    """Separates a common speed change of the machine between the sweeps from cell-to-cell inconsistency."""
    ratio = m.latency_ms_p50_run2 / m.latency_ms_p50
    common = ratio.median()
    rel = 100 * (ratio / common - 1).abs()
    return (
        f"Run 2 / run 1 median ratio {common:.3f} ({int((ratio < 1).sum())} of {len(m)} cells faster in run 2): "
        f"the machine's speed as a whole changed between the sweeps. Relative to that common factor, "
        f"{int((rel <= 3).sum())} of {len(m)} cells agree within 3% (median {rel.median():.1f}%, max {rel.max():.1f}%)."
    )


def throughput_lines(out: Path) -> list[str]:
    """The training-throughput table from pytest-benchmark JSON files in `out` (bench/test_train_throughput.py)."""
    lines = []
    for path in sorted(out.glob("train_throughput_*.json")):
        rows = [b["extra_info"] for b in json.loads(path.read_text())["benchmarks"]]
        lines += [
            "## Training throughput (one stage-1 and one stage-2 optimizer step)",
            "",
            f"`BENCH_MODEL={rows[0]['model_id']} pytest bench/test_train_throughput.py --benchmark-json {path}` "
            f"(pytest-benchmark, 5 rounds after 1 warm-up; batch {rows[0]['batch_size']}, seq {rows[0]['seq_len']}, "
            f"{rows[0]['threads']} thread(s)). Ratio = one whole step / (one teacher forward + each sub-network's "
            "forward and backward alone + the optimizer step alone), medians; 1.0 = no work beyond the parts "
            "(target <= 1.10). The teacher runs once per step.",
            "",
            "| stage | sub-networks | samples/s | step (s) | teacher forward (s) | sub-network passes (s) | "
            "optimizer (s) | ratio |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for e in rows:
            lines.append(
                f"| {e['stage']} | {e['n_subnetworks']} | {e['samples_per_s']:.2f} | {e['step_s']:.2f} | "
                f"{e['teacher_forward_s']:.2f} | {sum(e['subnet_fwd_bwd_s'].values()):.2f} | "
                f"{e['optimizer_step_s']:.2f} | {e['ratio_step_to_parts']:.2f} |"
            )
        lines.append("")
    return lines


def method_lines(s: Settings, out: Path, first: records.Record, affinity: object) -> list[str]:
    """How the cells were measured, from the first record and the run's settings."""
    return [
        f"Measured on `{first.cpu_model}`, {s.threads} thread(s), batch {first.batch_size}, seq {first.seq_len}; each "
        f"cell in a fresh process pinned to CPU(s) {affinity} (the sweep and the OS keep CPU 0), {s.processes} fresh "
        f"process(es) per cell, interleaved across cells, each: {first.n_warmup} warm-up runs, then runs until both "
        f"{s.min_runs} runs and {s.min_time_s:g} s are reached; latency = median (p50) of the pooled per-run wall "
        "times. Memory = the largest peak RSS increase of those processes over python+numpy (runtime import, model "
        f"load, inference). FLOPs = 2 x MACs with attention products, batch {first.batch_size}. "
        "Two complete sweeps (run 1, run 2) from the same cached artifacts.",
        "",
        "Command (resumable):",
        "```",
        f"python -m recipes.cpu_report --model {s.model} --out {out} --seq-len "
        f"{s.seq_len} --threads {s.threads} --min-time {s.min_time_s:g} --processes {s.processes}",
        "```",
        "",
    ]


def write(
    out: Path, s: Settings, tables: dict, peak: float, walls: dict, first: records.Record
) -> Path:
    m, eff = tables["cells"], tables["efficiency"]
    lat = m.pivot_table(index="subnet_id", columns="runtime", values="latency_ms_p50", sort=False)
    p90 = m.pivot_table(index="subnet_id", columns="runtime", values="latency_ms_p90", sort=False)
    mem = m.pivot_table(index="subnet_id", columns="runtime", values="peak_rss_mb", sort=False)
    size = (
        m.pivot_table(index="subnet_id", columns="runtime", values="artifact_bytes", sort=False)
        / 2**20
    )
    fid = m.pivot_table(index="subnet_id", columns="runtime", values="fidelity", sort=False)
    ratio = m.drop_duplicates("subnet_id").set_index("subnet_id").flops_ratio
    fid.insert(0, "FLOPs ratio", ratio)
    spread = m.pivot_table(index="subnet_id", columns="runtime", values="spread_pct", sort=False)
    m.to_csv(out / "cells.csv", index=False)
    eligible = m[m.flops_ratio >= 0.25]
    lines = [
        f"# {s.model}: {m.subnet_id.nunique()} sub-networks x {m.runtime.nunique()} runtimes on the local CPU",
        "",
        *method_lines(s, out, first, first.env.get("cpu_affinity")),
        "## Median latency (ms), run 1",
        "",
        lat.to_markdown(floatfmt=".2f"),
        "",
        "## p90 latency (ms), run 1",
        "",
        p90.to_markdown(floatfmt=".2f"),
        "",
        "## Peak RSS increase (MB), run 1",
        "",
        (
            mem.to_markdown(floatfmt=".0f")
            if mem.notna().any().any()
            else "Withdrawn: these sweeps read ru_maxrss, which Linux carries across fork + exec, so every cell "
            "reported the sweep process's own size. The runner now reads VmHWM (reset by exec); memory has to be "
            "re-measured."
        ),
        "",
        "## Artifact size (MiB)",
        "",
        size.to_markdown(floatfmt=".1f"),
        "",
        f"## Efficiency: full model GFLOP/s vs this CPU's {s.threads}-thread sgemm peak ({peak:.1f} GFLOP/s, "
        f"{sgemm_method()})",
        "",
        eff.to_markdown(floatfmt=".3g"),
        "",
        "Target: >= 0.60 for onnxruntime fp32. int8 runtimes execute int8 products, so their fraction of the "
        "fp32 peak can exceed 1.",
        "",
        "## Fidelity: speed-up over the full model / FLOPs ratio (1.0 = latency scales exactly with FLOPs)",
        "",
        fid.to_markdown(floatfmt=".2f"),
        "",
        f"Target: >= 0.8 for every sub-network at or above 25% of the full FLOPs. Met in "
        f"{int((eligible.fidelity >= 0.8).sum())} of {len(eligible)} such cells; below: "
        + (
            ", ".join(
                f"{r.subnet_id}/{r.runtime} {r.fidelity:.2f}"
                for r in eligible[eligible.fidelity < 0.8].itertuples()
            )
            or "none"
        )
        + ".",
        "",
        "## Stability: |run 2 - run 1| / min, % (medians)",
        "",
        spread.to_markdown(floatfmt=".1f"),
        "",
        f"Target: within 3%. {int((m.spread_pct <= 3).sum())} of {len(m)} cells within 3%; median spread "
        f"{m.spread_pct.median():.1f}%, max {m.spread_pct.max():.1f}%.",
        "",
        drift_line(m),
        "",
        "## Harness cost",
        "",
        *[f"- {k}: {v / 60:.1f} min wall" for k, v in walls.items()],
        f"- target: <= 10 minutes for a sweep on this {first.env.get('logical_cpus')}-CPU machine "
        "(run 1 includes every export; run 2 reuses them)",
        "",
        *throughput_lines(out),
    ]
    earlier = [
        d
        for d in sorted(out.iterdir())
        if d.is_dir() and (d / "run1.jsonl").is_file() and (d / "run2.jsonl").is_file()
    ]
    if earlier:
        lines += [
            "## Earlier pairs of sweeps (same model, kept with their own README)",
            "",
            *[
                f"- `{d.name}/`: {spread_stats(d / 'run1.jsonl', d / 'run2.jsonl')}"
                for d in earlier
            ],
            "",
        ]
    lines += [
        "Raw records: `run1.jsonl`, `run2.jsonl` (every per-run sample is kept); joined table: `cells.csv`."
    ]
    path = out / "README.md"
    path.write_text("\n".join(lines) + "\n")
    return path


@dataclass(kw_only=True)
class CpuReportOptions:
    """`python -m recipes.cpu_report`: its options."""

    model: str = option("minilm-l6", help="preset or checkpoint measured", group="model")
    out: str = option(
        "reports/minilm-cpu", help="report folder (records.jsonl, README, figures)", group="report"
    )
    seq_len: int = option(128, help="tokens per input sequence", group="measurement")
    threads: int = option(1, help="runtime threads", group="measurement")
    min_time: float = option(
        SweepConfig.min_time_s, help="seconds of timed runs per cell, at least", group="measurement"
    )
    processes: int = option(
        1,
        help="fresh processes per cell, interleaved across cells (3 triples the sweep's time)",
        group="measurement",
    )
    min_runs: int = option(
        SweepConfig.min_runs, help="timed runs per process, at least", group="measurement"
    )
    warmup: int = option(
        SweepConfig.warmup, help="untimed runs after the first, per process", group="measurement"
    )


def build_parser():
    return argfields.command_parser(
        "python -m recipes.cpu_report",
        "The measurement-core report: one model's sub-networks x five runtimes on the local CPU, swept twice.",
        "python -m recipes.cpu_report --model minilm-l6 --out reports/minilm-cpu",
        CpuReportOptions,
    )


def main(argv: list[str] | None = None) -> int:
    opts, _ = argfields.parse(build_parser(), argv)
    s = Settings(
        opts.model,
        opts.seq_len,
        opts.threads,
        opts.min_time,
        opts.min_runs,
        opts.warmup,
        opts.processes,
    )
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    timing_path = out / "timing.json"
    walls = json.loads(timing_path.read_text()) if timing_path.exists() else {}
    for run in ("run1", "run2"):
        if run not in walls:
            walls[run] = sweep(s, out / f"{run}.jsonl")
            timing_path.write_text(json.dumps(walls, indent=1))
    if "sgemm_peak_gflops" not in walls:
        walls["sgemm_peak_gflops"] = sgemm_peak(opts.threads)
        timing_path.write_text(json.dumps(walls, indent=1))
    peak = walls.pop("sgemm_peak_gflops")
    tables = analyse(out / "run1.jsonl", out / "run2.jsonl", peak)
    first = next(r for r in records.read(out / "run1.jsonl") if r.status == "ok")
    print(f"report: {write(out, s, tables, peak, walls, first)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
