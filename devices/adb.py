"""An Android device over adb, timed with LiteRT's benchmark_model (pushed by the user to the device).

UNTESTED ON HARDWARE: tested against a fake `adb` replaying recorded benchmark_model output. Inputs: the
request's shape, and value ranges matching the runner's (ids from the model's vocabulary, a full mask, token types
from its type vocabulary), never benchmark_model's default random range. benchmark_model
reports aggregate statistics only (no raw samples, no p90/p99), so those record fields stay empty.
Must not import dynabert or bench.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from pathlib import Path

from devices.request import RunRequest, RunResult, refusal
from devices.runner import token_id_range


def adb(profile: dict, *args: str, timeout_s: float = 900) -> str:
    cmd = ["adb", *(["-s", profile["serial"]] if profile.get("serial") else []), *args]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    except FileNotFoundError:
        raise RuntimeError("adb not found on PATH: install Android platform-tools") from None
    if proc.returncode:
        raise RuntimeError(
            f"device {profile['name']!r}: adb {' '.join(args[:2])} failed: {proc.stderr.strip()[-400:]}"
        )
    return proc.stdout


def check(profile: dict) -> tuple[bool, str]:
    try:
        state = adb(profile, "get-state").strip()
        if state != "device":
            return False, f"adb reports state {state!r}; connect and authorise the phone"
        found = adb(
            profile, "shell", f"ls {profile['benchmark_binary']} 2>/dev/null || true"
        ).strip()
    except RuntimeError as err:
        return False, str(err)
    if not found:
        return False, (
            f"{profile['benchmark_binary']} is not on the device; adb push a benchmark_model build "
            f"for android_arm64 there"
        )
    return True, f"connected; benchmark_model at {profile['benchmark_binary']}"


def parse(output: str) -> RunResult:
    """benchmark_model's text -> RunResult (its own aggregates, ms); raises ValueError if it has no timing line."""
    m = re.search(
        r"count=(\d+) first=(\d+) curr=\d+ min=(\d+) max=(\d+) avg=([\d.e+]+) std=(\d+)"
        r"(?: p5=(\d+) median=(\d+) p95=(\d+))?",
        output.split("Running benchmark for at least")[-1],
    )
    if m is None:
        raise ValueError("no 'count=... avg=...' line in benchmark_model output")
    count, first, mn, mx, avg, std, p5, median, p95 = m.groups()
    timings = re.search(
        r"Init: ([\d.]+), First inference: ([\d.]+), Warmup \(avg\): ([\d.e+]+), "
        r"Inference \(avg\): ([\d.e+]+)",
        output,
    )
    memory = re.search(
        r"Peak memory footprint \(MB\): init=([\d.]+) overall=([\d.]+)", output
    ) or re.search(
        r"Memory footprint delta from the start of the tool \(MB\): init=([\d.]+) overall=([\d.]+)",
        output,
    )
    us = lambda v: float(v) / 1e3 if v else None  # noqa: E731 (benchmark_model reports microseconds)
    aggregates = {
        "n_runs": int(count),
        "latency_ms_mean": us(avg),
        "latency_ms_std": us(std),
        "latency_ms_p50": us(median),
        "latency_ms_min": us(mn),
        "latency_ms_max": us(mx),
        "latency_ms_p5": us(p5),
        "latency_ms_p95": us(p95),
        "peak_rss_mb": float(memory.group(2)) if memory else None,
    }
    return RunResult(
        ok=True,
        runtime_version="benchmark_model",
        aggregates=aggregates,
        load_ms=us(timings.group(1)) if timings else None,
        first_inference_ms=us(timings.group(2)) if timings else None,
    )


def benchmark_command(profile: dict, request: RunRequest, remote: str) -> str:
    """benchmark_model's command line for `request`: its shape, warm-up and run counts, threads, pinning to the
    last `threads` CPUs (taskset), and the value range of every input as the runner draws it (ranges inclusive)."""
    spec = request.inputs
    low, high = token_id_range(spec.vocab_size)
    ids, mask, types = spec.names
    shape = f"{request.batch},{request.seq_len}"
    cmd = (
        f"{profile['benchmark_binary']} --graph={remote} --num_threads={request.threads} "
        f"--warmup_runs={request.warmup} --warmup_min_secs=0 --num_runs={request.min_runs} "
        f"--min_secs={request.min_time_s:g} --max_secs={request.max_time_s:g} --report_peak_memory_footprint=true "
        f"--input_layer={ids},{mask},{types} --input_layer_shape={shape}:{shape}:{shape} "
        f"--input_layer_value_range={ids},{low},{high - 1}:{mask},1,1:{types},0,{spec.type_vocab_size - 1}"
    )
    if not request.pin:
        return cmd
    t = request.threads  # the last t CPUs (on big.LITTLE phones, the big cores)
    return (
        f"n=$(nproc); if [ $n -gt {t} ]; then exec taskset $(printf %x $(( ((1<<{t})-1) << (n-{t}) ))) {cmd}; "
        f"else exec {cmd}; fi"
    )


class Adb:
    """An Android device over adb, timed by LiteRT's benchmark_model (profile keys: serial, benchmark_binary)."""

    kind = "adb"

    def __init__(self, profile: dict):
        self.profile = profile

    def check(self) -> tuple[bool, str]:
        return check(self.profile)

    def plan(self, request: RunRequest) -> RunRequest:
        return request

    def run(self, request: RunRequest) -> RunResult:
        why = refusal(request, saving=False) or (
            "benchmark_model times synthetic inputs of one shape, not a query set (use an ssh target)"
            if request.queries is not None
            else None
            if request.runtime == "litert"
            else f"benchmark_model runs TFLite only, not {request.runtime}"
        )
        if why:
            return RunResult.refuse(f"{self.profile['name']}: {why}")
        artifact = Path(request.artifact)
        digest = hashlib.sha256(artifact.read_bytes()).hexdigest()[:16]
        remote = f"/data/local/tmp/dynabert-{digest}{artifact.suffix}"
        try:
            if not adb(self.profile, "shell", f"ls {remote} 2>/dev/null || true").strip():
                adb(self.profile, "push", str(artifact), remote)
            out = adb(
                self.profile,
                "shell",
                benchmark_command(self.profile, request, remote),
                timeout_s=request.timeout_s,
            )
            result = parse(out)
        except RuntimeError as err:
            return RunResult.failed(str(err))
        except ValueError as err:
            return RunResult.failed(f"{self.profile['name']}: {err}: {out.strip()[-300:]}")
        result.batch, result.seq_len = request.batch, request.seq_len
        result.extra["source"] = "benchmark_model aggregates (no raw samples, no p90/p99)"
        return result
