"""The runtimes report: one model's 12 sub-networks on the local CPU through onnxruntime, LiteRT, OpenVINO and
ExecuTorch, each fp32 and int8; latency and FLOPs fidelity per runtime as a table and a figure, and (when given)
the dev accuracy of the int8 artifacts beside their fp32 ones.

Fidelity of a sub-network = its speed-up over the same runtime's full model x its FLOPs ratio (1.0: latency
scales exactly with FLOPs; recipes/cpu_report.py's definition), FLOPs = 2 x MACs with the attention products.
Per runtime: the median and minimum fidelity over the sub-networks and the Spearman rank correlation of latency
with FLOPs (1.0: the runtime orders the sub-networks as FLOPs do). The machine's load is read from the records
themselves (env.load_avg_1min, stamped as each cell finished) and stated, never left out.
`python -m recipes.runtimes_report --model minilm-l6 --out reports/minilm-runtimes [--processes 1]
[--accuracy ACCURACY.jsonl]` (resumable: finished cells are kept in OUT/records.jsonl).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

import argfields
import records
from argfields import option
from bench.sweep import SweepConfig, run_sweep

RUNTIMES = (
    "onnxruntime",
    "onnxruntime-int8",
    "litert",
    "litert-int8",
    "openvino",
    "openvino-int8",
    "executorch",
    "executorch-int8",
)
FULL = "w1.00-d1.00"


def cells(store: Path) -> pd.DataFrame:
    """One row per latency record of RUNTIMES (the newest per cell): status, latency, FLOPs, load."""
    rows = {}
    for r in records.read(store):
        if r.kind == "latency" and r.runtime in RUNTIMES:
            rows[(r.subnet_id, r.runtime)] = r  # a re-run's record replaces the earlier one
    return pd.DataFrame(
        [
            {
                "subnet_id": r.subnet_id,
                "runtime": r.runtime,
                "status": r.status,
                "error": r.error,
                "latency_ms_p50": r.latency_ms_p50,
                "flops": r.flops_with_attention,
                "artifact_mib": (r.artifact_bytes or 0) / 2**20 or None,
                "export_max_abs_err": r.export_max_abs_err,
                "runtime_version": r.runtime_version,
                "load_avg_1min": (r.env or {}).get("load_avg_1min"),
                "delegated_share": ((r.env or {}).get("delegation") or {}).get("delegated_share"),
                "cpu_model": r.cpu_model,
                "timestamp_utc": r.timestamp_utc,
            }
            for r in rows.values()
        ]
    )


def fidelity(df: pd.DataFrame) -> pd.DataFrame:
    """The ok cells with flops_ratio, speedup and fidelity against each runtime's own full model."""
    ok = df[df.status == "ok"].copy()
    full = ok[ok.subnet_id == FULL].set_index("runtime")
    ok = ok[ok.runtime.isin(full.index)]
    ok["flops_ratio"] = ok.flops / ok.runtime.map(full.flops)
    ok["speedup"] = ok.runtime.map(full.latency_ms_p50) / ok.latency_ms_p50
    ok["fidelity"] = ok.speedup * ok.flops_ratio
    return ok


def summary(df: pd.DataFrame, fid: pd.DataFrame) -> pd.DataFrame:
    """Per runtime: cells ok / refused, full-model and smallest latency, fidelity, rank correlation with FLOPs."""
    out = []
    for rt in RUNTIMES:
        mine, f = df[df.runtime == rt], fid[fid.runtime == rt]
        out.append(
            {
                "runtime": rt,
                "ok": int((mine.status == "ok").sum()),
                "not ok": int((mine.status != "ok").sum()),
                "full model ms": f[f.subnet_id == FULL].latency_ms_p50.min(),
                "smallest ms": f.latency_ms_p50.min(),
                "median fidelity": f.fidelity.median(),
                "min fidelity": f.fidelity.min(),
                "Spearman(latency, FLOPs)": f.latency_ms_p50.corr(f.flops, method="spearman")
                if len(f) > 2
                else None,
            }
        )
    return pd.DataFrame(out).set_index("runtime")


def figure(fid: pd.DataFrame, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5.2))
    styles = {rt: ("-" if not rt.endswith("int8") else "--") for rt in RUNTIMES}
    colors = dict(zip(("onnxruntime", "litert", "openvino", "executorch"), plt.cm.tab10.colors))
    for rt in RUNTIMES:
        f = fid[fid.runtime == rt].sort_values("flops")
        if f.empty:
            continue
        kw = dict(ls=styles[rt], color=colors[rt.removesuffix("-int8")], marker="o", ms=4, label=rt)
        left.plot(f.flops / 1e9, f.latency_ms_p50, **kw)
        right.plot(f.flops_ratio, f.fidelity, **kw)
    left.set(xscale="log", yscale="log", xlabel="GFLOPs (2 x MACs, with attention)")
    left.set(ylabel="median latency (ms)", title="latency vs FLOPs")
    right.axhline(1.0, color="grey", lw=0.8)
    right.set(xscale="log", xlabel="FLOPs ratio to the full model")
    right.set(ylabel="fidelity = speed-up x FLOPs ratio", title="FLOPs fidelity (1 = proportional)")
    left.legend(fontsize=8, ncol=2)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def accuracy_lines(path: Path) -> list[str]:
    """The artifacts' dev accuracy (bench.artifact_accuracy records), int8 beside fp32 per runtime family."""
    acc = [r for r in records.read(path) if r.kind == "accuracy" and r.runtime]
    if not acc:
        return []
    by = {(r.subnet_id, r.runtime): r for r in acc}
    lines = [
        "## Dev accuracy of the artifacts themselves (bench.artifact_accuracy)",
        "",
        f"Checkpoint `{acc[0].model_id}` (sha {acc[0].checkpoint_sha}), split {acc[0].split}, seq "
        f"{acc[0].seq_len}, batch 1, each example through the artifact's own runtime.",
        "",
        "The fp32 reference of an int8 artifact is its own runtime's fp32 artifact, else another fp32 "
        "artifact of the same sub-network (named): fp32 artifacts agree with torch within 1e-4 in logits.",
        "",
        "| sub-network | runtime | accuracy | fp32 reference | fp32 accuracy | int8 - fp32 (points) | "
        "quantization |",
        "|---|---|---|---|---|---|---|",
    ]
    fp32_runtimes = [rt for rt in RUNTIMES if not rt.endswith("int8")]
    for (subnet, rt), r in sorted(by.items()):
        ref = next(
            (f for f in [rt.removesuffix("-int8"), *fp32_runtimes] if (subnet, f) in by), None
        )
        fp32 = by.get((subnet, ref))
        delta = (
            f"{100 * (r.metric_value - fp32.metric_value):+.2f}"
            if rt.endswith("int8") and fp32 and r.metric_value is not None
            else ""
        )
        q = r.quantization or {}
        lines.append(
            f"| {subnet} | {rt} | {r.metric_value:.4f} | {ref if rt.endswith('int8') else ''} | "
            f"{fp32.metric_value if fp32 else float('nan'):.4f} | {delta} | "
            f"{q.get('calibration', q.get('config', '')) if rt.endswith('int8') else ''} |"
        )
    return lines + [""]


def missing_lines(df: pd.DataFrame) -> list[str]:
    """The (sub-network, runtime) cells of the grid with no record at all: not measured, said so."""
    have = set(zip(df.subnet_id, df.runtime))
    subnets = sorted(df.subnet_id.unique())
    lines = []
    for rt in RUNTIMES:
        gone = [s for s in subnets if (s, rt) not in have]
        if gone:
            lines.append(f"- {rt}: no record for {len(gone)} sub-network(s): {', '.join(gone)}")
    return lines


def write(out: Path, df: pd.DataFrame, opts: RuntimesReportOptions, cpus: int) -> Path:
    fid = fidelity(df)
    table = summary(df, fid)
    df.to_csv(out / "cells.csv", index=False)
    loads = df.load_avg_1min.dropna()
    cpu = df.cpu_model.dropna().iloc[0] if df.cpu_model.notna().any() else "?"
    when = f"{df.timestamp_utc.min()} .. {df.timestamp_utc.max()}"
    load_line = (
        f"1-min load average while the cells ran: {loads.min():.1f} .. {loads.max():.1f} (median "
        f"{loads.median():.1f}) on this {cpus}-CPU machine, shared with other jobs: these are LOADED-machine "
        "numbers, not quiet-machine ones; compare runtimes within this sweep, not with other reports."
    )
    title = (
        f"{opts.model}, local CPU ({cpu}), {opts.threads} thread, batch 1, seq {opts.seq_len}; "
        f"load {loads.min():.0f}-{loads.max():.0f} on {cpus} CPUs"
    )
    figure(fid, out / "runtimes.png", title)
    lat = fid.pivot_table(index="subnet_id", columns="runtime", values="latency_ms_p50")
    fid_t = fid.pivot_table(index="subnet_id", columns="runtime", values="fidelity")
    bad = df[df.status != "ok"]
    lines = [
        f"# {opts.model}: {df.subnet_id.nunique()} sub-networks x {len(RUNTIMES)} runtimes (fp32 and int8)",
        "",
        f"Measured on `{cpu}`, {opts.threads} thread, batch 1, seq {opts.seq_len}, {when} UTC; each cell in a "
        f"fresh process pinned to the last CPU, {opts.processes} process(es) per cell, runs until "
        f"{opts.min_runs} runs and {opts.min_time:g} s; latency = median of the per-run wall times.",
        "",
        load_line,
        "",
        "```",
        f"python -m recipes.runtimes_report --model {opts.model} --out {out.as_posix()} --processes "
        f"{opts.processes} --min-time {opts.min_time:g}",
        "```",
        "",
        "## Per runtime: latency and FLOPs fidelity",
        "",
        table.to_markdown(floatfmt=".3g"),
        "",
        "Fidelity = speed-up over the runtime's own full model x FLOPs ratio (1 = latency proportional to FLOPs); "
        "Spearman = rank correlation of the runtime's measured latencies with FLOPs.",
        "",
        "![latency and FLOPs fidelity per runtime](runtimes.png)",
        "",
        "## Median latency (ms)",
        "",
        lat.to_markdown(floatfmt=".2f"),
        "",
        "## Fidelity",
        "",
        fid_t.to_markdown(floatfmt=".2f"),
        "",
        "## Cells not ok, and cells without a record",
        "",
        *(
            [f"- {r.subnet_id} {r.runtime}: {r.status}: {r.error}" for r in bad.itertuples()]
            or ["Every recorded cell is ok."]
        ),
        *missing_lines(df),
        "",
        *(accuracy_lines(Path(opts.accuracy)) if opts.accuracy else []),
        *(
            ["What was and was not measured, and why: [notes.md](notes.md).", ""]
            if (out / "notes.md").is_file()
            else []
        ),
        "Raw records: `records.jsonl`; joined table: `cells.csv`.",
    ]
    path = out / "README.md"
    path.write_text("\n".join(lines) + "\n")
    return path


@dataclass
class RuntimesReportOptions:
    """`python -m recipes.runtimes_report`: its options."""

    model: str = option(
        "minilm-l6", help="model preset, directory or hub id to sweep", group="sweep"
    )
    out: str = option(
        "reports/minilm-runtimes",
        help="report folder (records.jsonl, README, figure)",
        group="report",
    )
    seq_len: int = option(128, help="padded sequence length (tokens)", group="sweep", min=1)
    threads: int = option(1, help="threads per measured process", group="sweep", min=1)
    processes: int = option(1, help="fresh processes per cell", group="sweep", min=1)
    min_time: float = option(
        SweepConfig.min_time_s, help="seconds each process times at least", group="sweep", min=0
    )
    min_runs: int = option(
        SweepConfig.min_runs, help="runs each process times at least", group="sweep", min=1
    )
    cache_dir: str | None = option(
        None, help="artifact cache (default ~/.cache/dynabert-edge/artifacts)", group="sweep"
    )
    accuracy: str | None = option(
        None, help="bench.artifact_accuracy records to report beside the latency", group="report"
    )
    runtimes: str = option(
        ",".join(RUNTIMES),
        help="comma-separated subset of the report's runtimes to sweep now (all are reported)",
        group="sweep",
    )
    subnets: str | None = option(
        None, help="JSON list of sub-network ids to sweep now (default: the 12)", group="sweep"
    )
    report_only: bool = option(
        False,
        help="write the report from the records, timing nothing",
        group="report",
        action="store_true",
    )


def build_parser():
    return argfields.command_parser(
        "python -m recipes.runtimes_report",
        "reports/minilm-runtimes: MiniLM-L6's sub-networks on onnxruntime, LiteRT, OpenVINO and ExecuTorch.",
        "python -m recipes.runtimes_report --model minilm-l6 --out reports/minilm-runtimes --processes 1",
        RuntimesReportOptions,
    )


def main(argv: list[str] | None = None) -> int:
    import os

    opts, _ = argfields.parse(build_parser(), argv)
    cpus = os.cpu_count()
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    store = out / "records.jsonl"
    try:
        if not opts.report_only:
            from dynabert.subnet import read_subnets

            run_sweep(
                SweepConfig(
                    models=[opts.model],
                    results=str(store),
                    runtimes=tuple(r.strip() for r in opts.runtimes.split(",") if r.strip()),
                    subnets=tuple(read_subnets(opts.subnets)) if opts.subnets else (),
                    subnets_source=opts.subnets or "the 12 sub-networks",
                    threads=(opts.threads,),
                    seq_len=opts.seq_len,
                    min_time_s=opts.min_time,
                    min_runs=opts.min_runs,
                    processes=opts.processes,
                    cache=Path(opts.cache_dir) if opts.cache_dir else None,
                )
            )
        print(write(out, cells(store), opts, cpus))
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
