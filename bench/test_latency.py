"""Latency of every sub-network x runtime, measured by pytest-benchmark in this process.

extra_info carries a results-store record's key and measurement, built and checked by the sweep's constructors
(bench.cells: cell_key, base_for, with_artifact); bench/collect.py adds the run's provenance (machine_info).
With `--benchmark-disable` every cell runs once as a smoke test (export, numerics check, one inference);
`--benchmark-skip` skips them. The sweep (python -m bench.sweep) measures the same cells in fresh processes and
adds memory; this suite is the pytest-benchmark view of the same numbers.
"""

from __future__ import annotations

import numpy as np
import pytest

from bench.artifacts import torch_artifact
from bench.cells import RUNTIMES, Cell, base_for, cell_key, with_artifact
from bench.export import ensure_artifact
from bench.stats import summarize
from devices.inputs import read_input_spec
from devices.local import available
from devices.runner import load, make_inputs
from dynabert.flops import cost
from records import Provenance

pytestmark = pytest.mark.slow  # the measurement suite: exports and times every cell


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
    inputs = make_inputs(1, seq, shape.vocab_size, shape.type_vocab_size)
    try:
        out = benchmark.pedantic(run, args=(inputs,), rounds=20, warmup_rounds=5, iterations=1)
    finally:
        if runner_runtime == "torch":
            torch.set_num_threads(previous)
    assert np.isfinite(out).all()
    if (
        benchmark.disabled
    ):  # --benchmark-disable (or the plugin disabled itself): one run, a smoke test, no stats
        return
    stats = summarize([t * 1e3 for t in benchmark.stats.stats.data])
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
        measured_in="pytest process (pytest-benchmark pedantic, 5 warm-up, 20 rounds)",
    )
