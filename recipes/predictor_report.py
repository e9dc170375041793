"""reports/sst2-minilm/search/: the latency predictor's held-out error on measured per-layer sub-networks.

`python -m recipes.predictor_report --records reports/sst2-minilm/search/predictor-records.jsonl
 --out reports/sst2-minilm/search --weights "minilm-l6 preset"`
Fits bench.predictor on a seeded 70% of the measured configurations, scores every model (and the one chosen by
cross-validation) on the other 30%, and writes summary.json, predictor-error.png and README.md; prose from the
records and settings, never literals.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

from bench import predictor as pred
from dynabert import records


def error_figure(train, held, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    chosen, _ = pred.choose(train)
    measured = [p.value for p in held]
    fig, ax = plt.subplots(figsize=(5, 5))
    for model, marker in ((chosen, "o"), (pred.Predictor("flops").fit(train), "x")):
        ax.scatter(measured, model.predict(held), marker=marker, label=f"{model.kind}")
    lo, hi = min(measured) * 0.8, max(measured) * 1.2
    ax.plot([lo, hi], [lo, hi], "k-", lw=0.8)
    ax.fill_between([lo, hi], [lo * 0.9, hi * 0.9], [lo * 1.1, hi * 1.1], color="grey", alpha=0.2, label="+-10%")
    ax.set(xlabel="measured median latency (ms)", ylabel="predicted (ms)", title=title, xlim=(lo, hi), ylim=(lo, hi))
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def fastest_process(recs: list) -> list:
    """The records with latency_ms_p50 replaced by the fastest fresh process's median (env.process_medians_ms):
    a diagnostic of how much of the error is the shared machine's contention rather than the model."""
    return [replace(r, latency_ms_p50=min(r.env["process_medians_ms"])) if r.env.get("process_medians_ms") else r
            for r in recs]


def spread(recs: list) -> dict:
    """How far the fresh processes of one cell disagree: slowest / fastest process median, over the cells."""
    ratios = sorted(max(m) / min(m) for r in recs if len(m := r.env.get("process_medians_ms") or []) > 1)
    if not ratios:
        return {}
    return {"cells": len(ratios), "median_ratio": ratios[len(ratios) // 2], "max_ratio": ratios[-1],
            "share_over_1_2": sum(x > 1.2 for x in ratios) / len(ratios)}


def summary(recs, args) -> tuple[dict, list, list]:
    pts = pred.points(recs, args.device, args.runtime, args.threads, args.seq_len)
    train, held = pred.split(pts, 0.3, args.seed)
    rep = pred.report(train, held, (5, 10, 15, 20, 25, 30, 40))
    fast = pred.points(fastest_process(recs), args.device, args.runtime, args.threads, args.seq_len)
    fast_train, fast_held = pred.split(fast, 0.3, args.seed)
    chosen = rep["models"][rep["chosen"]]
    ok = [r for r in recs if r.kind == "latency" and r.status == "ok" and r.device == args.device]
    return {"status": "preliminary", "weights": args.weights, "machine": ok[0].cpu_model,
            "machine_fingerprint": ok[0].machine_fingerprint, "seed": args.seed, "process_spread": spread(ok),
            "predictor": [{"device": args.device, "runtime": args.runtime, "threads": args.threads,
                           "seq_len": args.seq_len, "model": rep["chosen"], "n_train": rep["n_train"],
                           "n_heldout": rep["n_heldout"], "mape": chosen["mape"] / 100,
                           "within_10pct": chosen["within_10pct"], "spearman": chosen["spearman"]}],
            "models": rep["models"], "cv_mape": rep["cv_mape"], "learning_curve": rep["learning_curve"],
            "diagnostic_fastest_process": pred.report(fast_train, fast_held)["models"], "budgets": []}, train, held


def model_rows(models: dict, chosen: str | None = None) -> list[str]:
    return [f"| {k}{' (chosen)' if k == chosen else ''} | {m['mape']:.2f}% | {m['within_10pct']:.0%} | "
            f"{m['within_5pct']:.0%} | {m['spearman']:.3f} |" for k, m in models.items()]


def readme(s: dict, args) -> str:
    p, sp = s["predictor"][0], s["process_spread"]
    curve = [f"| {r['n_train']} | {r['chosen']} | {r['mape']:.2f}% | {r['within_10pct']:.0%} | {r['spearman']:.3f} |"
             for r in s["learning_curve"]]
    head = "| model | MAPE | within +-10% | within +-5% | Spearman |\n|---|---|---|---|---|"
    noise = (f"The fresh processes of one cell disagreed: slowest / fastest process median {sp['median_ratio']:.2f}x "
             f"at the median cell, up to {sp['max_ratio']:.2f}x, over 1.2x in {sp['share_over_1_2']:.0%} of "
             f"{sp['cells']} cells." if sp else "")
    return "\n".join([
        "# Latency predictor for per-layer sub-networks (PRELIMINARY)", "",
        f"**Preliminary:** measured on the `{s['weights']}` weights, not the SST-2 reference checkpoint (latency does "
        f"not depend on the trained weights; the budgeted search's accuracy does, and waits for that checkpoint). "
        f"`budgets` in summary.json is empty until then. The targets (>= 90% within 10%, Spearman >= 0.95) are "
        f"judged on the reference checkpoint's run, on a quiet machine.", "",
        f"{p['n_train'] + p['n_heldout']} sub-networks (random per-layer ones and the 12 grid points) measured on "
        f"{s['machine']} [{s['machine_fingerprint']}], {p['runtime']}, {p['threads']} thread(s), batch 1, seq "
        f"{p['seq_len']}: median of each sub-network's timed runs, pooled over its fresh processes ({args.note}). "
        f"{noise} Fitted on {p['n_train']} (seeded random split, seed {s['seed']}), scored on the {p['n_heldout']} "
        f"held out:", "", head, *model_rows(s["models"], p["model"]), "",
        "`flops` is the FLOPs-proportional baseline; `linear` a fixed part plus per-layer terms in heads and FFN "
        "neurons; `lookup` a fixed part plus a per-layer cost per heads value and per FFN value. The chosen model is "
        "the one with the lowest cross-validated MAPE on the training points. Error plot: "
        "[predictor-error.png](predictor-error.png).", "",
        "Diagnostic, the same split with each sub-network's *fastest* process median as its latency instead of the "
        "pooled median:", "", head,
        *model_rows(s["diagnostic_fastest_process"]), "",
        "Held-out error against the number of measured training points (the first n of the training split):", "",
        "| n train | chosen | MAPE | within +-10% | Spearman |", "|---|---|---|---|---|", *curve, "",
        "Commands:", "", "```bash", *args.commands, f"python -m recipes.predictor_report --records "
        f"{' --records '.join(Path(r).as_posix() for r in args.records)} --out {Path(args.out).as_posix()} --weights \"{args.weights}\"", "```", ""])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m recipes.predictor_report", description=__doc__.splitlines()[0])
    ap.add_argument("--records", action="append", required=True, help="latency records (repeatable)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--weights", required=True, help="what weights were measured (said in the report)")
    ap.add_argument("--device", default="local-cpu")
    ap.add_argument("--runtime", default="onnxruntime")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seq-len", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--note", default="machine load as it was", help="how the measurement was taken (load, windows)")
    ap.add_argument("--commands", action="append", default=[], help="the commands that measured the records")
    args = ap.parse_args(argv)
    recs = [r for path in args.records for r in records.read(path)]
    s, train, held = summary(recs, args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(s, indent=1) + "\n")
    error_figure(train, held, out / "predictor-error.png", f"held out, {args.runtime} t{args.threads} seq {args.seq_len}")
    (out / "README.md").write_text(readme(s, args))
    print(f"-> {out / 'README.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
