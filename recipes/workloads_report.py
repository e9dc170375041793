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

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

from bench.workload import condition
from dynabert import records

OUT = Path("reports/sst2-minilm/workloads")
DATA = "../shared/data/glue/SST-2"
PAIR = ("w1.00-d1.00", "w0.25-d0.50")  # the full and the smallest sub-network
BUCKETS = "16,32,64"


def commands(out: Path, data: str) -> list[list[str]]:
    """The sweeps, in the order they ran: synthetic 128 and task SingleStream on all 12, then Offline and LiteRT
    padded / bucketed on the full and smallest sub-network."""
    store, pair = (out / "records.jsonl").as_posix(), (out / "subnets.json").as_posix()
    base = ["--model", "minilm-l6", "--threads", "1", "--seq-len", "128", "--task", "sst2"]
    base += ["--results", store]
    task = ["--workload", "task", "--data-dir", data]
    return [
        [*base, "--runtimes", "onnxruntime"],
        [*base, "--runtimes", "onnxruntime", *task],
        [*base, "--runtimes", "onnxruntime", *task, "--scenario", "offline", "--subnets", pair],
        [*base, "--runtimes", "litert", *task, "--subnets", pair],
        [*base, "--runtimes", "litert", *task, "--subnets", pair, "--buckets", BUCKETS],
    ]


def frame(store: Path) -> pd.DataFrame:
    rows = [
        {**r.to_dict(), "condition": condition(r), "load": (r.env or {}).get("load_avg_1min")}
        for r in records.read(store)
        if r.kind == "latency"
    ]
    return pd.DataFrame(rows)


def singlestream_table(df: pd.DataFrame) -> pd.DataFrame:
    ort = df[(df.runtime == "onnxruntime") & (df.status == "ok") & (df.scenario != "offline")]
    syn = ort[ort.condition == "synthetic"].set_index("subnet_id")
    task = ort[ort.scenario == "singlestream"].set_index("subnet_id")
    t = pd.DataFrame(
        {
            "len-128 p50 (ms)": syn.latency_ms_p50,
            "task p50 (ms)": task.latency_ms_p50,
            "task p90": task.latency_ms_p90,
            "task p99": task.latency_ms_p99,
            "task mean": task.latency_ms_mean,
            "task early-stop p90": task.latency_ms_p90_early_stop,
            "ES queries needed": task.early_stop_queries_needed,
            "timed queries": task.n_runs,
            "task / len-128 p50": task.latency_ms_p50 / syn.latency_ms_p50,
        }
    )
    return t.sort_values("len-128 p50 (ms)", ascending=False)


def static_table(df: pd.DataFrame) -> pd.DataFrame:
    ok = df[(df.status == "ok") & (df.scenario == "singlestream") & df.subnet_id.isin(PAIR)]
    out = {}
    for label, sel in (
        ("onnxruntime dynamic", ok.runtime == "onnxruntime"),
        ("LiteRT padded 128", (ok.runtime == "litert") & (ok.shapes == "padded")),
        (f"LiteRT bucketed {BUCKETS}", (ok.runtime == "litert") & (ok.shapes == "bucketed")),
    ):
        part = ok[sel].set_index("subnet_id")
        out[f"{label} p50"] = part.latency_ms_p50
        out[f"{label} p90"] = part.latency_ms_p90
    t = pd.DataFrame(out)
    t["bucketed / ort p50"] = t[f"LiteRT bucketed {BUCKETS} p50"] / t["onnxruntime dynamic p50"]
    t["padded / bucketed p50"] = t["LiteRT padded 128 p50"] / t[f"LiteRT bucketed {BUCKETS} p50"]
    return t


def offline_table(df: pd.DataFrame) -> pd.DataFrame:
    ok = df[(df.status == "ok") & (df.scenario == "offline") & (df.runtime == "onnxruntime")]
    return ok.pivot_table(index="batch_size", columns="subnet_id", values="throughput_qps")


def offline_figure(t: pd.DataFrame, path: Path, note: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for subnet in t.columns:
        ax.plot(t.index, t[subnet], marker="o", label=subnet)
        best = t[subnet].idxmax()
        ax.annotate(f"best: batch {best}", (best, t[subnet].max()), textcoords="offset points",
                    xytext=(4, 6), fontsize=8)  # fmt: skip
    ax.set_xscale("log", base=2)
    ax.set_xticks(list(t.index), [str(b) for b in t.index])
    ax.set_xlabel("Offline batch size (queries sorted by length, padded per batch)")
    ax.set_ylabel("queries / s")
    ax.set_title(f"Offline throughput, SST-2 dev workload\n{note}", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(title="sub-network")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def latency_figure(t: pd.DataFrame, path: Path, note: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.2, 4.2))
    x = range(len(t))
    ax.bar([i - 0.2 for i in x], t["len-128 p50 (ms)"], 0.4, label="synthetic, padded to 128: p50")
    ax.bar([i + 0.2 for i in x], t["task p50 (ms)"], 0.4, label="SST-2 dev queries: p50")
    ax.scatter([i + 0.2 for i in x], t["task early-stop p90"], color="k", marker="_", s=80,
               label="SST-2 dev: LoadGen early-stopping p90", zorder=3)  # fmt: skip
    ax.set_xticks(list(x), list(t.index), rotation=60, fontsize=8)
    ax.set_ylabel("latency (ms)")
    ax.set_title(f"SingleStream latency per sub-network\n{note}", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def fmt(t: pd.DataFrame, digits: int = 3) -> str:
    return t.to_markdown(floatfmt=f".{digits}g")


def report(out: Path) -> Path:
    """README.md and figures from the store (reads records only)."""
    df = frame(out / "records.jsonl")
    ok = df[df.status == "ok"]
    first = ok[ok.scenario == "singlestream"].iloc[0]
    info = first.workload_info
    load = ok.load.dropna()
    machine = (first.machine or {}).get("cpu_model") or first.cpu_model
    note = f"MiniLM-L6 (minilm-l6), onnxruntime fp32, 1 thread, local CPU; load avg {load.min():.1f}-{load.max():.1f}"
    ss, static, offline = singlestream_table(df), static_table(df), offline_table(df)
    (out / "figures").mkdir(exist_ok=True)
    latency_figure(ss, out / "figures" / "singlestream.png", note)
    offline_figure(offline, out / "figures" / "offline-throughput.png", note)
    best = {s: int(offline[s].idxmax()) for s in offline.columns}
    full = ss.loc["w1.00-d1.00"]
    skipped = df[df.status == "skipped"]
    lines = [
        "# MiniLM-L6 on the traffic an SST-2 classifier serves",
        "",
        f"Machine: {machine}, 1 thread pinned, shared by other agents: the 1-minute load average "
        f"was {load.min():.1f} to {load.max():.1f} on 2 cores while these cells ran "
        "(each record's env.load_avg_1min): **loaded-machine numbers**, compare cells of this report with "
        "each other, not with quiet-machine figures.",
        "",
        f"Workload `{first.workload}`: {info['queries']} queries, SST-2 dev tokenized with MiniLM's tokenizer "
        f"at {info['truncation_len']} tokens (no query is cut: longest {info['length_max']}); lengths mean "
        f"{info['length_mean']:.1f}, p50 {info['length_p50']:.0f}, p90 {info['length_p90']:.0f}. "
        f"Histogram ({info['histogram_bin_tokens']}-token bins): "
        + ", ".join(f"{k}: {v}" for k, v in info["length_histogram"].items())
        + ".",
        "",
        "![SingleStream](figures/singlestream.png)",
        "",
        "## SingleStream, onnxruntime fp32, 1 thread (all 12 sub-networks)",
        "",
        "One query at a time, each at its own length (dynamic shapes), passes over the whole set in a seeded "
        "order; p50/p90/p99/mean over the timed queries; early-stop p90 is MLPerf LoadGen's estimate "
        "(bench/early_stopping.py, confidence 0.99). The len-128 column is the synthetic workload (random ids, "
        "padded 128) measured in the same sitting.",
        "",
        fmt(ss),
        "",
        f"Full sub-network: task p50 {full['task p50 (ms)']:.2f} ms vs length-128 p50 "
        f"{full['len-128 p50 (ms)']:.2f} ms: **{full['task / len-128 p50']:.2f}x**.",
        "",
        "## Static shapes: LiteRT padded and bucketed beside onnxruntime (full and smallest sub-network)",
        "",
        f"LiteRT fp32 artifacts are static-shape: *padded* runs every query at 128 tokens; *bucketed* exports "
        f"one checked artifact per length {BUCKETS} and runs each query on the smallest that fits "
        "(bucket use in each record's env.queries.bucket_counts).",
        "",
        fmt(static),
        "",
        "## Offline throughput, onnxruntime fp32, 1 thread",
        "",
        "All queries sorted by length and cut into batches, each batch padded to its longest query; "
        "queries/s over the timed passes.",
        "",
        "![Offline throughput](figures/offline-throughput.png)",
        "",
        fmt(offline, 4),
        "",
        "Best batch: " + ", ".join(f"{s}: batch {b}" for s, b in best.items()) + ".",
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
    (out / "summary.json").write_text(
        json.dumps(
            {"full_task_over_len128_p50": full["task / len-128 p50"], "best_batch": best}, indent=1
        )  # fmt: skip
    )
    return out / "README.md"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m recipes.workloads_report", description=__doc__)
    ap.add_argument("--out", default=str(OUT))
    ap.add_argument("--data-dir", default=DATA, help="GLUE SST-2 folder (dev.tsv)")
    ap.add_argument(
        "--report-only", action="store_true", help="write the report from the store only"
    )
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "subnets.json").write_text(json.dumps(list(PAIR)))
    if not args.report_only:
        for cmd in commands(out, args.data_dir):
            subprocess.run([sys.executable, "-m", "bench.sweep", *cmd], check=False)
    print(report(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
