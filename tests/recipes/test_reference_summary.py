"""The reference run's README states what the records and the stages' summaries hold, not literals."""

import json

import records
from dynabert.config import default_grid
from recipes.reference_summary import write

from factories import accuracy_record, latency_record

SPLIT = "dev (data/SST-2/dev.tsv, 500 examples)"


def accuracy(model_id, spec, family, value, flops, runtime=None):
    return accuracy_record(
        spec,
        value,
        model_id=model_id,
        family=family,
        split=SPLIT,
        flops=flops,
        runtime=runtime,
        export_ok=True if runtime else None,
    )


def latency(model_id, spec, family, runtime, ms):
    return latency_record(
        spec,
        ms,
        model_id=model_id,
        task="sst2",
        family=family,
        runtime=runtime,
        threads=2,
        seq_len=64,
        cpu_model="Test CPU",
        env={"logical_cpus": 4, "machine": "x86_64", "process_medians_ms": [ms] * 3},
    )


def reference_inputs(tmp_path):
    """A finished reference run's report folder and training folders, synthetic: (out, runs, store, small)."""
    out, runs = tmp_path / "rep", tmp_path / "runs"
    store = out / "records.jsonl"
    for spec in default_grid():
        cost = spec.width_mult * spec.depth_mult
        records.append(
            store, accuracy("runs/depth", spec, "dynabert", 0.85 + 0.05 * cost, int(3e9 * cost))
        )
    full, small = default_grid()[0], [s for s in default_grid() if s.subnet_id == "w0.25-d0.50"][0]
    records.append(store, accuracy("runs/teacher", full, "baseline", 0.90, int(3e9)))
    records.append(
        store, accuracy("runs/depth", small, "dynabert", 0.86, int(4e8), runtime="litert-int8")
    )
    for runtime in ("onnxruntime-int8", "litert-int8"):
        records.append(store, latency("runs/depth", small, "dynabert", runtime, 2.0))
        records.append(store, latency("runs/teacher", full, "baseline", runtime, 10.0))
    (out / "steps.json").write_text(
        json.dumps(
            {"teacher": {"seconds": 60, "command": "/opt/venv/bin/python3.11 -m dynabert train"}}
        )
    )
    config = {
        "learning_rate": 1e-4,
        "batch_size": 16,
        "epochs": 1.0,
        "width_lambda1": 1.0,
        "width_lambda2": 0.1,
        "depth_lambda1": 1.0,
        "depth_lambda2": 1.0,
    }
    records.append(
        store, accuracy("runs/fixed-w0.25-d0.50", small, "fixed-control", 0.87, int(4e8))
    )
    for stage, n in (
        ("teacher", 6000),
        ("width", 3000),
        ("depth", 2000),
        ("baseline-distilbert", 5000),
        ("fixed-w0.25-d0.50", 5000),
    ):
        (runs / stage).mkdir(parents=True)
        (runs / stage / "summary.json").write_text(
            json.dumps(
                {
                    "train_examples": n,
                    "steps": n // 16,
                    "config": config,
                    "train_cpu_seconds": n * 0.72,
                    "batch_size_per_process": 16,
                    "subnets_per_step": 4 if stage == "depth" else 1,
                    "subnets_in_grid": 12 if stage == "depth" else 1,
                }
            )
        )
    return out, runs, store, small


def test_readme_prose_comes_from_records_and_summaries(tmp_path):
    out, runs, store, small = reference_inputs(tmp_path)
    from types import (
        SimpleNamespace,
    )  # a per-layer row (search) and a re-evaluation are not extra grid sizes

    records.append(
        store,
        accuracy(
            "runs/depth",
            SimpleNamespace(subnet_id="h3.3-f384.384", width_mult=0.25, depth_mult=0.5),
            "dynabert",
            0.99,
            int(4e8),
        ),
    )
    records.append(
        store, accuracy("runs/depth", small, "dynabert", 0.85 + 0.05 * 0.125, int(3e9 * 0.125))
    )
    text = write(out, runs).read_text()
    assert "h3.3-f384" not in text and "99.00" not in text
    assert (
        "--depth-lr 0.0001 --subnets-per-step 4" in text
        and "(125 steps, 4 of 12 sub-networks per step" in text
    )
    assert "4,992 example passes each (as stages width + depth together: 4,992)" in text
    assert "**1.00 CPU core-hours** for all 12 sub-networks" in text  # (3000 + 2000) x 0.72 s
    assert "fixed-size control w0.25-d0.50 (87.00%) vs DynaBERT w0.25-d0.50 (85.62%, -1.38)" in text
    assert "Not run yet: `python -m recipes.equal_compute" in text
    assert (
        "train 6,000, dev 500" in text
        and "(500 examples)" in text
        and "over the 500 dev examples" in text
    )
    assert "--width-samples 3000 --depth-samples 2000 --depth-lr 0.0001" in text
    assert "Machine: 4-CPU x86_64 (Test CPU)" in text and "fit a 4-CPU x86_64 machine" in text
    assert (
        "2 thread(s), batch 1, seq 64, local CPU" in text
        and "figures/sst2_local-cpu_litert-int8_t2.png" in text
    )
    assert "3 fresh process(es) per cell" in text and "lambda2=0.1" in text
    assert "median 10.00 ms (5.0x the smallest sub-network)" in text
    assert (
        "| teacher | 1.0 |" in text and "# teacher\npython -m dynabert train\n" in text
    )  # pasteable, whole
    assert "/opt/venv" not in text  # no absolute paths


def test_target_lines_ask_whether_a_baseline_dominates_the_front_and_compare_controls_at_equal_size():
    """Issue 19's numbers: at the baselines' 1.36 GFLOPs DynaBERT (0.75, 0.75) 87.7% answers TinyBERT-style 87.2%
    and DistilBERT-style 86.0% although the 0.34-GFLOP (0.25, 0.5) is below both; a baseline cheaper than every
    sub-network, or more accurate than all cheaper ones, dominates; controls are compared at their own size."""
    import pandas as pd

    from recipes.reference_summary import target_lines

    grid = {s.subnet_id: s for s in default_grid()}
    acc_of = {"w1.00-d1.00": 89.9, "w0.75-d0.75": 87.7, "w0.50-d0.50": 84.0, "w0.25-d0.50": 82.0}
    rows = [
        dict(
            who="depth",
            family="dynabert",
            subnet_id=k,
            accuracy=acc_of.get(k, 80.0),
            flops=5.44e9 * s.width_mult * s.depth_mult,
        )
        for k, s in grid.items()
    ]
    rows += [
        dict(
            who="teacher", family="baseline", subnet_id="w1.00-d1.00", accuracy=90.0, flops=5.44e9
        ),
        dict(
            who="baseline-distilbert",
            family="baseline",
            subnet_id="w1.00-d1.00",
            accuracy=86.0,
            flops=3.1e9,
        ),
        dict(
            who="baseline-tinybert",
            family="baseline",
            subnet_id="w1.00-d1.00",
            accuracy=87.2,
            flops=3.1e9,
        ),
        dict(
            who="baseline-tiny",
            family="baseline",
            subnet_id="w1.00-d1.00",
            accuracy=70.0,
            flops=1e8,
        ),
        dict(
            who="baseline-strong",
            family="baseline",
            subnet_id="w1.00-d1.00",
            accuracy=88.0,
            flops=3.1e9,
        ),
        dict(
            who="fixed-w0.25-d0.50",
            family="fixed-control",
            subnet_id="w0.25-d0.50",
            accuracy=82.4,
            flops=0,
        ),
        dict(
            who="fixed-w0.50-d0.50",
            family="fixed-control",
            subnet_id="w0.50-d0.50",
            accuracy=85.0,
            flops=0,
        ),
    ]
    acc = pd.DataFrame(rows)
    dyn = acc[acc.family == "dynabert"].set_index("subnet_id")
    text = "\n".join(target_lines(acc, dyn, 90.0))
    assert "baseline-distilbert (86.00%, 3.10 GFLOPs) does not dominate" in text
    assert "best such is w0.75-d0.75 87.70% at 3.06 GFLOPs (+1.70) -> met" in text
    assert "best such is w0.75-d0.75 87.70% at 3.06 GFLOPs (+0.50) -> met" in text  # TinyBERT-style
    assert "(-0.30) -> missed: it dominates" in text  # baseline-strong 88.0
    assert (
        "baseline-tiny (70.00%, 0.10 GFLOPs) does not dominate the DynaBERT front: no DynaBERT sub-network"
        in text
    )
    assert "teacher (" not in text.split("within 4 points")[1]  # the teacher is no baseline to beat
    assert (
        "fixed-size control w0.25-d0.50 (82.40%) vs DynaBERT w0.25-d0.50 (82.00%, -0.40): DynaBERT within "
        "0.5 points -> met" in text
    )
    assert "fixed-size control w0.50-d0.50 (85.00%) vs DynaBERT w0.50-d0.50 (84.00%, -1.00)" in text
    assert text.endswith("-> missed")


def test_table1_takes_grid_rows_by_id_never_a_per_layer_row_with_the_same_summary(tmp_path):
    """A per-layer sub-network whose summary width_mult/depth_mult is (0.5, 0.5) used to be averaged into the grid
    point (0.5, 0.5)'s Table 1 cell (pivot on width_mult x depth_mult)."""
    from dataclasses import replace

    from dynabert.config import ARCHITECTURES, SubnetSpec
    from dynabert.subnet import LayerwiseSpec, layer_plan, summary_mults

    heads = (9, 9, 3, 3, 6, 6, 0, 0, 0, 0, 0, 0)
    spec = LayerwiseSpec(heads, tuple(256 * h for h in heads))
    assert summary_mults(
        layer_plan(spec, ARCHITECTURES["bert-base"]), ARCHITECTURES["bert-base"]
    ) == (0.5, 0.5)
    out, runs = tmp_path / "rep", tmp_path / "runs"
    store = out / "records.jsonl"
    for s in default_grid():
        records.append(
            store,
            accuracy("runs/depth", s, "dynabert", 0.80, int(3e9 * s.width_mult * s.depth_mult)),
        )
    records.append(
        store,
        replace(
            accuracy("runs/depth", SubnetSpec(0.5, 0.5), "dynabert", 0.40, int(7e8)),
            subnet_id=spec.subnet_id,
            subnet=spec.to_json(),
        ),
    )
    records.append(store, accuracy("runs/teacher", default_grid()[0], "baseline", 0.90, int(3e9)))
    (out / "steps.json").write_text(
        json.dumps({"teacher": {"seconds": 60, "command": "python -m dynabert train"}})
    )
    config = {
        "learning_rate": 1e-4,
        "batch_size": 16,
        "epochs": 1.0,
        "width_lambda1": 1.0,
        "width_lambda2": 0.1,
        "depth_lambda1": 1.0,
        "depth_lambda2": 1.0,
    }
    for stage in ("teacher", "width", "depth", "baseline-distilbert"):
        (runs / stage).mkdir(parents=True)
        (runs / stage / "summary.json").write_text(
            json.dumps(
                {"train_examples": 100, "steps": 7, "config": config, "batch_size_per_process": 16}
            )
        )
    text = write(out, runs).read_text()
    row = next(line for line in text.splitlines() if line.startswith("| width 0.5 "))
    assert [c.strip() for c in row.split("|")[1:-1]] == ["width 0.5", "80.0", "80.0", "80.0"], (
        row
    )  # not 60.0


def test_throughput_section_reads_the_committed_benchmark_and_says_where_it_ran(tmp_path):
    from recipes.reference_summary import RATIO_BENCH, throughput_lines

    text = "\n".join(throughput_lines())
    bench = json.loads(RATIO_BENCH.read_text())
    e = bench["benchmarks"][0]["extra_info"]
    assert (
        f"**{e['ratio_k_to_all']:.3f}x**" in text
        and bench["machine_info"]["cpu"]["brand_raw"] in text
    )
    assert f"batch {e['batch_size']}, seq {e['seq_len']}" in text and "target <= 0.4" in text
    when = bench["datetime"][:16].replace("T", " ")
    assert (
        f"Measured {when} UTC on {bench['machine_info']['cpu']['count']}-CPU" in text
        and "{" not in text
    )
    assert "Not measured: no missing.json" in "\n".join(throughput_lines(tmp_path / "missing.json"))


def test_what_the_readme_needs_is_named_with_the_step_that_makes_it(tmp_path, capsys):
    """Missing inputs are refused before the README is written, naming the file and the reference_run step."""
    import shutil

    from recipes.reference_summary import main

    def refused(message, out="rep", runs="runs"):
        assert main(["--out", str(tmp_path / out), "--runs", str(tmp_path / runs)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and message in err, err
        assert not (tmp_path / "rep" / "README.md").exists()

    refused(
        "--out " + (tmp_path / "empty").as_posix() + ": no such folder", out="empty", runs="nope"
    )
    out, runs, store, small = reference_inputs(tmp_path)
    lines = store.read_text().splitlines()
    steps = (out / "steps.json").read_text()
    (out / "steps.json").unlink()
    refused("steps.json not found: python -m recipes.reference_run logs each step")
    (out / "steps.json").write_text(json.dumps({"teacher": {"seconds": 60}}))
    refused("steps.json: step 'teacher' has no command (text)")
    (out / "steps.json").write_text(steps)
    refused(
        "nope/teacher/summary.json not found: step 'teacher' of python -m recipes.reference_run",
        runs="nope",
    )
    shutil.rmtree(runs / "baseline-distilbert")
    refused(
        "baseline-distilbert/summary.json not found: step 'baseline-distilbert' of python -m "
        "recipes.reference_run"
    )
    (runs / "baseline-distilbert").mkdir()
    (runs / "baseline-distilbert" / "summary.json").write_text(
        (runs / "width" / "summary.json").read_text()
    )
    store.write_text(
        "\n".join(line for line in lines if "runs/teacher" not in line or "accuracy" not in line)
        + "\n"
    )
    refused("holds no accuracy record of the teacher: step 'evaluate-teacher'")
    store.write_text("\n".join(line for line in lines if '"w0.25-d0.50"' not in line) + "\n")
    refused("holds no DynaBERT accuracy record of w0.25-d0.50: step 'evaluate-dynabert'")
    store.unlink()
    refused(
        "records.jsonl not found: the evaluate-* steps of python -m recipes.reference_run write it"
    )
    store.write_text("\n".join(lines) + "\n")
    assert main(["--out", str(out), "--runs", str(runs)]) == 0 and (out / "README.md").is_file()


def test_dev_split_reads_the_artifact_records_label_too():
    """The artifact-accuracy table says how many dev examples its artifacts ran (it said 0 for artifact records)."""
    import pandas as pd

    from recipes.reference_summary import dev_split

    art = pd.DataFrame(
        {"split": ["dev (../data/SST-2/dev.tsv, 872 examples; onnxruntime artifact)"]}
    )
    assert dev_split(art) == ("../data/SST-2/dev.tsv", 872)
    assert dev_split(pd.DataFrame({"split": ["dev (d/dev.tsv, 12 examples)"]})) == ("d/dev.tsv", 12)


def test_hand_notes_beside_the_run_are_kept_in_the_readme(tmp_path):
    from recipes.reference_summary import run_notes

    assert run_notes(tmp_path) == []
    (tmp_path / "notes.md").write_text("int8 re-timed later.\n")
    assert run_notes(tmp_path) == [
        "",
        "## Notes on this run (notes.md)",
        "",
        "int8 re-timed later.",
    ]
