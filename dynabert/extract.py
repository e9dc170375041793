"""Spec -> static config -> fresh dense module -> copy_ the sliced weights (once-for-all's get_active_subnet);
and the saved sub-network directory (weights + remote code, tokenizer, model card).

Must not import bench or devices.
"""

from __future__ import annotations

from pathlib import Path

import torch

import records
from dynabert.model import DynaBert
from dynabert.pruned import PrunedBertConfig, PrunedBertForSequenceClassification
from dynabert.slicing import hf_embedding_weights, hf_layer_weights, slice_layer
from dynabert.subnet import AnySpec, LayerwiseSpec, layer_plan, layerwise, summary_mults


def pruned_config(
    dyna: DynaBert, spec: AnySpec, id2label: dict[int, str] | None = None
) -> PrunedBertConfig:
    """The static config of `spec` cut from `dyna` (head size kept, heads/FFN/layers reduced). A grid point gives
    the same heads and FFN in every layer; a per-layer spec lists them per layer (layer_heads, ...). `id2label`
    (the task's label names, dynabert.labels.named_outputs) replaces the checkpoint's when given."""
    size, hf = dyna.full_size, dyna.config
    id2label = id2label or hf.id2label
    plan = layer_plan(spec, size)
    per_layer = isinstance(spec, LayerwiseSpec)
    width, depth = summary_mults(plan, size) if per_layer else (spec.width_mult, spec.depth_mult)
    return PrunedBertConfig(
        vocab_size=size.vocab_size,
        hidden_size=size.hidden_size,
        num_hidden_layers=len(plan),
        num_attention_heads=max(c.heads for c in plan),
        attention_head_size=size.head_size,
        intermediate_size=max(c.ffn for c in plan),
        max_position_embeddings=size.max_positions,
        type_vocab_size=size.type_vocab_size,
        layer_norm_eps=dyna.eps,
        hidden_act=dyna.act_name,
        hidden_dropout_prob=dyna.hidden_dropout_p,
        attention_probs_dropout_prob=dyna.attn_dropout_p,
        classifier_dropout=dyna.classifier_dropout_p,
        problem_type=hf.problem_type,
        position_mode=dyna.position_mode,
        head_type=size.head_type,
        pad_token_id=dyna.pad_token_id,
        num_labels=size.num_labels,
        id2label=id2label,
        label2id={v: k for k, v in id2label.items()},
        source_width_mult=width,
        source_depth_mult=depth,
        source_layer_ids=[c.layer for c in plan],
        source_num_heads=size.num_heads,
        source_num_layers=size.num_layers,
        source_intermediate_size=size.ffn_size,
        layer_heads=[c.heads for c in plan] if per_layer else None,
        layer_intermediate_sizes=[c.ffn for c in plan] if per_layer else None,
        source_subnet=layerwise(spec, size).to_json() if per_layer else None,
    )


@torch.no_grad()
def extract(
    dyna: DynaBert, spec: AnySpec, id2label: dict[int, str] | None = None
) -> PrunedBertForSequenceClassification:
    """A standalone model holding dense copies of exactly the weights `dyna` uses at `spec` (a grid point or a
    per-layer spec), in eval mode; outputs named by `id2label` when given."""
    config = pruned_config(dyna, spec, id2label)
    sub = PrunedBertForSequenceClassification(config)
    for dst, src in zip(sub.embeddings.weights(), hf_embedding_weights(dyna.backbone.embeddings)):
        if src is not None:  # DistilBERT: no token-type embeddings on either side
            dst.copy_(src)
    for dst_layer, (i, n_heads, ffn) in zip(sub.layers, layer_plan(spec, dyna.full_size)):
        kept = slice_layer(
            hf_layer_weights(dyna.layers[i]), n_heads, config.attention_head_size, ffn
        )
        for dst, src in zip(dst_layer.weights(), kept):
            dst.copy_(src)
    head = (sub.head_dense.weight, sub.head_dense.bias, sub.head_out.weight, sub.head_out.bias)
    for dst, src in zip(head, dyna.head_weights()):
        dst.copy_(src)
    return sub.eval()


def save_subnet(
    dyna: DynaBert,
    spec: AnySpec,
    out_dir: str | Path,
    source: str,
    tokenizer=None,
    results: str | Path | None = None,
    task: str | None = None,
) -> PrunedBertForSequenceClassification:
    """Extract `spec` and save it where any transformers user can load it; returns the extracted model.

    out_dir gets: model.safetensors + config.json (with `auto_map`) and the model's code (pruned.py,
    pruned_config.py, layers.py: this project's modules, copied by save_pretrained), the tokenizer when given,
    and README.md (model_card.py) naming `source` and the weights' hashes, with the accuracy records of this
    sub-network from the results store `results` when given. The outputs carry `task`'s label names (default:
    the task of those accuracy records, when they name one), e.g. negative/positive for SST-2.
    Raises ValueError when `results` does not exist.
    """
    from dynabert.evaluate import weights_sha
    from dynabert.model_card import CardFacts, accuracy_records, model_card

    source_sha = weights_sha(dyna.hf)
    accuracy = accuracy_records(results, source_sha, spec.subnet_id) if results is not None else ()
    sub = extract(dyna, spec, label_names(dyna, task, accuracy))
    out = Path(out_dir)
    sub.save_pretrained(out)
    if tokenizer is not None:
        tokenizer.save_pretrained(out)
    facts = CardFacts(
        name=out.resolve().name,
        source=records.portable_path(source),
        source_sha=source_sha,
        sha=weights_sha(sub),
        spec=spec,
        size=dyna.full_size,
        id2label=dict(sub.config.id2label),
        accuracy=accuracy,
        store=None if results is None else str(results),
    )
    model_card(facts).save(out / "README.md")
    return sub


def label_names(
    dyna: DynaBert, task: str | None, accuracy: tuple[records.Record, ...]
) -> dict[int, str] | None:
    """The task's label names for the outputs: `task` (a GLUE name) or the one task of `accuracy`; None when
    neither names a task with label names."""
    from dynabert.data import get_task
    from dynabert.labels import named_outputs, task_of_key

    if task is None:
        keys = {r.task for r in accuracy if r.task}
        found = {t.name: t for t in map(task_of_key, keys) if t is not None}
        spec = next(iter(found.values())) if len(found) == 1 else None
    else:
        spec = get_task(task)
    return None if spec is None else named_outputs(dyna.config, spec)
