"""One sweep cell from plan to record: its static record fields, its RunRequest, and its record from the target's
RunResults (several processes pooled). The sweep (bench/sweep.py) only orders cells; this is what a cell is.

Record fields (records/schema.py) from a RunResult: statistics of the raw samples (bench/stats.py), or a tool's
own aggregates (benchmark_model), or, on the emulated target, the exact instruction count with the emulated wall
time kept apart in env (never latency).
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
from dataclasses import dataclass, fields, replace
from pathlib import Path

import records
from bench.artifacts import model_size
from devices.local import available
from devices.request import RUNNER_EXTRA, RunRequest, RunResult
from dynabert.config import check_grid
from dynabert.subnet import AnySpec, check_subnets, unique_specs
from records.provenance import stamp

RUNTIMES: dict[
    str, tuple[str, str, str]
] = {  # name -> (artifact format, runner runtime, precision)
    "torch": ("torch", "torch", "fp32"),
    "onnxruntime": ("onnx", "onnxruntime", "fp32"),
    "onnxruntime-int8": ("onnx-int8", "onnxruntime", "int8"),
    "litert": ("tflite", "litert", "fp32"),
    "litert-int8": ("tflite-int8", "litert", "int8"),
    "openvino": ("openvino", "openvino", "fp32"),
    "openvino-int8": ("openvino-int8", "openvino", "int8"),
    "executorch": ("pte", "executorch", "fp32"),
    "executorch-int8": ("pte-int8", "executorch", "int8"),
}
# what a sweep times when --runtimes is not given: the five it always has; OpenVINO and ExecuTorch are asked for
# by name (docs/runtimes.md), so a default sweep's meaning and cost did not change when they arrived
DEFAULT_RUNTIMES = ("torch", "onnxruntime", "onnxruntime-int8", "litert", "litert-int8")
EXPORT_PACKAGES = {
    "openvino-int8": ("nncf", "nncf")
}  # runtime -> (module, pip name) its export needs too
KEY_FIELDS = frozenset(f.name for f in fields(records.Key))
ENV_FROM_RUNNER = (*RUNNER_EXTRA, "process_medians_ms")  # the runner's extras, and pool()'s spread


@dataclass
class Cell:
    model_id: str
    family: str
    spec: AnySpec  # a grid point or a per-layer sub-network
    runtime: str
    threads: int
    device: str = "local-cpu"
    batch: int | None = (
        None  # Offline query-set cells: this cell's batch (else the sweep's --batch)
    )


def model_grid(
    model: str,
    widths: tuple[float, ...],
    depths: tuple[float, ...],
    subnets: tuple = (),
    subnets_source: str = "the sub-networks given",
) -> list:
    """The sub-networks measured on `model`: `subnets` (checked against its architecture, naming `subnets_source`
    and the item; each once by canonical id, a note counting the duplicates dropped) or the widths x depths grid
    (config.check_grid, naming --widths/--depths). Reads config.json only: refused before anything is built."""

    size = model_size(model)
    if not subnets:
        grid, dropped = unique_specs(check_grid(widths, depths, size, model), size, depths)
        where = "--widths x --depths"
    else:
        grid, dropped = unique_specs(
            check_subnets(list(subnets), size, subnets_source), size, depths
        )
        where = subnets_source
    if dropped:
        print(
            f"note: {model}: {len(dropped)} duplicate sub-network(s) in {where} dropped, measured once by "
            f"canonical id: {'; '.join(dropped)}",
            file=sys.stderr,
        )
    return grid


@dataclass(frozen=True)
class Base:
    """What a cell's record holds before anything runs: its key, the measurement fields known statically (the
    sub-network's analytic cost, the artifact's kind and check) and the run's provenance."""

    key: records.Key
    known: dict
    prov: records.Provenance

    def record(self, measured: dict | None = None, **prov_changes) -> records.Record:
        """The cell's record: the known fields with `measured`, the provenance with `prov_changes`."""
        measurement = records.Measurement(**{**self.known, **(measured or {})})
        return records.Record.of(self.key, measurement, replace(self.prov, **prov_changes))


@dataclass
class Ready:
    """A cell whose artifact exists and passed its check: its record's known parts and its request."""

    base: Base
    request: RunRequest


def skip_reason(cell: Cell, target) -> str | None:
    """Why a cell is not run here: a runtime its device profile does not list, or one not installed (None: run)."""
    listed = target.profile.get("runtimes", list(RUNTIMES))
    if cell.runtime not in listed:
        return (
            f"device {cell.device!r} lists runtimes {', '.join(listed)} (its profile's `runtimes`)"
        )
    ok, why = available(RUNTIMES[cell.runtime][1])
    if ok and cell.runtime in EXPORT_PACKAGES:
        import importlib.util

        module, pip = EXPORT_PACKAGES[cell.runtime]
        if importlib.util.find_spec(module) is None:
            from devices.optional import install_hint

            return f"runtime {cell.runtime!r} is exported with the Python package {module} ({install_hint(pip)})"
    return why or None


def cell_key(
    cell: Cell,
    model_name: str,
    sha: str,
    batch: int,
    seq_len: int,
    task: str | None,
    fingerprint: str | None,
    workload: dict | None = None,
) -> records.Key:
    """The key of a cell's latency record on the machine with `fingerprint` (what resume compares); `workload`:
    the Key fields of a query set (bench.queries.query_fields), default synthetic."""
    return records.normal_key(
        records.Key(
            kind="latency",
            model_id=model_name,
            checkpoint_sha=sha,
            subnet_id=cell.spec.subnet_id,
            task=task,
            device=cell.device,
            runtime=cell.runtime,
            threads=cell.threads,
            batch_size=batch,
            seq_len=seq_len,
            machine_fingerprint=fingerprint,
            **{k: v for k, v in (workload or {}).items() if k in KEY_FIELDS},
        )
    )


def base_for(cost, cell: Cell, key: records.Key, prov: records.Provenance) -> Base:
    """A cell's Base: its key, its analytic cost times the batch and its artifact kind, the run's provenance."""
    fmt, _, precision = RUNTIMES[cell.runtime]
    known = {
        **records.cost_fields(cost, key.batch_size),
        "family": cell.family,
        "format": fmt.split("-")[0],
        "precision": precision,
    }
    return Base(key, known, prov)


def with_artifact(base: Base, meta: dict) -> Base | records.Record:
    """`base` with the artifact's fields, or the cell's error record when the artifact failed its numerics check."""
    base = replace(
        base,
        known={
            **base.known,
            "artifact_bytes": meta.get("bytes"),
            "export_max_abs_err": meta.get("max_abs_err"),
            "export_ok": meta["ok"],
            "quantization": meta.get("quantization"),
        },
    )
    if meta.get(
        "delegation"
    ):  # ExecuTorch: what XNNPACK runs of the program (bench/executorch_export.py)
        base = replace(
            base, prov=replace(base.prov, env={**base.prov.env, "delegation": meta["delegation"]})
        )
    if not meta["ok"]:
        return base.record(
            {
                "status": "error",
                "error": f"artifact failed its numerics check: max abs err {meta.get('max_abs_err')} > "
                f"tolerance {meta.get('tolerance')} {meta.get('error', '')}",
            }
        )
    return base


def _median_of(results: list[RunResult], key: str) -> float | None:
    values = [getattr(r, key) for r in results if getattr(r, key) is not None]
    return statistics.median(values) if values else None


def pool(results: list[RunResult]) -> RunResult:
    """One result from several processes: timed runs pooled; each process's median kept for the spread."""
    first = results[0]
    if (
        len(results) == 1
        or first.samples_ms is None
        or first.instructions_per_inference is not None
    ):
        return first
    rss = [r.peak_rss_increase_mb for r in results if r.peak_rss_increase_mb is not None]
    return replace(
        first,
        samples_ms=[s for r in results for s in r.samples_ms],
        load_ms=_median_of(results, "load_ms"),
        first_inference_ms=_median_of(results, "first_inference_ms"),
        peak_rss_increase_mb=max(rss) if rss else None,
        extra={
            **first.extra,
            "process_medians_ms": [statistics.median(r.samples_ms) for r in results],
        },
    )


def finish(ready: Ready, results: list[RunResult], x86_diff: float | None = None) -> records.Record:
    """The cell's record: refused -> skipped, any failed process -> error, else the pooled measurement."""
    base = ready.base
    bad = next((r for r in results if not r.ok), None)
    if bad is not None:
        return base.record({"status": "skipped" if bad.refused else "error", "error": bad.error})
    result = pool(results)
    shape = (base.key.batch_size, base.key.seq_len)
    if (
        result.batch is not None and (result.batch, result.seq_len) != shape
    ):  # a target ran another shape
        return base.record(
            {
                "status": "error",
                "error": f"the target ran batch {result.batch}, seq {result.seq_len}; the cell is batch "
                f"{shape[0]}, seq {shape[1]}",
            }
        )
    measured, env_extra = result_fields(result)
    env, cpu_model = {**base.prov.env, **env_extra}, base.prov.cpu_model
    if result.machine and result.machine != env.get("machine"):  # ran elsewhere (board, emulator)
        cpu_model = (
            f"emulated {result.machine} (qemu-user -cpu {env.get('cpu')}) on {cpu_model}"
            if result.instructions_per_inference is not None
            else f"{result.machine} ({base.key.device})"
        )
        if x86_diff is not None:
            env["arm_vs_x86_max_abs_diff"] = x86_diff
    return base.record(
        measured, runtime_version=result.runtime_version, cpu_model=cpu_model, env=env
    )


def result_fields(result: RunResult) -> tuple[dict, dict]:
    """(Measurement fields, env extras) of a successful result."""
    from bench.stats import summarize

    fields = {
        "load_ms": result.load_ms,
        "first_inference_ms": result.first_inference_ms,
        "n_warmup": result.n_warmup,
    }
    if (
        result.instructions_per_inference is not None
    ):  # emulated: exact count; wall time kept apart, not latency
        stats = summarize(result.samples_ms)
        fields.update(
            instructions_per_inference=result.instructions_per_inference,
            load_ms=None,
            first_inference_ms=None,
        )
        return fields, {
            "emulated_wall_ms_p50": stats["latency_ms_p50"],
            "emulated_runs": stats["n_runs"],
            "arm_vs_x86_max_abs_diff": None,
            **result.extra.get("emulated", {}),
        }
    if result.samples_ms is not None:
        stats = summarize(result.samples_ms)
        stats.pop("latency_ms_min")
        fields.update(stats, samples_ms=result.samples_ms, peak_rss_mb=result.peak_rss_increase_mb)
        if "queries" in result.extra:
            from bench.queries import result_fields as query_result_fields

            fields.update(query_result_fields(result.extra, result.samples_ms))
        return fields, {k: result.extra[k] for k in ENV_FROM_RUNNER if k in result.extra}
    agg = result.aggregates or {}
    fields.update(
        {
            k: agg.get(k)
            for k in (
                "latency_ms_p50",
                "latency_ms_mean",
                "latency_ms_std",
                "n_runs",
                "peak_rss_mb",
            )
        }
    )
    return fields, {
        "p5_ms": agg.get("latency_ms_p5"),
        "p95_ms": agg.get("latency_ms_p95"),
        "source": result.extra.get("source"),
    }


def other_machine_diff(request: RunRequest, result: RunResult) -> float | None:
    """Max abs difference between logits brought back from another architecture and this machine's, same artifact
    and inputs (None when the result ran here or brought nothing back)."""
    if (
        not result.ok
        or result.machine in (None, platform.machine())
        or not request.save_output
        or not Path(request.save_output).is_file()
    ):
        return None
    import numpy as np

    from devices.runner import load, make_inputs

    run, _ = load(request.runtime, str(request.artifact), 1)
    spec = request.inputs
    inputs = make_inputs(request.batch, request.seq_len, spec.vocab_size, spec.type_vocab_size)
    return float(np.abs(np.load(request.save_output) - run(inputs)).max())


def stamped(rec: records.Record) -> records.Record:
    """The record as written: timestamp_utc when its cell finished (not when the sweep started), and the 1-min load
    average then in env.load_avg_1min, so a claim of a quiet machine can be checked against each record."""
    load = {"load_avg_1min": round(os.getloadavg()[0], 2)} if hasattr(os, "getloadavg") else {}
    prov = stamp(rec.provenance, **load)
    return records.Record.of(rec.key, rec.measurement, prov)
