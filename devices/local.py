"""The local machine: which runtimes are installed, the CPU's identity and frequency state, fresh-process runs.

Must not import dynabert or bench.
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

RUNNER = Path(__file__).with_name("runner.py")
RUNTIME_PACKAGES = {"torch": "torch", "onnxruntime": "onnxruntime", "litert": "ai_edge_litert"}


def available(runtime: str) -> tuple[bool, str]:
    """(True, "") if `runtime` can run here, else (False, what to install)."""
    package = RUNTIME_PACKAGES.get(runtime)
    if package is None:
        return False, f"unknown runtime {runtime!r}"
    if importlib.util.find_spec(package) is None:
        pip = {"ai_edge_litert": "ai-edge-litert"}.get(package, package)
        return False, f"runtime {runtime!r} needs the Python package {package} (pip install {pip})"
    return True, ""


def cpu_info() -> dict:
    """CPU model, core count, governor and turbo state where readable (None where not)."""
    info = {"cpu_model": platform.processor() or None, "logical_cpus": os.cpu_count(), "machine": platform.machine(),
            "governor": None, "turbo": None}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gov = Path("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor")
    info["governor"] = gov.read_text().strip() if gov.is_file() else None
    no_turbo = Path("/sys/devices/system/cpu/intel_pstate/no_turbo")
    boost = Path("/sys/devices/system/cpu/cpufreq/boost")
    if no_turbo.is_file():
        info["turbo"] = no_turbo.read_text().strip() == "0"
    elif boost.is_file():
        info["turbo"] = boost.read_text().strip() == "1"
    return info


def pinned_cpus(threads: int) -> list[int]:
    """The last `threads` CPUs this process may use: measurements stay off CPU 0, where the OS and the
    sweep itself mostly run (taskset practice of MLPerf / nn-Meter). All CPUs if threads >= their count."""
    allowed = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    return allowed[-threads:] if 0 < threads < len(allowed) else allowed


def run_fresh(artifact: str | Path, runtime: str, threads: int, seq_len: int, batch: int = 1, warmup: int = 10,
              min_runs: int = 30, min_time_s: float = 2.0, max_time_s: float = 60.0, timeout_s: float = 600.0,
              save_output: str | None = None, pin: bool = True) -> dict:
    """Run the runner in a fresh Python process (its own thread pool and allocator), pinned to the last
    `threads` CPUs unless pin=False; its JSON result (which names the affinity it ran with)."""
    cmd = [sys.executable, str(RUNNER), "--artifact", str(artifact), "--runtime", runtime, "--threads", str(threads),
           "--seq-len", str(seq_len), "--batch", str(batch), "--warmup", str(warmup), "--min-runs", str(min_runs),
           "--min-time", str(min_time_s), "--max-time", str(max_time_s)]
    if save_output:
        cmd += ["--save-output", save_output]
    cpus = pinned_cpus(threads) if pin else []
    if cpus:
        cmd += ["--cpus", ",".join(map(str, cpus))]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": os.pathsep.join(
        [str(RUNNER.parent.parent), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, env=env)
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": f"runner timed out after {timeout_s:.0f} s"}
    lines = [l for l in proc.stdout.splitlines() if l.startswith("{")]
    if not lines:
        return {"ok": False, "error": f"runner exited {proc.returncode} without a result: {proc.stderr.strip()[-500:]}"}
    return json.loads(lines[-1])
