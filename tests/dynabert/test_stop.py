"""Runs that stop cleanly: SIGTERM between checkpoints writes one at the next step and resumes to the uninterrupted
result; a non-finite loss stops the stage at its step, and non-finite weights are never saved or scored."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from dynabert.cli import main
from dynabert.engine import CHECKPOINT_MARK
from dynabert.presets import load_model, load_tokenizer

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TQDM_DISABLE": "1", "OMP_NUM_THREADS": "1"}


def teacher_args(sst2, out, *extra):
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
        "teacher",
        "--max-train-samples",
        "320",
        "--max-eval-samples",
        "64",
        "--batch-size",
        "16",
        "--epochs",
        "1",
        "--learning-rate",
        "1e-3",
        "--eval-every",
        "0",
        "--logging-steps",
        "1",
        "--checkpoint-choice",
        "last",
        *extra,
    ]


def logged_steps(log: Path) -> int:
    return len(re.findall(r": loss ", log.read_text())) if log.exists() else 0


def signal_after_steps(cmd: list[str], log: Path, steps: int, signum: int) -> tuple[int, str]:
    """Start `cmd`, send `signum` once its train.log shows `steps` steps; (exit status, stderr)."""
    proc = subprocess.Popen(
        cmd, env=ENV, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    deadline = time.time() + 300
    while logged_steps(log) < steps and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    assert proc.poll() is None, "the run ended before the signal"
    proc.send_signal(signum)
    err = proc.communicate(timeout=300)[1]
    return proc.returncode, err


def test_sigterm_between_checkpoints_checkpoints_then_resumes_to_the_uninterrupted_run(
    tmp_path, sst2_dir
):
    """Before: exit 143, no message, and every step since the last checkpoint lost (here: the whole stage, 20 steps
    with no checkpoint before its end)."""

    def cmd(out):
        return [sys.executable, "-m", "dynabert", *teacher_args(sst2_dir, out)]

    whole, cut = tmp_path / "whole", tmp_path / "cut"
    subprocess.run(cmd(whole), check=True, env=ENV, cwd=ROOT, capture_output=True)

    status, err = signal_after_steps(cmd(cut), cut / "teacher" / "train.log", 3, signal.SIGTERM)
    assert status == 143, err
    assert "Traceback" not in err, err
    line = next(x for x in err.splitlines() if x.startswith("interrupted: "))
    m = re.fullmatch(
        rf"interrupted: stage teacher stopped at step (\d+); the last checkpoint \(step (\d+), "
        rf"{re.escape(str(cut / 'teacher' / 'checkpoint'))}\) resumes with the same command",
        line,
    )
    assert m and m[1] == m[2], line  # the checkpoint is at the step reached: nothing is lost
    step = int(m[1])
    assert 3 <= step < 20, f"the signal came at step {step}, not between checkpoints"
    mark = json.loads((cut / "teacher" / "checkpoint" / CHECKPOINT_MARK).read_text())
    assert mark["step"] == step and not (cut / "teacher" / "summary.json").exists()

    subprocess.run(cmd(cut), check=True, env=ENV, cwd=ROOT, capture_output=True)
    assert (
        f"resumed from {cut / 'teacher' / 'checkpoint'} at step {step} of 20"
        in (cut / "teacher" / "train.log").read_text()
    )
    a = json.loads((whole / "teacher" / "summary.json").read_text())
    b = json.loads((cut / "teacher" / "summary.json").read_text())
    assert a["steps"] == b["steps"] == 20 and a["final_dev"] == b["final_dev"]
    assert (whole / "teacher" / "best" / "model.safetensors").read_bytes() == (
        cut / "teacher" / "best" / "model.safetensors"
    ).read_bytes()


def test_non_finite_loss_stops_the_stage_and_saves_no_model(tmp_path, sst2_dir, capsys):
    """Before: at --learning-rate 1e30 the loss was nan from step 2, the stage ran to its end, best/ held 41 of 41
    non-finite tensors and summary.json a best_score."""
    out = tmp_path / "run"
    assert main(teacher_args(sst2_dir, out, "--learning-rate", "1e30", "--eval-every", "5")) == 2
    err = capsys.readouterr().err
    m = re.search(
        r"error: stage teacher: the (training loss is nan|gradient is not finite).* at step (\d+)",
        err,
    )
    assert m, err
    assert int(m[2]) <= 5 and "--learning-rate 1e+30" in err and "no checkpoint was written" in err
    stage = out / "teacher"
    assert not (stage / "best").exists() and not (stage / "summary.json").exists()
    assert not (stage / "checkpoint").exists()


def test_non_finite_weights_are_never_saved_nor_scored(tmp_path, sst2_dir, capsys):
    """A diverged model from elsewhere (or an older run): `evaluate` refuses it and writes no accuracy record."""
    model_dir = tmp_path / "diverged"
    hf = load_model("tiny", num_labels=2, seed=0)
    with torch.no_grad():
        hf.classifier.weight.fill_(float("nan"))
    hf.save_pretrained(model_dir)
    load_tokenizer("tiny").save_pretrained(model_dir)
    store = tmp_path / "acc.jsonl"
    status = main(
        [
            "evaluate",
            "--checkpoint",
            str(model_dir),
            "--task",
            "sst2",
            "--data-dir",
            sst2_dir,
            "--results",
            str(store),
        ]
    )
    err = capsys.readouterr().err
    assert status == 2 and "non-finite weights (1 of" in err and "classifier.weight" in err, err
    assert not store.exists()
    from dynabert.train import save_atomic

    with pytest.raises(ValueError, match="non-finite weights"):
        save_atomic(hf, load_tokenizer("tiny"), tmp_path / "best")
    assert not (tmp_path / "best").exists() and not (tmp_path / "best.tmp").exists()


def test_a_model_predicting_one_class_is_warned_wherever_accuracy_is_recorded(
    tmp_path, sst2_dir, capsys
):
    """Before: a teacher at the majority class (50.92% on SST-2 dev) was recorded by train and evaluate without a
    word. Here an untrained model whose classifier always says class 0."""
    from dynabert.metrics import one_class_warning

    assert one_class_warning([0, 1, 0, 1], [0, 1, 1, 1]) is None
    assert one_class_warning([0.1, 0.1], [0.2, 0.3]) is None  # regression: never flagged
    why = one_class_warning([1] * 20, [0] * 12 + [1] * 8)
    assert "predicts class 1 for 100.0% of the 20 examples (the majority class is 60.0%" in why
    assert "--learning-rate" in why and "--epochs" in why

    model_dir = tmp_path / "one-class"
    hf = load_model("tiny", num_labels=2, seed=0)
    with torch.no_grad():
        hf.classifier.weight.zero_()
        hf.classifier.bias.copy_(torch.tensor([5.0, -5.0]))
    hf.save_pretrained(model_dir)
    load_tokenizer("tiny").save_pretrained(model_dir)
    args = ["evaluate", "--checkpoint", str(model_dir), "--task", "sst2", "--data-dir", sst2_dir]
    assert (
        main([*args, "--widths", "1.0", "--depths", "1.0", "--results", str(tmp_path / "a.jsonl")])
        == 0
    )
    assert (
        "warning: w1.00-d1.00: the model predicts class 0 for 100.0% of the"
        in capsys.readouterr().err
    )

    out = tmp_path / "run"
    assert (
        main(teacher_args(sst2_dir, out, "--learning-rate", "1e-9", "--max-eval-samples", "32"))
        == 0
    )
    log = (out / "teacher" / "train.log").read_text()
    assert "warning: w1.00-d1.00: the model predicts class" in log
