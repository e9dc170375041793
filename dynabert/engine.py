"""The data-parallel engine under the stages: the Accelerator, the module DDP wraps, each rank's rows, one optimizer
step's forward/backward passes, and checkpoints through Accelerate's save_state/load_state.

One process or N (torchrun / accelerate launch; gloo on CPU, NCCL on GPU): `--batch-size` is per process, so N
processes take 1/N of the optimizer steps of one process at the same flag. Each global batch (N x batch size rows,
padded to its longest row) is cut into N equal row blocks, one per rank: N processes compute the same mean loss
as one process given the global batch. Must not import bench or devices.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
import torch.nn as nn
from accelerate import Accelerator, DistributedDataParallelKwargs

from dynabert.config import SubnetSpec
from dynabert.diskspace import folder_bytes, writing
from dynabert.losses import LOSSES, LossSettings
from dynabert.model import DynaBert

CHECKPOINT_MARK = (
    "progress.json"  # written last into a checkpoint: its presence means the state is complete
)


def make_accelerator(mixed_precision: str) -> Accelerator:
    """The Accelerator for this process; raises ValueError when a launcher started fewer processes than asked.

    Without a GPU it is told `cpu=True`: only then does Accelerate join a torchrun group with gloo (otherwise every
    process believes it is the main one). `accelerate launch --cpu --num_processes N` starts N processes only
    through mpirun; it sets MASTER_ADDR but starts one process, which is refused here with the command that works.
    """
    cpu = not torch.cuda.is_available()
    if (
        os.environ.get("ACCELERATE_USE_CPU", "").lower() in ("1", "true")
        and "MASTER_ADDR" in os.environ
        and "WORLD_SIZE" not in os.environ
        and "PMI_SIZE" not in os.environ
    ):
        raise ValueError(
            "accelerate launch --cpu --num_processes N starts one process unless given "
            "--mpirun_hostfile; on one machine run `accelerate launch --multi_gpu --num_processes N "
            "-m dynabert train ...` or `torchrun --nproc_per_node N -m dynabert train ...` "
            "(both use gloo without a GPU)"
        )
    if mixed_precision == "fp16" and cpu:
        raise ValueError(
            "--mixed-precision fp16 needs a CUDA GPU (torch.cuda.is_available() is False); "
            "use bf16 or no on CPU"
        )
    return Accelerator(
        cpu=cpu,
        mixed_precision=mixed_precision,
        kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)],
    )


class Trainable(nn.Module):
    """What DDP wraps: the student and any extra trainable module (TinyBERT's W_h), so that every trainable weight's
    gradient is all-reduced in the same pass. Evaluation calls `.student` directly (no DDP, no autocast wrapper)."""

    def __init__(self, student: DynaBert, projection: nn.Module | None = None):
        super().__init__()
        self.student = student
        self.projection = projection

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None,
        spec: SubnetSpec,
        output_attentions: bool = False,
        project: bool = False,
    ):
        """The student's DynaOutput at `spec`.

        project (TinyBERT phase 1): hidden states mapped by the projection ([B, S, H_s] -> [B, S, H_t]) and the
        logits detached: that phase trains no head, and DDP must not wait for gradients of weights that reach an
        output but not the loss.
        """
        out = self.student(
            input_ids,
            attention_mask,
            token_type_ids,
            spec=spec,
            output_attentions=output_attentions,
        )
        if project and self.projection is not None:
            out = replace(
                out,
                logits=out.logits.detach(),
                hidden_states=tuple(self.projection(h) for h in out.hidden_states),
            )
        return out


@dataclass
class Progress:
    """The loop's own state, saved with the checkpoint (Accelerate's register_for_checkpointing)."""

    step: int = (
        0  # optimizer steps taken (skipped fp16 overflow steps included: the batch was consumed)
    )
    skipped_steps: int = 0  # fp16 steps the loss scaler skipped (the schedule did not advance)
    best_score: float = -math.inf
    best_step: int | None = None
    history: list = field(default_factory=list)
    cpu_seconds: float = 0.0  # this rank's process CPU time (all threads) inside the training loop, summed over resumes
    sampling: dict | None = (
        None  # {"subnets_per_step": K, "grid": [ids]} the stage was started with (a resume must match)
    )
    schedule: dict | None = (
        None  # seed, batch, processes, train rows, steps, lr, warm-up, decay, seq len (a resume must match)
    )
    flags: dict | None = (
        None  # run_flags.trained_flags of the stage at its start (a resume must match)
    )

    def state_dict(self) -> dict:
        return asdict(self)

    def load_state_dict(self, state: dict) -> None:
        for name, value in state.items():
            setattr(self, name, value)


def steps_per_epoch(n_train: int, batch_size: int, world: int) -> int:
    """Global batches of world x batch_size rows per epoch; a last one smaller than `world` rows is dropped."""
    global_batch = batch_size * world
    full, rest = divmod(n_train, global_batch)
    steps = full + (1 if rest >= world else 0)
    if steps == 0:
        raise ValueError(
            f"{n_train} training examples are fewer than one batch ({batch_size} per process x "
            f"{world} processes); lower --batch-size or use more data"
        )
    return steps


def rank_rows(batch: dict[str, torch.Tensor], rank: int, world: int) -> dict[str, torch.Tensor]:
    """This rank's block of rows of a global batch ([B_global, S] -> [~B_global/world, S], padding kept)."""
    return {k: torch.tensor_split(v, world)[rank] for k, v in batch.items()}


def teacher_output(
    teacher: DynaBert, inputs: tuple, width: float, attentions: bool, cache: dict, accelerator
):
    """The frozen teacher at `width` (1.0: full), computed once per batch and width, under the same autocast."""
    if width not in cache:
        with torch.no_grad(), accelerator.autocast():
            cache[width] = teacher(
                *inputs, spec=SubnetSpec(width, 1.0), output_attentions=attentions
            )
    return cache[width]


def train_step(
    model: nn.Module,
    teacher: DynaBert | None,
    specs: list[SubnetSpec],
    kind: str,
    settings: LossSettings,
    batch: dict,
    accelerator,
    matched_teacher: bool = False,
) -> float:
    """One optimizer step's forward/backward over every sub-network; returns the summed loss.

    Gradients accumulate over the sub-networks; under DDP only the last backward all-reduces (the others run in
    Accelerate's no_sync), so a step costs one gradient all-reduce, not one per sub-network.
    """
    inputs = (batch["input_ids"], batch["attention_mask"], batch.get("token_type_ids"))
    loss_fn, attentions, cache = LOSSES[kind], kind == "tinybert", {}
    total = torch.zeros((), device=batch["input_ids"].device)
    for i, spec in enumerate(specs):
        t_out = None
        if teacher is not None:
            width = (
                spec.width_mult if matched_teacher else 1.0
            )  # official code: the full-width teacher
            t_out = teacher_output(teacher, inputs, width, attentions, cache, accelerator)
        sync = i == len(specs) - 1
        with contextlib.nullcontext() if sync else accelerator.no_sync(model):
            with accelerator.autocast():
                out = model(
                    *inputs,
                    spec=spec,
                    output_attentions=attentions,
                    project=attentions and settings.tinybert_phase1,
                )
                loss = loss_fn(out, t_out, batch, spec, settings)
            accelerator.backward(loss)
        total += loss.detach().float()
    return total.item()


def save_checkpoint(accelerator, target: Path, progress: Progress) -> None:
    """Accelerate's save_state into target.tmp on every rank (each writes its own RNG state), then rank 0 swaps it
    in; a kill of any rank mid-write leaves the previous checkpoint whole."""
    tmp, old = target.with_name(target.name + ".tmp"), target.with_name(target.name + ".old")
    if accelerator.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)
    accelerator.wait_for_everyone()
    kept = (
        f"the last checkpoint (step {json.loads((target / CHECKPOINT_MARK).read_text())['step']}) is kept whole"
        if (target / CHECKPOINT_MARK).is_file()
        else "no checkpoint is kept yet"
    )
    with writing(
        target.parent,
        f"the checkpoint of step {progress.step} ({kept})",
        folder_bytes(target) or checkpoint_bytes(accelerator),
        partial=tmp,
        fix=", or train into another --output-dir; the same command then resumes",
    ):
        # torch.save, not safetensors: the student holds the same tensors under several names (hf / backbone /
        # layers views), which safetensors cannot store without dropping names (Accelerate then warns once per
        # tensor group on every checkpoint); load_state reads either format
        accelerator.save_state(str(tmp), safe_serialization=False)
        accelerator.wait_for_everyone()
        if accelerator.is_main_process:
            (tmp / CHECKPOINT_MARK).write_text(f'{{"step": {progress.step}}}\n')
    if accelerator.is_main_process:
        if target.exists():
            target.rename(old)
        tmp.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()


def checkpoint_bytes(accelerator) -> int:
    """About what a checkpoint takes on disk: every model's weights and the optimizer's two Adam moments per
    weight (3 x the weight bytes)."""
    return 3 * sum(
        t.numel() * t.element_size() for m in accelerator._models for t in m.state_dict().values()
    )


def has_checkpoint(target: Path) -> bool:
    return (target / CHECKPOINT_MARK).is_file()


def load_checkpoint(accelerator, target: Path) -> None:
    """Accelerate's load_state: weights, optimizer, loss scaler, registered objects (scheduler, progress) and each
    rank's RNG states (CPU and CUDA); tensors are read onto the CPU first, so a state saved on a GPU resumes on a
    CPU-only machine (and the other way round). Every file is read first (check_checkpoint_files): Accelerate
    would drop an unreadable RNG state silently and fail deep in torch on a damaged weights file. ValueError naming
    the folder, the file and the fix for a checkpoint from an older version or a missing or damaged file."""
    if not (target / "random_states_0.pkl").is_file():
        raise ValueError(
            f"{target} is not an Accelerate checkpoint (no random_states_0.pkl); it was written by an "
            f"older version: delete {target} to restart the stage"
        )
    rng = check_checkpoint_files(accelerator, target)
    accelerator.load_state(str(target), map_location="cpu")
    if not torch.equal(
        torch.get_rng_state(), rng["torch_manual_seed"]
    ):  # Accelerate only logs a failed RNG load
        raise ValueError(
            f"checkpoint {target}: the RNG state of random_states_{accelerator.process_index}.pkl was "
            f"not restored (the resume would not continue the same random draws); delete {target} to "
            f"restart the stage from its beginning"
        )


def checkpoint_files(accelerator, target: Path) -> list[str]:
    """The files load_state reads on this rank: model, optimizer, loss scaler, registered objects, own RNG state."""
    model = "model.safetensors" if (target / "model.safetensors").is_file() else "pytorch_model.bin"
    names = [
        model,
        "optimizer.bin",
        *(f"custom_checkpoint_{i}.pkl" for i in range(len(accelerator._custom_objects))),
        f"random_states_{accelerator.process_index}.pkl",
    ]
    return names + (["scaler.pt"] if accelerator.scaler is not None else [])


def check_checkpoint_files(accelerator, target: Path) -> dict:
    """Read every file of `checkpoint_files` as load_state will (weights_only except Accelerate's own pickled
    registered objects); returns this rank's RNG state. ValueError naming the checkpoint, the missing or damaged
    file and the fix."""
    fix = (
        f"delete {target} to restart the stage from its beginning, or restore the file from a copy of the "
        f"checkpoint"
    )
    states = {
        name: read_checkpoint_file(target, name, fix)
        for name in checkpoint_files(accelerator, target)
    }
    rng = states[f"random_states_{accelerator.process_index}.pkl"]
    if not (
        isinstance(rng, dict)
        and {"random_state", "numpy_random_seed", "torch_manual_seed"} <= set(rng)
    ):
        raise ValueError(
            f"checkpoint {target} is damaged: random_states_{accelerator.process_index}.pkl holds no "
            f"RNG state (the resume would not continue the same random draws); {fix}"
        )
    return rng


def read_checkpoint_file(target: Path, name: str, fix: str):
    """One checkpoint file's content, read onto the CPU; ValueError naming it when missing or unreadable."""
    from accelerate.utils import load
    from safetensors.torch import load_file

    path = target / name
    if not path.is_file():
        raise ValueError(f"checkpoint {target} is incomplete: {name} is missing; {fix}")
    try:
        if name.endswith(".safetensors"):
            return load_file(path)
        return load(path, map_location="cpu", weights_only=not name.startswith("custom_checkpoint"))
    except (
        Exception
    ) as err:  # torch, pickle and zipfile raise many kinds; each means an unreadable file
        detail = str(err).splitlines()[0] if str(err) else "no detail"
        raise ValueError(
            f"checkpoint {target} is damaged: {name} cannot be read ({type(err).__name__}: "
            f"{detail}); {fix}"
        ) from None
