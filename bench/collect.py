"""pytest-benchmark JSON (`--benchmark-json`) -> results-store records, so bench.pareto reads either.

Each benchmark's extra_info holds the record fields (bench/test_latency.py); raw rounds come from stats.data
(seconds) and become samples_ms; machine_info's CPU goes into the record's cpu_model and env, and its
machine_identity (devices.machine) into the record's machine and machine_fingerprint.
"""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

from dynabert.records import Record


def is_benchmark_json(data: object) -> bool:
    return isinstance(data, dict) and "benchmarks" in data and "machine_info" in data


def unused_benchmarks(data: dict) -> list[str]:
    """Names of the benchmarks that carry no record fields (training throughput, session settings, ...): they
    measured something other than a sub-network's latency cell, so they become no record."""
    return [
        b.get("fullname", b.get("name", "?"))
        for b in data["benchmarks"]
        if "subnet_id" not in b.get("extra_info", {})
    ]


def records_from_benchmark_json(path: str | Path) -> list[Record]:
    """Records of every benchmark that carries record fields in extra_info; a clear error for foreign JSON."""
    path = Path(path)
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError) as err:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ValueError(f"{path}: not readable as JSON ({err})") from None
    if not is_benchmark_json(data):
        raise ValueError(
            f"{path}: not a pytest-benchmark JSON file (no 'benchmarks'/'machine_info'); "
            f"write one with pytest bench/ --benchmark-json FILE"
        )
    known = {f.name for f in fields(Record)}
    cpu = data["machine_info"].get("cpu", {}).get("brand_raw") or data["machine_info"].get(
        "processor"
    )
    out = []
    for bench in data["benchmarks"]:
        info = bench.get("extra_info", {})
        if "subnet_id" not in info:
            continue
        values = {k: v for k, v in info.items() if k in known}
        values.setdefault("samples_ms", [t * 1e3 for t in bench["stats"].get("data", [])])
        values.setdefault("n_runs", bench["stats"].get("rounds"))
        values.setdefault("cpu_model", cpu)
        values.setdefault("timestamp_utc", data.get("datetime"))
        values.setdefault("git_sha", (data.get("commit_info") or {}).get("id"))
        machine = data["machine_info"].get(
            "machine_identity"
        )  # devices.machine, written by bench/conftest.py
        if machine:
            values.setdefault("machine", machine)
            values.setdefault("machine_fingerprint", machine.get("fingerprint"))
        values["env"] = {
            "source": f"pytest-benchmark {data.get('version')}: {bench['fullname']}",
            "measured_in": info.get("measured_in"),
            **data["machine_info"].get("cpu_state", {}),
        }
        if info.get("session_options"):  # onnxruntime: the graph optimizations it was timed with
            values["env"]["session_options"] = info["session_options"]
        out.append(Record(**values))
    return out
