"""Run under `torchrun --nproc_per_node 2`: gradient all-reduces per optimizer step in stage depth (12 sub-networks).

Counts the calls of a DDP communication hook (one call = one bucket all-reduced) over one step of stage depth's
12 sub-networks, twice: "before" is the loop the trainer used to run (accelerator.backward per sub-network, each
one synchronising), "after" is `engine.train_step` (no_sync for all but the last backward). Rank 0 prints one JSON
line. Used by tests/dynabert/test_train_distributed.py.
"""

import json

import torch
import torch.distributed as dist
from torch.distributed.algorithms.ddp_comm_hooks.default_hooks import allreduce_hook

from dynabert.config import default_grid
from dynabert.engine import Trainable, make_accelerator, train_step
from dynabert.losses import LOSSES, LossSettings
from dynabert.model import DynaBert
from dynabert.presets import load_model


def main() -> None:
    accelerator = make_accelerator("no")
    teacher = DynaBert(load_model("tiny", seed=1)).eval().requires_grad_(False)
    model = accelerator.prepare(Trainable(DynaBert(load_model("tiny", seed=0)).train()))
    calls = [0]

    def counting_hook(state, bucket):
        calls[0] += 1
        return allreduce_hook(None, bucket)

    model.register_comm_hook(None, counting_hook)
    specs, settings = default_grid(), LossSettings(1.0, 1.0)
    g = torch.Generator().manual_seed(accelerator.process_index)
    ids = torch.randint(1000, 29000, (4, 16), generator=g)
    batch = {
        "input_ids": ids,
        "attention_mask": torch.ones_like(ids),
        "labels": torch.zeros(4, dtype=torch.long),
    }
    inputs = (ids, batch["attention_mask"], None)

    with torch.no_grad():
        t_out = teacher(*inputs)
    for spec in specs:  # before: every backward synchronises
        loss = LOSSES["dynabert"](model(*inputs, spec=spec), t_out, batch, spec, settings)
        accelerator.backward(loss)
    before, calls[0] = calls[0], 0
    model.zero_grad(set_to_none=True)
    train_step(model, teacher, specs, "dynabert", settings, batch, accelerator)
    after = calls[0]
    if accelerator.is_main_process:
        print(
            json.dumps(
                {
                    "world": dist.get_world_size(),
                    "sub_networks": len(specs),
                    "bucket_allreduces_per_step_before": before,
                    "bucket_allreduces_per_step_after": after,
                    "buckets": len(model._get_ddp_logging_data().get("bucket_sizes", "").split(","))
                    if hasattr(model, "_get_ddp_logging_data")
                    else None,
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
