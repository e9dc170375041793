"""Pure slice functions: full layer weights -> the leftmost heads and FFN neurons (spec 1.1, HAT's sample_ slicing).

Kept heads/neurons are always the leftmost ones; rewiring (rewire.py) is what makes them the most important.
Returns views, never copies: extract.py copies, the dynamic model computes on the views directly.
Must not import transformers, bench or devices.
"""

from __future__ import annotations

import torch.nn as nn

from dynabert.layers import EmbeddingWeights, LayerWeights


def hf_layer_weights(layer: nn.Module) -> LayerWeights:
    """The tensors of a Hugging Face BertLayer / RobertaLayer, in LayerWeights order."""
    att, out = layer.attention, layer.output
    return LayerWeights(
        att.self.query.weight, att.self.query.bias, att.self.key.weight, att.self.key.bias,
        att.self.value.weight, att.self.value.bias, att.output.dense.weight, att.output.dense.bias,
        att.output.LayerNorm.weight, att.output.LayerNorm.bias,
        layer.intermediate.dense.weight, layer.intermediate.dense.bias,
        out.dense.weight, out.dense.bias, out.LayerNorm.weight, out.LayerNorm.bias)


def hf_embedding_weights(embeddings: nn.Module) -> EmbeddingWeights:
    return EmbeddingWeights(embeddings.word_embeddings.weight, embeddings.position_embeddings.weight,
                            embeddings.token_type_embeddings.weight, embeddings.LayerNorm.weight,
                            embeddings.LayerNorm.bias)


def slice_layer(w: LayerWeights, n_heads: int, head_size: int, ffn: int) -> LayerWeights:
    """Keep the first n_heads heads and the first ffn neurons of a layer.

    Q/K/V and FFN-up: first output rows (and bias entries); attention-out and FFN-down: first input columns,
    their biases whole (spec 1.1).
    """
    a = n_heads * head_size
    return w._replace(
        q_w=w.q_w[:a], q_b=w.q_b[:a],  # [nh_full*hd, H] -> [nh*hd, H]
        k_w=w.k_w[:a], k_b=w.k_b[:a],
        v_w=w.v_w[:a], v_b=w.v_b[:a],
        attn_out_w=w.attn_out_w[:, :a],  # [H, nh_full*hd] -> [H, nh*hd]
        ffn_up_w=w.ffn_up_w[:ffn], ffn_up_b=w.ffn_up_b[:ffn],  # [F_full, H] -> [F, H]
        ffn_down_w=w.ffn_down_w[:, :ffn],  # [H, F_full] -> [H, F]
    )
