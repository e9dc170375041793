"""`pytest bench/ --benchmark-json FILE` fails, saying why, when nothing will be timed (pytest-benchmark#293):
under pytest-xdist it used to pass ("60 passed"), exit 0 and write no FILE."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_bench(*args, cwd=ROOT):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "bench/test_latency.py",
            "-q",
            "-p",
            "no:cacheprovider",
            *args,
        ],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_benchmark_json_under_xdist_is_refused_naming_the_cause(tmp_path):
    pytest.importorskip("xdist")
    out = tmp_path / "out.json"
    done = run_bench("-n", "2", "--benchmark-json", str(out))
    assert done.returncode != 0
    assert f"--benchmark-json {out} would not be written: pytest-xdist (-n) is on" in done.stderr
    assert not out.exists()


def test_benchmark_json_with_the_timing_switched_off_is_refused(tmp_path):
    out = tmp_path / "out.json"
    done = run_bench("--benchmark-disable", "--benchmark-json", str(out))
    assert done.returncode != 0 and "--benchmark-disable or --benchmark-skip" in done.stderr
