"""A source's label names matched to a task's labels by name (case, spaces and hyphens aside; a task's other names
for each label: TaskSpec.label_names). A leaf of dynabert.data and dynabert.labels, which both use it: imports
neither (a task is anything with a name, labels and label_names).
"""

from __future__ import annotations

import re
from typing import Protocol


class NamedLabels(Protocol):
    """What a task must offer to match label names (dynabert.data.TaskSpec does)."""

    name: str
    labels: tuple[str, ...] | None
    label_names: tuple[tuple[str, ...], ...]


GENERIC = re.compile(r"label_?(\d+)")


def norm(name: object) -> str:
    """'Not-Entailment ' -> 'not_entailment': case, spaces and hyphens do not tell labels apart."""
    return re.sub(r"[\s\-]+", "_", str(name).strip().lower())


def describe(labels: tuple[str, ...] | None, task_name: str) -> str:
    """How many labels a task has, and which (or that it is a regression), for messages."""
    return (
        f"task {task_name} is a regression (1 output)"
        if labels is None
        else f"task {task_name} has {len(labels)} labels ({', '.join(labels)})"
    )


def order_by_name(
    names: list[str], task: NamedLabels, source: str, labels: tuple[str, ...] | None = None
) -> list[int]:
    """For each of `source`'s label names, in its order, the index of the task label it names.

    labels: the task's labels (default task.labels; a custom task's come from its training file).
    Raises ValueError naming both label counts, or the name that matches none (or several) of the task's labels.
    """
    labels = task.labels if labels is None else labels
    if labels is None or len(names) != len(labels):
        raise ValueError(
            f"{source} has {len(names)} labels ({', '.join(map(str, names))}) but "
            f"{describe(labels, task.name)}; use a checkpoint trained for this task"
        )
    aliases = task.label_names if len(task.label_names) == len(labels) else ((),) * len(labels)
    known = [{norm(label), *map(norm, other)} for label, other in zip(labels, aliases)]
    out = []
    for name in names:
        hits = [j for j, words in enumerate(known) if norm(name) in words]
        if len(hits) != 1:
            raise ValueError(
                f"{source}: label {name!r} is none of task {task.name}'s labels "
                f"({'; '.join('/'.join(sorted(w)) for w in known)}), so its outputs cannot be matched "
                f"by name; use a checkpoint trained for this task"
            )
        out.append(hits[0])
    if sorted(out) != list(range(len(labels))):
        raise ValueError(f"{source}: labels {names} name the same task label twice")
    return out
