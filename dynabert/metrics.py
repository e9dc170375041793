"""GLUE metrics. Each returns a dict whose first key is the one the official code sums to choose checkpoints.

Predictions are class indices (or floats for regression); labels likewise. Must not import bench or devices.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd


def accuracy(preds, labels) -> dict[str, float]:
    return {"accuracy": float(np.mean(np.asarray(preds) == np.asarray(labels)))}


def acc_f1(preds, labels) -> dict[str, float]:
    """Accuracy, and F1 of class 1 (MRPC, QQP)."""
    p, y = np.asarray(preds), np.asarray(labels)
    tp, fp, fn = (
        np.sum((p == 1) & (y == 1)),
        np.sum((p == 1) & (y == 0)),
        np.sum((p == 0) & (y == 1)),
    )
    f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return {"accuracy": float(np.mean(p == y)), "f1": float(f1)}


def mcc(preds, labels) -> dict[str, float]:
    """Matthews correlation of a binary task (CoLA); 0 when a row or column of the confusion matrix is empty."""
    p, y = np.asarray(preds), np.asarray(labels)
    tp, tn = float(np.sum((p == 1) & (y == 1))), float(np.sum((p == 0) & (y == 0)))
    fp, fn = float(np.sum((p == 1) & (y == 0))), float(np.sum((p == 0) & (y == 1)))
    denom = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    return {"mcc": float((tp * tn - fp * fn) / denom) if denom else 0.0}


def pearson_spearman(preds, labels) -> dict[str, float]:
    """Pearson and Spearman correlation (STS-B); both NaN where undefined (see `undefined`), never a made-up 0."""
    if correlation_undefined(preds, labels):
        return {"pearson": math.nan, "spearman": math.nan}
    p, y = pd.Series(preds, dtype=float), pd.Series(labels, dtype=float)
    return {
        "pearson": float(p.corr(y, method="pearson")),
        "spearman": float(p.corr(y, method="spearman")),
    }


def correlation_undefined(preds, labels) -> str | None:
    """Why a correlation of preds with labels has no value (fewer than 2 examples, or one side constant), or None."""
    p, y = np.asarray(preds, dtype=float), np.asarray(labels, dtype=float)
    if len(p) < 2:
        return f"correlation needs at least 2 examples, got {len(p)}"
    for name, v in (("predictions", p), ("gold scores", y)):
        if not np.all(np.isfinite(v)):
            return f"the {name} hold non-finite values"
        if np.ptp(v) == 0:
            return f"the {name} are constant ({v[0]:.4g} for all {len(v)} examples), so the correlation is 0/0"
    return None


ONE_CLASS_SHARE = (
    0.95  # predictions this concentrated on one class mean the model learned (nearly) nothing
)


def one_class_warning(preds, labels) -> str | None:
    """A warning when a classifier predicts one class for >= ONE_CLASS_SHARE of the examples, naming the share, the
    majority class's share of the gold labels (what predicting it alone scores) and the likely fixes; else None.
    Regression predictions (floats) are never flagged."""
    p, y = np.asarray(preds), np.asarray(labels)
    if not len(p) or p.dtype.kind == "f":
        return None
    classes, counts = np.unique(p, return_counts=True)
    share = counts.max() / len(p)
    if share < ONE_CLASS_SHARE:
        return None
    majority = np.unique(y, return_counts=True)[1].max() / len(y)
    return (
        f"the model predicts class {classes[counts.argmax()]} for {share:.1%} of the {len(p)} examples (the "
        f"majority class is {majority:.1%} of them): it has learned (nearly) nothing. Likely fixes: a higher "
        f"--learning-rate (e.g. 1e-4 for minilm-l6), more --epochs or --max-train-samples, or check the labels "
        f"of the training data"
    )


def undefined(metric_name: str, preds, labels) -> str | None:
    """Why this metric has no value on these predictions, or None (only correlations can be undefined)."""
    return correlation_undefined(preds, labels) if metric_name == "pearson_spearman" else None


def selection_score(results: dict[str, dict[str, float]]) -> float:
    """Checkpoint choice: the sum over sub-networks of each one's first metric (official code), an undefined
    (NaN) correlation counted as 0 (a constant predictor carries no information), so a score always exists."""
    firsts = (next(iter(m.values())) for m in results.values())
    return float(sum(0.0 if math.isnan(v) else v for v in firsts))


METRICS = {"accuracy": accuracy, "acc_f1": acc_f1, "mcc": mcc, "pearson_spearman": pearson_spearman}
