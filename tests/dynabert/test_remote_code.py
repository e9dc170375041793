"""An extracted sub-network works wherever Hugging Face models work: in a Python that cannot import dynabert it
loads with trust_remote_code (the project's own modules, copied beside the weights) and runs in a `pipeline`,
giving the project's logits; it behaves like transformers' BERT classifier (outputs, losses, argument checks)."""

import json
from pathlib import Path

import pytest
import torch
from huggingface_hub import ModelCard
from no_dynabert import imports_of, run_without_dynabert
from transformers import AutoTokenizer, BertTokenizer

import records
from dynabert import DynaBert, LayerwiseSpec, SubnetSpec, cost, extract
from dynabert.cli import main as cli_main
from dynabert.evaluate import weights_sha
from dynabert.extract import save_subnet

from factories import accuracy_record, padded_batch, tiny_bert, tiny_distilbert, tiny_roberta

LAYOUTS = {  # layout -> (model, its label names, the sub-network cut from it)
    "bert": (tiny_bert, {0: "negative", 1: "positive"}, SubnetSpec(0.5, 0.5)),
    "roberta": (tiny_roberta, {0: "sad", 1: "neutral", 2: "happy"}, SubnetSpec(0.75, 0.5)),
    "distilbert": (
        tiny_distilbert,
        {0: "sport", 1: "politics", 2: "science"},
        SubnetSpec(0.5, 0.75),
    ),
    # issue 17: heads and FFN differ per layer, layer 2 skipped
    "roberta-per-layer": (
        tiny_roberta,
        {0: "sad", 1: "neutral", 2: "happy"},
        LayerwiseSpec((4, 1, 0, 3), (128, 7, 0, 64)),
    ),
}
WORDS = [
    "the",
    "film",
    "was",
    "good",
    "bad",
    "a",
    "story",
    "with",
    "great",
    "acting",
    "and",
    "plot",
    "dull",
]
SENTENCES = ["the film was good", "a dull story with bad acting and a plot"]


def labelled(name: str):
    make, names, _ = LAYOUTS[name]
    hf = make()
    hf.config.id2label, hf.config.label2id = dict(names), {v: k for k, v in names.items()}
    return hf


def tokenizer_for(config) -> BertTokenizer:
    """A word-level vocabulary whose [PAD] id is the model's pad_token_id (RoBERTa: 1, which its positions use)."""
    vocab = ["[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]
    vocab.insert(config.pad_token_id, "[PAD]")
    return BertTokenizer(vocab={w: i for i, w in enumerate(vocab)})


ISOLATED = """
import json, torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

out = {}
for name, path in DIRS.items():
    model = AutoModelForSequenceClassification.from_pretrained(path, trust_remote_code=True).eval()
    classifier = pipeline("text-classification", model=path, trust_remote_code=True)
    enc = AutoTokenizer.from_pretrained(path, trust_remote_code=True)(SENTENCES, padding=True, return_tensors="pt")
    with torch.no_grad():
        res = model(**enc, output_hidden_states=True, output_attentions=True)
    out[name] = {"class": type(model).__module__ + "." + type(model).__name__,
                 "pipeline_class": type(classifier.model).__module__, "pipeline": classifier(SENTENCES, top_k=None),
                 "inputs": {k: v.tolist() for k, v in enc.items()}, "logits": res.logits.tolist(),
                 "n_hidden_states": len(res.hidden_states), "attention_shape": list(res.attentions[0].shape)}
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def isolated_run(tmp_path_factory):
    """Each layout's sub-network saved by save_subnet, then loaded and run in one process without dynabert."""
    root = tmp_path_factory.mktemp("remote-code")
    subs = {}
    for name in LAYOUTS:
        hf = labelled(name)
        subs[name] = save_subnet(
            DynaBert(hf),
            LAYOUTS[name][2],
            root / f"sub-{name}",
            f"tiny-{name}",
            tokenizer_for(hf.config),
        )
    dirs = {name: str(root / f"sub-{name}") for name in LAYOUTS}
    script = f"DIRS = {dirs!r}\nSENTENCES = {SENTENCES!r}\n" + ISOLATED
    return subs, dirs, run_without_dynabert(script, root / "isolated")


@pytest.mark.slow
@pytest.mark.parametrize("name", LAYOUTS)
def test_pipeline_without_dynabert_gives_project_logits(isolated_run, name):
    subs, dirs, result = isolated_run
    got, sub = result[name], subs[name]
    assert got["class"].startswith("transformers_modules.") and got["class"].endswith(
        "pruned.PrunedBertForSequenceClassification"
    ), got["class"]  # the copied code, not a built-in class
    assert got["pipeline_class"].startswith("transformers_modules.")
    inputs = {k: torch.tensor(v) for k, v in got["inputs"].items()}
    with torch.no_grad():
        ours = sub(**inputs).logits
        dynamic = DynaBert(labelled(name))(
            inputs["input_ids"], inputs["attention_mask"], spec=LAYOUTS[name][2]
        ).logits
    torch.testing.assert_close(torch.tensor(got["logits"]), ours, atol=1e-6, rtol=0)
    torch.testing.assert_close(ours, dynamic, atol=1e-5, rtol=0)
    assert got["n_hidden_states"] == sub.config.num_hidden_layers + 1
    assert got["attention_shape"] == [
        2,
        sub.config.num_attention_heads,
        *inputs["input_ids"].shape[1:] * 2,
    ]
    tokenizer = AutoTokenizer.from_pretrained(dirs[name])
    for sentence, scores in zip(
        SENTENCES, got["pipeline"]
    ):  # the pipeline runs each sentence unpadded
        with torch.no_grad():
            probs = torch.softmax(sub(**tokenizer(sentence, return_tensors="pt")).logits[0], -1)
        assert {s["label"] for s in scores} == set(
            LAYOUTS[name][1].values()
        )  # the checkpoint's label names
        by_label = {s["label"]: s["score"] for s in scores}
        expected = {LAYOUTS[name][1][i]: p for i, p in enumerate(probs.tolist())}
        assert by_label == pytest.approx(expected, abs=1e-6)
        assert scores[0]["label"] == LAYOUTS[name][1][int(probs.argmax())]


@pytest.mark.slow
def test_saved_directory_is_self_contained(isolated_run):
    """config.auto_map names the copied modules; they import nothing from this project, only each other."""
    _, dirs, _ = isolated_run
    folder = Path(dirs["bert"])
    config = json.loads((folder / "config.json").read_text())
    assert config["auto_map"] == {
        "AutoConfig": "pruned_config.PrunedBertConfig",
        "AutoModelForSequenceClassification": "pruned.PrunedBertForSequenceClassification",
    }
    assert config["id2label"] == {"0": "negative", "1": "positive"}
    for name in ("pruned.py", "pruned_config.py", "layers.py"):
        copied = (folder / name).read_text()
        assert (
            copied == (Path(__file__).resolve().parents[2] / "dynabert" / name).read_text()
        )  # one source
        local = {m for m in imports_of(copied) if m.startswith((".", "dynabert"))}
        assert local <= {".layers", ".pruned_config"}, (name, local)
    assert (folder / "tokenizer_config.json").is_file() and (folder / "README.md").is_file()


def test_outputs_losses_and_arguments_follow_bert_classifier():
    """At full size the extracted model equals BertForSequenceClassification in logits, hidden states,
    attentions and the loss of each problem_type; return_dict=False gives the tuple; unknown arguments raise."""
    ids, mask = padded_batch()
    for num_labels, problem, labels in (
        (3, None, torch.tensor([0, 2, 1])),
        (3, "multi_label_classification", torch.tensor([[1.0, 0, 1], [0, 0, 1], [1, 1, 0]])),
        (1, None, torch.tensor([0.5, -1.0, 2.0])),
    ):
        hf = tiny_bert(labels=num_labels)
        hf.set_attn_implementation("eager")  # attentions are returned by the eager path only
        hf.config.problem_type = problem
        sub = extract(DynaBert(hf), SubnetSpec())
        with torch.no_grad():
            ref = hf(ids, mask, labels=labels, output_hidden_states=True, output_attentions=True)
            out = sub(ids, mask, labels=labels, output_hidden_states=True, output_attentions=True)
            plain = sub(ids, mask, return_dict=False)
        torch.testing.assert_close(out.loss, ref.loss, atol=1e-5, rtol=0)
        torch.testing.assert_close(out.logits, ref.logits, atol=1e-5, rtol=0)
        for a, b in zip(
            (*out.hidden_states, *out.attentions),
            (*ref.hidden_states, *ref.attentions),
            strict=True,
        ):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=0)
        assert isinstance(plain, tuple) and len(plain) == 1 and torch.equal(plain[0], out.logits)
        assert out.hidden_states is not None and sub(ids, mask).hidden_states is None
    with pytest.raises(TypeError, match="inputs_embeds"):
        sub(ids, mask, inputs_embeds=torch.zeros(3, 24, 64))
    sub.config.problem_type = "ranking"
    with pytest.raises(ValueError, match="problem_type 'ranking'"):
        sub(ids, mask, labels=torch.zeros(3))


def test_model_card_states_source_cost_and_measured_accuracy(tmp_path):
    """`dynabert extract` on a checkpoint with a results store: the card names the checkpoint and its hash,
    what was kept, params and FLOPs at seq 128 from flops.py, and the store's accuracy with its split."""
    hf = labelled("bert")
    checkpoint = tmp_path / "ck"
    hf.save_pretrained(checkpoint)
    tokenizer_for(hf.config).save_pretrained(checkpoint)
    sha, spec = weights_sha(hf), SubnetSpec(0.5, 0.5)
    for subnet, value in (
        (spec.subnet_id, 0.8125),
        ("w1.00-d1.00", 0.9),
    ):  # only this sub-network's goes on
        records.append(
            checkpoint / "accuracy.jsonl",
            accuracy_record(
                spec,
                value,
                subnet_id=subnet,
                model_id=str(checkpoint),
                checkpoint_sha=sha,
                split="dev (stand-in dev.tsv, 128 examples)",
                accuracy_source="measured",
            ),
        )
    out = tmp_path / "sub"
    assert (
        cli_main(
            [
                "extract",
                "--checkpoint",
                str(checkpoint),
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
    card = ModelCard.load(out / "README.md")
    c = cost(DynaBert(hf).full_size, spec, 128)
    assert (
        card.data.library_name == "transformers" and card.data.pipeline_tag == "text-classification"
    )
    assert (
        "custom_code" in card.data.tags and card.data.base_model is None
    )  # a local path is no hub id
    (result,) = card.data.eval_results
    assert (result.metric_type, result.metric_value, result.dataset_split) == (
        "accuracy",
        0.8125,
        "dev",
    )
    for fact in (
        str(checkpoint),
        sha,
        weights_sha(extract(DynaBert(hf), spec)),
        "width / depth multiplier | 0.5 / 0.5",
        "layers kept | 1 of 2 (source layers 0)",
        "2 of 4 (head size 16)",
        "64 of 128",
        f"{c.params_active:,}",
        f"{c.flops_with_attention / 1e9:.4f} G with attention",
        "| sst2 | dev (stand-in dev.tsv, 128 examples) | accuracy | 0.8125 |",
        "0: negative, 1: positive",
    ):
        assert fact in card.text, fact
    assert "0.9000" not in card.text
    bare = tmp_path / "bare"
    save_subnet(DynaBert(hf), spec, bare, "someone/some-bert")
    card = ModelCard.load(bare / "README.md")
    assert (
        card.data.base_model == "someone/some-bert"
        and "Not measured" in card.text
        and not card.data.eval_results
    )
    assert (
        cli_main(
            [
                "extract",
                "--checkpoint",
                str(checkpoint),
                "--width",
                "0.5",
                "--depth",
                "0.5",
                "--output-dir",
                str(bare),
                "--results",
                str(tmp_path / "missing.jsonl"),
            ]
        )
        == 2
    )


@pytest.mark.parametrize("how", ["--task", "accuracy records"])
def test_an_extracted_sst2_subnetwork_names_its_outputs_negative_and_positive(tmp_path, how):
    """A checkpoint trained on SST-2 calls its outputs '0' and '1' (the task's raw labels); the extracted
    sub-network carries the task's names, so transformers' pipeline prints negative / positive (issue 29)."""
    from transformers import pipeline

    hf = tiny_bert()
    hf.config.id2label, hf.config.label2id = (
        {0: "1", 1: "0"},
        {"1": 0, "0": 1},
    )  # its own order kept
    spec = SubnetSpec(0.5, 0.5)
    store = tmp_path / "acc.jsonl"
    records.append(
        store,
        accuracy_record(spec, 0.8, model_id="ck", checkpoint_sha=weights_sha(hf)),
    )
    out = tmp_path / "sub"
    task = "sst2" if how == "--task" else None
    sub = save_subnet(
        DynaBert(hf),
        spec,
        out,
        "ck",
        tokenizer_for(hf.config),
        store if task is None else None,
        task,
    )
    assert sub.config.id2label == {0: "positive", 1: "negative"}
    saved = json.loads((out / "config.json").read_text())
    assert saved["id2label"] == {"0": "positive", "1": "negative"}
    assert saved["label2id"] == {"positive": 0, "negative": 1}
    classifier = pipeline("text-classification", model=str(out), trust_remote_code=True)
    assert {s["label"] for s in classifier(SENTENCES[0], top_k=None)} == {"negative", "positive"}
