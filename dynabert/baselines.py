"""Same-teacher baselines: DistilBERT-style, TinyBERT-style and fixed-size controls (trained by train.py).

- DistilBERT-style (Sanh et al. 2019): the teacher's architecture with every other layer, initialised from the
  teacher's layers 0, 2, 4, ...; soft-label distillation at temperature T (x T^2), plus an optional cosine loss
  between the last hidden states.
- TinyBERT-style (Jiao et al. 2020, task-specific distillation): a student with fewer layers (or a user's narrower
  pretrained student), layer map g(m) = m * L_t / L_s; phase 1 distils embeddings and hidden states through a
  learned projection W_h (identity-initialised when sizes match) and attention maps (MSE on probabilities);
  phase 2 distils predictions (soft cross-entropy). Default student: teacher layers k-1, 2k-1, ... (k = L_t/L_s).
- Regression (one output, STS-B): a softmax over one logit is 1 whatever the logit, so soft cross-entropy is 0 at
  every step and teaches nothing; both baselines use MSE against the teacher's output instead, as DynaBERT's own
  stages do with --regression-pred-loss (TinyBERT's released code uses MSE against the gold score there).
- fixed: one (width, depth) of the DynaBERT grid trained alone with DynaBERT's own losses (plan built in train.py).
Must not import bench or devices.
"""

from __future__ import annotations

import copy
import re

import torch
import torch.nn as nn
import torch.nn.functional as F
from transformers import AutoModelForSequenceClassification

from dynabert.distill import soft_cross_entropy


def layer_subset(teacher: nn.Module, layer_ids: list[int]) -> nn.Module:
    """A copy of `teacher` (HF BERT/RoBERTa/DistilBERT classifier) keeping only `layer_ids`, in order."""
    config = copy.deepcopy(teacher.config)
    config.num_hidden_layers = len(layer_ids)
    student = AutoModelForSequenceClassification.from_config(config)
    new_index = {old: new for new, old in enumerate(layer_ids)}
    state = {}
    for key, value in teacher.state_dict().items():
        m = re.search(r"(encoder|transformer)\.layer\.(\d+)\.", key)  # BERT/RoBERTa | DistilBERT
        if m is None:
            state[key] = value
        elif int(m.group(2)) in new_index:
            state[key.replace(m.group(0), f"{m.group(1)}.layer.{new_index[int(m.group(2))]}.")] = (
                value
            )
    student.load_state_dict(state, strict=True)
    return student.eval()


def distilbert_layers(num_layers: int) -> list[int]:
    """Every other layer, starting at 0 (DistilBERT's initialisation)."""
    return list(range(0, num_layers, 2))


def tinybert_layers(teacher_layers: int, student_layers: int) -> list[int]:
    """Teacher layer g(m)-1 for m = 1..L_s, g(m) = m * L_t / L_s (TinyBERT's uniform map)."""
    if not 1 <= student_layers <= teacher_layers:
        raise ValueError(f"student layers must be in 1..{teacher_layers}, got {student_layers}")
    return [round((m + 1) * teacher_layers / student_layers) - 1 for m in range(student_layers)]


class TinyBertProjection(nn.Module):
    """W_h: student hidden -> teacher hidden (TinyBERT eq. 7), identity when the sizes match."""

    def __init__(self, student_hidden: int, teacher_hidden: int):
        super().__init__()
        self.proj = nn.Linear(student_hidden, teacher_hidden, bias=False)
        if student_hidden == teacher_hidden:
            nn.init.eye_(self.proj.weight)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.proj(h)


def tinybert_intermediate_loss(
    student_out, teacher_out, projection: TinyBertProjection
) -> tuple[torch.Tensor, torch.Tensor]:
    """(embedding + hidden MSE through W_h, attention-map MSE) with the uniform layer map."""
    ls, lt = len(student_out.hidden_states) - 1, len(teacher_out.hidden_states) - 1
    if student_out.attentions[0].shape[1] != teacher_out.attentions[0].shape[1]:
        raise ValueError(
            f"TinyBERT attention loss needs equal head counts (student "
            f"{student_out.attentions[0].shape[1]}, teacher {teacher_out.attentions[0].shape[1]})"
        )
    hidden = sum(
        F.mse_loss(
            projection(student_out.hidden_states[i]), teacher_out.hidden_states[round(i * lt / ls)]
        )
        for i in range(ls + 1)
    )
    attention = sum(
        F.mse_loss(student_out.attentions[m], teacher_out.attentions[round((m + 1) * lt / ls) - 1])
        for m in range(ls)
    )
    return hidden, attention


def prediction_loss(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float = 1.0
) -> torch.Tensor:
    """Classification: T^2 * soft-CE at temperature T. Regression ([B, 1]): MSE to the teacher's score (no T)."""
    if student_logits.shape[-1] == 1:
        return F.mse_loss(student_logits, teacher_logits)
    return (
        soft_cross_entropy(student_logits / temperature, teacher_logits / temperature)
        * temperature**2
    )


def distilbert_loss(
    student_out, teacher_out, temperature: float, cosine_weight: float, attention_mask: torch.Tensor
) -> torch.Tensor:
    """prediction_loss at temperature T, + cosine_weight * mean(1 - cos) of last hidden states over real tokens."""
    loss = prediction_loss(student_out.logits, teacher_out.logits, temperature)
    if cosine_weight:
        cos = F.cosine_similarity(
            student_out.hidden_states[-1], teacher_out.hidden_states[-1], dim=-1
        )  # [B, S]
        mask = attention_mask.to(cos.dtype)
        loss = loss + cosine_weight * ((1 - cos) * mask).sum() / mask.sum()
    return loss
