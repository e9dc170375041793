"""The sweep's records stay field-for-field what the sweep wrote before the device-target interface.

fixtures/records-before-targets.jsonl was written by the previous sweep (commit 6323c9c, `bench/sweep.py` with its
if-chain of targets) with the settings below: the code path of the default report's cells (onnxruntime, local
CPU, 1 thread, several interleaved processes, a DynaBERT grid and a baseline preset), plus torch, on the `tiny`
model and TinyBERT-4L at seq 16. A re-run must give the same fields and values, measurements and the machine aside.
"""

import json
from pathlib import Path

from bench.sweep import SweepConfig, run_sweep
from devices.local import cpu_info

GOLDEN = Path(__file__).with_name("fixtures") / "records-before-targets.jsonl"
MEASURED = {"latency_ms_p50", "latency_ms_p90", "latency_ms_p99", "latency_ms_mean", "latency_ms_std", "latency_cv",
            "first_inference_ms", "load_ms", "samples_ms", "peak_rss_mb"}
THIS_RUN = {"git_sha", "timestamp_utc", "cpu_model", "torch_version", "runtime_version"}  # machine and checkout
ENV_MEASURED = {"process_medians_ms", "cpu_affinity", "h2d_ms"}


def key(r: dict) -> tuple:
    return r["model_id"], r["subnet_id"], r["runtime"]


def test_rerun_matches_the_records_written_before_the_target_interface(tmp_path):
    before = {key(r): r for r in map(json.loads, GOLDEN.read_text().splitlines())}
    cfg = SweepConfig(models=["tiny"], baselines=("tinybert-4l-312d",), runtimes=("onnxruntime", "torch"),
                      widths=(1.0, 0.5), depths=(1.0,), seq_len=16, min_time_s=0, min_runs=3, warmup=1, processes=2,
                      task="sst2", results=str(tmp_path / "r.jsonl"), cache=tmp_path / "cache")
    after = {key(r.to_dict()): r.to_dict() for r in run_sweep(cfg)}
    assert set(after) == set(before)
    machine = cpu_info()
    for k, old in before.items():
        new = after[k]
        assert set(new) == set(old), k
        differ = {f: (old[f], new[f]) for f in old if f not in MEASURED | THIS_RUN | {"env"} and old[f] != new[f]}
        assert not differ, (k, differ)
        assert set(new["env"]) == set(old["env"]), k
        assert {f: new["env"][f] for f in new["env"] if f not in ENV_MEASURED} == \
            {f: machine[f] for f in new["env"] if f not in ENV_MEASURED}
        assert len(new["env"]["process_medians_ms"]) == 2 and new["n_runs"] == old["n_runs"] == 6
        assert new["cpu_model"] == machine["cpu_model"] and new["runtime_version"].split()[0] == \
            old["runtime_version"].split()[0]
