"""Every GLUE reader and metric on small TSV fixtures written here, checked against hand-computed values."""

import pytest

from dynabert.data import batch_order, get_task, load_task
from dynabert.metrics import acc_f1, accuracy, mcc, pearson_spearman

FIXTURES = {
    "cola": (False, [["src", "1", "", "the cat sat ."], ["src", "0", "*", "cat the sat ."]]),
    "sst2": (True, [["sentence", "label"], ["a fine film", "1"], ["dull", "0"]]),
    "mrpc": (
        True,
        [
            ["Quality", "#1 ID", "#2 ID", "#1 String", "#2 String"],
            ["1", "a", "b", "he ran", "he jogged"],
            ["0", "c", "d", "sky", "sea"],
        ],
    ),
    "stsb": (
        True,
        [
            [
                "index",
                "genre",
                "filename",
                "year",
                "old_index",
                "source1",
                "source2",
                "sentence1",
                "sentence2",
                "score",
            ],
            ["0", "g", "f", "y", "0", "s", "s", "a man", "a person", "4.2"],
            ["1", "g", "f", "y", "1", "s", "s", "cats", "stocks", "0.4"],
        ],
    ),
    "qqp": (
        True,
        [
            ["id", "qid1", "qid2", "question1", "question2", "is_duplicate"],
            ["0", "1", "2", "how?", "why?", "0"],
            ["1", "3", "4", "what is x?", "what's x?", "1"],
        ],
    ),
    "mnli": (
        True,
        [
            [
                "index",
                "promptID",
                "pairID",
                "genre",
                "s1b",
                "s2b",
                "s1p",
                "s2p",
                "sentence1",
                "sentence2",
                "label1",
                "gold_label",
            ],
            [
                "0",
                "p",
                "q",
                "g",
                "",
                "",
                "",
                "",
                "it rains",
                "it is wet",
                "entailment",
                "entailment",
            ],
            [
                "1",
                "p",
                "q",
                "g",
                "",
                "",
                "",
                "",
                "it rains",
                "it is dry",
                "contradiction",
                "contradiction",
            ],
        ],
    ),
    "qnli": (
        True,
        [
            ["index", "question", "sentence", "label"],
            ["0", "who?", "bob did.", "entailment"],
            ["1", "when?", "blue.", "not_entailment"],
        ],
    ),
    "rte": (
        True,
        [
            ["index", "sentence1", "sentence2", "label"],
            ["0", "a b", "a", "entailment"],
            ["1", "x", "y", "not_entailment"],
        ],
    ),
    "wnli": (
        True,
        [
            ["index", "sentence1", "sentence2", "label"],
            ["0", "it fell", "the cup fell", "1"],
            ["1", "he ran", "she ran", "0"],
        ],
    ),
}
EXPECTED = {
    "cola": ([("the cat sat .",), ("cat the sat .",)], [1, 0]),
    "sst2": ([("a fine film",), ("dull",)], [1, 0]),
    "mrpc": ([("he ran", "he jogged"), ("sky", "sea")], [1, 0]),
    "stsb": ([("a man", "a person"), ("cats", "stocks")], [4.2, 0.4]),
    "qqp": ([("how?", "why?"), ("what is x?", "what's x?")], [0, 1]),
    "mnli": ([("it rains", "it is wet"), ("it rains", "it is dry")], [1, 0]),
    "qnli": ([("who?", "bob did."), ("when?", "blue.")], [0, 1]),
    "rte": ([("a b", "a"), ("x", "y")], [0, 1]),
    "wnli": ([("it fell", "the cup fell"), ("he ran", "she ran")], [1, 0]),
}


def write_tsv(path, rows):
    path.write_text("".join("\t".join(r) + "\n" for r in rows))


@pytest.mark.parametrize("name", FIXTURES)
def test_glue_readers(tmp_path, name):
    _, rows = FIXTURES[name]
    task = get_task(name)
    for stem in ("train", *task.dev_files):
        write_tsv(tmp_path / f"{stem}.tsv", rows)
    labels, splits = load_task(task, tmp_path)
    texts, values = EXPECTED[name]
    for stem in ("train", *task.dev_files):
        assert splits[stem].texts == texts and splits[stem].labels == pytest.approx(values)
    assert (labels is None) == (name == "stsb")


def test_glue_data_root_and_missing_files(tmp_path):
    (tmp_path / "SST-2").mkdir()
    write_tsv(tmp_path / "SST-2" / "train.tsv", FIXTURES["sst2"][1])
    write_tsv(tmp_path / "SST-2" / "dev.tsv", FIXTURES["sst2"][1])
    assert len(load_task(get_task("SST-2"), tmp_path)[1]["dev"]) == 2  # a glue_data root works too
    with pytest.raises(ValueError, match="no train.tsv or train.csv"):
        load_task(get_task("rte"), tmp_path / "SST-2" / ".." / "SST-2" / "..")
    with pytest.raises(ValueError, match="does not exist"):
        load_task(get_task("sst2"), tmp_path / "nope")
    with pytest.raises(ValueError, match="unknown task 'sst3'"):
        get_task("sst3")


def test_malformed_rows_named_then_skipped(tmp_path, capsys):
    rows = [
        ["sentence", "label"],
        ["good", "1"],
        ["bad row", "1", "extra"],
        ["", "0"],
        ["meh", "7"],
        ["ok", "0"],
    ]
    write_tsv(tmp_path / "train.tsv", rows)
    write_tsv(tmp_path / "dev.tsv", rows[:2])
    with pytest.raises(ValueError) as err:
        load_task(get_task("sst2"), tmp_path)
    msg = str(err.value)
    assert (
        "3 malformed rows" in msg
        and "train.tsv:3: 3 columns" in msg
        and "train.tsv:4: empty text" in msg
    )
    assert "train.tsv:5: unknown label '7'" in msg
    _, splits = load_task(get_task("sst2"), tmp_path, max_errors=3)
    assert splits["train"].labels == [1, 0] and len(splits["train"].skipped) == 3
    assert capsys.readouterr().err.count("warning: skipped") == 3


def test_custom_csv_task(tmp_path):
    (tmp_path / "train.csv").write_text(
        'q,a,y\n"hi, there",yo,greet\nbye,ciao,leave\nhow,fine,ask\n'
    )
    (tmp_path / "dev.csv").write_text("q,a,y\nhey,hi,greet\n")
    task = get_task("custom", "q,a", "y")
    labels, splits = load_task(task, tmp_path)
    assert labels == ("ask", "greet", "leave")
    assert splits["train"].texts[0] == ("hi, there", "yo") and splits["dev"].labels == [1]
    with pytest.raises(ValueError, match="needs --text-columns"):
        get_task("custom")


def test_batch_order_is_deterministic_and_complete():
    lengths = [5, 9, 2, 7, 3, 8, 1, 4, 6, 10]
    a = batch_order(lengths, 3, seed=42, epoch=0, bucket=True)
    assert a == batch_order(lengths, 3, seed=42, epoch=0, bucket=True)
    assert sorted(i for b in a for i in b) == list(range(10))
    assert a != batch_order(lengths, 3, seed=42, epoch=1, bucket=True)


def test_metrics_hand_computed():
    preds, labels = [1, 1, 0, 0, 1], [1, 0, 0, 1, 1]
    assert accuracy(preds, labels)["accuracy"] == pytest.approx(0.6)
    # tp=2 fp=1 fn=1 -> F1 = 4/6
    assert acc_f1(preds, labels)["f1"] == pytest.approx(4 / 6)
    # tp=2 tn=1 fp=1 fn=1 -> (2-1)/sqrt(3*3*2*2) = 1/6
    assert mcc(preds, labels)["mcc"] == pytest.approx(1 / 6)
    assert mcc([1, 1], [1, 1])["mcc"] == 0.0
    r = pearson_spearman([1.0, 2.0, 3.0, 4.0], [1.0, 3.0, 2.0, 4.0])
    assert r["spearman"] == pytest.approx(0.8)  # 1 - 6*2/(4*15)
    assert r["pearson"] == pytest.approx(0.8)


def test_split_source_holds_no_absolute_path(tmp_path, monkeypatch):
    """Records and reports name the data file; one given by an absolute path under the working directory is
    written relative to it (committed reports hold no absolute paths of the machine that made them)."""
    data = tmp_path / "glue" / "SST-2"
    data.mkdir(parents=True)
    for name in ("train.tsv", "dev.tsv"):
        (data / name).write_text("sentence\tlabel\na fine film\t1\na dull one\t0\n")
    monkeypatch.chdir(tmp_path)
    _, splits = load_task(get_task("sst2"), data)
    assert splits["dev"].source == "glue/SST-2/dev.tsv"
