"""The latency predictor on synthetic records with a known answer: each model recovers the law it can express,
the held-out metrics are what they say, and `choose` picks by held-out error."""

import random
from dataclasses import replace

import numpy as np
import pytest

import records
from bench import predictor
from dynabert import BertSize, LayerwiseSpec, cost

from factories import costed_latency_record
from messages import assert_names

SIZE = BertSize(
    hidden_size=384, num_layers=6, num_heads=12, head_size=32, ffn_size=1536
)  # MiniLM-L6
HEADS = (3, 6, 9, 12)
FFN = (384, 768, 1152, 1536)
ATTN_TABLE = {
    3: 0.9,
    6: 1.1,
    9: 1.8,
    12: 2.0,
}  # irregular in heads: kernels that do not scale smoothly
FFN_TABLE = {384: 0.5, 768: 1.2, 1152: 1.3, 1536: 2.2}


def random_spec(rng: random.Random) -> LayerwiseSpec:
    keep = [rng.random() > 0.2 for _ in range(SIZE.num_layers)]
    keep[rng.randrange(SIZE.num_layers)] = True
    return LayerwiseSpec(
        tuple(rng.choice(HEADS) if k else 0 for k in keep),
        tuple(rng.choice(FFN) if k else 0 for k in keep),
    )


def record(spec, ms: float, **kw) -> records.Record:
    return costed_latency_record(SIZE, spec, ms, **kw)


def linear_law(spec) -> float:
    layers = [(h, f) for h, f in zip(spec.heads, spec.ffn) if h]
    return 0.7 + sum(0.2 + 0.05 * h + 0.001 * f for h, f in layers)


def table_law(spec) -> float:
    return 0.4 + sum(ATTN_TABLE[h] + FFN_TABLE[f] for h, f in zip(spec.heads, spec.ffn) if h)


def synthetic(law, n: int = 60, seed: int = 0) -> list[records.Record]:
    rng = random.Random(seed)
    specs = {s.subnet_id: s for s in (random_spec(rng) for _ in range(n))}
    return [record(s, law(s)) for s in specs.values()]


def write_store(tmp_path, recs: list):
    """tmp_path/r.jsonl holding `recs`."""
    store = tmp_path / "r.jsonl"
    for r in recs:
        records.append(store, r)
    return store


def test_linear_law_is_recovered_and_beats_flops():
    pts = predictor.points(synthetic(linear_law), "local-cpu", "onnxruntime", 1, 128)
    train, held = predictor.split(pts, 0.3)
    model = predictor.Predictor("linear").fit(train)
    np.testing.assert_allclose(model.coef, [0.7, 0.2, 0.05, 0.001], rtol=1e-6, atol=1e-9)
    m = predictor.evaluate(model, held)
    assert m["mape"] < 1e-6 and m["within_10pct"] == 1.0 and m["spearman"] == pytest.approx(1.0)
    assert (
        predictor.evaluate(predictor.Predictor("flops").fit(train), held)["mape"] > 0.01
    )  # not proportional (1%)


def test_lookup_law_is_recovered_and_chosen_by_held_out_error():
    pts = predictor.points(synthetic(table_law), "local-cpu", "onnxruntime", 1, 128)
    train, held = predictor.split(pts, 0.3)
    chosen, cv = predictor.choose(train)
    assert chosen.kind == "lookup" and cv["lookup"] < 1e-6 < cv["linear"]
    np.testing.assert_allclose(chosen.predict(held), [p.value for p in held], rtol=1e-9)
    out = predictor.report(train, held, sizes=(10, 20))
    assert (
        out["models"]["lookup"]["within_10pct"] == 1.0 and out["models"]["linear"]["mape"] > 0.005
    )
    assert [row["n_train"] for row in out["learning_curve"]] == [10, 20]


def test_flops_baseline_is_proportional():
    rng = random.Random(1)
    recs = [
        record(s, 3e-9 * cost(SIZE, s, 128).flops_with_attention)
        for s in (random_spec(rng) for _ in range(12))
    ]
    model = predictor.Predictor("flops").fit(
        predictor.points(recs, "local-cpu", "onnxruntime", 1, 128)
    )
    assert model.coef == pytest.approx([3e-9])


def test_metrics_by_hand():
    m = predictor.metrics(np.array([1.0, 2.2, 2.7, 4.0]), np.array([1.0, 2.0, 3.0, 5.0]))
    assert m["mape"] == pytest.approx((0 + 0.1 + 0.1 + 0.2) / 4)  # a fraction, like the shares
    assert (
        m["within_10pct"] == 0.75
        and m["within_5pct"] == 0.25
        and m["spearman"] == pytest.approx(1.0)
    )


def test_points_select_one_cell_and_read_grid_records():
    rng = random.Random(2)
    spec = random_spec(rng)
    grid = record(
        LayerwiseSpec((6,) * 6, (768,) * 6), 5.0, subnet=None
    )  # a record from before the subnet field
    recs = [
        record(spec, 1.0),
        record(spec, 9.0, threads=2),
        record(spec, 9.0, device="qemu-arm"),
        grid,
        record(spec, 9.0, status="error"),
    ]
    pts = predictor.points(recs, "local-cpu", "onnxruntime", 1, 128)
    assert {(p.subnet_id, p.value) for p in pts} == {(spec.subnet_id, 1.0), (grid.subnet_id, 5.0)}
    assert next(p for p in pts if p.value == 5.0).layers == ((6, 768),) * 6
    with pytest.raises(ValueError, match="no measured latency_ms_p50 for device 'cuda'") as err:
        predictor.points(recs, "cuda", "onnxruntime", 1, 128)
    assert_names(
        str(err.value),
        "device local-cpu, runtime onnxruntime, threads 1, seq 128: 2 sub-network(s)",
        "device local-cpu, runtime onnxruntime, threads 2, seq 128: 1 sub-network(s)",
        "device qemu-arm",
    )
    two = recs + [record(random_spec(rng), 2.0, machine_fingerprint="other")]
    with pytest.raises(ValueError, match="latencies of 2 machines"):
        predictor.points(two, "local-cpu", "onnxruntime", 1, 128)
    assert len(predictor.points(two, "local-cpu", "onnxruntime", 1, 128, machine="other")) == 1


def test_instruction_counts_are_predicted_when_the_records_have_them():
    rng = random.Random(3)
    specs = {s.subnet_id: s for s in (random_spec(rng) for _ in range(20))}
    recs = [
        record(s, None, device="qemu-arm", instructions_per_inference=int(1e6 * linear_law(s)))
        for s in specs.values()
    ]
    pts = predictor.points(recs, "qemu-arm", "onnxruntime", 1, 128)
    model, _ = predictor.choose(pts)
    assert predictor.evaluate(model, pts)["within_5pct"] == 1.0


def test_too_few_points_named():
    pts = predictor.points(synthetic(linear_law, n=3), "local-cpu", "onnxruntime", 1, 128)
    with pytest.raises(ValueError, match="at least 4"):
        predictor.choose(pts)


def test_fit_cli_counts_every_measured_point_and_the_held_out_ones(tmp_path, capsys):
    store = write_store(tmp_path, synthetic(linear_law, n=5))
    assert predictor.main(["fit", "--results", str(store)]) == 2
    assert "5 measured points: 2 held out leaves 3 to fit" in capsys.readouterr().err


def test_fit_cli_reports_every_model_against_the_baseline(tmp_path, capsys):
    store = write_store(tmp_path, synthetic(table_law, n=40))
    assert (
        predictor.main(
            [
                "fit",
                "--results",
                str(store),
                "--json",
                str(tmp_path / "fit.json"),
                "--curve",
                "8,20",
            ]
        )
        == 0
    )
    out = __import__("json").loads((tmp_path / "fit.json").read_text())
    assert out["chosen"] == "lookup" and set(out["models"]) == {"flops", "linear", "lookup"}
    assert out["n_train"] + out["n_heldout"] == len(
        {r.subnet_id for r in synthetic(table_law, n=40)}
    )
    assert "held out: MAPE" in capsys.readouterr().out
    assert predictor.main(["fit", "--results", str(store), "--device", "qemu-arm"]) == 2


def test_fit_names_the_machine_that_measured_and_this_one(tmp_path, capsys):
    from records.machine import this_machine

    here = this_machine().fingerprint
    store = tmp_path / "r.jsonl"
    for r in synthetic(linear_law, n=20):
        records.append(store, replace(r, machine_fingerprint="other-box-1234"))
    assert predictor.main(["fit", "--results", str(store)]) == 0
    assert (
        f"measured on machine other-box-1234, not this one ({here}): the predictor describes that machine"
        in capsys.readouterr().out
    )
    assert predictor.main(["fit", "--results", str(store), "--machine", here]) == 2
    err = capsys.readouterr().err
    assert (
        f"only from machine(s) other-box-1234 (20 records), none from this machine ({here}); latency is a "
        "property of the machine"
    ) in err
    assert predictor.main(["fit", "--results", str(store), "--machine", "third"]) == 2
    assert f"none from machine third (this machine is {here})" in capsys.readouterr().err
    store_here = tmp_path / "here.jsonl"
    for r in synthetic(linear_law, n=20):
        records.append(store_here, replace(r, machine_fingerprint=here))
    assert predictor.main(["fit", "--results", str(store_here)]) == 0
    assert f"measured on this machine ({here})" in capsys.readouterr().out


def test_records_of_two_architectures_are_never_pooled(tmp_path, capsys):
    """Two models' grid ids coincide (w1.00-d1.00 ...): pooled, one would silently overwrite the other's points."""
    store = tmp_path / "r.jsonl"
    small = synthetic(linear_law, n=20)
    for r in small + [replace(r, params_total=r.params_total * 4, model_id="big") for r in small]:
        records.append(store, r)
    assert predictor.main(["fit", "--results", str(store)]) == 2
    err = capsys.readouterr().err
    assert (
        "latencies of 2 architectures" in err and "(big)" in err and "pass --params-total N" in err
    )
    assert (
        predictor.main(
            ["fit", "--results", str(store), "--params-total", str(small[0].params_total)]
        )
        == 0
    )


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--heldout-frac", "nan"], "--heldout-frac must be a share between 0 and 1"),
        (["--heldout-frac", "0"], "--heldout-frac must be a share between 0 and 1"),
        (["--curve", "5,x"], "--curve takes training-set sizes as whole numbers"),
        (["--json", "/nonexistent-dir/fit.json"], "cannot write /nonexistent-dir/fit.json"),
    ],
)
def test_fit_flags_out_of_range_are_named(tmp_path, capsys, flags, message):
    store = write_store(tmp_path, synthetic(linear_law, n=20))
    assert predictor.main(["fit", "--results", str(store), *flags]) == 2
    assert message in capsys.readouterr().err


def test_outputs_never_overwrite_a_records_store(tmp_path, capsys):
    store = write_store(tmp_path, synthetic(linear_law, n=20))
    before = store.read_text()
    assert predictor.main(["fit", "--results", str(store), "--json", str(store)]) == 2
    assert f"--json {str(store)!r} is also an input store" in capsys.readouterr().err
    other = tmp_path / "other.jsonl"
    other.write_text(before)
    assert predictor.main(["sample", "--model", "tiny", "--n", "3", "--out", str(other)]) == 2
    assert "is a records store" in capsys.readouterr().err
    assert store.read_text() == before and other.read_text() == before


def test_impossible_measurements_are_never_fitted(tmp_path, capsys):
    """A negative, zero, NaN or text latency is not a record: the line is skipped naming the file and line."""
    import json

    store = tmp_path / "r.jsonl"
    good = synthetic(linear_law, n=20)
    for r in good:
        records.append(store, r)
    with open(store, "a") as f:
        for bad in (-1.0, 0, "fast"):
            f.write(
                json.dumps({**good[0].to_dict(), "subnet_id": "x", "latency_ms_p50": bad}) + "\n"
            )
        f.write(
            json.dumps({**good[0].to_dict(), "latency_ms_p50": None}).replace("null", "NaN") + "\n"
        )
    assert len(records.read(store)) == len(good)
    err = capsys.readouterr().err
    assert err.count("skipped a line that is not a complete record") == 4
    assert f"{store}:{len(good) + 1}:" in err and "latency_ms_p50 must be > 0, got -1.0" in err
    assert "latency_ms_p50 must be a finite number, got 'fast'" in err
    doc = tmp_path / "doc.json"
    doc.write_text(json.dumps([r.to_dict() for r in good], indent=1))
    assert predictor.main(["fit", "--results", str(doc)]) == 2
    assert "is a JSON document, not a records store" in capsys.readouterr().err


def test_curve_sizes_outside_the_training_points_are_named(tmp_path, capsys):
    store = write_store(tmp_path, synthetic(table_law, n=40))
    assert (
        predictor.main(
            [
                "fit",
                "--results",
                str(store),
                "--curve",
                "0,5,5,1000",
                "--json",
                str(tmp_path / "f.json"),
            ]
        )
        == 0
    )
    assert "--curve: 0, 1000 left out (a curve point fits on 4 to the" in capsys.readouterr().out
    out = __import__("json").loads((tmp_path / "f.json").read_text())
    assert [row["n_train"] for row in out["learning_curve"]] == [5] and "machine_fingerprint" in out


def test_sampling_more_than_the_space_holds_takes_all_of_it_without_drawing(
    tmp_path, monkeypatch, capsys
):
    """--n beyond the space (tiny: 2 layers x (16 + skip) choices = 288 sub-networks) gives every sub-network once,
    at once (it used to make 100 x n draws), and says the space holds only that many."""
    import bench.search
    from bench.artifacts import model_size
    from bench.search import space_for, space_size

    draws = []
    real = bench.search.random_spec
    monkeypatch.setattr(
        bench.search, "random_spec", lambda space, rng: draws.append(1) or real(space, rng)
    )
    widths = (1.0, 0.75, 0.5, 0.25)
    total = space_size(space_for(model_size("tiny"), widths))
    specs = predictor.sample(model_size("tiny"), 2 * total, 0, widths)
    assert len(specs) == total == 288 and len({s.subnet_id for s in specs}) == total and not draws
    assert all(any(s.heads) for s in specs)  # at least one layer kept in each
    assert (
        len(predictor.sample(model_size("tiny"), 10, 0, widths)) == 10 and len(draws) >= 10
    )  # fewer: drawn
    assert (
        predictor.main(
            ["sample", "--model", "tiny", "--n", "100000", "--out", str(tmp_path / "s.json")]
        )
        == 0
    )
    assert_names(
        capsys.readouterr().out, "asked for 100000", "--widths 1.0,0.75,0.5,0.25", "only 288"
    )


def test_spearman_is_undefined_not_nan_when_latencies_are_all_equal(recwarn):
    m = predictor.metrics(np.array([1.0, 2.0, 3.0]), np.array([5.0, 5.0, 5.0]))
    assert m["spearman"] is None and predictor.fmt_rho(m["spearman"]) == "n/a" and not recwarn.list
    assert (
        predictor.metrics(np.array([1.0, 2.0]), np.array([1.0, 2.0]))["spearman"] is None
    )  # < 3 points
    assert predictor.metrics(np.array([1.0, 2.0, 3.0]), np.array([1.0, 3.0, 2.0]))[
        "spearman"
    ] == pytest.approx(0.5)
    assert (
        predictor.plural(1, "layer") == "1 layer"
        and predictor.plural(2, "measured point") == "2 measured points"
    )


def test_recalibration_recovers_a_known_speed_change():
    """A machine 1.4x slower with 0.5 ms more fixed cost: the affine law is recovered exactly and the error gone."""
    p = [2.0, 5.0, 9.0, 14.0, 30.0]
    cal = predictor.recalibrate(p, [1.4 * x + 0.5 for x in p])
    assert cal.scale == pytest.approx(1.4) and cal.offset_ms == pytest.approx(0.5) and cal.n == 5
    assert cal.mape_after == pytest.approx(0, abs=1e-12)
    assert cal.mape_before > 0.3
    assert cal(10.0) == pytest.approx(14.5)


def test_recalibration_falls_back_to_the_median_ratio():
    two = predictor.recalibrate(
        [2.0, 4.0], [3.0, 6.6]
    )  # too few points for a line: median of 1.5 and 1.65
    assert (two.scale, two.offset_ms) == (pytest.approx(1.575), 0.0)
    falling = predictor.recalibrate(
        [1.0, 2.0, 3.0], [3.0, 2.0, 1.5]
    )  # a decreasing "law" is no calibration
    assert (falling.scale, falling.offset_ms) == (pytest.approx(1.0), 0.0)
    with pytest.raises(ValueError, match="positive predicted and measured"):
        predictor.recalibrate([], [])
    with pytest.raises(ValueError, match="positive predicted and measured"):
        predictor.recalibrate([1.0, -2.0], [1.0, 2.0])


def test_a_negative_calibrated_offset_never_predicts_zero_or_less():
    """Small sub-networks slowed less than large ones give a negative offset: a sub-network smaller than any
    calibrated one is floored at the smallest measured / predicted ratio seen, never <= 0 ms."""
    cal = predictor.recalibrate([10.0, 20.0, 30.0], [2.0, 12.0, 22.0])
    assert cal.offset_ms == pytest.approx(-8.0) and cal.floor_ratio == pytest.approx(0.2)
    assert float(cal(5.0)) == pytest.approx(1.0) and float(cal(20.0)) == pytest.approx(12.0)


def test_records_of_another_architecture_are_named_as_such():
    recs = synthetic(table_law, n=6)
    with pytest.raises(
        ValueError,
        match=r"measure another architecture \(.* params; model\(s\) .*\), not this one "
        r"\(1,234 params\)",
    ):
        predictor.points(recs, "local-cpu", "onnxruntime", 1, 128, params_total=1234)


def test_the_newest_record_of_a_sub_network_is_fitted_whatever_the_file_order():
    """A re-timed sub-network appended before an older record (stores merged by hand, or a copy) used to be fitted
    on whichever line came last; the newest by timestamp_utc is the one fitted."""
    old, new = synthetic(table_law, n=5)[:1] * 2
    old = replace(old, latency_ms_p50=9.0, timestamp_utc="2026-11-30T21:34:27+00:00")
    new = replace(new, latency_ms_p50=7.0, timestamp_utc="2026-12-01T07:05:30+00:00")
    (pt,) = predictor.points([new, old], "local-cpu", "onnxruntime", 1, 128)
    assert pt.value == 7.0
