"""Which training flags decide what a stage trains, and the refusal when a resume or a rerun of a finished stage
asks for other ones (two differently configured runs must never be joined, nor one skipped as if it were the other).

A stage's result depends on its own flags and on those of the stages it starts from (depth starts from width, width
from the teacher), so each stage compares its own and its lineage's. Must not import torch, bench or devices.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

# Flags that do not change what any stage trains, never compared: output_dir (where it goes); eval_every,
# save_every, logging_steps (cadence of evaluations, checkpoints and log lines); checkpoint_choice (which evaluated
# step is kept, not how it is trained); eval_batch_size (batching of the evaluation only); max_errors (malformed rows
# fail or are skipped: the rows that load are the same).
NOT_COMPARED = (
    "output_dir",
    "eval_every",
    "save_every",
    "logging_steps",
    "checkpoint_choice",
    "eval_batch_size",
    "max_errors",
)
# Compared by check_same_sampling, with its own message (K = the grid size means all, the default).
SAMPLING = ("widths", "depths", "subnets_per_step")
COMMON = (
    "task",
    "data_dir",
    "text_columns",
    "label_column",
    "learning_rate",
    "batch_size",
    "epochs",
    "max_seq_len",
    "seed",
    "max_train_samples",
    "max_eval_samples",
    "warmup_ratio",
    "weight_decay",
    "max_grad_norm",
    "bucket",
    "mixed_precision",
)  # max_eval_samples: the first dev set rewires stage width and chooses the kept step
AUGMENT = ("augment_model", "augment_n", "augment_prob", "augment_top_k", "augment_glove")
TEACHER = (*COMMON, "model")
WIDTH = (
    *TEACHER,
    "teacher",
    "width_lambda1",
    "width_lambda2",
    "importance_rule",
    "regression_pred_loss",
    *AUGMENT,
)
DEPTH = (*WIDTH, "depth_lambda1", "depth_lambda2", "teacher_width")
BASELINE = (
    *TEACHER,
    "teacher",
    "baseline",
    "student_layers",
    "student_model",
    "width",
    "depth",
    "temperature",
    "cosine_loss_weight",
    "tinybert_phase1_fraction",
    "depth_lambda1",
    "depth_lambda2",
    "importance_rule",
    "regression_pred_loss",
    *AUGMENT,
)
STAGE_FLAGS = {
    "teacher": TEACHER,
    "width": WIDTH,
    "depth": DEPTH,
    "final": DEPTH,
    "baseline": BASELINE,
}
PATHS = ("data_dir", "model", "teacher", "student_model", "augment_model", "augment_glove")


def trained_flags(cfg, stage: str) -> dict:
    """{field: value} of the TrainConfig fields that decide what `stage` trains, as JSON values (tuples -> lists).
    KeyError for an unknown stage."""
    values = json.loads(json.dumps(asdict(cfg)))
    return {k: values[k] for k in STAGE_FLAGS[stage]}


def _same(name: str, a, b) -> bool:
    """Equal values; an existing path given two ways (relative, absolute) is the same path."""
    if a == b:
        return True
    if (
        name in PATHS
        and isinstance(a, str)
        and isinstance(b, str)
        and Path(a).exists()
        and Path(b).exists()
    ):
        return Path(a).resolve() == Path(b).resolve()
    return False


def changed_flags(saved: dict, now: dict) -> list[str]:
    """'--bucket: False -> True' for each flag of `now` whose value differs from `saved`; a key `saved` lacks (a
    checkpoint or summary written by older code) is not compared."""
    return [
        f"--{k.replace('_', '-')}: {saved[k]} -> {now[k]}"
        for k in now
        if k in saved and not _same(k, saved[k], now[k])
    ]


def check_same_flags(saved: dict | None, now: dict, was: str, fix: str) -> None:
    """ValueError '`was` with other flags (--x: old -> new; ...). `fix`' when any compared flag differs; nothing
    when `saved` is None (written before flags were saved)."""
    diff = changed_flags(saved or {}, now)
    if diff:
        raise ValueError(f"{was} with other flags ({'; '.join(diff)}). {fix}")
