"""pytest-benchmark JSON (`--benchmark-json`) -> results-store records, so bench.pareto reads either.

Each benchmark's extra_info holds the record fields (bench/test_latency.py); raw rounds come from stats.data
(seconds) and become samples_ms; machine_info (gathered once per run by bench/conftest.py) is the provenance of
every record: its CPU the cpu_model, its cpu_state the env, its machine_identity (records.machine) the machine
and the key's machine_fingerprint.
"""

from __future__ import annotations

import json
from dataclasses import fields, replace
from pathlib import Path

import records

KEY_FIELDS = tuple(f.name for f in fields(records.Key) if f.name != "machine_fingerprint")
MEASUREMENT_FIELDS = tuple(f.name for f in fields(records.Measurement))


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


def run_provenance(data: dict) -> records.Provenance:
    """The provenance every record of one pytest-benchmark run shares (machine_info and commit_info: gathered once
    per run by bench/conftest.py)."""
    info = data["machine_info"]
    machine = info.get("machine_identity")  # records.machine, written by bench/conftest.py
    return records.Provenance(
        git_sha=(data.get("commit_info") or {}).get("id"),
        torch_version=(info.get("libraries") or {}).get("torch"),
        cpu_model=info.get("cpu", {}).get("brand_raw") or info.get("processor"),
        timestamp_utc=data.get("datetime"),
        machine=machine,
        env=info.get("cpu_state", {}),
    )


def record_of(bench: dict, prov: records.Provenance, version: object) -> records.Record:
    """One benchmark's record: key and measurement from its extra_info (bench/test_latency.py fills them), the raw
    rounds (seconds) as samples_ms, the run's provenance with this benchmark's runtime version and source."""
    info = bench["extra_info"]
    key = records.Key(
        **{f: info[f] for f in KEY_FIELDS if f in info},
        machine_fingerprint=(prov.machine or {}).get("fingerprint"),
    )
    measured = {f: info[f] for f in MEASUREMENT_FIELDS if f in info}
    measured.setdefault("samples_ms", [t * 1e3 for t in bench["stats"].get("data", [])])
    measured.setdefault("n_runs", bench["stats"].get("rounds"))
    env = {
        "source": f"pytest-benchmark {version}: {bench['fullname']}",
        "measured_in": info.get("measured_in"),
        **prov.env,
    }
    if info.get("session_options"):  # onnxruntime: the graph optimizations it was timed with
        env["session_options"] = info["session_options"]
    return records.Record.of(
        key,
        records.Measurement(**measured),
        replace(prov, runtime_version=info.get("runtime_version"), env=env),
    )


def records_from_benchmark_json(path: str | Path) -> list[records.Record]:
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
    prov = run_provenance(data)
    return [
        record_of(b, prov, data.get("version"))
        for b in data["benchmarks"]
        if "subnet_id" in b.get("extra_info", {})
    ]
