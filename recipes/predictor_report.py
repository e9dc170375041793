"""reports/sst2-minilm/search/: the latency predictor's held-out error on measured per-layer sub-networks.

`python -m recipes.predictor_report --records reports/sst2-minilm/search/predictor-records-cpu.jsonl
 --out reports/sst2-minilm/search --weights "minilm-l6 preset"`
One predictor per (device, runtime, threads, seq) group of ok records (timed latency, or emulated-ARM instruction
counts): fits bench.predictor on a seeded 70% of the measured configurations, scores every model (and the one
chosen by cross-validation) on the other 30%. With --search (a `bench.pareto search` search.json) its budgets go
into summary.json and the README. Writes summary.json (issue 17's shape), predictor-error*.png and README.md; prose
from the records and settings, never literals.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import statistics
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import argfields
import records
from argfields import option
from bench import predictor as pred
from bench.report import portable_command


def error_figure(train, held, path: Path, title: str, unit: str = "ms") -> None:
    """Predicted against measured on the held-out points, log-log (the +-10% band has one width everywhere): the
    chosen model, and the FLOPs baseline (or, when FLOPs is the chosen one, the best per-layer model)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    chosen, cv = pred.choose(train)
    other = "flops" if chosen.kind != "flops" else min((k for k in cv if k != "flops"), key=cv.get)
    measured = [p.value for p in held]
    fig, ax = plt.subplots(figsize=(5, 5))
    for model, marker, role in (
        (chosen, "o", "chosen"),
        (pred.Predictor(other).fit(train), "x", "baseline" if other == "flops" else "not chosen"),
    ):
        ax.scatter(measured, model.predict(held), marker=marker, label=f"{model.kind} ({role})")
    lo, hi = min(measured) * 0.8, max(measured) * 1.25
    ax.plot([lo, hi], [lo, hi], "k-", lw=0.8)
    ax.fill_between(
        [lo, hi], [lo * 0.9, hi * 0.9], [lo * 1.1, hi * 1.1], color="grey", alpha=0.2, label="±10%"
    )
    what = "median latency (ms)" if unit == "ms" else "guest instructions per inference"
    ax.set(
        xscale="log",
        yscale="log",
        xlabel=f"measured {what}",
        ylabel=f"predicted {what}",
        title=title,
        xlim=(lo, hi),
        ylim=(lo, hi),
    )
    for axis in (
        ax.xaxis,
        ax.yaxis,
    ):  # plain decimals (0.03, 12), not 3x10^-2, on both the major and minor ticks
        axis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:.4g}"))
        axis.set_minor_formatter(
            matplotlib.ticker.FuncFormatter(
                lambda v, _: f"{v:.4g}" if f"{v:.4g}"[0] in "2468" else ""
            )
        )
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def fastest_process(recs: list) -> list:
    """The records with latency_ms_p50 replaced by the fastest fresh process's median (env.process_medians_ms):
    a diagnostic of how much of the error is the shared machine's contention rather than the model."""
    return [
        replace(r, latency_ms_p50=min(r.env["process_medians_ms"]))
        if r.env.get("process_medians_ms")
        else r
        for r in recs
    ]


def spread(recs: list) -> dict:
    """How far the fresh processes of one cell disagree: slowest / fastest process median, over the cells."""
    ratios = sorted(
        max(m) / min(m) for r in recs if len(m := r.env.get("process_medians_ms") or []) > 1
    )
    if not ratios:
        return {}
    return {
        "cells": len(ratios),
        "median_ratio": statistics.median(ratios),
        "max_ratio": ratios[-1],
        "share_over_1_2": sum(x > 1.2 for x in ratios) / len(ratios),
    }


def groups(recs: list, opts: PredictorReportOptions) -> list[tuple[str, str, int, int, int]]:
    """(device, runtime, threads, seq_len, params_total) of every group of ok DynaBERT latency records that the
    --device / --runtime / --threads / --seq-len filters keep, timed groups first (one predictor per machine's
    architecture and setting: records of two models or settings are never pooled)."""
    keys = {
        (r.device, r.runtime, r.threads, r.seq_len, r.params_total or 0): bool(
            r.instructions_per_inference
        )
        for r in recs
        if r.kind == "latency" and r.status == "ok" and r.family == "dynabert"
    }
    wanted = (opts.device, opts.runtime, opts.threads, opts.seq_len)
    keys = {k: v for k, v in keys.items() if all(w is None or w == x for w, x in zip(wanted, k))}
    return sorted(keys, key=lambda k: (keys[k], k))


def group_summary(
    recs: list, key: tuple, seed: int, machine: str | None = None
) -> tuple[dict, list, list]:
    """One predictor entry (the issue's fields, plus the models' table, CV, learning curve and the record spread),
    and its train / held-out points."""
    device, runtime, threads, seq_len, params_total = key
    recs = [r for r in recs if machine is None or r.machine_fingerprint == machine]
    pts = pred.points(recs, device, runtime, threads, seq_len, params_total or None)
    train, held = pred.split_to_fit(pts, 0.3, seed)
    rep = pred.report(train, held, (5, 10, 15, 20, 25, 30, 40))
    chosen = rep["models"][rep["chosen"]]
    mine = [
        r
        for r in recs
        if (r.device, r.runtime, r.threads, r.seq_len, r.params_total or 0) == key
        and r.status == "ok"
        and r.kind == "latency"
        and r.family == "dynabert"
    ]
    counted = bool(mine[0].instructions_per_inference)
    entry = {
        "device": device,
        "runtime": runtime,
        "threads": threads,
        "seq_len": seq_len,
        "value": "instructions_per_inference" if counted else "latency_ms_p50",
        "model": rep["chosen"],
        "params_total": params_total,
        "n_train": rep["n_train"],
        "n_heldout": rep["n_heldout"],
        "mape": chosen["mape"],
        "within_10pct": chosen["within_10pct"],
        "within_5pct": chosen["within_5pct"],
        "spearman": chosen["spearman"],
        "machine": mine[0].cpu_model,
        "machine_fingerprint": mine[0].machine_fingerprint,
        "models": rep["models"],
        "cv_mape": rep["cv_mape"],
        "learning_curve": rep["learning_curve"],
    }
    if not counted:
        fast = pred.points(
            fastest_process(recs), device, runtime, threads, seq_len, params_total or None
        )
        entry["process_spread"] = spread(mine)
        entry["diagnostic_fastest_process"] = pred.report(*pred.split(fast, 0.3, seed))["models"]
    return entry, train, held


def summary(recs, opts: PredictorReportOptions) -> tuple[dict, dict]:
    """summary.json (issue 17's shape: `predictor` a list, `budgets` from --search) and each group's points. A group
    that cannot be fitted (too few points, several machines) is skipped with its reason, said on stderr and kept in
    summary.json's `skipped`."""
    entries, pts, skipped = [], {}, []
    found = groups(recs, argparse.Namespace(device=None, runtime=None, threads=None, seq_len=None))
    for key in groups(recs, opts):
        try:
            entry, train, held = group_summary(recs, key, opts.seed, opts.machine)
        except ValueError as err:
            skipped.append({"group": list(key), "reason": str(err)})
            print(f"skipped {key_label(key)}: {err}", file=sys.stderr)
            continue
        entries.append(entry)
        pts[key] = (train, held)
    if not entries:
        raise ValueError(
            f"no group of ok DynaBERT latency records in {', '.join(opts.records)} could be fitted"
            + (f" ({len(skipped)} skipped, reasons above)" if skipped else "")
            + "; groups in the "
            f"records: {'; '.join(map(key_label, found)) or 'none'}"
        )
    search = load_search(opts.search, entries) if opts.search else None
    return {
        "status": "preliminary" if opts.preliminary else "measured",
        "weights": opts.weights,
        "seed": opts.seed,
        "predictor": entries,
        "skipped": skipped,
        "search": {k: v for k, v in (search or {}).items() if k != "budgets"} or None,
        "budgets": search["budgets"] if search else [],
    }, pts


def key_label(key: tuple) -> str:
    device, runtime, threads, seq_len, params_total = key
    return f"{device} / {runtime} / {threads} thread(s) / seq {seq_len} / {params_total:,} params"


def figure_name(key: tuple, keys: list[tuple]) -> str:
    """predictor-error[-DEVICE].png (local-cpu unnamed), the rest of the key added when the device has several
    groups, so no two groups' figures overwrite each other."""
    device, runtime, threads, seq_len, params_total = key
    name = "predictor-error" + ("" if device == "local-cpu" else f"-{device}")
    if sum(k[0] == device for k in keys) > 1:
        name += f"-{runtime}-t{threads}-seq{seq_len}-p{params_total}"
    return name + ".png"


NUM, TEXT, ANY = "a number", "text", "any value"  # the kinds of value a search.json field holds
SEARCH_FIELDS = {
    "checkpoint": (TEXT, False),
    "checkpoint_sha": (TEXT, False),
    "split": (TEXT, False),
    "device": (TEXT, False),
    "runtime": (TEXT, False),
    "threads": (NUM, False),
    "seq_len": (NUM, False),
    "machine_fingerprint": (TEXT, True),
    "search_examples": (NUM, False),
}
GRID_FIELDS = {"subnet": (TEXT, False), "accuracy": (NUM, True), "measured_ms": (NUM, True)}
BUDGET_FIELDS = {
    "latency_budget_ms": (NUM, False),
    "grid_best_subnet": (TEXT, True),
    "grid_best_accuracy": (NUM, True),
    "grid_best_latency_measured_ms": (NUM, True),
    "searched_subnet": (TEXT, True),
    "searched_accuracy": (NUM, True),
    "searched_latency_measured_ms": (NUM, True),
    "searched_latency_predicted_ms": (NUM, True),
    "config": (ANY, True),
}
CALIBRATION_FIELDS = {
    "round": (NUM, False),
    "scale": (NUM, False),
    "offset_ms": (NUM, False),
    "n": (NUM, False),
    "mape_before": (NUM, False),
    "mape_after": (NUM, False),
}
ANSWER_FIELDS = {
    "answer_subnet": (TEXT, True),
    "answer_accuracy": (NUM, True),
    "answer_latency_measured_ms": (NUM, True),
}  # optional: a search.json from before answers has none
PAIRED = (
    ("grid_best_subnet", ("grid_best_accuracy", "grid_best_latency_measured_ms")),
    ("searched_subnet", ("searched_accuracy", "searched_latency_measured_ms")),
    ("answer_subnet", ("answer_accuracy", "answer_latency_measured_ms", "answer_from")),
)
CANDIDATE_FIELDS = {
    "subnet": (TEXT, False),
    "subset_accuracy": (NUM, True),
    "predicted_ms": (NUM, True),
    "accuracy": (NUM, True),
    "measured_ms": (NUM, True),
}


def field_problems(item, where: str, fields: dict) -> list[str]:
    """What is wrong with one object of a search.json against `fields` ({key: (kind, null allowed)}): each missing
    key or value of the wrong kind, named as WHERE.KEY (a number is finite and not a boolean)."""
    if not isinstance(item, dict):
        return [f"{where} is {json.dumps(item)[:40]}, not an object"]
    out = []
    for key, (kind, nullable) in fields.items():
        v = item.get(key)
        if key not in item:
            out.append(f"no {where}.{key}")
        elif v is None and nullable or kind == ANY:
            continue
        elif (
            kind == NUM
            and not (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v))
            or kind == TEXT
            and not isinstance(v, str)
        ):
            out.append(
                f"{where}.{key} is {json.dumps(v)[:40]}, not {kind}{' or null' if nullable else ''}"
            )
    return out


def answer_problems(b, where: str) -> list[str]:
    """A budget row's optional answer fields, and each pick named with its accuracy and latency (a row naming a
    sub-network with a null accuracy cannot be drawn or compared)."""
    if not isinstance(b, dict):
        return []
    out = field_problems(b, where, {k: v for k, v in ANSWER_FIELDS.items() if k in b})
    if b.get("answer_from") not in (None, "search", "grid"):
        out.append(
            f'{where}.answer_from is {json.dumps(b["answer_from"])[:40]}, not "search", "grid" or null'
        )
    for name, needs in PAIRED:
        if b.get(name) is not None:
            out += [
                f"{where}.{name} is set but {where}.{k} is null" for k in needs if b.get(k) is None
            ]
    return out


def run_problems(s: dict) -> list[str]:
    """The optional run fields (a search.json from before they existed has none): rounds a whole number >= 1;
    calibration a list of entries with their keys, in range; measured_utc null or two non-empty, ordered UTC times;
    command one line of text (it is shown in a code block)."""
    out = []
    if s.get("calibration") is not None and not isinstance(s["calibration"], list):
        out.append("search.calibration is not a list")
    for i, c in enumerate(s["calibration"] if isinstance(s.get("calibration"), list) else []):
        out += field_problems(c, f"calibration[{i}]", CALIBRATION_FIELDS)
    for key in ("rounds", "timed_round"):
        r = s.get(key)
        if key in s and not (isinstance(r, int) and not isinstance(r, bool) and r >= 1):
            out.append(f"search.{key} is {json.dumps(r)[:40]}, not a whole number >= 1")
    for i, c in enumerate(s["calibration"] if isinstance(s.get("calibration"), list) else []):
        if isinstance(c, dict) and not field_problems(c, "c", CALIBRATION_FIELDS):
            if not (
                c["scale"] > 0
                and c["n"] >= 1
                and c["round"] >= 0
                and c["mape_before"] >= 0
                and c["mape_after"] >= 0
                and float(c["n"]).is_integer()
                and float(c["round"]).is_integer()
            ):
                out.append(
                    f"calibration[{i}] is out of range (scale > 0, whole n >= 1 and round >= 0, MAPEs >= 0)"
                )
    mu = s.get("measured_utc")
    if mu is not None and not (
        isinstance(mu, list)
        and len(mu) == 2
        and all(isinstance(t, str) for t in mu)
        and mu[0]
        and mu[0] <= mu[1]
    ):
        out.append(
            f"search.measured_utc is {json.dumps(mu)[:60]}, not [first, last] UTC times in order, or null"
        )
    cmd = s.get("command")
    if cmd is not None and not (isinstance(cmd, str) and "\n" not in cmd and "`" not in cmd):
        out.append("search.command is not one line of text without backticks")
    return out


def search_problems(s) -> list[str]:
    """Every missing key or mistyped value of a search.json: top level, each grid entry, each budget row and each
    of its candidates (bench/search_run.py run() writes them)."""
    if not isinstance(s, dict):
        return [f"a JSON {type(s).__name__}, not a search.json object"]
    out = field_problems(s, "search", SEARCH_FIELDS)
    for key in ("grid", "budgets"):
        if key in s and not isinstance(s[key], list) or key == "budgets" and key not in s:
            out.append(f"search.{key} is not a list" if key in s else f"no search.{key}")
    for i, g in enumerate(s.get("grid") or [] if isinstance(s.get("grid"), list) else []):
        out += field_problems(g, f"grid[{i}]", GRID_FIELDS)
    out += run_problems(s)
    for i, b in enumerate(s["budgets"] if isinstance(s.get("budgets"), list) else []):
        out += field_problems(b, f"budgets[{i}]", {**BUDGET_FIELDS, "candidates": (ANY, False)})
        out += answer_problems(b, f"budgets[{i}]")
        cands = b.get("candidates") if isinstance(b, dict) else None
        if isinstance(b, dict) and "candidates" in b and not isinstance(cands, list):
            out.append(f"budgets[{i}].candidates is not a list")
        for j, c in enumerate(cands if isinstance(cands, list) else []):
            out += field_problems(c, f"budgets[{i}].candidates[{j}]", CANDIDATE_FIELDS)
    return out


def load_search(path: str, entries: list[dict]) -> dict:
    """A `bench.pareto search` search.json, checked before anything is written: every key and value type
    (search_problems), and that its latency (device, runtime, threads, seq, machine) is one of the fitted
    predictors'. ValueError naming the file, the item and the key."""
    try:
        s = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(
            f"--search {path!r} cannot be read as a search.json ({err}); give the file `python -m "
            "bench.pareto search` wrote"
        ) from None
    problems = search_problems(s)
    if problems:
        more = f" (and {len(problems) - 6} more)" if len(problems) > 6 else ""
        raise ValueError(
            f"--search {path!r} is not a bench.pareto search result: {'; '.join(problems[:6])}{more}; "
            "give the search.json that `python -m bench.pareto search` wrote, or mend those keys"
        )
    where = (s["device"], s["runtime"], s["threads"], s["seq_len"], s["machine_fingerprint"])
    fitted = [
        (e["device"], e["runtime"], e["threads"], e["seq_len"], e["machine_fingerprint"])
        for e in entries
    ]
    if where not in fitted:
        raise ValueError(
            f"--search {path!r} measured on {' / '.join(map(str, where))}, which none of the fitted "
            f"predictors describes ({'; '.join(' / '.join(map(str, f)) for f in fitted)}): report it "
            "with the records of that device, setting and machine"
        )
    return s


def model_rows(models: dict, chosen: str | None = None) -> list[str]:
    return [
        f"| {k}{' (chosen)' if k == chosen else ''} | {m['mape']:.2%} | {m['within_10pct']:.0%} | "
        f"{m['within_5pct']:.0%} | {pred.fmt_rho(m['spearman'])} |"
        for k, m in models.items()
    ]


HEAD = "| model | MAPE | within +-10% | within +-5% | Spearman |\n|---|---|---|---|---|"


def group_lines(e: dict, note: str, figure: str) -> list[str]:
    """The README section of one (device, runtime) predictor."""
    counted = e["value"] == "instructions_per_inference"
    what = (
        "emulated guest instructions per inference (a count, not time; deterministic)"
        if counted
        else "median latency of each sub-network's timed runs, pooled over its fresh processes"
    )
    sp = e.get("process_spread") or {}
    noise = (
        f" The fresh processes of one cell disagreed: slowest / fastest process median {sp['median_ratio']:.2f}x "
        f"at the median cell, up to {sp['max_ratio']:.2f}x, over 1.2x in {sp['share_over_1_2']:.0%} of "
        f"{sp['cells']} cells."
        if sp
        else ""
    )
    curve = [
        f"| {r['n_train']} | {r['chosen']} | {r['mape']:.2%} | {r['within_10pct']:.0%} | "
        f"{pred.fmt_rho(r['spearman'])} |"
        for r in e["learning_curve"]
    ]
    lines = [
        f"## {e['device']} / {e['runtime']}, {e['threads']} thread(s), batch 1, seq {e['seq_len']}",
        "",
        f"{e['n_train'] + e['n_heldout']} sub-networks (random per-layer ones and grid points) measured on "
        f"{e['machine']} [{e['machine_fingerprint']}]: {what}{'' if counted else f' ({note})'}.{noise} Fitted on "
        f"{e['n_train']} (seeded random split), scored on the {e['n_heldout']} held out:",
        "",
        HEAD,
        *model_rows(e["models"], e["model"]),
        "",
        f"Error plot: [{figure}]({figure}).",
        "",
    ]
    if e.get("diagnostic_fastest_process"):
        lines += [
            "Diagnostic, the same split with each sub-network's *fastest* process median as its latency:",
            "",
            HEAD,
            *model_rows(e["diagnostic_fastest_process"]),
            "",
        ]
    return lines + [
        "Held-out error against the number of measured training points (the first n of the training "
        "split):",
        "",
        "| n train | chosen | MAPE | within +-10% | Spearman |",
        "|---|---|---|---|---|",
        *curve,
        "",
    ]


def budget_lines(s: dict) -> list[str]:
    """The search section: every budget tried, the measured answer beside the best measured grid point."""
    if not s["budgets"]:
        return [
            "## Search under a latency budget",
            "",
            "Not run yet (`budgets` in summary.json is empty).",
            "",
        ]
    q = s["search"]
    rows = []
    for b in s["budgets"]:
        gain = (
            f"{100 * (b['searched_accuracy'] - b['grid_best_accuracy']):+.2f}"
            if b.get("searched_accuracy") is not None and b.get("grid_best_accuracy") is not None
            else "n/a"
        )
        rows.append(
            f"| {b['latency_budget_ms']:g} | {b.get('grid_best_subnet') or 'none fits'} | "
            f"{fmt(b.get('grid_best_accuracy'), 100, '.2f')} | {ms(b.get('grid_best_latency_measured_ms'))} | "
            f"{b.get('searched_subnet') or 'none fits'} | {fmt(b.get('searched_accuracy'), 100, '.2f')} | "
            f"{ms(b.get('searched_latency_measured_ms'))} | {gain} | {b.get('answer_from') or 'n/a'} |"
        )
    return [
        "## Search under a latency budget",
        "",
        f"Checkpoint `{q['checkpoint']}` (weights sha {q['checkpoint_sha']}), accuracy on {q['split']} at seq "
        f"{q['seq_len']} (the search scores candidates on {q['search_examples']} dev examples, the finals on all "
        f"of them); latency, batch 1, "
        f"measured on {q['device']} / {q['runtime']}, {q['threads']} thread(s), seq {q['seq_len']} "
        f"[{q['machine_fingerprint']}]. Every budget tried:",
        "",
        "| budget (ms) | best grid | acc (%) | measured (ms) | searched | acc (%) | measured (ms) | gain (pt) | "
        "answer |",
        "|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        "`searched`: the most accurate of the "
        "search's candidates whose measured latency fits; `gain`: its accuracy minus the best grid point's under "
        "the same budget, from the unrounded accuracies (negative: a loss). `answer`: what the command answers, "
        "the more accurate of the two.",
        "",
        *fragile_lines(s["budgets"]),
        *timing_lines(q),
        *(
            [
                "Dotted lines: the budgets. Searched "
                "front against the grid front: [search-front.png](search-front.png).",
                "",
            ]
            if s.get("_front")
            else []
        ),
    ]


def fragile_lines(budgets: list[dict]) -> list[str]:
    """A sentence per budget whose answer fits on its pooled median while some fresh-process medians do not."""
    out = []
    for b in budgets:
        meds = b.get("answer_process_medians_ms")
        if isinstance(meds, list) and all(isinstance(m, (int, float)) for m in meds) and meds:
            over = sum(m > b["latency_budget_ms"] for m in meds)
            if over:
                out.append(
                    f"At {b['latency_budget_ms']:g} ms the answer's fresh-process medians were "
                    f"{', '.join(ms(m) for m in meds)} ms: {over} of {len(meds)} over the budget; the median of "
                    "the pooled runs fits."
                )
    return [" ".join(out), ""] if out else []


def timing_lines(q: dict) -> list[str]:
    """When the table's latencies were timed, and how the predictor was moved to the machine's speed then (search.json
    from before calibration existed has neither: nothing said)."""
    out = []
    if q.get("measured_utc"):
        out.append(
            f"The grid and every searched candidate in the table were timed in one sweep, "
            f"{q['measured_utc'][0]} to {q['measured_utc'][1]} (round {q.get('timed_round', q.get('rounds', 1))} of "
            f"{q.get('rounds', 1)} search round(s))."
        )
    if q.get("processes") is not None and q.get("min_time_s") is not None:
        load = q.get("load_avg_1min")
        out.append(
            f"Each cell: {q['processes']} fresh process(es), >= {q['min_time_s']:g} s of timed runs each after "
            "warm-ups, the median of the pooled runs"
            + (
                f"; 1-min load average {load[0]:.2f}-{load[1]:.2f} as the cells finished"
                if load
                else ""
            )
            + "."
        )
    for c in q.get("calibration") or []:
        on = (
            "the grid, timed just before the search"
            if c["round"] == 0
            else f"round {c['round']}'s sweep"
        )
        if isinstance(c.get("measured_utc"), list) and len(c["measured_utc"]) == 2:
            on += f" ({c['measured_utc'][0]} to {c['measured_utc'][1]})"
        out.append(
            f"Calibration on {on}: measured = {c['scale']:.3g} x predicted {c['offset_ms']:+.3g} ms "
            f"({c['n']} sub-networks; the predictor's MAPE on them {100 * c['mape_before']:.1f}% before, "
            f"{100 * c['mape_after']:.1f}% after)."
        )
    out = [" ".join(out), ""] if out else []
    if isinstance(q.get("predictor"), dict) and q["predictor"].get("kind"):
        out += [
            f"The search's own latency predictor: `{q['predictor']['kind']}`, fitted on all "
            f"{q['predictor'].get('n_train', '?')} measured sub-networks (chosen by cross-validated MAPE; the tables "
            "above fit on the training split only).",
            "",
        ]
    if isinstance(q.get("command"), str):
        out += [
            "The search command, as run (paths relative to the folder it ran in):",
            "```bash",
            q["command"],
            "```",
            "",
        ]
    return out


def front_figure(s: dict, path: Path) -> bool:
    """search-front.png: dev accuracy against measured latency, the grid points (and their front) beside every
    searched candidate measured and each budget's answer; False when search.json has no grid or budgets."""
    grid = [
        g
        for g in (s["search"] or {}).get("grid", [])
        if g["accuracy"] is not None and g["measured_ms"]
    ]
    if not grid or not s["budgets"]:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    grid.sort(key=lambda g: g["measured_ms"])
    front, best = [], -1.0
    for g in grid:
        if g["accuracy"] > best:
            front.append(g)
            best = g["accuracy"]
    ax.scatter(
        [g["measured_ms"] for g in grid],
        [100 * g["accuracy"] for g in grid],
        color="C0",
        label=f"grid ({len(grid)})",
    )
    ax.step(
        [g["measured_ms"] for g in front],
        [100 * g["accuracy"] for g in front],
        where="post",
        color="C0",
        lw=1,
    )
    cands = [
        c
        for b in s["budgets"]
        for c in b["candidates"]
        if c["accuracy"] is not None and c["measured_ms"]
    ]
    ax.scatter(
        [c["measured_ms"] for c in cands],
        [100 * c["accuracy"] for c in cands],
        marker="x",
        color="C1",
        alpha=0.6,
        label="searched candidates (measured)",
    )
    picks = [
        b
        for b in s["budgets"]
        if b["searched_subnet"]
        and b["searched_accuracy"] is not None
        and b["searched_latency_measured_ms"] is not None
    ]
    ax.scatter(
        [b["searched_latency_measured_ms"] for b in picks],
        [100 * b["searched_accuracy"] for b in picks],
        marker="*",
        s=160,
        color="C3",
        zorder=3,
        label="searched: best measured candidate per budget",
    )
    for b in s["budgets"]:
        ax.axvline(b["latency_budget_ms"], color="grey", ls=":", lw=0.8)
        ax.annotate(
            f"{b['latency_budget_ms']:g} ms",
            (b["latency_budget_ms"], 1),
            xycoords=("data", "axes fraction"),
            xytext=(2, -10),
            textcoords="offset points",
            fontsize=7,
            color="grey",
        )
    q = s["search"]
    ax.margins(y=0.08)
    ax.set(
        xlabel=f"measured p50 latency (ms), {q['device']} / {q['runtime']}, {q['threads']} thread(s), seq "
        f"{q['seq_len']} [{q['machine_fingerprint']}]",
        ylabel=f"accuracy (%), {split_name(q['split'])}",
    )
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def fmt(v, scale: float = 1.0, spec: str = ".2f") -> str:
    return "n/a" if v is None else format(v * scale, spec)


def ms(v) -> str:
    """A latency in ms with 4 significant digits (9.998, not 10.00 beside a 10 ms budget; 0.02885, not 0.03)."""
    return fmt(v, 1.0, "#.4g")


def split_name(label: str) -> str:
    """'dev (../data/SST-2/dev.tsv, 872 examples)' -> 'dev, 872 examples': an axis label holds no file path."""
    m = re.match(r"^(.*?) \((?:.*, )?(\d[\d,]* examples)\)$", label)
    return f"{m.group(1)}, {m.group(2)}" if m else label


def readme(s: dict, opts: PredictorReportOptions, figures: dict) -> str:
    status = "**Preliminary.** " if opts.preliminary else ""
    lines = [
        f"# Latency predictor for per-layer sub-networks{' (PRELIMINARY)' if opts.preliminary else ''}",
        "",
        f"{status}Predictors measured on the `{s['weights']}` weights. An fp32 graph's latency and instruction "
        "count do not depend on its weight values (the same operators, shapes and kernels), so they carry over "
        "to any checkpoint of this architecture; the search's accuracy does depend on the weights and uses the "
        "checkpoint named in its section. `flops` is the FLOPs-proportional baseline; `linear` a fixed part "
        "plus per-layer terms in heads and FFN neurons; `lookup` a fixed part plus a per-layer cost per heads "
        "value and per FFN value; the chosen model has the lowest cross-validated MAPE on the training points.",
        "",
    ]
    for e in s["predictor"]:
        key = (e["device"], e["runtime"], e["threads"], e["seq_len"], e["params_total"])
        lines += group_lines(e, opts.note, figures[key])
    for sk in s["skipped"]:
        lines += [f"Not fitted: {key_label(tuple(sk['group']))}: {sk['reason']}", ""]
    lines += budget_lines(s) + (
        ["**Reading the search table.** " + opts.search_note, ""] if opts.search_note else []
    )
    cmd = portable_command(
        [
            "python",
            "-m",
            "recipes.predictor_report",
            *[a for r in opts.records for a in ("--records", r)],
            "--out",
            opts.out,
            "--weights",
            opts.weights,
            *(["--search", opts.search] if opts.search else []),
        ]
    )
    return "\n".join([*lines, "Commands:", "", "```bash", *opts.commands, cmd, "```", ""])


@dataclass(kw_only=True)
class PredictorReportOptions:
    """`python -m recipes.predictor_report`: its options."""

    records: list[str] = option(help="latency records (repeatable)", group="records")
    out: str = option(help="report folder written (README, summary.json, figures)", group="report")
    weights: str = option(help="what weights were measured (said in the report)", group="report")
    device: str | None = option(
        None,
        help="only this device's groups (default: every group in the records)",
        group="records",
    )
    runtime: str | None = option(None, help="only this runtime's groups", group="records")
    threads: int | None = option(None, help="only groups with this many threads", group="records")
    seq_len: int | None = option(None, help="only groups of this sequence length", group="records")
    machine: str | None = option(
        None,
        help="only records of this machine fingerprint (records of two machines are never pooled)",
        group="records",
    )
    seed: int = option(0, help="seed of the held-out split", group="fit")
    note: str = option(
        "machine load as it was",
        help="how the measurement was taken (load, windows)",
        group="report",
    )
    commands: list[str] = option([], help="the commands that measured the records", group="report")
    search: str | None = option(
        None,
        help="search.json written by `python -m bench.pareto search`: its budgets go into summary.json and the README",
        group="report",
    )
    search_note: str | None = option(
        None,
        help="how to read the search table (caveats, what changed), printed under it",
        group="report",
    )
    preliminary: bool = option(False, help="label the report preliminary", group="report")


def build_parser():
    return argfields.command_parser(
        "python -m recipes.predictor_report",
        "The latency predictor's held-out error on measured per-layer sub-networks -> a report folder.",
        "python -m recipes.predictor_report --records latency.jsonl --out reports/search --weights random",
        PredictorReportOptions,
    )


def main(argv: list[str] | None = None) -> int:
    opts, _ = argfields.parse(build_parser(), argv)
    try:
        out = records.check_out_dir(opts.out, "--out")
        recs = [r for path in opts.records for r in records.read(path)]
        s, pts = summary(recs, opts)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(s, indent=1) + "\n")
    figures = {}
    for (key, (train, held)), e in zip(pts.items(), s["predictor"]):
        device, runtime, threads, seq_len, _ = key
        name = figure_name(key, list(pts))
        unit = "instructions" if e["value"] == "instructions_per_inference" else "ms"
        error_figure(
            train,
            held,
            out / name,
            f"held out: {device} {runtime} t{threads} seq {seq_len}\n"
            f"machine {e['machine_fingerprint']}",
            unit,
        )
        figures[key] = name
    s["_front"] = front_figure(s, out / "search-front.png")
    (out / "README.md").write_text(readme(s, opts, figures))
    print(f"-> {out / 'README.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
