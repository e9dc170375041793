"""Inputs checked at every door: a sequence length past a model's positions refused by bench.export as by train
and evaluate (one rule, dynabert.limits.input_limits); a failed artifact check never exits 0; a results store with
a byte that is not UTF-8 costs one named line; a pytest-benchmark JSON is known by its content, not its name."""

import json

import torch
from transformers import (
    BertConfig,
    BertForSequenceClassification,
    RobertaConfig,
    RobertaForSequenceClassification,
)

import records
from bench.export import main as export_main
from bench.frame import load_records
from bench.pareto import main as pareto_main
from dynabert.config import SubnetSpec, default_grid
from dynabert.extract import extract
from dynabert.limits import input_limits
from dynabert.model import DynaBert
from dynabert.presets import load_model
from tests.bench.test_pareto import acc, lat


def save(model, folder):
    model.save_pretrained(folder)
    return str(folder)


def bert_64(folder):
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=200,
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=128,
        max_position_embeddings=64,
    )
    return save(BertForSequenceClassification(config), folder)


def roberta_34(folder):
    """34 position embeddings, of which 32 usable: RoBERTa's positions start after padding_idx 1."""
    torch.manual_seed(0)
    config = RobertaConfig(
        vocab_size=200,
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=128,
        max_position_embeddings=34,
        pad_token_id=1,
    )
    return save(RobertaForSequenceClassification(config), folder)


def test_export_refuses_a_seq_len_past_the_models_positions(tmp_path, capsys):
    """Before: BERT at 65 of 64 gave a torch.export ConstraintViolationError traceback; RoBERTa at 33 of 32 usable
    printed 'FAILED CHECK', exited 0 and left an artifact that cannot run in the cache."""
    cache = tmp_path / "cache"
    for model, length, usable in (
        (bert_64(tmp_path / "b"), 65, 64),
        (roberta_34(tmp_path / "r"), 33, 32),
    ):
        assert (
            export_main(
                [
                    "--model",
                    model,
                    "--formats",
                    "onnx",
                    "--seq-len",
                    str(length),
                    "--output-dir",
                    str(cache),
                ]
            )
            == 2
        )
        err = capsys.readouterr().err
        assert (
            f"--seq-len {length} is longer than {model} accepts: it has {usable} usable" in err
        ), err
        assert f"use --seq-len {usable} or less" in err and "Traceback" not in err
    assert not cache.exists() or not list(cache.rglob("*.onnx"))


def test_an_extracted_roberta_sub_network_keeps_the_usable_positions(tmp_path):
    """The rule reads an extracted sub-network's head type, not only the model type (dynabert-pruned)."""
    sub = extract(DynaBert(load_model(roberta_34(tmp_path / "r"))), SubnetSpec(0.5, 0.5))
    assert input_limits(sub.config).max_seq_len == 32
    from bench.export import ensure_artifact

    try:
        ensure_artifact(sub, "sha", "w0.50-d0.50", "onnx", 33, tmp_path / "cache")
    except ValueError as err:
        assert "--seq-len 33 is longer than sub-network w0.50-d0.50 accepts" in str(err)
    else:
        raise AssertionError("an export at 33 of 32 usable positions was not refused")


def store_with_a_bad_byte(tmp_path):
    path = tmp_path / "r.jsonl"
    for spec in default_grid():
        records.append(path, lat(spec, 100 * spec.width_mult * spec.depth_mult))
        records.append(path, acc(spec, 0.8 + 0.05 * spec.width_mult))
    lines = path.read_bytes().splitlines(keepends=True)
    lines[1] = lines[1].replace(b"run/best", b"run/b\xffst")  # one non-UTF-8 byte in line 2
    assert b"\xff" in lines[1]
    path.write_bytes(b"".join(lines))
    return path


def test_a_byte_that_is_not_utf8_costs_its_line_named_in_pareto_and_select(tmp_path, capsys):
    """Before: both failed with "'utf-8' codec can't decode byte 0xff in position 3472", naming no file."""
    path = store_with_a_bad_byte(tmp_path)
    assert len(load_records([path])) == 2 * len(default_grid()) - 1
    assert f"{path}:2: skipped a line" in capsys.readouterr().err
    assert pareto_main(["select", "--results", str(path), "--max-latency-ms", "40"]) == 0
    assert f"{path}:2: skipped a line" in capsys.readouterr().err
    assert pareto_main(["--results", str(path), "--out", str(tmp_path / "rep")]) == 0
    assert f"{path}:2: skipped a line" in capsys.readouterr().err


def test_a_pytest_benchmark_json_is_known_by_its_content_whatever_its_name(tmp_path):
    """Before: named *.txt it was called 'a JSON document, not a records store'."""
    spec = SubnetSpec(1.0, 1.0)
    info = {k: v for k, v in lat(spec, 10.0).to_dict().items() if v is not None}
    data = {
        "machine_info": {"cpu": {"brand_raw": "Test CPU"}},
        "commit_info": {"id": "abc"},
        "datetime": "2026-12-08T00:00:00",
        "version": "5.1.0",
        "benchmarks": [
            {
                "fullname": "bench/test_latency.py::t",
                "extra_info": info,
                "stats": {"data": [0.01, 0.011], "rounds": 2},
            }
        ],
    }
    for name in ("out.json", "out.txt", "out"):
        (tmp_path / name).write_text(json.dumps(data, indent=2))
        recs = load_records([tmp_path / name])
        assert len(recs) == 1 and recs[0].samples_ms == [10.0, 11.0], name
