"""The training losses, one function per kind with one signature: `loss(out, teacher_out, batch, spec, settings)`.

Kinds: "dynabert" (spec 3.3, 3.4: soft cross-entropy on logits + MSE on hidden states), "gold" (the task loss on
the gold labels: stages teacher and final), "distilbert" (Sanh et al. 2019) and "tinybert" (Jiao et al. 2020);
the last two delegate to `dynabert.baselines`. `out` and `teacher_out` are `DynaOutput`s (teacher_out is None
for "gold"); for "tinybert" in phase 1 the student's hidden states arrive already projected by W_h (the
projection runs inside the data-parallel module, so its gradient is all-reduced with the student's).
Must not import bench or devices.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from dynabert import baselines
from dynabert.config import SubnetSpec
from dynabert.distill import distill_loss
from dynabert.rewire import task_loss


@dataclass(frozen=True)
class LossSettings:
    """The weights every loss kind reads; a kind ignores the ones it does not use."""

    lambda_pred: float = 1.0  # dynabert: weight of the logits loss (spec 3.3)
    lambda_hidden: float = 0.0  # dynabert: weight of the embedding + hidden-state MSE
    regression_pred_loss: bool = (
        False  # dynabert, single-output head: MSE on logits (official code: none)
    )
    temperature: float = 2.0  # distilbert: soft-label temperature
    cosine_weight: float = 0.0  # distilbert: weight of the last-hidden-state cosine loss
    tinybert_phase1: bool = True  # tinybert: intermediate layers (True) or predictions (False)


def dynabert_loss(out, teacher_out, batch: dict, spec: SubnetSpec, s: LossSettings) -> torch.Tensor:
    """lambda1 * l_pred + lambda2 * (l_emb + l_hidn), the student's layers mapped to the teacher's (spec 1.3)."""
    ids = spec.teacher_hidden_ids(len(teacher_out.hidden_states) - 1)
    return distill_loss(
        out.logits,
        out.hidden_states,
        teacher_out.logits,
        teacher_out.hidden_states,
        ids,
        s.lambda_pred,
        s.lambda_hidden,
        s.regression_pred_loss,
    )


def gold_loss(out, teacher_out, batch: dict, spec: SubnetSpec, s: LossSettings) -> torch.Tensor:
    """Cross-entropy on the gold labels (MSE for a single-output head); no teacher."""
    return task_loss(out.logits, batch["labels"])


def distilbert_loss(
    out, teacher_out, batch: dict, spec: SubnetSpec, s: LossSettings
) -> torch.Tensor:
    """T^2 * soft cross-entropy at temperature T (+ the optional cosine loss on last hidden states)."""
    return baselines.distilbert_loss(
        out, teacher_out, s.temperature, s.cosine_weight, batch["attention_mask"]
    )


def tinybert_loss(out, teacher_out, batch: dict, spec: SubnetSpec, s: LossSettings) -> torch.Tensor:
    """Phase 1: hidden (already projected) + attention MSE; phase 2: soft cross-entropy on logits."""
    if not s.tinybert_phase1:
        return baselines.prediction_loss(
            out.logits, teacher_out.logits
        )  # MSE for a regression head
    hidden, attention = baselines.tinybert_intermediate_loss(out, teacher_out, nn.Identity())
    return hidden + attention


LOSSES = {
    "dynabert": dynabert_loss,
    "gold": gold_loss,
    "distilbert": distilbert_loss,
    "tinybert": tinybert_loss,
}
