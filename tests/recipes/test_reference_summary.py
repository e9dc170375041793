"""The reference run's README states what the records and the stages' summaries hold, not literals."""

import json

from dynabert import records
from dynabert.config import default_grid
from dynabert.records import Record
from recipes.reference_summary import write

SPLIT = "dev (data/SST-2/dev.tsv, 500 examples)"


def accuracy(model_id, spec, family, value, flops, runtime=None):
    return Record(kind="accuracy", subnet_id=spec.subnet_id, width_mult=spec.width_mult, depth_mult=spec.depth_mult,
                  model_id=model_id, checkpoint_sha="s", task="sst2", family=family, metric_name="accuracy",
                  metric_value=value, split=SPLIT, flops=flops, runtime=runtime, export_ok=True if runtime else None)


def latency(model_id, spec, family, runtime, ms):
    return Record(kind="latency", subnet_id=spec.subnet_id, width_mult=spec.width_mult, depth_mult=spec.depth_mult,
                  model_id=model_id, checkpoint_sha="s", task="sst2", family=family, device="local-cpu",
                  runtime=runtime, threads=2, batch_size=1, seq_len=64, latency_ms_p50=ms, cpu_model="Test CPU",
                  env={"logical_cpus": 4, "machine": "x86_64", "process_medians_ms": [ms] * 3})


def test_readme_prose_comes_from_records_and_summaries(tmp_path):
    out, runs = tmp_path / "rep", tmp_path / "runs"
    store = out / "records.jsonl"
    for spec in default_grid():
        cost = spec.width_mult * spec.depth_mult
        records.append(store, accuracy("runs/depth", spec, "dynabert", 0.85 + 0.05 * cost, int(3e9 * cost)))
    full, small = default_grid()[0], [s for s in default_grid() if s.subnet_id == "w0.25-d0.50"][0]
    records.append(store, accuracy("runs/teacher", full, "baseline", 0.90, int(3e9)))
    records.append(store, accuracy("runs/depth", small, "dynabert", 0.86, int(4e8), runtime="litert-int8"))
    for runtime in ("onnxruntime-int8", "litert-int8"):
        records.append(store, latency("runs/depth", small, "dynabert", runtime, 2.0))
        records.append(store, latency("runs/teacher", full, "baseline", runtime, 10.0))
    (out / "steps.json").write_text(json.dumps({"teacher": {"seconds": 60, "command": "/opt/venv/bin/python3.11 -m dynabert train"}}))
    config = {"learning_rate": 1e-4, "batch_size": 16, "epochs": 1.0, "width_lambda1": 1.0, "width_lambda2": 0.1,
              "depth_lambda1": 1.0, "depth_lambda2": 1.0}
    for stage, n in (("teacher", 6000), ("width", 3000), ("depth", 2000), ("baseline-distilbert", 5000)):
        (runs / stage).mkdir(parents=True)
        (runs / stage / "summary.json").write_text(json.dumps({"train_examples": n, "steps": n // 16,
                                                               "config": config}))
    text = write(out, runs).read_text()
    assert "train 6,000, dev 500" in text and "(500 examples)" in text and "over the 500 dev examples" in text
    assert "--width-samples 3000 --depth-samples 2000 --depth-lr 0.0001" in text
    assert "Machine: 4-CPU x86_64 (Test CPU)" in text and "fit a 4-CPU x86_64 machine" in text
    assert "2 thread(s), batch 1, seq 64, local CPU" in text and "figures/sst2_local-cpu_litert-int8_t2.png" in text
    assert "3 fresh process(es) per cell" in text and "lambda2=0.1" in text
    assert "median 10.00 ms (5.0x the smallest sub-network)" in text
    assert "| teacher | 1.0 |" in text and "# teacher\npython -m dynabert train\n" in text  # pasteable, whole
    assert "/opt/venv" not in text  # no absolute paths
