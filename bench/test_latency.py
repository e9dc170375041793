"""Latency of every sub-network x runtime, measured by pytest-benchmark in this process.

extra_info carries a results-store record's key and measurement, built and checked by the sweep's constructors
(bench.cells: cell_key, base_for, with_artifact); bench/collect.py adds the run's provenance (machine_info).
With `--benchmark-disable` every cell runs once as a smoke test (export, numerics check, one inference);
`--benchmark-skip` skips them. The sweep (python -m bench.sweep) measures the same cells in fresh processes and
adds memory; this suite is the pytest-benchmark view of the same numbers.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from bench.artifacts import torch_artifact
from bench.cells import RUNTIMES, Cell, base_for, cell_key, with_artifact
from bench.early_stopping import early_stopping
from bench.export import ensure_artifact
from bench.stats import summarize
from devices.inputs import read_input_spec
from devices.local import available
from devices.runner import load, make_inputs, padded_inputs
from dynabert.flops import cost
from records import Provenance

pytestmark = pytest.mark.slow  # the measurement suite: exports and times every cell


def bench_workload(spec: str, model_name: str, limits):
    """The suite's query set (None: synthetic) from `--bench-workload`: synthetic | task:NAME:DATA_DIR[:MAX]."""
    from bench.queries import WorkloadConfig, build_workload

    if spec == "synthetic":
        return None
    kind, _, rest = spec.partition(":")
    parts = rest.split(":")
    if kind != "task" or len(parts) not in (2, 3):
        raise ValueError(f"BENCH_WORKLOAD {spec!r}: synthetic or task:NAME:DATA_DIR[:MAX_QUERIES]")
    cfg = WorkloadConfig(
        kind="task",
        task=parts[0],
        data_dir=parts[1],
        max_queries=int(parts[2]) if parts[2:] else None,
    )
    return build_workload(cfg, model_name, limits)


@pytest.mark.bench
def test_latency(benchmark, bench_cell, bench_settings, loaded_models, tmp_path_factory):
    model_name, family, spec, runtime = bench_cell
    fmt, runner_runtime, precision = RUNTIMES[runtime]
    ok, why = available(runner_runtime)
    if not ok:
        pytest.skip(why)
    seq, threads = bench_settings["seq_len"], bench_settings["threads"]
    model = loaded_models(model_name)
    if fmt == "torch":
        path, meta = torch_artifact(
            model, spec, tmp_path_factory.getbasetemp().parent / "torch-artifacts"
        )
    else:
        path, meta = ensure_artifact(model.sub(spec), model.sha, spec.subnet_id, fmt, seq)
    assert meta["ok"], f"{fmt} artifact failed its numerics check: {meta}"
    if runner_runtime == "torch":
        import torch

        previous = torch.get_num_threads()
    extras: dict = {}
    run, version = load(
        runner_runtime, str(path), threads, extras=extras
    )  # onnxruntime: the shipped session
    shape = read_input_spec(path)  # the model's own vocabulary and type vocabulary
    workload = bench_workload(bench_settings["workload"], model_name, model.limits())
    if workload is None:
        units = [make_inputs(1, seq, shape.vocab_size, shape.type_vocab_size)]
    else:  # one query per round, each at its own length (static LiteRT: padded to its export length)
        payload = workload.payload()
        static = shape.seq_len
        if static is not None and max(workload.lengths) > static:
            pytest.skip(
                f"queries up to {max(workload.lengths)} tokens; the artifact holds {static}"
            )
        units = [
            padded_inputs(payload["ids"], payload["types"], [i], static or n, 1)
            for i, n in enumerate(workload.lengths)
        ]
    feed = itertools.cycle(units)
    try:
        out = benchmark.pedantic(
            run,
            setup=lambda: ((next(feed),), {}),
            rounds=max(20, len(units)),
            warmup_rounds=5,
            iterations=1,
        )
    finally:
        if runner_runtime == "torch":
            torch.set_num_threads(previous)
    assert np.isfinite(out).all()
    if (
        benchmark.disabled
    ):  # --benchmark-disable (or the plugin disabled itself): one run, a smoke test, no stats
        return
    stats_ms = [t * 1e3 for t in benchmark.stats.stats.data]
    stats = summarize(stats_ms)
    stats.pop("latency_ms_min")
    cell = Cell(model_name, family, spec, runtime, threads)
    key = cell_key(cell, model_name, model.sha, 1, seq, None, None)
    base = with_artifact(
        base_for(cost(model.dyna.full_size, spec, seq), cell, key, Provenance()), meta
    )
    rec = base.record(stats)  # the sweep's constructors: the same fields, checked the same way
    benchmark.group = f"{model_name} seq{seq} t{threads}"
    benchmark.extra_info.update(
        {
            k: v
            for k, v in {**rec.key.to_dict(), **rec.measurement.to_dict()}.items()
            if v is not None
        },
        runtime_version=version,
        session_options=extras.get("session_options"),
        measured_in="pytest process (pytest-benchmark pedantic, 5 warm-up, one round per query, "
        "20 at least)",
    )
    if workload is not None:
        benchmark.extra_info.update(
            workload=workload.key,
            workload_info=workload.info(),
            scenario="singlestream",
            shapes="dynamic" if shape.seq_len is None else "padded",
            buckets=None if shape.seq_len is None else [shape.seq_len],
            n_queries=len(units),
            throughput_qps=1e3 * len(stats_ms) / sum(stats_ms),
            latency_ms_p90_early_stop=(stop := early_stopping(stats_ms, 0.9)).estimate_ms,
            early_stop_queries_needed=stop.queries_needed,
        )
