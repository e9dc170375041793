"""`python -m bench.pareto search` end to end on the tiny model: predictor fitted on this machine's measured
records, search on a dev subset, final candidates scored on the full dev set and measured; the answer is measured."""

import json
from dataclasses import replace

import pytest

import records
from bench.pareto import main as pareto_main
from bench.predictor import main as predictor_main
from bench.sweep import main as sweep_main

from factories import costed_latency_record, latency_record
from messages import assert_names

QUICK = ["--seq-len", "16", "--min-time", "0"]


@pytest.mark.slow
def test_search_answers_with_measured_sub_networks(tiny_checkpoint, sst2_dir, tmp_path, capsys):
    store, cache = tmp_path / "r.jsonl", str(tmp_path / "cache")
    assert (
        predictor_main(
            [
                "sample",
                "--model",
                str(tiny_checkpoint),
                "--n",
                "4",
                "--widths",
                "1.0,0.5",
                "--out",
                str(tmp_path / "sample.json"),
            ]
        )
        == 0
    )
    assert (
        sweep_main(
            [
                "--model",
                str(tiny_checkpoint),
                "--runtimes",
                "onnxruntime",
                "--subnets",
                str(tmp_path / "sample.json"),
                "--min-runs",
                "3",
                "--warmup",
                "1",
                "--cache-dir",
                cache,
                "--results",
                str(store),
                *QUICK,
            ]
        )
        == 0
    )
    lat = sorted(r.latency_ms_p50 for r in records.read(store))
    budgets = [round(lat[len(lat) // 2], 4), round(1.5 * lat[-1], 4)]
    args = [
        "search",
        "--checkpoint",
        str(tiny_checkpoint),
        "--task",
        "sst2",
        "--data-dir",
        sst2_dir,
        "--results",
        str(store),
        "--max-latency-ms",
        ",".join(map(str, budgets)),
        "--widths",
        "1.0,0.5",
        "--depths",
        "1.0",
        "--population",
        "6",
        "--generations",
        "2",
        "--search-examples",
        "64",
        "--final",
        "1",
        "--cache-dir",
        cache,
        "--out",
        str(tmp_path / "out"),
        *QUICK,
    ]
    before = store.read_bytes()
    assert pareto_main(args) == 0
    summary = json.loads((tmp_path / "out" / "search.json").read_text())
    assert store.read_bytes() == before  # the input is only read: the search writes its own store
    recs = records.read(tmp_path / "out" / "search-records.jsonl")
    timed = [r for r in recs if r.kind == "latency"]
    for grid_id in (
        "w1.00-d1.00",
        "w0.50-d1.00",
    ):  # timed for the calibration, then again with the candidates
        assert sum(r.subnet_id == grid_id for r in timed) == 1 + summary["timed_round"]
    assert summary["command"].startswith(
        "python -m bench.pareto search --checkpoint "
    )  # as run, pasteable
    cal = summary["calibration"][0]
    assert cal["round"] == 0 and cal["n"] == 2 and cal["scale"] > 0
    assert cal["measured_utc"][1] <= summary["measured_utc"][0]  # the calibration sweep came first
    assert (
        summary["processes"] == 1
        and summary["min_time_s"] == 0
        and 0 <= summary["load_avg_1min"][0]
    )
    final = [r for r in timed if r.timestamp_utc >= summary["measured_utc"][0]]
    assert {r.subnet_id for r in final} >= {"w1.00-d1.00", "w0.50-d1.00"} | {
        row["searched_subnet"] for row in summary["budgets"] if row["searched_subnet"]
    }
    latency = {
        r.subnet_id: r
        for r in recs
        if r.kind == "latency" and r.checkpoint_sha == summary["checkpoint_sha"]
    }
    accuracy = {
        r.subnet_id: r.metric_value
        for r in recs
        if r.kind == "accuracy" and r.split == summary["split"]
    }
    assert summary["predictor"]["n_train"] == 4 and len(summary["budgets"]) == 2
    for row, budget in zip(summary["budgets"], budgets):
        assert row["latency_budget_ms"] == budget
        for cand in row["candidates"]:
            assert cand["predicted_ms"] <= budget * 0.95
        if row["searched_subnet"]:
            r = latency[row["searched_subnet"]]
            assert (
                row["searched_latency_measured_ms"] == r.latency_ms_p50 <= budget
            )  # the answer is what was measured
            assert (
                row["searched_accuracy"] == accuracy[row["searched_subnet"]]
                and row["config"] == r.subnet
            )
        grid_fits = {
            i: accuracy[i]
            for i in ("w1.00-d1.00", "w0.50-d1.00")
            if latency[i].latency_ms_p50 <= budget
        }
        assert row["grid_best_accuracy"] == (max(grid_fits.values()) if grid_fits else None)
        every = {
            c["subnet"] for b in summary["budgets"] for c in b["candidates"]
        }  # any budget's, all measured
        fits = [accuracy[i] for i in every if latency[i].latency_ms_p50 <= budget]
        assert row["searched_accuracy"] == (max(fits) if fits else None)
        both = [a for a in (row["searched_accuracy"], row["grid_best_accuracy"]) if a is not None]
        assert row["answer_accuracy"] == (
            max(both) if both else None
        )  # never less accurate than the grid's best
        if row["answer_subnet"]:
            assert (
                row["answer_subnet"]
                == row[f"{'searched' if row['answer_from'] == 'search' else 'grid_best'}_subnet"]
            )
            assert (
                row["answer_latency_measured_ms"]
                == latency[row["answer_subnet"]].latency_ms_p50
                <= budget
            )
    assert {g["subnet"]: (g["accuracy"], g["measured_ms"]) for g in summary["grid"]} == {
        i: (accuracy[i], latency[i].latency_ms_p50) for i in ("w1.00-d1.00", "w0.50-d1.00")
    }  # the figure's grid
    out = capsys.readouterr().out
    assert "<= " in out and "measured" in out


@pytest.mark.slow
def test_a_predictor_from_a_faster_day_is_recalibrated_and_the_budget_searched_again(
    tiny_checkpoint, sst2_dir, tmp_path, capsys
):
    """Records as if measured when the machine ran 5x faster, no up-front calibration, a budget 0.3x the fastest
    sub-network's true latency: round 1's candidates are predicted to fit and measure over the budget; round 2
    searches again with the predictor recalibrated on round 1's sweep (scale ~5) and finds that none is predicted to
    fit, so nothing new is timed. The answer is 'none fits', never an over-budget sub-network. (5x in the records;
    the recalibrated scale > 2 leaves room for the noise of sub-ms timings.)"""
    store, cache = tmp_path / "r.jsonl", str(tmp_path / "cache")
    assert (
        predictor_main(
            [
                "sample",
                "--model",
                str(tiny_checkpoint),
                "--n",
                "6",
                "--widths",
                "1.0,0.5",
                "--out",
                str(tmp_path / "sample.json"),
            ]
        )
        == 0
    )
    assert (
        sweep_main(
            [
                "--model",
                str(tiny_checkpoint),
                "--runtimes",
                "onnxruntime",
                "--subnets",
                str(tmp_path / "sample.json"),
                "--min-runs",
                "3",
                "--warmup",
                "1",
                "--cache-dir",
                cache,
                "--results",
                str(tmp_path / "true.jsonl"),
                *QUICK,
            ]
        )
        == 0
    )
    true = records.read(tmp_path / "true.jsonl")
    for r in true:
        records.append(store, replace(r, latency_ms_p50=r.latency_ms_p50 / 5))
    budget = round(
        0.3 * min(r.latency_ms_p50 for r in true), 4
    )  # nothing fits; the records say 1.5x would
    args = [
        "search",
        "--checkpoint",
        str(tiny_checkpoint),
        "--task",
        "sst2",
        "--data-dir",
        sst2_dir,
        "--results",
        str(store),
        "--max-latency-ms",
        str(budget),
        "--widths",
        "1.0,0.5",
        "--depths",
        "1.0",
        "--population",
        "6",
        "--generations",
        "2",
        "--search-examples",
        "64",
        "--final",
        "2",
        "--no-calibrate",
        "--rounds",
        "2",
        "--cache-dir",
        cache,
        "--out",
        str(tmp_path / "out"),
        *QUICK,
    ]
    assert pareto_main(args) == 0
    summary = json.loads((tmp_path / "out" / "search.json").read_text())
    assert (summary["rounds"], summary["timed_round"]) == (2, 1), summary[
        "budgets"
    ]  # round 2 found nothing to time
    assert [c["round"] for c in summary["calibration"]] == [1] and summary["calibration"][0][
        "scale"
    ] > 2
    row = summary["budgets"][0]
    assert (
        row["searched_subnet"] is None
        and row["grid_best_subnet"] is None
        and row["answer_subnet"] is None
    )
    assert row["candidates"] and all(
        c["measured_ms"] > budget for c in row["candidates"]
    )  # round 1's, over budget
    err = capsys.readouterr().err
    assert (
        "round 1's sweep" in err
        and "round 2: the search found no candidate not already timed; stopping" in err
    )
    assert sum(r.kind == "latency" for r in records.read(store)) == len(
        true
    )  # the input: only read
    own = records.read(tmp_path / "out" / "search-records.jsonl")
    assert sum(r.kind == "latency" for r in own) == 2 + len(summary["budgets"][0]["candidates"])


def other_machine_store(path, size, n: int = 6):
    """Latency records of per-layer sub-networks of `size` measured (as they say) by another machine."""
    import random

    from bench.search import random_spec, space_for
    from dynabert import cost

    rng, space = random.Random(0), space_for(size, (1.0, 0.5))
    specs = {s.subnet_id: s for s in (random_spec(space, rng) for _ in range(40))}
    for spec in list(specs.values())[:n]:
        ms = 0.1 * cost(size, spec, 16).n_layers
        records.append(
            path,
            costed_latency_record(size, spec, ms, seq_len=16, machine_fingerprint="other-box-1234"),
        )


@pytest.mark.slow
def test_search_tells_a_missing_store_from_another_machines_records(
    tiny_checkpoint, sst2_dir, tmp_path, capsys
):
    """Both used to say 'no measured latency_ms_p50 ... in the records; measure sub-networks first'."""
    from dynabert.presets import load_size
    from records.machine import this_machine

    here = this_machine().fingerprint
    args = [
        "search",
        "--checkpoint",
        str(tiny_checkpoint),
        "--task",
        "sst2",
        "--data-dir",
        sst2_dir,
        "--max-latency-ms",
        "5",
        "--out",
        str(tmp_path / "out"),
        *QUICK,
    ]
    missing = tmp_path / "missing.jsonl"
    assert pareto_main([*args, "--results", str(missing)]) == 2
    err = capsys.readouterr().err
    assert (
        f"--results {str(missing)!r} does not exist: the search fits its latency predictor" in err
    )
    assert "python -m bench.predictor sample" in err and not missing.exists()
    present = tmp_path / "present.jsonl"
    present.touch()
    assert (
        pareto_main([*args, "--results", str(present), "--results", str(tmp_path / "typo.jsonl")])
        == 2
    )
    assert "typo.jsonl' does not exist" in capsys.readouterr().err
    own = tmp_path / "out" / "search-records.jsonl"  # the search appends to it: never an input
    own.parent.mkdir()
    own.touch()
    assert pareto_main([*args, "--results", str(own)]) == 2
    err = capsys.readouterr().err
    assert (
        "is the search's own store (search-records.jsonl in --out)" in err
        and "another --out" in err
    )
    other = tmp_path / "other.jsonl"
    other_machine_store(other, load_size(str(tiny_checkpoint)))
    assert pareto_main([*args, "--results", str(other)]) == 2
    err = capsys.readouterr().err
    assert (
        "only from machine(s) other-box-1234 (6 records), none from this machine "
        f"({here}); latency is a property of the machine"
    ) in err
    assert "measure sub-networks on this machine" in err and "does not exist" not in err


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--device", "qemu-arm"], "device 'qemu-arm' counts emulated instructions, not time"),
        (["--margin", "1.5"], "--margin must be a share in [0, 1)"),
        (["--margin", "-1"], "--margin must be a share"),
        (["--population", "0"], "--population must be at least 1"),
        (["--final", "0"], "--final must be at least 1"),
        (["--generations", "-1"], "--generations must be at least 0"),
        (["--search-examples", "0"], "--search-examples must be at least 1"),
        (["--processes", "0"], "--processes must be at least 1"),
    ],
)
def test_search_flags_out_of_range_are_refused_before_anything_loads(
    flags, message, tmp_path, capsys
):
    store = tmp_path / "r.jsonl"
    store.touch()
    args = [
        "search",
        "--checkpoint",
        str(tmp_path / "no-checkpoint"),
        "--task",
        "sst2",
        "--data-dir",
        str(tmp_path / "no-data"),
        "--max-latency-ms",
        "5",
        "--results",
        str(store),
        "--out",
        str(tmp_path / "o"),
    ]
    assert pareto_main([*args, *flags]) == 2
    assert message in capsys.readouterr().err


def test_an_out_that_cannot_hold_the_results_is_refused_before_anything_loads(tmp_path, capsys):
    """--out a file (or its search.json a folder) would lose the whole finished search at the end: refused first."""
    store = tmp_path / "r.jsonl"
    store.touch()
    (tmp_path / "file").write_text("x")
    (tmp_path / "o" / "search.json").mkdir(parents=True)
    args = [
        "search",
        "--checkpoint",
        str(tmp_path / "no-checkpoint"),
        "--task",
        "sst2",
        "--data-dir",
        str(tmp_path / "no-data"),
        "--max-latency-ms",
        "5",
        "--results",
        str(store),
    ]
    for out, message in (
        (tmp_path / "file", "is a file, not a folder; choose a folder path"),
        (tmp_path / "file" / "sub", "is a file, not a folder"),
        (tmp_path / "o", "is a folder where the search writes its search.json"),
    ):
        assert pareto_main([*args, "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: --out ") and message in err and "checkpoint" not in err
    assert (tmp_path / "file").read_text() == "x"


def test_a_store_the_search_would_overwrite_or_cannot_write_is_refused_before_anything_loads(
    tmp_path, capsys
):
    """--out's subnets.json / search.json being the --results store used to be overwritten at the end (every
    measurement lost, exit 0). The search's own store (in --out) is checked with --out, before anything loads."""
    (tmp_path / "o").mkdir()
    store = tmp_path / "o" / "subnets.json"
    records.append(store, latency_record(ms=1.0))
    before = store.read_text()
    args = [
        "search",
        "--checkpoint",
        str(tmp_path / "no-checkpoint"),
        "--task",
        "sst2",
        "--data-dir",
        str(tmp_path / "no-data"),
        "--max-latency-ms",
        "5",
    ]
    assert pareto_main([*args, "--results", str(store), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert_names(err, "its subnets.json", str(store), "is also an input store", "give another file")
    assert store.read_text() == before
    (tmp_path / "afile").write_text("x")
    assert (
        pareto_main(
            [
                *args,
                "--results",
                str(tmp_path / "afile" / "new.jsonl"),
                "--results",
                str(store),
                "--out",
                str(tmp_path / "o2"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err  # inputs are only read: one below a file is simply missing
    assert (
        err.startswith("error: --results ") and "does not exist" in err and "checkpoint" not in err
    )


@pytest.mark.slow
def test_a_grid_that_cannot_be_timed_is_an_error_not_none_fits(
    tiny_checkpoint, sst2_dir, tmp_path, capsys
):
    """Every cell failing (a CUDA device without a CUDA build) used to read as 'no grid point fits', exit 0."""
    from dynabert.presets import load_size
    from records.machine import this_machine

    store = tmp_path / "cuda.jsonl"
    other_machine_store(store, load_size(str(tiny_checkpoint)))
    here = this_machine().fingerprint
    recs = records.read(store)
    store.unlink()
    for r in recs:
        records.append(store, replace(r, device="cuda", machine_fingerprint=here))
    args = [
        "search",
        "--checkpoint",
        str(tiny_checkpoint),
        "--task",
        "sst2",
        "--data-dir",
        sst2_dir,
        "--results",
        str(store),
        "--device",
        "cuda",
        "--max-latency-ms",
        "5",
        "--widths",
        "1.0,0.5",
        "--depths",
        "1.0",
        "--population",
        "4",
        "--generations",
        "1",
        "--search-examples",
        "32",
        "--cache-dir",
        str(tmp_path / "cache"),
        "--out",
        str(tmp_path / "out"),
        *QUICK,
    ]
    for flags, where in ((["--no-calibrate", "--rounds", "1"], "round 1"), ([], "calibration")):
        assert pareto_main([*args, *flags]) == 2
        err = capsys.readouterr().err
        assert (
            f"error: {where}" in err
            and "sub-network(s) could be timed on cuda / onnxruntime" in err
        ), err
        assert not (tmp_path / "out" / "search.json").exists()


def test_ctrl_c_in_a_search_is_one_line_and_exit_130(monkeypatch, tmp_path, capsys):
    import bench.search_run

    def interrupted(opts, argv):
        raise KeyboardInterrupt

    monkeypatch.setattr(bench.search_run, "run", interrupted)
    store = tmp_path / "r.jsonl"
    store.touch()
    assert (
        pareto_main(
            [
                "search",
                "--checkpoint",
                "x",
                "--task",
                "sst2",
                "--data-dir",
                "d",
                "--max-latency-ms",
                "5",
                "--results",
                str(store),
                "--out",
                str(tmp_path / "o"),
            ]
        )
        == 130
    )
    err = capsys.readouterr().err
    assert (
        "interrupted: the sub-networks timed so far are kept in" in err and "Traceback" not in err
    )
