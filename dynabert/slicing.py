"""Pure slice functions: full layer weights -> the leftmost heads and FFN neurons (spec 1.1, HAT's sample_ slicing).

Kept heads/neurons are always the leftmost ones; rewiring (rewire.py) is what makes them the most important.
Returns views, never copies: extract.py copies, the dynamic model computes on the views directly.
Must not import transformers, bench or devices.
"""

from __future__ import annotations

from typing import NamedTuple

import torch.nn as nn

from dynabert.layers import EmbeddingWeights, LayerWeights


class LayerModules(NamedTuple):
    """The modules of one encoder layer, whatever a Hugging Face architecture calls them."""

    query: nn.Linear
    key: nn.Linear
    value: nn.Linear
    attn_out: nn.Linear
    attn_ln: nn.LayerNorm
    ffn_up: nn.Linear
    ffn_down: nn.Linear
    ffn_ln: nn.LayerNorm


def hf_encoder_layers(backbone: nn.Module) -> nn.ModuleList:
    """The layer list of a BertModel / RobertaModel (encoder.layer) or DistilBertModel (transformer.layer)."""
    return (
        backbone.transformer.layer if hasattr(backbone, "transformer") else backbone.encoder.layer
    )


def hf_layer_modules(layer: nn.Module) -> LayerModules:
    """BertLayer / RobertaLayer, or DistilBERT's TransformerBlock (q_lin.., sa_layer_norm, ffn.lin1/lin2)."""
    if hasattr(layer, "sa_layer_norm"):
        att, ffn = layer.attention, layer.ffn
        return LayerModules(
            att.q_lin,
            att.k_lin,
            att.v_lin,
            att.out_lin,
            layer.sa_layer_norm,
            ffn.lin1,
            ffn.lin2,
            layer.output_layer_norm,
        )
    att = layer.attention
    return LayerModules(
        att.self.query,
        att.self.key,
        att.self.value,
        att.output.dense,
        att.output.LayerNorm,
        layer.intermediate.dense,
        layer.output.dense,
        layer.output.LayerNorm,
    )


def hf_layer_weights(layer: nn.Module) -> LayerWeights:
    """The tensors of a Hugging Face encoder layer, in LayerWeights order."""
    m = hf_layer_modules(layer)
    return LayerWeights(
        m.query.weight,
        m.query.bias,
        m.key.weight,
        m.key.bias,
        m.value.weight,
        m.value.bias,
        m.attn_out.weight,
        m.attn_out.bias,
        m.attn_ln.weight,
        m.attn_ln.bias,
        m.ffn_up.weight,
        m.ffn_up.bias,
        m.ffn_down.weight,
        m.ffn_down.bias,
        m.ffn_ln.weight,
        m.ffn_ln.bias,
    )


def hf_embedding_weights(embeddings: nn.Module) -> EmbeddingWeights:
    """Embedding tensors; token_type is None for DistilBERT, which has no token-type embeddings."""
    token_type = getattr(embeddings, "token_type_embeddings", None)
    return EmbeddingWeights(
        embeddings.word_embeddings.weight,
        embeddings.position_embeddings.weight,
        None if token_type is None else token_type.weight,
        embeddings.LayerNorm.weight,
        embeddings.LayerNorm.bias,
    )


def slice_layer(w: LayerWeights, n_heads: int, head_size: int, ffn: int) -> LayerWeights:
    """Keep the first n_heads heads and the first ffn neurons of a layer.

    Q/K/V and FFN-up: first output rows (and bias entries); attention-out and FFN-down: first input columns,
    their biases whole (spec 1.1).
    """
    a = n_heads * head_size
    return w._replace(
        q_w=w.q_w[:a],
        q_b=w.q_b[:a],  # [nh_full*hd, H] -> [nh*hd, H]
        k_w=w.k_w[:a],
        k_b=w.k_b[:a],
        v_w=w.v_w[:a],
        v_b=w.v_b[:a],
        attn_out_w=w.attn_out_w[:, :a],  # [H, nh_full*hd] -> [H, nh*hd]
        ffn_up_w=w.ffn_up_w[:ffn],
        ffn_up_b=w.ffn_up_b[:ffn],  # [F_full, H] -> [F, H]
        ffn_down_w=w.ffn_down_w[:, :ffn],  # [H, F_full] -> [H, F]
    )
