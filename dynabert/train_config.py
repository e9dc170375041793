"""Every training flag, declared once: `TrainConfig`, the options of `python -m dynabert train` and what
`dynabert.train.run` takes. Defaults are the paper's / official code's (spec 3.1).

Must not import torch, bench or devices (`--help` reads it).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, fields

from argfields import option
from dynabert.config import DEFAULT_DEPTHS, DEFAULT_WIDTHS, SubnetSpec, parse_mults
from dynabert.sampling import check_subnets_per_step

STAGES = ("teacher", "width", "depth", "final")
BASELINES = ("distilbert", "tinybert", "fixed")  # dynabert/baselines.py builds each


def subnets_per_step_arg(text: str) -> int | None:
    """--subnets-per-step: an integer K, or 'all' (every sub-network of the stage, the paper; the default)."""
    if text.strip().lower() == "all":
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer K >= 2 or 'all'") from None


def parse_widths(text: str) -> tuple[float, ...]:
    return parse_mults(text, "widths")


def parse_depths(text: str) -> tuple[float, ...]:
    return parse_mults(text, "depths")


DATA, OUT, OPT, SUB = "data", "model and output", "optimisation", "sub-networks"
EVAL, BASE, AUG = "evaluation and checkpoints", "baselines", "augmentation"


@dataclass
class TrainConfig:
    """Every training flag; defaults are the paper's / official code's (spec 3.1)."""

    task: str = option(
        help="GLUE task (cola, sst2, mrpc, stsb, qqp, mnli, qnli, rte, wnli) or custom", group=DATA
    )
    data_dir: str = option(
        help="folder with the task's train/dev TSV (or CSV) files, e.g. glue_data/SST-2; 'hub' loads "
        "GLUE from the Hugging Face datasets hub",
        group=DATA,
    )
    output_dir: str = option(
        help="where each stage writes OUTPUT/<stage>/{best,checkpoint,train.log,summary.json}",
        group=OUT,
    )
    model: str = option(
        "minilm-l6", help="stage teacher starts from this preset, directory or hub id", group=OUT
    )
    teacher: str | None = option(
        None,
        help="a fine-tuned teacher directory to use instead of OUTPUT/teacher/best",
        group=OUT,
    )
    text_columns: str | None = option(
        None, help="custom task: one or two text column names, comma-separated", group=DATA
    )
    label_column: str | None = option(
        None,
        help="custom task: the label column name (labels are read from the training file)",
        group=DATA,
    )
    learning_rate: float = option(2e-05, help="AdamW learning rate (> 0)", group=OPT)
    batch_size: int = option(
        32,
        help="training examples per optimizer step per process (torchrun/accelerate launch with N "
        "processes: N x this per step, 1/N of the steps)",
        group=OPT,
    )
    epochs: float = option(3.0, help="epochs per stage (fractional allowed)", group=OPT)
    max_seq_len: int = option(128, help="tokens per example after truncation", group=DATA)
    seed: int = option(42, help="seed of initialisation, shuffling and sampling", group=OPT)
    max_train_samples: int | None = option(
        None, help="use the first N training rows (default: all)", group=DATA
    )
    max_eval_samples: int | None = option(
        None,
        help="use the first N dev rows (they also rewire stage width and choose the kept step)",
        group=DATA,
    )
    warmup_ratio: float = option(
        0.0, help="share of steps of linear learning-rate warm-up", group=OPT
    )
    weight_decay: float = option(0.0, help="AdamW weight decay", group=OPT)
    max_grad_norm: float = option(1.0, help="gradient clipping norm", group=OPT)
    widths: tuple[float, ...] = option(
        DEFAULT_WIDTHS, help="width multipliers, comma-separated", group=SUB, parse=parse_widths
    )
    depths: tuple[float, ...] = option(
        DEFAULT_DEPTHS, help="depth multipliers, comma-separated", group=SUB, parse=parse_depths
    )
    width_lambda1: float = option(
        1.0, help="stage width: weight of the logit distillation loss", group=SUB
    )
    width_lambda2: float = option(
        0.1, help="stage width: weight of the hidden-state/embedding loss", group=SUB
    )
    depth_lambda1: float = option(
        1.0, help="stage depth: weight of the logit distillation loss", group=SUB
    )
    depth_lambda2: float = option(
        1.0, help="stage depth: weight of the hidden-state/embedding loss", group=SUB
    )
    teacher_width: str = option(
        "full",
        help="stage depth teacher: full width (official code) or matched to the student (paper)",
        group=SUB,
    )
    importance_rule: str = option(
        "code",
        help="rewiring importance: code (running sum, official) or paper (accumulate, then score)",
        group=SUB,
    )
    regression_pred_loss: bool = option(
        False,
        help="STS-B: add MSE on the logits in stages width/depth (the official code has none)",
        group=SUB,
    )
    checkpoint_choice: str = option(
        "best", help="best summed dev metric (official code) or last step", group=EVAL
    )
    eval_every: int = option(
        50,
        help="optimizer steps between dev evaluations (each also writes the resumable checkpoint); "
        "0 evaluates at epoch ends only",
        group=EVAL,
    )
    save_every: int = option(
        0,
        help="optimizer steps between resumable checkpoints written without a dev evaluation (with "
        "--eval-every 0 a long epoch still resumes after a kill); 0: at evaluations only",
        group=EVAL,
    )
    eval_batch_size: int = option(128, help="examples per dev-evaluation batch", group=EVAL)
    bucket: bool = option(False, help="length bucketing (less padding)", group=DATA)
    max_errors: int = option(0, help="malformed rows to skip (reported) before failing", group=DATA)
    mixed_precision: str = option(
        "no",
        help="no, bf16 (CPU or GPU) or fp16 (GPU; loss-scaled, skipped steps counted in the summary)",
        group=OPT,
    )
    logging_steps: int = option(10, help="optimizer steps between train.log lines", group=EVAL)
    subnets_per_step: int | None = option(
        None,
        help="K sub-networks trained per optimizer step in stages width/depth/final, by the sandwich "
        "rule (the largest, the smallest and K-2 others drawn per step, seeded by seed and step); "
        "default all (the paper); ignored by stages of one sub-network (teacher, baselines)",
        group=SUB,
        type=subnets_per_step_arg,
    )
    baseline: str | None = option(
        None,
        help="train a same-teacher baseline instead of a stage: distilbert, tinybert or fixed (one "
        "width x depth)",
        group=BASE,
    )
    student_layers: int | None = option(
        None, help="tinybert: student layers (default half the teacher's)", group=BASE
    )
    student_model: str | None = option(
        None,
        help="distilbert/tinybert: a pretrained student to distil into (e.g. a TinyBERT or "
        "DistilBERT dir)",
        group=BASE,
    )
    width: float | None = option(None, help="fixed: the width multiplier trained alone", group=BASE)
    depth: float | None = option(None, help="fixed: the depth multiplier trained alone", group=BASE)
    temperature: float = option(2.0, help="distilbert: soft-label temperature", group=BASE)
    cosine_loss_weight: float = option(
        0.0,
        help="distilbert: weight of the cosine loss on last hidden states (0 = off)",
        group=BASE,
    )
    tinybert_phase1_fraction: float = option(
        0.5,
        help="tinybert: fraction of steps spent on intermediate-layer distillation",
        group=BASE,
    )
    augment_model: str | None = option(
        None,
        help="TinyBERT data augmentation for stages width/depth and the baselines: a masked-LM "
        "checkpoint (e.g. a local bert-base-uncased); the augmented TSV is written once to "
        "OUTPUT/augmented/ and reused",
        group=AUG,
    )
    augment_n: int | None = option(
        None,
        help="augmentation: tries per text (default TinyBERT's per task: CoLA/MRPC/RTE/STS-B 30, "
        "SST-2/QNLI 20, MNLI/QQP 10)",
        group=AUG,
    )
    augment_prob: float = option(
        0.4, help="augmentation: chance of replacing each candidate word", group=AUG
    )
    augment_top_k: int = option(15, help="augmentation: candidates per word", group=AUG)
    augment_glove: str | None = option(
        None,
        help="augmentation: GloVe text file giving candidates for multi-piece words (else they are "
        "kept)",
        group=AUG,
    )

    def __post_init__(self) -> None:
        choices = {
            "teacher_width": ("full", "matched"),
            "importance_rule": ("code", "paper"),
            "checkpoint_choice": ("best", "last"),
            "mixed_precision": ("no", "fp16", "bf16"),
        }
        choices["baseline"] = (None, *BASELINES)
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        for name in (
            "learning_rate",
            "batch_size",
            "epochs",
            "max_seq_len",
            "logging_steps",
            "eval_batch_size",
        ):
            if not getattr(self, name) > 0:
                raise ValueError(
                    f"--{name.replace('_', '-')} must be positive, got {getattr(self, name)!r}"
                )
        for name in (
            "eval_every",
            "save_every",
            "max_errors",
            "warmup_ratio",
            "weight_decay",
            "max_grad_norm",
        ):
            if not getattr(self, name) >= 0:  # also refuses nan
                raise ValueError(
                    f"--{name.replace('_', '-')} must be >= 0 (0: off), got {getattr(self, name)!r}"
                )
        for name in ("max_train_samples", "max_eval_samples"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ValueError(
                    f"--{name.replace('_', '-')} must be at least 1 (leave it out for all rows), got "
                    f"{getattr(self, name)}"
                )
        if self.baseline == "fixed" and (self.width is None or self.depth is None):
            raise ValueError(
                "--baseline fixed needs --width and --depth (the one sub-network to train alone)"
            )
        if self.subnets_per_step is not None:
            check_subnets_per_step(self.subnets_per_step, self.subnets_per_step, "any")
        for w in self.widths:
            SubnetSpec(w, 1.0)
        for d in self.depths:
            SubnetSpec(1.0, d)


@dataclass
class TrainOptions(TrainConfig):
    """`python -m dynabert train`: which stage, and every TrainConfig field."""

    stage: str | None = option(
        None,
        help="teacher (stage 0), width (stage 1), depth (stage 2), final (stage 3), or all (0-2); "
        "not needed with --baseline",
        group="stage",
        choices=(*STAGES, "all"),
    )

    def config(self) -> TrainConfig:
        """The TrainConfig of these options (without `stage`, which is not a training flag)."""
        names = [f.name for f in fields(TrainConfig)]
        return TrainConfig(**{n: getattr(self, n) for n in names})
