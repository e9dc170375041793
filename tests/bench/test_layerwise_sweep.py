"""Per-layer sub-networks through export, the sweep (`--subnets FILE.json`), `dynabert extract --subnet` and
`bench.export --subnet`: checked artifacts, records carrying the per-layer form, old records still loading."""

import json

import pytest

import records
from bench.export import ensure_artifact
from bench.export import main as export_main
from bench.sweep import main as sweep_main
from dynabert import DynaBert, LayerwiseSpec, SubnetSpec, extract, load_model
from dynabert.cli import main as dynabert_main
from dynabert.evaluate import weights_sha

SPEC = LayerwiseSpec((3, 1), (40, 128))  # the tiny preset: 2 layers, 4 heads of 16, FFN 128
SKIP_FIRST = LayerwiseSpec((0, 2), (0, 17))


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["onnx", "tflite"])
def test_per_layer_artifacts_pass_their_numerics_check(tmp_path, fmt):
    hf = load_model("tiny")
    path, meta = ensure_artifact(
        extract(DynaBert(hf), SPEC), weights_sha(hf), SPEC.subnet_id, fmt, 16, tmp_path
    )
    assert meta["ok"] and meta["max_abs_err"] < 1e-4, meta
    assert SPEC.subnet_id in str(path)


@pytest.mark.slow
def test_sweep_measures_the_subnets_file(tmp_path, capsys):
    subnets = tmp_path / "subnets.json"
    subnets.write_text(json.dumps([SPEC.to_json(), SKIP_FIRST.subnet_id, "w0.50-d1.00"]))
    store = tmp_path / "r.jsonl"
    assert (
        sweep_main(
            [
                "--model",
                "tiny",
                "--runtimes",
                "onnxruntime",
                "--subnets",
                str(subnets),
                "--seq-len",
                "16",
                "--min-time",
                "0",
                "--min-runs",
                "3",
                "--warmup",
                "1",
                "--cache-dir",
                str(tmp_path / "c"),
                "--results",
                str(store),
            ]
        )
        == 0
    )
    recs = {r.subnet_id: r for r in records.read(store)}
    assert set(recs) == {SPEC.subnet_id, SKIP_FIRST.subnet_id, "w0.50-d1.00"}
    assert all(r.status == "ok" and r.latency_ms_p50 > 0 for r in recs.values())
    assert recs[SPEC.subnet_id].subnet == SPEC.to_json() and recs[SPEC.subnet_id].n_heads is None
    assert recs[SKIP_FIRST.subnet_id].n_layers == 1 and recs[SKIP_FIRST.subnet_id].depth_mult == 0.5
    assert (
        recs["w0.50-d1.00"].subnet == {"heads": [2, 2], "ffn": [64, 64]}
        and recs["w0.50-d1.00"].n_heads == 2
    )


def test_sweep_refuses_a_subnet_of_another_depth(tmp_path, capsys):
    subnets = tmp_path / "subnets.json"
    subnets.write_text(json.dumps([{"heads": [1, 1, 1], "ffn": [1, 1, 1]}]))
    assert (
        sweep_main(
            [
                "--model",
                "tiny",
                "--runtimes",
                "onnxruntime",
                "--subnets",
                str(subnets),
                "--results",
                str(tmp_path / "r.jsonl"),
                "--cache-dir",
                str(tmp_path / "c"),
            ]
        )
        == 2
    )
    assert "gives 3 layers; the model has 2" in capsys.readouterr().err


def test_records_without_the_subnet_field_still_load(tmp_path):
    old = {
        "kind": "latency",
        "subnet_id": "w1.00-d1.00",
        "width_mult": 1.0,
        "depth_mult": 1.0,
        "model_id": "tiny",
        "checkpoint_sha": "abc",
    }
    (tmp_path / "old.jsonl").write_text(json.dumps(old) + "\n")
    (r,) = records.read(tmp_path / "old.jsonl")
    assert r.subnet is None and r.subnet_id == "w1.00-d1.00"


@pytest.mark.slow
def test_extract_and_export_take_a_per_layer_subnet(tmp_path, capsys):
    out = tmp_path / "sub"
    assert (
        dynabert_main(
            [
                "extract",
                "--checkpoint",
                "tiny",
                "--subnet",
                SPEC.subnet_id,
                "--output-dir",
                str(out),
            ]
        )
        == 0
    )
    assert "2 layers x 3/1 heads, FFN 40/128" in capsys.readouterr().out
    config = json.loads((out / "config.json").read_text())
    assert config["layer_heads"] == [3, 1] and config["source_subnet"] == SPEC.to_json()
    assert "per-layer heads 3/1 and FFN 40/128" in (out / "README.md").read_text()
    assert (
        export_main(
            [
                "--model",
                str(out),
                "--formats",
                "onnx",
                "--seq-len",
                "16",
                "--output-dir",
                str(tmp_path / "art"),
            ]
        )
        == 0
    )
    assert SPEC.subnet_id in capsys.readouterr().out
    assert (
        dynabert_main(
            [
                "extract",
                "--checkpoint",
                "tiny",
                "--subnet",
                SPEC.subnet_id,
                "--width",
                "0.5",
                "--output-dir",
                str(out),
            ]
        )
        == 2
    )
    assert "either --subnet or --width/--depth" in capsys.readouterr().err


@pytest.mark.slow
def test_export_subnet_is_cached_by_canonical_id_and_conflicting_flags_are_refused(
    tmp_path, capsys
):
    from dynabert import presets
    from dynabert.subnet import layerwise

    grid = "w0.50-d1.00"
    per_layer = layerwise(SubnetSpec.parse(grid), presets.load_size("tiny")).subnet_id
    art = ["--formats", "onnx", "--seq-len", "16", "--output-dir", str(tmp_path / "art")]
    assert export_main(["--model", "tiny", "--subnet", per_layer, *art]) == 0
    assert f"{grid}" in capsys.readouterr().out and per_layer not in str(
        list((tmp_path / "art").rglob("*"))
    )
    assert export_main(["--model", "tiny", "--subnet", grid, "--width", "0.5", *art]) == 2
    assert "give --subnet or --width/--depth, not both" in capsys.readouterr().err
    out = tmp_path / "sub"
    assert (
        dynabert_main(
            [
                "extract",
                "--checkpoint",
                "tiny",
                "--width",
                "0.5",
                "--depth",
                "1.0",
                "--output-dir",
                str(out),
            ]
        )
        == 0
    )
    assert export_main(["--model", str(out), "--subnet", grid, *art]) == 2
    assert "is an extracted sub-network already" in capsys.readouterr().err
    assert export_main(["--model", "tiny", "--subnet", "wnan-d1", *art]) == 2
    assert "not a sub-network id: 'wnan-d1'" in capsys.readouterr().err


@pytest.mark.slow
def test_export_and_predictor_sample_take_a_training_output(tmp_path, tiny_checkpoint, capsys):
    """`--model OUT` (a training output, as README's per-layer commands pass it) resolves to OUT/depth/best, as
    bench.sweep and dynabert evaluate resolve it."""
    import shutil

    from bench.predictor import main as predictor_main

    out = tmp_path / "OUT"
    shutil.copytree(tiny_checkpoint, out / "depth" / "best")
    assert (
        export_main(
            [
                "--model",
                str(out),
                "--subnet",
                "w0.50-d1.00",
                "--formats",
                "onnx",
                "--seq-len",
                "16",
                "--output-dir",
                str(tmp_path / "art"),
            ]
        )
        == 0
    )
    assert "w0.50-d1.00" in capsys.readouterr().out
    assert (
        predictor_main(
            ["sample", "--model", str(out), "--n", "3", "--out", str(tmp_path / "s.json")]
        )
        == 0
    )
    assert len(json.loads((tmp_path / "s.json").read_text())) == 3
    (tmp_path / "empty").mkdir()
    assert export_main(["--model", str(tmp_path / "empty"), "--formats", "onnx"]) == 2
    assert "no model found at" in capsys.readouterr().err
