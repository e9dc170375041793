"""The reference run's documented command parses and passes its budget flags to the steps it runs."""

import json

import pytest

import recipes.reference_run as ref
import recipes.reference_summary as summary


def dry_run(tmp_path, monkeypatch, *argv, n_train=67349):
    ran = {}
    monkeypatch.setattr(
        ref, "step", lambda out, until, name, cmd, done=None, **k: ran.setdefault(name, cmd)
    )
    monkeypatch.setattr(summary, "write", lambda out, runs: out / "README.md")
    runs = tmp_path / "runs"
    (runs / "teacher").mkdir(parents=True, exist_ok=True)
    (runs / "teacher" / "summary.json").write_text(json.dumps({"train_examples": n_train}))
    assert ref.main([*argv, "--out", str(tmp_path / "rep"), "--runs", str(runs)]) == 0
    return ran


def flag(ran, name, key):
    cmd = ran[name]
    return cmd[cmd.index(key) + 1] if key in cmd else None


def test_documented_command_reaches_the_steps(tmp_path, monkeypatch):
    ran = dry_run(
        tmp_path,
        monkeypatch,
        "--width-samples",
        "8000",
        "--depth-samples",
        "8000",
        "--depth-lr",
        "1e-4",
    )
    assert (
        flag(ran, "stage1-width", "--max-train-samples") == "8000"
        and "--learning-rate" not in ran["stage1-width"]
    )
    assert flag(ran, "stage2-depth", "--max-train-samples") == "8000"
    assert (
        flag(ran, "stage2-depth", "--learning-rate") == "1e-4"
        and "--subnets-per-step" not in ran["stage2-depth"]
    )
    for name in (
        "baseline-distilbert",
        "baseline-tinybert",
        "fixed-w0.25-d0.50",
        "fixed-w0.50-d0.50",
    ):
        assert (
            flag(ran, name, "--max-train-samples") == "16000"
            and flag(ran, name, "--learning-rate") == "1e-4"
        )
        assert flag(ran, name, "--epochs") == "1"
    assert (
        flag(ran, "fixed-w0.50-d0.50", "--width") == "0.5"
        and flag(ran, "fixed-w0.50-d0.50", "--depth") == "0.5"
    )
    assert {
        "artifact-accuracy",
        "cpu-sweep",
        "arm-instructions",
        "pareto-report",
        "evaluate-fixed-w0.25-d0.50",
        "evaluate-fixed-w0.50-d0.50",
        "artifact-accuracy-fixed-w0.50-d0.50",
    } <= set(ran)


def test_full_epoch_run_keeps_the_running_steps_and_gives_baselines_both_stages_passes(
    tmp_path, monkeypatch
):
    """The command of runs/sst2-minilm-e1: teacher and stage1-width exactly as started (a resumed run continues
    them); stage 2 with K = 4; baselines see 2 x 67,349 example passes (two epochs of the whole set)."""
    ran = dry_run(
        tmp_path,
        monkeypatch,
        "--width-samples",
        "67349",
        "--depth-samples",
        "67349",
        "--subnets-per-step",
        "4",
        "--fixed",
        "0.25,0.5",
        "0.5,0.5",
        "1.0,0.5",
    )
    assert ran["stage1-width"][-6:] == [
        "--stage",
        "width",
        "--epochs",
        "1",
        "--max-train-samples",
        "67349",
    ]
    assert ran["teacher"][-8:] == [
        "--model",
        "minilm-l6",
        "--stage",
        "teacher",
        "--epochs",
        "1",
        "--learning-rate",
        "5e-5",
    ]
    assert flag(ran, "stage2-depth", "--subnets-per-step") == "4"
    for name in ("baseline-distilbert", "baseline-tinybert", "fixed-w1.00-d0.50"):
        assert flag(ran, name, "--epochs") == "2" and "--max-train-samples" not in ran[name]


def test_until_names_a_training_step_or_is_refused_before_any_step(tmp_path, monkeypatch, capsys):
    ran = []
    monkeypatch.setattr(ref, "step", lambda *a, **k: ran.append(a))
    with pytest.raises(SystemExit) as stop:
        ref.main(
            [
                "--out",
                str(tmp_path / "out"),
                "--runs",
                str(tmp_path / "runs"),
                "--until",
                "NOSUCHSTEP",
            ]
        )
    assert (
        stop.value.code == 2
        and "invalid choice: 'NOSUCHSTEP'" in capsys.readouterr().err
        and not ran
    )


def test_baselines_train_before_stage2_and_until_baselines_stops_there(tmp_path, monkeypatch):
    """The baselines need only the teacher and the budget: `--until baselines` trains them all and stops before
    stage 2, whose --subnets-per-step is chosen later."""
    order = []
    monkeypatch.setattr(ref, "step", lambda out, until, name, cmd, done=None: order.append(name))
    runs = tmp_path / "runs"
    (runs / "teacher").mkdir(parents=True)
    (runs / "teacher" / "summary.json").write_text(json.dumps({"train_examples": 67349}))
    assert (
        ref.main(["--out", str(tmp_path / "rep"), "--runs", str(runs), "--until", "baselines"]) == 0
    )
    assert order == [
        "teacher",
        "stage1-width",
        "baseline-distilbert",
        "baseline-tinybert",
        "fixed-w0.25-d0.50",
        "fixed-w0.50-d0.50",
    ]


def test_a_baseline_finished_with_another_budget_is_refused_by_name(tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    (runs / "baseline-tinybert").mkdir(parents=True)
    (runs / "baseline-tinybert" / "summary.json").write_text(
        json.dumps({"config": {"epochs": 1.0, "max_train_samples": 16000}})
    )
    with pytest.raises(SystemExit) as stop:
        dry_run(tmp_path, monkeypatch, "--width-samples", "67349", "--depth-samples", "67349")
    assert "baseline-tinybert was trained with --epochs 1.0 --max-train-samples 16000" in str(
        stop.value
    )
    assert "--epochs 2" in str(stop.value)
    (runs / "baseline-tinybert" / "summary.json").write_text(
        json.dumps({"config": {"epochs": 2.0, "max_train_samples": None}})
    )
    assert "baseline-tinybert" in dry_run(
        tmp_path, monkeypatch, "--width-samples", "67349", "--depth-samples", "67349"
    )


def test_budgets_beyond_the_train_set_become_epochs_for_the_stages_and_the_baselines(
    tmp_path, monkeypatch
):
    """The paper's 3 epochs per stage (--width-samples 3 x |train|): each stage trains 3 epochs, not one capped
    pass, and the baselines get the 6 epochs the two stages together saw."""
    ran = dry_run(tmp_path, monkeypatch, "--width-samples", "202047", "--depth-samples", "202047")
    for name, epochs in (("stage1-width", "3"), ("stage2-depth", "3"), ("baseline-tinybert", "6")):
        assert flag(ran, name, "--epochs") == epochs and "--max-train-samples" not in ran[name], (
            name
        )


def test_a_failing_step_stops_the_run_and_only_a_sweep_may_exit_1(tmp_path, capsys):
    import sys

    fail = [sys.executable, "-c", "raise SystemExit(1)"]
    with pytest.raises(SystemExit, match="step stage2-depth failed with exit 1"):
        ref.step(tmp_path, None, "stage2-depth", fail, tmp_path / "done")
    ref.step(
        tmp_path, None, "cpu-sweep", fail, tmp_path / "done", partial_ok=True
    )  # failed cells are records
    assert json.loads((tmp_path / "steps.json").read_text())["cpu-sweep"]["exit"] == 1
    refused = [
        (["--fixed", "0.25"], "--fixed '0.25': give each control as WIDTH,DEPTH"),
        (["--fixed", "0.3,0.5"], r"--fixed \(width\) 0.3: minilm-l6 has 12 heads per layer"),
        (["--fixed", "1.5,0.5"], r"1.5 is not in \(0, 1\]; .*in --fixed '1.5,0.5'"),
        (["--fixed", "0.25,0.5", "1/4,0.5"], "names one sub-network twice"),
        (["--subnets-per-step", "99"], "--subnets-per-step 99 exceeds the 12 sub-network"),
        (["--width-subnets-per-step", "1"], "--subnets-per-step must be an integer >= 2"),
        (["--width-samples", "-5"], "--width-samples must be at least 1"),
    ]
    for flags, message in refused:  # before any step: nothing trains hours before the flag is read
        with pytest.raises(SystemExit, match=message):
            ref.main(["--out", str(tmp_path / "o"), "--runs", str(tmp_path / "r"), *flags])
    assert not (tmp_path / "o").exists()
    assert ref.fixed_folders(ref.ReferenceRunOptions(fixed=["4/12,0.5"])) == [
        ("0.3333333333333333", "0.5", "fixed-w0.33-d0.50")
    ]


def test_another_runs_report_is_refused_before_any_step(tmp_path, monkeypatch):
    """A fresh clone's committed report (steps.json says the training finished; no checkpoints here) is never
    resumed into: its evaluation and sweep steps would be skipped and its records mixed with this run's."""
    rep = tmp_path / "rep"
    rep.mkdir()
    (rep / "steps.json").write_text(
        json.dumps(
            {
                "stage1-width": {
                    "seconds": 1,
                    "command": "python -m dynabert train --task sst2 --stage width",
                },
                "evaluate-teacher": {
                    "seconds": 1,
                    "command": "python -m dynabert evaluate --task sst2",
                },
            }
        )
    )
    with pytest.raises(
        SystemExit, match=r"step 'stage1-width' finished, but .*width has no checkpoint.*new --out"
    ):
        dry_run(tmp_path, monkeypatch)
    (rep / "steps.json").write_text("{")
    with pytest.raises(SystemExit, match=r"steps.json: not JSON"):
        dry_run(tmp_path, monkeypatch)
    (rep / "steps.json").write_text(
        json.dumps({"teacher": {"seconds": 1, "command": "python -m dynabert train"}})
    )
    assert "teacher" in dry_run(
        tmp_path, monkeypatch
    )  # the checkpoint is here: the same run resumes
