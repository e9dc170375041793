"""What every exporter feeds and wraps, in a leaf module so the exporters (bench/export.py,
bench/openvino_export.py, bench/executorch_export.py) share it without importing each other: the logits-only
wrapper that gives every artifact its (input_ids, attention_mask, token_type_ids) -> logits signature, and the
seeded sample inputs the numerics checks and the converters use. torch is imported where it runs (`--help`
stays light)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def logits_only(model: torch.nn.Module) -> torch.nn.Module:
    """(input_ids, attention_mask, token_type_ids) -> logits: the signature every artifact has."""
    import torch

    class LogitsOnly(torch.nn.Module):
        def __init__(self, model: torch.nn.Module):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.model(input_ids, attention_mask, token_type_ids).logits

    return LogitsOnly(model)


def sample_inputs(
    batch: int, seq_len: int, vocab: int, seed: int = 0, dtype=None
) -> tuple[torch.Tensor, ...]:
    """Random ids from the model's vocabulary (the runner's range, devices.runner.token_id_range); row 1 (if any)
    half padded, so a baked-in mask would show up as an error. Token types 0, valid for every type vocabulary."""
    import torch

    from devices.runner import token_id_range

    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(*token_id_range(vocab), (batch, seq_len), generator=g)
    mask = torch.ones_like(ids)
    if batch > 1:
        mask[1, seq_len // 2 :] = 0
        ids[1, seq_len // 2 :] = 0
    dtype = dtype or torch.long
    return ids.to(dtype), mask.to(dtype), torch.zeros_like(ids).to(dtype)
