"""The reference run: DynaBERT on SST-2 from the packaged MiniLM, end to end, on a CPU machine (2 cores here).

teacher -> stage 1 -> same-teacher baselines (DistilBERT-style, TinyBERT-style, fixed-size controls; they need only
the teacher and the budget, so they train before stage 2, while --subnets-per-step is being chosen) -> stage 2 ->
dev accuracy of the 12 sub-networks, the teacher and the baselines -> CPU sweep (5 runtimes, seq 128, 1 thread)
-> emulated-ARM instruction counts -> Pareto report. Every step is skipped when its output exists (resumable)
and its wall time is logged to OUT/steps.json.
`python -m recipes.reference_run --data-dir ../shared/data/glue/SST-2 --out reports/sst2-minilm`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import argfields
from argfields import option
from dynabert.config import DEFAULT_DEPTHS, DEFAULT_WIDTHS, check_grid, parse_mults

PY = sys.executable


class Until(Exception):
    """Raised after the step named by --until has run (or was found done)."""


def step(
    out: Path,
    until: str | None,
    name: str,
    cmd: list[str],
    done: Path | None = None,
    partial_ok: bool = False,
) -> None:
    """Run `cmd` unless `done` exists; log its wall time (and the command) to OUT/steps.json; raise Until after the
    step named `until`. Any non-zero exit stops the run (SystemExit naming the step), except exit 1 of a sweep
    (`partial_ok`: some cells failed, and their failures are records too)."""
    log_path = out / "steps.json"
    log = json.loads(log_path.read_text()) if log_path.exists() else {}
    if done is not None and done.exists() and name in log:
        print(f"[skip] {name}: {done} exists")
        if name == until:
            raise Until(name)
        return
    print(f"[run] {name}: {' '.join(cmd)}", flush=True)
    t0 = time.time()
    proc = subprocess.run(cmd, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    if proc.returncode not in ((0, 1) if partial_ok else (0,)):
        raise SystemExit(
            f"step {name} failed with exit {proc.returncode} (its message is above); fix it and run the "
            f"same command again: finished steps are kept"
        )
    from bench.report import portable_command

    log[name] = {
        "seconds": round(time.time() - t0, 1),
        "command": portable_command(cmd),
        "exit": proc.returncode,
        "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    log_path.write_text(json.dumps(log, indent=1))
    if name == until:
        raise Until(name)


@dataclass(kw_only=True)
class ReferenceRunOptions:
    """`python -m recipes.reference_run`: its options."""

    data_dir: str = option(
        "../shared/data/glue/SST-2",
        help=("GLUE SST-2 folder (train.tsv, dev.tsv)"),
        group="folders",
    )
    out: str = option(
        "reports/sst2-minilm",
        help=(
            "report folder (steps.json, records, README); a new one for a run of your own: "
            "the committed report belongs to its checkpoints"
        ),
        group="folders",
    )
    runs: str = option(
        "runs/sst2-minilm", help=("checkpoints (large; not committed)"), group="folders"
    )
    width_samples: int = option(
        24000,
        help=(
            "stage-1 example passes: the first N train rows once, or N / |train| epochs when "
            "N is larger (e.g. 3 x 67349 for the paper's 3 epochs)"
        ),
        group="training",
    )
    depth_samples: int = option(
        16000, help=("stage-2 example passes, as --width-samples"), group="training"
    )
    depth_lr: str = option(
        "1e-4",
        help=(
            "learning rate of stage 2 and of the baselines (stage 1 keeps the paper's 2e-5); "
            "2e-5 over a few thousand examples leaves the small sub-networks far behind"
        ),
        group="training",
    )
    subnets_per_step: int | None = option(
        None,
        help=(
            "stage 2 (depth): K sub-networks per step by the sandwich rule (default all 12, "
            "the paper)"
        ),
        group="training",
        metavar="K",
    )
    width_subnets_per_step: int | None = option(
        None,
        help=("stage 1 (width): K of the 4 widths per step (default all)"),
        group="training",
        metavar="K",
    )
    fixed: list[str] = option(
        ["0.25,0.5", "0.5,0.5"],
        help=("width,depth of each fixed-size control (one sub-network trained alone)"),
        group="training",
        nargs="+",
        metavar="W,D",
    )
    arm_seq_len: int = option(
        32, help=("sequence length of the emulated-ARM instruction counts"), group="measurement"
    )
    until: str | None = option(
        None,
        help=(
            "stop after this training step: run the steps that do not depend on a later "
            "choice now (e.g. baselines before choosing --subnets-per-step; 'baselines' = all"
            " of them), the rest later with the same --out/--runs"
        ),
        group="steps",
        choices=("teacher", "stage1-width", "baselines", "stage2-depth"),
    )


def build_parser():
    return argfields.command_parser(
        "python -m recipes.reference_run",
        "The reference run: DynaBERT on SST-2 from the packaged MiniLM, end to end, on a CPU machine.",
        "python -m recipes.reference_run --out reports/my-run --runs runs/my-run",
        ReferenceRunOptions,
    )


def main(argv: list[str] | None = None) -> int:
    opts, _ = argfields.parse(build_parser(), argv)
    check_flags(opts)  # refused now, not hours later when the step that reads it starts
    out, runs = Path(opts.out), Path(opts.runs)
    check_report_matches_runs(out, runs)
    out.mkdir(parents=True, exist_ok=True)
    try:
        train_steps(opts, out, runs)
        evaluate_steps(opts, out, runs)
        measure_steps(opts, out, runs)
    except Until as stop:
        print(f"stopped after {stop} (--until); run the same command without --until to go on")
        return 0
    from recipes.reference_summary import write

    print(f"done: {write(out, runs)} and {out}/index.md; step times in {out}/steps.json")
    return 0


def check_report_matches_runs(out: Path, runs: Path) -> None:
    """Refuse an --out whose steps.json says a training step finished while its checkpoint is not under --runs: a
    committed report (another machine's run, e.g. in a fresh clone) would otherwise have its finished evaluation and
    sweep steps skipped and its records mixed with this run's. SystemExit names the step, the folder and the fix."""
    log_path = out / "steps.json"
    try:
        log = json.loads(log_path.read_text()) if log_path.is_file() else {}
    except json.JSONDecodeError as err:
        raise SystemExit(
            f"{log_path}: not JSON ({err}); move it away (the steps it lists then run again)"
        ) from None
    for name, entry in log.items():
        if (
            " -m dynabert train "
            not in f" {entry.get('command', '') if isinstance(entry, dict) else ''} "
        ):
            continue
        folder = runs / {"stage1-width": "width", "stage2-depth": "depth"}.get(name, name)
        if not (folder / "summary.json").is_file():
            raise SystemExit(
                f"{out} holds the report of a run whose step {name!r} finished, but {folder} has no "
                f"checkpoint (summary.json): it is another run's report (e.g. the committed one). "
                f"Give a new --out (e.g. --out reports/my-run) or the --runs folder it was made with"
            )


def check_flags(opts: ReferenceRunOptions) -> None:
    """Every flag against MiniLM-L6's default grid before any step runs: --fixed pairs (dynabert.config.check_grid;
    fractions like 4/12 too; each pair once), K within its stage's grid, budgets >= 1. SystemExit naming the flag."""
    from dynabert.presets import load_size
    from dynabert.sampling import check_subnets_per_step

    size = load_size("minilm-l6")
    try:
        for flag in ("width_samples", "depth_samples"):
            if getattr(opts, flag) < 1:
                raise ValueError(
                    f"--{flag.replace('_', '-')} must be at least 1 example pass, got {getattr(opts, flag)}"
                )
        for k, n, stage in (
            (opts.subnets_per_step, len(DEFAULT_WIDTHS) * len(DEFAULT_DEPTHS), "depth"),
            (opts.width_subnets_per_step, len(DEFAULT_WIDTHS), "width"),
        ):
            if k is not None:
                check_subnets_per_step(k, n, stage)
        pairs = [
            check_grid(
                parse_mults(w, "fixed width"),
                parse_mults(d, "fixed depth"),
                size,
                "minilm-l6",
                ("--fixed (width)", "--fixed (depth)"),
            )[0]
            for w, d, _ in fixed_folders(opts)
        ]
        if len({p.subnet_id for p in pairs}) != len(pairs):
            raise ValueError(
                f"--fixed {' '.join(opts.fixed)} names one sub-network twice; give each control once"
            )
    except ValueError as err:
        raise SystemExit(f"error: {err}") from None


def fixed_folders(opts: ReferenceRunOptions) -> list[tuple[str, str, str]]:
    """(width, depth, folder) of each fixed-size control named by --fixed."""
    out = []
    for pair in opts.fixed:
        if pair.count(",") != 1:
            raise SystemExit(
                f"--fixed {pair!r}: give each control as WIDTH,DEPTH multipliers, e.g. --fixed "
                "0.25,0.5 0.5,0.5"
            )
        try:
            w, d = (
                str(parse_mults(x, "fixed")[0]) for x in pair.split(",")
            )  # 4/12 -> 0.333..., as the trainer takes
        except ValueError as err:
            raise SystemExit(
                f"error: {err} (in --fixed {pair!r}: WIDTH,DEPTH multipliers, e.g. 0.25,0.5)"
            ) from None
        out.append((w, d, f"fixed-w{float(w):.2f}-d{float(d):.2f}"))
    return out


def baseline_budget(opts: ReferenceRunOptions, runs: Path) -> list[str]:
    """Flags giving a baseline as many example passes as stages width + depth together: the first N train rows
    once when N fits the train set, else the whole set for N / |train| epochs (|train| from the teacher's summary,
    which trained on all of it)."""
    passes = opts.width_samples + opts.depth_samples
    return passes_flags(passes, runs)


def passes_flags(passes: int, runs: Path) -> list[str]:
    """Trainer flags for `passes` example passes: the first N train rows once when N fits the train set, else the
    whole set for N / |train| epochs (|train| from the finished teacher's summary)."""
    n_train = json.loads((runs / "teacher" / "summary.json").read_text())["train_examples"]
    if passes <= n_train:
        return ["--epochs", "1", "--max-train-samples", str(passes)]
    return ["--epochs", f"{passes / n_train:.6g}"]


def check_finished_budget(folder: Path, budget: list[str]) -> None:
    """A baseline finished with another budget (e.g. trained with --until baselines under other --width-samples /
    --depth-samples) would be skipped and compared unfairly: SystemExit naming the folder and the fix."""
    summary = folder / "summary.json"
    if not summary.exists():
        return
    cfg = json.loads(summary.read_text()).get("config", {})
    want = dict(zip(budget[::2], budget[1::2]))
    got_epochs, got_rows = cfg.get("epochs"), cfg.get("max_train_samples")
    want_rows = int(want["--max-train-samples"]) if "--max-train-samples" in want else None
    if (
        got_epochs is None
        or abs(float(got_epochs) - float(want["--epochs"])) > 1e-6
        or got_rows != want_rows
    ):
        raise SystemExit(
            f"{folder} was trained with --epochs {got_epochs} --max-train-samples {got_rows}, but "
            f"--width-samples + --depth-samples now give {' '.join(budget)}: give the flags it was "
            f"trained with, or delete {folder} to retrain it"
        )


def train_steps(opts: ReferenceRunOptions, out: Path, runs: Path) -> None:
    """Teacher, stage 1, the same-budget baselines, stage 2 (step names and folders fixed: a run resumes)."""
    common = [
        "--task",
        "sst2",
        "--data-dir",
        opts.data_dir,
        "--output-dir",
        str(runs),
        "--bucket",
        "--eval-every",
        "250",
        "--logging-steps",
        "50",
    ]
    train = [PY, "-m", "dynabert", "train", *common]
    step(
        out,
        opts.until,
        "teacher",
        [
            *train,
            "--model",
            "minilm-l6",
            "--stage",
            "teacher",
            "--epochs",
            "1",
            "--learning-rate",
            "5e-5",
        ],
        runs / "teacher" / "summary.json",
    )
    k_width = (
        ["--subnets-per-step", str(opts.width_subnets_per_step)]
        if opts.width_subnets_per_step
        else []
    )
    step(
        out,
        opts.until,
        "stage1-width",
        [*train, "--stage", "width", *passes_flags(opts.width_samples, runs), *k_width],
        runs / "width" / "summary.json",
    )
    budget = baseline_budget(opts, runs)
    jobs = [
        ("baseline-distilbert", ["--baseline", "distilbert"]),
        ("baseline-tinybert", ["--baseline", "tinybert"]),
    ]
    jobs += [
        (folder, ["--baseline", "fixed", "--width", w, "--depth", d])
        for w, d, folder in fixed_folders(opts)
    ]
    for folder, extra in jobs:
        check_finished_budget(runs / folder, budget)
        step(
            out,
            opts.until,
            folder,
            [*train, *extra, *budget, "--learning-rate", opts.depth_lr],
            runs / folder / "summary.json",
        )
    if opts.until == "baselines":
        raise Until("baselines")
    k_depth = ["--subnets-per-step", str(opts.subnets_per_step)] if opts.subnets_per_step else []
    step(
        out,
        opts.until,
        "stage2-depth",
        [
            *train,
            "--stage",
            "depth",
            *passes_flags(opts.depth_samples, runs),
            "--learning-rate",
            opts.depth_lr,
            *k_depth,
        ],
        runs / "depth" / "summary.json",
    )


def evaluate_steps(opts: ReferenceRunOptions, out: Path, runs: Path) -> None:
    """Dev accuracy of every sub-network, the teacher, the baselines and the fixed-size controls."""
    store = out / "records.jsonl"
    ev = [
        PY,
        "-m",
        "dynabert",
        "evaluate",
        "--task",
        "sst2",
        "--data-dir",
        opts.data_dir,
        "--results",
        str(store),
    ]
    step(
        out,
        opts.until,
        "evaluate-dynabert",
        [*ev, "--checkpoint", str(runs / "depth")],
        out / ".evaluated-dynabert",
    )
    (out / ".evaluated-dynabert").touch()
    step(
        out,
        opts.until,
        "evaluate-teacher",
        [
            *ev,
            "--checkpoint",
            str(runs / "teacher"),
            "--widths",
            "1.0",
            "--depths",
            "1.0",
            "--family",
            "baseline",
        ],
        out / ".evaluated-teacher",
    )
    (out / ".evaluated-teacher").touch()
    for folder in ("baseline-distilbert", "baseline-tinybert"):
        step(
            out,
            opts.until,
            f"evaluate-{folder}",
            [
                *ev,
                "--checkpoint",
                str(runs / folder),
                "--widths",
                "1.0",
                "--depths",
                "1.0",
                "--family",
                "baseline",
            ],
            out / f".evaluated-{folder}",
        )
        (out / f".evaluated-{folder}").touch()
    for w, d, fixed in fixed_folders(opts):
        step(
            out,
            opts.until,
            f"evaluate-{fixed}",
            [
                *ev,
                "--checkpoint",
                str(runs / fixed),
                "--widths",
                w,
                "--depths",
                d,
                "--family",
                "fixed-control",
            ],
            out / f".evaluated-{fixed}",
        )
        (out / f".evaluated-{fixed}").touch()


def measure_steps(opts: ReferenceRunOptions, out: Path, runs: Path) -> None:
    """CPU sweep, emulated-ARM counts, the artifacts' own accuracy, and the Pareto report."""
    store = out / "records.jsonl"
    sweep = [
        PY,
        "-m",
        "bench.sweep",
        "--runtimes",
        "torch,onnxruntime,onnxruntime-int8,litert,litert-int8",
        "--threads",
        "1",
        "--seq-len",
        "128",
        "--task",
        "sst2",
        "--processes",
        "3",
        "--results",
        str(store),
    ]
    step(
        out,
        opts.until,
        "cpu-sweep",
        [
            *sweep,
            "--model",
            str(runs / "depth"),
            "--baselines",
            f"{runs / 'teacher'},{runs / 'baseline-distilbert'},{runs / 'baseline-tinybert'}",
        ],
        out / ".swept-cpu",
        partial_ok=True,
    )
    (out / ".swept-cpu").touch()
    step(
        out,
        opts.until,
        "arm-instructions",
        [
            PY,
            "-m",
            "bench.sweep",
            "--devices",
            "qemu-arm",
            "--runtimes",
            "onnxruntime,litert",
            "--threads",
            "1",
            "--seq-len",
            str(opts.arm_seq_len),
            "--task",
            "sst2",
            "--results",
            str(store),
            "--model",
            str(runs / "depth"),
        ],
        out / ".swept-arm",
        partial_ok=True,
    )
    (out / ".swept-arm").touch()
    arts = [
        PY,
        "-m",
        "bench.artifact_accuracy",
        "--task",
        "sst2",
        "--data-dir",
        opts.data_dir,
        "--runtimes",
        "onnxruntime,onnxruntime-int8,litert,litert-int8",
        "--results",
        str(store),
    ]
    step(
        out,
        opts.until,
        "artifact-accuracy",
        [*arts, "--checkpoint", str(runs / "depth")],
        out / ".artifact-accuracy",
    )
    others = [
        ("teacher", "baseline", ("1.0", "1.0")),
        ("baseline-distilbert", "baseline", ("1.0", "1.0")),
        ("baseline-tinybert", "baseline", ("1.0", "1.0")),
    ]
    for folder, family, wd in others + [
        (f, "fixed-control", (w, d)) for w, d, f in fixed_folders(opts)
    ]:
        step(
            out,
            opts.until,
            f"artifact-accuracy-{folder}",
            [
                *arts,
                "--checkpoint",
                str(runs / folder),
                "--widths",
                wd[0],
                "--depths",
                wd[1],
                "--family",
                family,
            ],
            out / ".artifact-accuracy",
        )
    (out / ".artifact-accuracy").touch()
    step(
        out,
        opts.until,
        "pareto-report",
        [
            PY,
            "-m",
            "bench.pareto",
            "--results",
            str(store),
            "--task",
            "sst2",
            "--out",
            str(out),
            "--title",
            f"DynaBERT on SST-2 from MiniLM-L6 (reference run, {os.cpu_count()}-CPU machine)",
        ],
    )


if __name__ == "__main__":
    sys.exit(main())
