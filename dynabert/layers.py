"""The BERT math, as pure functions of weight tensors, shared by the dynamic model and the extracted model.

Both models call exactly these functions (the dynamic one with sliced views of the full weights, the extracted
one with dense copies), which is what keeps them provably equal. Eager math only: no SDPA or fused kernels, so
FlopCounterMode sees every matmul and ONNX / TFLite export lowers everything.
Copied beside every extracted model's weights as part of its remote code (see pruned.py), so it imports only
torch. Must not import dynabert, transformers, bench or devices.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
import torch.nn.functional as F

MASK_VALUE = (
    -10000.0
)  # finite additive mask: no NaN for fully padded rows, representable in fp16, exports cleanly


class LayerWeights(NamedTuple):
    """One encoder layer's tensors, PyTorch Linear layout [out, in]."""

    q_w: torch.Tensor
    q_b: torch.Tensor
    k_w: torch.Tensor
    k_b: torch.Tensor
    v_w: torch.Tensor
    v_b: torch.Tensor
    attn_out_w: torch.Tensor
    attn_out_b: torch.Tensor
    attn_ln_w: torch.Tensor
    attn_ln_b: torch.Tensor
    ffn_up_w: torch.Tensor
    ffn_up_b: torch.Tensor
    ffn_down_w: torch.Tensor
    ffn_down_b: torch.Tensor
    ffn_ln_w: torch.Tensor
    ffn_ln_b: torch.Tensor


class EmbeddingWeights(NamedTuple):
    word: torch.Tensor
    position: torch.Tensor
    token_type: torch.Tensor | None  # None: no token-type embeddings (DistilBERT)
    ln_w: torch.Tensor
    ln_b: torch.Tensor


def additive_mask(attention_mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """[B, S] 1/0 mask -> [B, 1, 1, S] additive mask (0 for tokens, MASK_VALUE for padding)."""
    return (1.0 - attention_mask[:, None, None, :].to(dtype)) * MASK_VALUE


def position_ids_for(
    input_ids: torch.Tensor, position_mode: str, pad_token_id: int
) -> torch.Tensor:
    """BERT: 0..S-1. RoBERTa: pad+1.. over non-padding tokens, pad elsewhere (fairseq make_positions)."""
    if position_mode == "absolute":
        return torch.arange(input_ids.shape[1], device=input_ids.device)[None, :]  # [1, S]
    mask = input_ids.ne(pad_token_id).int()
    return (torch.cumsum(mask, dim=1).type_as(mask) * mask).long() + pad_token_id  # [B, S]


def embed(
    input_ids: torch.Tensor,
    token_type_ids: torch.Tensor,
    position_ids: torch.Tensor,
    w: EmbeddingWeights,
    eps: float,
    dropout_p: float,
    training: bool,
) -> torch.Tensor:
    """Word + position (+ token-type, if the model has them) embeddings, LayerNorm, dropout -> [B, S, H]."""
    x = F.embedding(input_ids, w.word) + F.embedding(position_ids, w.position)
    if w.token_type is not None:
        x = x + F.embedding(token_type_ids, w.token_type)
    x = F.layer_norm(x, (x.shape[-1],), w.ln_w, w.ln_b, eps)
    return F.dropout(x, dropout_p, training)


def self_attention(
    x: torch.Tensor,
    mask_add: torch.Tensor,
    w: LayerWeights,
    n_heads: int,
    head_size: int,
    dropout_p: float,
    training: bool,
    head_mask: torch.Tensor | None,
    attentions: list | None = None,
) -> torch.Tensor:
    """Multi-head self-attention over n_heads heads of head_size; returns [B, S, n_heads*head_size] (pre out-proj).

    If `attentions` is a list, the attention probabilities [B, nh, S, S] are appended to it (TinyBERT's loss).
    """
    batch, seq = x.shape[0], x.shape[1]

    def heads(t: torch.Tensor) -> torch.Tensor:
        return t.view(batch, seq, n_heads, head_size).transpose(
            1, 2
        )  # [B, S, nh*hd] -> [B, nh, S, hd]

    q = heads(F.linear(x, w.q_w, w.q_b))
    k = heads(F.linear(x, w.k_w, w.k_b))
    v = heads(F.linear(x, w.v_w, w.v_b))
    scores = torch.matmul(q, k.transpose(-1, -2)) * (head_size**-0.5) + mask_add  # [B, nh, S, S]
    probs = torch.softmax(scores, dim=-1)
    if attentions is not None:
        attentions.append(probs)
    probs = F.dropout(probs, dropout_p, training)
    if head_mask is not None:
        probs = (
            probs * head_mask[None, :, None, None]
        )  # [nh] -> [1, nh, 1, 1]; Michel et al. 2019 head gate
    context = torch.matmul(probs, v)  # [B, nh, S, hd]
    return context.transpose(1, 2).reshape(batch, seq, n_heads * head_size)  # -> [B, S, nh*hd]


def encoder_layer(
    x: torch.Tensor,
    mask_add: torch.Tensor,
    w: LayerWeights,
    n_heads: int,
    head_size: int,
    act: Callable[[torch.Tensor], torch.Tensor],
    eps: float,
    hidden_dropout_p: float,
    attn_dropout_p: float,
    training: bool,
    head_mask: torch.Tensor | None = None,
    attentions: list | None = None,
) -> torch.Tensor:
    """Post-LN BERT layer: attention + residual + LN, FFN + residual + LN -> [B, S, H]."""
    context = self_attention(
        x, mask_add, w, n_heads, head_size, attn_dropout_p, training, head_mask, attentions
    )
    attn = F.dropout(F.linear(context, w.attn_out_w, w.attn_out_b), hidden_dropout_p, training)
    x = F.layer_norm(attn + x, (x.shape[-1],), w.attn_ln_w, w.attn_ln_b, eps)
    inner = act(F.linear(x, w.ffn_up_w, w.ffn_up_b))  # [B, S, F_active]
    out = F.dropout(F.linear(inner, w.ffn_down_w, w.ffn_down_b), hidden_dropout_p, training)
    return F.layer_norm(out + x, (x.shape[-1],), w.ffn_ln_w, w.ffn_ln_b, eps)


def classify(
    hidden: torch.Tensor,
    head_type: str,
    dense_w: torch.Tensor,
    dense_b: torch.Tensor,
    out_w: torch.Tensor,
    out_b: torch.Tensor,
    dropout_p: float,
    training: bool,
) -> torch.Tensor:
    """Sequence-classification head on the first token -> logits [B, num_labels].

    bert-pooler: tanh(dense(h0)) -> dropout -> classifier.
    roberta-head: dropout -> dense -> tanh -> dropout -> out_proj.
    distilbert-head: relu(pre_classifier(h0)) -> dropout -> classifier.
    """
    first = hidden[:, 0]  # [B, S, H] -> [B, H]
    if head_type == "roberta-head":
        first = F.dropout(first, dropout_p, training)
    dense = F.linear(first, dense_w, dense_b)
    pooled = torch.relu(dense) if head_type == "distilbert-head" else torch.tanh(dense)
    return F.linear(F.dropout(pooled, dropout_p, training), out_w, out_b)
