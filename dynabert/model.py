"""The dynamic BERT/RoBERTa/DistilBERT classifier: one set of weights, run at any active (width, depth)
(DynaBERT, spec 1).

Wraps a Hugging Face *ForSequenceClassification model and computes on views of its own parameters (no copies),
through the same layer functions as the extracted model (layers.py). Holds one piece of state: the active spec.
Must not import bench or devices.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn as nn
from transformers.activations import ACT2FN

from dynabert.config import BertSize, SubnetSpec
from dynabert.layers import additive_mask, classify, embed, encoder_layer, position_ids_for
from dynabert.slicing import hf_embedding_weights, hf_encoder_layers, hf_layer_weights, slice_layer
from dynabert.subnet import AnySpec, layer_plan

SUPPORTED_MODEL_TYPES = ("bert", "roberta", "distilbert")


@dataclass
class DynaOutput:
    logits: torch.Tensor  # [B, num_labels]
    hidden_states: tuple[
        torch.Tensor, ...
    ]  # embedding output, then one [B, S, H] per applied layer
    attentions: tuple[torch.Tensor, ...] | None = (
        None  # [B, nh, S, S] probabilities per layer, when asked
    )


@dataclass(frozen=True)
class Hyper:
    """The non-shape settings the shared math needs, read from any supported config."""

    act: str
    eps: float
    hidden_dropout: float
    attn_dropout: float
    classifier_dropout: float


def hyper(config) -> Hyper:
    """DistilBERT names them activation / dropout / attention_dropout / seq_classif_dropout (LayerNorm eps 1e-12)."""
    if config.model_type == "distilbert":
        return Hyper(
            config.activation,
            1e-12,
            config.dropout,
            config.attention_dropout,
            config.seq_classif_dropout,
        )
    classifier_dropout = getattr(config, "classifier_dropout", None)
    return Hyper(
        config.hidden_act,
        config.layer_norm_eps,
        config.hidden_dropout_prob,
        config.attention_probs_dropout_prob,
        config.hidden_dropout_prob if classifier_dropout is None else classifier_dropout,
    )


def bert_size(config) -> BertSize:
    """BertSize of a Hugging Face BERT/RoBERTa/DistilBERT config; raises for other architectures."""
    if config.model_type not in SUPPORTED_MODEL_TYPES:
        raise ValueError(
            f"unsupported architecture {config.model_type!r}: DynaBERT needs a BERT, RoBERTa or "
            f"DistilBERT sequence-classification model (model_type one of {SUPPORTED_MODEL_TYPES})"
        )
    if config.hidden_size % config.num_attention_heads:
        raise ValueError(
            f"hidden_size {config.hidden_size} is not a multiple of num_attention_heads "
            f"{config.num_attention_heads}"
        )
    distil = config.model_type == "distilbert"
    return BertSize(
        vocab_size=config.vocab_size,
        hidden_size=config.hidden_size,
        num_layers=config.num_hidden_layers,
        num_heads=config.num_attention_heads,
        head_size=config.hidden_size // config.num_attention_heads,
        ffn_size=config.hidden_dim if distil else config.intermediate_size,
        max_positions=config.max_position_embeddings,
        type_vocab_size=0 if distil else config.type_vocab_size,
        num_labels=config.num_labels,
        head_type={"roberta": "roberta-head", "distilbert": "distilbert-head"}.get(
            config.model_type, "bert-pooler"
        ),
    )


class DynaBert(nn.Module):
    """A Hugging Face BERT/RoBERTa/DistilBERT classifier whose width and depth are chosen per forward pass."""

    def __init__(self, hf_model: nn.Module):
        super().__init__()
        config = hf_model.config
        self.full_size = bert_size(config)
        self.hf = hf_model
        self.backbone = getattr(
            hf_model, hf_model.base_model_prefix
        )  # .bert, .roberta or .distilbert
        self.layers = hf_encoder_layers(self.backbone)
        h = hyper(config)
        self.act_name, self.act = h.act, ACT2FN[h.act]
        self.eps = h.eps
        self.hidden_dropout_p = h.hidden_dropout
        self.attn_dropout_p = h.attn_dropout
        self.classifier_dropout_p = h.classifier_dropout
        self.position_mode = "roberta" if config.model_type == "roberta" else "absolute"
        self.pad_token_id = config.pad_token_id if config.pad_token_id is not None else 0
        self.active_spec = SubnetSpec()
        self.train(hf_model.training)

    @property
    def config(self):
        return self.hf.config

    @contextmanager
    def active(self, spec: AnySpec) -> Iterator[DynaBert]:
        """Run at `spec` inside the block; the previous spec is restored on exit."""
        spec.check(self.full_size)
        previous, self.active_spec = self.active_spec, spec
        try:
            yield self
        finally:
            self.active_spec = previous

    def head_weights(self) -> tuple[torch.Tensor, ...]:
        """(dense_w, dense_b, out_w, out_b) of the classification head."""
        if self.full_size.head_type == "roberta-head":
            head = self.hf.classifier
            return head.dense.weight, head.dense.bias, head.out_proj.weight, head.out_proj.bias
        if self.full_size.head_type == "distilbert-head":
            pre = self.hf.pre_classifier
            return pre.weight, pre.bias, self.hf.classifier.weight, self.hf.classifier.bias
        pooler = self.backbone.pooler.dense
        return pooler.weight, pooler.bias, self.hf.classifier.weight, self.hf.classifier.bias

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        head_mask: torch.Tensor | None = None,
        spec: AnySpec | None = None,
        output_attentions: bool = False,
    ) -> DynaOutput:
        """Logits and every hidden state at `spec` (default: the active spec), a grid point or a per-layer spec.

        head_mask: [num_layers, num_heads] gate on attention probabilities (for importance, spec 2.1).
        """
        spec = self.active_spec if spec is None else spec
        size = self.full_size
        plan = layer_plan(spec, size)
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        training = self.training
        positions = position_ids_for(input_ids, self.position_mode, self.pad_token_id)
        x = embed(
            input_ids,
            token_type_ids,
            positions,
            hf_embedding_weights(self.backbone.embeddings),
            self.eps,
            self.hidden_dropout_p,
            training,
        )
        mask_add = additive_mask(attention_mask, x.dtype)
        hidden, attentions = [x], ([] if output_attentions else None)
        for i, n_heads, ffn in plan:
            w = slice_layer(hf_layer_weights(self.layers[i]), n_heads, size.head_size, ffn)
            gate = None if head_mask is None else head_mask[i, :n_heads]
            x = encoder_layer(
                x,
                mask_add,
                w,
                n_heads,
                size.head_size,
                self.act,
                self.eps,
                self.hidden_dropout_p,
                self.attn_dropout_p,
                training,
                gate,
                attentions,
            )
            hidden.append(x)
        logits = classify(
            x, size.head_type, *self.head_weights(), self.classifier_dropout_p, training
        )
        return DynaOutput(
            logits=logits,
            hidden_states=tuple(hidden),
            attentions=None if attentions is None else tuple(attentions),
        )
