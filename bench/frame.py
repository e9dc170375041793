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
from bench.collect import is_benchmark_json, records_from_benchmark_json

CITED = Path(__file__).with_name("data") / "cited.csv"


def load_records(paths: list[str | Path]) -> list[records.Record]:
    """Every record of every input; a clear error naming an empty, missing or foreign file."""
    out = []
    for path in map(Path, paths):
        records.check_readable(path, "input")
        text = path.read_text().strip()
        if not text:
            raise ValueError(
                f"input {str(path)!r} is empty: nothing to plot (run python -m bench.sweep first)"
            )
        if text.startswith("{") and "\n" not in text or path.suffix == ".json":
            try:
                data = json.loads(text)
            except json.JSONDecodeError:
                data = None
            if is_benchmark_json(data):
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
    recs: list[records.Record], checkpoint: str | None = None, roles: dict[str, str] | None = None
) -> pd.DataFrame:
    """Latency records with status ok; refuses DynaBERT records of several checkpoints unless one is chosen.
    Columns machine_id and machine (a short label, see machine_labels; `roles` maps machine ids to role names)
    say which machine measured each row: rows of different machines are never pooled."""
    ok = [r for r in recs if r.kind == "latency" and r.status == "ok"]
    labels = machine_labels(ok, roles or {})
    order = {
        "this machine": 0,
        "reference (committed)": 1,
    }  # this machine's rows first, then the reference's
    ok = sorted(ok, key=lambda r: order.get((roles or {}).get(machine_id(r)), 2))
    rows = [
        {**r.to_dict(), "machine_id": machine_id(r), "machine": labels[machine_id(r)]} for r in ok
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
        }
        for r in recs
        if r.kind == "accuracy" and r.status == "ok" and (task is None or r.task == task)
    ]
    return pd.DataFrame(rows)


def run_label(r: records.Record) -> str:
    """A short legend label for a measured record: the training folder it came from."""
    if r.family == "dynabert":
        return "DynaBERT (this run)"
    path = Path(r.model_id)
    name = path.parent.name if path.name == "best" else path.name
    return f"{name} (this run)"


def cited_accuracy(task: str) -> pd.DataFrame:
    df = pd.read_csv(CITED)
    df = df[df.task == task].rename(columns={"value": "accuracy", "source": "accuracy_source"})
    df["measured"] = False
    df["accuracy_runtime"] = None  # cited numbers are of the model, never of one runtime's artifact
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
        "latency_ms_p50",
        "latency_ms_p90",
        "peak_rss_mb",
        "artifact_bytes",
        "precision",
        "width_mult",
        "depth_mult",
        "instructions_per_inference",
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
    rows = [r.to_dict() for r in records.read(path) if r.kind == "latency" and r.status == "ok"]
    df = pd.DataFrame(rows)
    if seq_len and not df.empty:
        df = df[df.seq_len == seq_len]
    if df.empty or df[value].isna().all():
        return None
    df = df[df[value].notna()]
    df["cell"] = df.model_id.where(df.family == "baseline", df.subnet_id)
    return df.pivot_table(index="cell", columns="runtime", values=value, aggfunc="last", sort=False)


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
