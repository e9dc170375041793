"""Stopping a training run cleanly: SIGINT (Ctrl-C) and SIGTERM (a scheduler's preemption, `timeout`, `docker stop`)
become a request that the loop honours at the next optimizer-step boundary, with a checkpoint; a non-finite loss
stops the stage at the step it appears. Every rank agrees on both at every step (one all-reduce of two flags), so
a multi-process run stops at the same step on all ranks and writes one checkpoint together.

A second Ctrl-C stops at once (KeyboardInterrupt, the last checkpoint kept); a second SIGTERM is ignored (the
checkpoint is already being written). Handlers are installed only in the main thread and restored on exit.
Must not import bench or devices.
"""

from __future__ import annotations

import math
import signal
import sys
import threading

import torch

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequest:
    """`with StopRequest() as stop:` ... `stop.signum` is the first SIGINT/SIGTERM received (None: none yet)."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, object] = {}

    def _handle(self, signum: int, frame) -> None:
        if self.signum == signal.SIGINT and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: stop now, the last checkpoint is kept
        if self.signum is None:
            self.signum = signum
            print(
                f"\n{signal.Signals(signum).name} received: stopping at the end of this step with a checkpoint"
                + (" (Ctrl-C again to stop at once)" if signum == signal.SIGINT else ""),
                file=sys.stderr,
                flush=True,
            )

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            for s in SIGNALS:
                self._previous[s] = signal.signal(s, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)
        self._previous.clear()


def grads_finite(model: torch.nn.Module) -> bool:
    """Whether every gradient is finite (a finite loss can still give an infinite gradient)."""
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    return not grads or bool(torch.isfinite(torch.nn.utils.get_total_norm(grads)))


def agree(accelerator, signum: int | None, nonfinite: bool) -> tuple[int | None, bool]:
    """(the stop signal any rank received, whether any rank saw a non-finite loss or gradient), the same on every
    rank: one all-reduce (MAX) of two numbers per step when several processes train, nothing otherwise."""
    if accelerator.num_processes == 1:
        return signum, nonfinite
    flags = torch.tensor([float(signum or 0), float(nonfinite)], device=accelerator.device)
    torch.distributed.all_reduce(flags, op=torch.distributed.ReduceOp.MAX)
    return (int(flags[0].item()) or None), bool(flags[1].item())


class StageStopped(KeyboardInterrupt):
    """A stage stopped by a signal; its message says where and how it resumes. The CLI prints it on one line and
    exits 128 + `signum` (130 for Ctrl-C, 143 for SIGTERM), as a shell reports a process ended by that signal."""

    def __init__(self, message: str, signum: int = signal.SIGINT):
        super().__init__(message)
        self.signum = int(signum)


class NonFiniteLoss(ValueError):
    """The loss became NaN or infinite: the stage stops there; nothing from that step is saved."""


def nonfinite_message(stage: str, step: int, loss: float, cfg, kept: str) -> str:
    """What stopped, where, what was kept and the flags to look at (transformers#9160: a NaN loss ran on silently)."""
    what = (
        f"the training loss is {loss}"
        if not math.isfinite(loss)
        else f"the gradient is not finite (loss {loss})"
    )
    return (
        f"stage {stage}: {what} at step {step}; the stage stopped there and no weights of "
        f"that step were saved ({kept}). Look at --learning-rate {cfg.learning_rate:g} (too high diverges: "
        f"try 10x lower), --max-grad-norm {cfg.max_grad_norm:g} (0 turns clipping off), --warmup-ratio "
        f"{cfg.warmup_ratio:g}, --mixed-precision {cfg.mixed_precision} (fp16 overflows; use bf16 or no), and "
        f"the training data (labels out of range, empty texts)"
    )
