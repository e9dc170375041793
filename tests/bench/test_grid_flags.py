"""--widths/--depths, --subnets files and bench.predictor sample's flags: every CLI refuses a value the model
cannot take through one checker (dynabert.config.check_grid / dynabert.subnet.check_subnets), naming the flag or
the file and item, the model's heads or layers and the valid values, before any data is read or weights built."""

import json

import pytest

from bench import artifact_accuracy, predictor, sweep
from bench.pareto import main as pareto_main
from dynabert import presets
from dynabert.cli import main as dynabert_main

HEADS_MSG = (
    "--widths 0.3: {src} has 4 heads per layer, and 0.3 x 4 = 1.2 heads is not a whole number >= 1; "
    "give widths k/4: 0.25, 0.5, 0.75, 1"
)
DEPTHS_MSG = "--depths 0.2: {src} has 2 layers, and 0.2 x 2 = 0.4 rounds to 0 layers kept"


@pytest.fixture
def nothing_loads(monkeypatch):
    """Building any model fails the test: the refusal must come from config.json alone. The modules that bind
    load_model at import are imported first and patched too (a module first imported here would keep the stub)."""
    from dynabert import stages, train

    def refuse(*a, **k):
        raise AssertionError("a model was loaded before the flags were checked")

    for module in (presets, stages, train):
        monkeypatch.setattr(module, "load_model", refuse)
    monkeypatch.setattr(sweep, "load", refuse)


def clis(ck, tmp_path):
    """(name, main, argv without --widths/--depths, what the message names as the model): every CLI taking them.
    The data folder does not exist: reading it would give another error than the one asserted."""
    no_data, store = str(tmp_path / "no-data"), str(tmp_path / "r.jsonl")
    (tmp_path / "r.jsonl").touch()  # search refuses a missing store first
    task = ["--checkpoint", str(ck), "--task", "sst2", "--data-dir", no_data]
    return [
        (
            "dynabert train",
            dynabert_main,
            [
                "train",
                "--stage",
                "all",
                "--model",
                "tiny",
                "--task",
                "sst2",
                "--data-dir",
                no_data,
                "--output-dir",
                str(tmp_path / "out"),
            ],
            "tiny",
        ),
        ("dynabert evaluate", dynabert_main, ["evaluate", *task, "--results", store], str(ck)),
        ("dynabert info", dynabert_main, ["info", "--model", "tiny"], "tiny"),
        (
            "bench.sweep",
            sweep.main,
            ["--model", "tiny", "--runtimes", "torch", "--results", store],
            "tiny",
        ),
        ("bench.artifact_accuracy", artifact_accuracy.main, [*task, "--results", store], str(ck)),
        (
            "bench.pareto search",
            pareto_main,
            ["search", *task, "--results", store, "--max-latency-ms", "5"],
            str(ck),
        ),
    ]


TWICE_MSG = "--widths 1,1,0.5: 1 and 1 give the same sub-networks of {src} (4 heads); give each multiplier once"


@pytest.mark.parametrize(
    "flag, value, msg",
    [
        ("--widths", "0.3", HEADS_MSG),
        ("--depths", "0.2", DEPTHS_MSG),
        ("--widths", "1,1,0.5", TWICE_MSG),
    ],
)
def test_every_cli_refuses_a_multiplier_the_model_cannot_take_before_loading(
    flag, value, msg, tiny_checkpoint, tmp_path, capsys, nothing_loads
):
    for name, main, argv, src in clis(tiny_checkpoint, tmp_path):
        assert main([*argv, flag, value]) == 2, name
        err = capsys.readouterr().err
        assert msg.format(src=src) in err, (name, err)
    assert not (tmp_path / "out").exists()  # train: no stage folder, nothing trained


def test_train_refuses_a_bad_width_before_the_teacher_trains(tmp_path, capsys, nothing_loads):
    """The old behaviour: --stage all trained the teacher, then stage width failed at its first step."""
    rc = dynabert_main(
        [
            "train",
            "--stage",
            "all",
            "--model",
            "tiny",
            "--task",
            "sst2",
            "--data-dir",
            str(tmp_path),
            "--output-dir",
            str(tmp_path / "out"),
            "--widths",
            "1,0.3",
        ]
    )
    assert rc == 2 and HEADS_MSG.format(src="tiny") in capsys.readouterr().err
    rc = dynabert_main(
        [
            "train",
            "--baseline",
            "fixed",
            "--width",
            "0.3",
            "--depth",
            "1",
            "--teacher",
            "tiny",
            "--task",
            "sst2",
            "--data-dir",
            str(tmp_path),
            "--output-dir",
            str(tmp_path / "out"),
        ]
    )
    assert rc == 2 and "--width 0.3: tiny has 4 heads per layer" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_extract_and_sample_check_their_multipliers_before_loading(tmp_path, capsys, nothing_loads):
    out = str(tmp_path / "sub")
    assert (
        dynabert_main(
            [
                "extract",
                "--checkpoint",
                "tiny",
                "--width",
                "0.3",
                "--depth",
                "1",
                "--output-dir",
                out,
            ]
        )
        == 2
    )
    assert "--width 0.3: tiny has 4 heads per layer" in capsys.readouterr().err
    assert (
        dynabert_main(
            ["extract", "--checkpoint", "tiny", "--subnet", "h0.4-f64.128", "--output-dir", out]
        )
        == 2
    )
    assert (
        "--subnet h0.4-f64.128: sub-network h0.4-f64.128, layer 0: 0 heads and 64 FFN"
        in capsys.readouterr().err
    )
    assert predictor.main(["sample", "--model", "tiny", "--widths", "0.3", "--out", out]) == 2
    assert HEADS_MSG.format(src="tiny") in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, msg",
    [
        (["--n", "0"], "--n must be a whole number >= 1 (sub-networks to draw), got 0"),
        (["--n", "-3"], "--n must be a whole number >= 1"),
        (
            ["--widths", "abc"],
            "--widths must be comma-separated numbers (or fractions k/n) in (0, 1], got 'abc'",
        ),
        (["--widths", "1.5"], "--widths '1.5': 1.5 is not in (0, 1]"),
        (["--widths", "0,0.5"], "--widths '0,0.5': 0 is not in (0, 1]"),
        (["--widths", ""], "--widths is empty"),
    ],
)
def test_predictor_sample_checks_its_flags(argv, msg, tmp_path, capsys):
    out = tmp_path / "s.json"
    assert predictor.main(["sample", "--model", "tiny", "--out", str(out), *argv]) == 2
    assert msg in capsys.readouterr().err and not out.exists()


def test_predictor_sample_says_when_the_space_is_smaller_than_asked(tmp_path, capsys):
    out = tmp_path / "s.json"
    assert predictor.main(["sample", "--model", "tiny", "--n", "1000", "--out", str(out)]) == 0
    assert (
        "288 random per-layer sub-networks" in capsys.readouterr().out
    )  # 17 choices per layer, squared, less 1
    assert len(json.loads(out.read_text())) == 288


@pytest.mark.parametrize(
    "content, msg",
    [
        (b'{"a": 1}', "holds a JSON object, not a list"),
        (b"[]", "holds an empty list: nothing to do"),
        (b"\xff\xfe\x00", "is not text (not UTF-8)"),
        (b"[", "is not JSON"),
        (
            b'["w1.00-d1.00", {"heads": [4, 0], "ffn": [128, 5]}]',
            "item 1: sub-network h4.0-f128.5, layer 1: 0 heads and 5 FFN neurons; a layer is kept",
        ),
        (b'["w1.00-d1.00", null]', "item 1: null is a JSON null; an item is an id string or a"),
        (b'["w1.00-d1.00", 0.5]', "item 1: 0.5 is a JSON number"),
        (b'["w1.00-d1.00", [4, 4]]', "item 1: [4, 4] is a JSON array"),
        (
            b'["w1.00-d1.00", "h5.4-f128.128"]',
            "item 1 (h5.4-f128.128): sub-network h5.4-f128.128, layer 0: 5 heads",
        ),
        (b'["w0.30-d1.00"]', "item 0 (w0.30-d1.00): width_mult 0.3 gives 1.2 of 4 heads"),
        (
            b'["h4.4.4-f1.1.1"]',
            "item 0 (h4.4.4-f1.1.1): sub-network h4.4.4-f1.1.1 gives 3 layers; the model has 2",
        ),
    ],
)
def test_sweep_subnets_file_errors_name_the_file_and_item(
    content, msg, tmp_path, capsys, nothing_loads
):
    path = tmp_path / "subnets.json"
    path.write_bytes(content)
    assert (
        sweep.main(
            [
                "--model",
                "tiny",
                "--runtimes",
                "torch",
                "--results",
                str(tmp_path / "r.jsonl"),
                "--subnets",
                str(path),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert str(path) in err and msg in err, err


def test_sweep_subnets_file_unreadable(tmp_path, capsys):
    for path, msg in (
        (tmp_path / "missing.json", "No such file or directory"),
        (tmp_path, "Is a directory"),
    ):
        assert (
            sweep.main(
                ["--model", "tiny", "--results", str(tmp_path / "r.jsonl"), "--subnets", str(path)]
            )
            == 2
        )
        err = capsys.readouterr().err
        assert f"cannot read the sub-networks file {str(path)!r}: {msg}" in err


def test_duplicate_subnets_are_measured_once_by_canonical_id(tmp_path, capsys, monkeypatch):
    """The same id twice, and a grid point's per-layer form, are one sub-network: one cell, and a note."""
    path = tmp_path / "subnets.json"
    path.write_text(
        json.dumps(
            [
                "w1.00-d1.00",
                "h2.2-f64.64",
                "w1.00-d1.00",
                "h4.4-f128.128",
                {"heads": [2, 2], "ffn": [64, 64]},
            ]
        )
    )
    cfg = sweep.SweepConfig(
        models=["tiny"],
        results=str(tmp_path / "r.jsonl"),
        runtimes=("torch",),
        subnets=tuple(sweep.read_subnets(path)),
        subnets_source=str(path),
    )
    ids = [c.spec.subnet_id for c in sweep.plan_cells(cfg)]
    assert ids == ["w1.00-d1.00", "w0.50-d1.00"]  # h2.2-f64.64 is the grid point (0.5, 1.0) of tiny
    err = capsys.readouterr().err
    assert (
        f"note: tiny: 3 duplicate sub-network(s) in {path} dropped, measured once by canonical id: item 2 "
        f"(w1.00-d1.00) repeats item 0; item 3 (h4.4-f128.128 = w1.00-d1.00) repeats item 0; item 4 "
        f"(h2.2-f64.64 = w0.50-d1.00) repeats item 1"
    ) in err


@pytest.mark.slow
def test_evaluate_scores_duplicate_subnets_once(tiny_checkpoint, sst2_dir, tmp_path, capsys):
    import records

    path, store = tmp_path / "subnets.json", tmp_path / "acc.jsonl"
    path.write_text(json.dumps(["w1.00-d1.00", "h4.4-f128.128", "w1.00-d1.00"]))
    assert (
        dynabert_main(
            [
                "evaluate",
                "--checkpoint",
                str(tiny_checkpoint),
                "--task",
                "sst2",
                "--data-dir",
                sst2_dir,
                "--subnets",
                str(path),
                "--results",
                str(store),
            ]
        )
        == 0
    )
    assert [r.subnet_id for r in records.read(store)] == ["w1.00-d1.00"]
    assert (
        f"note: 2 duplicate sub-network(s) in {path} dropped (one canonical id each): item 1 (h4.4-f128.128 = "
        f"w1.00-d1.00) repeats item 0; item 2 (w1.00-d1.00) repeats item 0"
    ) in capsys.readouterr().err
