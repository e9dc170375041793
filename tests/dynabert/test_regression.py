"""Regression (STS-B) end to end: every stage and baseline learns (non-zero, falling loss), the metric's undefined
case is explicit, and evaluation writes Pearson/Spearman records. STS-B-format TSVs are written here."""

import json
import math
import random
import re

import pytest
import torch

from dynabert.baselines import distilbert_loss, prediction_loss
from dynabert.cli import main
from dynabert.metrics import pearson_spearman, selection_score, undefined
from records import read

HEADER = [
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
]
ANIMALS = ["cat", "dog", "bird", "horse", "cow", "fish", "lion", "sheep"]
THINGS = ["car", "tree", "house", "river", "ball", "city", "phone", "road", "chair", "shirt"]


def stsb_rows(n: int, seed: int) -> list[list[str]]:
    """Pairs scored 5 x the share of sentence 2's four words that are animals (a rule a tiny model learns fast)."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        k = rng.randint(0, 4)
        second = rng.sample(ANIMALS, k) + rng.sample(THINGS, 4 - k)
        rng.shuffle(second)
        rows.append(
            [
                str(i),
                "main-captions",
                "MSRvid",
                "2012test",
                str(i),
                "none",
                "none",
                " ".join(rng.sample(THINGS, 3)),
                " ".join(second),
                f"{5 * k / 4:.3f}",
            ]
        )
    return rows


@pytest.fixture(scope="module")
def stsb_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("STS-B")
    for name, n, seed in (("train.tsv", 128, 0), ("dev.tsv", 48, 1)):
        (folder / name).write_text(
            "\n".join("\t".join(r) for r in [HEADER, *stsb_rows(n, seed)]) + "\n"
        )
    return str(folder)


def losses(log) -> list[float]:
    return [float(x) for x in re.findall(r": loss ([0-9.e-]+)", log.read_text())]


def train(stsb_dir, out, *extra):
    return main(
        [
            "train",
            "--task",
            "stsb",
            "--data-dir",
            stsb_dir,
            "--model",
            "tiny",
            "--output-dir",
            str(out),
            "--batch-size",
            "16",
            "--epochs",
            "2",
            "--learning-rate",
            "1e-3",
            "--eval-every",
            "0",
            "--logging-steps",
            "1",
            "--max-eval-samples",
            "48",
            *extra,
        ]
    )


@pytest.mark.slow
def test_stsb_every_stage_and_baseline_learns_then_evaluates(stsb_dir, tmp_path):
    """Case 6: teacher, width, depth, DistilBERT- and TinyBERT-style baselines of STS-B all have a non-zero loss
    that falls (mean over an epoch's 8 batches, so each mean covers the same 128 examples; training is seeded,
    so the run is the same every time); `dynabert evaluate`
    writes a Pearson/Spearman record per sub-network."""
    out = tmp_path / "run"
    # a teacher worth distilling: at 1e-3 for 6 epochs the tiny model still predicts near the mean (std ~1e-5)
    assert (
        train(
            stsb_dir,
            out,
            "--stage",
            "teacher",
            "--epochs",
            "10",
            "--learning-rate",
            "3e-3",
            "--warmup-ratio",
            "0.1",
        )
        == 0
    )
    for stage in ("width", "depth"):
        assert (
            train(
                stsb_dir,
                out,
                "--stage",
                stage,
                "--widths",
                "1.0,0.5",
                "--depths",
                "1.0,0.5",
                "--regression-pred-loss",
            )
            == 0
        ), stage
    assert train(stsb_dir, out, "--baseline", "distilbert", "--epochs", "3") == 0
    # TinyBERT: epoch 1 intermediate layers (phase 1), epochs 2-3 predictions (phase 2, MSE to the teacher)
    assert (
        train(
            stsb_dir,
            out,
            "--baseline",
            "tinybert",
            "--epochs",
            "3",
            "--tinybert-phase1-fraction",
            "0.33",
        )
        == 0
    )
    for folder, epochs in (
        ("teacher", 10),
        ("width", 2),
        ("depth", 2),
        ("baseline-distilbert", 3),
        ("baseline-tinybert", 3),
    ):
        log = losses(out / folder / "train.log")
        assert len(log) == 8 * epochs, folder
        assert min(log) > 0, f"{folder}: a zero loss teaches nothing: {log}"
        means = [sum(log[i : i + 8]) / 8 for i in range(0, len(log), 8)]
        first = (
            1 if folder == "baseline-tinybert" else 0
        )  # TinyBERT: from the first epoch of phase 2
        assert means[-1] < means[first], f"{folder}: loss did not fall over the epochs: {means}"
        summary = json.loads((out / folder / "summary.json").read_text())
        assert (
            math.isfinite(summary["best_score"])
            and (out / folder / "best" / "config.json").is_file()
        )
    store = tmp_path / "acc.jsonl"
    assert (
        main(
            [
                "evaluate",
                "--checkpoint",
                str(out / "depth"),
                "--task",
                "stsb",
                "--data-dir",
                stsb_dir,
                "--widths",
                "1.0,0.5",
                "--depths",
                "1.0,0.5",
                "--results",
                str(store),
            ]
        )
        == 0
    )
    recs = read(store)
    assert (
        len(recs) == 4
        and {r.task for r in recs} == {"stsb"}
        and {r.metric_name for r in recs} == {"pearson"}
    )
    for r in recs:
        assert r.status == "ok" and set(r.metrics) == {"pearson", "spearman"}
        assert -1 <= r.metrics["pearson"] <= 1 and -1 <= r.metrics["spearman"] <= 1
    teacher = json.loads((out / "teacher" / "summary.json").read_text())["best_dev"]["dev"][
        "w1.00-d1.00"
    ]
    assert (
        teacher["pearson"] > 0.9 and teacher["spearman"] > 0.9
    )  # the animal-count rule is learnt, not noise
    full = next(r for r in recs if r.subnet_id == "w1.00-d1.00")
    assert full.metrics["pearson"] > 0.5  # and survives distillation into the dynamic model


def test_regression_prediction_losses_are_mse_to_the_teacher():
    """Soft cross-entropy over one logit is 0 whatever the logits; the regression loss is MSE to the teacher."""
    student, teacher = torch.tensor([[1.0], [2.0]]), torch.tensor([[0.0], [4.0]])
    assert prediction_loss(student, teacher).item() == pytest.approx((1 + 4) / 2)
    out = type("Out", (), {"logits": student, "hidden_states": None})
    t_out = type("Out", (), {"logits": teacher, "hidden_states": None})
    assert distilbert_loss(out, t_out, 2.0, 0.0, None).item() == pytest.approx(
        2.5
    )  # no T^2 on a score
    two = torch.tensor([[2.0, 0.0]])
    assert prediction_loss(two, two.flip(-1), 1.0).item() > 0  # classification unchanged: soft CE


def test_constant_predictions_have_an_undefined_correlation():
    assert pearson_spearman([0.5, 1.0, 2.0], [1.0, 2.0, 2.5])["pearson"] == pytest.approx(13 / 14)
    m = pearson_spearman([3.0, 3.0, 3.0], [1.0, 2.0, 2.5])
    assert math.isnan(m["pearson"]) and math.isnan(m["spearman"])
    assert "predictions are constant" in undefined(
        "pearson_spearman", [3.0, 3.0, 3.0], [1.0, 2.0, 2.5]
    )
    assert "gold scores are constant" in undefined("pearson_spearman", [1.0, 2.0], [4.0, 4.0])
    assert "at least 2 examples" in undefined("pearson_spearman", [1.0], [4.0])
    assert undefined("accuracy", [1, 1], [1, 1]) is None
    # checkpoint choice: an undefined correlation counts 0, so a score always exists
    assert (
        selection_score({"w1.00-d1.00": {"pearson": 0.5, "spearman": 0.4}, "w0.25-d1.00": m}) == 0.5
    )


def test_evaluate_records_an_undefined_correlation_as_an_error(stsb_dir, tmp_path, capsys):
    """A model whose output ignores its input (zeroed classifier weights): no number is stored as measured."""
    from dynabert.presets import load_model, load_tokenizer

    hf = load_model("tiny", num_labels=1)
    with torch.no_grad():
        hf.classifier.weight.zero_()
        hf.classifier.bias.fill_(2.5)
    hf.save_pretrained(tmp_path / "const")
    load_tokenizer("tiny").save_pretrained(tmp_path / "const")
    store = tmp_path / "acc.jsonl"
    assert (
        main(
            [
                "evaluate",
                "--checkpoint",
                str(tmp_path / "const"),
                "--task",
                "stsb",
                "--data-dir",
                stsb_dir,
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
    (rec,) = read(store)
    assert (
        rec.status == "error"
        and rec.metric_value is None
        and "predictions are constant (2.5" in rec.error
    )
    assert "pearson/spearman undefined" in capsys.readouterr().out


def test_dynabert_regression_distillation_without_prediction_loss_still_learns_hidden_states():
    """Official code (no --regression-pred-loss): the prediction term is 0 but the hidden-state term is not."""
    from dynabert.distill import distill_loss

    s_hidden, t_hidden = (
        (torch.zeros(1, 3, 4), torch.ones(1, 3, 4)),
        (torch.ones(1, 3, 4), torch.ones(1, 3, 4) * 2),
    )
    logits = torch.tensor([[1.0]])
    off = distill_loss(
        logits, s_hidden, logits + 1, t_hidden, (0, 1), 1.0, 0.1, regression_pred_loss=False
    )
    on = distill_loss(
        logits, s_hidden, logits + 1, t_hidden, (0, 1), 1.0, 0.1, regression_pred_loss=True
    )
    assert off.item() == pytest.approx(0.1 * (1 + 1)) and on.item() == pytest.approx(1 + 0.2)
