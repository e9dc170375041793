"""What labels mean (kind b): checkpoint label names and counts against the task's, hub order against TSV order,
and one task key per evaluated split."""

import json

import pytest
import torch

from dynabert.cli import main
from dynabert.data import get_task, hub_label_ids
from dynabert.labels import align_classifier
from dynabert.presets import load_model, load_tokenizer
from records import read

from messages import assert_names

MNLI_HEADER = ["index", "promptID", "pairID", "genre", "sentence1", "sentence2", "gold_label"]
PAIRS = [
    ("it rains", "it is wet", "entailment"),
    ("it rains", "it is dry", "contradiction"),
    ("a man sings", "a man is tall", "neutral"),
    ("dogs bark", "animals make noise", "entailment"),
    ("the sun is up", "it is night", "contradiction"),
    ("she reads", "she reads a novel", "neutral"),
]


@pytest.fixture(scope="module")
def mnli_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("MNLI")
    for stem, rows in (
        ("dev_matched", PAIRS),
        ("dev_mismatched", PAIRS[::-1][:4]),
        ("train", PAIRS),
    ):
        lines = ["\t".join(MNLI_HEADER)] + [
            "\t".join([str(i), "p", "q", "g", *r]) for i, r in enumerate(rows)
        ]
        (folder / f"{stem}.tsv").write_text("\n".join(lines) + "\n")
    return folder


def save(hf, path):
    hf.save_pretrained(path)
    load_tokenizer("tiny").save_pretrained(path)
    return str(path)


def tiny(num_labels: int, names: list[str] | None = None, seed: int = 0):
    hf = load_model("tiny", num_labels=num_labels, seed=seed)
    if names:
        hf.config.id2label, hf.config.label2id = (
            dict(enumerate(names)),
            {n: i for i, n in enumerate(names)},
        )
    return hf


def evaluate(checkpoint, data_dir, store, *extra):
    return main(
        [
            "evaluate",
            "--checkpoint",
            checkpoint,
            "--data-dir",
            str(data_dir),
            "--widths",
            "1.0,0.5",
            "--depths",
            "1.0",
            "--results",
            str(store),
            *extra,
        ]
    )


def test_hub_mnli_labels_mapped_by_name():
    """Case 3: hub MNLI ids are 0 entailment, 1 neutral, 2 contradiction; the TSV's are sorted names."""
    mnli = get_task("mnli")
    assert mnli.labels == ("contradiction", "entailment", "neutral")
    assert hub_label_ids([0, 1, 2, 0], ["entailment", "neutral", "contradiction"], mnli) == [
        1,
        2,
        0,
        1,
    ]
    # the other hub ClassLabel names map onto the TSV's 0/1 by meaning
    assert hub_label_ids([0, 1], ["negative", "positive"], get_task("sst2")) == [0, 1]
    assert hub_label_ids([0, 1], ["not_entailment", "entailment"], get_task("wnli")) == [0, 1]
    assert hub_label_ids([0, 1], ["entailment", "not_entailment"], get_task("rte")) == [0, 1]
    with pytest.raises(ValueError, match="carry no names"):
        hub_label_ids([0], None, mnli)


def test_two_label_checkpoint_refused_on_mnli_naming_both_counts(tmp_path, mnli_dir, capsys):
    """Case 4, evaluate: no accuracy is stored for a model that can never predict class 2."""
    ckpt = save(tiny(2), tmp_path / "two")
    assert evaluate(ckpt, mnli_dir, tmp_path / "acc.jsonl", "--task", "mnli") == 2
    err = capsys.readouterr().err
    assert_names(
        err,
        "2 labels (LABEL_0, LABEL_1)",
        "mnli has 3 labels (contradiction, entailment, neutral)",
        "use a checkpoint trained for this task",
    )
    assert not (tmp_path / "acc.jsonl").exists()


def test_two_label_teacher_refused_up_front(tmp_path, mnli_dir, capsys):
    """Case 4, --teacher of stage width: refused before any weights load or rewiring, naming both counts."""
    ckpt = save(tiny(2), tmp_path / "two")
    assert (
        main(
            [
                "train",
                "--task",
                "mnli",
                "--data-dir",
                str(mnli_dir),
                "--model",
                "tiny",
                "--teacher",
                ckpt,
                "--output-dir",
                str(tmp_path / "out"),
                "--stage",
                "width",
                "--epochs",
                "1",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert f"--teacher {ckpt} has 2 labels" in err and "task mnli has 3 labels" in err
    assert not (tmp_path / "out" / "width").exists()


def test_mnli_splits_have_the_cited_tables_task_keys(tmp_path, mnli_dir):
    """Case 5: matched -> mnli-m, mismatched -> mnli-mm, the keys bench/data/cited.csv uses."""
    ckpt = save(tiny(3, ["contradiction", "entailment", "neutral"]), tmp_path / "three")
    store = tmp_path / "acc.jsonl"
    assert evaluate(ckpt, mnli_dir, store, "--task", "mnli") == 0
    assert evaluate(ckpt, mnli_dir, store, "--task", "mnli-mm") == 0
    assert evaluate(ckpt, mnli_dir, store, "--task", "mnli", "--split", "dev_mismatched") == 0
    recs = read(store)
    assert [(r.task, r.split.split(" ")[0]) for r in recs] == (
        [("mnli-m", "dev_matched")] * 2 + [("mnli-mm", "dev_mismatched")] * 4
    )
    assert all(f"{n} examples" in r.split for r, n in zip(recs, [6, 6, 4, 4, 4, 4]))
    from bench.frame import cited_accuracy

    assert not cited_accuracy("mnli-m").empty and not cited_accuracy("mnli-mm").empty


def test_checkpoint_with_labels_in_another_order_scores_the_same(tmp_path, mnli_dir, capsys):
    """A foreign checkpoint (upper-case names, hub order) is the same model as its task-ordered twin."""
    ours = tiny(3, ["contradiction", "entailment", "neutral"], seed=3)
    foreign = tiny(3, ["ENTAILMENT", "NEUTRAL", "CONTRADICTION"], seed=3)
    with torch.no_grad():  # foreign output i = our output order[i]
        for name in ("weight", "bias"):
            getattr(foreign.classifier, name).copy_(getattr(ours.classifier, name)[[1, 2, 0]])
    store_a, store_b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert evaluate(save(ours, tmp_path / "ours"), mnli_dir, store_a, "--task", "mnli") == 0
    assert evaluate(save(foreign, tmp_path / "foreign"), mnli_dir, store_b, "--task", "mnli") == 0
    assert "mapped by name to contradiction, entailment, neutral" in capsys.readouterr().err
    assert [r.metric_value for r in read(store_a)] == [r.metric_value for r in read(store_b)]
    aligned = align_classifier(foreign, get_task("mnli"), get_task("mnli").labels, "foreign")
    ids = torch.tensor([[101, 2009, 2003, 4954, 102]])
    with torch.no_grad():
        assert torch.equal(aligned(ids).logits, ours(ids).logits)
    assert aligned.config.id2label == {0: "contradiction", 1: "entailment", 2: "neutral"}


def test_label_names_that_match_none_of_the_tasks_are_refused(tmp_path, mnli_dir, capsys):
    ckpt = save(tiny(3, ["positive", "negative", "neutral"]), tmp_path / "sentiment")
    assert evaluate(ckpt, mnli_dir, tmp_path / "acc.jsonl", "--task", "mnli") == 2
    assert "label 'positive' is none of task mnli's labels" in capsys.readouterr().err


def test_generic_label_names_are_taken_in_order_and_said(tmp_path, mnli_dir, capsys):
    ckpt = save(tiny(3), tmp_path / "generic")
    assert evaluate(ckpt, mnli_dir, tmp_path / "acc.jsonl", "--task", "mnli") == 0
    assert "only generically (LABEL_0, LABEL_1, LABEL_2); taken in order" in capsys.readouterr().err


def test_custom_task_evaluated_from_the_checkpoints_own_labels(tmp_path):
    """No train file: the label set is the checkpoint's (what training saved), matched by name."""
    (tmp_path / "dev.csv").write_text("text,y\ngreat,pos\nawful,neg\nfine,pos\n")
    ckpt = save(tiny(2, ["neg", "pos"]), tmp_path / "ckpt")
    store = tmp_path / "acc.jsonl"
    assert (
        evaluate(
            ckpt,
            tmp_path,
            store,
            "--task",
            "custom",
            "--text-columns",
            "text",
            "--label-column",
            "y",
        )
        == 0
    )
    assert {r.task for r in read(store)} == {"custom"} and "3 examples" in read(store)[0].split
    generic = save(tiny(2), tmp_path / "generic")
    assert (
        evaluate(
            generic,
            tmp_path,
            store,
            "--task",
            "custom",
            "--text-columns",
            "text",
            "--label-column",
            "y",
        )
        == 2
    )


@pytest.mark.slow
def test_artifact_accuracy_takes_evaluates_task_flags(tmp_path):
    """Case 2: bench.artifact_accuracy accepts --max-errors and --task custom --text-columns --label-column."""
    from bench.artifact_accuracy import main as artifact_main

    (tmp_path / "dev.csv").write_text("text,y\ngreat,pos\nawful,neg\nbroken row\nfine,pos\n")
    ckpt = save(tiny(2, ["neg", "pos"]), tmp_path / "ckpt")
    store = tmp_path / "acc.jsonl"
    args = [
        "--checkpoint",
        ckpt,
        "--data-dir",
        str(tmp_path),
        "--task",
        "custom",
        "--text-columns",
        "text",
        "--label-column",
        "y",
        "--runtimes",
        "onnxruntime",
        "--widths",
        "0.5",
        "--depths",
        "1.0",
        "--seq-len",
        "16",
        "--results",
        str(store),
        "--cache-dir",
        str(tmp_path / "cache"),
    ]
    assert artifact_main(args) == 2  # one malformed row, none allowed
    assert artifact_main([*args, "--max-errors", "1"]) == 0
    (rec,) = read(store)
    assert rec.task == "custom" and rec.runtime == "onnxruntime" and "3 examples" in rec.split
    assert json.loads(json.dumps(rec.metrics))["accuracy"] in (0.0, 1 / 3, 2 / 3, 1.0)


def test_fine_tuning_may_start_from_a_classifier_named_otherwise(tmp_path, capsys):
    """Stage teacher (strict=False): a sentiment model's 3 outputs may start MNLI fine-tuning, said aloud."""
    hf = tiny(3, ["positive", "negative", "neutral"])
    with pytest.raises(ValueError, match="label 'positive' is none of task mnli's labels"):
        align_classifier(hf, get_task("mnli"), get_task("mnli").labels, "sentiment")
    align_classifier(hf, get_task("mnli"), get_task("mnli").labels, "sentiment", strict=False)
    assert hf.config.id2label == {0: "contradiction", 1: "entailment", 2: "neutral"}
    assert "fine-tuning starts from its classifier" in capsys.readouterr().err
