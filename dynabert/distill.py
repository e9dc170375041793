"""DynaBERT's distillation loss (spec 3.3, 3.4): soft cross-entropy on logits + MSE on hidden states.

Must not import bench or devices.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def soft_cross_entropy(student_logits: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
    """-sum softmax(z_T) * log softmax(z_S), batch mean, temperature 1 (official code)."""
    return (
        -(F.softmax(teacher_logits, dim=-1) * F.log_softmax(student_logits, dim=-1)).sum(-1).mean()
    )


def hidden_mse(
    student_hidden: tuple[torch.Tensor, ...],
    teacher_hidden: tuple[torch.Tensor, ...],
    teacher_ids: tuple[int, ...],
) -> torch.Tensor:
    """sum_j MSE(H_student_j, H_teacher_t(j)), embeddings included, padding included (official code)."""
    assert len(student_hidden) == len(teacher_ids), (len(student_hidden), teacher_ids)
    return sum(F.mse_loss(s, teacher_hidden[t]) for s, t in zip(student_hidden, teacher_ids))


def distill_loss(
    student_logits: torch.Tensor,
    student_hidden: tuple[torch.Tensor, ...],
    teacher_logits: torch.Tensor,
    teacher_hidden: tuple[torch.Tensor, ...],
    teacher_ids: tuple[int, ...],
    lambda_pred: float,
    lambda_hidden: float,
    regression_pred_loss: bool,
) -> torch.Tensor:
    """lambda1 * l_pred + lambda2 * (l_emb + l_hidn). Regression (1 output): MSE on logits if asked, else 0 (code)."""
    if student_logits.shape[-1] == 1:
        pred = (
            F.mse_loss(student_logits, teacher_logits)
            if regression_pred_loss
            else student_logits.sum() * 0.0
        )
    else:
        pred = soft_cross_entropy(student_logits, teacher_logits)
    return lambda_pred * pred + lambda_hidden * hidden_mse(
        student_hidden, teacher_hidden, teacher_ids
    )
