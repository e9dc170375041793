"""The options of `python -m dynabert info | extract | evaluate` (train's are dynabert/train_config.py), and of the
evaluation every scorer shares (`TaskOptions`: `dynabert evaluate`, `bench.artifact_accuracy`, the search).

Declared once, as dataclass fields (argfields); must not import torch, bench or devices (`--help` reads it).
"""

from __future__ import annotations

from dataclasses import dataclass

from argfields import option
from dynabert.config import DEFAULT_DEPTHS, DEFAULT_WIDTHS

GRID = "sub-network grid"
TASK_HELP = (
    "GLUE task (cola, sst2, mrpc, stsb, qqp, mnli, mnli-m, mnli-mm, qnli, rte, wnli) or custom"
)
WIDTHS = ",".join(map(str, DEFAULT_WIDTHS))
DEPTHS = ",".join(map(str, DEFAULT_DEPTHS))


@dataclass(kw_only=True)
class InfoOptions:
    """`dynabert info`: the sub-networks of a model at one sequence length."""

    model: str = option(help="preset, local Hugging Face directory or hub id", group="model")
    seq_len: int = option(128, help="tokens per sequence for FLOPs", group="model", min=1)
    widths: str = option(WIDTHS, help="width multipliers, comma-separated", group=GRID)
    depths: str = option(DEPTHS, help="depth multipliers, comma-separated", group=GRID)
    json: bool = option(False, help="print JSON instead of a table", group="output")


@dataclass(kw_only=True)
class ExtractOptions:
    """`dynabert extract`: one sub-network of a checkpoint, saved as a standalone dense model."""

    checkpoint: str = option(
        help="trained DynaBERT directory (or any BERT/RoBERTa/DistilBERT classifier)", group="model"
    )
    width: float | None = option(
        None,
        help="width multiplier in (0, 1]: k/heads, as printed (0.33, 0.3333 and 0.333333 all mean 4 "
        "of 12 heads)",
        group="sub-network",
    )
    depth: float | None = option(None, help="depth multiplier in (0, 1]", group="sub-network")
    subnet: str | None = option(
        None,
        help="instead of --width/--depth: a sub-network id ('w0.50-d0.75', or per layer "
        "'h12.6.0.3-f1536.768.0.384': heads, then FFN neurons, per source layer, 0 = skipped) or its "
        'JSON {"heads": [...], "ffn": [...]}',
        group="sub-network",
    )
    output_dir: str = option(help="where save_pretrained writes the sub-network", group="output")
    results: str | None = option(
        None,
        help="results store whose accuracy records go on the model card (default: "
        "CHECKPOINT/accuracy.jsonl when it exists)",
        group="output",
    )
    task: str | None = option(
        None,
        help="GLUE task whose label names the outputs carry (SST-2: negative/positive), so "
        "transformers' pipeline shows them (default: the task of the sub-network's accuracy records, "
        "if one)",
        group="output",
    )


@dataclass(kw_only=True)
class TaskOptions:
    """What an evaluation scores: the checkpoint, the task's one split, and the sub-networks."""

    checkpoint: str = option(
        help="training OUTPUT folder, a stage folder, or a model directory", group="model"
    )
    task: str = option(help=TASK_HELP, group="task")
    data_dir: str = option(
        help="folder with the task's dev TSV (or CSV) file; only the scored split is read",
        group="task",
    )
    text_columns: str | None = option(
        None, help="custom task: one or two text column names, comma-separated", group="task"
    )
    label_column: str | None = option(None, help="custom task: the label column name", group="task")
    split: str | None = option(
        None,
        help="file stem to score (default: the task's first dev set; mnli-mm: dev_mismatched)",
        group="task",
    )
    max_errors: int = option(
        0, help="malformed rows to skip (reported) before failing", group="task", min=0
    )
    widths: str = option(WIDTHS, help="width multipliers (or k/n), comma-separated", group=GRID)
    depths: str = option(DEPTHS, help="depth multipliers, comma-separated", group=GRID)
    subnets: str | None = option(
        None,
        help="JSON file of sub-network ids or per-layer {heads, ffn} objects, scored instead of "
        "--widths x --depths",
        group=GRID,
    )


@dataclass(kw_only=True)
class EvaluateOptions(TaskOptions):
    """`dynabert evaluate`: the task metric of every sub-network -> accuracy records in a results store."""

    max_seq_len: int = option(128, help="tokens per example after truncation", group="task", min=1)
    batch_size: int = option(128, help="examples per evaluation batch", group="task", min=1)
    results: str | None = option(
        None,
        help="results store to append to (default CHECKPOINT/accuracy.jsonl)",
        group="output",
    )
    family: str = option("dynabert", help="record family: dynabert or baseline", group="output")
