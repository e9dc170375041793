"""Step/parts ratio of one stage-depth optimizer step on the GPU, at a mixed-precision setting (for bench.gpu_check).

ratio = (one `engine.train_step` + optimizer step) / (one teacher forward + each of the 12 sub-networks' forward
and backward alone + the optimizer step alone), medians of CUDA-synchronised wall times, every part under the
same autocast as the step. 1.0: the step does no work beyond its parts (the CPU counterpart is
bench/test_train_throughput.py).
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from dynabert.config import default_grid

BATCH, SEQ, ROUNDS = 32, 128, 10


def timed(fn, sync, rounds: int = ROUNDS) -> float:
    fn()
    sync()
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def step_parts_ratio(model_dir: Path, precision: str) -> dict:
    """{"status", "ratio_step_to_parts", "step_s", "samples_per_s", ...} for `precision` in no|bf16|fp16."""
    import torch

    from dynabert.engine import Trainable, make_accelerator, train_step
    from dynabert.losses import LOSSES, LossSettings
    from dynabert.model import DynaBert
    from dynabert.presets import load_model

    try:
        accelerator = make_accelerator(precision)
        device = accelerator.device
        teacher = DynaBert(load_model(str(model_dir))).to(device).eval().requires_grad_(False)
        model = Trainable(DynaBert(load_model(str(model_dir))).train())
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
        model, optimizer = accelerator.prepare(model, optimizer)
        specs, settings = default_grid(), LossSettings(1.0, 1.0)
        g = torch.Generator().manual_seed(0)
        vocab = teacher.full_size.vocab_size
        ids = torch.randint(5, vocab, (BATCH, SEQ), generator=g).to(device)
        batch = {
            "input_ids": ids,
            "attention_mask": torch.ones_like(ids),
            "labels": torch.zeros(BATCH).long().to(device),
        }
        inputs = (ids, batch["attention_mask"], None)
        sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

        def optimizer_step():
            accelerator.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)

        def step():
            train_step(model, teacher, specs, "dynabert", settings, batch, accelerator)
            optimizer_step()

        def teacher_forward():
            with torch.no_grad(), accelerator.autocast():
                return teacher(*inputs)

        t_out = teacher_forward()

        def part(spec):
            def fwd_bwd():
                with accelerator.no_sync(model), accelerator.autocast():
                    loss = LOSSES["dynabert"](
                        model(*inputs, spec=spec), t_out, batch, spec, settings
                    )
                accelerator.backward(loss)

            return fwd_bwd

        parts_s = timed(teacher_forward, sync) + sum(timed(part(spec), sync) for spec in specs)
        parts_s += timed(optimizer_step, sync)
        step_s = timed(step, sync)
        return {
            "status": "ok",
            "precision": precision,
            "batch": BATCH,
            "seq_len": SEQ,
            "n_subnetworks": len(specs),
            "step_s": step_s,
            "parts_s": parts_s,
            "ratio_step_to_parts": step_s / parts_s,
            "samples_per_s": BATCH / step_s,
            "rounds": ROUNDS,
            "timer": "perf_counter + cuda.synchronize",
        }
    except Exception as err:  # a failed measurement is a result, reported in the summary
        return {"status": "error", "precision": precision, "error": f"{type(err).__name__}: {err}"}
