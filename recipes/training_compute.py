"""What DynaBERT buys (issue 19, item 5): dev accuracy against training compute (CPU core-hours) for one DynaBERT run
giving 12 sub-networks, against training the same 12 sizes one by one as fixed-size controls.

Core-hours of a training folder: the trainer's own `train_cpu_seconds` (process CPU time of the training loop, all
threads, summed over resumes; x processes) when its summary.json has it; otherwise its train.log's wall time (each
session from its first to its last line, sessions split at a resume) x the machine's cores, marked "wall x cores"
(pauses of a shared machine count there). A control that was not trained is extrapolated: cost per example pass
= a + b x FLOPs fitted to the trained controls (least squares; one control: proportional to FLOPs), times the
trained controls' mean example passes; it is marked "extrapolated". The teacher is needed by both ways alike and
is left out of both (its cost is stated).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd

SESSION_START = ("resumed from", "rewired with", "stage ")


def train_log_seconds(log: Path) -> float | None:
    """Wall seconds of a stage from its train.log ("YYYY-mm-dd HH:MM:SS msg" lines), summed over sessions; a session
    starts at a start line (stage header, rewiring, resume) that follows a non-start line. None without a log."""
    if not log.is_file():
        return None
    sessions, prev_start = [], False
    for line in log.read_text().splitlines():
        try:
            when = dt.datetime.strptime(line[:19], "%Y-%m-%d %H:%M:%S")
        except ValueError:
            continue
        start = line[20:].startswith(SESSION_START)
        if not sessions or (start and not prev_start):
            sessions.append([when, when])
        sessions[-1][1], prev_start = when, start
    return sum((b - a).total_seconds() for a, b in sessions)


def folder_cost(runs: Path, folder: str, cores: int) -> dict | None:
    """{"core_hours", "how", "passes"} of one training folder, or None when it has no summary.json."""
    path = runs / folder / "summary.json"
    if not path.is_file():
        return None
    s = json.loads(path.read_text())
    passes = s["steps"] * s.get("batch_size_per_process", 32) * s.get("processes", 1)
    if s.get("train_cpu_seconds"):
        return {"core_hours": s["train_cpu_seconds"] * s.get("processes", 1) / 3600, "how": "CPU time",
                "passes": passes}
    wall = train_log_seconds(runs / folder / "train.log")
    if wall is None:
        return None
    return {"core_hours": wall * cores / 3600, "how": "wall x cores", "passes": passes}


def fit_per_pass(points: list[tuple[float, float]]) -> tuple[float, float]:
    """(a, b) of cost per pass = a + b x FLOPs over (FLOPs, cost per pass) points; one point or one FLOPs value:
    (0, mean cost / FLOPs). a is kept >= 0 (a negative intercept is refitted through 0)."""
    x, y = np.array([p[0] for p in points], float), np.array([p[1] for p in points], float)
    if len(set(x)) >= 2:
        b, a = np.polyfit(x, y, 1)
        if a >= 0 and b > 0:
            return float(a), float(b)
    return 0.0, float(np.mean(y / x))


def control_costs(dyn: pd.DataFrame, acc: pd.DataFrame, runs: Path, cores: int) -> pd.DataFrame:
    """One row per DynaBERT sub-network size: FLOPs, DynaBERT accuracy, the control's accuracy (NaN when not
    trained), its core-hours and whether they were measured or extrapolated."""
    rows, measured = [], {}
    for sid, r in dyn.iterrows():
        cost = folder_cost(runs, f"fixed-{sid}", cores)
        if cost is not None:
            measured[sid] = (r.flops, cost)
    if not measured:
        raise ValueError(f"no fixed-size control with a summary.json under {runs} (folders fixed-w*-d*): nothing "
                         "to measure the one-by-one cost from")
    a, b = fit_per_pass([(f, c["core_hours"] / c["passes"]) for f, c in measured.values()])
    passes = float(np.mean([c["passes"] for _, c in measured.values()]))
    ctrl = acc[acc.family == "fixed-control"].drop_duplicates("subnet_id", keep="last").set_index("subnet_id")
    for sid, r in dyn.iterrows():
        hit = measured.get(sid)
        rows.append({"subnet_id": sid, "flops": r.flops, "dynabert": r.accuracy,
                     "control": ctrl.accuracy.get(sid, np.nan),
                     "core_hours": hit[1]["core_hours"] if hit else (a + b * r.flops) * passes,
                     "how": hit[1]["how"] if hit else "extrapolated"})
    return pd.DataFrame(rows).set_index("subnet_id")


def figure(table: pd.DataFrame, dyn_hours: float, path: Path) -> Path:
    """accuracy_vs_training_compute.png: DynaBERT's 12 at one cost; trained controls at their own; the total of
    training all 12 sizes one by one (measured + extrapolated) as a line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    total = table.core_hours.sum()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.scatter([dyn_hours] * len(table), table.dynabert, label="DynaBERT: 12 sub-networks from one run", zorder=3)
    ctrl = table[table.control.notna()]
    ax.scatter(ctrl.core_hours, ctrl.control, marker="s", label="fixed-size control (trained, measured)", zorder=3)
    for sid, r in ctrl.iterrows():
        ax.annotate(sid, (r.core_hours, r.control), fontsize=7, xytext=(4, 2), textcoords="offset points")
    n_meas = int((table.how != "extrapolated").sum())
    ax.axvline(dyn_hours, color="C0", lw=1)
    ax.axvline(total, color="C1", ls="--", lw=1,
               label=f"12 sizes one by one: {n_meas} measured + {len(table) - n_meas} extrapolated")
    ax.set_xlabel("training compute (CPU core-hours; teacher left out of both)")
    ax.set_ylabel("dev accuracy (%)")
    ax.set_xlim(0, total * 1.1)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def compute_lines(acc: pd.DataFrame, dyn: pd.DataFrame, runs: Path, out: Path, cores: int) -> list[str]:
    """The README section: figure, per-size table, totals and how each number was obtained ([] when the stages or
    controls lack what is needed, with the reason)."""
    stages = {s: folder_cost(runs, s, cores) for s in ("teacher", "width", "depth")}
    if stages["width"] is None or stages["depth"] is None:
        return ["", "## Accuracy against training compute", "", "Not drawn: stages width/depth have no cost record "
                "yet (summary.json with train_cpu_seconds, or train.log)."]
    try:
        table = control_costs(dyn, acc, runs, cores)
    except ValueError as err:
        return ["", "## Accuracy against training compute", "", f"Not drawn: {err}."]
    dyn_hours = stages["width"]["core_hours"] + stages["depth"]["core_hours"]
    png = figure(table, dyn_hours, out / "figures" / "accuracy_vs_training_compute.png")
    shown = table.assign(GFLOPs=table.flops / 1e9, control=table.control.map(
        lambda v: "not trained" if np.isnan(v) else f"{v:.2f}"))[["GFLOPs", "dynabert", "control", "core_hours", "how"]]
    how = ", ".join(f"{s} {c['how']}" for s, c in stages.items() if c)
    teacher = f"{stages['teacher']['core_hours']:.2f}" if stages["teacher"] else "?"
    return ["", "## Accuracy against training compute", "", f"![accuracy vs training compute]({png.relative_to(out)})",
            "", f"One DynaBERT run (stages width + depth): **{dyn_hours:.2f} CPU core-hours** for all "
            f"{len(table)} sub-networks. The same {len(table)} sizes trained one by one as fixed-size controls: "
            f"**{table.core_hours.sum():.2f} core-hours** ({table.core_hours.sum() / dyn_hours:.1f}x), of which "
            f"{table[table.how != 'extrapolated'].core_hours.sum():.2f} measured on the controls trained here and the "
            "rest extrapolated from their cost per example pass, scaled by FLOPs (a + b x FLOPs). Teacher "
            f"fine-tuning ({teacher} core-hours) is needed by both and left out. How each was measured: {how} "
            "(`CPU time`: the trainer's own process CPU time; `wall x cores`: train.log wall time x "
            f"{cores} cores).", "", shown.to_markdown(floatfmt=".2f")]
