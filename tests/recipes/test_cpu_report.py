"""The measurement-core report from synthetic sweeps: stability, fidelity, throughput and earlier pairs."""

import json

import records
from dynabert.config import default_grid
from recipes.cpu_report import Settings, analyse, write

from factories import latency_record


def sweep_store(path, scale):
    for spec in default_grid():
        for runtime in ("onnxruntime", "litert"):
            cost = spec.width_mult * spec.depth_mult
            records.append(
                path,
                latency_record(
                    spec,
                    10 * cost * scale,
                    runtime=runtime,
                    params=int(1e7 * cost),
                    flops=int(2e9 * cost),
                    flops_with_attention=int(2.2e9 * cost),
                    latency_ms_p90=11 * cost * scale,
                    peak_rss_mb=50.0,
                    n_warmup=7,
                    artifact_bytes=2**20,
                    latency_cv=0.01,
                    cpu_model="Test CPU",
                    env={"cpu_affinity": [1], "logical_cpus": 2},
                ),
            )


def test_report_states_stability_throughput_and_earlier_pairs(tmp_path):
    sweep_store(tmp_path / "run1.jsonl", 1.0)
    sweep_store(tmp_path / "run2.jsonl", 1.02)  # every cell 2% slower the second time
    (tmp_path / "old").mkdir()
    sweep_store(tmp_path / "old" / "run1.jsonl", 1.0)
    sweep_store(tmp_path / "old" / "run2.jsonl", 1.10)
    (tmp_path / "train_throughput_m.json").write_text(
        json.dumps(
            {
                "benchmarks": [
                    {
                        "extra_info": {
                            "model_id": "m",
                            "batch_size": 32,
                            "seq_len": 64,
                            "threads": 1,
                            "stage": "width",
                            "n_subnetworks": 4,
                            "samples_per_s": 5.0,
                            "step_s": 6.4,
                            "teacher_forward_s": 0.6,
                            "subnet_fwd_bwd_s": {"a": 3.0, "b": 2.5},
                            "optimizer_step_s": 0.1,
                            "ratio_step_to_parts": 1.03,
                        }
                    }
                ]
            }
        )
    )
    tables = analyse(tmp_path / "run1.jsonl", tmp_path / "run2.jsonl", peak_gflops=100.0)
    assert (
        tables["cells"].fidelity.round(6) == 1.0
    ).all()  # latency scales exactly with FLOPs here
    settings = Settings("m", 128, 1, min_time_s=0.5, min_runs=20, warmup=7, processes=3)
    first = records.read(tmp_path / "run1.jsonl")[0]
    text = write(tmp_path, settings, tables, 100.0, {"run1": 60.0, "run2": 30.0}, first).read_text()
    assert "3 fresh process(es) per cell" in text and "--processes 3" in text
    assert (
        "each: 7 warm-up runs, then runs until both 20 runs and 0.5 s are reached" in text
    )  # settings, not literals
    assert (
        "on `Test CPU`, 1 thread(s), batch 1, seq 128" in text
        and "12 sub-networks x 2 runtimes" in text
    )
    assert "2048x2048 fp32, best of 2 s" in text and "this 2-CPU machine" in text
    assert "24 of 24 cells within 3%; median spread 2.0%" in text
    assert (
        "median ratio 1.020 (0 of 24 cells faster in run 2)" in text
        and "24 of 24 cells agree within 3%" in text
    )
    assert "| width | 4 | 5.00 | 6.40 | 0.60 | 5.50 | 0.10 | 1.03 |" in text
    assert "- `old/`: median spread 10.0%, max 10.0%, 0 of 24 cells within 3%" in text
