"""`python -m dynabert train` and `python -m dynabert evaluate`: flags -> TrainConfig / evaluation records.

Must not import bench or devices.
"""

from __future__ import annotations

import argparse
import dataclasses

from dynabert.config import parse_mults
from dynabert.evaluate import add_task_flags, resolve_checkpoint  # noqa: F401  (resolve_checkpoint: bench.sweep)
from dynabert.stages import STAGES, TrainConfig

HELP = {
    "task": "GLUE task (cola, sst2, mrpc, stsb, qqp, mnli, qnli, rte, wnli) or custom",
    "data_dir": "folder with the task's train/dev TSV (or CSV) files, e.g. glue_data/SST-2; 'hub' loads GLUE "
    "from the Hugging Face datasets hub",
    "output_dir": "where each stage writes OUTPUT/<stage>/{best,checkpoint,train.log,summary.json}",
    "model": "stage teacher starts from this preset, directory or hub id",
    "teacher": "a fine-tuned teacher directory to use instead of OUTPUT/teacher/best",
    "text_columns": "custom task: one or two text column names, comma-separated",
    "label_column": "custom task: the label column name (labels are read from the training file)",
    "widths": "width multipliers, comma-separated",
    "depths": "depth multipliers, comma-separated",
    "teacher_width": "stage depth teacher: full width (official code) or matched to the student (paper)",
    "importance_rule": "rewiring importance: code (running sum, official) or paper (accumulate, then score)",
    "regression_pred_loss": "STS-B: add MSE on the logits in stages width/depth (the official code has none)",
    "checkpoint_choice": "best summed dev metric (official code) or last step",
    "eval_every": "optimizer steps between dev evaluations (each also writes the resumable checkpoint); 0 "
    "evaluates at epoch ends only",
    "save_every": "optimizer steps between resumable checkpoints written without a dev evaluation (with "
    "--eval-every 0 a long epoch still resumes after a kill); 0: at evaluations only",
    "bucket": "length bucketing (less padding)",
    "max_errors": "malformed rows to skip (reported) before failing",
    "mixed_precision": "no, bf16 (CPU or GPU) or fp16 (GPU; loss-scaled, skipped steps counted in the summary)",
    "batch_size": "training examples per optimizer step per process (torchrun/accelerate launch with N processes: "
    "N x this per step, 1/N of the steps)",
    "baseline": "train a same-teacher baseline instead of a stage: distilbert, tinybert or fixed (one width x depth)",
    "student_layers": "tinybert: student layers (default half the teacher's)",
    "student_model": "distilbert/tinybert: a pretrained student to distil into (e.g. a TinyBERT or DistilBERT dir)",
    "width": "fixed: the width multiplier trained alone",
    "depth": "fixed: the depth multiplier trained alone",
    "temperature": "distilbert: soft-label temperature",
    "cosine_loss_weight": "distilbert: weight of the cosine loss on last hidden states (0 = off)",
    "tinybert_phase1_fraction": "tinybert: fraction of steps spent on intermediate-layer distillation",
    "augment_model": "TinyBERT data augmentation for stages width/depth and the baselines: a masked-LM checkpoint "
    "(e.g. a local bert-base-uncased); the augmented TSV is written once to OUTPUT/augmented/ "
    "and reused",
    "augment_n": "augmentation: tries per text (default TinyBERT's per task: CoLA/MRPC/RTE/STS-B 30, SST-2/QNLI 20, "
    "MNLI/QQP 10)",
    "augment_prob": "augmentation: chance of replacing each candidate word",
    "augment_top_k": "augmentation: candidates per word",
    "subnets_per_step": "K sub-networks trained per optimizer step in stages width/depth/final, by the sandwich "
    "rule (the largest, the smallest and K-2 others drawn per step, seeded by seed and step); "
    "default all (the paper); ignored by stages of one sub-network (teacher, baselines)",
    "augment_glove": "augmentation: GloVe text file giving candidates for multi-piece words (else they are kept)",
}


def add_train_commands(sub) -> None:
    train = sub.add_parser(
        "train", help="run training stages", formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    train.add_argument(
        "--stage",
        choices=(*STAGES, "all"),
        help="teacher (stage 0), width (stage 1), depth (stage 2), final (stage 3), or all (0-2); "
        "not needed with --baseline",
    )
    for f in dataclasses.fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        required = f.default is dataclasses.MISSING
        if f.type == "bool":
            train.add_argument(
                flag, action="store_true", help=HELP.get(f.name, f.name.replace("_", " "))
            )
        elif f.name in ("widths", "depths"):
            train.add_argument(flag, default=",".join(map(str, f.default)), help=HELP[f.name])
        elif f.name == "subnets_per_step":
            train.add_argument(flag, type=subnets_per_step_arg, default=None, help=HELP[f.name])
        else:
            kind = {"float": float, "int": int, "int | None": int, "float | None": float}.get(
                f.type, str
            )
            train.add_argument(
                flag,
                type=kind,
                required=required,
                default=None if required else f.default,
                help=HELP.get(f.name, f.name.replace("_", " ")),
            )
    train.set_defaults(func=cmd_train)

    ev = sub.add_parser("evaluate", help="task metric of every (width, depth) -> results store")
    add_task_flags(ev)
    ev.add_argument("--max-seq-len", type=int, default=128)
    ev.add_argument("--batch-size", type=int, default=128)
    ev.add_argument(
        "--results",
        default=None,
        help="results store to append to (default CHECKPOINT/accuracy.jsonl)",
    )
    ev.add_argument("--family", default="dynabert", help="record family: dynabert or baseline")
    ev.set_defaults(func=cmd_evaluate)


def subnets_per_step_arg(text: str) -> int | None:
    """--subnets-per-step: an integer K, or 'all' (every sub-network of the stage, the paper; the default)."""
    if text.strip().lower() == "all":
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer K >= 2 or 'all'") from None


def cmd_train(args: argparse.Namespace) -> int:
    from dynabert.train import run

    if not args.stage and not args.baseline:
        raise ValueError(
            "give --stage (teacher, width, depth, final, all) or --baseline (distilbert, tinybert, fixed)"
        )
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)}
    values["widths"] = parse_mults(args.widths, "widths")
    values["depths"] = parse_mults(args.depths, "depths")
    run(TrainConfig(**values), args.stage)
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from dynabert.evaluate import run_evaluate

    return run_evaluate(args)
