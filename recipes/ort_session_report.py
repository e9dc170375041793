"""reports/minilm-cpu/ort-session.md: onnxruntime's default session against the settings shipped beside each
artifact (SkipLayerNormFusion disabled; bench/session_settings.py), for every sub-network, fp32 and int8,
measured interleaved in one process (bench/session_compare.py), with each sub-network's speed-up, FLOPs
fidelity (speed-up over the same session's full model x FLOPs ratio, FLOPs with attention) and what the graph
runs (SkipLayerNormalization nodes after onnxruntime's optimizer).
`python -m recipes.ort_session_report --model minilm-l6 --seq-len 128 --threads 1 --out reports/minilm-cpu`
Optionally (`--hf-reference`) the full model as transformers' own model class exported by torch.onnx, in
onnxruntime's default session, timed in the same interleaved run.
"""

from __future__ import annotations

import argparse
import json
import platform
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from bench.session_compare import MODES, SessionCell, fused_op_counts, measure_interleaved

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


def build_cells(s: Settings) -> tuple[list[SessionCell], dict, object]:
    """Every (sub-network, format, mode) cell of the default grid, its export metadata, and the loaded model."""
    from bench.artifacts import artifact_for, load
    from dynabert.config import default_grid

    model = load(s.model)
    cells, metas = [], {}
    for spec in default_grid():
        for fmt in s.formats:
            path, meta = artifact_for(model, spec, fmt, s.seq_len, None)
            if not meta["ok"]:
                raise RuntimeError(f"{spec.subnet_id} {fmt} failed its numerics check: {meta}")
            metas[(spec.subnet_id, fmt)] = meta
            cells += [SessionCell(f"{spec.subnet_id}|{fmt}", path, mode) for mode in MODES]
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
                return self.m(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).logits

        torch.onnx.export(Logits(hf), sample_inputs(1, s.seq_len, hf.config.vocab_size), str(path), dynamo=True,
                          opset_version=18, input_names=["input_ids", "attention_mask", "token_type_ids"],
                          output_names=["logits"], external_data=False, verbose=False)
    return SessionCell(f"{FULL}|transformers-export", path, "default")


def table(cells: list[SessionCell], model, s: Settings) -> pd.DataFrame:
    """One row per (sub-network, format): medians of both sessions, speed-up, FLOPs ratio, fidelity of each."""
    from dynabert.config import SubnetSpec
    from dynabert.flops import cost

    rows = {}
    for c in cells:
        subnet, fmt = c.label.split("|")
        rows.setdefault((subnet, fmt), {})[c.mode] = c.median_ms
    full_flops = cost(model.dyna.full_size, SubnetSpec(), s.seq_len).flops_with_attention
    out = []
    for (subnet, fmt), ms in rows.items():
        if fmt not in s.formats:
            continue
        w, d = (float(x[1:]) for x in subnet.split("-"))
        ratio = cost(model.dyna.full_size, SubnetSpec(w, d), s.seq_len).flops_with_attention / full_flops
        out.append({"subnet_id": subnet, "format": fmt, "flops_ratio": ratio, "default_ms": ms["default"],
                    "shipped_ms": ms["artifact"], "speedup_shipped_vs_default": ms["default"] / ms["artifact"]})
    t = pd.DataFrame(out)
    for mode, col in (("default", "default_ms"), ("shipped", "shipped_ms")):
        full = t[t.subnet_id == FULL].set_index("format")[col]
        t[f"fidelity_{mode}"] = t.format.map(full) / t[col] * t.flops_ratio
    return t


def write(out: Path, s: Settings, t: pd.DataFrame, cells: list[SessionCell], extra: dict) -> Path:
    from devices.local import cpu_info

    out.mkdir(parents=True, exist_ok=True)
    t.to_csv(out / "ort-session.csv", index=False, float_format="%.4g")
    cell_rows = [{"label": c.label, "artifact": c.path.name, "session": c.mode, "session_options": c.session_options,
                  "median_ms": c.median_ms, "n_runs": len(c.samples_ms)} for c in cells]
    meta = {"settings": asdict(s), "cpu": cpu_info(), "python": platform.python_version(), **extra,
            "cells": cell_rows}
    (out / "ort-session.json").write_text(json.dumps(meta, indent=1, default=str))
    md = out / "ort-session.md"
    md.write_text("\n".join(report_lines(s, t, meta)) + "\n")
    return md


def report_lines(s: Settings, t: pd.DataFrame, meta: dict) -> list[str]:
    eligible = t[(t.format == "onnx") & (t.flops_ratio >= 0.25)]
    smallest = t[t.format == "onnx"].sort_values("flops_ratio").iloc[0]
    lines = [f"# {s.model}: onnxruntime's default session vs the settings shipped with the artifact", "",
             f"Measured on `{meta['cpu'].get('cpu_model')}`, {meta['onnxruntime']}, {s.threads} thread(s), batch 1, "
             f"seq {s.seq_len}, one process pinned to its last {s.threads} CPU(s); every session loaded first, then "
             f"{s.rounds} rounds each running every session {s.runs_per_round} times in a rotated order "
             f"({s.warmup} warm-up runs each before); latency = median of a cell's {s.rounds * s.runs_per_round} runs. "
             "The machine was shared with other jobs during the run: absolute figures are noisy; the two sessions "
             "of one artifact saw the same conditions (interleaved), so their ratio is the figure to read.", "",
             "Sessions: *default* = `onnxruntime.InferenceSession(path)` (ORT_ENABLE_ALL, nothing disabled); "
             "*shipped* = the artifact's `<artifact>.session.json`, i.e. "
             "`onnxruntime.InferenceSession(path, disabled_optimizers=[\"SkipLayerNormFusion\"])`. Both with "
             f"intra_op_num_threads={s.threads}, sequential. Why: docs/ort-skiplayernorm.md.", "",
             f"Graph after onnxruntime's optimizer (full model, fp32): default {meta['ops']['default']}; "
             f"shipped {meta['ops']['artifact']}. Largest logit difference default vs shipped: "
             f"fp32 {meta['max_diff'].get('onnx', float('nan')):.2g}, int8 {meta['max_diff'].get('onnx-int8', float('nan')):.2g}; "
             f"export check vs torch (shipped session): fp32 max {meta['max_err_fp32']:.2g} (tolerance 1e-4), "
             f"int8 max {meta['max_err_int8']:.2g} (each within its own bound 0.05 x (1 + max|logit|)).", "",
             "Fidelity = (full model's median / sub-network's median, same session and format) x FLOPs ratio "
             "(FLOPs with attention); 1.0 = latency scales exactly with FLOPs.", "",
             t.to_markdown(index=False, floatfmt=".3f"), "",
             f"fp32, shipped: {int((eligible.fidelity_shipped >= 0.9).sum())} of {len(eligible)} sub-networks with "
             f">= 25% of the full model's FLOPs reach fidelity >= 0.90 (default session: "
             f"{int((eligible.fidelity_default >= 0.9).sum())}); the smallest ({smallest.subnet_id}, FLOPs ratio "
             f"{smallest.flops_ratio:.3f}) reaches {smallest.fidelity_shipped:.2f} (default {smallest.fidelity_default:.2f})."]
    if "hf_reference_ms" in meta:
        full = t[(t.subnet_id == FULL) & (t.format == "onnx")].iloc[0]
        lines += ["", f"Full model vs transformers' own model class exported by torch.onnx (default session, same "
                      f"interleaved run): {meta['hf_reference_ms']:.2f} ms; this export, shipped session "
                      f"{full.shipped_ms:.2f} ms (ratio {full.shipped_ms / meta['hf_reference_ms']:.3f}), default "
                      f"session {full.default_ms:.2f} ms (ratio {full.default_ms / meta['hf_reference_ms']:.3f})."]
    cmd = (f"python -m recipes.ort_session_report --model {s.model} --seq-len {s.seq_len} --threads {s.threads} "
           f"--rounds {s.rounds} --runs-per-round {s.runs_per_round}" + (" --hf-reference" if s.hf_reference else ""))
    return lines + ["", "Command:", "```", cmd + " --out reports/minilm-cpu", "```",
                    "Per-cell session options and medians: ort-session.json; the table: ort-session.csv."]


def main(argv: list[str] | None = None) -> int:
    import onnxruntime

    ap = argparse.ArgumentParser(prog="python -m recipes.ort_session_report", description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="minilm-l6")
    ap.add_argument("--seq-len", type=int, default=128)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--runs-per-round", type=int, default=3)
    ap.add_argument("--hf-reference", action="store_true")
    ap.add_argument("--out", default="reports/minilm-cpu")
    a = ap.parse_args(argv)
    s = Settings(a.model, a.seq_len, a.threads, rounds=a.rounds, runs_per_round=a.runs_per_round,
                 hf_reference=a.hf_reference)
    cells, metas, model = build_cells(s)
    ref = hf_reference_cell(model, s, Path(cells[0].path).parent.parent) if s.hf_reference else None
    full_fp32 = next(c.path for c in cells if c.label == f"{FULL}|onnx")
    extra = {"onnxruntime": f"onnxruntime {onnxruntime.__version__}",
             "ops": {m: fused_op_counts(full_fp32, m) for m in MODES},
             "max_err_fp32": max(m["max_abs_err"] for (_, f), m in metas.items() if f == "onnx"),
             "max_err_int8": max(m["max_abs_err"] for (_, f), m in metas.items() if f == "onnx-int8")}
    timed = cells + ([ref] if ref else [])
    diffs = measure_interleaved(timed, s.seq_len, s.threads, s.rounds, s.runs_per_round, s.warmup)
    by_path = {c.path: c.label.split("|")[1] for c in cells}
    extra["max_diff"] = {f: max(d for p, d in diffs.items() if by_path[p] == f) for f in s.formats}
    if ref:
        extra["hf_reference_ms"] = ref.median_ms
    print(write(Path(a.out), s, table(cells, model, s), timed, extra))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
