"""Latency statistics from raw per-run samples (ms): the one implementation every report uses.

Percentiles use linear interpolation between order statistics (numpy's default, as optimum-benchmark);
std is the sample standard deviation (n-1); CV = std / mean. Nothing is rounded here.
"""

from __future__ import annotations

import time

import numpy as np


def summarize(samples_ms: list[float]) -> dict[str, float]:
    """p50/p90/p99, mean, std, CV, min and count of a list of per-run latencies in ms."""
    if not samples_ms:
        raise ValueError("no latency samples to summarize")
    x = np.asarray(samples_ms, dtype=float)
    mean = float(x.mean())
    std = float(x.std(ddof=1)) if len(x) > 1 else 0.0
    p50, p90, p99 = (float(v) for v in np.percentile(x, [50, 90, 99]))
    return {
        "latency_ms_p50": p50,
        "latency_ms_p90": p90,
        "latency_ms_p99": p99,
        "latency_ms_mean": mean,
        "latency_ms_std": std,
        "latency_cv": std / mean if mean else 0.0,
        "latency_ms_min": float(x.min()),
        "n_runs": int(len(x)),
    }


def sgemm_peak_gflops(threads: int = 1, n: int = 2048, seconds: float = 2.0) -> float:
    """Best achieved GFLOP/s of an n x n fp32 matrix product in torch at `threads` (2 n^3 FLOPs per product)."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        a, b = torch.randn(n, n), torch.randn(n, n)
        torch.mm(a, b)
        best, start = float("inf"), time.perf_counter()
        while time.perf_counter() - start < seconds:
            t0 = time.perf_counter()
            torch.mm(a, b)
            best = min(best, time.perf_counter() - t0)
        return 2 * n**3 / best / 1e9
    finally:
        torch.set_num_threads(previous)
