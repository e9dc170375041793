"""Task data: the 9 GLUE tasks and user TSV/CSV tasks -> checked examples -> token ids -> padded batches.

Every malformed row (wrong column count, unknown label, empty text) is reported with file and line; up to
`max_errors` rows are skipped (and reported), beyond that loading fails. Nothing is dropped silently.
Must not import bench or devices.
"""

from __future__ import annotations

import csv
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch

from dynabert.metrics import METRICS


@dataclass(frozen=True)
class TaskSpec:
    """Where a task's text and label live in its files, its labels (None = regression) and its metric."""

    name: str
    text_columns: tuple[str | int, ...]
    label_column: str | int
    labels: tuple[str, ...] | None
    metric: str
    dev_files: tuple[str, ...] = ("dev",)
    header: bool = True
    hub_name: str | None = None  # config name in the `nyu-mll/glue` hub dataset


GLUE_TASKS: dict[str, TaskSpec] = {
    "cola": TaskSpec("cola", (3,), 1, ("0", "1"), "mcc", header=False, hub_name="cola"),
    "sst2": TaskSpec("sst2", ("sentence",), "label", ("0", "1"), "accuracy", hub_name="sst2"),
    "mrpc": TaskSpec("mrpc", ("#1 String", "#2 String"), "Quality", ("0", "1"), "acc_f1", hub_name="mrpc"),
    "stsb": TaskSpec("stsb", ("sentence1", "sentence2"), "score", None, "pearson_spearman", hub_name="stsb"),
    "qqp": TaskSpec("qqp", ("question1", "question2"), "is_duplicate", ("0", "1"), "acc_f1", hub_name="qqp"),
    "mnli": TaskSpec("mnli", ("sentence1", "sentence2"), "gold_label", ("contradiction", "entailment", "neutral"),
                     "accuracy", dev_files=("dev_matched", "dev_mismatched"), hub_name="mnli"),
    "qnli": TaskSpec("qnli", ("question", "sentence"), "label", ("entailment", "not_entailment"), "accuracy",
                     hub_name="qnli"),
    "rte": TaskSpec("rte", ("sentence1", "sentence2"), "label", ("entailment", "not_entailment"), "accuracy",
                    hub_name="rte"),
    "wnli": TaskSpec("wnli", ("sentence1", "sentence2"), "label", ("0", "1"), "accuracy", hub_name="wnli"),
}
GLUE_DIRS = {"cola": "CoLA", "sst2": "SST-2", "mrpc": "MRPC", "stsb": "STS-B", "qqp": "QQP", "mnli": "MNLI",
             "qnli": "QNLI", "rte": "RTE", "wnli": "WNLI"}
TASK_ALIASES = {"sst-2": "sst2", "sts-b": "stsb", "mnli-m": "mnli"}


@dataclass
class Split:
    """One labelled split: texts (one tuple per example) and labels (class index or float)."""

    name: str
    texts: list[tuple[str, ...]]
    labels: list[int | float]
    source: str
    skipped: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.labels)


def get_task(name: str, text_columns: str | None = None, label_column: str | None = None) -> TaskSpec:
    """A GLUE task by name, or `custom` with named columns (labels are read from the training file later)."""
    key = TASK_ALIASES.get(name.lower(), name.lower())
    if key == "custom":
        if not text_columns or not label_column:
            raise ValueError("--task custom needs --text-columns a[,b] and --label-column y")
        cols = tuple(c.strip() for c in text_columns.split(",") if c.strip())
        if not 1 <= len(cols) <= 2:
            raise ValueError(f"--text-columns takes one or two column names, got {text_columns!r}")
        return TaskSpec("custom", cols, label_column, None, "accuracy")
    if key not in GLUE_TASKS:
        raise ValueError(f"unknown task {name!r}; choose one of {', '.join(GLUE_TASKS)} or custom")
    return GLUE_TASKS[key]


def find_file(data_dir: Path, stem: str) -> Path:
    """data_dir/stem.tsv (or .csv); accepts a glue_data root holding <TASK>/ as well as the task folder."""
    for ext in (".tsv", ".csv"):
        if (data_dir / f"{stem}{ext}").is_file():
            return data_dir / f"{stem}{ext}"
    raise ValueError(f"no {stem}.tsv or {stem}.csv in {str(data_dir)!r}: --data-dir must be the task folder "
                     f"(e.g. glue_data/SST-2) holding the GLUE files")


def task_dir(data_dir: str | Path, task: TaskSpec) -> Path:
    root = Path(data_dir)
    if not root.is_dir():
        raise ValueError(f"data directory {str(root)!r} does not exist")
    sub = root / GLUE_DIRS.get(task.name, "")
    return sub if task.name in GLUE_DIRS and sub.is_dir() else root


def _read_rows(path: Path) -> list[list[str]]:
    delimiter = "," if path.suffix == ".csv" else "\t"
    quoting = csv.QUOTE_MINIMAL if path.suffix == ".csv" else csv.QUOTE_NONE
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.reader(f, delimiter=delimiter, quoting=quoting))


def _column(header: list[str] | None, col: str | int, path: Path) -> int:
    if isinstance(col, int):
        return col
    if header is None or col not in header:
        raise ValueError(f"{path}: no column {col!r} in the header {header}")
    return header.index(col)


def read_split(path: Path, task: TaskSpec, labels: tuple[str, ...] | None, max_errors: int = 0) -> Split:
    """Read one file; regression when `labels` is None. Raises past `max_errors` malformed rows."""
    rows = _read_rows(path)
    header = rows[0] if task.header and rows else None
    start = 1 if task.header else 0
    text_idx = [_column(header, c, path) for c in task.text_columns]
    label_idx = _column(header, task.label_column, path)
    width = len(header) if header else None
    texts, values, problems = [], [], []
    for line, row in enumerate(rows[start:], start=start + 1):
        if width is not None and len(row) != width or len(row) <= max(text_idx + [label_idx]):
            problems.append(f"{path}:{line}: {len(row)} columns, expected {width or max(text_idx + [label_idx]) + 1}")
            continue
        text = tuple(row[i].strip() for i in text_idx)
        raw = row[label_idx].strip()
        if not all(text):
            problems.append(f"{path}:{line}: empty text")
            continue
        if labels is None:
            try:
                value = float(raw)
            except ValueError:
                problems.append(f"{path}:{line}: label {raw!r} is not a number")
                continue
        elif raw not in labels:
            problems.append(f"{path}:{line}: unknown label {raw!r} (labels: {', '.join(labels)})")
            continue
        else:
            value = labels.index(raw)
        texts.append(text)
        values.append(value)
    if len(problems) > max_errors:
        shown = "\n  ".join(problems[:5])
        raise ValueError(f"{len(problems)} malformed rows in {path} (allowed: {max_errors}; raise --max-errors "
                         f"to skip them):\n  {shown}")
    for p in problems:
        print(f"warning: skipped {p}", file=sys.stderr)
    return Split(path.stem, texts, values, str(path), problems)


def custom_labels(path: Path, task: TaskSpec) -> tuple[str, ...]:
    """Sorted distinct labels of a user's training file."""
    rows = _read_rows(path)
    if not rows:
        raise ValueError(f"{path} is empty")
    idx = _column(rows[0], task.label_column, path)
    found = sorted({r[idx].strip() for r in rows[1:] if len(r) > idx and r[idx].strip()})
    if len(found) < 2:
        raise ValueError(f"{path}: column {task.label_column!r} has {len(found)} distinct labels; need at least 2")
    return tuple(found)


def load_task(task: TaskSpec, data_dir: str | Path, max_errors: int = 0) -> tuple[tuple[str, ...] | None, dict[str, Split]]:
    """(labels, {"train": Split, "dev": Split, ...}) from a folder of TSV/CSV files."""
    folder = task_dir(data_dir, task)
    train_path = find_file(folder, "train")
    labels = custom_labels(train_path, task) if task.name == "custom" else task.labels
    splits = {"train": read_split(train_path, task, labels, max_errors)}
    for stem in task.dev_files:
        splits[stem] = read_split(find_file(folder, stem), task, labels, max_errors)
    return labels, splits


def load_hub(task: TaskSpec) -> tuple[tuple[str, ...] | None, dict[str, Split]]:
    """The same splits from the Hugging Face `datasets` hub (needs the `datasets` package and a network)."""
    try:
        import datasets
    except ImportError:
        raise ValueError("--data-dir hub needs the `datasets` package (pip install datasets) and a network") from None
    if task.hub_name is None:
        raise ValueError(f"task {task.name!r} is not on the hub; pass --data-dir")
    ds = datasets.load_dataset("nyu-mll/glue", task.hub_name)
    hub_splits = {"train": "train", "dev": "validation", "dev_matched": "validation_matched",
                  "dev_mismatched": "validation_mismatched"}
    cols = [c for c in ds["train"].column_names if c not in ("label", "idx")]
    out = {}
    for name in ("train", *task.dev_files):
        part = ds[hub_splits[name]]
        out[name] = Split(name, list(zip(*(part[c] for c in cols))), list(part["label"]), f"hub:nyu-mll/glue/{task.hub_name}")
    return task.labels, out


def encode(split: Split, tokenizer, max_seq_len: int, limit: int | None = None) -> list[dict]:
    """Token ids per example (no padding: batches are padded to their longest member)."""
    n = len(split) if limit is None else min(limit, len(split))
    columns = list(zip(*split.texts[:n])) if n else [[]]
    enc = tokenizer(*columns, truncation=True, max_length=max_seq_len)
    keys = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in enc]
    return [{**{k: enc[k][i] for k in keys}, "labels": split.labels[i]} for i in range(n)]


def batch_order(lengths: list[int], batch_size: int, seed: int, epoch: int, bucket: bool) -> list[list[int]]:
    """Batches of example indices for one epoch: shuffled by (seed, epoch), optionally length-bucketed.

    A pure function of its arguments, so a resumed run sees exactly the batches it had not yet seen.
    """
    rng = random.Random(seed * 1_000_003 + epoch)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    if bucket:  # sort within windows of 50 batches by length, then shuffle the batches (less padding)
        window = batch_size * 50
        order = [i for s in range(0, len(order), window) for i in sorted(order[s:s + window], key=lengths.__getitem__)]
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    if bucket:
        rng.shuffle(batches)
    return batches


def collate(features: list[dict], pad_token_id: int, regression: bool) -> dict[str, torch.Tensor]:
    """Pad to the longest member of the batch."""
    longest = max(len(f["input_ids"]) for f in features)
    out = {}
    for key, pad in (("input_ids", pad_token_id), ("attention_mask", 0), ("token_type_ids", 0)):
        if key in features[0]:
            out[key] = torch.tensor([f[key] + [pad] * (longest - len(f[key])) for f in features])
    out["labels"] = torch.tensor([f["labels"] for f in features], dtype=torch.float if regression else torch.long)
    return out


def metric_for(task: TaskSpec):
    return METRICS[task.metric]
