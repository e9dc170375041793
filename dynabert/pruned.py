"""A standalone, dense sub-network: a transformers sequence classifier whose heads may be narrower than hidden/heads.

transformers' BertConfig ties head size to hidden/heads and has no prune_heads in v5, so a width-pruned BERT
needs its own small model (../shared/notes/export-pruned.md). It calls the same layer functions as the dynamic
model (layers.py) and behaves like BertForSequenceClassification: SequenceClassifierOutput, `return_dict`,
`labels` -> loss by `problem_type`, hidden states and attentions on request.

save_pretrained copies this file, pruned_config.py and layers.py beside the weights and writes `auto_map`, so
`AutoModelForSequenceClassification.from_pretrained(SUB, trust_remote_code=True)` works without this project.
Hence only relative imports within those three files. Must not import dynabert (absolutely), bench or devices.
"""

from __future__ import annotations

import torch
import torch.nn as nn
from transformers import PreTrainedModel
from transformers.activations import ACT2FN
from transformers.modeling_outputs import SequenceClassifierOutput

from .layers import (
    EmbeddingWeights,
    LayerWeights,
    additive_mask,
    classify,
    embed,
    encoder_layer,
    position_ids_for,
)
from .pruned_config import PrunedBertConfig

__all__ = ["PrunedBertConfig", "PrunedBertForSequenceClassification"]


class PrunedEmbeddings(nn.Module):
    def __init__(self, config: PrunedBertConfig):
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        # type_vocab_size 0: no token-type embeddings (cut from DistilBERT); token_type_ids are then ignored
        self.token_type_embeddings = (
            nn.Embedding(config.type_vocab_size, config.hidden_size)
            if config.type_vocab_size
            else None
        )
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def weights(self) -> EmbeddingWeights:
        token_type = (
            None if self.token_type_embeddings is None else self.token_type_embeddings.weight
        )
        return EmbeddingWeights(
            self.word_embeddings.weight,
            self.position_embeddings.weight,
            token_type,
            self.LayerNorm.weight,
            self.LayerNorm.bias,
        )


class PrunedLayer(nn.Module):
    """One encoder layer with n_heads heads of head_size and an FFN of ffn neurons (plain ints, export-friendly);
    layers of one model may differ in both (a per-layer sub-network)."""

    def __init__(self, config: PrunedBertConfig, n_heads: int, ffn: int):
        super().__init__()
        self.n_heads = n_heads
        hidden, inner = config.hidden_size, n_heads * config.attention_head_size
        self.query, self.key, self.value = (nn.Linear(hidden, inner) for _ in range(3))
        self.attn_out = nn.Linear(inner, hidden)
        self.attn_ln = nn.LayerNorm(hidden, eps=config.layer_norm_eps)
        self.ffn_up = nn.Linear(hidden, ffn)
        self.ffn_down = nn.Linear(ffn, hidden)
        self.ffn_ln = nn.LayerNorm(hidden, eps=config.layer_norm_eps)

    def weights(self) -> LayerWeights:
        return LayerWeights(
            self.query.weight,
            self.query.bias,
            self.key.weight,
            self.key.bias,
            self.value.weight,
            self.value.bias,
            self.attn_out.weight,
            self.attn_out.bias,
            self.attn_ln.weight,
            self.attn_ln.bias,
            self.ffn_up.weight,
            self.ffn_up.bias,
            self.ffn_down.weight,
            self.ffn_down.bias,
            self.ffn_ln.weight,
            self.ffn_ln.bias,
        )


class PrunedBertForSequenceClassification(PreTrainedModel):
    """Dense sub-network classifier: input_ids [B, S] (+ attention_mask, token_type_ids) -> logits [B, num_labels]."""

    config_class = PrunedBertConfig
    base_model_prefix = "pruned"
    main_input_name = "input_ids"

    def __init__(self, config: PrunedBertConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.embeddings = PrunedEmbeddings(config)
        self.layers = nn.ModuleList(PrunedLayer(config, h, f) for h, f in config.layer_shapes())
        self.head_dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.head_out = nn.Linear(config.hidden_size, config.num_labels)
        self.act = ACT2FN[config.hidden_act]
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear):
            nn.init.zeros_(module.bias)
        if isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ) -> SequenceClassifierOutput | tuple:
        """SequenceClassifierOutput(loss, logits [B, num_labels], hidden_states, attentions), as BERT's classifier.

        attention_mask, token_type_ids: [B, S] (default all ones / zeros; token types ignored when the source had
        none, i.e. DistilBERT). labels: [B] class ids, [B] floats (num_labels 1) or [B, num_labels] multi-hot
        floats -> `loss` per `config.problem_type`. hidden_states: embedding output + one [B, S, H] per layer;
        attentions: [B, heads, S, S] per layer. return_dict False: the same as a tuple without the None fields.
        An argument this model does not take (inputs_embeds, head_mask, ...) raises TypeError naming it.
        """
        c = self.config
        return_dict = c.return_dict if return_dict is None else return_dict
        want_hidden = (
            c.output_hidden_states if output_hidden_states is None else output_hidden_states
        )
        want_attn = c.output_attentions if output_attentions is None else output_attentions
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        training = self.training
        positions = position_ids_for(input_ids, c.position_mode, c.pad_token_id)
        x = embed(
            input_ids,
            token_type_ids,
            positions,
            self.embeddings.weights(),
            c.layer_norm_eps,
            c.hidden_dropout_prob,
            training,
        )
        mask_add = additive_mask(attention_mask, x.dtype)
        hidden, attentions = [x], ([] if want_attn else None)
        for layer in self.layers:
            x = encoder_layer(
                x,
                mask_add,
                layer.weights(),
                layer.n_heads,
                c.attention_head_size,
                self.act,
                c.layer_norm_eps,
                c.hidden_dropout_prob,
                c.attention_probs_dropout_prob,
                training,
                attentions=attentions,
            )
            hidden.append(x)
        dropout = c.hidden_dropout_prob if c.classifier_dropout is None else c.classifier_dropout
        logits = classify(
            x,
            c.head_type,
            self.head_dense.weight,
            self.head_dense.bias,
            self.head_out.weight,
            self.head_out.bias,
            dropout,
            training,
        )
        out = SequenceClassifierOutput(
            loss=None if labels is None else self.classification_loss(logits, labels),
            logits=logits,
            hidden_states=tuple(hidden) if want_hidden else None,
            attentions=tuple(attentions) if want_attn else None,
        )
        return out if return_dict else out.to_tuple()

    def classification_loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The loss BertForSequenceClassification computes (transformers models/bert/modeling_bert.py): problem_type
        regression -> MSE, single_label_classification -> cross-entropy, multi_label_classification -> BCE with
        logits; when unset, inferred as transformers does (1 label: regression; integer labels: single-label;
        else multi-label). Raises ValueError for any other problem_type."""
        problem = self.config.problem_type
        if problem is None:
            problem = (
                "regression"
                if self.num_labels == 1
                else "single_label_classification"
                if labels.dtype in (torch.long, torch.int)
                else "multi_label_classification"
            )
        if problem == "regression":
            if self.num_labels == 1:
                return nn.functional.mse_loss(logits.squeeze(), labels.squeeze().to(logits.dtype))
            return nn.functional.mse_loss(logits, labels.to(logits.dtype))
        if problem == "single_label_classification":
            return nn.functional.cross_entropy(logits.view(-1, self.num_labels), labels.view(-1))
        if problem == "multi_label_classification":
            return nn.functional.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype))
        raise ValueError(
            f"config.problem_type {problem!r} is not one of regression, single_label_classification, "
            f"multi_label_classification"
        )


PrunedBertForSequenceClassification.register_for_auto_class("AutoModelForSequenceClassification")
