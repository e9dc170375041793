"""Pair tasks at the tokenizer's door (dynabert.data.encode, the one tokenization of train and evaluate): a
--max-seq-len below a pair's special tokens is refused, and a model without a token-type table (DistilBERT) gets
no token types even from a tokenizer that emits them."""

import json
import random

from dynabert.cli import main
from dynabert.presets import load_tokenizer

from factories import tiny_distilbert

WORDS = "the a cat dog sat ran on under mat house big small red blue".split()


def rte_dir(folder):
    """An RTE-format folder (index, sentence1, sentence2, label), 64 train and 16 dev rows."""
    rng = random.Random(0)
    folder.mkdir()
    for name, n in (("train", 64), ("dev", 16)):
        rows = ["index\tsentence1\tsentence2\tlabel"]
        for i in range(n):
            a, b = (" ".join(rng.choices(WORDS, k=6)) for _ in range(2))
            rows.append(f"{i}\t{a}\t{b}\t{rng.choice(['entailment', 'not_entailment'])}")
        (folder / f"{name}.tsv").write_text("\n".join(rows) + "\n")
    return str(folder)


def train(data, model, out, *extra):
    return [
        "train",
        "--task",
        "rte",
        "--data-dir",
        data,
        "--model",
        model,
        "--output-dir",
        str(out),
        "--stage",
        "teacher",
        "--batch-size",
        "16",
        "--epochs",
        "1",
        "--eval-every",
        "0",
        *extra,
    ]


def test_pair_task_below_its_special_tokens_is_refused_by_train_and_evaluate(tmp_path, capsys):
    """Before: BERT at --max-seq-len 2 trained on untruncated 63-token rows, exited 0 and recorded 2."""
    data = rte_dir(tmp_path / "rte")
    assert main(train(data, "tiny", tmp_path / "o", "--max-seq-len", "2")) == 2
    err = capsys.readouterr().err
    assert (
        "--max-seq-len 2 is shorter than the 3 special tokens this tokenizer adds to a text pair"
        in err
    )
    assert not (tmp_path / "o" / "teacher" / "summary.json").exists()
    from dynabert.presets import load_model

    load_model("tiny", num_labels=2).save_pretrained(tmp_path / "m")
    load_tokenizer("tiny").save_pretrained(tmp_path / "m")
    evaluate = [
        "evaluate",
        "--checkpoint",
        str(tmp_path / "m"),
        "--task",
        "rte",
        "--data-dir",
        data,
    ]
    assert main([*evaluate, "--max-seq-len", "2"]) == 2
    assert "use --max-seq-len 3 or more" in capsys.readouterr().err


def test_distilbert_whose_tokenizer_emits_token_types_trains_and_evaluates_without_them(
    tmp_path, capsys
):
    """Before: a DistilBERT folder whose tokenizer_config.json has no tokenizer_class (as on the hub) loads a BERT
    tokenizer, emitting type 1 for the second text; train exited 0, then evaluate of its own best/ failed."""
    data = rte_dir(tmp_path / "rte")
    model = tmp_path / "distil"
    tiny_distilbert(vocab=30522).save_pretrained(model)
    load_tokenizer("tiny").save_pretrained(model)
    config = json.loads((model / "tokenizer_config.json").read_text())
    config.pop("tokenizer_class", None)
    (model / "tokenizer_config.json").write_text(json.dumps(config))
    assert "token_type_ids" in load_tokenizer(str(model))("a", "b")  # the tokenizer does emit them

    out = tmp_path / "o"
    assert main(train(data, str(model), out, "--max-seq-len", "32")) == 0
    store = tmp_path / "acc.jsonl"
    args = ["evaluate", "--checkpoint", str(out), "--task", "rte", "--data-dir", data]
    assert (
        main(
            [
                *args,
                "--max-seq-len",
                "32",
                "--widths",
                "1.0",
                "--depths",
                "1.0",
                "--results",
                str(store),
            ]
        )
        == 0
    ), capsys.readouterr().err
    from records import read

    assert [r.status for r in read(store)] == ["ok"]
