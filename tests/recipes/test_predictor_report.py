"""The predictor report: summary.json in the issue's shape (one predictor per measured device / runtime, the search's
budgets), the error plots, the search front figure, and a README labelled preliminary only when asked."""

import json
import random
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from test_predictor import linear_law, random_spec, record, synthetic, table_law  # noqa: E402

import records  # noqa: E402
from recipes.predictor_report import main  # noqa: E402


def arm_records(n: int = 30) -> list:
    """Counted (emulated-ARM) records: instructions follow the linear law exactly."""
    rng = random.Random(3)
    specs = {s.subnet_id: s for s in (random_spec(rng) for _ in range(n))}
    return [
        record(
            s, None, device="qemu-arm", seq_len=32, instructions_per_inference=1e6 * linear_law(s)
        )
        for s in specs.values()
    ]


def search_json(path: Path) -> Path:
    grid = [
        {"subnet": f"w{w:.2f}-d1.00", "accuracy": 0.80 + 0.1 * w, "measured_ms": 20 * w}
        for w in (0.25, 0.5, 1.0)
    ]
    cand = {
        "subnet": "h6.6-f768.768",
        "subset_accuracy": 0.9,
        "predicted_ms": 9.0,
        "accuracy": 0.87,
        "measured_ms": 9.5,
    }
    budget = {
        "latency_budget_ms": 10.0,
        "grid_best_subnet": "w0.50-d1.00",
        "grid_best_accuracy": 0.85,
        "grid_best_latency_measured_ms": 10.0,
        "searched_subnet": cand["subnet"],
        "searched_accuracy": 0.87,
        "searched_latency_measured_ms": 9.5,
        "searched_latency_predicted_ms": 9.0,
        "config": {"heads": [6, 6], "ffn": [768, 768]},
        "candidates": [cand],
    }
    path.write_text(
        json.dumps(
            {
                "checkpoint": "runs/x/depth",
                "checkpoint_sha": "abc",
                "split": "dev (872)",
                "device": "local-cpu",
                "runtime": "onnxruntime",
                "threads": 1,
                "seq_len": 128,
                "machine_fingerprint": None,
                "search_examples": 256,
                "grid": grid,
                "budgets": [budget],
            }
        )
    )
    return path


def test_report_has_one_predictor_per_device_and_the_search_budgets(tmp_path):
    store = tmp_path / "r.jsonl"
    for r in synthetic(table_law, n=40) + arm_records():
        records.append(store, r)
    rep = tmp_path / "rep"
    assert (
        main(
            [
                "--records",
                str(store),
                "--out",
                str(rep),
                "--weights",
                "synthetic",
                "--search",
                str(search_json(tmp_path / "search.json")),
            ]
        )
        == 0
    )
    s = json.loads((rep / "summary.json").read_text())
    cpu, arm = s["predictor"]
    for p in (cpu, arm):
        assert set(p) >= {
            "device",
            "runtime",
            "n_train",
            "n_heldout",
            "mape",
            "within_10pct",
            "spearman",
        }
    assert (cpu["device"], cpu["model"], cpu["value"]) == ("local-cpu", "lookup", "latency_ms_p50")
    assert cpu["mape"] < 1e-6 and cpu["within_10pct"] == 1.0 and s["status"] == "measured"
    assert (arm["device"], arm["seq_len"], arm["value"]) == (
        "qemu-arm",
        32,
        "instructions_per_inference",
    )
    assert arm["model"] in ("linear", "lookup") and arm["mape"] < 1e-6 and arm["within_5pct"] == 1.0
    assert "process_spread" not in arm  # a count has no fresh-process spread
    (b,) = s["budgets"]
    assert (
        set(b)
        >= {
            "latency_budget_ms",
            "grid_best_accuracy",
            "searched_accuracy",
            "searched_latency_measured_ms",
            "config",
        }
        and b["searched_accuracy"] == 0.87
    )
    text = (rep / "README.md").read_text()
    assert (
        "PRELIMINARY" not in text
        and "`synthetic` weights" in text
        and "## qemu-arm / onnxruntime" in text
    )
    assert "| 10 | w0.50-d1.00 | 85.00 | 10.00 | h6.6-f768.768 | 87.00 | 9.500 | +2.00 |" in text
    for png in ("predictor-error.png", "predictor-error-qemu-arm.png", "search-front.png"):
        assert (rep / png).stat().st_size > 1000


def test_the_search_section_says_when_it_was_timed_how_it_was_calibrated_and_the_command(tmp_path):
    store = tmp_path / "r.jsonl"
    for r in synthetic(table_law, n=40):
        records.append(store, r)
    s = json.loads(search_json(tmp_path / "search.json").read_text())
    s["budgets"][0].update(
        answer_subnet="h6.6-f768.768",
        answer_accuracy=0.87,
        answer_latency_measured_ms=9.5,
        answer_from="search",
    )
    s.update(
        calibration=[
            {
                "round": 0,
                "on": "grid",
                "scale": 0.765,
                "offset_ms": 0.47,
                "n": 12,
                "mape_before": 0.189,
                "mape_after": 0.064,
            }
        ],
        rounds=2,
        timed_round=1,
        measured_utc=["2026-12-01T07:05:30+00:00", "2026-12-01T07:06:32+00:00"],
        command="python -m bench.pareto search --checkpoint runs/x/depth --max-latency-ms 10",
        processes=3,
        min_time_s=2.0,
        load_avg_1min=[0.97, 1.19],
    )
    s["calibration"][0]["measured_utc"] = ["2026-12-01T06:52:25+00:00", "2026-12-01T06:52:50+00:00"]
    s["budgets"][0]["answer_process_medians_ms"] = [10.108, 10.012, 9.898]
    (tmp_path / "search.json").write_text(json.dumps(s))
    rep = tmp_path / "rep"
    assert (
        main(
            [
                "--records",
                str(store),
                "--out",
                str(rep),
                "--weights",
                "w",
                "--search",
                str(tmp_path / "search.json"),
                "--search-note",
                "One dev example is 0.115 points.",
            ]
        )
        == 0
    )
    text = (rep / "README.md").read_text()
    assert (
        "| 10 | w0.50-d1.00 | 85.00 | 10.00 | h6.6-f768.768 | 87.00 | 9.500 | +2.00 | search |"
        in text
    )
    assert (
        "timed in one sweep, 2026-12-01T07:05:30+00:00 to 2026-12-01T07:06:32+00:00 (round 1 of 2 search round(s))"
        in text
    )
    assert (
        "Calibration on the grid, timed just before the search (2026-12-01T06:52:25+00:00 to "
        "2026-12-01T06:52:50+00:00): measured = 0.765 x predicted +0.47 ms (12 "
        "sub-networks; the predictor's MAPE on them 18.9% before, 6.4% after)."
    ) in text
    assert (
        "```bash\npython -m bench.pareto search --checkpoint runs/x/depth --max-latency-ms 10\n```"
        in text
    )
    assert "**Reading the search table.** One dev example is 0.115 points." in text
    assert (
        "Each cell: 3 fresh process(es), >= 2 s of timed runs each after warm-ups, the median of the pooled runs; "
        "1-min load average 0.97-1.19 as the cells finished."
    ) in text
    assert (
        "At 10 ms the answer's fresh-process medians were 10.11, 10.01, 9.898 ms: 2 of 3 over the budget; the median "
        "of the pooled runs fits."
    ) in text


def test_preliminary_report_is_labelled_and_has_no_budgets(tmp_path):
    store = tmp_path / "r.jsonl"
    for r in synthetic(table_law, n=40):
        records.append(store, r)
    assert (
        main(
            [
                "--records",
                str(store),
                "--out",
                str(tmp_path / "rep"),
                "--weights",
                "w",
                "--preliminary",
            ]
        )
        == 0
    )
    s = json.loads((tmp_path / "rep" / "summary.json").read_text())
    assert s["status"] == "preliminary" and s["budgets"] == [] and len(s["predictor"]) == 1
    text = (tmp_path / "rep" / "README.md").read_text()
    assert (
        "PRELIMINARY" in text
        and "Not run yet" in text
        and not (tmp_path / "rep" / "search-front.png").exists()
    )


def test_each_group_has_its_own_figure_and_an_unfittable_group_is_skipped_with_its_reason(
    tmp_path, capsys
):
    """Two runtimes of one device get two error plots (never one overwriting the other); a group of 3 points is
    named as not fitted, and the --runtime filter keeps one group."""
    from dataclasses import replace

    store = tmp_path / "r.jsonl"
    recs = synthetic(table_law, n=40)
    few = [replace(r, runtime="litert") for r in synthetic(linear_law, n=3)]
    for r in recs + [replace(r, runtime="onnxruntime-int8") for r in recs] + few:
        records.append(store, r)
    rep = tmp_path / "rep"
    assert main(["--records", str(store), "--out", str(rep), "--weights", "w"]) == 0
    s = json.loads((rep / "summary.json").read_text())
    assert [p["runtime"] for p in s["predictor"]] == ["onnxruntime", "onnxruntime-int8"]
    assert [k["group"][1] for k in s["skipped"]] == ["litert"] and "at least 4" in s["skipped"][0][
        "reason"
    ]
    assert "skipped local-cpu / litert" in capsys.readouterr().err
    text = (rep / "README.md").read_text()
    pngs = sorted(p.name for p in rep.glob("predictor-error*.png"))
    assert (
        len(pngs) == 2
        and all(f"]({png})" in text for png in pngs)
        and "Not fitted: local-cpu / litert" in text
    )
    assert (
        main(
            [
                "--records",
                str(store),
                "--out",
                str(tmp_path / "one"),
                "--weights",
                "w",
                "--runtime",
                "onnxruntime",
            ]
        )
        == 0
    )
    assert len(json.loads((tmp_path / "one" / "summary.json").read_text())["predictor"]) == 1


def test_bad_inputs_are_named_before_anything_is_written(tmp_path, capsys):
    store = tmp_path / "r.jsonl"
    for r in synthetic(table_law, n=40):
        records.append(store, r)
    rep = tmp_path / "rep"
    base = ["--records", str(store), "--out", str(rep), "--weights", "w"]
    cases = [
        (
            ["--records", str(tmp_path / "missing.jsonl"), "--out", str(rep), "--weights", "w"],
            "does not exist",
        ),
        ([*base, "--search", str(tmp_path)], "cannot be read as a search.json"),
        ([*base, "--search", str(store)], "cannot be read as a search.json"),
        (
            [*base, "--device", "nosuch"],
            "groups in the records: local-cpu / onnxruntime / 1 thread(s) / seq 128",
        ),
    ]
    broken = tmp_path / "broken.json"
    s = json.loads(search_json(tmp_path / "s.json").read_text())
    del s["budgets"][0]["latency_budget_ms"]
    broken.write_text(json.dumps(s))
    cases.append(([*base, "--search", str(broken)], "no budgets[0].latency_budget_ms"))
    other = tmp_path / "other.json"  # measured at another sequence length than any fitted predictor
    s = json.loads(search_json(tmp_path / "s.json").read_text())
    other.write_text(json.dumps({**s, "seq_len": 32}))
    cases.append(([*base, "--search", str(other)], "which none of the fitted predictors describes"))
    for argv, message in cases:
        assert main(argv) == 2, argv
        assert message in capsys.readouterr().err, argv
    assert not rep.exists()
    (tmp_path / "file").write_text("x")
    assert main([*base[:2], "--out", str(tmp_path / "file"), "--weights", "w"]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err


@pytest.mark.parametrize(
    "mend, message",
    [
        (lambda s: s["grid"][1].pop("accuracy"), "no grid[1].accuracy"),
        (
            lambda s: s["budgets"][0]["candidates"][0].pop("accuracy"),
            "no budgets[0].candidates[0].accuracy",
        ),
        (
            lambda s: s["budgets"][0].update(latency_budget_ms="1"),
            'budgets[0].latency_budget_ms is "1", not a number',
        ),
        (
            lambda s: s["budgets"][0].update(searched_accuracy="0.47"),
            'budgets[0].searched_accuracy is "0.47", not a number or null',
        ),
        (
            lambda s: s["budgets"][0]["candidates"][0].update(measured_ms=True),
            "budgets[0].candidates[0].measured_ms is true, not a number or null",
        ),
        (lambda s: s["budgets"][0].update(candidates={}), "budgets[0].candidates is not a list"),
        (lambda s: s.update(grid=[3]), "grid[0] is 3, not an object"),
        (lambda s: s.update(threads="1"), 'search.threads is "1", not a number'),
        (
            lambda s: s["budgets"][0].update(
                searched_accuracy=None
            ),  # a named pick without its accuracy
            "budgets[0].searched_subnet is set but budgets[0].searched_accuracy is null",
        ),
        (
            lambda s: s["budgets"][0].update(answer_from="banana"),
            'budgets[0].answer_from is "banana", not "search"',
        ),
        (
            lambda s: s["budgets"][0].update(answer_subnet=123),
            "budgets[0].answer_subnet is 123, not text or null",
        ),
        (
            lambda s: s["budgets"][0].update(answer_subnet="w0.50-d1.00"),
            "budgets[0].answer_subnet is set but budgets[0].answer_accuracy is null",
        ),
        (lambda s: s.update(rounds="two"), 'search.rounds is "two", not a whole number >= 1'),
        (
            lambda s: s.update(
                calibration=[
                    {
                        "round": 1.5,
                        "scale": -3,
                        "offset_ms": 0,
                        "n": 2,
                        "mape_before": 0.1,
                        "mape_after": 0.1,
                    }
                ]
            ),
            "calibration[0] is out of range",
        ),
        (lambda s: s.update(measured_utc=["", ""]), "search.measured_utc is"),
        (
            lambda s: s.update(command="python -m x\n```\n# injected"),
            "search.command is not one line of text",
        ),
    ],
)
def test_every_item_of_the_search_file_is_checked_before_anything_is_written(
    tmp_path, capsys, mend, message
):
    """Each grid entry, budget row and candidate: its keys, and numbers (or null where the search writes null)."""
    store = tmp_path / "r.jsonl"
    for r in synthetic(table_law, n=40):
        records.append(store, r)
    s = json.loads(search_json(tmp_path / "s.json").read_text())
    mend(s)
    (tmp_path / "bad.json").write_text(json.dumps(s))
    rep = tmp_path / "rep"
    assert (
        main(
            [
                "--records",
                str(store),
                "--out",
                str(rep),
                "--weights",
                "w",
                "--search",
                str(tmp_path / "bad.json"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert err.startswith("error: --search ") and message in err, err
    assert not rep.exists()


def test_too_few_points_are_counted_as_measured_and_a_constant_latency_has_no_spearman(
    tmp_path, capsys
):
    """2 measured points say '2 measured points' (not the 1 left to fit); all latencies equal: Spearman undefined
    (null in summary.json, n/a in the README) and no scipy warning."""
    import warnings
    from dataclasses import replace

    store = tmp_path / "r.jsonl"
    for r in synthetic(linear_law, n=2):
        records.append(store, r)
    assert main(["--records", str(store), "--out", str(tmp_path / "two"), "--weights", "w"]) == 2
    err = capsys.readouterr().err
    assert "2 measured points: 1 held out leaves 1 to fit" in err and "1 measured points" not in err
    flat = tmp_path / "flat.jsonl"
    for r in synthetic(linear_law, n=40):
        records.append(flat, replace(r, latency_ms_p50=5.0, env={}))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # scipy's ConstantInputWarning would fail here
        assert (
            main(["--records", str(flat), "--out", str(tmp_path / "flat"), "--weights", "w"]) == 0
        )
    (p,) = json.loads((tmp_path / "flat" / "summary.json").read_text())["predictor"]
    assert p["spearman"] is None and all(m["spearman"] is None for m in p["models"].values())
    text = (tmp_path / "flat" / "README.md").read_text()
    assert "| n/a |" in text and "nan" not in text
