"""Network rewiring (spec 2): score heads and FFN neurons, then permute them so the important ones come first.

Importance is first-order Taylor (Molchanov et al. 2017; Michel et al. 2019): |dL/dh| for a head gate h = 1,
and for FFN neuron j |sum W_up[j,:]*dW_up[j,:] + b_up[j]*db_up[j]| + |sum W_down[:,j]*dW_down[:,j]|.
Two accumulation rules (spec 2.1): "paper" sums gradients over the whole set and scores once; "code" (the
official implementation) never zeroes gradients and adds |cumulative term| after every batch.
Must not import bench or devices.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.nn.functional as F

from dynabert.config import SubnetSpec
from dynabert.model import DynaBert
from dynabert.slicing import hf_layer_modules

RULES = ("paper", "code")


def task_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy, or MSE for a single-output (regression) head such as STS-B."""
    if logits.shape[-1] == 1:
        return F.mse_loss(logits.squeeze(-1), labels.float())
    return F.cross_entropy(logits, labels)


def _ffn_scores(dyna: DynaBert) -> torch.Tensor:
    """[L, F] FFN-neuron scores from the gradients currently held by the weights."""
    rows = []
    for layer in dyna.layers:
        m = hf_layer_modules(layer)
        up, down = m.ffn_up, m.ffn_down
        incoming = (up.weight * up.weight.grad).sum(1) + up.bias * up.bias.grad  # [F, H] -> [F]
        outgoing = (down.weight * down.weight.grad).sum(0)  # [H, F] -> [F]
        rows.append(incoming.abs() + outgoing.abs())
    return torch.stack(rows).detach()


def importance(
    dyna: DynaBert, batches: Iterable[dict], rule: str = "paper"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Head scores [L, heads] and FFN-neuron scores [L, ffn] of the full model on labelled batches.

    Each batch is a dict with input_ids, attention_mask, (token_type_ids,) labels. Runs in eval mode (no
    dropout), as the official code does, and leaves the weights and their .grad as it found them (grad None).
    """
    if rule not in RULES:
        raise ValueError(f"importance rule must be one of {RULES}, got {rule!r}")
    size = dyna.full_size
    was_training = dyna.training
    dyna.eval()
    dyna.zero_grad(set_to_none=True)
    head_mask = torch.ones(
        size.num_layers, size.num_heads, requires_grad=True, device=dyna.hf.device
    )
    head_scores = torch.zeros(size.num_layers, size.num_heads, device=head_mask.device)
    ffn_scores = torch.zeros(size.num_layers, size.ffn_size, device=head_mask.device)
    n_batches = 0
    with torch.enable_grad():
        for batch in batches:
            out = dyna(
                batch["input_ids"],
                batch["attention_mask"],
                batch.get("token_type_ids"),
                head_mask=head_mask,
                spec=SubnetSpec(),
            )
            task_loss(out.logits, batch["labels"]).backward()
            n_batches += 1
            if rule == "code":
                head_scores += head_mask.grad.abs()
                ffn_scores += _ffn_scores(dyna)
    if n_batches == 0:
        raise ValueError("importance needs at least one batch; the importance data set is empty")
    if rule == "paper":
        head_scores, ffn_scores = head_mask.grad.abs(), _ffn_scores(dyna)
    dyna.zero_grad(set_to_none=True)
    dyna.train(was_training)
    return head_scores.detach(), ffn_scores


@torch.no_grad()
def rewire_(
    dyna: DynaBert, head_scores: torch.Tensor, ffn_scores: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Permute every layer in place so heads and neurons are in descending importance (spec 2.2).

    Returns the orders applied ([L, heads], [L, ffn]): row l lists old indices in their new positions.
    The full-size function is unchanged: Q/K/V rows and attention-out columns move together, and so do
    FFN-up rows and FFN-down columns; LayerNorms, embeddings and the head are untouched.
    """
    size = dyna.full_size
    if head_scores.shape != (size.num_layers, size.num_heads) or ffn_scores.shape != (
        size.num_layers,
        size.ffn_size,
    ):
        raise ValueError(
            f"scores of shape {tuple(head_scores.shape)} / {tuple(ffn_scores.shape)} do not fit a model "
            f"with {size.num_layers} layers, {size.num_heads} heads, {size.ffn_size} FFN neurons"
        )
    head_orders = torch.argsort(head_scores, dim=1, descending=True, stable=True)
    ffn_orders = torch.argsort(ffn_scores, dim=1, descending=True, stable=True)
    hd = size.head_size
    for layer, head_order, ffn_order in zip(dyna.layers, head_orders, ffn_orders):
        rows = (head_order[:, None] * hd + torch.arange(hd, device=head_order.device)).reshape(
            -1
        )  # [nh] -> [nh*hd]
        m = hf_layer_modules(layer)
        for lin in (m.query, m.key, m.value):
            lin.weight.copy_(lin.weight[rows])
            lin.bias.copy_(lin.bias[rows])
        m.attn_out.weight.copy_(m.attn_out.weight[:, rows])
        up, down = m.ffn_up, m.ffn_down
        up.weight.copy_(up.weight[ffn_order])
        up.bias.copy_(up.bias[ffn_order])
        down.weight.copy_(down.weight[:, ffn_order])
    return head_orders, ffn_orders
