"""Known third-party noise (import time, ONNX export), filtered at its source logger and nowhere else.

Installed by `import dynabert` (first thing), before transformers imports torchao. Each filter drops only the
exact message it names, and only where it signals no fault:
- torchao's "Failed to load .../torchao/_C*.so" on a torch built without CUDA: those extensions are CUDA kernels
  (they link libc10_cuda.so), so they cannot load on a CPU-only torch by construction. With a CUDA torch the same
  message is a real fault and is shown.
- torch.utils._pytree's "<enum ...> is an Enum subclass and is now natively supported by torch.compile ...
  register_constant() on Enum subclasses is deprecated": a deprecation in torchao's own registration code that a
  user of this project cannot act on.
- torch.onnx's exporter "torchvision is not installed. Skipping torchvision::<op>" (one line per torchvision op,
  on every ONNX export): torchvision ops never occur in these models.
Everything else these loggers say still reaches the console.
"""

from __future__ import annotations

import logging


class _DropKnown(logging.Filter):
    def __init__(self, predicate) -> None:
        super().__init__()
        self.predicate = predicate

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            return not self.predicate(record.getMessage())
        except Exception:  # a message that cannot be formatted is not one of ours: let it through
            return True


def _torch_has_cuda() -> bool:
    import torch

    return torch.version.cuda is not None


def _torchao_cuda_so(msg: str) -> bool:
    return (
        msg.startswith("Failed to load ")
        and "/torchao/_C" in msg
        and ".so" in msg
        and not _torch_has_cuda()
    )


def _pytree_enum_deprecation(msg: str) -> bool:
    return (
        "is an Enum subclass and is now natively supported by torch.compile" in msg
        and "register_constant" in msg
    )


def _no_torchvision(msg: str) -> bool:
    return msg.startswith("torchvision is not installed. Skipping torchvision::")


FILTERS = {
    "torchao": _torchao_cuda_so,
    "torch.utils._pytree": _pytree_enum_deprecation,
    "torch.onnx._internal.exporter._registration": _no_torchvision,
}


def install() -> None:
    """Attach each filter to its logger once (idempotent)."""
    for name, predicate in FILTERS.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropKnown) and f.predicate is predicate for f in logger.filters):
            logger.addFilter(_DropKnown(predicate))
