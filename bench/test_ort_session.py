"""onnxruntime's default session on the project's export against the settings shipped beside it
(`<artifact>.session.json`: SkipLayerNormFusion disabled), for every sub-network, fp32 and int8, by
pytest-benchmark in this process. Compare the two groups' medians per sub-network; the interleaved table for
MiniLM is made by `python -m recipes.ort_session_report` (reports/minilm-cpu/ort-session.md).

Fast default: tiny at seq 32. MiniLM: BENCH_MODEL=minilm-l6 BENCH_SEQ_LEN=128 pytest bench/test_ort_session.py
--benchmark-json out.json.
"""

from __future__ import annotations

import numpy as np
import pytest

from bench.export import ensure_artifact
from bench.session_compare import MODES
from devices.inputs import read_input_spec
from devices.runner import load, make_inputs
from dynabert.config import default_grid
from dynabert.flops import cost

CELLS = [(spec, fmt, mode) for spec in default_grid() for fmt in ("onnx", "onnx-int8") for mode in MODES]


@pytest.mark.bench
@pytest.mark.parametrize("spec,fmt,mode", CELLS, ids=[f"{s.subnet_id}-{f}-{m}" for s, f, m in CELLS])
def test_ort_session(benchmark, request, spec, fmt, mode, bench_settings, loaded_models):
    seq, threads = bench_settings["seq_len"], bench_settings["threads"]
    model = loaded_models(request.config.option.bench_model)  # --bench-model / BENCH_MODEL
    path, meta = ensure_artifact(lambda: model.sub(spec), model.sha, spec.subnet_id, fmt, seq)
    assert meta["ok"], f"{fmt} artifact failed its numerics check: {meta}"
    extras: dict = {}
    run, version = load("onnxruntime", str(path), threads, extras=extras, session=mode)
    shape = read_input_spec(path)
    inputs = make_inputs(1, seq, shape.vocab_size, shape.type_vocab_size)
    out = benchmark.pedantic(run, args=(inputs,), rounds=20, warmup_rounds=5, iterations=1)
    assert np.isfinite(out).all()
    assert extras["session_options"]["disabled_optimizers"] == ([] if mode == "default" else
                                                                meta["session_settings"]["disabled_optimizers"])
    c = cost(model.dyna.full_size, spec, seq)
    benchmark.group = f"{model.name} {spec.subnet_id} {fmt} seq{seq} t{threads}"
    benchmark.extra_info.update(  # no subnet_id: a comparison, not a results-store record (bench/collect.py)
        model_id=model.name, checkpoint_sha=model.sha, subnet=spec.subnet_id, format=fmt,
        session=mode, session_options=extras["session_options"], runtime_version=version, seq_len=seq,
        threads=threads, batch_size=1, flops_with_attention=c.flops_with_attention,
        measured_in="pytest process (pytest-benchmark pedantic, 5 warm-up, 20 rounds)")

