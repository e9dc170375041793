"""Workloads (docs/workloads.md): LoadGen's early-stopping estimate against its published formula, the bucketing
and Offline batching rules, the query-set checks, and the sweep refusing bad inputs by name before timing."""

from __future__ import annotations

import json
from fractions import Fraction
from math import comb
from pathlib import Path

import numpy as np
import pytest

from bench.early_stopping import early_stopping, min_passing, odds
from bench.workload import check_buckets, read_lengths
from devices.runner import bucket_for, offline_batches, padded_inputs

WORDS = "the film is a quiet , moving portrait of grief and hope that never quite finds its voice".split()


@pytest.fixture
def sst2(tmp_path) -> Path:
    """An SST-2-format folder whose dev.tsv holds 12 sentences of 3 to 45 words."""
    folder = tmp_path / "SST-2"
    folder.mkdir()
    rows = [" ".join((WORDS * 3)[: 3 + 4 * i]) + f"\t{i % 2}" for i in range(12)]
    (folder / "dev.tsv").write_text("sentence\tlabel\n" + "\n".join(rows) + "\n")
    return folder


def exact_odds(h: int, t: int, p: Fraction) -> Fraction:
    """LoadGen's formula as its comment writes it: Sum[Binomial[h + t, x] p^(h + t - x) (1 - p)^x, {x, 0, t}]."""
    return sum(comb(h + t, x) * p ** (h + t - x) * (1 - p) ** x for x in range(t + 1))


def exact_min_passing(t: int, p: Fraction, c: Fraction = Fraction(99, 100)) -> int:
    h = 1
    while exact_odds(h, t, p) >= 1 - c:
        h += 1
    return h


@pytest.mark.parametrize("t", [0, 1, 2, 5, 20])
@pytest.mark.parametrize("p", ["9/10", "99/100"])
def test_min_passing_matches_the_published_binomial_formula(t, p):
    p = Fraction(p)
    assert min_passing(t, float(p)) == exact_min_passing(t, p)
    assert odds(10, t, float(p)) == pytest.approx(float(exact_odds(10, t, p)), rel=1e-9)


def test_early_stopping_needs_64_queries_for_p90_as_loadgen_says():
    """p90 at 99 % confidence: h_min = 63 under-latency queries with one over, so at least 64 queries."""
    assert min_passing(1, 0.9) == 63
    few = early_stopping([1.0] * 63, 0.9)
    assert few.estimate_ms is None and few.queries_needed == 64


def loadgen_estimate(samples: list[float], p: Fraction) -> float:
    """results.cc SingleStream, written from the formula with exact arithmetic."""
    n = len(samples)
    t = 1
    for i in range(2, n + 1):
        if n < exact_min_passing(i, p) + i:
            t = i - 1
            break
    return sorted(samples)[n - t]


@pytest.mark.parametrize("n", [64, 200, 500])
def test_early_stopping_estimate_is_loadgen_order_statistic(n):
    samples = list(np.random.default_rng(n).permutation(np.arange(1, n + 1)).astype(float))
    got = early_stopping(samples, 0.9)
    assert got.estimate_ms == loadgen_estimate(samples, Fraction(9, 10))
    assert got.estimate_ms >= np.percentile(samples, 90)  # the estimate is conservative


def test_each_query_runs_on_the_smallest_bucket_that_fits():
    buckets = [16, 32, 64]
    assert [bucket_for(n, buckets) for n in (2, 16, 17, 32, 33, 64, 65)] == [
        16,
        16,
        32,
        32,
        64,
        64,
        None,
    ]


def test_offline_batches_sort_by_length_and_pad_per_batch():
    lengths = [5, 3, 9, 3, 7]
    assert offline_batches(lengths, 2) == [[1, 3], [0, 4], [2]]
    ids = [[101] * n for n in lengths]
    types = [[0] * n for n in lengths]
    x = padded_inputs(ids, types, [0, 4], 7, 2)  # a batch padded to its longest member
    assert x["input_ids"].shape == (2, 7)
    assert x["attention_mask"].sum(axis=1).tolist() == [5, 7]
    static = padded_inputs(ids, types, [2], 16, 4)  # a short last batch on a static batch of 4
    assert static["input_ids"].shape == (4, 16) and static["attention_mask"][:, :9].all()


@pytest.mark.parametrize(
    "buckets, word",
    [((32, 16, 64), "increasing order"), ((16, 16), "increasing order"), ((16, 1024), "beyond")],
)
def test_bad_buckets_are_refused_by_name(buckets, word):
    with pytest.raises(ValueError, match=word):
        check_buckets(buckets, 512, "minilm-l6")


@pytest.mark.parametrize(
    "text, word", [("12\n0\n", ":2: length 0"), ("-3", "length -3"), ("600", "600")]
)
def test_lengths_file_with_bad_lengths_is_refused_naming_the_line(tmp_path, text, word):
    f = tmp_path / "traffic.txt"
    f.write_text(text)
    with pytest.raises(ValueError, match=word):
        read_lengths(f, 512)


def sweep(tmp_path, *extra):
    from bench.sweep import main

    return main(
        [
            "--model",
            "tiny",
            "--widths",
            "1.0",
            "--depths",
            "1.0",
            "--min-time",
            "0",
            "--min-runs",
            "1",
        ]
        + ["--warmup", "1", "--results", str(tmp_path / "r.jsonl"), *extra]
    )


def test_task_workload_without_its_split_file_is_refused_before_timing(tmp_path, capsys):
    code = sweep(tmp_path, "--runtimes", "onnxruntime", "--workload", "task", "--task", "sst2")
    assert code == 2 and "--data-dir" in capsys.readouterr().err
    empty = tmp_path / "SST-2"
    empty.mkdir()
    code = sweep(tmp_path, "--runtimes", "onnxruntime", "--workload", "task", "--task", "sst2",
                 "--data-dir", str(empty))  # fmt: skip
    assert code == 2 and "no dev.tsv" in capsys.readouterr().err
    assert not (tmp_path / "r.jsonl").exists()


def test_query_longer_than_a_static_artifact_is_skipped_not_failed(tmp_path, sst2, capsys):
    args = ["--workload", "task", "--task", "sst2", "--data-dir", str(sst2)]
    code = sweep(tmp_path, "--runtimes", "litert", "--seq-len", "16", *args)
    (rec,) = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert code == 0 and rec["status"] == "skipped"
    assert (
        "longer than the static artifact's 16 tokens" in rec["error"]
        and "--seq-len" in rec["error"]
    )
    assert "SKIPPED" in capsys.readouterr().err


@pytest.mark.slow
def test_task_workload_records_and_a_changed_query_set_is_timed_again(tmp_path, sst2):
    args = [
        "--runtimes",
        "onnxruntime",
        "--workload",
        "task",
        "--task",
        "sst2",
        "--data-dir",
        str(sst2),
    ]
    assert sweep(tmp_path, *args, "--max-queries", "8") == 0
    assert sweep(tmp_path, *args, "--max-queries", "8") == 0  # the same set: nothing new
    assert sweep(tmp_path, *args, "--max-queries", "9") == 0  # another set: timed again
    recs = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert [r["n_queries"] for r in recs] == [8, 9]
    first = recs[0]
    assert first["workload"].startswith("sst2/dev#") and first["scenario"] == "singlestream"
    assert first["shapes"] == "dynamic" and first["n_runs"] % 8 == 0
    info = first["workload_info"]
    assert sum(info["length_histogram"].values()) == 8 and info["truncation_len"] == 512
    assert first["latency_ms_p90_early_stop"] is None and first["early_stop_queries_needed"] == 64
    assert first["throughput_qps"] > 0 and first["latency_ms_p50"] > 0


def latency_record(subnet: str, p50: float, **workload):
    import records

    return records.Record(
        kind="latency", subnet_id=subnet, width_mult=1.0, depth_mult=1.0, model_id="m",
        checkpoint_sha="abc", family="dynabert", device="local-cpu", runtime="onnxruntime",
        threads=1, batch_size=1, seq_len=128, latency_ms_p50=p50, **workload,
    )  # fmt: skip


def test_a_store_mixing_workloads_is_never_pooled():
    from bench import conditions
    from bench.frame import efficiency

    task = dict(workload="sst2/dev#abc", scenario="singlestream", shapes="dynamic", n_queries=9)
    bucketed = {**task, "shapes": "bucketed", "buckets": [16, 32]}
    recs = [
        latency_record("w1.00-d1.00", 30.0),
        latency_record("w1.00-d1.00", 9.0, **task),
        latency_record("w1.00-d1.00", 7.0, **bucketed),
    ]
    eff = efficiency(recs)
    parts = conditions.split(eff)
    assert sorted(p.latency_ms_p50.tolist()[0] for _, p in parts) == [7.0, 9.0, 30.0]
    titles = [c.title() for c, _ in parts]
    assert any("sst2/dev#abc workload, singlestream, bucketed shapes" in t for t in titles), titles
    assert efficiency(recs, workload="synthetic").latency_ms_p50.tolist() == [30.0]
    with pytest.raises(ValueError, match="workload"):
        conditions.only_one(eff, "select")
