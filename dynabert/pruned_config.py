"""The config of an extracted sub-network: head size kept apart from hidden size, and where it was cut from.

Saved beside the weights as remote code (transformers' custom-code mechanism: `auto_map` + this file), so it
imports only transformers and nothing from this project. Must not import dynabert, bench or devices.
"""

from __future__ import annotations

from transformers import PretrainedConfig


class PrunedBertConfig(PretrainedConfig):
    """Config of an extracted sub-network; `source_*` fields say where it was cut from.

    classifier_dropout: dropout before the classifier (None: hidden_dropout_prob, as BertConfig).
    layer_heads, layer_intermediate_sizes: heads and FFN neurons of each layer when they differ per layer (a
    per-layer sub-network); None: every layer has num_attention_heads and intermediate_size (then the largest).
    source_subnet: the per-layer JSON form of what was cut ({"heads": [...], "ffn": [...]} per source layer).
    problem_type, id2label, label2id: the standard PretrainedConfig fields, carried over from the checkpoint.
    """

    model_type = "dynabert-pruned"

    def __init__(
        self,
        vocab_size: int = 30522,
        hidden_size: int = 768,
        num_hidden_layers: int = 12,
        num_attention_heads: int = 12,
        attention_head_size: int = 64,
        intermediate_size: int = 3072,
        max_position_embeddings: int = 512,
        type_vocab_size: int = 2,
        layer_norm_eps: float = 1e-12,
        hidden_act: str = "gelu",
        hidden_dropout_prob: float = 0.1,
        attention_probs_dropout_prob: float = 0.1,
        classifier_dropout: float | None = None,
        position_mode: str = "absolute",
        head_type: str = "bert-pooler",
        pad_token_id: int = 0,
        source_width_mult: float = 1.0,
        source_depth_mult: float = 1.0,
        source_layer_ids: list[int] | None = None,
        source_num_heads: int | None = None,
        source_num_layers: int | None = None,
        source_intermediate_size: int | None = None,
        layer_heads: list[int] | None = None,
        layer_intermediate_sizes: list[int] | None = None,
        source_subnet: dict | None = None,
        **kwargs,
    ):
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
        self.classifier_dropout = classifier_dropout
        self.position_mode = position_mode
        self.head_type = head_type
        self.source_width_mult = source_width_mult
        self.source_depth_mult = source_depth_mult
        self.source_layer_ids = (
            list(source_layer_ids)
            if source_layer_ids is not None
            else list(range(num_hidden_layers))
        )
        self.source_num_heads = source_num_heads
        self.source_num_layers = source_num_layers
        self.source_intermediate_size = source_intermediate_size
        for name, values in (
            ("layer_heads", layer_heads),
            ("layer_intermediate_sizes", layer_intermediate_sizes),
        ):
            if values is not None and len(values) != num_hidden_layers:
                raise ValueError(f"{name} has {len(values)} values for {num_hidden_layers} layers")
        self.layer_heads = None if layer_heads is None else [int(v) for v in layer_heads]
        self.layer_intermediate_sizes = (
            None if layer_intermediate_sizes is None else [int(v) for v in layer_intermediate_sizes]
        )
        self.source_subnet = source_subnet

    def layer_shapes(self) -> list[tuple[int, int]]:
        """(heads, FFN neurons) of each layer."""
        heads = self.layer_heads or [self.num_attention_heads] * self.num_hidden_layers
        ffn = self.layer_intermediate_sizes or [self.intermediate_size] * self.num_hidden_layers
        return list(zip(heads, ffn))


PrunedBertConfig.register_for_auto_class()  # save_pretrained copies this file and writes config.auto_map
