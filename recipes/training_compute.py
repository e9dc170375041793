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
import os
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

import argfields
from argfields import option

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


def folder_cost(
    runs: Path, folder: str, cores: int, calibration: dict | None = None
) -> dict | None:
    """{"core_hours", "how", "passes", "logged_core_hours", "logged_how"} of one training folder, or None when it
    has no summary.json. core_hours: its steps x the calibrated CPU seconds per step when `calibration` has the
    folder ("calibrated"), else what its run logged: the trainer's `train_cpu_seconds` ("CPU time") or, without
    it, train.log wall time x cores ("wall x cores")."""
    path = runs / folder / "summary.json"
    if not path.is_file():
        return None
    s = json.loads(path.read_text())
    passes = s["steps"] * s.get("batch_size_per_process", 32) * s.get("processes", 1)
    if s.get("train_cpu_seconds"):
        logged, how = s["train_cpu_seconds"] * s.get("processes", 1) / 3600, "CPU time"
    else:
        wall = train_log_seconds(runs / folder / "train.log")
        if wall is None:
            return None
        logged, how = wall * cores / 3600, "wall x cores"
    cost = {
        "core_hours": logged,
        "how": how,
        "passes": passes,
        "logged_core_hours": logged,
        "logged_how": how,
    }
    if calibration and folder in calibration:
        cal = (
            calibration[folder]["cpu_seconds_per_step"] * s["steps"] * s.get("processes", 1) / 3600
        )
        cost.update(core_hours=cal, how="calibrated")
    return cost


NEEDS = {
    "teacher": (),
    "width": ("teacher",),
    "depth": ("teacher", "width"),
}  # folders a stage reads from OUTPUT


def calibration_command(command: str, output_dir: str, steps: int) -> list[str]:
    """A training step's logged command (OUT/steps.json) made into a short calibration run: the same stage, model,
    sub-networks per step and data, for `steps` optimizer steps, one epoch, no periodic evaluation, into
    `output_dir`. ValueError when the command is not a `dynabert train` command."""
    argv = shlex.split(command)
    if argv[:4] != ["python", "-m", "dynabert", "train"]:
        raise ValueError(f"not a `python -m dynabert train` command: {command!r}")
    out, skip = [sys.executable, "-m", "dynabert", "train"], False
    batch_size = (
        int(argv[argv.index("--batch-size") + 1]) if "--batch-size" in argv else 32
    )  # the trainer's default
    replaced = {
        "--output-dir": output_dir,
        "--max-train-samples": str(steps * batch_size),
        "--epochs": "1",
        "--eval-every": "0",
    }
    for a in argv[4:]:
        if skip:
            skip = False
            continue
        if a in replaced:
            skip = True
            continue
        out.append(a)
    for flag, value in replaced.items():
        out += [flag, value]
    return out


STEP_NAMES = {
    "width": "stage1-width",
    "depth": "stage2-depth",
}  # OUT/steps.json's name of a training folder


def step_log(out: Path) -> dict:
    """OUT/steps.json (recipes.reference_run's log of each step's command). ValueError naming the file and the fix."""
    path = out / "steps.json"
    if not path.is_file():
        raise ValueError(
            f"{path} not found: --out must be the reference run's report folder (it logs each training "
            "step's command)"
        )
    try:
        log = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(
            f"{path} is not the reference run's step log ({err}); rerun the reference run to rewrite "
            "it"
        ) from None
    if not isinstance(log, dict):
        raise ValueError(
            f"{path} is not the reference run's step log (a JSON {type(log).__name__}, not an object of "
            "steps); rerun the reference run to rewrite it"
        )
    return log


def checked_commands(out: Path, runs: Path, folders: list[str], steps: int) -> dict[str, str]:
    """{folder: its logged training command}, every folder checked before any is measured: its OUT/steps.json entry
    with a `dynabert train` command, a finished run under --runs (summary.json: calibration prices its steps) and
    the finished models it reads (RUNS/teacher/best, RUNS/width/best). ValueError naming the folder and the fix."""
    log, commands = step_log(out), {}
    for folder in folders:
        step = STEP_NAMES.get(folder, folder)
        entry = log.get(step)
        if entry is None:
            raise ValueError(
                f"{out / 'steps.json'} has no step {step!r}: train {folder} first (python -m "
                "recipes.reference_run logs each step it runs)"
            )
        if not isinstance(entry, dict) or not isinstance(entry.get("command"), str):
            raise ValueError(
                f'{out / "steps.json"}: step {step!r} has no "command" (the training command it ran), '
                f"so {folder} cannot be re-run; rerun that step with python -m recipes.reference_run "
                "(delete its entry and its folder first), which logs the command"
            )
        calibration_command(
            entry["command"], "scratch", steps
        )  # a `dynabert train` command, or ValueError
        if not (runs / folder / "summary.json").is_file():
            raise ValueError(
                f"{(runs / folder).as_posix()} has no finished run (summary.json) under --runs "
                f"{runs.as_posix()}: train {folder} first, or leave it out of --folders"
            )
        for need in NEEDS.get(folder, ("teacher",)):
            if not (runs / need / "best" / "config.json").is_file():
                raise ValueError(
                    f"{folder} trains from stage {need!r}, which has no finished model at "
                    f"{(runs / need / 'best').as_posix()} (--runs {runs.as_posix()}); train {need} first"
                )
        commands[folder] = entry["command"]
    return commands


def calibrate_one(runs: Path, folder: str, command: str, steps: int) -> dict:
    """One folder's CPU seconds per step: its command re-run for `steps` steps in a temporary OUTPUT whose teacher /
    width are links to RUNS'. subprocess.CalledProcessError when the run fails."""
    with tempfile.TemporaryDirectory() as tmp:
        for need in NEEDS.get(folder, ("teacher",)):
            os.symlink((runs / need).resolve(), Path(tmp) / need)
        cmd = calibration_command(command, tmp, steps)
        load = os.getloadavg()[0]
        t0 = time.time()
        subprocess.run(
            cmd, check=True, env={**os.environ, "HF_HUB_OFFLINE": "1"}, stdout=subprocess.DEVNULL
        )
        summary = json.loads((Path(tmp) / folder / "summary.json").read_text())
    return {
        "cpu_seconds_per_step": summary["train_cpu_seconds"] / summary["steps"],
        "steps": summary["steps"],
        "load_avg_1min": load,
        "wall_seconds": time.time() - t0,
        "when_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(t0)),
    }


def calibrate(out: Path, runs: Path, folders: list[str], steps: int = 64) -> dict:
    """CPU seconds per optimizer step of each training folder's own command, measured now (run it on an idle
    machine: the long runs' own CPU time also counts the OpenMP spinning of threads that a shared machine
    descheduled), `steps` steps each from the same first batches. Every folder is checked first (checked_commands);
    each result is written to OUT/compute-calibration.json as soon as it is measured (save_calibration: a later
    failure loses nothing). Returns {folder: {"cpu_seconds_per_step", "steps", "load_avg_1min", "wall_seconds",
    "when_utc"}}. ValueError (a folder not ready, named) or subprocess.CalledProcessError (a run failed)."""
    commands, result = checked_commands(out, runs, folders, steps), {}
    for folder, command in commands.items():
        result[folder] = calibrate_one(runs, folder, command, steps)
        save_calibration(out, folder, result[folder])
        print(
            f"{folder}: {result[folder]['cpu_seconds_per_step']:.3f} CPU s/step over {result[folder]['steps']} steps"
        )
    return result


def save_calibration(out: Path, folder: str, entry: dict) -> Path:
    """Add (or replace) one folder's calibration in OUT/compute-calibration.json, written atomically (a temporary
    file, then renamed); the other folders' entries, of this or an earlier sitting, are kept."""
    path = out / "compute-calibration.json"
    data = load_calibration(out, warn=True) or {}
    folders = {**data.get("folders", {}), folder: entry}
    first = min(folders.values(), key=lambda e: e.get("when_utc", ""))
    data = {
        "when_utc": first.get("when_utc", data.get("when_utc")),
        "cpus": os.cpu_count(),
        "load_avg_1min": first["load_avg_1min"],
        "folders": folders,
    }
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    os.replace(tmp, path)
    return path


def fit_per_pass(points: list[tuple[float, float]]) -> tuple[float, float]:
    """(a, b) of cost per pass = a + b x FLOPs over (FLOPs, cost per pass) points; one point or one FLOPs value:
    (0, mean cost / FLOPs). a is kept >= 0 (a negative intercept is refitted through 0)."""
    x, y = np.array([p[0] for p in points], float), np.array([p[1] for p in points], float)
    if len(set(x)) >= 2:
        b, a = np.polyfit(x, y, 1)
        if a >= 0 and b > 0:
            return float(a), float(b)
    return 0.0, float(np.mean(y / x))


def control_costs(
    dyn: pd.DataFrame, acc: pd.DataFrame, runs: Path, cores: int, calibration: dict | None = None
) -> pd.DataFrame:
    """One row per DynaBERT sub-network size: FLOPs, DynaBERT accuracy, the control's accuracy (NaN when not
    trained), its core-hours and whether they were measured or extrapolated."""
    rows, measured = [], {}
    for sid, r in dyn.iterrows():
        cost = folder_cost(runs, f"fixed-{sid}", cores, calibration)
        if cost is not None:
            measured[sid] = (r.flops, cost)
    if not measured:
        raise ValueError(
            f"no fixed-size control with a summary.json under {runs} (folders fixed-w*-d*): nothing "
            "to measure the one-by-one cost from"
        )
    a, b = fit_per_pass([(f, c["core_hours"] / c["passes"]) for f, c in measured.values()])
    passes = float(np.mean([c["passes"] for _, c in measured.values()]))
    ctrl = (
        acc[acc.family == "fixed-control"]
        .drop_duplicates("subnet_id", keep="last")
        .set_index("subnet_id")
    )
    for sid, r in dyn.iterrows():
        hit = measured.get(sid)
        rows.append(
            {
                "subnet_id": sid,
                "flops": r.flops,
                "dynabert": r.accuracy,
                "control": ctrl.accuracy.get(sid, np.nan),
                "core_hours": hit[1]["core_hours"] if hit else (a + b * r.flops) * passes,
                "how": hit[1]["how"] if hit else "extrapolated",
                "logged_core_hours": hit[1]["logged_core_hours"] if hit else np.nan,
            }
        )
    return pd.DataFrame(rows).set_index("subnet_id")


def figure(table: pd.DataFrame, dyn_hours: float, path: Path) -> Path:
    """accuracy_vs_training_compute.png: DynaBERT's 12 at one cost; trained controls at their own; the total of
    training all 12 sizes one by one (measured + extrapolated) as a line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    total = table.core_hours.sum()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.scatter(
        [dyn_hours] * len(table),
        table.dynabert,
        label="DynaBERT: 12 sub-networks from one run",
        zorder=3,
    )
    ctrl = table[table.control.notna()]
    ax.scatter(
        ctrl.core_hours,
        ctrl.control,
        marker="s",
        label="fixed-size control (trained, measured)",
        zorder=3,
    )
    for sid, r in ctrl.iterrows():
        ax.annotate(
            sid, (r.core_hours, r.control), fontsize=7, xytext=(4, 2), textcoords="offset points"
        )
    n_meas = int((table.how != "extrapolated").sum())
    ax.axvline(dyn_hours, color="C0", lw=1)
    ax.axvline(
        total,
        color="C1",
        ls="--",
        lw=1,
        label=f"12 sizes one by one: {n_meas} measured + {len(table) - n_meas} extrapolated",
    )
    ax.set_xlabel("training compute (CPU core-hours; teacher left out of both)")
    ax.set_ylabel("dev accuracy (%)")
    ax.set_xlim(0, total * 1.1)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def load_calibration(out: Path, warn: bool = False) -> dict | None:
    """OUT/compute-calibration.json (written by `python -m recipes.training_compute calibrate`), or None when it is
    missing or unreadable (said on stderr when `warn`)."""
    path = out / "compute-calibration.json"
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        data = err
    if isinstance(data, dict) and isinstance(data.get("folders"), dict):
        return data
    if warn:
        print(
            f"{path}: not a calibration ({data if isinstance(data, Exception) else 'no folders'}); starting it "
            "afresh",
            file=sys.stderr,
        )
    return None


def sitting_words(cal: dict) -> str:
    """'64 steps from the same first batches, all in one sitting (WHEN, 1-min load average L at its start' of a
    calibration, or the sittings named when folders were calibrated at different times (a rerun keeps the rest)."""
    folders = cal["folders"].values()
    steps = "/".join(map(str, sorted({f["steps"] for f in folders})))
    whens = sorted({f.get("when_utc") or cal["when_utc"] for f in folders})
    if len(whens) == 1:
        return (
            f"{steps} steps from the same first batches, all in one sitting ({whens[0]}, 1-min load average "
            f"{cal['load_avg_1min']:.2f} at its start"
        )
    return (
        f"{steps} steps from the same first batches, in {len(whens)} sittings ({', '.join(whens)}; each "
        "folder's 1-min load average at its start is in compute-calibration.json"
    )


def compute_lines(
    acc: pd.DataFrame, dyn: pd.DataFrame, runs: Path, out: Path, cores: int
) -> list[str]:
    """The README section: figure, per-size table, totals and how each number was obtained ([] when the stages or
    controls lack what is needed, with the reason)."""
    cal = load_calibration(out)
    folders = (cal or {}).get("folders")
    stages = {s: folder_cost(runs, s, cores, folders) for s in ("teacher", "width", "depth")}
    if stages["width"] is None or stages["depth"] is None:
        return [
            "",
            "## Accuracy against training compute",
            "",
            "Not drawn: stages width/depth have no cost record "
            "yet (summary.json with train_cpu_seconds, or train.log).",
        ]
    try:
        table = control_costs(dyn, acc, runs, cores, folders)
    except ValueError as err:
        return ["", "## Accuracy against training compute", "", f"Not drawn: {err}."]
    dyn_hours = stages["width"]["core_hours"] + stages["depth"]["core_hours"]
    dyn_logged = stages["width"]["logged_core_hours"] + stages["depth"]["logged_core_hours"]
    png = figure(table, dyn_hours, out / "figures" / "accuracy_vs_training_compute.png")
    shown = table.assign(
        GFLOPs=table.flops / 1e9,
        control=table.control.map(lambda v: "not trained" if np.isnan(v) else f"{v:.2f}"),
    )[["GFLOPs", "dynabert", "control", "core_hours", "how", "logged_core_hours"]]
    how = ", ".join(f"{s} {c['how']}" for s, c in stages.items() if c)
    teacher = (
        f"{stages['teacher']['core_hours']:.2f} core-hours, {stages['teacher']['how']}"
        if stages["teacher"]
        else "not known"
    )
    calibrated = (
        "`calibrated`: the folder's steps x its CPU seconds per optimizer step, measured by re-running its "
        f"own logged command for {sitting_words(cal)}; periodic dev evaluations left out); "
        if folders
        else ""
    )
    return [
        "",
        "## Accuracy against training compute",
        "",
        f"![accuracy vs training compute]({png.relative_to(out)})",
        "",
        f"One DynaBERT run (stages width + depth): **{dyn_hours:.2f} CPU core-hours** for all "
        f"{len(table)} sub-networks (logged by the runs themselves: {dyn_logged:.2f}). The same {len(table)} sizes "
        f"trained one by one as fixed-size controls: **{table.core_hours.sum():.2f} core-hours** "
        f"({table.core_hours.sum() / dyn_hours:.1f}x), of which "
        f"{table[table.how != 'extrapolated'].core_hours.sum():.2f} measured on the controls trained here and the "
        "rest extrapolated from their cost per example pass, scaled by FLOPs (a + b x FLOPs). Teacher "
        f"fine-tuning ({teacher}) is needed by both and left out. How each was measured: {how} ({calibrated}"
        "`CPU time`: the trainer's own process CPU time over the whole run, which on a shared machine also counts "
        f"threads spinning while descheduled; `wall x cores`: train.log wall time x {cores} cores, pauses "
        "included: an upper bound). `logged_core_hours`: what the run itself logged.",
        "",
        shown.to_markdown(floatfmt=".2f"),
    ]


@dataclass(kw_only=True)
class CalibrateOptions:
    """`python -m recipes.training_compute calibrate`: which training folders, how many steps each."""

    out: str = option(
        "reports/sst2-minilm", help="the reference run's --out (steps.json)", group="folders"
    )
    runs: str = option("runs/sst2-minilm", help="the reference run's --runs", group="folders")
    steps: int = option(64, help="optimizer steps timed per training folder", group="calibration")
    folders: str = option(
        "width,depth,fixed-w0.25-d0.50,fixed-w0.50-d0.50",
        help="training folders under --runs to time, comma-separated",
        group="calibration",
    )


def build_parser():
    ap = argfields.command_parser(
        "python -m recipes.training_compute",
        "Dev accuracy against training compute (CPU core-hours): calibrate the CPU seconds per step.",
        "python -m recipes.training_compute calibrate --out reports/sst2-minilm --runs runs/sst2-minilm",
    )
    sub = ap.add_subparsers(dest="cmd", required=True)
    argfields.add_command(
        sub,
        "calibrate",
        CalibrateOptions,
        calibrate_command,
        "CPU seconds per step of each training folder, re-measured now (idle machine), written to "
        "OUT/compute-calibration.json for the reference report",
        "python -m recipes.training_compute calibrate --steps 64",
    )
    return ap


def main(argv: list[str] | None = None) -> int:
    opts, run = argfields.parse(build_parser(), argv)
    return run(opts)


def calibrate_command(opts: CalibrateOptions) -> int:
    out, runs = Path(opts.out), Path(opts.runs)
    names = [f.strip() for f in opts.folders.split(",") if f.strip()]
    try:
        if not names:
            raise ValueError(
                "--folders names no training folder (e.g. width,depth,fixed-w0.25-d0.50)"
            )
        if opts.steps < 1:
            raise ValueError(
                f"--steps must be at least 1 optimizer step per folder, got {opts.steps}"
            )
        calibrate(out, runs, names, opts.steps)
    except (ValueError, subprocess.CalledProcessError) as err:
        kept = load_calibration(out)
        print(
            f"error: {err}"
            + (
                f" ({out / 'compute-calibration.json'} keeps the calibrations measured: "
                f"{', '.join(kept['folders'])})"
                if kept
                else ""
            ),
            file=sys.stderr,
        )
        return 2
    print(f"-> {out / 'compute-calibration.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
