"""Shared fixtures: tiny random BERT/RoBERTa/DistilBERT classifiers built in the test (no downloads)."""

import os

import pytest
import torch
from transformers import (
    BertConfig,
    BertForSequenceClassification,
    DistilBertConfig,
    DistilBertForSequenceClassification,
    RobertaConfig,
    RobertaForSequenceClassification,
)

os.environ.setdefault("HF_HUB_OFFLINE", "1")

# The trainer tests run on a small SST-2-format stand-in (640 train / 128 dev rows, short sentences): the suite has a
# 12-minute budget and the real 67,349-row set costs seconds per training test. DYNABERT_SST2_DIR=PATH runs them
# on a real copy instead (e.g. ../shared/data/glue/SST-2); the reference runs in reports/ use the real data.
SST2_CANDIDATES = [os.environ.get("DYNABERT_SST2_DIR", "")]


def tiny_bert(
    heads: int = 4,
    layers: int = 2,
    hidden: int = 64,
    ffn: int = 128,
    labels: int = 2,
    seed: int = 0,
):
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=200,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=ffn,
        max_position_embeddings=64,
        num_labels=labels,
    )
    return BertForSequenceClassification(config).eval()


def tiny_roberta(seed: int = 0):
    torch.manual_seed(seed)
    config = RobertaConfig(
        vocab_size=200,
        hidden_size=64,
        num_hidden_layers=4,
        num_attention_heads=4,
        intermediate_size=128,
        max_position_embeddings=80,
        num_labels=3,
        pad_token_id=1,
    )
    return RobertaForSequenceClassification(config).eval()


def tiny_distilbert(layers: int = 4, vocab: int = 200, seed: int = 0):
    """DistilBERT layout: transformer.layer.N (q_lin, sa_layer_norm, ffn.lin1), no token types, ReLU head."""
    torch.manual_seed(seed)
    config = DistilBertConfig(
        vocab_size=vocab,
        dim=64,
        n_layers=layers,
        n_heads=4,
        hidden_dim=96,
        max_position_embeddings=64,
        num_labels=3,
    )
    return DistilBertForSequenceClassification(config).eval()


def padded_batch(vocab: int = 200, batch: int = 3, seq: int = 24, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, vocab, (batch, seq), generator=g)
    mask = torch.ones_like(ids)
    mask[1, seq // 2 :] = 0
    mask[2, 5:] = 0
    ids[mask == 0] = 0
    return ids, mask


@pytest.fixture
def bert():
    return tiny_bert()


@pytest.fixture(scope="session")
def sst2_dir(tmp_path_factory):
    """A small SST-2-format stand-in (640 train / 128 dev rows whose label is a word rule), or the copy named by
    $DYNABERT_SST2_DIR."""
    for path in SST2_CANDIDATES:
        if path and os.path.isfile(os.path.join(path, "train.tsv")):
            return path
    from bench.standin import write_sst2_standin

    folder = write_sst2_standin(
        tmp_path_factory.mktemp("sst2-standin"), {"train.tsv": 640, "dev.tsv": 128}, filler_words=3
    )
    return str(folder)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory):
    """The `tiny` preset saved as a local checkpoint folder (weights and tokenizer), as a user's would be."""
    from dynabert.presets import load_model, load_tokenizer

    path = tmp_path_factory.mktemp("ckpt") / "tiny"
    load_model("tiny").save_pretrained(path)
    load_tokenizer("tiny").save_pretrained(path)
    return path
