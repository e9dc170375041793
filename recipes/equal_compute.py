"""Equal-compute comparison of stage depth (issue 19, item 3): all sub-networks per step (the paper) against K of
them (--subnets-per-step, sandwich rule), each setting given the same training compute, then the dev metric of all
of the grid's sub-networks for each.

How the budget is equalised: every setting starts from the same finished stage width (FROM/width/best) and is
timed on the same real training batches, settings interleaved round by round (one optimizer step each: teacher
forward, the drawn sub-networks' forward/backward, clip, AdamW step), after one warm-up round; c_s = mean seconds
per step of setting s. The budget is B = (--examples / --batch-size steps) x c_first, the compute of the first
setting listed going once over --examples examples; setting s trains round(B / c_s) steps (so a cheaper step
buys more steps, i.e. more example passes). Each setting's actual training seconds are reported next to B.
Then `python -m dynabert train --stage depth` runs each setting to the end (resumable: a checkpoint every
--save-every steps; a finished setting is skipped, and refused if it trained another plan; the calibration is kept
in OUT/calibration.json and reused only for the same inputs), and the chosen checkpoint's dev metric of
every sub-network is read from its summary (the trainer evaluates the whole grid).

`python -m recipes.equal_compute --from runs/sst2-minilm-e1 --settings all,4,6 --data-dir ../shared/data/glue/SST-2
--out reports/sst2-minilm/equal-compute`
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import argfields
from argfields import option
from dynabert.config import check_grid, default_grid, parse_mults
from dynabert.options import DEPTHS, WIDTHS
from records import check_out_dir

PY = sys.executable


def parse_settings(text: str) -> list[int | None]:
    """'all,4,6' -> [None, 4, 6] (None: every sub-network); a clear error naming the flag otherwise."""
    out = []
    for part in text.split(","):
        part = part.strip().lower()
        if part == "all":
            out.append(None)
        elif part.isdigit() and int(part) >= 2:
            out.append(int(part))
        else:
            raise SystemExit(
                f"--settings: {part!r} is neither 'all' nor an integer >= 2 (e.g. all,4,6)"
            )
    if len(set(out)) != len(out):
        raise SystemExit(f"--settings {text!r} names a setting twice")
    return out


def label(k: int | None) -> str:
    return "all" if k is None else f"k{k}"


def check_settings_fit(settings: list[int | None], widths: str, depths: str) -> None:
    """Every K within the stage-depth grid (before any calibration or training); SystemExit naming the fix."""
    try:
        n = len(parse_mults(widths, "widths")) * len(parse_mults(depths, "depths"))
    except ValueError as err:
        raise SystemExit(f"error: {err}") from None
    too_big = [k for k in settings if k is not None and k > n]
    if too_big:
        raise SystemExit(
            f"--settings {','.join(map(str, too_big))}: more sub-networks per step than the {n} of the "
            f"stage-depth grid (--widths x --depths); give at most {n}, or 'all'"
        )


def check_multipliers(opts: EqualComputeOptions) -> None:
    """--widths/--depths against FROM/width/best's shape (dynabert.config.check_grid, config.json only), before the
    calibration builds anything; SystemExit naming the flag, the model and the valid multipliers."""
    from dynabert.presets import load_size

    start = str(Path(opts.from_dir) / "width" / "best")
    try:
        check_grid(
            parse_mults(opts.widths, "widths"),
            parse_mults(opts.depths, "depths"),
            load_size(start),
            start,
        )
    except ValueError as err:
        raise SystemExit(f"error: {err}") from None


def calibrate(opts: EqualComputeOptions, settings: list[int | None]) -> dict:
    """Mean seconds of one stage-depth optimizer step per setting, interleaved on real batches (see module doc)."""
    import torch

    from dynabert.data import batch_order
    from dynabert.engine import Trainable, make_accelerator, train_step
    from dynabert.losses import LossSettings
    from dynabert.model import DynaBert
    from dynabert.presets import load_model, load_tokenizer
    from dynabert.sampling import subnets_for_step
    from dynabert.train import Data, TrainConfig

    start = str(Path(opts.from_dir) / "width" / "best")
    with tempfile.TemporaryDirectory() as tmp:
        cfg = TrainConfig(
            task=opts.task,
            data_dir=opts.data_dir,
            output_dir=tmp,
            max_seq_len=opts.max_seq_len,
            max_train_samples=opts.max_train_samples,
            max_eval_samples=1,
        )
        data = Data(cfg, load_tokenizer(start))
    grid = default_grid(parse_mults(opts.widths, "widths"), parse_mults(opts.depths, "depths"))
    teacher = DynaBert(load_model(start)).eval().requires_grad_(False)
    student = DynaBert(load_model(start)).train()
    model, accelerator = Trainable(student), make_accelerator("no")
    optimizer = torch.optim.AdamW(student.parameters(), lr=1e-5)
    settings_loss = LossSettings(1.0, 1.0)
    lengths = [len(f["input_ids"]) for f in data.train]
    batches = batch_order(lengths, opts.batch_size, 42, 0, opts.bucket)
    times = {label(k): [] for k in settings}
    for r, idx in enumerate(batches[: opts.calibration_rounds + 1]):
        batch = data.batch([data.train[i] for i in idx])
        for k in settings:
            t0 = time.perf_counter()
            train_step(
                model,
                teacher,
                subnets_for_step(grid, k, 42, r),
                "dynabert",
                settings_loss,
                batch,
                accelerator,
            )
            torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            if r > 0:  # round 0 warms up
                times[label(k)].append(time.perf_counter() - t0)
    return {
        "seconds_per_step": {s: statistics.mean(t) for s, t in times.items()},
        "seconds_each": times,
        "rounds": opts.calibration_rounds,
        "batch_size": opts.batch_size,
        "threads": torch.get_num_threads(),
        "cpus": os.cpu_count(),
        "load_avg_1min": os.getloadavg()[0],
        "train_examples": len(data.train),
        "inputs": calibration_inputs(opts),
    }


def write_atomic(path: Path, text: str) -> None:
    """`text` to `path` through a temporary file in the same folder: a kill mid-write leaves the old file whole."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def check_out_and_data(opts: EqualComputeOptions) -> None:
    """Before anything loads: --out (and --runs) a folder or a path one can be made at, the report's files not
    folders, and
    --data-dir the task folder holding its train and dev files. SystemExit naming the flag and the fix."""
    try:
        out = check_out_dir(opts.out, "--out")
        check_out_dir(opts.runs or Path(opts.from_dir) / "equal-compute", "--runs")
    except ValueError as err:
        raise SystemExit(str(err)) from None
    for name in ("calibration.json", "equal-compute.md", "equal-compute.json"):
        if (out / name).is_dir():
            raise SystemExit(
                f"--out {opts.out}: {(out / name).as_posix()} is a folder where the report writes its "
                f"{name}; remove it or choose another --out"
            )
    if not Path(opts.data_dir).is_dir():
        raise SystemExit(
            f"--data-dir {opts.data_dir}: no such folder; give the task's data folder holding train.tsv "
            "and dev.tsv (e.g. ../shared/data/glue/SST-2)"
        )
    from dynabert.data import find_file, get_task, task_dir

    try:
        task = get_task(opts.task)
        folder = task_dir(opts.data_dir, task)
        for stem in ("train", task.dev_files[0]):
            find_file(folder, stem)
    except ValueError as err:
        raise SystemExit(f"--task {opts.task} / --data-dir {opts.data_dir}: {err}") from None


def calibration_inputs(opts: EqualComputeOptions) -> dict:
    """What a step's cost depends on: a kept calibration.json is reused only when these are unchanged."""
    return {
        "from": Path(opts.from_dir).as_posix(),
        "task": opts.task,
        "batch_size": opts.batch_size,
        "widths": opts.widths,
        "depths": opts.depths,
        "max_seq_len": opts.max_seq_len,
        "max_train_samples": opts.max_train_samples,
        "bucket": opts.bucket,
        "calibration_rounds": opts.calibration_rounds,
    }


def kept_calibration(
    path: Path, opts: EqualComputeOptions, settings: list[int | None]
) -> dict | None:
    """OUT/calibration.json when it was measured with the same inputs and covers every setting, else None."""
    if not path.exists():
        return None
    try:
        cal = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        print(f"{path}: unreadable ({err}), e.g. cut short; calibrating again", file=sys.stderr)
        return None
    if not isinstance(cal, dict) or not isinstance(cal.get("seconds_per_step"), dict):
        print(
            f"{path}: not a calibration (no seconds_per_step); calibrating again", file=sys.stderr
        )
        return None
    same = cal.get("inputs") == calibration_inputs(opts)
    covers = {label(k) for k in settings} <= set(cal.get("seconds_per_step", {}))
    if not same:
        print(
            f"{path}: measured with other inputs ({cal.get('inputs')}); calibrating again",
            file=sys.stderr,
        )
    return cal if same and covers else None


def budget_plan(
    cost: dict[str, float],
    settings: list[int | None],
    examples: int,
    batch_size: int,
    per_epoch: int,
) -> dict:
    """Steps and epochs of each setting: the first setting's steps over `examples` examples set the budget B
    (seconds) = steps x its seconds per step; each setting gets round(B / its seconds per step) steps, at least 1."""
    first = label(settings[0])
    base_steps = max(1, examples // batch_size)
    budget = base_steps * cost[first]
    plan = {}
    for k in settings:
        steps = max(1, round(budget / cost[label(k)]))
        # a hair under steps / per_epoch: the trainer's ceil(per_epoch x epochs) then gives exactly `steps`
        plan[label(k)] = {
            "subnets_per_step": k,
            "steps": steps,
            "epochs": (steps - 1e-6) / per_epoch,
            "seconds_per_step": cost[label(k)],
            "planned_seconds": steps * cost[label(k)],
        }
    return {
        "budget_seconds": budget,
        "reference": first,
        "reference_examples": base_steps * batch_size,
        "settings": plan,
    }


def link_width(folder: Path, from_dir: Path) -> None:
    """FOLDER/width -> FROM/width (the stage-width model every setting starts from). A link left dangling by a
    moved or renamed run folder is pointed at FROM/width again."""
    folder.mkdir(parents=True, exist_ok=True)
    link = folder / "width"
    if link.is_symlink() and not link.exists():
        link.unlink()
    if not link.exists():
        link.symlink_to(from_dir.resolve() / "width", target_is_directory=True)


def train_setting(opts: EqualComputeOptions, name: str, entry: dict, runs: Path) -> dict:
    """Stage depth of one setting in RUNS/<name> (its width/ links to FROM/width); skipped when finished."""
    folder = runs / name
    link_width(folder, Path(opts.from_dir))
    cmd = [
        PY,
        "-m",
        "dynabert",
        "train",
        "--task",
        opts.task,
        "--data-dir",
        opts.data_dir,
        "--output-dir",
        str(folder),
        "--stage",
        "depth",
        "--widths",
        opts.widths,
        "--depths",
        opts.depths,
        "--batch-size",
        str(opts.batch_size),
        "--max-seq-len",
        str(opts.max_seq_len),
        "--learning-rate",
        opts.learning_rate,
        "--epochs",
        repr(entry["epochs"]),
        "--checkpoint-choice",
        opts.checkpoint_choice,
        "--eval-every",
        str(opts.eval_every),
        "--save-every",
        str(opts.save_every),
        "--logging-steps",
        "50",
        *(["--bucket"] if opts.bucket else []),
        *(["--max-train-samples", str(opts.max_train_samples)] if opts.max_train_samples else []),
        *(["--max-eval-samples", str(opts.max_eval_samples)] if opts.max_eval_samples else []),
        *(
            ["--subnets-per-step", str(entry["subnets_per_step"])]
            if entry["subnets_per_step"]
            else []
        ),
    ]
    summary = folder / "depth" / "summary.json"
    if summary.is_file():
        check_finished_setting(summary, name, entry)
    else:
        print(f"[{name}] {' '.join(cmd)}", flush=True)
        if subprocess.run(cmd, env={**os.environ, "HF_HUB_OFFLINE": "1"}).returncode != 0:
            raise SystemExit(
                f"[{name}] training failed (its message is above); fix it and run the same command "
                f"again: finished settings are kept"
            )
    return json.loads(summary.read_text())


def check_finished_setting(path: Path, name: str, entry: dict) -> None:
    """A finished setting trained for another plan (steps or K) would be compared unfairly: SystemExit naming the
    folder and the fix."""
    done = json.loads(path.read_text())
    got = (done.get("steps"), done.get("config", {}).get("subnets_per_step"))
    if got != (entry["steps"], entry["subnets_per_step"]):
        raise SystemExit(
            f"[{name}] {path.parent.parent} finished {got[0]} steps with --subnets-per-step {got[1]}, "
            f"but this plan gives it {entry['steps']} steps with {entry['subnets_per_step']}: delete "
            f"{path.parent.parent} to retrain it under this plan, or give the flags it was planned with"
        )


def result_table(plan: dict, summaries: dict[str, dict]) -> tuple[list[str], dict]:
    """Markdown rows (one per sub-network, one column per setting) and the same numbers as a dict."""
    names = list(plan["settings"])
    dev = {n: next(iter(summaries[n]["best_dev"].values())) for n in names}  # the first dev file
    subnets = list(dev[names[0]])
    metric = next(iter(dev[names[0]][subnets[0]]))
    value = {n: {sid: 100 * dev[n][sid][metric] for sid in subnets} for n in names}
    lines = [
        f"| sub-network ({metric}, dev %) | " + " | ".join(names) + " |",
        "|---" * (len(names) + 1) + "|",
    ]
    for sid in subnets:
        best = max(value[n][sid] for n in names)
        cells = [
            f"**{value[n][sid]:.2f}**" if value[n][sid] == best else f"{value[n][sid]:.2f}"
            for n in names
        ]
        lines.append(f"| {sid} | " + " | ".join(cells) + " |")
    mean = {n: statistics.mean(value[n].values()) for n in names}
    lines.append("| mean of all | " + " | ".join(f"{mean[n]:.2f}" for n in names) + " |")
    return lines, {"metric": metric, "dev": value, "mean": mean}


def verdict(plan: dict, numbers: dict) -> str:
    """One plain sentence: does sampling win or lose against the first setting at equal compute."""
    ref, mean, dev = plan["reference"], numbers["mean"], numbers["dev"]
    parts = []
    for name in plan["settings"]:
        if name == ref:
            continue
        wins = sum(dev[name][s] >= dev[ref][s] for s in dev[ref])
        word = "wins" if mean[name] > mean[ref] else "loses" if mean[name] < mean[ref] else "ties"
        parts.append(
            f"{name} {word} against {ref} at equal compute: mean {mean[name]:.2f} vs {mean[ref]:.2f} "
            f"({mean[name] - mean[ref]:+.2f} points), at least as good on {wins} of {len(dev[ref])} "
            "sub-networks"
        )
    best = max(mean, key=mean.get)
    return "; ".join(parts) + f". Highest mean over the grid: {best}."


def write_report(
    out: Path, cal: dict, plan: dict, summaries: dict[str, dict], command: str
) -> Path:
    """OUT/equal-compute.md and OUT/equal-compute.json."""
    rows, numbers = result_table(plan, summaries)
    ref = summaries[plan["reference"]]
    ref_steps, ref_batch = (
        plan["settings"][plan["reference"]]["steps"],
        ref["batch_size_per_process"],
    )
    choices = {s.get("checkpoint_choice", "last") for s in summaries.values()}
    chosen = (
        "each run's weights at its last step (--checkpoint-choice last)"
        if choices == {"last"}
        else "each run's checkpoint with the best summed dev metric (--checkpoint-choice best; optimistic)"
        if choices == {"best"}
        else f"checkpoints chosen by --checkpoint-choice {'/'.join(sorted(choices))}"
    )
    budget = [
        "| setting | sub-networks per step | measured s/step | steps | example passes | planned s | "
        "actual training s | training CPU s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, e in plan["settings"].items():
        s = summaries[name]
        budget.append(
            f"| {name} | {e['subnets_per_step'] or s['subnets_in_grid']} of {s['subnets_in_grid']} | "
            f"{e['seconds_per_step']:.3f} | {s['steps']} | {s['steps'] * s['batch_size_per_process']:,} | "
            f"{e['planned_seconds']:.0f} | {s['seconds_this_run']:.0f} | {s.get('train_cpu_seconds') or 0:.0f} |"
        )
    lines = [
        "# Stage depth at equal compute: all sub-networks per step vs K (sandwich rule)",
        "",
        f"Budget: {plan['budget_seconds']:.0f} s of training steps, the cost of the {plan['reference']} setting "
        f"going once over {plan['reference_examples']:,} examples ({ref_steps:,} steps of "
        f"{ref_batch}: --examples rounded to whole batches). Each setting's seconds per step were measured "
        f"on the same real batches, settings interleaved, {cal['rounds']} rounds after a warm-up "
        f"({cal['threads']} torch thread(s), {cal['cpus']} CPUs, 1-min load {cal['load_avg_1min']:.1f}); "
        "each trained round(budget / its s per step) steps. 'actual training s' is the trainer's own wall time "
        "(evaluations and any pause of the process included), a check on the plan; 'training CPU s' its "
        "process CPU time in training steps (all threads; a paused process uses none).",
        "",
        *budget,
        "",
        f"Dev metric of every sub-network ({chosen}; best per row in bold):",
        "",
        *rows,
        "",
        "**Verdict:** " + verdict(plan, numbers),
        "",
        "Command (from the repository root):",
        "```",
        command,
        "```",
    ]
    (out / "equal-compute.md").write_text("\n".join(lines) + "\n")
    (out / "equal-compute.json").write_text(
        json.dumps({"calibration": cal, "plan": plan, **numbers, "command": command}, indent=1)
    )
    return out / "equal-compute.md"


def check_args(opts: EqualComputeOptions) -> list[int | None]:
    """Every flag and input folder before anything loads or is written; returns the parsed --settings. SystemExit
    naming the flag and the fix."""
    if opts.calibration_rounds < 1:
        raise SystemExit(
            f"--calibration-rounds must be at least 1 (timed rounds after the warm-up), got "
            f"{opts.calibration_rounds}"
        )
    settings = parse_settings(opts.settings)
    if opts.examples is not None and opts.examples < 1:
        raise SystemExit(
            f"--examples must be at least 1 (leave it out for the whole train set), got {opts.examples}"
        )
    if not Path(opts.from_dir).is_dir():
        raise SystemExit(
            f"--from {opts.from_dir}: no such folder; give a training output folder (e.g. "
            "runs/sst2-minilm-e1)"
        )
    if not (
        Path(opts.from_dir) / "width" / "summary.json"
    ).is_file():  # best/ exists mid-training too
        raise SystemExit(
            f"--from {opts.from_dir}: no finished stage width ({opts.from_dir}/width/summary.json); run "
            "`python -m dynabert train --stage width` there first"
        )
    check_multipliers(
        opts
    )  # the multipliers first: a bad width would otherwise read as a grid too small for K
    check_settings_fit(settings, opts.widths, opts.depths)
    check_out_and_data(opts)  # config.json only so far: nothing loaded
    return settings


@dataclass(kw_only=True)
class EqualComputeOptions:
    """`python -m recipes.equal_compute`: its options."""

    from_dir: str = option(
        help="a training output folder with a finished stage width (FROM/width/best)",
        group="folders",
        flag="--from",
    )
    settings: str = option(
        "all,4,6",
        help="sub-networks per step: 'all' or K >= 2, comma-separated; the first sets the budget",
        group="comparison",
    )
    out: str = option(help="where equal-compute.md/.json go", group="folders")
    runs: str | None = option(
        None, help="checkpoints of each setting (default FROM/equal-compute)", group="folders"
    )
    task: str = option("sst2", help="GLUE task trained and scored", group="data")
    data_dir: str = option(
        "../shared/data/glue/SST-2",
        help="the task's data folder (train.tsv, dev.tsv)",
        group="data",
    )
    examples: int | None = option(
        None,
        help="examples the first setting trains on (default: the whole train set once)",
        group="comparison",
    )
    max_train_samples: int | None = option(None, help="train rows used (default all)", group="data")
    max_eval_samples: int | None = option(None, help="dev rows scored (default all)", group="data")
    widths: str = option(WIDTHS, help="width multipliers, comma-separated", group="training")
    depths: str = option(DEPTHS, help="depth multipliers, comma-separated", group="training")
    batch_size: int = option(32, help="training examples per optimizer step", group="training")
    max_seq_len: int = option(128, help="tokens per example after truncation", group="data")
    learning_rate: str = option("1e-4", help="as the reference run's stage depth", group="training")
    checkpoint_choice: str = option(
        "last",
        help="last: no dev-set selection, so the comparison is not tilted by how often each evaluates",
        group="training",
        choices=("last", "best"),
    )
    eval_every: int = option(
        0, help="optimizer steps between dev evaluations (0: at the end only)", group="training"
    )
    save_every: int = option(
        250,
        help="steps between resumable checkpoints (a killed setting resumes from the last one)",
        group="training",
    )
    bucket: bool = option(
        True, help="train without length bucketing", group="data", flag="--no-bucket"
    )
    calibration_rounds: int = option(
        4, help="rounds of the seconds-per-step calibration of each setting", group="comparison"
    )


def build_parser():
    return argfields.command_parser(
        "python -m recipes.equal_compute",
        "Equal-compute comparison of stage depth: all sub-networks per step against K of them, at one budget.",
        "python -m recipes.equal_compute --from runs/sst2-minilm --out reports/sst2-minilm/equal-compute",
        EqualComputeOptions,
    )


def main(argv: list[str] | None = None) -> int:
    opts, _ = argfields.parse(build_parser(), argv)
    settings = check_args(opts)
    out, runs = Path(opts.out), Path(opts.runs or Path(opts.from_dir) / "equal-compute")
    out.mkdir(parents=True, exist_ok=True)
    cal_path = out / "calibration.json"
    cal = kept_calibration(cal_path, opts, settings) or calibrate(opts, settings)
    write_atomic(cal_path, json.dumps(cal, indent=1))
    from dynabert.engine import steps_per_epoch

    n_train = cal["train_examples"]
    plan = budget_plan(
        cal["seconds_per_step"],
        settings,
        opts.examples or n_train,
        opts.batch_size,
        steps_per_epoch(n_train, opts.batch_size, 1),
    )
    summaries = {name: train_setting(opts, name, e, runs) for name, e in plan["settings"].items()}
    from bench.report import portable_command

    command = portable_command([PY, "-m", "recipes.equal_compute", *(argv or sys.argv[1:])])
    print(f"done: {write_report(out, cal, plan, summaries, command)}")
    return 0


def cli(argv: list[str] | None = None) -> int:
    """main() as a command: a refusal (SystemExit with a message) becomes `error: MESSAGE` on stderr and exit
    status 2, as the other commands; argparse's own exits pass through."""
    try:
        return main(argv)
    except SystemExit as exc:
        if isinstance(exc.code, str):
            print(f"error: {exc.code.removeprefix('error: ')}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(cli())
