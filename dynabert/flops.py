"""Parameters and FLOPs of any sub-network, from the config alone (nanoGPT's estimate_mfu style).

Convention (DESIGN.md): FLOPs = 2 x multiply-accumulates, batch 1. "dense" counts the Linear layers (encoder,
pooler/head, classifier); "attention" adds QK^T and AV. Embedding lookups, LayerNorm, softmax and GELU are not
counted. Must not import torch, transformers, bench or devices.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from dynabert.config import BertSize, SubnetSpec


@dataclass(frozen=True)
class SubnetCost:
    subnet_id: str
    width_mult: float
    depth_mult: float
    n_heads: int
    ffn_dim: int
    n_layers: int
    layer_ids: tuple[int, ...]
    params_total: int  # the full model (what the checkpoint holds)
    params_active: int  # the extracted sub-network
    params_encoder_active: int
    flops_dense: int
    flops_with_attention: int
    seq_len: int

    def to_dict(self) -> dict:
        return asdict(self)


def _linear_params(n_in: int, n_out: int) -> int:
    return n_in * n_out + n_out


def layer_params(hidden: int, n_heads: int, head_size: int, ffn: int) -> int:
    inner = n_heads * head_size
    return (3 * _linear_params(hidden, inner) + _linear_params(inner, hidden) + 2 * hidden
            + _linear_params(hidden, ffn) + _linear_params(ffn, hidden) + 2 * hidden)


def cost(size: BertSize, spec: SubnetSpec, seq_len: int = 128) -> SubnetCost:
    """Params and FLOPs of `spec` cut from a model of `size`, at batch 1 and `seq_len` tokens."""
    if not isinstance(seq_len, int) or seq_len < 1:
        raise ValueError(f"seq_len must be a positive int, got {seq_len!r}")
    n_heads, ffn = spec.heads_kept(size.num_heads), spec.ffn_kept(size.num_heads, size.ffn_size)
    layer_ids = spec.layer_ids(size.num_layers)
    h, s, inner = size.hidden_size, seq_len, n_heads * size.head_size
    embeddings = (size.vocab_size + size.max_positions + size.type_vocab_size) * h + 2 * h
    head = _linear_params(h, h) + _linear_params(h, size.num_labels)  # pooler (or roberta dense) + classifier
    encoder_active = len(layer_ids) * layer_params(h, n_heads, size.head_size, ffn)
    encoder_full = size.num_layers * layer_params(h, size.num_heads, size.head_size, size.ffn_size)
    # MACs per layer: Q,K,V (3*S*H*inner) + attention-out (S*inner*H) + FFN up and down (2*S*H*F)
    layer_macs = s * (4 * h * inner + 2 * h * ffn)
    attention_macs = 2 * s * s * inner  # QK^T: S*S*hd per head; AV: the same
    head_macs = h * h + h * size.num_labels  # on the first token only
    dense = 2 * (len(layer_ids) * layer_macs + head_macs)
    return SubnetCost(
        subnet_id=spec.subnet_id, width_mult=spec.width_mult, depth_mult=spec.depth_mult, n_heads=n_heads,
        ffn_dim=ffn, n_layers=len(layer_ids), layer_ids=layer_ids,
        params_total=embeddings + encoder_full + head, params_active=embeddings + encoder_active + head,
        params_encoder_active=encoder_active, flops_dense=dense,
        flops_with_attention=dense + 2 * len(layer_ids) * attention_macs, seq_len=seq_len)
