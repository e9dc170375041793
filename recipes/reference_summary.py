"""README.md of the reference run: what ran, how long each step took, and the targets met or missed, from records.

`python -m recipes.reference_summary --out reports/sst2-minilm` (the last step of recipes.reference_run).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

import argfields
import records
from argfields import option
from dynabert.subnet import is_grid_id
from recipes.training_compute import compute_lines


def step_lines(steps: dict) -> list[str]:
    """The step-time table and, below it, every step's full command as it can be pasted from the repository root."""
    from bench.report import portable_command

    lines = [
        "## Step times",
        "",
        "Wall time of the invocation that finished each step (a step resumed after an "
        "interruption shows its last part only; the training stages' whole cost is in the compute section).",
        "",
        "| step | wall time (min) |",
        "|---|---|",
    ]
    lines += [f"| {name} | {s['seconds'] / 60:.1f} |" for name, s in steps.items()]
    lines += [
        "",
        "Commands, from the repository root (`python` = the project's `.venv/bin/python`):",
        "```",
    ]
    for name, s in steps.items():
        lines += [f"# {name}", portable_command(shlex.split(s["command"]))]
    return lines + ["```"]


def who(model_id: str) -> str:
    """The training folder a record's model came from: RUNS/teacher/best -> 'teacher', RUNS/depth -> 'depth'."""
    return Path(model_id).parent.name if Path(model_id).name == "best" else Path(model_id).name


RUN = "python -m recipes.reference_run"
STAGE_STEPS = {
    "teacher": "teacher",
    "width": "stage1-width",
    "depth": "stage2-depth",
    "baseline-distilbert": "baseline-distilbert",
}  # RUNS/<folder>/summary.json: the step that trains it


def check_ready(out: Path, runs: Path) -> None:
    """Everything the README is made from, before any of it is read for the README: OUT/steps.json (each step's
    seconds and command), OUT/records.jsonl with the teacher's and DynaBERT's (1.0, 1.0) and (0.25, 0.5) accuracy,
    each stage's RUNS/<stage>/summary.json. ValueError naming what is missing and the reference_run step that
    makes it."""
    if not out.is_dir():
        raise ValueError(
            f"--out {out.as_posix()}: no such folder; give the report folder of a reference run "
            f"({RUN} --out {out.as_posix()} makes it)"
        )
    check_steps(out / "steps.json")
    for folder, step in STAGE_STEPS.items():
        check_summary(runs / folder / "summary.json", step, runs)
    store = out / "records.jsonl"
    if not store.is_file():
        raise ValueError(
            f"{store.as_posix()} not found: the evaluate-* steps of {RUN} write it; run them (the run "
            "skips finished steps)"
        )
    acc = [
        r
        for r in records.read(store, warn=False)
        if r.kind == "accuracy"
        and r.status == "ok"
        and r.runtime is None
        and r.metric_value is not None
    ]
    if not any(who(r.model_id) == "teacher" for r in acc):
        raise ValueError(
            f"{store.as_posix()} holds no accuracy record of the teacher: step 'evaluate-teacher' of "
            f"{RUN} makes it; run it"
        )
    have = {r.subnet_id for r in acc if r.family == "dynabert"}
    for sid in ("w1.00-d1.00", "w0.25-d0.50"):
        if sid not in have:
            raise ValueError(
                f"{store.as_posix()} holds no DynaBERT accuracy record of {sid}: step "
                f"'evaluate-dynabert' of {RUN} (the whole grid) makes it; run it"
            )


def run_notes(out: Path) -> list[str]:
    """OUT/notes.md, written by hand beside the run (what was re-done after a step, and why), under its own heading;
    nothing when absent. Regenerating the README keeps it."""
    path = out / "notes.md"
    if not path.is_file():
        return []
    return ["", "## Notes on this run (notes.md)", "", path.read_text().strip()]


def check_steps(path: Path) -> None:
    """OUT/steps.json: an object of steps, each with its seconds and command. ValueError naming the fix."""
    if not path.is_file():
        raise ValueError(
            f"{path.as_posix()} not found: {RUN} logs each step it runs there; run it (finished steps "
            "are skipped)"
        )
    try:
        steps = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(
            f"{path.as_posix()} is not a step log ({err}); rerun {RUN} to rewrite it"
        ) from None
    if not isinstance(steps, dict):
        raise ValueError(
            f"{path.as_posix()} is not a step log (a JSON {type(steps).__name__}, not an object of "
            f"steps); rerun {RUN} to rewrite it"
        )
    for name, entry in steps.items():
        for key, kind, what in (("seconds", (int, float), "a number"), ("command", str, "text")):
            if (
                not isinstance(entry, dict)
                or not isinstance(entry.get(key), kind)
                or isinstance(entry.get(key), bool)
            ):
                raise ValueError(
                    f"{path.as_posix()}: step {name!r} has no {key} ({what}); delete that entry and "
                    f"rerun {RUN}, which runs the step again and logs it"
                )


def check_summary(path: Path, step: str, runs: Path) -> None:
    """A stage's summary.json: readable, with its config, steps and train_examples. ValueError naming the step."""
    if not path.is_file():
        raise ValueError(
            f"{path.as_posix()} not found: step {step!r} of {RUN} trains it (--runs {runs.as_posix()}); "
            "run it, or pass the --runs of that run"
        )
    try:
        s = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        s = err
    missing = [
        k for k in ("config", "steps", "train_examples") if not isinstance(s, dict) or k not in s
    ]
    if missing:
        raise ValueError(
            f"{path.as_posix()} is not a finished stage's summary (no {', '.join(missing)}): step "
            f"{step!r} of {RUN} writes it when the stage finishes; run it again"
        )


def load(out: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, list[records.Record]]:
    """(torch-model accuracy, accuracy of the exported artifacts, latency, failed records) of the run's store."""
    recs = records.read(out / "records.jsonl", warn=False)
    acc = pd.DataFrame([r.to_dict() for r in recs if r.kind == "accuracy" and r.status == "ok"])
    lat = pd.DataFrame([r.to_dict() for r in recs if r.kind == "latency" and r.status == "ok"])
    acc["accuracy"] = 100 * acc.metric_value
    acc["who"] = acc.model_id.map(who)
    own = acc.runtime.notna()
    return acc[~own], acc[own], lat, [r for r in recs if r.status != "ok"]


def artifact_lines(acc: pd.DataFrame, art: pd.DataFrame) -> list[str]:
    """Dev accuracy of each exported artifact beside the torch model's, int8 cost in points."""
    if art.empty:
        return []
    art = art.assign(
        cell=art.who.where(art.family != "dynabert", "DynaBERT " + art.subnet_id),
        mark=art.export_ok.map(lambda ok: "" if ok else "*"),
    )
    torch_acc = (
        acc.assign(cell=acc.who.where(acc.family != "dynabert", "DynaBERT " + acc.subnet_id))
        .drop_duplicates("cell")
        .set_index("cell")
        .accuracy
    )
    table = art.assign(value=art.accuracy.map(lambda v: f"{v:.1f}") + art.mark).pivot_table(
        index="cell", columns="runtime", values="value", aggfunc="last", sort=False
    )
    table.insert(0, "torch fp32", torch_acc.reindex(table.index).map(lambda v: f"{v:.1f}"))
    drop = art.merge(torch_acc.rename("torch").reset_index(), on="cell")
    drop["delta"] = drop.accuracy - drop.torch
    worst = drop.groupby("runtime").delta.min()
    failed = drop[~drop.export_ok.astype(bool)]
    return [
        "",
        "## Accuracy of the exported artifacts (dev %, through the runtime that is timed)",
        "",
        f"Every artifact the sweep times, run over the {dev_split(art)[1]:,} dev examples by its own runtime "
        "(`python -m bench.artifact_accuracy`); `*` = the artifact failed the random-input logit check, so the "
        "sweep did not time it.",
        "",
        table.to_markdown(),
        "",
        "Largest drop against the torch model, per runtime (points): "
        + ", ".join(f"{k} {v:+.2f}" for k, v in worst.items())
        + "."
        + (
            f" The {len(failed)} artifacts that failed the logit check lose at most "
            f"{-failed.delta.min():.2f} points of dev accuracy."
            if len(failed)
            else ""
        ),
    ]


def dev_split(acc: pd.DataFrame) -> tuple[str, int]:
    """(dev file, number of examples) as the accuracy records name them ("dev (PATH, N examples)", an artifact's
    "dev (PATH, N examples; onnxruntime artifact)")."""
    m = (
        re.search(r"\((.*?), (\d+) examples[;)]", str(acc.split.dropna().iloc[0]))
        if acc.split.notna().any()
        else None
    )
    return (m.group(1), int(m.group(2))) if m else ("?", 0)


def where_line(lat: pd.DataFrame, runtime: str) -> str:
    """'1 thread, seq 128, local CPU' of the local-CPU records of `runtime` (from the records)."""
    rows = lat[lat.runtime == runtime] if not lat.empty else lat
    if rows.empty:
        return "local CPU"
    return f"{rows.threads.iloc[0]} thread(s), batch {rows.batch_size.iloc[0]}, seq {rows.seq_len.iloc[0]}, local CPU"


def intro_lines(
    acc: pd.DataFrame, art: pd.DataFrame, lat: pd.DataFrame, summ: dict, machine: str
) -> list[str]:
    dev_path, n_dev = dev_split(acc)
    processes = (
        max((len(e.get("process_medians_ms", [0])) for e in lat.env), default=1)
        if not lat.empty
        else 1
    )
    lr = {s: f"{summ[s]['config']['learning_rate']:g}" for s in summ}
    where = where_line(lat, "litert-int8")
    return [
        "# DynaBERT on SST-2 from MiniLM-L6: the reference run",
        "",
        "![accuracy vs size and latency]"
        f"(figures/sst2_local-cpu_litert-int8_t{lat.threads.iloc[0] if not lat.empty else 1}.png)",
        "",
        (
            f"Dev accuracy of the LiteRT int8 artifacts themselves against their median latency, {where}."
            if (art.runtime == "litert-int8").any()
            else f"Measured dev accuracy (fp32) against median latency on LiteRT int8, {where} (int8 accuracy not "
            "measured)."
        ),
        "",
        "One command, resumable (each finished step is skipped):",
        "```",
        f"python -m recipes.reference_run --width-samples {summ['width']['train_examples']} --depth-samples "
        f"{summ['depth']['train_examples']} --depth-lr {lr['depth']}{k_flag(summ['depth'])}",
        "```",
        "",
        f"Machine: {machine} (CPU model and library versions in `index.md`). Data: GLUE SST-2 (`{dev_path}`; train "
        f"{summ['teacher']['train_examples']:,}, dev {n_dev:,}); all accuracies below are **measured on the dev "
        f"set** ({n_dev:,} examples), which also chose each checkpoint (official-code practice): they are "
        "optimistic.",
        f"Latency: {processes} fresh process(es) per cell, interleaved across cells, runs pooled (each process's "
        "median in the record's env.process_medians_ms); this shared VM's speed drifts over hours, so compare "
        "cells of one sweep with each other rather than with other runs.",
    ]


def k_flag(summary: dict) -> str:
    k = summary.get("subnets_per_step")
    return f" --subnets-per-step {k}" if k and k < summary.get("subnets_in_grid", k) else ""


def k_text(summary: dict) -> str:
    k, n = summary.get("subnets_per_step"), summary.get("subnets_in_grid")
    if not k or not n or k >= n:
        return "all sub-networks every step"
    return f"{k} of {n} sub-networks per step, sandwich rule"


def passes(summary: dict) -> int:
    """Example passes of a stage: optimizer steps x examples per step (batch x processes)."""
    return summary["steps"] * summary["config"]["batch_size"] * summary.get("processes", 1)


def budget_lines(summ: dict, machine: str) -> list[str]:
    """What each stage trained on, from the stages' own summary.json (examples, steps, epochs, lr, lambdas)."""
    cfg = {s: summ[s]["config"] for s in summ}
    epochs = lambda s: f"{cfg[s]['epochs']:g} epoch(s)"  # noqa: E731
    return [
        "",
        f"## Budget (cut short to fit a {machine}; the paper uses 3 epochs per stage and augmentation)",
        f"- teacher: packaged `minilm-l6` (all-MiniLM-L6-v2), {epochs('teacher')} of SST-2 train "
        f"({summ['teacher']['train_examples']:,} examples), lr {cfg['teacher']['learning_rate']:g}, batch "
        f"{cfg['teacher']['batch_size']}",
        f"- stage 1 (width): {summ['width']['train_examples']:,} training examples, {epochs('width')} "
        f"({summ['width']['steps']} steps), lr {cfg['width']['learning_rate']:g}, lambda1="
        f"{cfg['width']['width_lambda1']:g}, lambda2={cfg['width']['width_lambda2']:g}, rewiring on dev",
        f"- stage 2 (width x depth): {summ['depth']['train_examples']:,} training examples, {epochs('depth')} "
        f"({summ['depth']['steps']} steps, {k_text(summ['depth'])}), lr {cfg['depth']['learning_rate']:g}, lambda1="
        f"{cfg['depth']['depth_lambda1']:g}, lambda2={cfg['depth']['depth_lambda2']:g}",
        f"- baselines (DistilBERT-style, TinyBERT-style, fixed-size controls): "
        f"{passes(summ['baseline-distilbert']):,} example passes each (as stages width + depth together: "
        f"{passes(summ['width']) + passes(summ['depth']):,}), same teacher, lr "
        f"{cfg['baseline-distilbert']['learning_rate']:g}",
        "",
    ]


def target_lines(acc: pd.DataFrame, dyn: pd.DataFrame, teacher: float) -> list[str]:
    full, small = dyn.loc["w1.00-d1.00"].accuracy, dyn.loc["w0.25-d0.50"].accuracy
    lines = [
        f"- teacher >= 89%: {teacher:.2f}% -> {'met' if teacher >= 89 else 'missed'}",
        f"- DynaBERT (1.0, 1.0) within 0.5 points of the teacher: {full:.2f}% ({full - teacher:+.2f}) -> "
        f"{'met' if full >= teacher - 0.5 else 'missed'}",
        f"- DynaBERT (0.25, 0.5) within 4 points of the teacher: {small:.2f}% ({small - teacher:+.2f}) -> "
        f"{'met' if small >= teacher - 4 else 'missed'}",
    ]
    return lines + front_lines(acc, dyn) + control_lines(acc, dyn)


def front_lines(acc: pd.DataFrame, dyn: pd.DataFrame) -> list[str]:
    """'No same-teacher baseline dominates the DynaBERT front': for each baseline (teacher excluded), some DynaBERT
    sub-network with <= its FLOPs is at least as accurate (the best such one is named)."""
    lines = []
    for row in (
        acc[(acc.family == "baseline") & (acc.who != "teacher")]
        .drop_duplicates("who", keep="last")
        .itertuples()
    ):
        cheaper = dyn[dyn.flops <= row.flops]
        head = f"- {row.who} ({row.accuracy:.2f}%, {row.flops / 1e9:.2f} GFLOPs) does not dominate the DynaBERT front"
        if cheaper.empty:
            lines.append(
                f"{head}: no DynaBERT sub-network has <= its FLOPs, so nothing answers it -> missed"
            )
            continue
        best = cheaper.accuracy.idxmax()
        a, f = cheaper.accuracy.max(), cheaper.loc[best].flops / 1e9
        lines.append(
            f"{head} (some DynaBERT sub-network with <= its FLOPs is at least as accurate): best such is "
            f"{best} {a:.2f}% at {f:.2f} GFLOPs ({a - row.accuracy:+.2f}) -> "
            f"{'met' if a >= row.accuracy else 'missed: it dominates'}"
        )
    return lines


def control_lines(acc: pd.DataFrame, dyn: pd.DataFrame) -> list[str]:
    """Each fixed-size control against the DynaBERT sub-network of the same (width, depth): DynaBERT within 0.5
    points of the control, or better."""
    lines = []
    for row in (
        acc[acc.family == "fixed-control"].drop_duplicates("subnet_id", keep="last").itertuples()
    ):
        if row.subnet_id not in dyn.index:
            lines.append(
                f"- fixed-size control {row.subnet_id}: DynaBERT has no sub-network of this size to compare"
            )
            continue
        d = dyn.loc[row.subnet_id].accuracy
        lines.append(
            f"- fixed-size control {row.subnet_id} ({row.accuracy:.2f}%) vs DynaBERT {row.subnet_id} "
            f"({d:.2f}%, {d - row.accuracy:+.2f}): DynaBERT within 0.5 points -> "
            f"{'met' if d >= row.accuracy - 0.5 else 'missed'}"
        )
    return lines


def latency_lines(
    lat: pd.DataFrame, art: pd.DataFrame, small_acc: float, failed: list
) -> list[str]:
    """Smallest sub-network against the teacher on the local CPU (emulated-ARM records hold counts, not latency)."""
    if lat.empty:
        return []
    pick = lambda rt, who: lat[(lat.runtime == rt) & (who)]  # noqa: E731
    is_small = (lat.subnet_id == "w0.25-d0.50") & (lat.family == "dynabert")
    is_teacher = lat.model_id.str.contains("teacher")
    lines, smallest, teach = (
        [],
        pick("onnxruntime-int8", is_small),
        pick("onnxruntime-int8", is_teacher),
    )
    if len(smallest):
        own = art[
            (art.runtime == "onnxruntime-int8")
            & (art.subnet_id == "w0.25-d0.50")
            & (art.family == "dynabert")
        ]
        what = (
            f"{own.accuracy.iloc[0]:.2f}% (the int8 artifact's own dev accuracy)"
            if len(own)
            else f"{small_acc:.2f}% (fp32 accuracy; int8 accuracy not measured)"
        )
        lines.append(
            f"- onnxruntime int8, {where_line(lat, 'onnxruntime-int8')}: smallest sub-network (0.25, 0.5) "
            f"median {smallest.latency_ms_p50.iloc[0]:.2f} ms at {what}"
        )
    if len(teach) and len(smallest):
        t, s = teach.latency_ms_p50.iloc[0], smallest.latency_ms_p50.iloc[0]
        lines.append(
            f"- teacher on onnxruntime int8: median {t:.2f} ms ({t / s:.1f}x the smallest sub-network)"
        )
    elif not len(teach):
        errs = [r for r in failed if r.runtime == "onnxruntime-int8" and "teacher" in r.model_id]
        lines.append(
            "- teacher on onnxruntime int8: **not timed**: its dynamic-int8 ONNX failed the numerics "
            f"check ({errs[0].error if errs else 'no record'}), so it is recorded as an error and never "
            "used. For comparison, see the teacher's onnxruntime fp32 and litert-int8 cells in index.md"
        )
    for rt in ("onnxruntime", "litert-int8"):
        a, b = pick(rt, is_small), pick(rt, is_teacher)
        if len(a) and len(b):
            lines.append(
                f"- {rt}: smallest sub-network {a.latency_ms_p50.iloc[0]:.2f} ms vs teacher "
                f"{b.latency_ms_p50.iloc[0]:.2f} ms ({b.latency_ms_p50.iloc[0] / a.latency_ms_p50.iloc[0]:.1f}x)"
            )
    return lines


def failed_lines(failed: list, art: pd.DataFrame) -> list[str]:
    if not failed:
        return []
    name = lambda m: Path(m).name if Path(m).name != "best" else Path(m).parent.name  # noqa: E731
    return [
        "",
        f"**Failed cells ({len(failed)})**, kept as error records: "
        + "; ".join(
            f"{name(r.model_id)} {r.subnet_id} {r.runtime}: max abs logit err {r.export_max_abs_err:.3f}"
            for r in failed
        )
        + ". The dynamic int8 ONNX of most trained sub-networks exceeds the documented int8 bound (0.05 x (1 + "
        "max|logit|)) on random-token inputs; LiteRT int8 passes for all. "
        + (
            "Their dev accuracy, measured on the artifacts themselves, is in the table above (marked `*`)."
            if not art.empty
            else "Whether int8 keeps dev accuracy was not measured."
        ),
    ]


RATIO_BENCH = (
    Path(__file__).resolve().parents[1]
    / "reports"
    / "minilm-cpu"
    / "train_step_ratio_minilm-l6_k4.json"
)


def throughput_lines(path: Path = RATIO_BENCH) -> list[str]:
    """Issue 19's item 2: the cost of a stage-depth step with K sub-networks against all of them, from the
    pytest-benchmark JSON of bench/test_train_throughput.py::test_sampled_depth_step_cost_ratio (where it was
    measured, said with the number); the section says so when that file is missing."""
    head = ["", "## Sampled sub-networks per step: throughput", ""]
    if not path.is_file():
        return head + [
            f"Not measured: no {path.name} (BENCH_MODEL=minilm-l6 pytest bench/test_train_throughput.py "
            "-k sampled --benchmark-json FILE)."
        ]
    bench = json.loads(path.read_text())
    e = bench["benchmarks"][0]["extra_info"]
    cpu = bench["machine_info"]["cpu"]
    return head + [
        f"A stage-depth step training K = {e['subnets_per_step']} of the {e['n_subnetworks']} sub-networks (sandwich "
        f"rule) costs **{e['ratio_k_to_all']:.3f}x** the step training all of them (mean of {e['pairs']} interleaved "
        f"pairs; {e['median_ratio_k_to_all']:.3f} of medians; target <= {e['target_ratio']}; sum of width x depth "
        f"predicts {e['predicted_ratio_width_x_depth']:.2f}; the per-part costs that explain the gap are in "
        f"reports/minilm-cpu/README.md). Measured {bench['datetime'][:16].replace('T', ' ')} UTC on {cpu['count']}-CPU "
        f"{cpu['brand_raw']}, {e['model_id']}, batch {e['batch_size']}, seq {e['seq_len']}, {e['threads']} "
        f"thread(s), {load_words(e)}: `reports/minilm-cpu/{path.name}` "
        "(pytest-benchmark JSON)."
    ]


def load_words(e: dict) -> str:
    """'1-min load 0.12 before, 1.98 after' from a benchmark's extra_info (older files recorded only the load read
    after the timing)."""
    parts = [
        f"{e[k]:.2f} {w}"
        for k, w in (("load_avg_1min_before", "before"), ("load_avg_1min_after", "after"))
        if e.get(k) is not None
    ]
    return "1-min load " + ", ".join(parts) + " the timing" if parts else "load not recorded"


def equal_compute_lines(out: Path) -> list[str]:
    """The equal-compute table of `python -m recipes.equal_compute --out OUT/equal-compute`, when it was run."""
    path = out / "equal-compute" / "equal-compute.md"
    if not path.is_file():
        return [
            "",
            "## Equal compute (all sub-networks per step vs K)",
            "",
            "Not run yet: `python -m recipes.equal_compute --out OUT/equal-compute ...`.",
        ]
    body = path.read_text().splitlines()[1:]  # its own title replaced by this section's
    return [
        "",
        "## Equal compute (all sub-networks per step vs K)",
        "",
        "From [equal-compute/equal-compute.md](equal-compute/equal-compute.md):",
        *body,
    ]


def write(out: Path, runs: Path) -> Path:
    """OUT/README.md from OUT/records.jsonl, OUT/steps.json and each stage's RUNS/<stage>/summary.json."""
    from bench.report import (
        table1 as grid_table,
    )  # grid rows by subnet_id, never a per-layer row's summary

    acc, art, lat, failed = load(out)
    steps = json.loads((out / "steps.json").read_text())
    dyn = acc[
        (acc.family == "dynabert") & acc.subnet_id.map(is_grid_id)
    ]  # per-layer rows are not grid sizes
    dyn = dyn.drop_duplicates("subnet_id", keep="last").set_index(
        "subnet_id"
    )  # a re-evaluation: the latest
    teacher = acc[acc.who == "teacher"].accuracy.iloc[-1]
    table1 = grid_table(acc)
    table1.index = [f"width {w:g}" for w in table1.index]
    table1.columns = [f"depth {d:g}" for d in table1.columns]
    summ = {
        s: json.loads((runs / s / "summary.json").read_text())
        for s in ("teacher", "width", "depth", "baseline-distilbert")
    }
    cpu_lat = lat[lat.device == "local-cpu"] if not lat.empty else lat
    first = next(
        (r for r in records.read(out / "records.jsonl", warn=False) if r.kind == "latency"), None
    )
    cores = int(first.env.get("logical_cpus") or os.cpu_count()) if first else os.cpu_count()
    machine = (
        f"{first.env.get('logical_cpus')}-CPU {first.env.get('machine')} ({first.cpu_model})"
        if first
        else "not recorded"
    )
    lines = [
        *intro_lines(acc, art, cpu_lat, summ, machine),
        *budget_lines(summ, machine.split(" (")[0] + " machine"),
        *step_lines(steps),
        "",
        "## Table 1 layout (dev accuracy %, rows width, columns depth)",
        "",
        table1.to_markdown(floatfmt=".1f"),
        "",
        f"Teacher (MiniLM-L6 fine-tuned): {teacher:.1f}%.",
        *artifact_lines(acc, art),
        "",
        "## Targets",
        "",
        *target_lines(acc, dyn, teacher),
        *latency_lines(cpu_lat, art, dyn.loc["w0.25-d0.50"].accuracy, failed),
        *failed_lines(failed, art),
        *run_notes(out),
        *compute_lines(acc, dyn, runs, out, cores),
        *throughput_lines(),
        *equal_compute_lines(out),
        "",
        "Full report (figures, per-cell tables, machine info): [index.md](index.md). Records: `records.jsonl`.",
    ]
    path = out / "README.md"
    path.write_text("\n".join(lines) + "\n")
    return path


@dataclass(kw_only=True)
class ReferenceSummaryOptions:
    """`python -m recipes.reference_summary`: its options."""

    out: str = option(
        "reports/sst2-minilm", help="the reference run's report folder", group="folders"
    )
    runs: str = option(
        "runs/sst2-minilm", help="the reference run's training folders", group="folders"
    )


def build_parser():
    return argfields.command_parser(
        "python -m recipes.reference_summary",
        "README.md of the reference run: what ran, how long each step took, the targets met or missed.",
        "python -m recipes.reference_summary --out reports/sst2-minilm --runs runs/sst2-minilm",
        ReferenceSummaryOptions,
    )


def main(argv: list[str] | None = None) -> int:
    opts, _ = argfields.parse(build_parser(), argv)
    try:
        check_ready(Path(opts.out), Path(opts.runs))
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"summary: {write(Path(opts.out), Path(opts.runs))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
