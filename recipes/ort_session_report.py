"""reports/minilm-cpu/ort-session.md: the project's ONNX artifacts as shipped against onnxruntime's default session
on the plain export, for every sub-network, fp32 and int8, measured interleaved in one process
(bench/session_compare.py). Three graphs/sessions per sub-network and format:
- *export, default*: the plain dynamo export (`<artifact stem>.unfused.onnx`; int8: quantized from it with the
  same settings), `onnxruntime.InferenceSession(path)`: what a user got before issue 18;
- *export, no SkipLN*: the same file with SkipLayerNormFusion disabled (docs/ort-skiplayernorm.md);
- *fused, shipped*: the artifact (offline attention fusion, bench/ort_fusion.py; int8 quantized after it) in the
  session shipped beside it (`<artifact>.session.json`).
Each row: medians, speed-ups, FLOPs fidelity (speed-up over the same graph's full model x FLOPs ratio, FLOPs with
attention) and the largest logit difference between the three.
`python -m recipes.ort_session_report --model minilm-l6 --seq-len 128 --threads 1 --out reports/minilm-cpu`
`--hf-reference`: the full model as transformers' own model class exported by torch.onnx, default session, in the
same interleaved run; `--full-only` times only the full model (fp32) against it, for many rounds
(ort-session-full.md: the per-round ratio's median and spread).
"""

from __future__ import annotations

import json
import platform
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

import argfields
from argfields import option
from bench.artifacts import artifact_for, load
from bench.session_compare import (
    VARIANTS,
    SessionCell,
    fused_op_counts,
    measure_interleaved,
    plain_export,
)
from devices.local import cpu_info
from dynabert.config import SubnetSpec, default_grid
from dynabert.flops import cost

FULL = "w1.00-d1.00"


@dataclass(frozen=True)
class Settings:
    model: str = "minilm-l6"
    seq_len: int = 128
    threads: int = 1
    formats: tuple[str, ...] = ("onnx", "onnx-int8")
    rounds: int = 30
    runs_per_round: int = 3
    warmup: int = 5
    hf_reference: bool = False
    full_only: bool = False
    tag: str = ""

    @property
    def name(self) -> str:
        return ("ort-session-full" if self.full_only else "ort-session") + (
            f"-{self.tag}" if self.tag else ""
        )


def build_cells(s: Settings) -> tuple[list[SessionCell], dict, object]:
    """Every (sub-network, format, variant) cell of the default grid, its export metadata, and the loaded model."""

    model = load(s.model)
    cells, metas = [], {}
    for spec in default_grid():
        if s.full_only and spec.subnet_id != FULL:
            continue
        fp32, _ = artifact_for(model, spec, "onnx", s.seq_len, None)
        for fmt in s.formats:
            path, meta = artifact_for(model, spec, fmt, s.seq_len, None)
            if not meta["ok"]:
                raise RuntimeError(f"{spec.subnet_id} {fmt} failed its numerics check: {meta}")
            metas[(spec.subnet_id, fmt)] = meta
            plain = plain_export(path, fmt, meta, fp32)
            cells += [
                SessionCell(
                    f"{spec.subnet_id}|{fmt}|{v}", path if v.startswith("fused") else plain, mode
                )
                for v, mode in VARIANTS.items()
            ]
    return cells, metas, model


def hf_reference_cell(model, s: Settings, out_dir: Path) -> SessionCell:
    """The full model as transformers' own class exported by torch.onnx (dynamo, opset 18), default session."""
    import torch

    from bench.export import sample_inputs

    hf = model.dyna.hf.eval()
    path = out_dir / f"hf-{model.sha}-s{s.seq_len}.onnx"
    if not path.is_file():

        class Logits(torch.nn.Module):
            def __init__(self, m):
                super().__init__()
                self.m = m

            def forward(self, input_ids, attention_mask, token_type_ids):
                return self.m(
                    input_ids=input_ids,
                    attention_mask=attention_mask,
                    token_type_ids=token_type_ids,
                ).logits

        torch.onnx.export(
            Logits(hf),
            sample_inputs(1, s.seq_len, hf.config.vocab_size),
            str(path),
            dynamo=True,
            opset_version=18,
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["logits"],
            external_data=False,
            verbose=False,
        )
    return SessionCell(f"{FULL}|transformers-export", path, "default")


def table(cells: list[SessionCell], model, s: Settings) -> pd.DataFrame:
    """One row per (sub-network, format): each variant's median, the speed-ups of the shipped artifact, FLOPs
    ratio, the fidelity of the plain export's default session and of the shipped artifact, the largest logit
    difference between the variants."""

    rows: dict = {}
    for c in cells:
        subnet, fmt, variant = c.label.split("|")
        rows.setdefault((subnet, fmt), {})[variant] = c
    full_flops = cost(model.dyna.full_size, SubnetSpec(), s.seq_len).flops_with_attention
    out = []
    for (subnet, fmt), v in rows.items():
        w, d = (float(x[1:]) for x in subnet.split("-"))
        ms = {k: c.median_ms for k, c in v.items()}
        ref = v["export-default"].output
        out.append(
            {
                "subnet_id": subnet,
                "format": fmt,
                "flops_ratio": cost(
                    model.dyna.full_size, SubnetSpec(w, d), s.seq_len
                ).flops_with_attention
                / full_flops,
                "export_default_ms": ms["export-default"],
                "export_noskipln_ms": ms["export-noskipln"],
                "fused_shipped_ms": ms["fused-shipped"],
                "speedup_vs_default": ms["export-default"] / ms["fused-shipped"],
                "speedup_vs_noskipln": ms["export-noskipln"] / ms["fused-shipped"],
                "max_logit_diff": max(float(np.abs(c.output - ref).max()) for c in v.values()),
            }
        )
    t = pd.DataFrame(out)
    for name, col in (
        ("export_default", "export_default_ms"),
        ("fused_shipped", "fused_shipped_ms"),
    ):
        full = t[t.subnet_id == FULL].set_index("format")[col]
        t[f"fidelity_{name}"] = t.format.map(full) / t[col] * t.flops_ratio
    return t


def hf_ratio(cells: list[SessionCell], ref: SessionCell, s: Settings) -> dict:
    """Full model fp32 (each variant) over transformers' export, per round (median of the round's runs): the
    median ratio, its 25th/75th percentiles and range across rounds, and the ratio of the overall medians."""
    out = {"hf_reference_ms": ref.median_ms}
    hf = np.array(ref.round_medians(s.runs_per_round))
    for c in cells:
        subnet, fmt, variant = c.label.split("|")
        if subnet == FULL and fmt == "onnx":
            r = np.array(c.round_medians(s.runs_per_round)) / hf
            out[variant] = {
                "ms": c.median_ms,
                "ratio_of_medians": c.median_ms / ref.median_ms,
                "round_ratio_median": float(np.median(r)),
                "round_ratio_p25": float(np.percentile(r, 25)),
                "round_ratio_p75": float(np.percentile(r, 75)),
                "round_ratio_min": float(r.min()),
                "round_ratio_max": float(r.max()),
                "rounds": len(r),
                "rounds_faster": int((r < 1).sum()),
            }
    return out


def write(out: Path, s: Settings, t: pd.DataFrame, cells: list[SessionCell], extra: dict) -> Path:
    from records.machine import this_machine

    out.mkdir(parents=True, exist_ok=True)
    t.to_csv(out / f"{s.name}.csv", index=False, float_format="%.4g")
    cell_rows = [
        {
            "label": c.label,
            "artifact": c.path.name,
            "session": c.mode,
            "session_options": c.session_options,
            "median_ms": c.median_ms,
            "n_runs": len(c.samples_ms),
        }
        for c in cells
    ]
    meta = {
        "settings": asdict(s),
        "cpu": cpu_info(this_machine()),
        "python": platform.python_version(),
        **extra,
        "cells": cell_rows,
    }
    (out / f"{s.name}.json").write_text(json.dumps(meta, indent=1, default=str))
    md = out / f"{s.name}.md"
    md.write_text(
        "\n".join(
            header_lines(s, meta)
            + (table_lines(t) if not s.full_only else [])
            + hf_lines(meta)
            + command_lines(s)
        )
        + "\n"
    )
    return md


def header_lines(s: Settings, meta: dict) -> list[str]:
    return [
        f"# {s.model}: the shipped ONNX artifacts vs onnxruntime's default session on the plain export",
        "",
        f"Measured on `{meta['cpu'].get('cpu_model')}`, {meta['onnxruntime']}, {s.threads} thread(s), batch 1, "
        f"seq {s.seq_len}, one process pinned to its last {s.threads} CPU(s); every session loaded first, then "
        f"{s.rounds} rounds each running every session {s.runs_per_round} times in a rotated order "
        f"({s.warmup} warm-up runs each before); latency = median of a cell's {s.rounds * s.runs_per_round} runs. "
        f"Load average (1 min) before / after the run: {meta['load'][0]:.2f} / {meta['load'][1]:.2f} on "
        f"{meta['cpu'].get('logical_cpus', '?')} CPUs (other jobs ran beside it: absolute figures are noisy; the "
        "variants of one sub-network saw the same conditions, interleaved, so their ratios are the figures to read).",
        "",
        "Variants: *export, default* = the plain dynamo export, `onnxruntime.InferenceSession(path)` "
        "(ORT_ENABLE_ALL, nothing disabled): what a user got before issue 18; *export, no SkipLN* = the same file, "
        '`disabled_optimizers=["SkipLayerNormFusion"]` (docs/ort-skiplayernorm.md); *fused, shipped* = the '
        "artifact as shipped: the export after onnxruntime's offline BERT attention fusion "
        f"({meta['recipe']}), int8 quantized after it, opened with its sidecar "
        '(`onnxruntime.InferenceSession(path, disabled_optimizers=["SkipLayerNormFusion"])`). All with '
        f"intra_op_num_threads={s.threads}, sequential.",
        "",
        f"Graph after onnxruntime's session optimizer (full model): export, default {meta['ops']['export-default']}; "
        f"fused, shipped {meta['ops']['fused-shipped']}. Export check vs torch (fused, shipped): fp32 max "
        f"{meta['max_err'].get('onnx', float('nan')):.2g} (tolerance 1e-4)"
        + (
            f", int8 max {meta['max_err']['onnx-int8']:.2g} (bound 0.05 x (1 + max|logit|))"
            if "onnx-int8" in meta["max_err"]
            else ""
        )
        + ".",
        "",
    ]


def table_lines(t: pd.DataFrame) -> list[str]:
    eligible = t[(t.format == "onnx") & (t.flops_ratio >= 0.25)]
    smallest = t[t.format == "onnx"].sort_values("flops_ratio").iloc[0]
    eligible8 = t[(t.format == "onnx-int8") & (t.flops_ratio >= 0.25)]
    return [
        "Fidelity = (full model's median / sub-network's median, same variant and format) x FLOPs ratio "
        "(FLOPs with attention); 1.0 = latency scales exactly with FLOPs. max_logit_diff: largest difference "
        "between the variants' logits on the timed input.",
        "",
        t.to_markdown(index=False, floatfmt=".3f"),
        "",
        f"fp32, fused & shipped: {int((eligible.fidelity_fused_shipped >= 0.9).sum())} of {len(eligible)} "
        f"sub-networks with >= 25% of the full model's FLOPs reach fidelity >= 0.90 (plain export, default "
        f"session: {int((eligible.fidelity_export_default >= 0.9).sum())}); the smallest ({smallest.subnet_id}, "
        f"FLOPs ratio {smallest.flops_ratio:.3f}) reaches {smallest.fidelity_fused_shipped:.2f} (plain export, "
        f"default: {smallest.fidelity_export_default:.2f}). Speed-up of the shipped artifact over the plain "
        f"export's default session: fp32 {t[t.format == 'onnx'].speedup_vs_default.min():.2f}-"
        f"{t[t.format == 'onnx'].speedup_vs_default.max():.2f}x, int8 {eligible8.speedup_vs_default.min():.2f}-"
        f"{t[t.format == 'onnx-int8'].speedup_vs_default.max():.2f}x (int8 minimum over sub-networks >= 25% "
        f"FLOPs; all: {t[t.format == 'onnx-int8'].speedup_vs_default.min():.2f}x); over the export with "
        "SkipLN disabled (attention fusion alone): "
        f"fp32 median {t[t.format == 'onnx'].speedup_vs_noskipln.median():.2f}x, "
        f"int8 median {t[t.format == 'onnx-int8'].speedup_vs_noskipln.median():.2f}x.",
        "",
    ]


def hf_lines(meta: dict) -> list[str]:
    if "hf" not in meta:
        return []
    hf, lines = meta["hf"], []
    for v in ("fused-shipped", "export-noskipln", "export-default"):
        r = hf.get(v)
        if r:
            lines.append(
                f"- {v}: {r['ms']:.2f} ms; per-round ratio median {r['round_ratio_median']:.3f} (25-75%: "
                f"{r['round_ratio_p25']:.3f}-{r['round_ratio_p75']:.3f}, range {r['round_ratio_min']:.3f}-"
                f"{r['round_ratio_max']:.3f}; faster in {r['rounds_faster']} of {r['rounds']} rounds); "
                f"ratio of the overall medians {r['ratio_of_medians']:.3f}"
            )
    return [
        "Full model (fp32) vs transformers' own model class exported by torch.onnx (dynamo, opset 18) in "
        f"onnxruntime's default session, same interleaved run: {hf['hf_reference_ms']:.2f} ms. Ratio = this "
        "project's / transformers' (< 1: this project's is faster), per round from the round's medians:",
        *lines,
        "",
    ]


def command_lines(s: Settings) -> list[str]:
    cmd = (
        f"python -m recipes.ort_session_report --model {s.model} --seq-len {s.seq_len} --threads {s.threads} "
        f"--rounds {s.rounds} --runs-per-round {s.runs_per_round}"
        + (" --hf-reference" if s.hf_reference else "")
        + (" --full-only" if s.full_only else "")
        + (f" --tag {s.tag}" if s.tag else "")
    )
    return [
        "Command (run in a quiet window):",
        "```",
        cmd + " --out reports/minilm-cpu",
        "```",
        f"Per-cell session options and medians: {s.name}.json; the table: {s.name}.csv.",
    ]


@dataclass(kw_only=True)
class OrtSessionOptions:
    """`python -m recipes.ort_session_report`: the model, how it is timed, where the report goes."""

    model: str = option(Settings.model, help="preset or checkpoint measured", group="model")
    seq_len: int = option(Settings.seq_len, help="tokens per input sequence", group="timing")
    threads: int = option(Settings.threads, help="onnxruntime intra-op threads", group="timing")
    rounds: int = option(Settings.rounds, help="interleaved rounds over every cell", group="timing")
    runs_per_round: int = option(
        Settings.runs_per_round, help="timed runs of each cell per round", group="timing"
    )
    hf_reference: bool = option(
        False,
        help="also time transformers' own ONNX export of the full model as a reference",
        group="model",
    )
    full_only: bool = option(
        False, help="the full model (fp32) only, against transformers' export", group="model"
    )
    tag: str = option(
        Settings.tag,
        help="suffix of the output files' name (a second run: --tag run2)",
        group="report",
    )
    out: str = option("reports/minilm-cpu", help="report folder written", group="report")


def build_parser():
    return argfields.command_parser(
        "python -m recipes.ort_session_report",
        "The ONNX artifacts as shipped against onnxruntime's default session, timed interleaved.",
        "python -m recipes.ort_session_report --model minilm-l6 --rounds 30",
        OrtSessionOptions,
    )


def main(argv: list[str] | None = None) -> int:
    opts, _ = argfields.parse(build_parser(), argv)
    import os

    import onnxruntime

    from bench.ort_fusion import RECIPE

    s = Settings(
        opts.model,
        opts.seq_len,
        opts.threads,
        rounds=opts.rounds,
        runs_per_round=opts.runs_per_round,
        hf_reference=opts.hf_reference or opts.full_only,
        full_only=opts.full_only,
        formats=("onnx",) if opts.full_only else Settings.formats,
        tag=opts.tag,
    )
    cells, metas, model = build_cells(s)
    ref = hf_reference_cell(model, s, Path(cells[0].path).parent.parent) if s.hf_reference else None
    full = {c.label.split("|")[2]: c.path for c in cells if c.label.startswith(f"{FULL}|onnx|")}
    extra = {
        "onnxruntime": f"onnxruntime {onnxruntime.__version__}",
        "recipe": RECIPE,
        "ops": {v: fused_op_counts(full[v], m) for v, m in VARIANTS.items()},
        "max_err": {
            f: max(m["max_abs_err"] for (_, g), m in metas.items() if g == f) for f in s.formats
        },
    }
    load0 = os.getloadavg()[0]
    measure_interleaved(
        cells + ([ref] if ref else []), s.seq_len, s.threads, s.rounds, s.runs_per_round, s.warmup
    )
    extra["load"] = (load0, os.getloadavg()[0])
    if ref:
        extra["hf"] = hf_ratio(cells, ref, s)
    print(write(Path(opts.out), s, table(cells, model, s), cells + ([ref] if ref else []), extra))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
