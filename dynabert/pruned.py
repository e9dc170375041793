"""A standalone, dense sub-network: config with the head size kept apart from the hidden size, and its model.

transformers' BertConfig ties head size to hidden/heads and has no prune_heads in v5, so a width-pruned BERT
needs its own small model (../shared/notes/export-pruned.md). It calls the same layer functions as the dynamic
model, is a PreTrainedModel (save_pretrained / from_pretrained), and is registered with the Auto classes.
Must not import bench or devices.
"""

from __future__ import annotations

import torch
import torch.nn as nn
from transformers import AutoConfig, AutoModelForSequenceClassification, PretrainedConfig, PreTrainedModel
from transformers.activations import ACT2FN
from transformers.modeling_outputs import SequenceClassifierOutput

from dynabert.layers import EmbeddingWeights, LayerWeights, additive_mask, classify, embed, encoder_layer, position_ids_for


class PrunedBertConfig(PretrainedConfig):
    """Config of an extracted sub-network; `source_*` fields say where it was cut from."""

    model_type = "dynabert-pruned"

    def __init__(self, vocab_size: int = 30522, hidden_size: int = 768, num_hidden_layers: int = 12,
                 num_attention_heads: int = 12, attention_head_size: int = 64, intermediate_size: int = 3072,
                 max_position_embeddings: int = 512, type_vocab_size: int = 2, layer_norm_eps: float = 1e-12,
                 hidden_act: str = "gelu", hidden_dropout_prob: float = 0.1,
                 attention_probs_dropout_prob: float = 0.1, position_mode: str = "absolute",
                 head_type: str = "bert-pooler", pad_token_id: int = 0, source_width_mult: float = 1.0,
                 source_depth_mult: float = 1.0, source_layer_ids: list[int] | None = None,
                 source_num_heads: int | None = None, source_num_layers: int | None = None,
                 source_intermediate_size: int | None = None, **kwargs):
        super().__init__(pad_token_id=pad_token_id, **kwargs)
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.attention_head_size = attention_head_size
        self.intermediate_size = intermediate_size
        self.max_position_embeddings = max_position_embeddings
        self.type_vocab_size = type_vocab_size
        self.layer_norm_eps = layer_norm_eps
        self.hidden_act = hidden_act
        self.hidden_dropout_prob = hidden_dropout_prob
        self.attention_probs_dropout_prob = attention_probs_dropout_prob
        self.position_mode = position_mode
        self.head_type = head_type
        self.source_width_mult = source_width_mult
        self.source_depth_mult = source_depth_mult
        self.source_layer_ids = list(source_layer_ids) if source_layer_ids is not None else list(range(num_hidden_layers))
        self.source_num_heads = source_num_heads
        self.source_num_layers = source_num_layers
        self.source_intermediate_size = source_intermediate_size


class PrunedEmbeddings(nn.Module):
    def __init__(self, config: PrunedBertConfig):
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        # type_vocab_size 0: no token-type embeddings (cut from DistilBERT); token_type_ids are then ignored
        self.token_type_embeddings = (nn.Embedding(config.type_vocab_size, config.hidden_size)
                                      if config.type_vocab_size else None)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def weights(self) -> EmbeddingWeights:
        token_type = None if self.token_type_embeddings is None else self.token_type_embeddings.weight
        return EmbeddingWeights(self.word_embeddings.weight, self.position_embeddings.weight, token_type,
                                self.LayerNorm.weight, self.LayerNorm.bias)


class PrunedLayer(nn.Module):
    """One encoder layer with n_heads heads of head_size and an FFN of ffn neurons (plain ints, export-friendly)."""

    def __init__(self, config: PrunedBertConfig):
        super().__init__()
        hidden, inner = config.hidden_size, config.num_attention_heads * config.attention_head_size
        self.query, self.key, self.value = (nn.Linear(hidden, inner) for _ in range(3))
        self.attn_out = nn.Linear(inner, hidden)
        self.attn_ln = nn.LayerNorm(hidden, eps=config.layer_norm_eps)
        self.ffn_up = nn.Linear(hidden, config.intermediate_size)
        self.ffn_down = nn.Linear(config.intermediate_size, hidden)
        self.ffn_ln = nn.LayerNorm(hidden, eps=config.layer_norm_eps)

    def weights(self) -> LayerWeights:
        return LayerWeights(self.query.weight, self.query.bias, self.key.weight, self.key.bias,
                            self.value.weight, self.value.bias, self.attn_out.weight, self.attn_out.bias,
                            self.attn_ln.weight, self.attn_ln.bias, self.ffn_up.weight, self.ffn_up.bias,
                            self.ffn_down.weight, self.ffn_down.bias, self.ffn_ln.weight, self.ffn_ln.bias)


class PrunedBertForSequenceClassification(PreTrainedModel):
    """Dense sub-network classifier. forward(input_ids, attention_mask, token_type_ids) -> logits."""

    config_class = PrunedBertConfig
    base_model_prefix = "pruned"
    main_input_name = "input_ids"

    def __init__(self, config: PrunedBertConfig):
        super().__init__(config)
        self.embeddings = PrunedEmbeddings(config)
        self.layers = nn.ModuleList(PrunedLayer(config) for _ in range(config.num_hidden_layers))
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

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None, labels: torch.Tensor | None = None,
                return_dict: bool | None = None, **kwargs):
        """Logits [B, num_labels]; a SequenceClassifierOutput (with loss when labels are given) if return_dict."""
        c = self.config
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        training = self.training
        positions = position_ids_for(input_ids, c.position_mode, c.pad_token_id)
        x = embed(input_ids, token_type_ids, positions, self.embeddings.weights(), c.layer_norm_eps,
                  c.hidden_dropout_prob, training)
        mask_add = additive_mask(attention_mask, x.dtype)
        for layer in self.layers:
            x = encoder_layer(x, mask_add, layer.weights(), c.num_attention_heads, c.attention_head_size,
                              self.act, c.layer_norm_eps, c.hidden_dropout_prob, c.attention_probs_dropout_prob,
                              training)
        logits = classify(x, c.head_type, self.head_dense.weight, self.head_dense.bias, self.head_out.weight,
                          self.head_out.bias, c.hidden_dropout_prob, training)
        if not (return_dict or labels is not None):
            return logits
        loss = None
        if labels is not None:
            loss = (nn.functional.mse_loss(logits.squeeze(-1), labels.float()) if c.num_labels == 1
                    else nn.functional.cross_entropy(logits, labels))
        return SequenceClassifierOutput(loss=loss, logits=logits)


AutoConfig.register(PrunedBertConfig.model_type, PrunedBertConfig, exist_ok=True)
AutoModelForSequenceClassification.register(PrunedBertConfig, PrunedBertForSequenceClassification, exist_ok=True)
