"""Test factories, in one place: tiny random models (no downloads) and results records.

Tests import them as `from factories import ...` (tests/ is on sys.path through tests/conftest.py). A test states
only the fields it is about; everything else takes the defaults below, so a change of the record schema or of a
tiny model is made here once. Must not import bench, devices or recipes.
"""

from __future__ import annotations

import torch
from transformers import (
    BertConfig,
    BertForSequenceClassification,
    DistilBertConfig,
    DistilBertForSequenceClassification,
    RobertaConfig,
    RobertaForSequenceClassification,
)

from dynabert import BertSize, DynaBert, LayerwiseSpec, SubnetSpec, cost, load_model
from dynabert.evaluate import weights_sha
from records import Record

# -- tiny models -------------------------------------------------------------------------------------------------


def tiny_bert(
    heads: int = 4,
    layers: int = 2,
    hidden: int = 64,
    ffn: int = 128,
    labels: int = 2,
    seed: int = 0,
):
    """A random BERT classifier (vocab 200, 64 positions) in eval mode."""
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=200,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=ffn,
        max_position_embeddings=64,
        num_labels=labels,
    )
    return BertForSequenceClassification(config).eval()


def tiny_roberta(seed: int = 0):
    """A random RoBERTa classifier: 4 layers, 4 heads, hidden 64, 3 labels, pad id 1."""
    torch.manual_seed(seed)
    config = RobertaConfig(
        vocab_size=200,
        hidden_size=64,
        num_hidden_layers=4,
        num_attention_heads=4,
        intermediate_size=128,
        max_position_embeddings=80,
        num_labels=3,
        pad_token_id=1,
    )
    return RobertaForSequenceClassification(config).eval()


def tiny_distilbert(layers: int = 4, vocab: int = 200, seed: int = 0):
    """DistilBERT layout: transformer.layer.N (q_lin, sa_layer_norm, ffn.lin1), no token types, ReLU head."""
    torch.manual_seed(seed)
    config = DistilBertConfig(
        vocab_size=vocab,
        dim=64,
        n_layers=layers,
        n_heads=4,
        hidden_dim=96,
        max_position_embeddings=64,
        num_labels=3,
    )
    return DistilBertForSequenceClassification(config).eval()


def padded_batch(vocab: int = 200, batch: int = 3, seq: int = 24, seed: int = 1):
    """(input_ids, attention_mask) [batch, seq]: row 0 full, row 1 padded from seq/2, row 2 from 5."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, vocab, (batch, seq), generator=g)
    mask = torch.ones_like(ids)
    mask[1, seq // 2 :] = 0
    mask[2, 5:] = 0
    ids[mask == 0] = 0
    return ids, mask


def tiny_preset_dynabert():
    """(DynaBert of the `tiny` preset, its weights sha): what the sweep measures when asked for `tiny`."""
    hf = load_model("tiny")
    return DynaBert(hf), weights_sha(hf)


# -- records ------------------------------------------------------------------------------------------------------


def _identity(spec: SubnetSpec | None) -> dict:
    spec = spec or SubnetSpec()
    return dict(subnet_id=spec.subnet_id, width_mult=spec.width_mult, depth_mult=spec.depth_mult)


def latency_record(spec: SubnetSpec | None = None, ms: float = 1.0, **fields) -> Record:
    """A latency record of `spec` (default w1.00-d1.00) with median `ms` milliseconds: model `m`, checkpoint `s`,
    onnxruntime on local-cpu, 1 thread, batch 1, seq 128; any field given in `fields` wins."""
    return Record(
        **{
            **dict(
                kind="latency",
                **_identity(spec),
                model_id="m",
                checkpoint_sha="s",
                device="local-cpu",
                runtime="onnxruntime",
                threads=1,
                batch_size=1,
                seq_len=128,
                latency_ms_p50=ms,
            ),
            **fields,
        }
    )


def accuracy_record(spec: SubnetSpec | None = None, value: float = 0.9, **fields) -> Record:
    """An SST-2 dev accuracy record of `spec` (default w1.00-d1.00): model `m`, checkpoint `s`; `fields` win."""
    return Record(
        **{
            **dict(
                kind="accuracy",
                **_identity(spec),
                model_id="m",
                checkpoint_sha="s",
                task="sst2",
                metric_name="accuracy",
                metric_value=value,
            ),
            **fields,
        }
    )


def costed_latency_record(
    size: BertSize, spec: LayerwiseSpec | SubnetSpec, ms: float, seq_len: int = 128, **fields
) -> Record:
    """A latency record whose shape, parameter and FLOPs fields are `dynabert.cost(size, spec, seq_len)`'s, as
    the sweep writes them for a per-layer sub-network; the rest as `latency_record`."""
    c = cost(size, spec, seq_len)
    shape = dict(
        subnet_id=c.subnet_id,
        width_mult=c.width_mult,
        depth_mult=c.depth_mult,
        subnet=c.subnet,
        n_layers=c.n_layers,
        n_heads=c.n_heads,
        ffn_dim=c.ffn_dim,
        seq_len=seq_len,
        params=c.params_active,
        params_total=c.params_total,
        flops=c.flops_dense,
        flops_with_attention=c.flops_with_attention,
    )
    return latency_record(ms=ms, **{**shape, **fields})
