"""The GPU check script refuses to run without a GPU, saying why, and writes no summary."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.skipif(
    torch.cuda.is_available(), reason="this machine has a GPU: the check would run for real"
)
def test_gpu_check_refuses_without_a_gpu(tmp_path):
    out = tmp_path / "summary.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run(
        [sys.executable, "-m", "bench.gpu_check", "--out", str(out), "--work", str(tmp_path / "w")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert (
        "bench.gpu_check needs a CUDA GPU" in done.stderr
        and "torch.cuda.is_available() is False" in done.stderr
    )
    assert not out.exists() and not (tmp_path / "w").exists()
