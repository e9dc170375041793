"""Figures from small synthetic stores (what is drawn), Pareto fronts, selection, and bad inputs."""

import json
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import pytest

import records
from bench import figures
from bench.frame import pareto_mask
from bench.pareto import main as pareto_main
from bench.pareto import select
from bench.report import ReportSpec, build
from dynabert.config import default_grid

from factories import accuracy_record, latency_record


def lat(spec, ms, sha="s1", model="bert-base", family="dynabert", runtime="onnxruntime", mem=100.0):
    return latency_record(
        spec,
        ms,
        model_id=model,
        checkpoint_sha=sha,
        family=family,
        runtime=runtime,
        params=int(1e8 * spec.width_mult * spec.depth_mult),
        flops=int(2e10 * spec.width_mult * spec.depth_mult),
        latency_ms_p90=ms * 1.1,
        peak_rss_mb=mem,
        artifact_bytes=10 * 2**20,
        cpu_model="Test CPU",
    )


def acc(spec, value, sha="s1"):
    return accuracy_record(
        spec,
        value,
        model_id="run/best",
        checkpoint_sha=sha,
        split="dev (872 examples)",
        params=int(1e8 * spec.width_mult * spec.depth_mult),
        flops=int(2e10 * spec.width_mult * spec.depth_mult),
    )


@pytest.fixture
def store(tmp_path):
    path = tmp_path / "r.jsonl"
    for spec in default_grid():
        cost = spec.width_mult * spec.depth_mult
        records.append(path, lat(spec, 100 * cost))
        records.append(path, acc(spec, 0.85 + 0.05 * cost))
    return path


def test_pareto_mask_hand_made():
    cost = pd.Series([1.0, 2.0, 2.0, 3.0, 4.0])
    accuracy = pd.Series([80.0, 85.0, 84.0, 85.0, 90.0])
    assert pareto_mask(cost, accuracy).tolist() == [True, True, False, False, True]


def test_accuracy_figure_draws_what_it_says(store):
    from bench.frame import efficiency, joined, load_records, measured_accuracy

    recs = load_records([store])
    df = joined(efficiency(recs), measured_accuracy(recs, "sst2"))
    fig = figures.accuracy_figure(df, "sst2", "test")
    ax = fig.axes[0]
    drawn = figures.drawn_points(ax)
    # the torch model's accuracy beside onnxruntime latency: said so (half-filled markers)
    assert sorted(drawn) == sorted(
        f"DynaBERT w={w:g} (measured on the torch model)" for w in (1.0, 0.75, 0.5, 0.25)
    )
    assert all(len(xy) == 3 for xy in drawn.values())  # 3 depths per width
    front = [ln for ln in ax.lines if ln.get_label().startswith("Pareto front")][0]
    # accuracy rises with cost here, so every distinct cost's best point is on the front
    assert len(front.get_xdata()) == len(set(df.params))
    assert ax.get_xlabel().startswith("active parameters") and "(%)" in ax.get_ylabel()
    assert fig.axes[2].get_xlabel() == "median latency per query\n(ms)"
    plt.close(fig)


def test_cited_points_are_hollow_and_baselines_marked(tmp_path):
    path = tmp_path / "r.jsonl"
    for spec in default_grid():
        records.append(path, lat(spec, 50.0))
    from dynabert.config import SubnetSpec

    records.append(
        path, lat(SubnetSpec(), 30.0, sha="t", model="tinybert-6l-768d", family="baseline")
    )
    out = tmp_path / "rep"
    index = build(ReportSpec([str(path)], out, ["sst2"]))
    text = index.read_text()
    assert "sst2_local-cpu_onnxruntime_t1.png" in text and "Table 1 layout, cited" in text
    table = pd.read_csv(out / "sst2_local-cpu_onnxruntime_t1.csv")
    assert set(table["model"]) == {"DynaBERT", "BERT-base (teacher)", "TinyBERT-6L-768D"}
    assert table["accuracy source"].str.startswith("cited").all()


def test_report_with_measured_accuracy(store, tmp_path):
    index = build(ReportSpec([str(store)], tmp_path / "rep", ["sst2"], use_cited=False))
    t1 = pd.read_csv(tmp_path / "rep" / "sst2_table1_measured.csv", index_col=0)
    assert t1.shape == (4, 3) and t1.loc[1.0, "1.0"] == pytest.approx(90.0)
    assert (tmp_path / "rep" / "index.html").read_text().count("<img") >= 3
    assert "Test CPU" in index.read_text()


def test_selection_cases():
    df = pd.DataFrame(
        {
            "label": ["a", "b", "c", "d"],
            "subnet_id": ["w1", "w2", "w3", "w4"],
            "accuracy": [90.0, 92.0, 92.0, 95.0],
            "latency_ms_p50": [5.0, 9.0, 8.0, 30.0],
            "peak_rss_mb": [50.0, 60.0, 80.0, 100.0],
            "flops": [1, 2, 2, 4],
        }
    )
    best, fits = select(df, 10.0, None, None)
    assert best.label == "c"  # tie at 92%: the faster one
    best, _ = select(df, 10.0, 70.0, None)
    assert best.label == "b"
    best, fits = select(df, 1.0, None, None)
    assert best is None and fits.empty
    best, _ = select(df, 100.0, None, 99.0)
    assert best is None


def test_select_cli(store, capsys):
    assert pareto_main(["select", "--results", str(store), "--max-latency-ms", "40"]) == 0
    out = capsys.readouterr().out
    assert "w0.50-d0.75" in out or "w0.75-d0.50" in out
    assert "python -m dynabert extract" in out and "python -m bench.export" in out
    assert pareto_main(["select", "--results", str(store), "--max-latency-ms", "1"]) == 1
    assert "no sub-network fits" in capsys.readouterr().out


def test_bad_inputs(tmp_path, store, capsys):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert pareto_main(["--results", str(empty), "--out", str(tmp_path / "o")]) == 2
    assert "is empty" in capsys.readouterr().err
    foreign = tmp_path / "foreign.json"
    foreign.write_text(json.dumps({"hello": "world"}))
    assert pareto_main(["--results", str(foreign), "--out", str(tmp_path / "o")]) == 2
    assert "holds no results records" in capsys.readouterr().err
    from dynabert.config import SubnetSpec

    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text(store.read_text())
    records.append(mixed, lat(SubnetSpec(0.5, 0.5), 10.0, sha="other"))
    assert pareto_main(["--results", str(mixed), "--out", str(tmp_path / "o")]) == 2
    assert "mix DynaBERT records of 2 checkpoints" in capsys.readouterr().err
    assert (
        pareto_main(["--results", str(mixed), "--checkpoint", "s1", "--out", str(tmp_path / "o")])
        == 0
    )


def test_efficiency_only_store_still_draws(tmp_path, capsys):

    path = tmp_path / "r.jsonl"
    for spec in default_grid():
        records.append(path, lat(spec, 10.0, model="tiny"))
    assert (
        pareto_main(
            ["--results", str(path), "--task", "cola", "--no-cited", "--out", str(tmp_path / "o")]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "no accuracy for task 'cola'" in out
    assert (tmp_path / "o" / "figures" / "latency_vs_flops_local-cpu.png").is_file()


def test_an_artifacts_own_accuracy_goes_with_its_runtime(tmp_path):
    """Accuracy measured on an int8 artifact replaces the torch accuracy for that runtime only."""
    from bench.frame import efficiency, joined, load_records, measured_accuracy

    path = tmp_path / "r.jsonl"
    spec = default_grid()[0]
    records.append(path, lat(spec, 10.0, runtime="onnxruntime"))
    records.append(path, lat(spec, 4.0, runtime="onnxruntime-int8"))
    records.append(path, acc(spec, 0.90))
    import dataclasses

    records.append(
        path,
        dataclasses.replace(
            acc(spec, 0.86),
            runtime="onnxruntime-int8",
            split="dev (872 examples; onnxruntime-int8 artifact)",
        ),
    )
    recs = load_records([path])
    df = joined(efficiency(recs), measured_accuracy(recs, "sst2")).set_index("runtime")
    assert len(df) == 2
    assert (
        df.loc["onnxruntime", "accuracy"] == pytest.approx(90.0)
        and not df.loc["onnxruntime", "accuracy_from_artifact"]
    )
    assert (
        df.loc["onnxruntime-int8", "accuracy"] == pytest.approx(86.0)
        and df.loc["onnxruntime-int8", "accuracy_from_artifact"]
    )
    index = build(ReportSpec(inputs=[path], out=tmp_path / "rep", tasks=("sst2",), use_cited=False))
    text = index.read_text()
    assert "Accuracy measured on the onnxruntime-int8 artifacts themselves." in text
    t1 = pd.read_csv(tmp_path / "rep" / "sst2_table1_measured.csv", index_col=0)
    assert t1.iloc[0, 0] == pytest.approx(90.0)  # Table 1 is the model's own (torch) accuracy


def test_two_machines_are_labelled_side_by_side_never_pooled(tmp_path):
    """A reference store (no fingerprint: from before machine identity) and this machine's store: every table and
    figure names both machines; the accuracy figure has one latency panel per machine, each with its own front."""
    import dataclasses

    from records.machine import this_machine

    here = this_machine()
    ref, mine = tmp_path / "ref.jsonl", tmp_path / "mine.jsonl"
    for spec in default_grid():
        cost = spec.width_mult * spec.depth_mult
        records.append(
            ref,
            dataclasses.replace(
                lat(spec, 100 * cost),
                cpu_model="AMD EPYC",
                timestamp_utc="2026-11-20T10:00:00+00:00",
            ),
        )
        records.append(
            mine,
            dataclasses.replace(
                lat(spec, 50 * cost),
                cpu_model=here.cpu_model,
                machine_fingerprint=here.fingerprint,
                machine=here.to_dict(),
                timestamp_utc="2026-11-30T10:00:00+00:00",
            ),
        )
    out = tmp_path / "rep"
    index = build(
        ReportSpec(
            [str(ref), str(mine)],
            out,
            ["sst2"],
            reference=[str(ref)],
            this_machine=here.fingerprint,
        )
    )
    text = index.read_text()
    assert (
        "**this machine: " in text
        and "**reference (committed): AMD EPYC, measured 2026-11-20**" in text
    )
    assert f"fingerprint {here.fingerprint}" in text and "no fingerprint recorded" in text
    wide = pd.read_csv(out / "latency_by_machine.csv")
    mine_col = next(c for c in wide.columns if c.startswith("this machine"))
    ref_col = next(c for c in wide.columns if c.startswith("reference"))
    assert (
        (wide[ref_col] / wide[mine_col]).round(6).eq(2.0).all()
    )  # 100 vs 50 ms x cost: never averaged
    table = pd.read_csv(out / "sst2_local-cpu_onnxruntime_t1.csv")
    assert table.machine.nunique() == 2 and (table.model == "DynaBERT").sum() == 2 * len(
        default_grid()
    )
    assert table.groupby("machine")["on front"].any().all()  # a front per machine

    from bench.frame import cited_accuracy, efficiency, joined, load_records

    recs = load_records([ref, mine])
    j = joined(efficiency(recs, roles={here.fingerprint: "this machine"}), cited_accuracy("sst2"))
    fig = figures.accuracy_figure(j.assign(metric="accuracy"), "sst2", "t")
    titles = [ax.get_title() for ax in fig.axes[2:]]
    assert (
        len(titles) == 2
        and titles[0].startswith("latency on this machine")
        and "AMD EPYC" in titles[1]
    )
    plt.close(fig)


def test_default_run_never_writes_the_reference(tmp_path, capsys):
    from bench.pareto import REFERENCE

    assert pareto_main(["--out", str(REFERENCE)]) == 2
    assert "committed reference results" in capsys.readouterr().err


def test_report_commands_are_portable(tmp_path, monkeypatch):
    """Committed reports show commands that paste from the repository root: quoted, no absolute paths."""
    from bench.report import portable_command

    monkeypatch.chdir(tmp_path)
    cmd = portable_command(
        [
            "/some/venv/bin/python",
            "-m",
            "bench.pareto",
            "--results",
            str(tmp_path / "r.jsonl"),
            f"--out={tmp_path / 'rep'}",
            "--title",
            "A title (with spaces)",
        ]
    )
    assert (
        cmd == "python -m bench.pareto --results r.jsonl --out=rep --title 'A title (with spaces)'"
    )


def test_portable_path_makes_paths_under_the_working_directory_relative(tmp_path, monkeypatch):
    """What a committed summary names as its checkpoint (search.json) carries no absolute path of this machine."""
    from bench.report import portable_path

    monkeypatch.chdir(tmp_path)
    assert portable_path(tmp_path / "runs" / "depth") == "runs/depth"
    assert portable_path(Path.home() / "ck") == "~/ck"
    assert portable_path("runs/depth") == "runs/depth"


def test_select_without_matching_accuracy_names_the_fix(tmp_path, capsys):
    """Latency of one checkpoint, accuracy of another (here: none matches): a clear message, not an IndexError."""
    path = tmp_path / "r.jsonl"
    for spec in default_grid():
        records.append(path, lat(spec, 10.0, sha="a"))
        records.append(path, acc(spec, 0.9, sha="b"))
    assert pareto_main(["select", "--results", str(path), "--max-latency-ms", "1"]) == 2
    assert "no accuracy matches the latency records" in capsys.readouterr().err


def test_table1_markdown_keeps_the_widths(store, tmp_path):
    """0.75 and 0.25 stay 0.75 and 0.25 in index.md (a one-decimal float format had printed 0.8 and 0.2)."""
    text = build(ReportSpec([str(store)], tmp_path / "rep", ["sst2"], use_cited=False)).read_text()
    assert "width 0.75" in text and "width 0.25" in text and "depth 0.75" in text


def per_layer_at_a_grid_summary():
    """A per-layer sub-network of bert-base whose summary (mean head share 0.5 over kept layers, half the layers)
    is the grid point (0.5, 0.5)'s, but which is not that grid point."""
    from dynabert.config import ARCHITECTURES
    from dynabert.subnet import LayerwiseSpec, layer_plan, summary_mults

    heads = (9, 9, 3, 3, 6, 6, 0, 0, 0, 0, 0, 0)
    spec = LayerwiseSpec(heads, tuple(256 * h for h in heads))
    assert summary_mults(
        layer_plan(spec, ARCHITECTURES["bert-base"]), ARCHITECTURES["bert-base"]
    ) == (0.5, 0.5)
    return spec


def test_a_per_layer_record_with_a_grid_points_summary_never_joins_that_grid_point(
    store, tmp_path, capsys
):
    """Its width_mult/depth_mult equal (0.5, 0.5); Table 1, the joined cells and select go by subnet_id."""
    from dataclasses import replace

    from dynabert.config import SubnetSpec

    spec, grid = per_layer_at_a_grid_summary(), SubnetSpec(0.5, 0.5)
    records.append(store, replace(lat(grid, 1.0), subnet_id=spec.subnet_id, subnet=spec.to_json()))
    records.append(store, replace(acc(grid, 0.50), subnet_id=spec.subnet_id, subnet=spec.to_json()))
    build(ReportSpec([str(store)], tmp_path / "rep", ["sst2"], use_cited=False))
    t1 = pd.read_csv(tmp_path / "rep" / "sst2_table1_measured.csv", index_col=0)
    assert t1.loc[0.5, "0.5"] == pytest.approx(
        100 * (0.85 + 0.05 * 0.25)
    )  # the grid point's own, not 50
    cells = pd.read_csv(tmp_path / "rep" / "sst2_local-cpu_onnxruntime_t1.csv").set_index(
        "sub-network"
    )
    assert cells.loc["w0.50-d0.50", "accuracy (%)"] == pytest.approx(86.25)
    assert cells.loc["w0.50-d0.50", "median ms"] == pytest.approx(25.0)
    assert (cells.loc[spec.subnet_id, "accuracy (%)"], cells.loc[spec.subnet_id, "median ms"]) == (
        50.0,
        1.0,
    )
    assert pareto_main(["select", "--results", str(store), "--max-latency-ms", "2"]) == 0
    out = capsys.readouterr().out
    assert (
        f"{spec.subnet_id}: 50.0%" in out
        and f"--subnet {spec.subnet_id}" in out
        and "--width 0.5" not in out
    )


def test_the_default_run_declares_its_sweep_once(tmp_path):
    """The command the default report prints is the command that runs: one argument list, parsed by the sweep."""
    import shlex

    from bench.pareto import (
        DEFAULT_BASELINES,
        DEFAULT_PROCESSES,
        default_report,
        default_sweep_argv,
    )
    from bench.sweep import config_from_argv

    argv = default_sweep_argv(tmp_path / "mine", 0.5)
    cfg = config_from_argv(argv)
    assert cfg.models == ["bert-base"] and cfg.baselines == DEFAULT_BASELINES
    assert (cfg.runtimes, cfg.threads, cfg.seq_len, cfg.min_time_s) == (
        ("onnxruntime",),
        (1,),
        128,
        0.5,
    )
    assert (
        cfg.processes == DEFAULT_PROCESSES
        and cfg.results == (tmp_path / "mine" / "records.jsonl").as_posix()
    )
    command = "python -m bench.sweep " + shlex.join(argv)
    spec = default_report(tmp_path / "mine", command, "f" * 12)
    assert f"# which runs: {command}" in spec.commands and spec.inputs[-1] == cfg.results
