"""Options and shared state of the pytest-benchmark suite (`pytest bench/ --benchmark-json out.json`).

Fast default: the `tiny` model at seq 32 (a few minutes on 2 cores). The real thing:
BENCH_MODEL=minilm-l6 BENCH_SEQ_LEN=128 pytest bench/ --benchmark-json out.json  (or --bench-model/--bench-seq-len).
The SST-2 dev queries instead of random ids: BENCH_WORKLOAD=task:sst2:../shared/data/glue/SST-2 (docs/workloads.md).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def pytest_addoption(parser):
    group = parser.getgroup("dynabert-bench")
    group.addoption(
        "--bench-model",
        default=os.environ.get("BENCH_MODEL", "tiny"),
        help="preset or checkpoint whose sub-networks are measured (env BENCH_MODEL; default tiny)",
    )
    group.addoption(
        "--bench-seq-len",
        type=int,
        default=int(os.environ.get("BENCH_SEQ_LEN", "0")) or None,
        help="sequence length (env BENCH_SEQ_LEN; default 32 for tiny, 128 otherwise)",
    )
    group.addoption("--bench-threads", type=int, default=int(os.environ.get("BENCH_THREADS", "1")))
    group.addoption(
        "--bench-workload",
        default=os.environ.get("BENCH_WORKLOAD", "synthetic"),
        help="synthetic (random ids at --bench-seq-len), or task:NAME:DATA_DIR[:MAX_QUERIES] (the task's dev "
        "queries, one per round, each at its own length; static LiteRT padded to --bench-seq-len) "
        "(env BENCH_WORKLOAD; docs/workloads.md)",
    )
    group.addoption(
        "--bench-baselines",
        default=os.environ.get("BENCH_BASELINES", ""),
        help="comma-separated baseline presets to measure too (env BENCH_BASELINES)",
    )


def pytest_generate_tests(metafunc):
    if "bench_cell" in metafunc.fixturenames:
        from bench.cells import RUNTIMES
        from dynabert.config import SubnetSpec, default_grid

        opts = metafunc.config.option
        cells = [
            (opts.bench_model, "dynabert", spec, rt) for spec in default_grid() for rt in RUNTIMES
        ]
        cells += [
            (b, "baseline", SubnetSpec(), rt)
            for b in opts.bench_baselines.split(",")
            if b
            for rt in RUNTIMES
        ]
        metafunc.parametrize(
            "bench_cell", cells, ids=[f"{m}-{s.subnet_id}-{r}" for m, _, s, r in cells]
        )


@pytest.fixture(scope="session")
def bench_settings(request):
    opts = request.config.option
    seq = opts.bench_seq_len or (32 if opts.bench_model == "tiny" else 128)
    return {"seq_len": seq, "threads": opts.bench_threads, "workload": opts.bench_workload}


@pytest.fixture(scope="session")
def loaded_models():
    """Models loaded once per session, by name."""
    from bench.artifacts import load

    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = load(name)
        return cache[name]

    return get


def pytest_benchmark_update_machine_info(config, machine_info):
    """The run's provenance, gathered once per session (pytest-benchmark's machine_info): library versions, the
    CPU's frequency state and the machine's identity (records.machine), read once; bench/collect.py maps them
    onto every record's Provenance."""
    from devices.local import cpu_info
    from records.machine import package_versions, this_machine

    machine = this_machine()
    machine_info["libraries"] = package_versions(
        (
            "torch",
            "transformers",
            "onnxruntime",
            "onnx",
            "ai-edge-litert",
            "litert-torch",
            "openvino",
            "nncf",
            "executorch",
            "numpy",
        )
    )
    machine_info["cpu_state"] = cpu_info(machine)
    machine_info["machine_identity"] = machine.to_dict()


@pytest.hookimpl(
    trylast=True
)  # after pytest-benchmark has made its session (and switched itself off)
def pytest_configure(config):
    """`--benchmark-json FILE` when nothing will be timed is a usage error, not a green run that writes no FILE
    (pytest-benchmark#293): under pytest-xdist (`-n N`) pytest-benchmark switches itself off, as it does for
    --benchmark-disable and --benchmark-skip."""
    session = getattr(config, "_benchmarksession", None)
    if session is None or not session.json or os.environ.get("PYTEST_XDIST_WORKER"):
        return
    if session.disabled or session.skip:
        xdist = config.getoption("dist", "no") != "no"
        why = (
            "pytest-xdist (-n) is on, and pytest-benchmark times nothing in worker processes"
            if xdist
            else "--benchmark-disable or --benchmark-skip switches the timing off"
        )
        raise pytest.UsageError(
            f"--benchmark-json {session.json} would not be written: {why}. Run the suite without "
            f"{'-n' if xdist else 'that flag'} (it times one cell at a time on purpose: cells timed side by side "
            f"would share the cores)"
        )
