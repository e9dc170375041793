"""Figures and tables a reader can put in a paper (issue 29): one condition per figure, each record drawn once,
units following the batch, cited points only beside their model, every front point drawn, real HTML. Checked on
the figures' own data (bench.figures.drawn_points, titles, tables), never on pixels."""

import dataclasses
import json
from html.parser import HTMLParser

import matplotlib.pyplot as plt
import pandas as pd
import pytest

import records
from bench import conditions, figures
from bench.pareto import main as pareto_main
from bench.report import ReportSpec, build
from dynabert.config import SubnetSpec, default_grid

from factories import accuracy_record, latency_record

GRID = [SubnetSpec(1.0, 1.0), SubnetSpec(0.5, 1.0), SubnetSpec(0.25, 0.5)]


def lat(spec, ms, seq=128, batch=1, model="bert-base", **kw):
    cost = spec.width_mult * spec.depth_mult
    return latency_record(
        spec,
        ms,
        model_id=model,
        checkpoint_sha="s1",
        n_layers=12 if model == "bert-base" else 6,
        n_heads=12,
        ffn_dim=3072 if model == "bert-base" else 1536,
        runtime=kw.pop("runtime", "onnxruntime"),
        precision=kw.pop("precision", "fp32"),
        batch_size=batch,
        seq_len=seq,
        params=int(1e8 * cost),
        flops=int(2e10 * cost * seq / 128) * batch,  # records hold the whole batch's FLOPs
        latency_ms_p90=ms * 1.1,
        peak_rss_mb=100.0,
        cpu_model="Test CPU",
        timestamp_utc=kw.pop("timestamp_utc", "2026-12-01T00:00:00+00:00"),
        env=kw.pop("env", {}),
        **kw,
    )


def acc(spec, value, model="runs/mine/best", seq=128, runtime=None):
    return accuracy_record(
        spec,
        value,
        model_id=model,
        checkpoint_sha="s1",
        n_layers=6,
        n_heads=12,
        ffn_dim=1536,
        split="dev (872 examples)",
        seq_len=seq,
        runtime=runtime,
        params=int(1e8 * spec.width_mult * spec.depth_mult),
        flops=int(2e10 * spec.width_mult * spec.depth_mult),
    )


@pytest.fixture
def captured(monkeypatch):
    """Every figure the report saves, with its file name, read before the real `save` writes and closes it."""
    seen = {}
    real = figures.save

    def keep(fig, path):
        latency_axes = [ax for ax in fig.axes if "latency" in ax.get_xlabel()]
        seen[path.name] = {
            "title": fig._suptitle.get_text() if fig._suptitle else fig.axes[0].get_title(),
            "points": [figures.drawn_points(ax) for ax in fig.axes],
            "xlabels": [ax.get_xlabel().replace("\n", " ") for ax in fig.axes],
            "latency": [figures.drawn_points(ax) for ax in latency_axes],
        }
        return real(fig, path)

    monkeypatch.setattr(figures, "save", keep)
    return seen


def mixed_store(path, model="bert-base"):
    """The same sub-networks at seq 16, seq 64 and (seq 64) batch 8, with measured accuracy at seq 128."""
    for spec in GRID:
        cost = spec.width_mult * spec.depth_mult
        records.append(path, lat(spec, 10 * cost, seq=16, model=model))
        records.append(path, lat(spec, 40 * cost, seq=64, model=model))
        records.append(path, lat(spec, 300 * cost, seq=64, batch=8, model=model))
        records.append(path, acc(spec, 0.8 + 0.1 * cost))
    return path


def test_seq_16_seq_64_and_batch_8_get_one_figure_each_titled_with_its_condition(
    tmp_path, captured
):
    store = mixed_store(tmp_path / "r.jsonl")
    build(ReportSpec([str(store)], tmp_path / "rep", ["sst2"], use_cited=False))
    acc_figs = {k: v for k, v in captured.items() if k.startswith("sst2_local-cpu")}
    assert len(acc_figs) == 3, sorted(captured)
    want = {(16, 1): 10, (64, 1): 40, (64, 8): 300}  # ms x cost, per condition
    for fig in acc_figs.values():
        # the condition, however the title wraps it (a workload field makes it two lines)
        title = " ".join(fig["title"].split("; latency")[0].split())
        held = [(s, b) for s, b in want if f"seq {s}," in title and f"batch {b}," in title]
        assert len(held) == 1, title  # exactly one condition named
        seq, batch = held[0]
        assert "accuracy at seq 128" in title and "latency timed at length" in fig["title"]
        (panel,) = fig["latency"]  # one machine: one latency panel
        xs = sorted(x for pts in panel.values() for x, _ in pts)
        costs = sorted(s.width_mult * s.depth_mult for s in GRID)
        assert xs == pytest.approx(
            [want[(seq, batch)] * c for c in costs]
        )  # no other condition's point
        label = [lab for lab in fig["xlabels"] if "latency" in lab][0]
        assert ("per batch of 8" in label) == (batch == 8) and ("per query" in label) == (
            batch == 1
        )
    # latency vs FLOPs: one figure per condition, FLOPs per sequence whatever the batch
    lvf = {k: v for k, v in captured.items() if k.startswith("latency_vs_flops")}
    assert len(lvf) == 3
    for fig in lvf.values():
        xs = {round(x, 6) for pts in fig["points"][0].values() for x, _ in pts}
        seq = 16 if "seq 16" in fig["title"] else 64
        assert xs == {round(20 * s.width_mult * s.depth_mult * seq / 128, 6) for s in GRID}
    tables = sorted((tmp_path / "rep").glob("sst2_local-cpu_*.csv"))
    assert len(tables) == 3
    for t in map(pd.read_csv, tables):  # each table one condition, with its batch column
        assert t.groupby(["seq", "batch"]).ngroups == 1 and len(t) == len(GRID)


def test_select_refuses_mixed_conditions_and_takes_the_same_filters(tmp_path, capsys):
    store = mixed_store(tmp_path / "r.jsonl")
    argv = ["select", "--results", str(store), "--max-latency-ms", "1000", "--task", "sst2"]
    assert pareto_main(argv) == 2
    err = capsys.readouterr().err
    assert "3 conditions" in err and "seq 16" in err and "batch 8" in err
    assert "--seq-len" in err and "--batch" in err
    assert pareto_main([*argv, "--seq-len", "16"]) == 0
    out = capsys.readouterr().out
    assert "seq 16" in out and "batch 1" in out and "10.00 ms" in out  # the w1 d1 at seq 16


def test_conditions_are_one_declared_list_and_a_new_field_splits():
    df = pd.DataFrame(
        {"device": ["a", "a"], "seq_len": [16, 16], "workload": ["synthetic", "task"]}
    )
    parts = conditions.split(df)
    assert [c.title() for c, _ in parts] == [
        "a, seq 16, synthetic workload",
        "a, seq 16, task workload",
    ]
    assert "workload" in conditions.FIELDS and "accuracy_seq_len" in conditions.FIELDS


def test_repeated_measurements_are_one_point_with_the_spread_as_error_bars(tmp_path, captured):
    path = tmp_path / "r.jsonl"
    spec = SubnetSpec()
    for day, ms in (("01", 30.82), ("02", 29.43), ("03", 29.55)):
        env = {"process_medians_ms": [ms - 1, ms, ms + 2]}
        records.append(path, lat(spec, ms, timestamp_utc=f"2026-12-{day}T00:00:00+00:00", env=env))
    records.append(path, acc(spec, 0.9))
    index = build(ReportSpec([str(path)], tmp_path / "rep", ["sst2"], use_cited=False))
    table = pd.read_csv(tmp_path / "rep" / "sst2_local-cpu_onnxruntime_t1.csv")
    assert len(table) == 1 and table["median ms"].iloc[0] == pytest.approx(29.55)  # the newest
    assert table["spread low ms"].iloc[0] == pytest.approx(28.55)
    assert table["spread high ms"].iloc[0] == pytest.approx(31.55)
    assert "2 repeated measurement(s)" in index.read_text() and "newest" in index.read_text()
    (panel,) = captured["sst2_local-cpu_onnxruntime_t1"]["latency"]
    assert sum(len(p) for p in panel.values()) == 1


def minilm_store(path):
    for spec in GRID:
        records.append(path, lat(spec, 10.0, model="runs/mine/depth"))
        records.append(path, acc(spec, 0.55))
    return path


def test_a_minilm_run_gets_no_cited_bert_base_point_unless_asked(tmp_path, captured):
    store = minilm_store(tmp_path / "r.jsonl")
    build(ReportSpec([str(store)], tmp_path / "rep", ["sst2"]))
    labels = {lab for fig in captured.values() for ax in fig["points"] for lab in ax}
    assert labels and not any("cited" in lab for lab in labels), labels
    assert not (tmp_path / "rep" / "sst2_table1_cited.csv").exists()
    captured.clear()
    build(ReportSpec([str(store)], tmp_path / "asked", ["sst2"], use_cited=True))
    assert any("cited" in lab for fig in captured.values() for ax in fig["points"] for lab in ax)


def test_a_bert_base_shaped_run_gets_the_cited_points_hollow(tmp_path):
    path = tmp_path / "r.jsonl"
    for spec in default_grid():
        records.append(path, lat(spec, 50.0 * spec.width_mult))
    j = _joined(path)
    fig = figures.accuracy_figure(j.assign(metric="accuracy"), "sst2", "t")
    lines = [ln for ln in fig.axes[2].lines if "cited" in ln.get_label()]
    assert lines and all(ln.get_markerfacecolor() == "none" for ln in lines)
    plt.close(fig)


def _joined(path):
    from bench.frame import cited_for, efficiency, joined, load_records

    recs = load_records([path])
    return joined(efficiency(recs), cited_for(recs, "sst2", None))


def test_every_front_point_has_a_marker_and_per_layer_subnetworks_their_own_style(tmp_path):
    from bench.frame import efficiency, joined, load_records, measured_accuracy
    from dynabert.subnet import LayerwiseSpec

    path = tmp_path / "r.jsonl"
    for spec in GRID:
        records.append(path, lat(spec, 100 * spec.width_mult * spec.depth_mult))
        records.append(path, acc(spec, 0.5 + 0.05 * spec.width_mult))
    layer = LayerwiseSpec.from_json({"heads": [12, 6] + [0] * 10, "ffn": [3072, 1536] + [0] * 10})
    per_layer = dataclasses.replace(lat(GRID[0], 5.0), subnet_id=layer.subnet_id, width_mult=0.75)
    records.append(path, per_layer)
    records.append(
        path, dataclasses.replace(acc(GRID[0], 0.64), subnet_id=layer.subnet_id, width_mult=0.75)
    )
    recs = load_records([path])
    j = joined(efficiency(recs), measured_accuracy(recs, "sst2"))
    fig = figures.accuracy_figure(j, "sst2", "t")
    ax = fig.axes[2]
    drawn = figures.drawn_points(ax)
    assert any(lab.startswith("DynaBERT per-layer") for lab in drawn)
    marked = {pt for pts in drawn.values() for pt in pts}
    front = next(ln for ln in ax.lines if ln.get_label().startswith("Pareto front"))
    for xy in zip(front.get_xdata(), front.get_ydata()):
        assert (float(xy[0]), float(xy[1])) in marked  # the front's 64% point is drawn
    plt.close(fig)


def test_int8_stand_in_accuracy_is_marked_apart_from_the_artifacts_own(tmp_path):
    from bench.frame import efficiency, joined, load_records, measured_accuracy

    path = tmp_path / "r.jsonl"
    for spec in GRID:
        records.append(path, lat(spec, 10.0, runtime="onnxruntime-int8", precision="int8"))
        records.append(path, acc(spec, 0.8))
    records.append(path, acc(GRID[0], 0.79, runtime="onnxruntime-int8"))
    recs = load_records([path])
    j = joined(efficiency(recs), measured_accuracy(recs, "sst2"))
    fig = figures.accuracy_figure(j, "sst2", "t")
    lines = {ln.get_label(): ln for ln in fig.axes[2].lines}
    own, stand_in = (
        lines["DynaBERT w=1 (measured)"],
        lines["DynaBERT w=0.5 (measured on the torch model)"],
    )
    assert own.get_fillstyle() == "full" and stand_in.get_fillstyle() == "bottom"
    plt.close(fig)


class Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.text = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text.append(data)


def test_index_html_is_real_html_with_tables(tmp_path):
    store = mixed_store(tmp_path / "r.jsonl")
    build(ReportSpec([str(store)], tmp_path / "rep", ["sst2"], commands=["# a comment", "x"]))
    page = Tags()
    page.feed((tmp_path / "rep" / "index.html").read_text())
    assert page.tags.count("table") >= 3 and "strong" in page.tags and "img" in page.tags
    assert "**" not in "".join(page.text)
    assert page.tags.count("h1") == 1  # the comment in the code block is code, not a heading


def test_pytest_benchmark_input_is_labelled_counted_and_written_where_asked(tmp_path, capsys):
    rec = lat(SubnetSpec(), 2.0, seq=32, model="tiny").to_dict()
    info = {k: v for k, v in rec.items() if v is not None and k not in ("env", "samples_ms")}
    bench = {
        "machine_info": {"cpu": {"brand_raw": "Test CPU"}},
        "datetime": "2026-12-01T00:00:00",
        "version": "5.1",
        "benchmarks": [
            {
                "fullname": "bench/test_latency.py::cell",
                "extra_info": info,
                "stats": {"data": [0.002] * 5},
            },
            {"fullname": "bench/test_train_throughput.py::step", "extra_info": {}, "stats": {}},
        ],
    }
    path = tmp_path / "out.json"
    path.write_text(json.dumps(bench))
    assert pareto_main(["--results", str(path)]) == 2
    assert "--out" in capsys.readouterr().err
    out = tmp_path / "rep"
    assert pareto_main(["--results", str(path), "--out", str(out)]) == 0
    text = (out / "index.md").read_text()
    assert "1 of 2 pytest-benchmark benchmarks drawn" in text and "tiny, random weights" in text
    assert "bench/test_train_throughput.py::step" in text
    assert "cited" not in pd.read_csv(out / "efficiency.csv").to_string()


def test_the_committed_reports_cited_rule():
    """reports/default (BERT-base-shaped, random weights) gets the paper's cited points; the MiniLM reference
    run (reports/sst2-minilm) gets none by default."""
    from bench.frame import cited_for, load_records

    default = cited_for(load_records(["reports/default/records.jsonl"]), "sst2", None)
    assert {"bert-base", "tinybert-6l-768d", "distilbert-6l-768d"} <= set(default.model_id)
    assert (default.subnet_id.str.startswith("w")).all() and len(default) >= 12
    minilm = load_records(["reports/sst2-minilm/records.jsonl"])
    assert cited_for(minilm, "sst2", None).empty and not cited_for(minilm, "sst2", True).empty
