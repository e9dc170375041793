"""An Android device over adb, timed with LiteRT's benchmark_model (pushed by the user to the device).

UNTESTED ON HARDWARE: tested against a fake `adb` replaying recorded benchmark_model output. benchmark_model
reports aggregate statistics only (no raw samples, no p90/p99), so those record fields stay empty.
Must not import dynabert or bench.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from pathlib import Path


def adb(profile: dict, *args: str, timeout_s: float = 900) -> str:
    cmd = ["adb", *(["-s", profile["serial"]] if profile.get("serial") else []), *args]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    except FileNotFoundError:
        raise RuntimeError("adb not found on PATH: install Android platform-tools") from None
    if proc.returncode:
        raise RuntimeError(f"device {profile['name']!r}: adb {' '.join(args[:2])} failed: {proc.stderr.strip()[-400:]}")
    return proc.stdout


def check(profile: dict) -> tuple[bool, str]:
    try:
        state = adb(profile, "get-state").strip()
        if state != "device":
            return False, f"adb reports state {state!r}; connect and authorise the phone"
        found = adb(profile, "shell", f"ls {profile['benchmark_binary']} 2>/dev/null || true").strip()
    except RuntimeError as err:
        return False, str(err)
    if not found:
        return False, (f"{profile['benchmark_binary']} is not on the device; adb push a benchmark_model build "
                       f"for android_arm64 there")
    return True, f"connected; benchmark_model at {profile['benchmark_binary']}"


def parse(output: str) -> dict:
    """benchmark_model's text -> runner-style result (ms); raises ValueError if it has no timing line."""
    m = re.search(r"count=(\d+) first=(\d+) curr=\d+ min=(\d+) max=(\d+) avg=([\d.e+]+) std=(\d+)"
                  r"(?: p5=(\d+) median=(\d+) p95=(\d+))?", output.split("Running benchmark for at least")[-1])
    if m is None:
        raise ValueError("no 'count=... avg=...' line in benchmark_model output")
    count, first, mn, mx, avg, std, p5, median, p95 = m.groups()
    timings = re.search(r"Init: ([\d.]+), First inference: ([\d.]+), Warmup \(avg\): ([\d.e+]+), "
                        r"Inference \(avg\): ([\d.e+]+)", output)
    memory = re.search(r"Peak memory footprint \(MB\): init=([\d.]+) overall=([\d.]+)", output) or \
        re.search(r"Memory footprint delta from the start of the tool \(MB\): init=([\d.]+) overall=([\d.]+)", output)
    return {"ok": True, "n_runs": int(count), "latency_ms_mean": float(avg) / 1e3, "latency_ms_std": float(std) / 1e3,
            "latency_ms_p50": float(median) / 1e3 if median else None, "latency_ms_min": float(mn) / 1e3,
            "latency_ms_max": float(mx) / 1e3, "latency_ms_p5": float(p5) / 1e3 if p5 else None,
            "latency_ms_p95": float(p95) / 1e3 if p95 else None,
            "load_ms": float(timings.group(1)) / 1e3 if timings else None,
            "first_inference_ms": float(timings.group(2)) / 1e3 if timings else None,
            "peak_rss_mb": float(memory.group(2)) if memory else None, "runtime_version": "benchmark_model"}


def run(profile: dict, artifact: Path, threads: int, warmup: int = 10, runs: int = 50) -> dict:
    digest = hashlib.sha256(artifact.read_bytes()).hexdigest()[:16]
    remote = f"/data/local/tmp/dynabert-{digest}{artifact.suffix}"
    if not adb(profile, "shell", f"ls {remote} 2>/dev/null || true").strip():
        adb(profile, "push", str(artifact), remote)
    out = adb(profile, "shell", f"{profile['benchmark_binary']} --graph={remote} --num_threads={threads} "
                                f"--warmup_runs={warmup} --num_runs={runs} --report_peak_memory_footprint=true")
    try:
        return parse(out)
    except ValueError as err:
        return {"ok": False, "error": f"{profile['name']}: {err}: {out.strip()[-300:]}"}
