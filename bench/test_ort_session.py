"""onnxruntime's default session on the plain export (what a user got before issue 18) against the artifact as
shipped (offline attention fusion, bench/ort_fusion.py; int8 quantized after it; opened with its
`<artifact>.session.json`: SkipLayerNormFusion disabled), plus the plain export with SkipLN disabled, for every
sub-network, fp32 and int8, by pytest-benchmark in this process. Compare a sub-network's groups' medians; the
interleaved table for MiniLM is made by `python -m recipes.ort_session_report` (reports/minilm-cpu/ort-session.md).

Fast default: tiny at seq 32. MiniLM: BENCH_MODEL=minilm-l6 BENCH_SEQ_LEN=128 pytest bench/test_ort_session.py
--benchmark-json out.json.
"""

from __future__ import annotations

import numpy as np
import pytest

from bench.export import ensure_artifact
from bench.session_compare import VARIANTS, plain_export
from devices.inputs import read_input_spec
from devices.runner import load, make_inputs
from dynabert.config import default_grid
from dynabert.flops import cost

pytestmark = pytest.mark.slow  # the measurement suite: exports and times every cell

CELLS = [
    (spec, fmt, v) for spec in default_grid() for fmt in ("onnx", "onnx-int8") for v in VARIANTS
]


@pytest.mark.bench
@pytest.mark.parametrize(
    "spec,fmt,variant", CELLS, ids=[f"{s.subnet_id}-{f}-{v}" for s, f, v in CELLS]
)
def test_ort_session(benchmark, request, spec, fmt, variant, bench_settings, loaded_models):
    seq, threads = bench_settings["seq_len"], bench_settings["threads"]
    model = loaded_models(request.config.option.bench_model)  # --bench-model / BENCH_MODEL
    fp32, _ = ensure_artifact(lambda: model.sub(spec), model.sha, spec.subnet_id, "onnx", seq)
    path, meta = ensure_artifact(lambda: model.sub(spec), model.sha, spec.subnet_id, fmt, seq)
    assert meta["ok"], f"{fmt} artifact failed its numerics check: {meta}"
    timed = path if variant.startswith("fused") else plain_export(path, fmt, meta, fp32)
    extras: dict = {}
    run, version = load(
        "onnxruntime", str(timed), threads, extras=extras, session=VARIANTS[variant]
    )
    shape = read_input_spec(timed)
    inputs = make_inputs(1, seq, shape.vocab_size, shape.type_vocab_size)
    out = benchmark.pedantic(run, args=(inputs,), rounds=20, warmup_rounds=5, iterations=1)
    assert np.isfinite(out).all()
    opts = extras["session_options"]
    assert opts["disabled_optimizers"] == (
        [] if variant == "export-default" else ["SkipLayerNormFusion"]
    )
    assert bool(opts.get("offline_optimizations")) == variant.startswith("fused")
    c = cost(model.dyna.full_size, spec, seq)
    benchmark.group = f"{model.name} {spec.subnet_id} {fmt} seq{seq} t{threads}"
    benchmark.extra_info.update(  # no subnet_id: a comparison, not a results-store record (bench/collect.py)
        model_id=model.name,
        checkpoint_sha=model.sha,
        subnet=spec.subnet_id,
        format=fmt,
        variant=variant,
        session_options=opts,
        runtime_version=version,
        seq_len=seq,
        threads=threads,
        batch_size=1,
        flops_with_attention=c.flops_with_attention,
        measured_in="pytest process (pytest-benchmark pedantic, 5 warm-up, 20 rounds)",
    )
