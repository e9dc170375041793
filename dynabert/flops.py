"""Parameters and FLOPs of any sub-network, from the config alone (nanoGPT's estimate_mfu style).

Convention (DESIGN.md): FLOPs = 2 x multiply-accumulates, batch 1. "dense" counts the Linear layers (encoder,
pooler/head, classifier); "attention" adds QK^T and AV. Embedding lookups, LayerNorm, softmax and GELU are not
counted. Must not import torch, transformers, bench or devices.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from dynabert.config import BertSize
from dynabert.subnet import AnySpec, LayerwiseSpec, layer_plan, layerwise, summary_mults


@dataclass(frozen=True)
class SubnetCost:
    subnet_id: str
    width_mult: float
    depth_mult: float
    n_heads: int | None  # heads per kept layer; None when layers differ (see layer_heads)
    ffn_dim: int | None  # FFN neurons per kept layer; None when layers differ (see layer_ffn)
    n_layers: int
    layer_ids: tuple[int, ...]
    params_total: int  # the full model (what the checkpoint holds)
    params_active: int  # the extracted sub-network
    params_encoder_active: int
    flops_dense: int
    flops_with_attention: int
    seq_len: int
    layer_heads: tuple[int, ...] = ()  # per kept layer
    layer_ffn: tuple[int, ...] = ()  # per kept layer
    subnet: dict | None = (
        None  # the per-layer JSON form (subnet.LayerwiseSpec.to_json), for records
    )

    def to_dict(self) -> dict:
        return asdict(self)


def _linear_params(n_in: int, n_out: int) -> int:
    return n_in * n_out + n_out


def layer_params(hidden: int, n_heads: int, head_size: int, ffn: int) -> int:
    inner = n_heads * head_size
    return (
        3 * _linear_params(hidden, inner)
        + _linear_params(inner, hidden)
        + 2 * hidden
        + _linear_params(hidden, ffn)
        + _linear_params(ffn, hidden)
        + 2 * hidden
    )


def cost(size: BertSize, spec: AnySpec, seq_len: int = 128) -> SubnetCost:
    """Params and FLOPs of `spec` (a grid point or a per-layer spec) cut from a model of `size`, at batch 1 and
    `seq_len` tokens. Raises ValueError for a bad seq_len or a spec the model cannot give."""
    if not isinstance(seq_len, int) or seq_len < 1:
        raise ValueError(f"seq_len must be a positive int, got {seq_len!r}")
    plan = layer_plan(spec, size)
    h, s = size.hidden_size, seq_len
    embeddings = (size.vocab_size + size.max_positions + size.type_vocab_size) * h + 2 * h
    head = _linear_params(h, h) + _linear_params(
        h, size.num_labels
    )  # pooler (or roberta dense) + classifier
    encoder_active = sum(layer_params(h, c.heads, size.head_size, c.ffn) for c in plan)
    encoder_full = size.num_layers * layer_params(h, size.num_heads, size.head_size, size.ffn_size)
    # MACs per layer: Q,K,V (3*S*H*inner) + attention-out (S*inner*H) + FFN up and down (2*S*H*F)
    layer_macs = sum(s * (4 * h * c.heads * size.head_size + 2 * h * c.ffn) for c in plan)
    attention_macs = sum(
        2 * s * s * c.heads * size.head_size for c in plan
    )  # QK^T: S*S*hd per head; AV: same
    head_macs = h * h + h * size.num_labels  # on the first token only
    dense = 2 * (layer_macs + head_macs)
    heads, ffn = {c.heads for c in plan}, {c.ffn for c in plan}
    width, depth = (
        (spec.width_mult, spec.depth_mult)
        if not isinstance(spec, LayerwiseSpec)
        else summary_mults(plan, size)
    )
    return SubnetCost(
        subnet_id=spec.subnet_id,
        width_mult=width,
        depth_mult=depth,
        n_heads=heads.pop() if len(heads) == 1 else None,
        ffn_dim=ffn.pop() if len(ffn) == 1 else None,
        n_layers=len(plan),
        layer_ids=tuple(c.layer for c in plan),
        params_total=embeddings + encoder_full + head,
        params_active=embeddings + encoder_active + head,
        params_encoder_active=encoder_active,
        flops_dense=dense,
        flops_with_attention=dense + 2 * attention_macs,
        seq_len=seq_len,
        layer_heads=tuple(c.heads for c in plan),
        layer_ffn=tuple(c.ffn for c in plan),
        subnet=layerwise(spec, size).to_json(),
    )
