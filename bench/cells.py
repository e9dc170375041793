"""One sweep cell from plan to record: its static record fields, its RunRequest, and its record from the target's
RunResults (several processes pooled). The sweep (bench/sweep.py) only orders cells; this is what a cell is.

Record fields (dynabert/records.py) from a RunResult: statistics of the raw samples (bench/stats.py), or a tool's
own aggregates (benchmark_model), or, on the emulated target, the exact instruction count with the emulated wall
time kept apart in env (never latency).
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from devices.request import RunRequest, RunResult
from dynabert import records
from dynabert.subnet import AnySpec

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
EXPORT_PACKAGES = {
    "openvino-int8": ("nncf", "nncf")
}  # runtime -> (module, pip name) its export needs too
ENV_FROM_RUNNER = (
    "h2d_ms",
    "max_memory_allocated_mb",
    "gpu_memory_mb",
    "gpu_memory_source",
    "gpu",
    "gpu_index",
    "tf32",
    "cpu_affinity",
    "process_medians_ms",
    "session_options",
    "compile_properties",
    "executorch_threads",
    "queries",  # a query set's scenario, passes, bucket counts, tokens (bench/queries.py)
)


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
    from bench.artifacts import model_size
    from dynabert.config import check_grid
    from dynabert.subnet import check_subnets, unique_specs

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


@dataclass
class Ready:
    """A cell whose artifact exists and passed its check: its record's static fields and its request."""

    base: dict
    request: RunRequest


def skip_reason(cell: Cell, target) -> str | None:
    """Why a cell is not run here: a runtime its device profile does not list, or one not installed (None: run)."""
    from devices.local import available

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


def base_fields(
    cost,
    cell: Cell,
    model_name: str,
    sha: str,
    batch: int,
    seq_len: int,
    task: str | None,
    prov: dict,
    env: dict,
) -> dict:
    """The record fields known before anything runs (identity, artifact kind, where, FLOPs x batch, provenance)."""
    fmt, _, precision = RUNTIMES[cell.runtime]
    return dict(
        kind="latency",
        subnet_id=cell.spec.subnet_id,
        width_mult=cost.width_mult,
        depth_mult=cost.depth_mult,
        subnet=cost.subnet,
        model_id=model_name,
        checkpoint_sha=sha,
        n_layers=cost.n_layers,
        n_heads=cost.n_heads,
        ffn_dim=cost.ffn_dim,
        task=task,
        family=cell.family,
        format=fmt.split("-")[0],
        precision=precision,
        device=cell.device,
        runtime=cell.runtime,
        threads=cell.threads,
        batch_size=batch,
        seq_len=seq_len,
        params=cost.params_active,
        params_total=cost.params_total,
        flops=cost.flops_dense * batch,
        flops_with_attention=cost.flops_with_attention * batch,
        flops_source="analytic",
        env=env,
        **prov,
    )


def machine_fields() -> dict:
    """The measuring machine's identity for every record (and the cell key): its fingerprint and description."""
    from devices.machine import this_machine

    m = this_machine()
    return {"machine_fingerprint": m.fingerprint, "machine": m.to_dict()}


def export_fields(base: dict, meta: dict) -> dict | records.Record:
    """Base fields with the artifact's, or the cell's error record when the artifact failed its numerics check."""
    base = {
        **base,
        "artifact_bytes": meta.get("bytes"),
        "export_max_abs_err": meta.get("max_abs_err"),
        "export_ok": meta["ok"],
        "quantization": meta.get("quantization"),
    }
    if meta.get(
        "delegation"
    ):  # ExecuTorch: what XNNPACK runs of the program (bench/executorch_export.py)
        base["env"] = {**base["env"], "delegation": meta["delegation"]}
    if not meta["ok"]:
        return records.Record(
            **base,
            status="error",
            error=f"artifact failed its numerics check: max abs err "
            f"{meta.get('max_abs_err')} > tolerance {meta.get('tolerance')} {meta.get('error', '')}",
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
        return records.Record(**base, status="skipped" if bad.refused else "error", error=bad.error)
    result = pool(results)
    shape = (base["batch_size"], base["seq_len"])
    if (
        result.batch is not None and (result.batch, result.seq_len) != shape
    ):  # a target ran another shape
        return records.Record(
            **base,
            status="error",
            error=f"the target ran batch {result.batch}, seq "
            f"{result.seq_len}; the cell is batch {shape[0]}, seq {shape[1]}",
        )
    fields, env_extra = result_fields(result)
    env = {**base["env"], **env_extra}
    if result.machine and result.machine != env.get("machine"):  # ran elsewhere (board, emulator)
        fields["cpu_model"] = (
            f"emulated {result.machine} (qemu-user -cpu {env.get('cpu')}) on {base['cpu_model']}"
            if result.instructions_per_inference is not None
            else f"{result.machine} ({base['device']})"
        )
        if x86_diff is not None:
            env["arm_vs_x86_max_abs_diff"] = x86_diff
    return records.Record(**{**base, **fields, "env": env})


def result_fields(result: RunResult) -> tuple[dict, dict]:
    """(record fields, env extras) of a successful result."""
    from bench.stats import summarize

    fields = {
        "runtime_version": result.runtime_version,
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
    import datetime

    now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    load = {"load_avg_1min": round(os.getloadavg()[0], 2)} if hasattr(os, "getloadavg") else {}
    return replace(rec, timestamp_utc=now, env={**(rec.env or {}), **load})
