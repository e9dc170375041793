"""Data-parallel training with 2 CPU processes under torchrun (gloo), against 1 process; a killed rank resumes;
one gradient all-reduce per optimizer step; a GPU-saved state resumes on CPU.

Stage depth on the tiny model (widths 1.0,0.5 x depths 1.0,0.5: 4 sub-networks per step, the smallest leaves a
layer unused, which DDP must handle inside no_sync) with dropout off, 256 SST-2 rows, 8 steps.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import torch
from safetensors.torch import load_file

from dynabert.cli import main
from dynabert.engine import CHECKPOINT_MARK
from dynabert.presets import load_model, load_tokenizer

ROOT = Path(__file__).resolve().parents[2]
ENV = {
    **os.environ,
    "HF_HUB_OFFLINE": "1",
    "TQDM_DISABLE": "1",
    "OMP_NUM_THREADS": "1",
    "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(out: Path) -> Path:
    """OUT/width/best: a tiny model standing in for a finished stage width, dropout off (ranks see other rows,
    so with dropout on their masks could not match one process's)."""
    folder = out / "width" / "best"
    hf = load_model("tiny", num_labels=2, seed=0)
    hf.config.hidden_dropout_prob = hf.config.attention_probs_dropout_prob = 0.0
    hf.config.classifier_dropout = 0.0
    hf.save_pretrained(folder)
    load_tokenizer("tiny").save_pretrained(folder)
    return out


def args(sst2, out, batch_size, *extra):
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
        "depth",
        "--widths",
        "1.0,0.5",
        "--depths",
        "1.0,0.5",
        "--max-train-samples",
        "256",
        "--max-eval-samples",
        "16",
        "--batch-size",
        str(batch_size),
        "--epochs",
        "1",
        "--learning-rate",
        "1e-3",
        "--eval-every",
        "4",
        "--logging-steps",
        "1",
        "--checkpoint-choice",
        "last",
        *extra,
    ]


def torchrun(sst2, out, batch_size=16, nproc=2, extra=()) -> subprocess.Popen:
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        str(nproc),
        "--master_port",
        str(free_port()),
        "-m",
        "dynabert",
        *args(sst2, out, batch_size, *extra),
    ]
    return subprocess.Popen(
        cmd, env=ENV, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def finished(proc: subprocess.Popen) -> None:
    output, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, output[-3000:]


def weights(out: Path) -> dict[str, torch.Tensor]:
    return load_file(out / "depth" / "best" / "model.safetensors")


@pytest.fixture(scope="module")
def two_process_run(tmp_path_factory, sst2_dir):
    out = prepare(tmp_path_factory.mktemp("ddp") / "two")
    finished(torchrun(sst2_dir, out))
    return out


@pytest.mark.slow
def test_two_processes_split_the_data_and_match_one_process(two_process_run, sst2_dir, tmp_path):
    two = json.loads((two_process_run / "depth" / "summary.json").read_text())
    one_same_flag, one_same_global = prepare(tmp_path / "one16"), prepare(tmp_path / "one32")
    assert main(args(sst2_dir, one_same_flag, 16)) == 0
    assert main(args(sst2_dir, one_same_global, 32)) == 0
    per_flag = json.loads((one_same_flag / "depth" / "summary.json").read_text())
    assert two["processes"] == 2 and per_flag["processes"] == 1
    assert two["steps"] * 2 == per_flag["steps"] == 16  # each rank its own half of every epoch
    # one writer: one checkpoint, no leftovers of a race, each step logged once
    assert sorted(p.name for p in (two_process_run / "depth").iterdir()) == [
        "best",
        "checkpoint",
        "summary.json",
        "train.log",
    ]
    log = (two_process_run / "depth" / "train.log").read_text()
    assert log.count(": loss ") == 8 and log.count("dev w1.00-d1.00=") == 2
    # The same global batch (2 x 16 rows vs 1 x 32, padded alike) gives the same mean loss, so the same updates up
    # to float32 summation order (gloo's sum of two half-batch gradients vs one sum). Adam divides by sqrt(v), so
    # an element whose gradient is ~0 can move by up to ~lr per step on rounding alone: 8 steps x lr 1e-3 bounds the
    # difference at 8e-3; what is seen is far below (about 1e-6), and 1e-4 fails for any real mismatch (a rank
    # training on the wrong rows, a missed all-reduce or a schedule stepped twice moves weights by ~1e-3).
    a, b = weights(two_process_run), weights(one_same_global)
    assert a.keys() == b.keys()
    worst = max((a[k] - b[k]).abs().max().item() for k in a)
    print(f"max |w_2proc - w_1proc| = {worst:.3g}")
    assert worst < 1e-4, worst
    assert worst < max(
        (a[k] - load_file(one_same_flag / "depth" / "best" / "model.safetensors")[k])
        .abs()
        .max()
        .item()
        for k in a
    )


@pytest.mark.slow
def test_two_processes_draw_the_same_sampled_subnetworks_as_one(sst2_dir, tmp_path):
    """--subnets-per-step 3 of 4: every rank draws from (seed, step) alone, so both ranks train the same three
    sub-networks each step and the result matches one process given the same global batch (bound as above; a
    rank drawing its own sub-networks would average gradients of different sub-networks, ~1e-3 off)."""
    two, one = prepare(tmp_path / "two"), prepare(tmp_path / "one")
    finished(torchrun(sst2_dir, two, extra=("--subnets-per-step", "3")))
    assert main(args(sst2_dir, one, 32, "--subnets-per-step", "3")) == 0
    summary = json.loads((two / "depth" / "summary.json").read_text())
    assert summary["processes"] == 2 and summary["subnets_per_step"] == 3
    assert "sum over 3 of 4 sub-networks" in (two / "depth" / "train.log").read_text()
    a, b = weights(two), weights(one)
    worst = max((a[k] - b[k]).abs().max().item() for k in a)
    assert worst < 1e-4, worst


def rank_process(proc: subprocess.Popen, rank: int) -> psutil.Process:
    for child in psutil.Process(proc.pid).children(recursive=True):
        try:
            if child.environ().get("RANK") == str(rank):
                return child
        except psutil.Error:
            continue
    raise AssertionError(f"no rank {rank} process under torchrun {proc.pid}")


@pytest.mark.slow
def test_killed_rank_resumes_to_the_uninterrupted_result(two_process_run, sst2_dir, tmp_path):
    out = prepare(tmp_path / "cut")
    proc = torchrun(sst2_dir, out)
    mark = out / "depth" / "checkpoint" / CHECKPOINT_MARK
    deadline = time.time() + 300
    while not mark.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    rank_process(proc, 1).send_signal(signal.SIGKILL)
    proc.communicate(timeout=300)
    assert proc.returncode != 0 and not (out / "depth" / "summary.json").exists(), (
        "the kill came too late"
    )
    finished(torchrun(sst2_dir, out))
    assert "resumed from" in (out / "depth" / "train.log").read_text()
    a, b = weights(two_process_run), weights(out)
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_one_gradient_allreduce_per_optimizer_step():
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_port",
        str(free_port()),
        str(ROOT / "tests" / "dynabert" / "ddp_allreduce_count.py"),
    ]
    done = subprocess.run(cmd, env=ENV, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    count = json.loads(next(x for x in done.stdout.splitlines() if x.startswith("{")))
    assert count["sub_networks"] == 12 and count["buckets"] >= 1
    assert count["bucket_allreduces_per_step_after"] == count["buckets"]
    assert count["bucket_allreduces_per_step_before"] == 12 * count["buckets"]


GPU_SAVE = """
import sys, torch
from pathlib import Path
# Every storage written from here on is tagged "cuda:0", as torch.save on a GPU machine tags a CUDA tensor.
torch.serialization.register_package(0, lambda s: "cuda:0" if s.device.type == "cpu" else None, lambda s, loc: None)
ckpt = Path(sys.argv[1])
opt = torch.load(ckpt / "optimizer.bin", weights_only=False)
torch.save(opt, ckpt / "optimizer.bin")
"""


@pytest.mark.slow
def test_gpu_saved_state_resumes_on_cpu(sst2_dir, tmp_path):
    """A checkpoint whose optimizer tensors claim "cuda:0" and whose RNG file holds a CUDA generator state (what a
    GPU run writes) resumes on this CPU-only machine to the uninterrupted result."""
    out = prepare(tmp_path / "run")
    assert main(args(sst2_dir, out, 32)) == 0
    whole = weights(out)
    stage = out / "depth"
    ckpt = stage / "checkpoint"  # the mid-stage checkpoint (step 4 of 8) is still there
    subprocess.run([sys.executable, "-c", GPU_SAVE, str(ckpt)], check=True, env=ENV, cwd=ROOT)
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA"):
            torch.load(ckpt / "optimizer.bin", weights_only=False)  # the file really is a GPU save
    rng = torch.load(ckpt / "random_states_0.pkl", weights_only=False)
    rng["torch_cuda_manual_seed"] = [torch.get_rng_state()]  # one CUDA generator state per GPU
    torch.save(rng, ckpt / "random_states_0.pkl")
    (stage / "summary.json").unlink()
    shutil.rmtree(stage / "best")
    assert main(args(sst2_dir, out, 32)) == 0
    assert "resumed from" in (stage / "train.log").read_text()
    resumed = weights(out)
    assert all(torch.equal(whole[k], resumed[k]) for k in whole)


def test_accelerate_launch_cpu_without_mpirun_is_refused_with_the_working_commands(monkeypatch):
    """`accelerate launch --cpu --num_processes 2` sets MASTER_ADDR but starts one process (mpirun only)."""
    from dynabert.engine import make_accelerator

    monkeypatch.setenv("ACCELERATE_USE_CPU", "True")
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    for name in ("WORLD_SIZE", "PMI_SIZE"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValueError, match="torchrun --nproc_per_node N") as err:
        make_accelerator("no")
    assert "--mpirun_hostfile" in str(err.value) and "accelerate launch --multi_gpu" in str(
        err.value
    )


def test_steps_per_epoch_splits_the_data_and_names_a_batch_too_large():
    from dynabert.engine import steps_per_epoch

    assert steps_per_epoch(256, 16, 1) == 16 and steps_per_epoch(256, 16, 2) == 8
    assert (
        steps_per_epoch(257, 16, 2) == 8
    )  # a last global batch of 1 row cannot feed 2 ranks: dropped
    assert steps_per_epoch(258, 16, 2) == 9 and steps_per_epoch(10, 16, 2) == 1  # 5 rows per rank
    with pytest.raises(ValueError, match="fewer than one batch"):
        steps_per_epoch(1, 16, 2)


def test_sigterm_to_torchrun_checkpoints_on_every_rank_and_resumes_to_the_uninterrupted_result(
    sst2_dir, tmp_path
):
    """A scheduler's SIGTERM reaches torchrun, which passes it to both ranks: they agree on the step (one
    all-reduce of the stop flag per step), write one checkpoint together, and each prints the resume line
    (before: every step since the last checkpoint was lost and nothing was said)."""
    out = prepare(tmp_path / "cut")
    proc = torchrun(sst2_dir, out, extra=("--eval-every", "0"))  # no checkpoint before the end
    log, deadline = out / "depth" / "train.log", time.time() + 300
    while (
        not (log.exists() and ": loss " in log.read_text())
        and time.time() < deadline
        and proc.poll() is None
    ):
        time.sleep(0.02)
    assert proc.poll() is None, "the run ended before the signal"
    proc.send_signal(signal.SIGTERM)
    output = proc.communicate(timeout=300)[0]
    lines = re.findall(r"interrupted: stage depth stopped at step .*", output)  # may follow a bar
    assert len(lines) == 2 and lines[0] == lines[1], output[-3000:]  # both ranks, the same step
    step = json.loads((out / "depth" / "checkpoint" / CHECKPOINT_MARK).read_text())["step"]
    assert f"stopped at step {step}; the last checkpoint (step {step}," in lines[0]
    assert 1 <= step < 8 and not (out / "depth" / "summary.json").exists()
    finished(torchrun(sst2_dir, out, extra=("--eval-every", "0")))
    assert f"resumed from {out / 'depth' / 'checkpoint'} at step {step}" in log.read_text()
    whole = prepare(tmp_path / "whole")
    finished(torchrun(sst2_dir, whole, extra=("--eval-every", "0")))
    a, b = weights(whole), weights(out)
    assert all(torch.equal(a[k], b[k]) for k in a)
