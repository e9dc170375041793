"""The local CUDA GPU: whether torch and onnxruntime can use it. Timing lives in runner.py (CUDA events,
synchronize, warm-up, max_memory_allocated; onnxruntime CUDA EP with IO binding; host->device copy timed apart).
Must not import dynabert or bench.
"""

from __future__ import annotations


def status(profile: dict | None = None) -> tuple[bool, str]:
    try:
        import torch
    except ImportError:
        return False, "torch is not installed"
    if not torch.cuda.is_available():
        return False, "no CUDA GPU visible to torch (CPU-only build or no driver); CUDA tests are skipped"
    index = (profile or {}).get("gpu_index", 0)
    name = torch.cuda.get_device_name(index)
    try:
        import onnxruntime as ort
        ort_cuda = "CUDAExecutionProvider" in ort.get_available_providers()
    except ImportError:
        ort_cuda = False
    return True, f"{name}; onnxruntime CUDA EP {'available' if ort_cuda else 'missing (pip install onnxruntime-gpu)'}"
