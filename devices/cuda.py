"""The local CUDA GPU as a target: each runtime mapped to a GPU runtime only where one exists.

torch -> torch on the GPU (synchronised, TF32 off, max_memory_allocated and the process's GPU memory);
onnxruntime fp32 -> onnxruntime's CUDA execution provider (IO binding, host->device copy timed apart, TF32 off,
the process's GPU memory from NVML / nvidia-smi). Every other runtime is refused with its reason, never run on
the CPU under a GPU label: LiteRT has no CUDA runtime, and onnxruntime's CUDA provider has no int8 MatMulInteger
kernel for these graphs (the int8 nodes would fall back to the CPU). The profile's `gpu_index` chooses the GPU.
Timing lives in runner.py. Must not import dynabert or bench.
"""

from __future__ import annotations

import importlib.util

from devices.local import run_runner
from devices.request import RunRequest, RunResult, refusal
from devices.runner import ORT_GPU_INSTALL, TORCH_GPU_INSTALL

GPU_RUNTIMES = {("torch", "fp32"): "torch-cuda", ("onnxruntime", "fp32"): "onnxruntime-cuda"}
NO_GPU_RUNTIME = {
    "litert": "LiteRT has no CUDA runtime (its GPU delegate is for mobile OpenCL/OpenGL)",
    "onnxruntime": "onnxruntime's CUDA execution provider has no int8 MatMulInteger kernel for these graphs "
    "(the int8 nodes would run on the CPU)",
    "torch": "the torch runtime times fp32 models only",
}


def gpu_runtime(runtime: str, precision: str) -> tuple[str | None, str]:
    """(the runner's GPU runtime for (runtime, precision), "") or (None, why there is none)."""
    if (runtime, precision) in GPU_RUNTIMES:
        return GPU_RUNTIMES[runtime, precision], ""
    why = NO_GPU_RUNTIME.get(runtime, f"no GPU runtime is known for {runtime!r}")
    return (
        None,
        f"{runtime} {precision} is not run on the GPU: {why}; never run on the CPU under a GPU label",
    )


def status(profile: dict | None = None) -> tuple[bool, str]:
    """(a GPU usable by torch, one line naming the GPU and onnxruntime's CUDA provider, or the install command)."""
    if importlib.util.find_spec("torch") is None:
        return False, f"torch is not installed: {TORCH_GPU_INSTALL}"
    import torch

    if not torch.cuda.is_available():
        what = (
            "a CPU-only build" if torch.version.cuda is None else "no CUDA device or driver visible"
        )
        return False, f"torch {torch.__version__} cannot use a GPU ({what}): {TORCH_GPU_INSTALL}"
    index = (profile or {}).get("gpu_index", 0)
    if index >= torch.cuda.device_count():
        return (
            False,
            f"gpu_index {index} does not exist: {torch.cuda.device_count()} GPU(s) visible",
        )
    name = torch.cuda.get_device_name(index)
    return True, f"GPU {index}: {name}; onnxruntime CUDA EP: {ort_cuda_line()}"


def ort_cuda_line() -> str:
    if importlib.util.find_spec("onnxruntime") is None:
        return f"onnxruntime not installed ({ORT_GPU_INSTALL})"
    import onnxruntime as ort

    if hasattr(ort, "preload_dlls"):
        ort.preload_dlls()
    if "CUDAExecutionProvider" in ort.get_available_providers():
        return f"available (onnxruntime {ort.__version__})"
    return f"missing: onnxruntime {ort.__version__} is a CPU-only build ({ORT_GPU_INSTALL})"


class Cuda:
    """A CUDA GPU of this machine (profile keys: gpu_index, runtimes)."""

    kind = "cuda"

    def __init__(self, profile: dict):
        self.profile = profile
        self.gpu_index = int(profile.get("gpu_index", 0))

    def check(self) -> tuple[bool, str]:
        return status(self.profile)

    def plan(self, request: RunRequest) -> RunRequest:
        return request

    def run(self, request: RunRequest) -> RunResult:
        runtime, why = gpu_runtime(request.runtime, request.precision)
        why = why or refusal(request)
        if why:
            return RunResult.refuse(f"{self.profile['name']}: {why}")
        return run_runner(request, runtime, ("--gpu-index", str(self.gpu_index)))
