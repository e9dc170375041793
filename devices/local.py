"""The local machine: which runtimes are installed, the CPU's identity and frequency state, and its target (a
fresh runner process per request).

Must not import dynabert or bench (the leaf package records is fine).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

from devices.optional import install_hint
from devices.request import RunRequest, RunResult, from_runner_output, refusal
from records.machine import Machine

RUNNER = Path(__file__).with_name("runner.py")
RUNTIME_PACKAGES = {
    "torch": "torch",
    "onnxruntime": "onnxruntime",
    "litert": "ai_edge_litert",
    "openvino": "openvino",
    "executorch": "executorch",
}
PIP_NAMES = {"ai_edge_litert": "ai-edge-litert"}  # import name -> pip name, where they differ


def available(runtime: str) -> tuple[bool, str]:
    """(True, "") if `runtime` can run here, else (False, what to install)."""
    package = RUNTIME_PACKAGES.get(runtime)
    if package is None:
        return False, f"unknown runtime {runtime!r}"
    if importlib.util.find_spec(package) is None:
        pip = PIP_NAMES.get(package, package)
        return (
            False,
            f"runtime {runtime!r} needs the Python package {package} ({install_hint(pip)})",
        )
    return True, ""


def cpu_info(machine: Machine) -> dict:
    """The CPU of `machine` (its identity: records.machine, read once by the caller) with its frequency state read
    here: governor and turbo where readable (None where not)."""
    info = {
        "cpu_model": machine.cpu_model,
        "logical_cpus": machine.logical_cpus,
        "machine": machine.arch,
        "governor": None,
        "turbo": None,
    }
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
    """The CPUs a measuring process with `threads` threads is pinned to (the runner's own rule)."""
    from devices.runner import pinned_cpus as rule

    return rule(threads)


def run_runner(
    request: RunRequest, runtime: str | None = None, extra_args: tuple[str, ...] = ()
) -> RunResult:
    """The runner in a fresh Python process here (its own thread pool and allocator); `runtime` and `extra_args`
    let a target run it its own way (e.g. `torch-cuda --gpu-index 1`)."""
    cmd = [sys.executable, str(RUNNER), *request.runner_args(runtime), *extra_args]
    if request.save_output:
        cmd += ["--save-output", request.save_output]
    env = {
        **os.environ,
        "OMP_NUM_THREADS": str(request.threads),
        "PYTHONPATH": os.pathsep.join(
            [str(RUNNER.parent.parent), os.environ.get("PYTHONPATH", "")]
        ).rstrip(os.pathsep),
    }
    try:
        proc = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=request.timeout_s,
            env=env,
            input=request.queries_json(),
        )
    except subprocess.TimeoutExpired:
        return RunResult.failed(f"runner timed out after {request.timeout_s:.0f} s")
    return from_runner_output(proc.stdout, proc.stderr, proc.returncode)


class LocalCpu:
    """This machine's CPU: every installed runtime, one fresh process per request."""

    kind = "local-cpu"

    def __init__(self, profile: dict):
        self.profile = profile

    def check(self) -> tuple[bool, str]:
        have = [r for r in RUNTIME_PACKAGES if available(r)[0]]
        missing = [available(r)[1] for r in RUNTIME_PACKAGES if not available(r)[0]]
        return True, f"runtimes: {', '.join(have)}" + "".join(
            f"; not installed: {m}" for m in missing
        )

    def plan(self, request: RunRequest) -> RunRequest:
        return request

    def run(self, request: RunRequest) -> RunResult:
        why = refusal(request) or available(request.runtime)[1]
        return RunResult.refuse(f"{self.profile['name']}: {why}") if why else run_runner(request)
