"""`python -m dynabert train` and `python -m dynabert evaluate`: flags -> TrainConfig / evaluation records.

Must not import bench or devices.
"""

from __future__ import annotations

import argfields
from dynabert.options import EvaluateOptions
from dynabert.train_config import TrainOptions


def add_train_commands(sub) -> None:
    argfields.add_command(
        sub,
        "train",
        TrainOptions,
        cmd_train,
        "run training stages (teacher, width, depth, final) or a baseline",
        "python -m dynabert train --stage all --task sst2 --data-dir glue/SST-2 --output-dir runs/sst2",
    )
    argfields.add_command(
        sub,
        "evaluate",
        EvaluateOptions,
        cmd_evaluate,
        "task metric of every (width, depth) -> results store",
        "python -m dynabert evaluate --checkpoint runs/sst2 --task sst2 --data-dir glue/SST-2",
    )


def cmd_train(opts: TrainOptions) -> int:
    from dynabert.train import run

    if not opts.stage and not opts.baseline:
        raise ValueError(
            "give --stage (teacher, width, depth, final, all) or --baseline (distilbert, tinybert, fixed)"
        )
    run(opts.config(), opts.stage)
    return 0


def cmd_evaluate(opts: EvaluateOptions) -> int:
    from dynabert.evaluate import run_evaluate

    return run_evaluate(opts)
