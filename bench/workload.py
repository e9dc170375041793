"""The traffic a cell is timed on: `synthetic` (one padded length, random ids: the default) or a query set, the
task's own split tokenized with the model's tokenizer (`task`) or a file of lengths (`lengths`, custom traffic).

A query set is fixed by its source and seed: token ids per query (no padding), in a seeded order. Its hash (of the
ids, the token types and the truncation length) is part of the cell key, so a changed workload is timed again;
its length histogram goes into every record. Buckets and the batching rule are the runner's (devices/runner.py
`bucket_for`, `offline_batches`), declared there once. Must not import torch at module level.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from pathlib import Path

KINDS = ("synthetic", "task", "lengths")
SCENARIOS = ("singlestream", "offline")
DEFAULT_BATCHES = (1, 2, 4, 8, 16, 32)
HISTOGRAM_BIN_TOKENS = 8  # width of one bin of the length histogram in the record


@dataclass(frozen=True)
class Workload:
    """A fixed query set: token ids per query (no padding) and their token types; `name` says where it came from
    ("sst2/dev", "lengths:traffic.txt"); `truncation_len`: tokens a query was cut to at most (the model's positions
    unless given); `seed`: the order and the draw of `max_queries`; `source`: the file read (portable path)."""

    kind: str
    name: str
    ids: tuple[tuple[int, ...], ...]
    types: tuple[tuple[int, ...], ...]
    truncation_len: int
    seed: int
    source: str

    @property
    def lengths(self) -> list[int]:
        return [len(q) for q in self.ids]

    @property
    def digest(self) -> str:
        """12 hex digits of sha256 over the ids, types and truncation length: what makes the set itself."""
        blob = json.dumps([self.ids, self.types, self.truncation_len]).encode()
        return hashlib.sha256(blob).hexdigest()[:12]

    @property
    def key(self) -> str:
        """The workload's part of the cell key: 'sst2/dev#<digest>'."""
        return f"{self.name}#{self.digest}"

    def histogram(self) -> dict[str, int]:
        """Queries per length bin of HISTOGRAM_BIN_TOKENS tokens: {'1-8': n, '9-16': m, ...} (empty bins left out)."""
        w, counts = HISTOGRAM_BIN_TOKENS, {}
        for n in sorted(self.lengths):
            low = (n - 1) // w * w + 1
            label = f"{low}-{low + w - 1}"
            counts[label] = counts.get(label, 0) + 1
        return counts

    def info(self) -> dict:
        """The record's `workload_info`: what the set is and its length distribution (tokens)."""
        import numpy as np

        lengths = np.asarray(self.lengths)
        return {
            "kind": self.kind,
            "name": self.name,
            "hash": self.digest,
            "queries": len(self.ids),
            "seed": self.seed,
            "source": self.source,
            "truncation_len": self.truncation_len,
            "length_mean": float(lengths.mean()),
            "length_p50": float(np.percentile(lengths, 50)),
            "length_p90": float(np.percentile(lengths, 90)),
            "length_max": int(lengths.max()),
            "length_histogram": self.histogram(),
            "histogram_bin_tokens": HISTOGRAM_BIN_TOKENS,
        }

    def payload(self) -> dict:
        """What the runner receives with the request: {"ids": [[...], ...], "types": [[...], ...]}."""
        return {"ids": [list(q) for q in self.ids], "types": [list(t) for t in self.types]}


def _draw(n: int, max_queries: int | None, seed: int) -> list[int]:
    """Indices of the query set: all n (or `max_queries` of them) in an order seeded by `seed`."""
    if max_queries is not None and max_queries < 1:
        raise ValueError(f"--max-queries must be >= 1, got {max_queries}")
    order = list(range(n))
    random.Random(seed).shuffle(order)
    return order[: max_queries or n]


def task_workload(
    task: str,
    data_dir: str | Path,
    split: str | None,
    tokenizer,
    truncation_len: int,
    max_queries: int | None = None,
    seed: int = 0,
) -> Workload:
    """The task's `split` (default: its first dev file) tokenized with `tokenizer` at `truncation_len`, in a seeded
    order. ValueError naming the missing split file (dynabert.data.find_file) or an empty split."""
    from dynabert.data import default_split, encode, get_task, load_split

    spec = get_task(task)
    split = split or default_split(task, spec)
    rows = load_split(spec, data_dir, split, spec.labels)
    if not len(rows):
        raise ValueError(f"{rows.source}: no examples in split {split!r}; nothing to time")
    encoded = encode(rows, tokenizer, truncation_len)
    picked = [encoded[i] for i in _draw(len(encoded), max_queries, seed)]
    ids = tuple(tuple(e["input_ids"]) for e in picked)
    types = tuple(tuple(e.get("token_type_ids") or [0] * len(e["input_ids"])) for e in picked)
    return Workload(
        "task", f"{spec.key(split)}/{split}", ids, types, truncation_len, seed, rows.source
    )


def read_lengths(path: str | Path, truncation_len: int) -> list[int]:
    """Query lengths (tokens) from a text file: integers separated by whitespace or commas, '#' starts a comment.
    ValueError naming the file, the line and the fix for a non-integer, a length < 2 ([CLS] and [SEP] at least)
    or one over `truncation_len` (the model's positions)."""
    import records

    path = records.check_readable(path, "lengths file")
    out = []
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        for word in line.split("#")[0].replace(",", " ").split():
            try:
                value = int(word)
            except ValueError:
                raise ValueError(f"{path}:{n}: {word!r} is not a whole number of tokens") from None
            if not 2 <= value <= truncation_len:
                raise ValueError(
                    f"{path}:{n}: length {value} is out of range: a query has 2 ([CLS], [SEP]) to "
                    f"{truncation_len} tokens (the model's positions); fix or drop it"
                )
            out.append(value)
    if not out:
        raise ValueError(f"{path}: no lengths in the file; write one query length per line")
    return out


def lengths_workload(
    path: str | Path,
    vocab_size: int,
    truncation_len: int,
    max_queries: int | None = None,
    seed: int = 0,
) -> Workload:
    """Queries of the lengths in `path` (read_lengths), ids drawn (seeded) from the model's vocabulary the way the
    synthetic inputs are (devices/runner.py token_id_range, [CLS] first), token types 0."""
    import numpy as np

    import records
    from devices.runner import token_id_range

    lengths = read_lengths(path, truncation_len)
    rng = np.random.default_rng(seed)
    low, high = token_id_range(vocab_size)
    ids = []
    for i in _draw(len(lengths), max_queries, seed):
        q = rng.integers(low, high, size=lengths[i]).tolist()
        q[0] = 101 if vocab_size > 101 else q[0]  # [CLS]
        ids.append(tuple(q))
    types = tuple((0,) * len(q) for q in ids)
    name = f"lengths:{Path(path).name}"
    return Workload(
        "lengths", name, tuple(ids), types, truncation_len, seed, records.portable_path(path)
    )


def check_buckets(buckets: tuple[int, ...], max_positions: int, source: str) -> tuple[int, ...]:
    """`buckets` if strictly increasing lengths in [2, max_positions]; ValueError naming --buckets, the bad value
    and the model (`source`) otherwise."""
    if not buckets:
        return buckets
    if any(b < 2 for b in buckets):
        raise ValueError(f"--buckets {buckets}: every bucket must be >= 2 tokens")
    if any(b >= a for b, a in zip(buckets, buckets[1:])):
        raise ValueError(
            f"--buckets {','.join(map(str, buckets))}: not in increasing order; give them smallest "
            f"first, each once (e.g. 16,32,64,128)"
        )
    if buckets[-1] > max_positions:
        raise ValueError(
            f"--buckets: {buckets[-1]} is beyond {source}'s {max_positions} positions "
            f"(max_position_embeddings); use buckets up to {max_positions}"
        )
    return buckets


def parse_ints(text: str, flag: str) -> tuple[int, ...]:
    """'16,32,64' -> (16, 32, 64); ValueError naming `flag` for anything else."""
    try:
        return tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise ValueError(
            f"{flag} {text!r}: give comma-separated whole numbers, e.g. 16,32,64"
        ) from None


def condition(rec) -> str:
    """The workload a latency record was timed on, as one label for grouping (records of different labels are never
    pooled in one figure or fit): 'synthetic', or '<name>#<hash> <scenario> <shapes>[ <buckets>]'."""
    if (rec.workload or "synthetic") == "synthetic":
        return "synthetic"
    buckets = (
        f" {','.join(map(str, rec.buckets))}" if rec.shapes == "bucketed" and rec.buckets else ""
    )
    return f"{rec.workload} {rec.scenario} {rec.shapes}{buckets}"
