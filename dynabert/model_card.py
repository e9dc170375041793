"""The model card (README.md) of an extracted sub-network: where it came from, what it kept, what it costs, and
its measured accuracy when a results store has it, with the metadata the Hugging Face hub reads.

Card metadata by huggingface_hub's ModelCardData (library_name, pipeline_tag, tags, base_model for hub ids,
model-index from the accuracy records). Must not import torch, bench or devices.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import EvalResult, ModelCard, ModelCardData

import records
from dynabert.config import BertSize, SubnetSpec
from dynabert.flops import SubnetCost, cost
from dynabert.subnet import AnySpec

CARD_SEQ_LEN = 128  # the FLOPs on the card are at this sequence length (batch 1)
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclass(frozen=True)
class CardFacts:
    """What the card states; every number here is computed or measured, never typed in."""

    name: str  # the model's name on the card (its folder name)
    source: str  # the checkpoint as the user named it: preset, directory or hub id
    source_sha: str  # weights_sha of the checkpoint (12 hex digits of SHA-256 over its state dict)
    sha: str  # weights_sha of this sub-network
    spec: AnySpec  # a grid point (SubnetSpec) or a per-layer spec
    size: BertSize  # the checkpoint's architecture
    id2label: dict
    accuracy: tuple[records.Record, ...] = ()  # accuracy records of this checkpoint + sub-network
    store: str | None = None  # the results store they came from (as given)


def accuracy_records(
    store: str | Path, source_sha: str, subnet_id: str
) -> tuple[records.Record, ...]:
    """The finished accuracy records of `subnet_id` cut from the checkpoint `source_sha`; the latest per
    (task, split, runtime, metric). Raises ValueError when the store does not exist."""
    latest: dict[tuple, records.Record] = {}
    for r in records.read(store):
        if (
            r.kind == "accuracy"
            and r.status == "ok"
            and r.checkpoint_sha == source_sha
            and r.subnet_id == subnet_id
            and r.metric_value is not None
        ):
            latest[(r.task, r.split, r.runtime, r.metric_name)] = r
    return tuple(latest.values())


def _split_name(split: str | None) -> str | None:
    """'dev (GLUE SST-2 dev.tsv, 872 examples)' -> 'dev' (the store keeps the source in parentheses)."""
    return None if split is None else split.split(" (", 1)[0]


def card_data(facts: CardFacts) -> ModelCardData:
    """Hub metadata: a base_model only for a hub id (a local path or preset is not one)."""
    base = facts.source if HUB_ID.match(facts.source) and not Path(facts.source).exists() else None
    results = [
        EvalResult(
            task_type="text-classification",
            dataset_type=r.task or "unknown",
            dataset_name=r.task or "unknown",
            dataset_split=_split_name(r.split),
            metric_type=r.metric_name,
            metric_value=r.metric_value,
        )
        for r in facts.accuracy
    ]
    return ModelCardData(
        library_name="transformers",
        pipeline_tag="text-classification",
        base_model=base,
        tags=["dynabert", "pruned", "text-classification", "custom_code"],
        model_name=facts.name,
        eval_results=results or None,
    )


def _source_rows(facts: CardFacts, c: SubnetCost) -> list[str]:
    size = facts.size
    full = cost(facts.size, SubnetSpec(), CARD_SEQ_LEN)
    labels = ", ".join(
        f"{k}: {v}" for k, v in sorted(facts.id2label.items(), key=lambda kv: int(kv[0]))
    )
    return [
        f"| source checkpoint | `{facts.source}` |",
        f"| source weights hash | `{facts.source_sha}` (first 12 hex digits of SHA-256 over the state dict) |",
        f"| this model's weights hash | `{facts.sha}` (same rule) |",
        f"| width / depth multiplier | {_mults(c)} (`{c.subnet_id}`) |",
        f"| layers kept | {c.n_layers} of {size.num_layers} (source layers {', '.join(map(str, c.layer_ids))}) |",
        f"| attention heads per layer | {_per_layer(c.n_heads, c.layer_heads)} of {size.num_heads} "
        f"(head size {size.head_size}) |",
        f"| FFN neurons per layer | {_per_layer(c.ffn_dim, c.layer_ffn)} of {size.ffn_size} |",
        f"| parameters | {c.params_active:,} (the checkpoint: {c.params_total:,}) |",
        f"| FLOPs, batch 1, seq {CARD_SEQ_LEN} | {c.flops_dense / 1e9:.4f} G dense, "
        f"{c.flops_with_attention / 1e9:.4f} G with attention "
        f"(the checkpoint: {full.flops_with_attention / 1e9:.4f} G) |",
        f"| labels | {labels} |",
    ]


def _mults(c: SubnetCost) -> str:
    if not c.subnet_id.startswith("h"):
        return f"{c.width_mult} / {c.depth_mult}"
    return f"per layer (mean share of heads {c.width_mult}, share of layers {c.depth_mult})"


def _where(c: SubnetCost) -> str:
    if c.subnet_id.startswith("h"):
        return f"with per-layer heads {'/'.join(map(str, c.layer_heads))} and FFN {'/'.join(map(str, c.layer_ffn))}"
    return f"at width {c.width_mult} and depth {c.depth_mult}"


def _per_layer(value: int | None, values: tuple[int, ...]) -> str:
    return str(value) if value is not None else "/".join(map(str, values)) + " (per kept layer)"


def _accuracy_section(facts: CardFacts) -> list[str]:
    if not facts.accuracy:
        where = (
            f"the results store `{facts.store}` has no record of it"
            if facts.store
            else "no results store given"
        )
        return [
            f"Not measured for this sub-network ({where}). `python -m dynabert evaluate --checkpoint CK` "
            f"measures every width/depth and `extract --results STORE` puts it here."
        ]
    rows = [
        "| task | split | metric | value | measured through | when |",
        "|---|---|---|---|---|---|",
    ]
    rows += [
        f"| {r.task} | {r.split} | {r.metric_name} | {r.metric_value:.4f} | {r.runtime or 'torch'} "
        f"| {r.timestamp_utc or '?'} |"
        for r in facts.accuracy
    ]
    return rows + [
        "",
        f"From the results store `{facts.store}` (records of checkpoint `{facts.source_sha}`, "
        f"sub-network `{facts.spec.subnet_id}`). Rows measured through torch ran the dynamic model "
        f"at this sub-network (`python -m dynabert evaluate`), whose logits this model "
        f"reproduces (tested to 1e-5); other rows ran the exported artifact in that runtime "
        f"(`python -m bench.artifact_accuracy`).",
    ]


def model_card(facts: CardFacts) -> ModelCard:
    """The card: metadata header, then the source/cost table, the accuracy and how to load it."""
    c = cost(facts.size, facts.spec, CARD_SEQ_LEN)
    body = [
        f"# {facts.name}",
        "",
        f"A dense sub-network of `{facts.source}` {_where(c)}, extracted by `python -m dynabert extract` "
        "(DynaBERT, Hou et al., NeurIPS 2020): the kept heads, FFN neurons and layers are copied, "
        "nothing is retrained.",
        "",
        "| | |",
        "|---|---|",
        *_source_rows(facts, c),
        "",
        "Parameters and FLOPs are analytic (FLOPs = 2 x multiply-accumulates of the Linear layers, plus QK^T "
        'and AV for "with attention"; embeddings, LayerNorm, softmax and GELU not counted).',
        "",
        "## Accuracy",
        "",
        *_accuracy_section(facts),
        "",
        "## Use",
        "",
        "The architecture keeps the source's head size with fewer heads, which no built-in transformers class "
        "has, so its code ships beside the weights: `pruned.py`, `pruned_config.py` and `layers.py` are the "
        "dynabert project's own modules, copied unchanged, needing only torch and transformers. Loading it "
        "(model or tokenizer) therefore takes `trust_remote_code=True`:",
        "",
        "```python",
        "from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline",
        "",
        f'classifier = pipeline("text-classification", model="{facts.name}", trust_remote_code=True)',
        'classifier("a sentence")',
        f'model = AutoModelForSequenceClassification.from_pretrained("{facts.name}", trust_remote_code=True)',
        f'tokenizer = AutoTokenizer.from_pretrained("{facts.name}", trust_remote_code=True)',
        "```",
        "",
    ]
    return ModelCard(f"---\n{card_data(facts).to_yaml()}\n---\n\n" + "\n".join(body))
