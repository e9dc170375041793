"""Table of exact guest instructions per inference on the emulated ARM target, against FLOPs (README.md).

`python -m recipes.arm_report --results reports/minilm-qemu-arm/records.jsonl --out reports/minilm-qemu-arm`
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

import argfields
import records
from argfields import option
from bench import figures
from devices.qemu_arm import EMULATED


@dataclass(kw_only=True)
class ArmReportOptions:
    """`python -m recipes.arm_report`: its options."""

    results: str = option(help="records of the qemu-arm sweep (JSON lines)", group="report")
    out: str = option(help="report folder written", group="report")
    command: str = option(
        "", help="the sweep command that made the records, for the README", group="report"
    )


def build_parser():
    return argfields.command_parser(
        "python -m recipes.arm_report",
        "Table of exact guest instructions per inference on the emulated ARM target, against FLOPs.",
        "python -m recipes.arm_report --results arm.jsonl --out reports/arm",
        ArmReportOptions,
    )


def main(argv: list[str] | None = None) -> int:
    opts, _ = argfields.parse(build_parser(), argv)
    out = Path(opts.out)
    recs = [
        r for r in records.read(opts.results) if r.instructions_per_inference and r.status == "ok"
    ]
    if not recs:
        print("error: no emulated-ARM records with instruction counts", file=sys.stderr)
        return 2
    df = pd.DataFrame([r.to_dict() for r in recs])
    df["cell"] = df.model_id.where(df.family == "baseline", df.subnet_id)
    df["ginsn"] = df.instructions_per_inference / 1e9
    table = df.pivot_table(index="cell", columns="runtime", values="ginsn", sort=False)
    table.insert(
        0,
        "GFLOPs (+attention)",
        df.drop_duplicates("cell").set_index("cell").flops_with_attention / 1e9,
    )
    df["diff"] = df.env.map(lambda e: e.get("arm_vs_x86_max_abs_diff"))
    diffs = df.groupby("runtime")["diff"].max()
    corr = df.groupby("runtime").apply(
        lambda g: g.instructions_per_inference.corr(g.flops_with_attention), include_groups=False
    )
    fig = figures.instructions_figure(
        df,
        f"emulated aarch64 ({recs[0].env.get('cpu')}), seq {recs[0].seq_len}: "
        "exact instructions, not time",
    )
    figures.save(fig, out / "instructions_vs_flops")
    first = recs[0]
    lines = [
        f"# Emulated aarch64: guest instructions per inference (seq {first.seq_len}, batch {first.batch_size}, "
        f"{first.threads} thread(s))",
        "",
        f"Counted exactly by a qemu TCG plugin between markers around each inference (minimum of "
        f"{EMULATED['count_runs']} bracketed runs after {first.n_warmup} warm-ups; two processes give the same "
        "per-run counts, as tests/devices/test_qemu_arm.py checks on the tiny model; onnxruntime's telemetry is "
        "switched off in the runner, since it adds clock-dependent work to runs). This is a "
        "cost figure, **not ARM latency**: emulated wall times are in the records (`env.emulated_wall_ms_p50`) "
        "and mean nothing about a real ARM core.",
        "",
        f"Runtimes: real aarch64 wheels ({', '.join(sorted({r.runtime_version for r in recs}))}); target: "
        f"{first.cpu_model}.",
        "",
        "![instructions vs FLOPs](instructions_vs_flops.png)",
        "",
        "## Giga-instructions per inference",
        "",
        table.to_markdown(floatfmt=".4g"),
        "",
        "Correlation of instruction count with FLOPs per runtime: "
        + ", ".join(f"{k} {v:.3f}" for k, v in corr.items())
        + ".",
        "",
        "aarch64 vs x86 logits (same artifact, same inputs), max abs diff per runtime: "
        + ", ".join(f"{k} {v:.1e}" for k, v in diffs.items())
        + " (int8 kernels differ between the aarch64 and x86 builds; fp32 agrees to float rounding).",
        "",
    ]
    if opts.command:
        lines += ["Command:", "```", opts.command, "```", ""]
    (out / "README.md").write_text("\n".join(lines))
    print(f"report: {out / 'README.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
