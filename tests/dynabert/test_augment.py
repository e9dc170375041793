"""TinyBERT-style augmentation: candidates from a real (tiny, random) masked-LM, the file written once, resumed
after a kill to the same bytes, and used by the distillation stages from the CLI."""

import json

import pytest
import torch
from transformers import BertConfig, BertForMaskedLM, BertModel

from dynabert.augment import AugmentConfig, Augmenter, augment_file, load_mlm
from dynabert.cli import main
from dynabert.data import Split, TaskSpec, read_split
from dynabert.presets import load_tokenizer

SST2 = TaskSpec("sst2", ("sentence",), "label", ("0", "1"), "accuracy")


@pytest.fixture(scope="module")
def mlm_dir(tmp_path_factory):
    """A tiny random BERT masked-LM with BERT's uncased vocabulary, saved with its head and tokenizer."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("mlm") / "tiny-mlm"
    BertForMaskedLM(
        BertConfig(
            vocab_size=30522,
            hidden_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=64,
            max_position_embeddings=128,
        )
    ).save_pretrained(path)
    load_tokenizer("tiny").save_pretrained(path)
    return str(path)


def split_of(rows):
    return Split("train", [(t,) for t, _ in rows], [label for _, label in rows], "test")


ROWS = [
    ("a gripping , funny film", 1),
    ("the plot is dull and the acting weaker", 0),
    ("an unforgettable performance", 1),
    ("nothing here works", 0),
    ("charming", 1),
]


def test_variants_keep_the_original_first_and_replace_only_candidates(mlm_dir):
    cfg = AugmentConfig(mlm_dir, n=10, replace_prob=0.9)
    aug = Augmenter(cfg, *load_mlm(mlm_dir))
    words = aug.words("The plot is DULL, and unforgettable")
    assert words == ["the", "plot", "is", "dull", ",", "and", "unforgettable"]
    cands = aug.candidates([words])[0]
    assert set(cands) == {
        1,
        3,
        6,
    }  # alphabetic, not a stop word ("the", "is", "and" are; "," is not alphabetic)
    assert all(
        c and not any(w.startswith("##") or w in aug.special for w in c) for c in cands.values()
    )
    assert len(aug.pieces("unforgettable")) > 1 and cands[6] == [
        "unforgettable"
    ]  # several pieces, no GloVe: kept
    import random

    out = aug.variants("The plot is DULL, and unforgettable", words, cands, random.Random(0))
    assert out[0] == "The plot is DULL, and unforgettable" and len(out) == len(set(out)) > 1
    for text in out[1:]:
        new = text.split(" ")
        assert [w for i, w in enumerate(new) if i not in cands] == [
            w for i, w in enumerate(words) if i not in cands
        ]
        assert all(new[i] == words[i] or new[i] in cands[i] for i in cands)


def test_glove_gives_candidates_for_multi_piece_words(mlm_dir, tmp_path):
    glove = tmp_path / "glove.txt"
    glove.write_text(
        "unforgettable 1 0 0\nmemorable 0.9 0.1 0\nremarkable 0.8 0.3 0\nbanana 0 0 1\n"
    )
    aug = Augmenter(AugmentConfig(mlm_dir, top_k=2, glove=str(glove)), *load_mlm(mlm_dir))
    assert aug.candidates([["unforgettable"]])[0][0] == ["memorable", "remarkable"]
    (tmp_path / "bad.txt").write_text("word 1 2\nother 1\n")
    with pytest.raises(ValueError, match="not a GloVe text file"):
        Augmenter(AugmentConfig(mlm_dir, glove=str(tmp_path / "bad.txt")), *load_mlm(mlm_dir))


def test_file_is_written_once_and_a_killed_run_resumes_to_the_same_bytes(
    mlm_dir, tmp_path, monkeypatch
):
    cfg = AugmentConfig(mlm_dir, n=4)
    whole = augment_file(split_of(ROWS), SST2, ("0", "1"), cfg, tmp_path / "a", chunk=2)
    rows = whole.read_text().splitlines()
    assert rows[0] == "text_a\tlabel" and rows[1] == "a gripping , funny film\t1"
    back = read_split(
        whole, TaskSpec("sst2", ("text_a",), "label", ("0", "1"), "accuracy"), ("0", "1")
    )
    assert len(ROWS) < len(back) <= len(ROWS) * 5 and set(back.labels) == {0, 1}
    mtime = whole.stat().st_mtime_ns
    assert (
        augment_file(split_of(ROWS), SST2, ("0", "1"), cfg, tmp_path / "a") == whole
    )  # reused, not redone
    assert whole.stat().st_mtime_ns == mtime

    calls = {"n": 0}
    real = Augmenter.candidates

    def dies_on_third_chunk(self, texts):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt("killed")
        return real(self, texts)

    monkeypatch.setattr(Augmenter, "candidates", dies_on_third_chunk)
    with pytest.raises(KeyboardInterrupt):
        augment_file(split_of(ROWS), SST2, ("0", "1"), cfg, tmp_path / "b", chunk=2)
    progress = json.loads(next((tmp_path / "b").glob("*.progress.json")).read_text())
    assert progress["examples"] == 4
    with open(next((tmp_path / "b").glob("*.partial")), "a") as f:
        f.write("half a li")  # a chunk cut short by the kill
    monkeypatch.setattr(Augmenter, "candidates", real)
    resumed = augment_file(split_of(ROWS), SST2, ("0", "1"), cfg, tmp_path / "b", chunk=2)
    assert resumed.read_bytes() == whole.read_bytes()


def test_pair_tasks_augment_each_column_in_turn(mlm_dir, tmp_path):
    task = TaskSpec(
        "rte", ("sentence1", "sentence2"), "label", ("entailment", "not_entailment"), "accuracy"
    )
    split = Split("train", [("a funny film", "the film amuses")], [1], "test")
    path = augment_file(
        split, task, task.labels, AugmentConfig(mlm_dir, n=6, replace_prob=1.0), tmp_path
    )
    rows = [r.split("\t") for r in path.read_text().splitlines()[1:]]
    assert all(r[2] == "not_entailment" for r in rows)
    assert any(r[0] != "a funny film" and r[1] == "the film amuses" for r in rows)
    assert any(r[0] == "a funny film" and r[1] != "the film amuses" for r in rows)


def test_a_model_without_mlm_head_is_refused(tmp_path):
    BertModel(
        BertConfig(
            vocab_size=100,
            hidden_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=64,
        )
    ).save_pretrained(tmp_path / "encoder-only")
    with pytest.raises(ValueError, match="no trained masked-LM head"):
        load_mlm(str(tmp_path / "encoder-only"))
    with pytest.raises(ValueError, match="no config.json"):
        load_mlm(str(tmp_path))


@pytest.mark.slow
def test_distillation_stages_train_on_augmented_rows(mlm_dir, tmp_path, sst2_dir):
    base = [
        "train",
        "--task",
        "sst2",
        "--data-dir",
        sst2_dir,
        "--model",
        "tiny",
        "--output-dir",
        str(tmp_path),
        "--max-train-samples",
        "24",
        "--max-eval-samples",
        "32",
        "--batch-size",
        "16",
        "--epochs",
        "1",
        "--eval-every",
        "0",
        "--learning-rate",
        "1e-3",
    ]
    aug = ["--augment-model", mlm_dir, "--augment-n", "3"]
    assert (
        main([*base, "--stage", "teacher", *aug]) == 0
    )  # teacher: gold data only, augmentation not used
    assert json.loads((tmp_path / "teacher" / "summary.json").read_text())["steps"] == 2
    assert not (tmp_path / "augmented").exists()
    assert main([*base, "--stage", "width", *aug]) == 0
    made = list((tmp_path / "augmented").glob("*.tsv"))
    assert len(made) == 1
    extra = len(made[0].read_text().splitlines()) - 1
    assert 24 < extra <= 24 * 4
    steps = json.loads((tmp_path / "width" / "summary.json").read_text())["steps"]
    assert steps == -(-(24 + extra) // 16)  # originals + augmented file, one epoch
    mtime = made[0].stat().st_mtime_ns
    assert main([*base, "--stage", "depth", *aug]) == 0
    assert (
        made[0].stat().st_mtime_ns == mtime
        and len(list((tmp_path / "augmented").glob("*.tsv"))) == 1
    )
