"""Same-teacher baselines: student initialisation, TinyBERT losses, and a few CLI steps of each."""

import json

import pytest
import torch
from transformers import BertConfig, BertForSequenceClassification

from dynabert import DynaBert, SubnetSpec
from dynabert.baselines import (
    TinyBertProjection,
    distilbert_layers,
    layer_subset,
    tinybert_intermediate_loss,
    tinybert_layers,
)
from dynabert.cli import main

from factories import padded_batch, tiny_bert, tiny_distilbert


def test_distilbert_student_starts_with_even_layers():
    teacher = tiny_bert(layers=4)
    student = layer_subset(teacher, distilbert_layers(4))
    assert student.config.num_hidden_layers == 2
    for new, old in enumerate((0, 2)):
        torch.testing.assert_close(
            student.bert.encoder.layer[new].output.dense.weight,
            teacher.bert.encoder.layer[old].output.dense.weight,
            rtol=0,
            atol=0,
        )
    # equals the DynaBERT depth-0.5 sub-network exactly
    ids, mask = padded_batch()
    with torch.no_grad():
        a = DynaBert(student)(ids, mask).logits
        b = DynaBert(teacher)(ids, mask, spec=SubnetSpec(1.0, 0.5)).logits
    torch.testing.assert_close(a, b, rtol=0, atol=1e-6)


def test_tinybert_layer_map():
    assert tinybert_layers(12, 4) == [2, 5, 8, 11]
    assert tinybert_layers(6, 3) == [1, 3, 5]
    with pytest.raises(ValueError, match="student layers"):
        tinybert_layers(6, 0)


def test_tinybert_losses_zero_for_a_copy():
    teacher = DynaBert(tiny_bert(layers=4))
    student = DynaBert(layer_subset(teacher.hf, [0, 1, 2, 3]))
    ids, mask = padded_batch()
    with torch.no_grad():
        hidden, attention = tinybert_intermediate_loss(
            student(ids, mask, output_attentions=True),
            teacher(ids, mask, output_attentions=True),
            TinyBertProjection(64, 64),
        )
    assert hidden.item() == 0.0 and attention.item() == 0.0
    half = DynaBert(layer_subset(teacher.hf, tinybert_layers(4, 2)))
    with torch.no_grad():
        hidden, attention = tinybert_intermediate_loss(
            half(ids, mask, output_attentions=True),
            teacher(ids, mask, output_attentions=True),
            TinyBertProjection(64, 64),
        )
    assert hidden.item() > 0 and attention.item() > 0


def run(args):
    return main(
        [
            "train",
            *args,
            "--max-train-samples",
            "96",
            "--max-eval-samples",
            "32",
            "--batch-size",
            "16",
            "--epochs",
            "1",
            "--learning-rate",
            "1e-3",
            "--eval-every",
            "0",
            "--logging-steps",
            "1",
        ]
    )


@pytest.mark.slow
def test_each_baseline_trains_from_the_cli(tmp_path, sst2_dir):
    base = [
        "--task",
        "sst2",
        "--data-dir",
        sst2_dir,
        "--model",
        "tiny",
        "--output-dir",
        str(tmp_path),
    ]
    assert run([*base, "--stage", "teacher"]) == 0
    for extra, folder in (
        (["--baseline", "distilbert"], "baseline-distilbert"),
        (["--baseline", "tinybert"], "baseline-tinybert"),
        (["--baseline", "fixed", "--width", "0.5", "--depth", "0.5"], "fixed-w0.50-d0.50"),
    ):
        assert run([*base, *extra]) == 0, extra
        summary = json.loads((tmp_path / folder / "summary.json").read_text())
        assert summary["steps"] == 6
    student = tmp_path / "baseline-distilbert" / "best"
    assert json.loads((student / "config.json").read_text())["num_hidden_layers"] == 1


def test_pretrained_tinybert_layout_student(tmp_path, sst2_dir):
    """A user's own (here: tiny random, saved by the test) TinyBERT-layout checkpoint as the student."""
    torch.manual_seed(0)
    tiny_tinybert = BertForSequenceClassification(
        BertConfig(
            vocab_size=30522,
            hidden_size=64,
            num_hidden_layers=1,
            num_attention_heads=4,
            intermediate_size=96,
            max_position_embeddings=512,
        )
    )
    tiny_tinybert.save_pretrained(tmp_path / "General_TinyBERT")
    base = [
        "--task",
        "sst2",
        "--data-dir",
        sst2_dir,
        "--model",
        "tiny",
        "--output-dir",
        str(tmp_path / "run"),
    ]
    assert run([*base, "--stage", "teacher"]) == 0
    assert (
        run(
            [*base, "--baseline", "tinybert", "--student-model", str(tmp_path / "General_TinyBERT")]
        )
        == 0
    )
    config = json.loads(
        (tmp_path / "run" / "baseline-tinybert" / "best" / "config.json").read_text()
    )
    assert config["intermediate_size"] == 96


def test_pretrained_distilbert_layout_student(tmp_path, sst2_dir):
    """A DistilBERT-layout checkpoint (model_type distilbert: transformer.layer.N, no token types, ReLU head),
    tiny and random, saved by the test: distilled into from the CLI, evaluated, and cut like any sub-network."""
    tiny_distilbert(layers=2, vocab=30522).save_pretrained(tmp_path / "distilbert-base-uncased")
    base = [
        "--task",
        "sst2",
        "--data-dir",
        sst2_dir,
        "--model",
        "tiny",
        "--output-dir",
        str(tmp_path / "run"),
    ]
    assert run([*base, "--stage", "teacher"]) == 0
    student = [
        "--baseline",
        "distilbert",
        "--student-model",
        str(tmp_path / "distilbert-base-uncased"),
    ]
    assert run([*base, *student]) == 2  # its 64 positions are fewer than --max-seq-len 128
    assert run([*base, *student, "--max-seq-len", "64"]) == 0
    best = tmp_path / "run" / "baseline-distilbert" / "best"
    config = json.loads((best / "config.json").read_text())
    assert (
        config["model_type"] == "distilbert"
        and config["n_layers"] == 2
        and len(config["id2label"]) == 2
    )
    assert (
        main(
            [
                "evaluate",
                "--checkpoint",
                str(best),
                "--task",
                "sst2",
                "--data-dir",
                sst2_dir,
                "--family",
                "baseline",
                "--max-seq-len",
                "64",
                "--results",
                str(tmp_path / "r.jsonl"),
            ]
        )
        == 0
    )
    rec = json.loads((tmp_path / "r.jsonl").read_text().splitlines()[0])
    assert rec["family"] == "baseline" and 0 <= rec["metric_value"] <= 1
    # the trained student is a checkpoint like any other: fine-tuned as a teacher, extracted to a dense model
    assert (
        main(
            [
                "extract",
                "--checkpoint",
                str(best),
                "--width",
                "0.5",
                "--depth",
                "0.5",
                "--output-dir",
                str(tmp_path / "cut"),
            ]
        )
        == 0
    )
    assert json.loads((tmp_path / "cut" / "config.json").read_text())["type_vocab_size"] == 0


def test_fixed_needs_width_and_depth(tmp_path, sst2_dir, capsys):
    base = [
        "--task",
        "sst2",
        "--data-dir",
        sst2_dir,
        "--model",
        "tiny",
        "--output-dir",
        str(tmp_path),
        "--teacher",
        "tiny",
    ]
    with pytest.raises(SystemExit) as done:  # a usage error, as argparse reports one
        run([*base, "--baseline", "fixed"])
    assert done.value.code == 2
    assert "needs --width and --depth" in capsys.readouterr().err
