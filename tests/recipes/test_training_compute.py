"""Accuracy against training compute on synthetic summaries and logs: CPU time where the trainer recorded it,
train.log wall x cores where not (sessions split at a resume), controls measured or extrapolated by FLOPs."""

import json

import numpy as np
import pandas as pd
import pytest

from dynabert.config import default_grid
from recipes.training_compute import (
    calibrate,
    calibration_command,
    compute_lines,
    control_costs,
    fit_per_pass,
    train_log_seconds,
)

LOG = """2026-11-30 10:00:00 rewired with 'code' importance on 872 dev examples
2026-11-30 10:00:05 stage width: 4 sub-network(s), all trained every step, 100 train examples
2026-11-30 10:30:00 step 50: loss 1.0
2026-11-30 11:00:05 step 100: loss 0.9
2026-11-30 12:00:00 resumed from runs/x/width/checkpoint at step 100 of 200
2026-11-30 12:15:00 step 150: loss 0.8
2026-11-30 12:30:00 step 200: loss 0.7
"""


def summary(folder, steps, cpu=None, batch=32):
    folder.mkdir(parents=True)
    s = {
        "steps": steps,
        "batch_size_per_process": batch,
        "processes": 1,
        "config": {"batch_size": batch},
    }
    if cpu is not None:
        s["train_cpu_seconds"] = cpu
    (folder / "summary.json").write_text(json.dumps(s))


def test_train_log_seconds_sums_sessions_and_skips_the_gap_between_them(tmp_path):
    (tmp_path / "train.log").write_text(LOG)
    assert (
        train_log_seconds(tmp_path / "train.log") == 3605 + 1800
    )  # 10:00:00-11:00:05, then 12:00-12:30
    assert train_log_seconds(tmp_path / "missing.log") is None


def test_fit_per_pass_is_affine_through_two_controls_and_proportional_for_one():
    assert fit_per_pass([(1.0, 3.0), (2.0, 5.0)]) == pytest.approx((1.0, 2.0))
    assert fit_per_pass([(2.0, 4.0)]) == (0.0, 2.0)
    assert fit_per_pass([(1.0, 1.0), (2.0, 3.0)]) == (
        0.0,
        1.25,
    )  # a negative intercept: refitted through 0


def frames():
    rows = [
        dict(
            who="depth",
            family="dynabert",
            subnet_id=s.subnet_id,
            accuracy=80 + 10 * s.width_mult * s.depth_mult,
            flops=4e9 * s.width_mult * s.depth_mult,
        )
        for s in default_grid()
    ]
    rows += [
        dict(
            who="fixed-w0.25-d0.50",
            family="fixed-control",
            subnet_id="w0.25-d0.50",
            accuracy=82.0,
            flops=0,
        ),
        dict(
            who="fixed-w0.50-d0.50",
            family="fixed-control",
            subnet_id="w0.50-d0.50",
            accuracy=84.0,
            flops=0,
        ),
    ]
    acc = pd.DataFrame(rows)
    return acc, acc[acc.family == "dynabert"].set_index("subnet_id")


def test_controls_measured_where_trained_and_extrapolated_by_flops_elsewhere(tmp_path):
    acc, dyn = frames()
    runs = tmp_path / "runs"
    summary(runs / "fixed-w0.25-d0.50", 100, cpu=3600.0)  # 3200 passes, 1 core-hour, 0.5 GFLOPs
    summary(
        runs / "fixed-w0.50-d0.50", 100
    )  # no CPU time: its train.log, wall 1.5 h (2 sessions) x 1 core
    (runs / "fixed-w0.50-d0.50" / "train.log").write_text(LOG)
    table = control_costs(dyn, acc, runs, cores=1)
    assert table.loc["w0.25-d0.50"].core_hours == pytest.approx(1.0)
    assert table.loc["w0.50-d0.50"].core_hours == pytest.approx(5405 / 3600)
    assert (
        table.loc["w0.50-d0.50"].how == "wall x cores"
        and table.loc["w0.25-d0.50"].how == "CPU time"
    )
    # affine in FLOPs through the two: 0.5 GFLOPs -> 1.0 h, 1.0 GFLOPs -> 1.50 h, so 4 GFLOPs (1.0, 1.0) -> 4.51 h
    slope = (5405 / 3600 - 1.0) / 0.5e9
    assert table.loc["w1.00-d1.00"].core_hours == pytest.approx(1.0 + slope * 3.5e9)
    assert table.loc["w1.00-d1.00"].how == "extrapolated" and np.isnan(
        table.loc["w1.00-d1.00"].control
    )
    assert (table.how == "extrapolated").sum() == 10


def test_compute_section_draws_the_figure_and_states_totals(tmp_path):
    acc, dyn = frames()
    runs, out = tmp_path / "runs", tmp_path / "rep"
    summary(runs / "width", 2000, cpu=2 * 3600.0)
    summary(runs / "depth", 2000, cpu=4 * 3600.0)
    summary(runs / "teacher", 2000, cpu=3600.0)
    summary(runs / "fixed-w0.25-d0.50", 100, cpu=3600.0)
    text = "\n".join(compute_lines(acc, dyn, runs, out, cores=2))
    assert (out / "figures" / "accuracy_vs_training_compute.png").stat().st_size > 10_000
    assert "![accuracy vs training compute](figures/accuracy_vs_training_compute.png)" in text
    assert (
        "**6.00 CPU core-hours** for all 12 sub-networks" in text
        and "Teacher fine-tuning (1.00 core-hours, CPU time)" in text
    )
    # one control: proportional to FLOPs; sum of w x d over the grid 5.625 / 0.125 for the measured one = 45 h
    assert "**45.00 core-hours** (7.5x), of which 1.00 measured" in text
    assert text.count("extrapolated") >= 11 and "not trained" in text


def test_compute_section_says_why_it_is_missing(tmp_path):
    acc, dyn = frames()
    summary(tmp_path / "width", 10, cpu=1.0)
    summary(tmp_path / "depth", 10, cpu=1.0)
    text = "\n".join(compute_lines(acc, dyn, tmp_path, tmp_path / "rep", cores=2))
    assert "Not drawn: no fixed-size control with a summary.json" in text


def test_calibration_command_keeps_the_run_and_bounds_its_steps():
    cmd = (
        "python -m dynabert train --task sst2 --data-dir d --output-dir runs/x --bucket --eval-every 250 --stage depth "
        "--epochs 1 --max-train-samples 67349 --learning-rate 1e-4 --subnets-per-step 4 --batch-size 16"
    )
    argv = calibration_command(cmd, "/tmp/t", 10)
    flags = dict(zip(argv[4::1], argv[5::1]))
    assert (
        flags["--output-dir"] == "/tmp/t"
        and flags["--max-train-samples"] == "160"
        and flags["--epochs"] == "1"
    )
    assert (
        flags["--eval-every"] == "0"
        and flags["--subnets-per-step"] == "4"
        and flags["--stage"] == "depth"
    )
    assert (
        "--bucket" in argv
        and argv.count("--output-dir") == 1
        and "runs/x" not in argv
        and "67349" not in argv
    )
    with pytest.raises(ValueError, match="not a `python -m dynabert train` command"):
        calibration_command("python -m bench.sweep --model m", "/tmp/t", 10)


@pytest.mark.slow
def test_calibrate_reruns_each_folders_command_for_a_few_steps_and_the_report_uses_it(
    tmp_path, sst2_dir
):
    """Real short runs of a tiny teacher's stage width and a fixed-size control: CPU seconds per step measured;
    the compute section then costs each folder as its steps x that (`calibrated`), beside what it logged."""
    from dynabert.cli import main as dyn

    runs, out = tmp_path / "runs", tmp_path / "rep"
    out.mkdir()
    base = [
        "train",
        "--task",
        "sst2",
        "--data-dir",
        sst2_dir,
        "--model",
        "tiny",
        "--output-dir",
        str(runs),
        "--max-train-samples",
        "64",
        "--max-eval-samples",
        "32",
        "--batch-size",
        "16",
        "--eval-every",
        "0",
    ]
    assert dyn([*base, "--stage", "teacher"]) == 0
    log = {
        "teacher": {"command": " ".join(["python", "-m", "dynabert", *base, "--stage", "teacher"])}
    }
    teacher_summary = (runs / "teacher" / "summary.json").read_text()
    for name, extra in (
        ("stage1-width", ["--stage", "width"]),
        ("fixed-w0.50-d0.50", ["--baseline", "fixed", "--width", "0.5", "--depth", "0.5"]),
    ):
        assert dyn([*base, *extra]) == 0
        log[name] = {"command": " ".join(["python", "-m", "dynabert", *base, *extra])}
    (out / "steps.json").write_text(json.dumps(log))
    cal = calibrate(out, runs, ["teacher", "width", "fixed-w0.50-d0.50"], steps=3)
    assert {k: v["steps"] for k, v in cal.items()} == {
        "teacher": 3,
        "width": 3,
        "fixed-w0.50-d0.50": 3,
    }
    assert (
        runs / "teacher" / "summary.json"
    ).read_text() == teacher_summary  # re-run in a scratch folder
    assert all(
        v["cpu_seconds_per_step"] > 0 for v in cal.values()
    )  # (tiny steps: too short to rank by cost)
    from recipes.training_compute import folder_cost

    cost = folder_cost(runs, "width", 2, cal)
    steps = json.loads((runs / "width" / "summary.json").read_text())["steps"]
    assert (
        cost["how"] == "calibrated"
        and cost["core_hours"] == pytest.approx(steps * cal["width"]["cpu_seconds_per_step"] / 3600)
        and cost["logged_how"] == "CPU time"
    )
    with pytest.raises(ValueError, match="has no step 'stage2-depth': train depth first"):
        calibrate(out, runs, ["depth"], steps=3)


def test_calibrate_bad_inputs_are_named(tmp_path, capsys):
    from recipes.training_compute import main

    base = ["calibrate", "--out", str(tmp_path), "--runs", str(tmp_path / "runs")]
    cases = [
        ([], "steps.json not found"),
        (["--folders", ""], "--folders names no training folder"),
        (["--steps", "0"], "--steps must be at least 1"),
    ]
    for flags, message in cases:
        assert main([*base, *flags]) == 2
        assert message in capsys.readouterr().err
    (tmp_path / "steps.json").write_text("{\n")
    assert main(base) == 2
    assert "steps.json is not the reference run's step log" in capsys.readouterr().err


@pytest.mark.slow
def test_calibrate_checks_every_folder_first_and_keeps_each_result_as_measured(
    tmp_path, sst2_dir, capsys
):
    """Every folder is checked before any is measured (its steps.json entry and command, its finished run, the
    finished models it reads, named under --runs, never a scratch link), and each folder's result is written as
    soon as it is measured, so a later folder's failed run loses nothing."""
    from dynabert.cli import main as dyn
    from recipes.training_compute import main

    runs, out = tmp_path / "runs", tmp_path / "rep"
    out.mkdir()
    base = [
        "train",
        "--task",
        "sst2",
        "--data-dir",
        sst2_dir,
        "--model",
        "tiny",
        "--output-dir",
        str(runs),
        "--max-train-samples",
        "32",
        "--max-eval-samples",
        "16",
        "--batch-size",
        "16",
        "--eval-every",
        "0",
    ]
    assert dyn([*base, "--stage", "teacher"]) == 0
    summary(runs / "depth", 10)  # a finished stage depth whose stage width is not under --runs
    summary(runs / "fixed-w0.50-d0.50", 10)
    broken = [
        *base[:3],
        str(tmp_path / "no-data"),
        *base[4:],
        "--baseline",
        "fixed",
        "--width",
        "0.5",
        "--depth",
        "0.5",
    ]
    log = {
        "teacher": {"command": " ".join(["python", "-m", "dynabert", *base, "--stage", "teacher"])},
        "stage2-depth": {
            "command": " ".join(["python", "-m", "dynabert", *base, "--stage", "depth"])
        },
        "fixed-w0.50-d0.50": {"command": " ".join(["python", "-m", "dynabert", *broken])},
        "fixed-w0.25-d0.50": {"seconds": 3.0},
    }
    (out / "steps.json").write_text(json.dumps(log))
    cal = ["calibrate", "--out", str(out), "--runs", str(runs), "--steps", "2"]
    cases = [
        (
            "teacher,depth",
            f"depth trains from stage 'width', which has no finished model at "
            f"{(runs / 'width' / 'best').as_posix()} (--runs {runs.as_posix()})",
        ),
        ("teacher,fixed-w0.25-d0.50", "step 'fixed-w0.25-d0.50' has no \"command\""),
        (
            "teacher,baseline-tinybert",
            "has no step 'baseline-tinybert': train baseline-tinybert first",
        ),
    ]
    for folders, message in cases:
        assert main([*cal, "--folders", folders]) == 2
        got = capsys.readouterr()
        assert message in got.err and "/tmp" not in got.err.replace(str(tmp_path), "")
        assert (
            "CPU s/step" not in got.out and not (out / "compute-calibration.json").exists()
        )  # nothing measured
    assert (
        main([*cal, "--folders", "teacher,fixed-w0.50-d0.50"]) == 2
    )  # its run fails (no data) after teacher's
    err = capsys.readouterr().err
    assert "keeps the calibrations measured: teacher" in err
    kept = json.loads((out / "compute-calibration.json").read_text())
    assert list(kept["folders"]) == ["teacher"] and kept["folders"]["teacher"]["steps"] == 2
    assert not list(out.glob(".*.tmp"))


def test_calibrations_of_two_sittings_are_said_to_be_so():
    from recipes.training_compute import sitting_words

    one = {
        "when_utc": "2026-12-01 03:00 UTC",
        "load_avg_1min": 0.5,
        "folders": {
            "width": {"steps": 64, "when_utc": "2026-12-01 03:00 UTC"},
            "depth": {"steps": 64},
        },
    }
    assert (
        "64 steps from the same first batches, all in one sitting (2026-12-01 03:00 UTC, 1-min load average 0.50"
        in sitting_words(one)
    )
    one["folders"]["depth"]["when_utc"] = "2026-12-02 04:00 UTC"
    assert "in 2 sittings (2026-12-01 03:00 UTC, 2026-12-02 04:00 UTC;" in sitting_words(one)
