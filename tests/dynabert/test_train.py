"""Each stage end to end from the CLI on the tiny model and a few hundred SST-2 rows; resume after a real kill."""

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
from dynabert.records import read

ROOT = Path(__file__).resolve().parents[2]


def train_args(sst2, out, stage, *extra):
    return ["train", "--task", "sst2", "--data-dir", sst2, "--model", "tiny", "--output-dir", str(out), "--stage",
            stage, "--max-train-samples", "320", "--max-eval-samples", "64", "--batch-size", "16", "--epochs", "2",
            "--learning-rate", "1e-3", "--eval-every", "0", "--logging-steps", "1", *extra]


def losses(log: Path) -> list[float]:
    return [float(x) for x in re.findall(r": loss ([0-9.]+)", log.read_text())]


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
    assert main(["evaluate", "--checkpoint", str(out), "--task", "sst2", "--data-dir", sst2_dir,
                 "--results", str(store)]) == 0
    recs = read(store)
    assert len(recs) == 12 and {r.kind for r in recs} == {"accuracy"}
    assert all(0 <= r.metric_value <= 1 and r.split.startswith("dev") for r in recs)
    assert recs[0].model_id.endswith("final/best")


def test_width_stage_needs_teacher(tmp_path, sst2_dir, capsys):
    assert main(train_args(sst2_dir, tmp_path, "width")) == 2
    assert "no finished model" in capsys.readouterr().err


def test_resume_after_kill_matches_uninterrupted(tmp_path, sst2_dir):
    args = lambda out: [sys.executable, "-m", "dynabert", *train_args(
        sst2_dir, out, "teacher", "--max-train-samples", "640", "--epochs", "1", "--eval-every", "5",
        "--checkpoint-choice", "last")]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TQDM_DISABLE": "1"}
    whole = tmp_path / "whole"
    subprocess.run(args(whole), check=True, env=env, cwd=ROOT, capture_output=True)

    cut = tmp_path / "cut"
    proc = subprocess.Popen(args(cut), env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state = cut / "teacher" / "checkpoint" / CHECKPOINT_MARK
    deadline = time.time() + 120
    while not state.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert state.exists() and not (cut / "teacher" / "summary.json").exists(), "the kill came too late to test resume"
    subprocess.run(args(cut), check=True, env=env, cwd=ROOT, capture_output=True)

    log = (cut / "teacher" / "train.log").read_text()
    assert "resumed from" in log
    a = json.loads((whole / "teacher" / "summary.json").read_text())
    b = json.loads((cut / "teacher" / "summary.json").read_text())
    assert a["steps"] == b["steps"] == 40
    assert a["final_dev"] == b["final_dev"]
    assert (whole / "teacher" / "best" / "model.safetensors").read_bytes() == \
           (cut / "teacher" / "best" / "model.safetensors").read_bytes()
