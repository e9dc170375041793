"""A model's own input limits (vocabulary, token types, positions) and the checks of what is fed to it.

Every command that builds inputs for a model or accepts a sequence length checks them here, so a limit is named
in a one-line message rather than met as an IndexError inside an embedding (torch) or "indices element out of
data bounds" (onnxruntime). Head counts and layer counts are checked by SubnetSpec.check. Reads configs only
(`limits_of` imports dynabert.presets lazily); must not import bench or devices.
"""

from __future__ import annotations

from dataclasses import dataclass

ROBERTA_LIKE = (
    "roberta",
    "xlm-roberta",
    "camembert",
)  # positions start after padding_idx (HF RobertaEmbeddings)


@dataclass(frozen=True)
class InputLimits:
    """What a model's embeddings accept: token ids < vocab_size, token types < type_vocab_size, max_seq_len tokens."""

    vocab_size: int
    type_vocab_size: (
        int  # 0: the model has no token-type embeddings (DistilBERT); feed none, or zeros
    )
    max_seq_len: int  # usable positions: max_position_embeddings, less padding_idx + 1 for RoBERTa


def input_limits(config) -> InputLimits:
    """InputLimits of a Hugging Face (or extracted sub-network) config: the one rule for usable positions, used by
    train, evaluate, the sweep, export and artifact accuracy (a RoBERTa's positions start after padding_idx)."""
    positions = getattr(config, "max_position_embeddings", None)
    if positions is None:
        raise ValueError(
            f"config of model type {getattr(config, 'model_type', '?')!r} has no max_position_embeddings"
        )
    kind, head = getattr(config, "model_type", ""), getattr(config, "head_type", "")
    if kind in ROBERTA_LIKE or head == "roberta-head":  # an extracted RoBERTa sub-network too
        positions -= (getattr(config, "pad_token_id", None) or 0) + 1
    types = (
        0
        if kind == "distilbert" or head == "distilbert-head"
        else getattr(config, "type_vocab_size", 0) or 0
    )
    return InputLimits(int(config.vocab_size), int(types), int(positions))


def check_seq_len(limits: InputLimits, seq_len: int, flag: str, source: str) -> None:
    """Refuse a sequence length the model has no position embeddings for (or one below 2: [CLS] and [SEP])."""
    if not isinstance(seq_len, int) or seq_len < 2:
        raise ValueError(
            f"{flag} must be an integer of at least 2 ([CLS] and [SEP]), got {seq_len!r}"
        )
    if seq_len > limits.max_seq_len:
        raise ValueError(
            f"{flag} {seq_len} is longer than {source} accepts: it has {limits.max_seq_len} usable position "
            f"embeddings (max_position_embeddings in its config, less 2 for RoBERTa models); use {flag} "
            f"{limits.max_seq_len} or less"
        )


def check_tokenizer(tokenizer, limits: InputLimits, source: str) -> None:
    """Refuse a tokenizer whose vocabulary is larger than the model's embedding table (ids it emits would not exist)."""
    n = len(tokenizer)
    if n > limits.vocab_size:
        raise ValueError(
            f"the tokenizer of {source} has {n} tokens but the model's vocabulary holds {limits.vocab_size} "
            f"(vocab_size in its config): ids >= {limits.vocab_size} would index past its embeddings; "
            f"save the tokenizer the model was trained with beside it"
        )


def check_features(features: list[dict], limits: InputLimits, source: str) -> None:
    """Every encoded example within the model's vocabulary, token types and positions (ValueError naming the first)."""
    for i, f in enumerate(features):
        ids, types = f["input_ids"], f.get("token_type_ids") or [0]
        if len(ids) > limits.max_seq_len:
            raise ValueError(
                f"example {i} has {len(ids)} tokens; {source} has {limits.max_seq_len} positions"
            )
        if max(ids) >= limits.vocab_size or min(ids) < 0:
            raise ValueError(
                f"example {i} holds token id {max(ids)}; {source}'s vocabulary has {limits.vocab_size} "
                f"ids (0..{limits.vocab_size - 1}): the tokenizer does not belong to this model"
            )
        if max(types) >= max(1, limits.type_vocab_size):
            raise ValueError(
                f"example {i} holds token type {max(types)}; {source} has {limits.type_vocab_size} token "
                f"type(s): its tokenizer should not emit sentence-pair types for it"
            )


def check_special_tokens(tokenizer, n_texts: int, seq_len: int, flag: str) -> None:
    """Refuse a length below the special tokens the tokenizer adds to one example ([CLS] a [SEP] b [SEP]: 3 for a
    BERT pair; below it, truncation is impossible and transformers returns untruncated rows, transformers#12880)."""
    need = tokenizer.num_special_tokens_to_add(pair=n_texts == 2)
    if seq_len < need:
        kind = "a text pair" if n_texts == 2 else "one text"
        raise ValueError(
            f"{flag} {seq_len} is shorter than the {need} special tokens this tokenizer adds to {kind}; use "
            f"{flag} {need} or more (at least a few more, or the texts are cut away entirely)"
        )


def check_lengths(features: list[dict], seq_len: int, flag: str) -> None:
    """Every encoded example within `seq_len` tokens (the tokenizer's truncation may have failed)."""
    for i, f in enumerate(features):
        if len(f["input_ids"]) > seq_len:
            raise ValueError(
                f"example {i} encodes to {len(f['input_ids'])} tokens, more than {flag} {seq_len}: the tokenizer "
                f"could not truncate it; raise {flag}"
            )


def limits_of(name: str) -> InputLimits:
    """InputLimits of a preset, model directory or hub id from its config alone (no weights loaded)."""
    from dynabert.presets import load_size

    size = load_size(name)
    offset = (
        2 if size.head_type == "roberta-head" else 0
    )  # RoBERTa: padding_idx 1, positions from 2
    return InputLimits(size.vocab_size, size.type_vocab_size, size.max_positions - offset)


def check_model_inputs(name: str, tokenizer, seq_len: int, flag: str) -> InputLimits:
    """check_seq_len and check_tokenizer of a model (by name, config only) and its tokenizer; returns the limits."""
    limits = limits_of(name)
    source = name
    check_seq_len(limits, seq_len, flag, source)
    check_tokenizer(tokenizer, limits, source)
    return limits
