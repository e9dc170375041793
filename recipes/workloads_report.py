"""reports/sst2-minilm/workloads/: MiniLM-L6's sub-networks timed on the traffic an SST-2 classifier serves (the dev
split's own queries, each at its own length) beside the padded length-128 figure every other report gives.

It runs bench.sweep (finished cells are skipped, so it resumes) and writes README.md and figures from the store:
- SingleStream, onnxruntime fp32, 1 thread, all 12 sub-networks: synthetic length 128 and the SST-2 dev workload
  (p50/p90/p99, mean, LoadGen's early-stopping p90);
- LiteRT padded to 128 and bucketed (16,32,64) beside onnxruntime's dynamic shapes, full and smallest sub-network;
- Offline throughput at batch 1..32 (onnxruntime, dynamic shapes), full and smallest sub-network, best batch named.
`python -m recipes.workloads_report [--data-dir ../shared/data/glue/SST-2] [--out DIR] [--report-only]`
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

import argfields
import records
from argfields import option
from bench.sweep import config_from_argv, run_sweep
from bench.workload import condition

OUT = Path("reports/sst2-minilm/workloads")
DATA = "../shared/data/glue/SST-2"
PAIR = ("w1.00-d1.00", "w0.25-d0.50")  # the full and the smallest sub-network
BUCKETS = "16,32,64"


def commands(out: Path, data: str) -> list[list[str]]:
    """The sweeps, in the order they ran. records.jsonl: synthetic 128 and task SingleStream on all 12, Offline
    and LiteRT padded / bucketed on the full and smallest sub-network; singlestream.jsonl (the runner timing CPU
    time too): task and 200 queries of 128 tokens (len128.txt) on all 12, one sitting."""
    store, pair = (out / "records.jsonl").as_posix(), (out / "subnets.json").as_posix()
    base = ["--model", "minilm-l6", "--threads", "1", "--seq-len", "128", "--task", "sst2"]
    task = ["--workload", "task", "--data-dir", data]
    ss = [*base, "--results", (out / "singlestream.jsonl").as_posix(), "--runtimes", "onnxruntime"]
    base += ["--results", store]
    lengths = ["--workload", "lengths", "--lengths-file", (out / "len128.txt").as_posix()]
    return [
        [*base, "--runtimes", "onnxruntime"],
        [*base, "--runtimes", "onnxruntime", *task],
        [*base, "--runtimes", "onnxruntime", *task, "--scenario", "offline", "--subnets", pair],
        [*base, "--runtimes", "litert", *task, "--subnets", pair],
        [*base, "--runtimes", "litert", *task, "--subnets", pair, "--buckets", BUCKETS],
        [*ss, *task],
        [*ss, *lengths],
    ]


def cpu_stats(env: dict) -> dict:
    """p50 of the per-unit CPU times and queries per CPU-second, from env.queries (None before the runner kept
    them)."""
    import numpy as np

    q = (env or {}).get("queries") or {}
    cpu = q.get("cpu_ms")
    if not cpu:
        return {"cpu_p50": None, "cpu_qps": None}
    per_pass = q["units_per_pass"]
    return {
        "cpu_p50": float(np.percentile(cpu, 50)),
        "cpu_qps": len(cpu) / per_pass * q["queries"] / (sum(cpu) / 1e3),
    }


def frame(store: Path) -> pd.DataFrame:
    rows = [
        {
            **r.to_dict(),
            **cpu_stats(r.env),
            "condition": condition(r),
            "load": (r.env or {}).get("load_avg_1min"),
        }
        for r in records.read(store)
        if r.kind == "latency"
    ]
    return pd.DataFrame(rows)


def singlestream_table(ss: pd.DataFrame) -> pd.DataFrame:
    """Per sub-network: the task workload and 128-token queries, wall-clock and CPU time, one sitting."""
    ok = ss[(ss.status == "ok") & (ss.scenario == "singlestream")]
    task = ok[ok.workload.str.startswith("sst2/")].set_index("subnet_id")
    l128 = ok[ok.workload.str.startswith("lengths:")].set_index("subnet_id")
    t = pd.DataFrame(
        {
            "len-128 p50 (ms)": l128.latency_ms_p50,
            "task p50 (ms)": task.latency_ms_p50,
            "task p90": task.latency_ms_p90,
            "task p99": task.latency_ms_p99,
            "task mean": task.latency_ms_mean,
            "task early-stop p90": task.latency_ms_p90_early_stop,
            "ES queries needed": task.early_stop_queries_needed,
            "timed queries": task.n_runs,
            "task / len-128 p50": task.latency_ms_p50 / l128.latency_ms_p50,
            "CPU len-128 p50 (ms)": l128.cpu_p50,
            "CPU task p50 (ms)": task.cpu_p50,
            "CPU task / len-128 p50": task.cpu_p50 / l128.cpu_p50,
        }
    )
    return t.sort_values("CPU len-128 p50 (ms)", ascending=False)


def static_table(df: pd.DataFrame, ss: pd.DataFrame) -> pd.DataFrame:
    """LiteRT padded and bucketed (records.jsonl) beside onnxruntime's dynamic shapes (the one-sitting store)."""
    ok = df[(df.status == "ok") & (df.scenario == "singlestream") & df.subnet_id.isin(PAIR)]
    dyn = ss[(ss.status == "ok") & ss.workload.str.startswith("sst2/") & ss.subnet_id.isin(PAIR)]
    out = {}
    part = dyn.set_index("subnet_id")
    out["onnxruntime dynamic p50"] = part.latency_ms_p50
    out["onnxruntime dynamic p90"] = part.latency_ms_p90
    out["onnxruntime dynamic CPU p50"] = part.cpu_p50
    for label, sel in (
        ("LiteRT padded 128", (ok.runtime == "litert") & (ok.shapes == "padded")),
        (f"LiteRT bucketed {BUCKETS}", (ok.runtime == "litert") & (ok.shapes == "bucketed")),
    ):
        part = ok[sel].set_index("subnet_id")
        out[f"{label} p50"] = part.latency_ms_p50
        out[f"{label} p90"] = part.latency_ms_p90
        out[f"{label} CPU p50"] = part.cpu_p50
    t = pd.DataFrame(out)
    ort, bucketed, padded = "onnxruntime dynamic", f"LiteRT bucketed {BUCKETS}", "LiteRT padded 128"
    for name, a, b, stat in (
        ("bucketed / ort p50", bucketed, ort, "p50"),
        ("padded / bucketed p50", padded, bucketed, "p50"),
        ("bucketed / ort CPU p50", bucketed, ort, "CPU p50"),
    ):
        if t[f"{a} {stat}"].notna().any() and t[f"{b} {stat}"].notna().any():
            t[name] = t[f"{a} {stat}"] / t[f"{b} {stat}"]
    return t.T


def offline_table(df: pd.DataFrame, value: str = "throughput_qps") -> pd.DataFrame:
    """Queries/s per batch size (rows) and sub-network (columns): wall-clock, or per CPU-second (`cpu_qps`)."""
    ok = df[(df.status == "ok") & (df.scenario == "offline") & (df.runtime == "onnxruntime")]
    return ok.pivot_table(index="batch_size", columns="subnet_id", values=value)


def latency_figure(t: pd.DataFrame, path: Path, note: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.2, 4.2))
    x = range(len(t))
    ax.bar([i - 0.2 for i in x], t["CPU len-128 p50 (ms)"], 0.4, label="128-token queries: CPU p50")
    ax.bar([i + 0.2 for i in x], t["CPU task p50 (ms)"], 0.4, label="SST-2 dev queries: CPU p50")
    ax.scatter([i - 0.2 for i in x], t["len-128 p50 (ms)"], color="C0", marker="x",
               label="128-token: wall p50", zorder=3)  # fmt: skip
    ax.scatter([i + 0.2 for i in x], t["task p50 (ms)"], color="C1", marker="x",
               label="SST-2 dev: wall p50", zorder=3)  # fmt: skip
    ax.set_yscale("log")
    ax.set_xticks(list(x), list(t.index), rotation=60, fontsize=8)
    ax.set_ylabel("latency (ms)")
    ax.set_title(f"SingleStream latency per sub-network, onnxruntime\n{note}", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def fmt(t: pd.DataFrame, digits: int = 3) -> str:
    return t.to_markdown(floatfmt=f".{digits}g")


def offline_figure_pair(wall: pd.DataFrame, cpu: pd.DataFrame, path: Path, note: str) -> None:
    """Offline throughput per batch: wall-clock queries/s and queries per CPU-second, best batch marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    for ax, t, ylabel in (
        (axes[0], wall, "queries / s (wall clock)"),
        (axes[1], cpu, "queries / CPU-s"),
    ):
        for subnet in t.columns:
            ax.plot(t.index, t[subnet], marker="o", label=subnet)
            best = t[subnet].idxmax()
            ax.annotate(f"best: {best}", (best, t[subnet].max()), textcoords="offset points",
                        xytext=(4, 6), fontsize=8)  # fmt: skip
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks(list(t.index), [str(b) for b in t.index])
        ax.set_xlabel("Offline batch (sorted by length, padded per batch)")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.legend(title="sub-network", fontsize=8)
    fig.suptitle(
        f"Offline throughput, onnxruntime, SST-2 dev workload (872 queries)\n{note}", fontsize=9
    )
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def report(out: Path) -> Path:
    """README.md and figures from the stores (reads records only)."""
    df, ss = frame(out / "records.jsonl"), frame(out / "singlestream.jsonl")
    both = pd.concat([df, ss])
    ok = both[both.status == "ok"]
    first = ss[(ss.status == "ok") & ss.workload.str.startswith("sst2/")].iloc[0]
    info = first.workload_info
    load = ok.load.dropna()
    machine = (first.machine or {}).get("cpu_model") or first.cpu_model
    note = (
        f"MiniLM-L6 (minilm-l6), fp32, 1 thread, local CPU {machine}; "
        f"load avg {load.min():.0f}-{load.max():.0f} on 2 cores"
    )
    sst, static = singlestream_table(ss), static_table(df, ss)
    wall, cpu = offline_table(df), offline_table(df, "cpu_qps")
    (out / "figures").mkdir(exist_ok=True)
    latency_figure(sst, out / "figures" / "singlestream.png", note)
    offline_figure_pair(wall, cpu, out / "figures" / "offline-throughput.png", note)
    best = {s: int(wall[s].idxmax()) for s in wall.columns}
    offline_rows = df[(df.status == "ok") & (df.scenario == "offline")]
    offline_rows[
        ["subnet_id", "batch_size", "throughput_qps", "cpu_qps", "load", "timestamp_utc"]
    ].to_csv(out / "offline.csv", index=False)
    best_cpu = {s: int(cpu[s].idxmax()) for s in cpu.columns if cpu[s].notna().any()}
    full = sst.loc["w1.00-d1.00"]
    skipped = both[both.status == "skipped"]
    lines = [
        "# MiniLM-L6 on the traffic an SST-2 classifier serves",
        "",
        f"Machine: {machine}, 2 cores, 1 thread per measured process, **shared with other agents**: the "
        f"1-minute load average was {load.min():.0f} to {load.max():.0f} while these cells ran (each record's "
        "env.load_avg_1min), so a measured process held a CPU a fraction of the time. Wall-clock latencies below "
        "are therefore several times the quiet-machine figures and noisy (a 1 ms query preempted once takes "
        "tens of ms); the runner also records each query's CPU time (time.process_time, env.queries.cpu_ms), "
        "which leaves out the waiting for a CPU: the *CPU* columns are the load-robust comparison. Neither is a "
        "quiet-machine number.",
        "",
        f"Workload `{first.workload}`: {info['queries']} queries, SST-2 dev tokenized with MiniLM's tokenizer "
        f"at {info['truncation_len']} tokens (none is cut: longest {info['length_max']}); lengths mean "
        f"{info['length_mean']:.1f}, p50 {info['length_p50']:.0f}, p90 {info['length_p90']:.0f}. "
        f"Histogram ({info['histogram_bin_tokens']}-token bins): "
        + ", ".join(f"{k}: {v}" for k, v in info["length_histogram"].items())
        + ".",
        "",
        "![SingleStream](figures/singlestream.png)",
        "",
        "## SingleStream, onnxruntime fp32, 1 thread (all 12 sub-networks, one sitting)",
        "",
        "One query at a time, each at its own length (dynamic shapes), passes over the whole set in a seeded "
        "order; p50/p90/p99/mean over the timed queries (ms); early-stop p90 is MLPerf LoadGen's estimate "
        "(bench/early_stopping.py, confidence 0.99). len-128: 200 queries of 128 random-id tokens "
        "(`--workload lengths`, len128.txt), the padded length every other report times, run by the same "
        "code in the same sitting (`singlestream.jsonl`).",
        "",
        fmt(sst),
        "",
        f"Full sub-network: task p50 / length-128 p50 = **{full['task / len-128 p50']:.2f}** wall clock "
        f"({full['task p50 (ms)']:.1f} / {full['len-128 p50 (ms)']:.1f} ms), "
        f"**{full['CPU task / len-128 p50']:.2f}** in CPU time ({full['CPU task p50 (ms)']:.2f} / "
        f"{full['CPU len-128 p50 (ms)']:.2f} ms).",
        "",
        "## Static shapes: LiteRT padded and bucketed beside onnxruntime (full and smallest sub-network)",
        "",
        f"LiteRT fp32 artifacts are static-shape: *padded* runs every query at 128 tokens; *bucketed* exports "
        f"one checked artifact per length {BUCKETS} and runs each query on the smallest that fits "
        "(bucket use in each record's env.queries.bucket_counts). Milliseconds; CPU p50 as above.",
        "",
        fmt(static),
        "",
        "## Offline throughput, onnxruntime fp32, 1 thread",
        "",
        "All 872 queries sorted by length and cut into batches, each batch padded to its longest query; "
        "queries/s over the timed passes (wall clock), and queries per CPU-second.",
        "",
        "![Offline throughput](figures/offline-throughput.png)",
        "",
        "Wall clock (queries/s):",
        "",
        fmt(wall, 4),
        "",
        "Per CPU-second:",
        "",
        fmt(cpu, 4),
        "",
        "**Best batch** per CPU-second (the load-robust measure): "
        + ", ".join(f"{s}: batch {b}" for s, b in best_cpu.items())
        + "; by wall clock: "
        + ", ".join(f"{s}: batch {b}" for s, b in best.items())
        + ". The wall-clock ranking follows the load at the moment each cell ran (the 1-minute load of each "
        "cell is in offline.csv), not the batch size.",
        "",
    ]
    if not skipped.empty:
        lines += ["## Skipped cells", ""]
        lines += [f"- {r.subnet_id} {r.runtime}: {r.error}" for r in skipped.itertuples()]
        lines.append("")
    lines += ["## Commands", "", "```", "python -m recipes.workloads_report", "# which runs:"]
    lines += ["python -m bench.sweep " + " ".join(c) for c in commands(out, DATA)]
    lines += ["```", ""]
    (out / "README.md").write_text("\n".join(lines))
    summary = {
        "full_task_over_len128_p50_wall": full["task / len-128 p50"],
        "full_task_over_len128_p50_cpu": full["CPU task / len-128 p50"],
        "best_batch_wall": best,
        "best_batch_cpu": best_cpu,
        "load_avg_1min": [float(load.min()), float(load.max())],
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    return out / "README.md"


@dataclass
class WorkloadsReportOptions:
    """`python -m recipes.workloads_report`: its options."""

    out: str = option(str(OUT), help="report folder (stores, README, figures)", group="report")
    data_dir: str = option(DATA, help="GLUE SST-2 folder (dev.tsv)", group="workload")
    report_only: bool = option(
        False, help="write the report from the store only", group="report", action="store_true"
    )


def build_parser():
    return argfields.command_parser(
        "python -m recipes.workloads_report",
        "reports/sst2-minilm/workloads: MiniLM-L6's sub-networks on SST-2's own queries (SingleStream, Offline).",
        "python -m recipes.workloads_report --data-dir ../shared/data/glue/SST-2",
        WorkloadsReportOptions,
    )


def main(argv: list[str] | None = None) -> int:
    opts, _ = argfields.parse(build_parser(), argv)
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "subnets.json").write_text(json.dumps(list(PAIR)))
    if not opts.report_only:
        for cmd in commands(
            out, opts.data_dir
        ):  # each sweep a function call; a failed cell is its record
            try:
                run_sweep(config_from_argv(cmd))
            except ValueError as err:
                print(f"error: {err}", file=sys.stderr)
                return 2
    print(report(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
