"""MLPerf LoadGen's early-stopping estimate of a latency percentile (SingleStream), the same formula as LoadGen.

Source: mlcommons/inference loadgen/early_stopping.cc (`odds`, `find_min_passing`, `MinPassingQueriesFinder`) and
loadgen/results.cc (`PerformanceSummary::EarlyStopping`, SingleStream case), confidence 0.99, tolerance 0.

`odds(h, t, p, d)` is the probability of at most t over-latency queries among h + t when each query is over with
probability 1 - (p - d): the binomial CDF, `BetaRegularized[p - d, h, 1 + t]` (LoadGen's comment). `min_passing`
is the least h with odds < 1 - c. SingleStream: with n queries, h_min = min_passing(1) and n must exceed it;
then t is one less than the first i >= 2 with n < min_passing(i) + i, and the estimate is the (n - t)-th smallest
latency (0-based index n - t of the sorted list): LoadGen discards the t - 1 highest latencies. Must not import
torch, dynabert or devices.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

CONFIDENCE = 0.99  # LoadGen's hard-coded confidence (results.cc)
TOLERANCE = 0.0  # and tolerance


def odds(h: int, t: int, p: float, d: float = TOLERANCE) -> float:
    """P(at most t over-latency queries in h + t), each under the latency with probability p - d:
    BetaRegularized[p - d, h, 1 + t] (early_stopping.cc `odds`), via scipy's regularized incomplete beta."""
    from scipy.special import betainc

    if h < 1 or t < 0:
        raise ValueError(f"h >= 1 and t >= 0 required, got h={h}, t={t}")
    return float(betainc(h, 1 + t, p - d))


def min_passing(t: int, p: float, d: float = TOLERANCE, c: float = CONFIDENCE) -> int:
    """The least h with odds(h, t, p, d) < 1 - c (early_stopping.cc `find_min_passing`): how many queries under the
    latency are needed, with t over it, to claim the p-th percentile at confidence c."""
    low = max(1, math.ceil(math.log(1 - c) / math.log(p - d)) - 1)  # t = 0 bound: (p - d)^h < 1 - c
    high = low
    while odds(high, t, p, d) >= 1 - c:  # grow the bracket
        low, high = high, high * 2
    while low < high:  # least h in [low, high] that passes
        mid = (low + high) // 2
        if odds(mid, t, p, d) < 1 - c:
            high = mid
        else:
            low = mid + 1
    return low


@dataclass(frozen=True)
class EarlyStop:
    """A SingleStream early-stopping result: `estimate_ms` (None when too few queries), the queries LoadGen needs
    at least (`queries_needed` = h_min + 1), the queries given, and how many highest latencies it discarded."""

    percentile: float
    estimate_ms: float | None
    queries_needed: int
    queries: int
    discarded: int | None


def early_stopping(samples_ms: list[float], percentile: float = 0.9) -> EarlyStop:
    """LoadGen's SingleStream early-stopping estimate of the `percentile` latency from per-query latencies (ms)."""
    if not 0 < percentile < 1:
        raise ValueError(f"percentile must be in (0, 1), got {percentile}")
    n = len(samples_ms)
    h_min = min_passing(1, percentile)
    if n < h_min + 1:
        return EarlyStop(percentile, None, h_min + 1, n, None)
    t = 1
    for i in range(2, n + 1):
        if n < min_passing(i, percentile) + i:
            t = i - 1
            break
    ordered = sorted(samples_ms)
    return EarlyStop(percentile, float(ordered[n - t]), h_min + 1, n, t - 1)
