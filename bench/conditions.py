"""What a figure, table, Pareto front or selection holds constant: one declared list of fields, one split.

A latency of batch 8 is not comparable with one of batch 1, nor seq 32 with seq 128, nor an accuracy measured at
length 128 with one truncated at 32; so every figure, table, front and `select` ranking holds each field of
CONDITION at one value. A frame that mixes them is split into one part per condition (each titled with it), or
refused by `only_one`, naming what was found and the flag that chooses. Adding a field (a record's `workload`)
is one line of CONDITION; a column a frame lacks is simply not held (older records).

Must not import matplotlib, torch or devices.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

# (frame column, how a title says it, the `select` flag that chooses it, what it is in words). Order = the order
# titles read in. accuracy_seq_len: the length the accuracy was measured at (its truncation), from its record.
CONDITION: tuple[tuple[str, str, str, str], ...] = (
    ("device", "{}", "--device", "device"),
    ("runtime", "{}", "--runtime", "runtime"),
    ("precision", "{}", "--precision", "precision"),
    ("threads", "{} thread(s)", "--threads", "threads"),
    ("batch_size", "batch {}", "--batch", "batch"),
    ("seq_len", "seq {}", "--seq-len", "timed sequence length"),
    ("workload", "{} workload", "--workload", "workload"),
    (
        "scenario",
        "{}",
        "--scenario",
        "scenario",
    ),  # a query set's singlestream | offline (docs/workloads.md)
    ("shapes", "{} shapes", "--shapes", "shapes"),  # a query set's dynamic | padded | bucketed
    ("accuracy_seq_len", "accuracy at seq {}", "--accuracy-seq-len", "the accuracy's own length"),
)
FIELDS = tuple(c[0] for c in CONDITION)
IN_WORDS = ", ".join(
    c[3] for c in CONDITION
)  # for prose: "device, runtime, ..., the accuracy's own length"
# Fields of the accuracy, not of the timing: cited rows carry none (their source's setting, named in their
# label) and are drawn beside every part whose timing fields they match.
ACCURACY_FIELDS = ("accuracy_seq_len",)


@dataclass(frozen=True)
class Condition:
    """One value per held field (the fields a frame has; None = not recorded)."""

    values: tuple[tuple[str, object], ...]

    def get(self, name: str) -> object:
        return dict(self.values).get(name)

    def title(self, skip: tuple[str, ...] = ()) -> str:
        """e.g. "local-cpu, onnxruntime, fp32, 1 thread(s), batch 8, seq 64, accuracy at seq 128"."""
        fmt = {c[0]: c[1] for c in CONDITION}
        return ", ".join(
            fmt[k].format(_plain(v)) for k, v in self.values if v is not None and k not in skip
        )

    def stem(self, varying: tuple[str, ...]) -> str:
        """A file-name suffix of the `varying` fields only (e.g. "_b8_s64"); "" when none varies."""
        short = {"batch_size": "b", "seq_len": "s", "accuracy_seq_len": "as", "precision": ""}
        return "".join(
            f"_{short.get(k, '')}{_plain(v)}"
            for k, v in self.values
            if k in varying and v is not None
        )


def _plain(v: object) -> object:
    return int(v) if isinstance(v, float) and v.is_integer() else v


def held(df: pd.DataFrame, fields: tuple[str, ...] = FIELDS) -> list[str]:
    """The condition fields `df` has a column for, in CONDITION's order."""
    return [f for f in fields if f in df.columns]


def _key(row: pd.Series, cols: list[str]) -> tuple[tuple[str, object], ...]:
    return tuple((c, None if pd.isna(row[c]) else _plain(row[c])) for c in cols)


def split(
    df: pd.DataFrame, fields: tuple[str, ...] = FIELDS
) -> list[tuple[Condition, pd.DataFrame]]:
    """One (Condition, rows) per distinct value of the held `fields`, in first-seen order. Cited rows (column
    `measured` False) have no accuracy length of their own: they join every part their other fields match."""
    if df.empty:
        return []
    cols = held(df, fields)
    cited = ~df.measured.astype(bool) if "measured" in df else pd.Series(False, index=df.index)
    timing = [c for c in cols if c not in ACCURACY_FIELDS]
    keys = {i: _key(row, cols) for i, row in df[~cited].iterrows()}
    parts: dict[tuple, list] = {}
    for i, k in keys.items():
        parts.setdefault(k, []).append(i)
    out = []
    matched = set()
    for k, idx in parts.items():
        timing_key = tuple(kv for kv in k if kv[0] in timing)
        extra = [i for i, row in df[cited].iterrows() if _key(row, timing) == timing_key]
        matched.update(extra)
        out.append((Condition(k), df.loc[idx + extra]))
    rest = df[cited & ~df.index.isin(matched)]
    for k, rows in _groups(rest, timing):
        out.append((Condition(k), rows))
    return out


def _groups(df: pd.DataFrame, cols: list[str]):
    seen: dict[tuple, list] = {}
    for i, row in df.iterrows():
        seen.setdefault(_key(row, cols), []).append(i)
    return [(k, df.loc[idx]) for k, idx in seen.items()]


def varying(parts: list[tuple[Condition, pd.DataFrame]]) -> tuple[str, ...]:
    """The fields whose value differs between `parts` (what a file name must say to keep them apart)."""
    names = {k for cond, _ in parts for k, _ in cond.values}
    return tuple(f for f in FIELDS if f in names and len({cond.get(f) for cond, _ in parts}) > 1)


def only_one(df: pd.DataFrame, what: str, fields: tuple[str, ...] = FIELDS) -> Condition:
    """The one condition `df` holds; ValueError naming each condition found and the flags that choose one.
    `what` names the operation (e.g. "select")."""
    parts = split(df, fields)
    if len(parts) <= 1:
        return parts[0][0] if parts else Condition(())
    differ = varying(parts)
    flags = {c[0]: c[2] for c in CONDITION}
    found = "; ".join(f"{cond.title()} ({len(rows)} rows)" for cond, rows in parts)
    choose = ", ".join(flags[f] for f in differ)
    raise ValueError(
        f"{what}: the inputs hold {len(parts)} conditions that must not be ranked together: {found}; "
        f"choose one with {choose}"
    )


def keep(df: pd.DataFrame, wanted: dict[str, object]) -> pd.DataFrame:
    """Rows whose condition fields equal `wanted` (field -> value; None values are not filtered)."""
    for name, value in wanted.items():
        if value is not None and name in df.columns:
            df = df[df[name].map(_plain) == value]
    return df
