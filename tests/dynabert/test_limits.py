"""A model's own limits (kind d): head counts and the width values this project prints, positions, vocabulary and
token types, each refused with a message naming the limit or accepted back as printed."""

import re

import pytest
from transformers import AutoConfig, BertConfig, RobertaConfig

from dynabert.cli import main
from dynabert.config import BertSize, SubnetSpec, parse_mults
from dynabert.limits import InputLimits, check_features, input_limits
from dynabert.presets import load_tokenizer

from factories import tiny_bert

TWELVE = BertSize(num_heads=12)


@pytest.mark.parametrize("text", ["0.3333", "0.333333", "0.33", "4/12", "1/3", str(1 / 3)])
def test_width_one_third_of_twelve_heads(text):
    """Case 8: 0.3333 (messages, .4g), 0.333333 (pareto select's command, :g), 0.33 (subnet ids) all mean 4 heads."""
    (w,) = parse_mults(text, "widths")
    spec = SubnetSpec(w, 1.0)
    assert spec.heads_kept(12) == 4 and spec.ffn_kept(12, 3072) == 1024
    assert spec.resolve(TWELVE).width_mult == 4 / 12 and spec.subnet_id == "w0.33-d1.00"


def test_every_width_a_message_or_id_prints_is_accepted_back():
    with pytest.raises(ValueError) as err:
        SubnetSpec(0.3, 1.0).heads_kept(12)  # one decimal must be exact: 3.6 heads
    listed = re.search(r"one of (.*)$", str(err.value)).group(1).split(", ")
    assert [SubnetSpec(float(v), 1.0).heads_kept(12) for v in listed] == list(range(1, 13))
    for k in range(1, 13):
        spec = SubnetSpec(k / 12, 1.0)
        assert SubnetSpec.parse(spec.subnet_id).heads_kept(12) == k  # w0.08, w0.17, w0.42, ...
        assert SubnetSpec(float(f"{k / 12:g}"), 1.0).heads_kept(12) == k
    with pytest.raises(
        ValueError, match="keeps 0 of 12 heads; the smallest width for this model is 0.08333"
    ):
        SubnetSpec(0.01, 1.0).heads_kept(12)
    assert SubnetSpec(0.3, 1.0).heads_kept(10) == 3  # exact for 10 heads


def test_pareto_select_extract_command_runs_on_a_twelve_head_model(tmp_path):
    """`bench.pareto select` prints `--width {w:g}`: 0.333333 for 4 of 12 heads; extract accepts it."""
    tiny_bert(heads=12, hidden=96, ffn=192).save_pretrained(tmp_path / "m")
    assert (
        main(
            [
                "extract",
                "--checkpoint",
                str(tmp_path / "m"),
                "--width",
                "0.333333",
                "--depth",
                "0.5",
                "--output-dir",
                str(tmp_path / "sub"),
            ]
        )
        == 0
    )
    config = AutoConfig.from_pretrained(tmp_path / "sub")
    assert config.num_attention_heads == 4 and config.source_width_mult == 4 / 12


def test_sequence_length_beyond_the_positions_refused_by_every_command(tmp_path, sst2_dir, capsys):
    """tiny has 512 position embeddings: --max-seq-len / --seq-len 600 is refused up front, naming 512."""
    from bench.artifact_accuracy import main as artifact_main
    from dynabert.presets import load_model

    load_model("tiny").save_pretrained(tmp_path / "ckpt")
    load_tokenizer("tiny").save_pretrained(tmp_path / "ckpt")
    common = ["--task", "sst2", "--data-dir", sst2_dir]
    assert (
        main(["evaluate", "--checkpoint", str(tmp_path / "ckpt"), *common, "--max-seq-len", "600"])
        == 2
    )
    assert "--max-seq-len 600 is longer than" in capsys.readouterr().err
    assert (
        main(
            [
                "train",
                *common,
                "--model",
                "tiny",
                "--output-dir",
                str(tmp_path / "o"),
                "--stage",
                "teacher",
                "--max-seq-len",
                "600",
            ]
        )
        == 2
    )
    assert (
        "it has 512 usable position embeddings" in capsys.readouterr().err
        and not (tmp_path / "o" / "teacher").exists()
    )
    assert main(["info", "--model", "tiny", "--seq-len", "1024"]) == 2
    assert "--seq-len 1024 is longer than tiny accepts" in capsys.readouterr().err
    assert (
        artifact_main(
            [
                "--checkpoint",
                str(tmp_path / "ckpt"),
                *common,
                "--seq-len",
                "600",
                "--runtimes",
                "onnxruntime",
                "--results",
                str(tmp_path / "r.jsonl"),
            ]
        )
        == 2
    )
    assert "use --seq-len 512 or less" in capsys.readouterr().err


def test_roberta_positions_exclude_the_padding_offset():
    config = RobertaConfig(
        vocab_size=200, max_position_embeddings=514, pad_token_id=1, type_vocab_size=1
    )
    assert input_limits(config) == InputLimits(200, 1, 512)
    assert input_limits(BertConfig(vocab_size=21128, type_vocab_size=2)).max_seq_len == 512


def test_tokenizer_larger_than_the_models_vocabulary_refused(tmp_path, sst2_dir, capsys):
    """A 200-word model saved with BERT's 30,522-word tokenizer: ids would index past the embeddings."""
    tiny_bert().save_pretrained(tmp_path / "small-vocab")
    load_tokenizer("tiny").save_pretrained(tmp_path / "small-vocab")
    assert (
        main(
            [
                "evaluate",
                "--checkpoint",
                str(tmp_path / "small-vocab"),
                "--task",
                "sst2",
                "--data-dir",
                sst2_dir,
                "--max-seq-len",
                "64",
            ]
        )
        == 2
    )
    assert "has 30522 tokens but the model's vocabulary holds 200" in capsys.readouterr().err


def test_encoded_inputs_checked_against_token_types_and_vocabulary():
    limits = InputLimits(vocab_size=100, type_vocab_size=1, max_seq_len=8)
    check_features([{"input_ids": [1, 5, 2], "token_type_ids": [0, 0, 0]}], limits, "m")
    with pytest.raises(ValueError, match="token type 1; m has 1 token type"):
        check_features(
            [{"input_ids": [1, 5, 2, 7, 2], "token_type_ids": [0, 0, 0, 1, 1]}], limits, "m"
        )
    with pytest.raises(ValueError, match="token id 150; m's vocabulary has 100 ids"):
        check_features([{"input_ids": [1, 150, 2]}], limits, "m")
    with pytest.raises(ValueError, match="9 tokens; m has 8 positions"):
        check_features([{"input_ids": list(range(9))}], limits, "m")
