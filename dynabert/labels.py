"""What labels mean: a task's labels against a checkpoint's own (config id2label) or the hub's, matched by name.

A checkpoint's output i means the label its config names `id2label[i]`. Where those names are the task's labels
(or another name of them: TaskSpec.label_names, e.g. the hub's "positive" for SST-2's "1", or MNLI's upper-case
"ENTAILMENT"), the classifier's rows are permuted so output j is the task's label j; generic names (LABEL_0,
LABEL_1, ...) are taken in order, and said so. A checkpoint with another label count, or with names that are none
of the task's, is refused up front, naming both label counts (or the names). Regression (labels None) needs one
output. Must not import bench or devices.
"""

from __future__ import annotations

import sys
from pathlib import Path

from dynabert.data import TaskSpec, custom_labels, find_file, get_task, task_dir
from dynabert.label_names import GENERIC, describe, norm, order_by_name


def checkpoint_order(
    config, task: TaskSpec, labels: tuple[str, ...] | None, source: str
) -> list[int] | None:
    """Task index of each checkpoint output (None: generic names, taken in order). Raises on a mismatch."""
    if labels is None:
        if config.num_labels != 1:
            raise ValueError(
                f"{source} has {config.num_labels} labels but {describe(None, task.name)}; use a "
                f"checkpoint trained for this regression task"
            )
        return None
    names = [config.id2label[i] for i in range(config.num_labels)] if config.id2label else []
    if config.num_labels != len(labels):
        raise ValueError(
            f"{source} has {config.num_labels} labels ({', '.join(map(str, names))}) but "
            f"{describe(labels, task.name)}; use a checkpoint trained for this task, or fine-tune "
            f"this one first (dynabert train --stage teacher --model CHECKPOINT gives it a fresh "
            f"{len(labels)}-label classifier)"
        )
    generic = all(
        (m := GENERIC.fullmatch(norm(n))) and int(m.group(1)) == i for i, n in enumerate(names)
    )
    if generic:
        return None
    return order_by_name(names, task, source, labels)


def check_checkpoint(
    path: str | None, task: TaskSpec, labels: tuple[str, ...] | None, role: str
) -> None:
    """Refuse, before any weights load, a model directory whose labels do not fit the task (reads config.json)."""
    if path is None or not (Path(path) / "config.json").is_file():
        return  # presets have no trained labels; hub ids are checked when loaded
    from transformers import AutoConfig

    from dynabert.presets import check_model_dir

    check_model_dir(
        Path(path)
    )  # an unsupported model type refused before transformers parses its config
    checkpoint_order(AutoConfig.from_pretrained(path), task, labels, f"{role} {path}")


def check_task_checkpoint(
    path: str | None,
    task_name: str,
    text_columns: str | None,
    label_column: str | None,
    data_dir: str,
    role: str,
) -> None:
    """check_checkpoint for a task given by its flags (a custom task's labels read from its training file)."""
    if path is None or not (Path(path) / "config.json").is_file():
        return
    task = get_task(task_name, text_columns, label_column)
    labels = task.labels
    if task.name == "custom":
        labels = custom_labels(find_file(task_dir(data_dir, task), "train"), task)
    check_checkpoint(path, task, labels, role)


def align_classifier(
    hf,
    task: TaskSpec,
    labels: tuple[str, ...] | None,
    source: str,
    note_generic: bool = False,
    strict: bool = True,
):
    """Permute `hf`'s output rows into the task's label order and name them as the task does; returns hf.

    Raises ValueError (label counts / names) before anything changes. Generic names (LABEL_i): the order is kept,
    and said on stderr when `note_generic` (a trained checkpoint being scored, not a fresh classifier).
    strict=False (a model that is only the starting point of fine-tuning): names that match none of the task's
    are kept in order and said, since training gives them their meaning.
    """
    import torch

    try:
        order = checkpoint_order(hf.config, task, labels, source)
    except ValueError:
        if strict or labels is None or hf.config.num_labels != len(labels):
            raise
        names = ", ".join(str(hf.config.id2label[i]) for i in range(hf.config.num_labels))
        print(
            f"note: {source} names its outputs {names}, not as task {task.name} does; fine-tuning starts from its "
            f"classifier with the outputs taken in order as {', '.join(labels)}",
            file=sys.stderr,
        )
        order = None
    if labels is None:
        return hf
    names = [hf.config.id2label[i] for i in range(hf.config.num_labels)]
    if order is None and note_generic:
        print(
            f"note: {source} names its outputs only generically ({', '.join(names)}); taken in order as "
            f"{', '.join(labels)}",
            file=sys.stderr,
        )
    if order is not None and order != list(range(len(order))):
        out = getattr(hf.classifier, "out_proj", hf.classifier)  # RoBERTa head: dense -> out_proj
        inverse = [
            order.index(j) for j in range(len(order))
        ]  # task label j <- checkpoint output inverse[j]
        with torch.no_grad():
            out.weight.copy_(out.weight[inverse].clone())
            out.bias.copy_(out.bias[inverse].clone())
        print(
            f"note: {source} orders its outputs {', '.join(names)}; mapped by name to {', '.join(labels)}",
            file=sys.stderr,
        )
    hf.config.id2label = dict(enumerate(labels))
    hf.config.label2id = {label: i for i, label in enumerate(labels)}
    return hf


def eval_labels(task: TaskSpec, config, train_file: Path | None) -> tuple[str, ...] | None:
    """The label set an evaluation scores against: the task's; for a custom task the checkpoint's own names
    (what training saved), else the training file's labels when it is there."""
    if task.name != "custom":
        return task.labels
    names = (
        tuple(str(config.id2label[i]) for i in range(config.num_labels)) if config.id2label else ()
    )
    if names and not any(GENERIC.fullmatch(norm(n)) for n in names):
        return names
    if train_file is not None and train_file.is_file():
        return custom_labels(train_file, task)
    raise ValueError(
        f"the checkpoint names its {config.num_labels} outputs only generically ({', '.join(names)}) and "
        f"there is no training file to read the custom task's labels from; put train.tsv beside the "
        f"dev file or evaluate a checkpoint trained by `dynabert train --task custom`"
    )


def named_outputs(config, task: TaskSpec) -> dict[int, str] | None:
    """Output index -> the task's label name (SST-2: {0: 'negative', 1: 'positive'}), for an extracted model's
    config so transformers' pipeline prints names, not '0'/'1' or LABEL_0. The checkpoint's own label order is
    kept (matched by name, generic names in order: checkpoint_order). None when the task names no labels
    (regression, a custom task) or its names do not match the checkpoint's label count."""
    if task.labels is None or len(task.label_names) != len(task.labels):
        return None
    if config.num_labels != len(task.labels):
        return None
    order = checkpoint_order(config, task, task.labels, "checkpoint")
    order = list(range(config.num_labels)) if order is None else order
    return {i: task.label_names[j][0] for i, j in enumerate(order)}


def task_of_key(key: str) -> TaskSpec | None:
    """The GLUE task a records' task key names ('sst2', or MNLI's 'mnli-m'); None for an unknown key."""
    from dynabert.data import GLUE_TASKS

    for task in GLUE_TASKS.values():
        if key == task.name or key in dict(task.split_keys).values():
            return task
    return None
