"""Each stage end to end from the CLI on the tiny model and a few hundred SST-2 rows; resume after a real kill."""

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dynabert.cli import main
from dynabert.engine import CHECKPOINT_MARK
from records import read

from messages import assert_names

ROOT = Path(__file__).resolve().parents[2]


def train_args(sst2, out, stage, *extra):
    return [
        "train",
        "--task",
        "sst2",
        "--data-dir",
        sst2,
        "--model",
        "tiny",
        "--output-dir",
        str(out),
        "--stage",
        stage,
        "--max-train-samples",
        "320",
        "--max-eval-samples",
        "64",
        "--batch-size",
        "16",
        "--epochs",
        "2",
        "--learning-rate",
        "1e-3",
        "--eval-every",
        "0",
        "--logging-steps",
        "1",
        *extra,
    ]


def losses(log: Path) -> list[float]:
    return [float(x) for x in re.findall(r": loss ([0-9.]+)", log.read_text())]


@pytest.mark.slow
def test_all_stages_then_evaluate(tmp_path, sst2_dir):
    out = tmp_path / "run"
    assert main(train_args(sst2_dir, out, "all")) == 0
    assert main(train_args(sst2_dir, out, "final")) == 0
    for stage in ("teacher", "width", "depth", "final"):
        log = losses(out / stage / "train.log")
        assert len(log) == 40, stage
        assert sum(log[-5:]) < sum(log[:5]), f"{stage}: loss did not fall: {log[:5]} -> {log[-5:]}"
        summary = json.loads((out / stage / "summary.json").read_text())
        assert summary["steps"] == 40 and "optimistic" in summary["warning"]
    depth = json.loads((out / "depth" / "summary.json").read_text())
    assert len(depth["final_dev"]["dev"]) == 12
    assert "rewired" in (out / "width" / "train.log").read_text()
    # a finished stage is skipped, not retrained
    assert main(train_args(sst2_dir, out, "depth")) == 0
    assert len(losses(out / "depth" / "train.log")) == 40
    store = tmp_path / "acc.jsonl"
    assert (
        main(
            [
                "evaluate",
                "--checkpoint",
                str(out),
                "--task",
                "sst2",
                "--data-dir",
                sst2_dir,
                "--results",
                str(store),
            ]
        )
        == 0
    )
    recs = read(store)
    assert len(recs) == 12 and {r.kind for r in recs} == {"accuracy"}
    assert all(0 <= r.metric_value <= 1 and r.split.startswith("dev") for r in recs)
    assert recs[0].model_id.endswith("final/best")


def test_width_stage_needs_teacher(tmp_path, sst2_dir, capsys):
    assert main(train_args(sst2_dir, tmp_path, "width")) == 2
    assert "no finished model" in capsys.readouterr().err


def kill_at_first_checkpoint(cmd: list[str], env: dict, state: Path) -> None:
    """Start a training command and SIGKILL it as soon as its checkpoint's state file exists (or it ends)."""
    proc = subprocess.Popen(
        cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.time() + 120
    while not state.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


@pytest.mark.slow
def test_resume_after_kill_matches_uninterrupted(tmp_path, sst2_dir):
    def args(out):
        return [
            sys.executable,
            "-m",
            "dynabert",
            *train_args(
                sst2_dir,
                out,
                "teacher",
                "--max-train-samples",
                "640",
                "--epochs",
                "1",
                "--eval-every",
                "5",
                "--checkpoint-choice",
                "last",
            ),
        ]

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TQDM_DISABLE": "1"}
    whole = tmp_path / "whole"
    subprocess.run(args(whole), check=True, env=env, cwd=ROOT, capture_output=True)

    cut = tmp_path / "cut"
    state = cut / "teacher" / "checkpoint" / CHECKPOINT_MARK
    kill_at_first_checkpoint(args(cut), env, state)
    assert state.exists() and not (cut / "teacher" / "summary.json").exists(), (
        "the kill came too late to test resume"
    )
    subprocess.run(args(cut), check=True, env=env, cwd=ROOT, capture_output=True)

    log = (cut / "teacher" / "train.log").read_text()
    assert "resumed from" in log
    a = json.loads((whole / "teacher" / "summary.json").read_text())
    b = json.loads((cut / "teacher" / "summary.json").read_text())
    assert a["steps"] == b["steps"] == 40
    assert a["final_dev"] == b["final_dev"]
    assert (whole / "teacher" / "best" / "model.safetensors").read_bytes() == (
        cut / "teacher" / "best" / "model.safetensors"
    ).read_bytes()


def fake_width_stage(out: Path) -> Path:
    """OUT/width/best: a tiny model standing in for a finished stage width (stage depth starts from it)."""
    from dynabert.presets import load_model, load_tokenizer

    load_model("tiny", num_labels=2, seed=0).save_pretrained(out / "width" / "best")
    load_tokenizer("tiny").save_pretrained(out / "width" / "best")
    return out


def depth_args(sst2, out, *extra):
    return [
        sys.executable,
        "-m",
        "dynabert",
        *train_args(
            sst2,
            out,
            "depth",
            "--max-train-samples",
            "160",
            "--epochs",
            "1",
            "--eval-every",
            "4",
            "--checkpoint-choice",
            "last",
            *extra,
        ),
    ]


@pytest.mark.slow
def test_sampled_depth_stage_resumes_bit_exact_after_kill(tmp_path, sst2_dir):
    """--subnets-per-step 4 of 12: the draw depends on (seed, step) only, so a killed and resumed run trains the
    same sub-networks at every step as an uninterrupted one, and ends with the same bytes. No dev evaluation before
    the end (--eval-every 0): the checkpoint it resumes from is --save-every's."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TQDM_DISABLE": "1"}
    whole, cut = fake_width_stage(tmp_path / "whole"), fake_width_stage(tmp_path / "cut")
    k4 = ["--subnets-per-step", "4", "--eval-every", "0", "--save-every", "4"]
    subprocess.run(
        depth_args(sst2_dir, whole, *k4), check=True, env=env, cwd=ROOT, capture_output=True
    )
    state = cut / "depth" / "checkpoint" / CHECKPOINT_MARK
    kill_at_first_checkpoint(depth_args(sst2_dir, cut, *k4), env, state)
    assert state.exists() and not (cut / "depth" / "summary.json").exists(), (
        "the kill came too late to test resume"
    )
    other = subprocess.run(
        depth_args(sst2_dir, cut, "--subnets-per-step", "6"),
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )  # another K would leave a summary true of part of the steps
    assert (
        other.returncode == 2 and "was started with --subnets-per-step 4 of 12" in other.stderr
    ), other.stderr
    seed = subprocess.run(
        depth_args(sst2_dir, cut, *k4, "--seed", "7"),
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )  # other batches and draws spliced onto the first steps
    assert (
        seed.returncode == 2 and "was started with another schedule (seed 42 -> 7)" in seed.stderr
    ), seed.stderr
    lr = subprocess.run(
        depth_args(sst2_dir, cut, *k4, "--learning-rate", "1"),
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert lr.returncode == 2 and "another schedule (learning_rate 0.001 -> 1.0)" in lr.stderr, (
        lr.stderr
    )
    subprocess.run(
        depth_args(sst2_dir, cut, *k4), check=True, env=env, cwd=ROOT, capture_output=True
    )
    log = (cut / "depth" / "train.log").read_text()
    assert "resumed from" in log and "sum over 4 of 12 sub-networks" in log
    assert "step 4: dev" not in log  # the checkpoint came without an evaluation
    a = json.loads((whole / "depth" / "summary.json").read_text())
    b = json.loads((cut / "depth" / "summary.json").read_text())
    assert (
        a["steps"] == b["steps"] == 10 and a["subnets_per_step"] == 4 and a["subnets_in_grid"] == 12
    )
    assert (
        0 < a["train_cpu_seconds"] and 0 < b["train_cpu_seconds"]
    )  # the loop's CPU time, carried over the resume
    assert (
        len(a["final_dev"]["dev"]) == 12
    )  # every sub-network is evaluated, trained this step or not
    assert a["final_dev"] == b["final_dev"]
    assert (whole / "depth" / "best" / "model.safetensors").read_bytes() == (
        cut / "depth" / "best" / "model.safetensors"
    ).read_bytes()


@pytest.mark.slow
def test_subnets_per_step_all_trains_as_without_the_flag(tmp_path, sst2_dir):
    """K = the grid size is the paper's loop: same bytes as no flag; K < all trains a different model."""

    def run(name, *extra):
        out = fake_width_stage(tmp_path / name)
        assert (
            main(
                depth_args(
                    sst2_dir,
                    out,
                    "--max-train-samples",
                    "64",
                    "--widths",
                    "1.0,0.5",
                    "--depths",
                    "1.0,0.5",
                    *extra,
                )[3:]
            )
            == 0
        )
        return (out / "depth" / "best" / "model.safetensors").read_bytes()

    plain = run("plain")
    assert run("k4", "--subnets-per-step", "4") == plain
    assert run("k2", "--subnets-per-step", "2") != plain


def test_subnets_per_step_takes_all_or_an_integer():
    from dynabert.train_config import subnets_per_step_arg

    assert subnets_per_step_arg("all") is None and subnets_per_step_arg("4") == 4
    with pytest.raises(argparse.ArgumentTypeError, match="not an integer K >= 2 or 'all'"):
        subnets_per_step_arg("four")


def test_one_point_grid_refuses_a_k(tmp_path, sst2_dir, capsys):
    assert (
        main(train_args(sst2_dir, tmp_path, "width", "--widths", "1.0", "--subnets-per-step", "2"))
        == 2
    )
    assert_names(
        capsys.readouterr().err,
        "--subnets-per-step 2",
        "1 sub-network(s) of stage width",
        "at most 1",
    )


def test_subnets_per_step_beyond_the_grid_is_refused(tmp_path, sst2_dir, capsys):
    assert main(train_args(sst2_dir, tmp_path, "all", "--subnets-per-step", "6")) == 2
    err = capsys.readouterr().err
    assert_names(err, "--subnets-per-step 6", "4 sub-network(s) of stage width", "at most 4")
    assert not (tmp_path / "teacher").exists()  # refused before the teacher trained


@pytest.mark.slow
def test_finished_stage_rerun_with_another_k_or_grid_is_refused(tmp_path, sst2_dir, capsys):
    """A finished stage used to be skipped whatever K or grid the rerun asked for: silently not what was asked."""
    out = fake_width_stage(tmp_path / "run")

    def depth(*extra):
        return main(
            train_args(
                sst2_dir,
                out,
                "depth",
                "--max-train-samples",
                "16",
                "--epochs",
                "1",
                "--max-eval-samples",
                "16",
                *extra,
            )
        )

    assert depth("--subnets-per-step", "4") == 0
    summary_path = out / "depth" / "summary.json"
    summary = json.loads(summary_path.read_text())
    assert summary["sampling"]["subnets_per_step"] == 4 and len(summary["sampling"]["grid"]) == 12
    capsys.readouterr()
    for extra, asks in (
        (["--subnets-per-step", "2"], "asks for --subnets-per-step 2 of the same 12."),
        ([], "asks for all (the default) of the same 12."),
        (["--subnets-per-step", "4", "--depths", "1.0,0.5"], "asks for --subnets-per-step 4 of 8"),
    ):
        assert depth(*extra) == 2
        err = capsys.readouterr().err
        assert (
            f"stage depth in {out / 'depth'} is finished (summary.json): it was trained with --subnets-per-step "
            f"4 of 12 sub-network(s) per step (w1.00-d1.00, "
            in err
            and asks in err
        )
        assert_names(err, "give another --output-dir", "run with the --subnets-per-step")
    assert depth("--subnets-per-step", "4") == 0  # the same flags: skipped as done
    assert "stage depth: already finished" in capsys.readouterr().out
    del summary["sampling"]  # a summary written before `sampling` was saved: read from its config
    summary_path.write_text(json.dumps(summary))
    assert depth("--subnets-per-step", "3") == 2
    assert "trained with --subnets-per-step 4 of 12" in capsys.readouterr().err
    assert depth("--subnets-per-step", "4") == 0


def interrupted_depth(sst2, out):
    """A finished tiny stage depth made into one interrupted after step 1: its checkpoint (written at step 1 of 2 by
    --save-every 1) kept, its summary.json removed. Returns the command (in-process argv) that resumes it."""

    def depth(*extra):
        return main(
            train_args(
                sst2,
                out,
                "depth",
                "--max-train-samples",
                "32",
                "--epochs",
                "1",
                "--max-eval-samples",
                "16",
                "--save-every",
                "1",
                *extra,
            )
        )

    fake_width_stage(out)
    assert depth() == 0
    (out / "depth" / "summary.json").unlink()
    assert json.loads((out / "depth" / "checkpoint" / CHECKPOINT_MARK).read_text())["step"] == 1
    return depth


@pytest.mark.slow
def test_resume_with_other_training_flags_is_refused(tmp_path, sst2_dir, capsys):
    """A resume with --bucket, --teacher-width, --depth-lambda1 or --max-grad-norm changed used to splice two
    differently trained runs silently (the summary recording only the second flags)."""
    out = tmp_path / "run"
    depth = interrupted_depth(sst2_dir, out)
    capsys.readouterr()
    assert (
        depth(
            "--bucket",
            "--teacher-width",
            "matched",
            "--depth-lambda1",
            "5",
            "--max-grad-norm",
            "0.1",
        )
        == 2
    )
    err = capsys.readouterr().err
    assert f"{out / 'depth' / 'checkpoint'} was started with other flags (" in err
    for change in (
        "--bucket: False -> True",
        "--teacher-width: full -> matched",
        "--depth-lambda1: 1.0 -> 5.0",
        "--max-grad-norm: 1.0 -> 0.1",
    ):
        assert change in err, err
    assert f"delete {out / 'depth' / 'checkpoint'} to restart stage depth from its beginning" in err
    assert (
        depth("--eval-every", "3", "--logging-steps", "2") == 0
    )  # cadence does not change what is trained
    assert "resumed from" in (out / "depth" / "train.log").read_text()


@pytest.mark.slow
def test_finished_stage_rerun_with_other_training_flags_is_refused(tmp_path, sst2_dir, capsys):
    """A finished stage rerun with another seed, epochs or data used to say 'already finished; skipping'."""
    out = fake_width_stage(tmp_path / "run")
    other_data = tmp_path / "other-sst2"
    other_data.mkdir()
    for name in ("train.tsv", "dev.tsv"):
        (other_data / name).write_bytes((Path(sst2_dir) / name).read_bytes())

    def depth(*extra):
        return main(
            train_args(
                sst2_dir,
                out,
                "depth",
                "--max-train-samples",
                "16",
                "--epochs",
                "1",
                "--max-eval-samples",
                "16",
                *extra,
            )
        )

    assert depth() == 0
    capsys.readouterr()
    for extra, change in (
        (["--seed", "7"], "--seed: 42 -> 7"),
        (["--epochs", "2"], "--epochs: 1.0 -> 2.0"),
        (["--data-dir", str(other_data)], f"--data-dir: {sst2_dir} -> {other_data}"),
    ):
        assert (
            main(
                train_args(
                    sst2_dir,
                    out,
                    "depth",
                    "--max-train-samples",
                    "16",
                    "--epochs",
                    "1",
                    "--max-eval-samples",
                    "16",
                    *extra,
                )
            )
            == 2
        )
        err = capsys.readouterr().err
        assert (
            f"stage depth in {out / 'depth'} is finished (summary.json): it was trained with other flags "
            f"({change})" in err
        ), err
        assert_names(err, "give another --output-dir", "run with the flags it was trained with")
    assert (
        depth("--eval-every", "1", "--checkpoint-choice", "last") == 0
    )  # not what is trained: skipped as done
    assert "stage depth: already finished" in capsys.readouterr().out


@pytest.mark.slow
def test_damaged_checkpoint_file_is_named_with_the_fix(tmp_path, sst2_dir, capsys):
    """A truncated RNG state used to be dropped silently by Accelerate (the resume continuing other random draws);
    a truncated weights, optimizer or registered-object file failed deep in torch."""
    import shutil

    out = tmp_path / "run"
    depth = interrupted_depth(sst2_dir, out)
    checkpoint = out / "depth" / "checkpoint"
    shutil.copytree(checkpoint, tmp_path / "copy")
    capsys.readouterr()
    for name in (
        "random_states_0.pkl",
        "pytorch_model.bin",
        "optimizer.bin",
        "custom_checkpoint_1.pkl",
    ):
        whole = (checkpoint / name).read_bytes()
        (checkpoint / name).write_bytes(whole[: len(whole) // 2])
        assert depth() == 2, name
        err = capsys.readouterr().err
        assert f"checkpoint {checkpoint} is damaged: {name} cannot be read" in err, err
        assert (
            f"delete {checkpoint} to restart the stage from its beginning, or restore the file"
            in err
        )
        assert "Traceback" not in err
        (checkpoint / name).write_bytes(whole)
    (checkpoint / "optimizer.bin").unlink()
    assert (
        depth() == 2
        and f"checkpoint {checkpoint} is incomplete: optimizer.bin is missing"
        in capsys.readouterr().err
    )
    shutil.copy(tmp_path / "copy" / "optimizer.bin", checkpoint / "optimizer.bin")
    assert depth() == 0 and "resumed from" in (out / "depth" / "train.log").read_text()


@pytest.mark.slow
def test_ctrl_c_prints_one_line_and_exits_130(tmp_path, sst2_dir):
    """Ctrl-C used to end in a KeyboardInterrupt traceback; now one line says where the stage resumes."""
    out = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "dynabert",
        *train_args(
            sst2_dir,
            out,
            "teacher",
            "--max-train-samples",
            "640",
            "--epochs",
            "50",
            "--eval-every",
            "5",
        ),
    ]  # 1,000 steps: the
    # SIGINT below always lands mid-run, however fast the machine (3 epochs once finished first on a CI machine)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TQDM_DISABLE": "1"}
    proc = subprocess.Popen(
        cmd,
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # as a terminal's
    # child: a background job (e.g. a CI runner's `&`) inherits SIGINT ignored, and Ctrl-C would then do nothing
    state, deadline = out / "teacher" / "checkpoint" / CHECKPOINT_MARK, time.time() + 120
    while not state.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert state.exists() and proc.poll() is None, "no checkpoint appeared while the stage ran"
    proc.send_signal(signal.SIGINT)
    err = proc.communicate(timeout=120)[1]
    assert not (out / "teacher" / "summary.json").exists(), "the interrupt came too late to test"
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    line = next(
        (x for x in err.splitlines() if x.startswith("interrupted: ")), err
    )  # after the progress bar
    assert re.fullmatch(
        rf"interrupted: stage teacher stopped at step \d+; the last checkpoint \(step \d+, "
        rf"{re.escape(str(out / 'teacher' / 'checkpoint'))}\) resumes with the same command",
        line,
    ), line
