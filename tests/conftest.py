"""Shared fixtures, built from the factories in tests/factories.py (no downloads)."""

import os

import pytest

from factories import tiny_bert, tiny_preset_dynabert

os.environ.setdefault("HF_HUB_OFFLINE", "1")

# The trainer tests run on a small SST-2-format stand-in (640 train / 128 dev rows, short sentences): the suite has a
# 12-minute budget and the real 67,349-row set costs seconds per training test. DYNABERT_SST2_DIR=PATH runs them
# on a real copy instead (e.g. ../shared/data/glue/SST-2); the reference runs in reports/ use the real data.
SST2_CANDIDATES = [os.environ.get("DYNABERT_SST2_DIR", "")]


@pytest.fixture
def bert():
    return tiny_bert()


@pytest.fixture(scope="session")
def tiny_dyna():
    """(DynaBert, weights sha) of the `tiny` preset, built once per session; tests extract from it, never
    change it."""
    return tiny_preset_dynabert()


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
