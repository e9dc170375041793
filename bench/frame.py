"""Records (stores and/or pytest-benchmark JSON) + the cited table -> one pandas frame per question.

Measured accuracy joins efficiency by the weights' hash (checkpoint_sha, subnet_id); an accuracy measured on a
runtime's own artifact (bench.artifact_accuracy, `runtime` set) replaces the torch accuracy for that runtime's
latency rows. Cited accuracy joins by architecture (model_id preset, subnet_id). Accuracy is in percent here.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd

import records
from bench.collect import is_benchmark_json, records_from_benchmark_json, unused_benchmarks

CITED = Path(__file__).with_name("data") / "cited.csv"


def load_records(paths: list[str | Path]) -> list[records.Record]:
    """Every record of every input; a clear error naming an empty, missing or foreign file. A pytest-benchmark JSON
    is told from a records store by its content, whatever its name; a store is read line by line (records.read), so
    a line with bytes that are not UTF-8 costs that line, named with its file and number, not the whole input."""
    out = []
    for path in map(Path, paths):
        records.check_readable(path, "input")
        raw = path.read_bytes()
        if not raw.strip():
            raise ValueError(
                f"input {str(path)!r} is empty: nothing to plot (run python -m bench.sweep first)"
            )
        if raw.lstrip()[:1] == b"{" and is_benchmark_json(_json_document(raw)):
            out += records_from_benchmark_json(path)
            continue
        recs = records.read(path)
        if not recs:
            raise ValueError(
                f"{str(path)!r} holds no results records (neither a results store written by "
                f"bench.sweep / dynabert evaluate nor a pytest-benchmark JSON)"
            )
        out += recs
    return out


def _json_document(raw: bytes) -> object:
    """The file as one JSON document, or None (a JSON Lines store of several records, or not JSON at all)."""
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None


def input_notes(paths: list[str | Path]) -> list[str]:
    """One note per pytest-benchmark input: how many of its benchmarks were not latency cells (so not drawn),
    named (the first 8), and what the drawn ones measured (model, weights random or trained)."""
    notes = []
    for path in map(Path, paths):
        data = _json_document(path.read_bytes())  # by content, whatever the file's name
        if not is_benchmark_json(data):
            continue
        used = records_from_benchmark_json(path)
        unused = unused_benchmarks(data)
        models = sorted({model_label(r.model_id) for r in used})
        line = f"{path.name}: {len(used)} of {len(data['benchmarks'])} pytest-benchmark benchmarks drawn "
        line += f"(latency cells of {', '.join(models) or 'no model'})"
        if unused:
            names = ", ".join(unused[:8]) + (
                f" and {len(unused) - 8} more" if len(unused) > 8 else ""
            )
            line += (
                f"; {len(unused)} not used, because they carry no results-record fields "
                f"(not latency cells of a sub-network): {names}"
            )
        notes.append(line)
    return notes


def newest_per_cell(recs: list[records.Record]) -> tuple[list[records.Record], int]:
    """(one record per cell, how many repeats were set aside). The rule: a cell (Record.key) measured more than
    once is drawn once, from its newest record by timestamp_utc (ties: the later in the inputs)."""
    best: dict[tuple, tuple[str, int]] = {}
    for i, r in enumerate(recs):
        stamp = r.timestamp_utc or ""
        if r.key not in best or stamp >= best[r.key][0]:
            best[r.key] = (stamp, i)
    keep = sorted(i for _, i in best.values())
    return [recs[i] for i in keep], len(recs) - len(keep)


def repeat_note(recs: list[records.Record]) -> str | None:
    """A sentence naming how many cells were measured more than once (None when none was)."""
    ok = [r for r in recs if r.status == "ok"]
    kept, dropped = newest_per_cell(ok)
    if not dropped:
        return None
    return (
        f"{dropped} repeated measurement(s) of cells already measured (same model, sub-network, task, device, "
        f"runtime, threads, batch, seq len and machine) set aside: each cell is drawn once, from its newest "
        f"record; {len(kept)} cells in all"
    )


def spread(r: records.Record) -> tuple[float | None, float | None, str | None]:
    """(low, high, what) of a latency record's error bar: the range of its fresh processes' medians (ms) when
    it has two or more, else the interquartile range of its raw samples, else none."""
    import numpy as np

    medians = (r.env or {}).get("process_medians_ms") or []
    if len(medians) >= 2:
        return min(medians), max(medians), f"range of {len(medians)} process medians"
    if r.samples_ms and len(r.samples_ms) >= 4:
        lo, hi = np.percentile(r.samples_ms, [25, 75])
        return float(lo), float(hi), f"IQR of {len(r.samples_ms)} samples"
    return None, None, None


def model_label(model_id: str) -> str:
    """What a measured model is: an architecture preset has random weights (efficiency only), said so;
    a training output is named by its folder."""
    from dynabert.config import ARCHITECTURES

    if model_id in ARCHITECTURES:
        return f"{model_id}, random weights"
    path = Path(model_id)
    return path.parent.name if path.name == "best" else path.name


def machine_id(r: records.Record) -> str:
    """The record's machine: its fingerprint, or for records from before fingerprints existed a stand-in made of
    what they do carry (CPU model, logical CPUs, torch version), prefixed "unfingerprinted-"."""
    if r.machine_fingerprint:
        return r.machine_fingerprint

    known = json.dumps([r.cpu_model, (r.env or {}).get("logical_cpus"), r.torch_version])
    return "unfingerprinted-" + hashlib.sha256(known.encode()).hexdigest()[:8]


def machine_detail(r: records.Record) -> str:
    """One line describing the record's machine (what the fingerprint covers, or what an old record carries)."""
    if r.machine:
        from records.machine import from_dict

        m = from_dict(r.machine)
        runtimes = ", ".join(f"{k} {v}" for k, v in m.runtimes.items() if v)
        return (
            f"{m.cpu_model} ({m.arch}); {m.cores_used} of {m.logical_cpus} CPUs usable; ISA "
            f"{' '.join(m.isa) or 'none of the listed'}; {m.memory_gib} GiB; {m.os}; Python {m.python}; "
            f"{runtimes}; fingerprint {m.fingerprint}"
        )
    env = r.env or {}
    return (
        f"{r.cpu_model}; {env.get('logical_cpus', '?')} logical CPUs; torch {r.torch_version}; no fingerprint "
        f"recorded (measured before machine identity was recorded: ISA features, memory and OS unknown)"
    )


def _short_cpu(cpu: str | None) -> str:
    cpu = (
        (cpu or "unknown CPU")
        .replace("(R)", "")
        .replace("(TM)", "")
        .replace(" CPU", "")
        .replace(" Processor", "")
    )
    return " ".join(cpu.split())


def machine_labels(recs: list[records.Record], roles: dict[str, str]) -> dict[str, str]:
    """machine id -> short legend label: role (from `roles`, else "machine <id>"), CPU, measurement date(s)."""
    dates: dict[str, set] = {}
    cpus: dict[str, str] = {}
    for r in recs:
        mid = machine_id(r)
        dates.setdefault(mid, set()).add((r.timestamp_utc or "?")[:10])
        cpus.setdefault(mid, _short_cpu(r.cpu_model))
    out = {}
    for mid, ds in dates.items():
        span = min(ds) if len(ds) == 1 else f"{min(ds)} to {max(ds)}"
        out[mid] = f"{roles.get(mid, 'machine ' + mid[-8:])}: {cpus[mid]}, measured {span}"
    return out


def efficiency(
    recs: list[records.Record],
    checkpoint: str | None = None,
    roles: dict[str, str] | None = None,
    workload: str | None = None,
) -> pd.DataFrame:
    """Latency records with status ok; refuses DynaBERT records of several checkpoints unless one is chosen.
    Columns machine_id and machine (a short label, see machine_labels; `roles` maps machine ids to role names)
    say which machine measured each row: rows of different machines are never pooled; nor are workloads, their
    scenario and shapes (condition fields, bench/conditions.py); `workload` keeps one workload's records."""
    ok, _ = newest_per_cell([r for r in recs if r.kind == "latency" and r.status == "ok"])
    labels = machine_labels(ok, roles or {})
    order = {
        "this machine": 0,
        "reference (committed)": 1,
    }  # this machine's rows first, then the reference's
    ok = sorted(ok, key=lambda r: order.get((roles or {}).get(machine_id(r)), 2))
    if (
        workload is not None
    ):  # one workload's records (its `workload` value, e.g. "sst2/dev#<hash>")
        ok = [r for r in ok if (r.workload or "synthetic") == workload]
    rows = [
        {
            **r.to_dict(),
            "workload": r.workload
            or "synthetic",  # a condition field (bench.conditions): never pooled
            "machine_id": machine_id(r),
            "machine": labels[machine_id(r)],
            **dict(zip(("latency_ms_lo", "latency_ms_hi", "latency_spread"), spread(r))),
        }
        for r in ok
    ]
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    dyn = df[df.family == "dynabert"]
    shas = sorted(dyn.checkpoint_sha.unique())
    if checkpoint:
        df = df[(df.family != "dynabert") | (df.checkpoint_sha.str.startswith(checkpoint))]
    elif len(shas) > 1:
        counts = ", ".join(
            f"{s} ({(dyn.checkpoint_sha == s).sum()} records, {dyn[dyn.checkpoint_sha == s].model_id.iloc[0]})"
            for s in shas
        )
        raise ValueError(
            f"the inputs mix DynaBERT records of {len(shas)} checkpoints: {counts}; "
            f"choose one with --checkpoint SHA or pass one checkpoint's results"
        )
    df["latency_ms_p50"] = df.latency_ms_p50.astype(float)
    # records hold FLOPs of the whole batch (bench.cells); figures and tables say per sequence
    df["flops_per_sequence"] = df.flops / df.batch_size.fillna(1)
    return df


def measured_accuracy(recs: list[records.Record], task: str | None) -> pd.DataFrame:
    rows = [
        {
            "family": r.family,
            "model_id": r.model_id,
            "checkpoint_sha": r.checkpoint_sha,
            "subnet_id": r.subnet_id,
            "task": r.task,
            "accuracy": 100 * r.metric_value,
            "metric": r.metric_name,
            "accuracy_source": f"measured, {r.split}",
            "measured": True,
            "label": run_label(r),
            "params": r.params,
            "flops": r.flops,
            "accuracy_runtime": r.runtime,
            "accuracy_seq_len": r.seq_len,
        }
        for r in newest_per_cell(recs)[0]
        if r.kind == "accuracy" and r.status == "ok" and (task is None or r.task == task)
    ]
    return pd.DataFrame(rows)


def run_label(r: records.Record) -> str:
    """A short legend label for a measured record: the training folder it came from."""
    if r.family == "dynabert":
        return "DynaBERT (this run)"
    return f"{model_label(r.model_id)} (this run)"


def cited_for(recs: list[records.Record], task: str, asked: bool | None) -> pd.DataFrame:
    """The cited rows to draw beside `recs`: all of `task`'s when asked (True), none when refused (False), and by
    default (None) only those of a model the records measured: the same architecture preset (model_id), or a
    full-size record (width 1, depth 1) of the preset's shape (layers, heads, FFN size). So a MiniLM run gets
    no cited BERT-base point, and the BERT-base-shaped default run gets the paper's."""
    if asked is False:
        return pd.DataFrame()
    df = cited_accuracy(task)
    if asked:
        return df
    from dynabert.config import ARCHITECTURES

    shapes = {
        (r.n_layers, r.n_heads, r.ffn_dim)
        for r in recs
        if r.width_mult == 1 and r.depth_mult == 1 and r.n_layers
    }
    mine = {r.model_id for r in recs} | {
        name
        for name, size in ARCHITECTURES.items()
        if (size.num_layers, size.num_heads, size.ffn_size) in shapes
    }
    return df[df.model_id.isin(mine)]


def cited_accuracy(task: str) -> pd.DataFrame:
    df = pd.read_csv(CITED)
    df = df[df.task == task].rename(columns={"value": "accuracy", "source": "accuracy_source"})
    df["measured"] = False
    df["accuracy_runtime"] = None  # cited numbers are of the model, never of one runtime's artifact
    df["accuracy_seq_len"] = None  # the source's own setting
    df["accuracy_source"] = "cited: " + df.accuracy_source + " (" + df.split + ")"
    return df


def joined(eff: pd.DataFrame, acc: pd.DataFrame) -> pd.DataFrame:
    """One row per (accuracy point, device, runtime): accuracy beside its measured efficiency."""
    if acc.empty or eff.empty:
        return pd.DataFrame()
    eff_cols = [
        "model_id",
        "checkpoint_sha",
        "subnet_id",
        "device",
        "machine_id",
        "machine",
        "runtime",
        "threads",
        "seq_len",
        "batch_size",
        "params",
        "flops",
        "flops_with_attention",
        "flops_per_sequence",
        "latency_ms_p50",
        "latency_ms_p90",
        "latency_ms_lo",
        "latency_ms_hi",
        "latency_spread",
        "peak_rss_mb",
        "artifact_bytes",
        "precision",
        "width_mult",
        "depth_mult",
        "instructions_per_inference",
        "workload",
        "scenario",
        "shapes",
    ]
    eff = eff[[c for c in eff_cols if c in eff.columns]]
    parts = []
    for is_measured, keys in (
        (True, ["checkpoint_sha", "subnet_id"]),
        (False, ["model_id", "subnet_id"]),
    ):
        part = acc[acc.measured == is_measured]
        if part.empty:
            continue
        side = eff if is_measured else eff.drop(columns=["checkpoint_sha"])
        part = part.drop(columns=[c for c in part.columns if c in side.columns and c not in keys])
        own = part[part.accuracy_runtime.notna()]  # accuracy of the runtime's own artifact
        generic = part[part.accuracy_runtime.isna()].merge(side, on=keys)
        if not own.empty:
            specific = own.merge(
                side, left_on=[*keys, "accuracy_runtime"], right_on=[*keys, "runtime"]
            )
            taken = set(zip(*(specific[k] for k in (*keys, "runtime"))))
            generic = generic[
                [t not in taken for t in zip(*(generic[k] for k in (*keys, "runtime")))]
            ]
            parts.append(specific.assign(accuracy_from_artifact=True))
        parts.append(generic.assign(accuracy_from_artifact=False))
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    return out.drop(columns=["accuracy_runtime"], errors="ignore")


def pareto_mask(cost: pd.Series, accuracy: pd.Series) -> pd.Series:
    """True for points no other point beats (lower-or-equal cost and higher accuracy, or cheaper at equal accuracy)."""
    order = sorted(range(len(cost)), key=lambda i: (cost.iloc[i], -accuracy.iloc[i]))
    best, keep = float("-inf"), [False] * len(cost)
    for i in order:
        if accuracy.iloc[i] > best:
            keep[i], best = True, accuracy.iloc[i]
    return pd.Series(keep, index=cost.index)


def summary_table(path: str | Path, seq_len: int | None = None, value: str = "latency_ms_p50"):
    """`value` (median latency in ms, or instructions per inference) by sub-network x runtime (pandas)."""
    from bench.conditions import FIELDS

    ok = [r for r in records.read(path) if r.kind == "latency" and r.status == "ok"]
    df = pd.DataFrame([r.to_dict() for r in newest_per_cell(ok)[0]])  # each cell once: its newest
    if seq_len and not df.empty:
        df = df[df.seq_len == seq_len]
    if df.empty or df[value].isna().all():
        return None
    df = df[df[value].notna()]
    df["cell"] = df.model_id.where(df.family == "baseline", df.subnet_id)
    # a condition that differs between rows (device, threads, batch, machine, ...) becomes part of the row
    held = [
        c for c in (*FIELDS, "machine_fingerprint") if c in df and c not in ("runtime", "precision")
    ]
    index = [c for c in held if df[c].astype(str).nunique() > 1] + ["cell"]
    return df.pivot_table(index=index, columns="runtime", values=value, aggfunc="last", sort=False)


def print_summaries(path: str | Path, seq_len: int, where: str) -> None:
    """A sweep's closing tables: median latency (ms) by sub-network x runtime and, for emulated targets,
    instructions per inference (millions); `where` names batch, seq, threads and devices."""
    table = summary_table(path, seq_len)
    if table is not None:
        print(f"\nmedian latency (ms), {where}:")
        print(table.to_string(float_format=lambda v: f"{v:.2f}"))
    counts = summary_table(path, seq_len, "instructions_per_inference")
    if counts is not None:
        print(f"\nemulated guest instructions per inference (millions; not time), {where}:")
        print((counts / 1e6).to_string(float_format=lambda v: f"{v:.2f}"))
