"""GLUE metrics. Each returns a dict whose first key is the one the official code sums to choose checkpoints.

Predictions are class indices (or floats for regression); labels likewise. Must not import bench or devices.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def accuracy(preds, labels) -> dict[str, float]:
    return {"accuracy": float(np.mean(np.asarray(preds) == np.asarray(labels)))}


def acc_f1(preds, labels) -> dict[str, float]:
    """Accuracy, and F1 of class 1 (MRPC, QQP)."""
    p, y = np.asarray(preds), np.asarray(labels)
    tp, fp, fn = np.sum((p == 1) & (y == 1)), np.sum((p == 1) & (y == 0)), np.sum((p == 0) & (y == 1))
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
    """Pearson and Spearman correlation (STS-B)."""
    p, y = pd.Series(preds, dtype=float), pd.Series(labels, dtype=float)
    return {"pearson": float(p.corr(y, method="pearson")), "spearman": float(p.corr(y, method="spearman"))}


METRICS = {"accuracy": accuracy, "acc_f1": acc_f1, "mcc": mcc, "pearson_spearman": pearson_spearman}
