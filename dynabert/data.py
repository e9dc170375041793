"""Task data: the 9 GLUE tasks and user TSV/CSV tasks -> checked examples -> token ids -> padded batches.

Files are decoded and split into rows by dynabert.tabular (byte-order marks, encodings, line endings, blank
lines, quoting). Every malformed row (wrong column count, unknown label, empty text) is reported with file and
the line an editor shows; up to `max_errors` rows are skipped (and reported), beyond that loading fails. Nothing
is dropped silently. Labels are stored as the index of the task's label (its TSV spelling); hub label ids are
mapped to it by name. Evaluation reads only the split it scores. Must not import bench or devices.
"""

from __future__ import annotations

import math
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch

import records
from dynabert.label_names import order_by_name
from dynabert.metrics import METRICS
from dynabert.tabular import read_rows


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
    # other names of each label, in `labels` order: the hub's ClassLabel names and what checkpoints call them
    label_names: tuple[tuple[str, ...], ...] = ()
    # dev file stem -> the task key its records carry (the cited table's, e.g. MNLI's mnli-m / mnli-mm)
    split_keys: tuple[tuple[str, str], ...] = ()

    def key(self, split: str) -> str:
        """The task key of records scored on `split`: 'mnli-m' for dev_matched, else the task name."""
        return dict(self.split_keys).get(split, self.name)


GLUE_TASKS: dict[str, TaskSpec] = {
    "cola": TaskSpec(
        "cola",
        (3,),
        1,
        ("0", "1"),
        "mcc",
        header=False,
        hub_name="cola",
        label_names=(("unacceptable",), ("acceptable",)),
    ),
    "sst2": TaskSpec(
        "sst2",
        ("sentence",),
        "label",
        ("0", "1"),
        "accuracy",
        hub_name="sst2",
        label_names=(("negative",), ("positive",)),
    ),
    "mrpc": TaskSpec(
        "mrpc",
        ("#1 String", "#2 String"),
        "Quality",
        ("0", "1"),
        "acc_f1",
        hub_name="mrpc",
        label_names=(("not_equivalent",), ("equivalent",)),
    ),
    "stsb": TaskSpec(
        "stsb", ("sentence1", "sentence2"), "score", None, "pearson_spearman", hub_name="stsb"
    ),
    "qqp": TaskSpec(
        "qqp",
        ("question1", "question2"),
        "is_duplicate",
        ("0", "1"),
        "acc_f1",
        hub_name="qqp",
        label_names=(("not_duplicate",), ("duplicate",)),
    ),
    "mnli": TaskSpec(
        "mnli",
        ("sentence1", "sentence2"),
        "gold_label",
        ("contradiction", "entailment", "neutral"),
        "accuracy",
        dev_files=("dev_matched", "dev_mismatched"),
        hub_name="mnli",
        split_keys=(("dev_matched", "mnli-m"), ("dev_mismatched", "mnli-mm")),
    ),
    "qnli": TaskSpec(
        "qnli",
        ("question", "sentence"),
        "label",
        ("entailment", "not_entailment"),
        "accuracy",
        hub_name="qnli",
    ),
    "rte": TaskSpec(
        "rte",
        ("sentence1", "sentence2"),
        "label",
        ("entailment", "not_entailment"),
        "accuracy",
        hub_name="rte",
    ),
    "wnli": TaskSpec(
        "wnli",
        ("sentence1", "sentence2"),
        "label",
        ("0", "1"),
        "accuracy",
        hub_name="wnli",
        label_names=(("not_entailment",), ("entailment",)),
    ),
}
GLUE_DIRS = {
    "cola": "CoLA",
    "sst2": "SST-2",
    "mrpc": "MRPC",
    "stsb": "STS-B",
    "qqp": "QQP",
    "mnli": "MNLI",
    "qnli": "QNLI",
    "rte": "RTE",
    "wnli": "WNLI",
}
TASK_ALIASES = {"sst-2": "sst2", "sts-b": "stsb", "mnli-m": "mnli", "mnli-mm": "mnli"}
ALIAS_SPLITS = {
    "mnli-m": "dev_matched",
    "mnli-mm": "dev_mismatched",
}  # a task key names its dev split


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


def get_task(
    name: str, text_columns: str | None = None, label_column: str | None = None
) -> TaskSpec:
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


def default_split(name: str, task: TaskSpec) -> str:
    """The split a task name scores by default: 'mnli-mm' -> dev_mismatched, else the task's first dev set."""
    return ALIAS_SPLITS.get(name.lower(), task.dev_files[0])


def find_file(data_dir: Path, stem: str) -> Path:
    """data_dir/stem.tsv (or .csv); accepts a glue_data root holding <TASK>/ as well as the task folder."""
    for ext in (".tsv", ".csv"):
        if (data_dir / f"{stem}{ext}").is_file():
            return data_dir / f"{stem}{ext}"
    raise ValueError(
        f"no {stem}.tsv or {stem}.csv in {str(data_dir)!r}: --data-dir must be the task folder "
        f"(e.g. glue_data/SST-2) holding the GLUE files"
    )


def task_dir(data_dir: str | Path, task: TaskSpec) -> Path:
    root = Path(data_dir)
    if root.is_file():
        raise ValueError(
            f"--data-dir {str(root)!r} is a file; pass the task folder holding it (e.g. glue_data/SST-2 "
            f"with train.tsv and dev.tsv), {str(root.parent)!r} here"
        )
    if not root.is_dir():
        raise ValueError(f"data directory {str(root)!r} does not exist")
    sub = root / GLUE_DIRS.get(task.name, "")
    return sub if task.name in GLUE_DIRS and sub.is_dir() else root


def _column(header: list[str] | None, col: str | int, path: Path) -> int:
    if isinstance(col, int):
        return col
    if header is None or col not in header:
        raise ValueError(f"{path}: no column {col!r} in the header {header}")
    return header.index(col)


def _label_value(raw: str, labels: tuple[str, ...] | None) -> int | float | str:
    """Class index, regression score, or a problem (str) for one raw label cell."""
    if labels is None:
        try:
            value = float(raw)
        except ValueError:
            return f"label {raw!r} is not a number"
        return value if math.isfinite(value) else f"label {raw!r} is not a finite number"
    return (
        labels.index(raw)
        if raw in labels
        else f"unknown label {raw!r} (labels: {', '.join(labels)})"
    )


def read_split(
    path: Path, task: TaskSpec, labels: tuple[str, ...] | None, max_errors: int = 0
) -> Split:
    """Read one file; regression when `labels` is None. Raises past `max_errors` malformed rows.

    Problems name the line an editor shows (dynabert.tabular), e.g. 'dev.tsv:7: 3 columns, expected 4'.
    """
    rows = read_rows(path)
    if not rows:
        raise ValueError(
            f"{path} is empty (no header row, no examples): fill it, or point --data-dir at the folder "
            f"with the task's files"
        )
    header = [c.strip() for c in rows[0][1]] if task.header else None
    text_idx = [_column(header, c, path) for c in task.text_columns]
    label_idx = _column(header, task.label_column, path)
    width = len(header) if header else None
    texts, values, problems = [], [], []
    for line, row in rows[1 if task.header else 0 :]:
        if width is not None and len(row) != width or len(row) <= max(text_idx + [label_idx]):
            problems.append(
                f"{path}:{line}: {len(row)} columns, expected {width or max(text_idx + [label_idx]) + 1}"
            )
            continue
        text = tuple(row[i].strip() for i in text_idx)
        value = _label_value(row[label_idx].strip(), labels)
        problem = "empty text" if not all(text) else value if isinstance(value, str) else None
        if problem:
            problems.append(f"{path}:{line}: {problem}")
            continue
        texts.append(text)
        values.append(value)
    if len(problems) > max_errors:
        shown = "\n  ".join(problems[:5])
        raise ValueError(
            f"{len(problems)} malformed rows in {path} (allowed: {max_errors}; raise --max-errors "
            f"to skip them):\n  {shown}"
        )
    for p in problems:
        print(f"warning: skipped {p}", file=sys.stderr)
    return Split(
        path.stem, texts, values, records.portable_path(path), problems
    )  # no absolute path in records


def custom_labels(path: Path, task: TaskSpec) -> tuple[str, ...]:
    """Sorted distinct labels of a user's training file."""
    rows = read_rows(path)
    if not rows:
        raise ValueError(f"{path} is empty")
    idx = _column([c.strip() for c in rows[0][1]], task.label_column, path)
    found = sorted({r[idx].strip() for _, r in rows[1:] if len(r) > idx and r[idx].strip()})
    if len(found) < 2:
        raise ValueError(
            f"{path}: column {task.label_column!r} has {len(found)} distinct labels; need at least 2"
        )
    return tuple(found)


def load_task(
    task: TaskSpec, data_dir: str | Path, max_errors: int = 0
) -> tuple[tuple[str, ...] | None, dict[str, Split]]:
    """(labels, {"train": Split, "dev": Split, ...}) from a folder of TSV/CSV files (training: every split)."""
    folder = task_dir(data_dir, task)
    train_path = find_file(folder, "train")
    labels = custom_labels(train_path, task) if task.name == "custom" else task.labels
    splits = {"train": read_split(train_path, task, labels, max_errors)}
    for stem in task.dev_files:
        splits[stem] = read_split(find_file(folder, stem), task, labels, max_errors)
    return labels, splits


def load_split(
    task: TaskSpec,
    data_dir: str | Path,
    split: str,
    labels: tuple[str, ...] | None,
    max_errors: int = 0,
) -> Split:
    """Only the file that is scored (evaluation): `labels` come from the task or the checkpoint, never train.tsv."""
    return read_split(find_file(task_dir(data_dir, task), split), task, labels, max_errors)


def load_hub(task: TaskSpec) -> tuple[tuple[str, ...] | None, dict[str, Split]]:
    """The same splits from the Hugging Face `datasets` hub (needs the `datasets` package and a network).

    Hub label ids are mapped to the task's labels by the dataset's own ClassLabel names (MNLI's hub order is
    entailment, neutral, contradiction; the TSV's sorted order is contradiction, entailment, neutral).
    """
    try:
        import datasets
    except ImportError:
        raise ValueError(
            "--data-dir hub needs the `datasets` package (pip install datasets) and a network"
        ) from None
    if task.hub_name is None:
        raise ValueError(f"task {task.name!r} is not on the hub; pass --data-dir")
    ds = datasets.load_dataset("nyu-mll/glue", task.hub_name)
    hub_splits = {
        "train": "train",
        "dev": "validation",
        "dev_matched": "validation_matched",
        "dev_mismatched": "validation_mismatched",
    }
    cols = [c for c in ds["train"].column_names if c not in ("label", "idx")]
    out = {}
    for name in ("train", *task.dev_files):
        part = ds[hub_splits[name]]
        names = getattr(part.features["label"], "names", None)
        values = (
            list(part["label"])
            if task.labels is None
            else hub_label_ids(part["label"], names, task)
        )
        out[name] = Split(
            name, list(zip(*(part[c] for c in cols))), values, f"hub:nyu-mll/glue/{task.hub_name}"
        )
    return task.labels, out


def hub_label_ids(ids: list[int], names: list[str] | None, task: TaskSpec) -> list[int]:
    """Hub class ids -> indices into task.labels, through the hub's ClassLabel names."""
    if names is None:
        raise ValueError(
            f"the hub's {task.name} labels carry no names, so they cannot be matched to the task's "
            f"labels {task.labels}"
        )
    to_task = order_by_name(names, task, f"hub:nyu-mll/glue/{task.hub_name}")
    return [to_task[i] for i in ids]


def encode(
    split: Split,
    tokenizer,
    max_seq_len: int,
    limit: int | None = None,
    limits=None,
    flag: str = "--max-seq-len",
    source: str = "the model",
) -> list[dict]:
    """Token ids per example (no padding: batches are padded to their longest member); the one tokenization of
    training and evaluation alike. `limits` (dynabert.limits.InputLimits of the model) given: a model without a
    token-type table (DistilBERT; type_vocab_size < 2) gets no token types, whatever its tokenizer emits
    (transformers#2702), and every example is checked against its vocabulary and positions. ValueError when
    `max_seq_len` is below the tokenizer's special tokens or an example comes out longer."""
    from dynabert.limits import check_features, check_lengths, check_special_tokens

    n = len(split) if limit is None else min(limit, len(split))
    columns = list(zip(*split.texts[:n])) if n else [[]]
    check_special_tokens(tokenizer, len(columns), max_seq_len, flag)
    enc = tokenizer(*columns, truncation=True, max_length=max_seq_len)
    keys = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in enc]
    if limits is not None and limits.type_vocab_size < 2:
        keys = [k for k in keys if k != "token_type_ids"]
    features = [{**{k: enc[k][i] for k in keys}, "labels": split.labels[i]} for i in range(n)]
    check_lengths(features, max_seq_len, flag)
    if limits is not None:
        check_features(features, limits, source)
    return features


def batch_order(
    lengths: list[int], batch_size: int, seed: int, epoch: int, bucket: bool
) -> list[list[int]]:
    """Batches of example indices for one epoch: shuffled by (seed, epoch), optionally length-bucketed.

    A pure function of its arguments, so a resumed run sees exactly the batches it had not yet seen.
    """
    rng = random.Random(seed * 1_000_003 + epoch)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    if (
        bucket
    ):  # sort within windows of 50 batches by length, then shuffle the batches (less padding)
        window = batch_size * 50
        order = [
            i
            for s in range(0, len(order), window)
            for i in sorted(order[s : s + window], key=lengths.__getitem__)
        ]
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
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
    out["labels"] = torch.tensor(
        [f["labels"] for f in features], dtype=torch.float if regression else torch.long
    )
    return out


def metric_for(task: TaskSpec):
    return METRICS[task.metric]
