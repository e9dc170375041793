"""Task metric of every (width, depth) of one checkpoint, and the accuracy records for the results store.

Must not import bench or devices.
"""

from __future__ import annotations

import hashlib

import torch

from dynabert.config import SubnetSpec
from dynabert.data import collate
from dynabert.model import DynaBert


def weights_sha(model: torch.nn.Module) -> str:
    """First 12 hex digits of a SHA-256 over the state dict (names and bytes): identifies the weights."""
    h = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:12]


@torch.no_grad()
def predict(dyna: DynaBert, features: list[dict], spec: SubnetSpec, batch_size: int, pad_token_id: int,
            regression: bool) -> list:
    """Predictions (class index, or the score for regression) of one sub-network, in example order."""
    was_training = dyna.training
    dyna.eval()
    device = next(dyna.parameters()).device
    order = sorted(range(len(features)), key=lambda i: len(features[i]["input_ids"]))  # less padding
    out = [None] * len(features)
    for s in range(0, len(order), batch_size):
        idx = order[s:s + batch_size]
        batch = collate([features[i] for i in idx], pad_token_id, regression)
        tt = batch.get("token_type_ids")
        logits = dyna(batch["input_ids"].to(device), batch["attention_mask"].to(device),
                      None if tt is None else tt.to(device), spec=spec).logits
        values = logits.squeeze(-1).tolist() if regression else logits.argmax(-1).tolist()
        for i, v in zip(idx, values):
            out[i] = v
    dyna.train(was_training)
    return out


def evaluate_specs(dyna: DynaBert, features: list[dict], specs: list[SubnetSpec], metric, batch_size: int,
                   pad_token_id: int, regression: bool) -> dict[str, dict[str, float]]:
    """{subnet_id: metrics dict} for every spec."""
    labels = [f["labels"] for f in features]
    return {spec.subnet_id: metric(predict(dyna, features, spec, batch_size, pad_token_id, regression), labels)
            for spec in specs}
