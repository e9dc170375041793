"""The DynaBERT stages (spec 3): teacher fine-tuning, width distillation, width x depth distillation, final tuning.

Each stage reads its start and teacher from the previous stage's output, checkpoints atomically as it goes,
and resumes from its last checkpoint (same batches, same step count, same random state). `run_stage` reads top to
bottom: setup_stage, then the loop (train_step, optimizer_step, evaluate_and_checkpoint), then finish_stage. One
process, or N through torchrun / accelerate launch (see dynabert.engine). Must not import bench or devices.
"""

from __future__ import annotations

import json
import math
import shutil
import signal
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
from accelerate.utils import set_seed
from tqdm.auto import tqdm
from transformers import get_linear_schedule_with_warmup

from dynabert import baselines
from dynabert.augment import DEFAULT_N, N_PER_TASK, AugmentConfig, augmented_train
from dynabert.data import (
    Split,
    batch_order,
    collate,
    encode,
    get_task,
    load_hub,
    load_task,
    metric_for,
)
from dynabert.diskspace import writing
from dynabert.engine import (
    CHECKPOINT_MARK,
    Progress,
    Trainable,
    has_checkpoint,
    load_checkpoint,
    make_accelerator,
    rank_rows,
    save_checkpoint,
    steps_per_epoch,
    train_step,
)
from dynabert.evaluate import evaluate_specs
from dynabert.labels import align_classifier, check_task_checkpoint
from dynabert.limits import check_model_inputs, check_seq_len, input_limits
from dynabert.losses import LossSettings
from dynabert.metrics import selection_score
from dynabert.model import DynaBert
from dynabert.presets import check_finite, load_model, load_tokenizer
from dynabert.rewire import importance, rewire_
from dynabert.run_flags import check_same_flags, trained_flags
from dynabert.sampling import check_same_sampling, expected_cost_share, subnets_for_step
from dynabert.stages import (
    AUGMENTED_STAGES,
    StagePlan,
    TrainConfig,
    check_finished_stage,
    check_grid_flags,  # noqa: F401
    check_sampling,
    plan,
    stage_dir,
)
from dynabert.stop import (
    NonFiniteLoss,
    StageStopped,
    StopRequest,
    agree,
    grads_finite,
    nonfinite_message,
)


class Data:
    """Tokenized train and dev features of a task, plus its labels and metric."""

    def __init__(
        self,
        cfg: TrainConfig,
        tokenizer,
        limits=None,
        source: str = "the model",
        augment: bool = False,
    ):
        self.task = get_task(cfg.task, cfg.text_columns, cfg.label_column)
        labels, splits = (
            load_hub(self.task)
            if cfg.data_dir == "hub"
            else load_task(self.task, cfg.data_dir, cfg.max_errors)
        )
        self.labels, self.regression = labels, labels is None
        self.num_labels = 1 if labels is None else len(labels)
        self.metric = metric_for(self.task)
        train_cap = cfg.max_train_samples
        if augment:  # the cap applies to the original rows, before they are multiplied
            base = splits["train"]
            if train_cap is not None:
                base = Split(
                    base.name,
                    base.texts[:train_cap],
                    base.labels[:train_cap],
                    base.source,
                    base.skipped,
                )
            splits["train"], train_cap = (
                augmented_train(
                    base,
                    self.task,
                    labels,
                    augment_config(cfg, self.task),
                    Path(cfg.output_dir) / "augmented",
                ),
                None,
            )
        self.train = encode(
            splits["train"], tokenizer, cfg.max_seq_len, train_cap, limits, "--max-seq-len", source
        )
        self.dev = {
            name: encode(
                splits[name],
                tokenizer,
                cfg.max_seq_len,
                cfg.max_eval_samples,
                limits,
                "--max-seq-len",
                source,
            )
            for name in self.task.dev_files
        }
        self.pad_token_id = tokenizer.pad_token_id or 0
        self.sources = {name: s.source for name, s in splits.items()}
        self.skipped = {name: len(s.skipped) for name, s in splits.items()}

    def batch(self, features: list[dict]) -> dict[str, torch.Tensor]:
        return collate(features, self.pad_token_id, self.regression)


def augment_config(cfg: TrainConfig, task) -> AugmentConfig:
    return AugmentConfig(
        cfg.augment_model,
        cfg.augment_n or N_PER_TASK.get(task.name, DEFAULT_N),
        cfg.augment_prob,
        cfg.augment_top_k,
        cfg.augment_glove,
        cfg.seed,
    )


def save_atomic(model, tokenizer, target: Path) -> None:
    """Write a model directory to target.tmp, then swap it in: a kill mid-write never leaves a broken model.
    Weights holding NaN/inf are refused (presets.check_finite): they are never saved as a model."""
    check_finite(model, f"the model about to be saved to {target}")
    tmp, old = target.with_name(target.name + ".tmp"), target.with_name(target.name + ".old")
    shutil.rmtree(tmp, ignore_errors=True)
    weights = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    with writing(
        target.parent,
        f"the model {target.name}/ ({'the previous one is kept' if target.exists() else 'none saved yet'})",
        weights,
        partial=tmp,
        fix=", or train into another --output-dir",
    ):
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    if target.exists():
        target.rename(old)
    tmp.rename(target)
    shutil.rmtree(old, ignore_errors=True)


class StageLog:
    """train.log and the console, written by the main process only (every rank may call it)."""

    def __init__(self, path: Path, main: bool):
        self.file = open(path, "a", encoding="utf-8") if main else None

    def __call__(self, msg: str) -> None:
        if self.file is not None:
            line = f"{time.strftime('%Y-%m-%d %H:%M:%S')} {msg}"
            with writing(Path(self.file.name).parent, "train.log", len(line) + 1):
                self.file.write(line + "\n")
                self.file.flush()
            tqdm.write(line)

    def close(self) -> None:
        if self.file is not None:
            self.file.close()


@dataclass
class Stage:
    """Everything one stage's loop needs, built once by `setup_stage`."""

    name: str
    out: Path
    plan: StagePlan
    data: Data
    tokenizer: object
    accelerator: object
    model: torch.nn.Module  # the Trainable as prepared (DDP-wrapped under several processes)
    core: Trainable  # the same module unwrapped: `.student` is evaluated and saved
    teacher: DynaBert | None
    optimizer: object
    scheduler: object
    settings: LossSettings
    batches_per_epoch: int
    total_steps: int
    log: StageLog
    progress: Progress = field(default_factory=Progress)


def build_student(cfg: TrainConfig, p: StagePlan, data: Data) -> DynaBert:
    """The student's starting weights (a baseline's student built from the teacher), labels named from the data."""
    hf = load_model(p.start_from, num_labels=data.num_labels, seed=cfg.seed)
    if p.build_student is not None:
        hf = p.build_student(hf)
    check_seq_len(
        input_limits(hf.config), cfg.max_seq_len, "--max-seq-len", cfg.student_model or p.start_from
    )
    return DynaBert(
        align_classifier(
            hf, data.task, data.labels, p.start_from, strict=p.teacher_from is not None
        )
    )


def rewire_student(cfg: TrainConfig, student: DynaBert, data: Data, device, log: StageLog) -> None:
    """Sort heads and neurons by importance on the first dev set (spec 2), batch size 8 as the official code."""
    dev0 = data.dev[data.task.dev_files[0]]
    batches = [
        {k: v.to(device) for k, v in data.batch(dev0[i : i + 8]).items()}
        for i in range(0, len(dev0), 8)
    ]
    student.to(device)
    heads, ffn = importance(student, batches, cfg.importance_rule)
    rewire_(student, heads, ffn)
    log(f"rewired with {cfg.importance_rule!r} importance on {len(dev0)} dev examples")


def make_optimizer(cfg: TrainConfig, model: torch.nn.Module) -> torch.optim.Optimizer:
    """AdamW, no weight decay on biases and LayerNorm weights (official code)."""
    no_decay = ("bias", "LayerNorm.weight")
    named = list(model.named_parameters())
    groups = [
        {
            "params": [t for n, t in named if not any(k in n for k in no_decay)],
            "weight_decay": cfg.weight_decay,
        },
        {"params": [t for n, t in named if any(k in n for k in no_decay)], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=cfg.learning_rate, eps=1e-8)


def loss_settings(cfg: TrainConfig, p: StagePlan) -> LossSettings:
    return LossSettings(
        p.lambda_pred,
        p.lambda_hidden,
        cfg.regression_pred_loss,
        cfg.temperature,
        cfg.cosine_loss_weight,
    )


def setup_stage(cfg: TrainConfig, name: str, out: Path) -> Stage:
    """Data, student (rewired on a fresh start), teacher, optimizer, schedule, all prepared; resumed if a checkpoint
    exists. The random weights and rewiring of rank 0 reach every rank through DDP's broadcast at wrapping."""
    p = plan(cfg, name)
    accelerator = make_accelerator(cfg.mixed_precision)
    set_seed(
        cfg.seed, device_specific=True
    )  # dropout differs between ranks; load_state restores it on resume
    tokenizer = load_tokenizer(p.start_from)
    limits = check_model_inputs(
        p.start_from, tokenizer, cfg.max_seq_len, "--max-seq-len"
    )  # a model's own limits, up front
    check_task_checkpoint(
        p.teacher_from, cfg.task, cfg.text_columns, cfg.label_column, cfg.data_dir, "--teacher"
    )
    with accelerator.main_process_first():  # augmentation writes its file once
        data = Data(
            cfg,
            tokenizer,
            limits,
            p.start_from,
            augment=cfg.augment_model is not None and name in AUGMENTED_STAGES,
        )
    out.mkdir(parents=True, exist_ok=True)
    log = StageLog(out / "train.log", accelerator.is_main_process)
    resuming = has_checkpoint(out / "checkpoint")
    student = build_student(cfg, p, data)
    teacher = (
        DynaBert(
            align_classifier(load_model(p.teacher_from), data.task, data.labels, p.teacher_from)
        )
        .to(accelerator.device)
        .eval()
        if p.teacher_from
        else None
    )
    if teacher is not None:
        teacher.requires_grad_(False)
    if p.rewire and not resuming and accelerator.is_main_process:
        rewire_student(cfg, student, data, accelerator.device, log)
    projection = None
    if p.kind == "tinybert":
        projection = baselines.TinyBertProjection(
            student.full_size.hidden_size, teacher.full_size.hidden_size
        )
    model = Trainable(student, projection)
    optimizer = make_optimizer(cfg, model)
    per_epoch = steps_per_epoch(len(data.train), cfg.batch_size, accelerator.num_processes)
    total = max(1, math.ceil(per_epoch * cfg.epochs))
    scheduler = get_linear_schedule_with_warmup(optimizer, int(cfg.warmup_ratio * total), total)
    model, optimizer = accelerator.prepare(model, optimizer)
    stage = Stage(
        name,
        out,
        p,
        data,
        tokenizer,
        accelerator,
        model,
        accelerator.unwrap_model(model),
        teacher,
        optimizer,
        scheduler,
        loss_settings(cfg, p),
        per_epoch,
        total,
        log,
    )
    accelerator.register_for_checkpointing(
        scheduler, stage.progress
    )  # stepped by hand: see optimizer_step
    stage.progress.sampling = sampling_settings(cfg, p)
    stage.progress.schedule = {
        "seed": cfg.seed,
        "batch_size": cfg.batch_size,
        "processes": accelerator.num_processes,
        "train_examples": len(data.train),
        "total_steps": total,
        "learning_rate": cfg.learning_rate,
        "warmup_ratio": cfg.warmup_ratio,
        "weight_decay": cfg.weight_decay,
        "max_seq_len": cfg.max_seq_len,
    }
    stage.progress.flags = trained_flags(cfg, name)  # every flag that decides what the stage trains
    if resuming:
        resume(cfg, stage)
    else:
        log(
            f"stage {name}: {len(p.specs)} sub-network(s), {k_line(cfg, p)}, {len(data.train)} train examples, "
            f"{total} steps "
            f"({cfg.epochs} epochs x {per_epoch} batches of {cfg.batch_size} x {accelerator.num_processes} "
            f"process(es)), teacher {p.teacher_from or 'none (gold labels)'}"
        )
    return stage


def resume(cfg: TrainConfig, s: Stage) -> None:
    """Load OUT/checkpoint into the prepared stage, then refuse (ValueError naming each difference and the fix) a
    resume with another K or grid, schedule or training flag than the stage was started with (a checkpoint
    written before one of them was saved keeps this command's: not compared). A damaged checkpoint file:
    engine.load_checkpoint's ValueError."""
    checkpoint, now = (
        s.out / "checkpoint",
        (dict(s.progress.sampling), dict(s.progress.schedule), dict(s.progress.flags)),
    )
    load_checkpoint(s.accelerator, checkpoint)
    check_resume_sampling(s.progress.sampling, now[0], checkpoint)
    check_resume_schedule(s.progress.schedule, now[1], checkpoint)
    check_same_flags(
        s.progress.flags,
        now[2],
        f"{checkpoint} was started",
        f"Resume with the flags it was started with, train into another --output-dir, or delete "
        f"{checkpoint} to restart stage {s.name} from its beginning",
    )
    s.log(f"resumed from {checkpoint} at step {s.progress.step} of {s.total_steps}")


def check_resume_schedule(saved: dict, now: dict, checkpoint: Path) -> None:
    """A resume continues the same batches, inputs and optimizer schedule: another seed, batch size, process count,
    train set, step count, learning rate, warm-up, weight decay or sequence length would splice two runs.
    ValueError naming what differs and the fix. (A key a checkpoint from an older version did not save is not
    compared.)"""
    diff = [f"{k} {saved[k]} -> {now[k]}" for k in now if k in saved and saved[k] != now[k]]
    if diff:
        raise ValueError(
            f"{checkpoint} was started with another schedule ({'; '.join(diff)}); resume with the run's "
            f"own flags (--seed, --batch-size, --epochs, --max-train-samples, --learning-rate, "
            f"--warmup-ratio, --weight-decay, --max-seq-len) and process count, or train into another "
            f"--output-dir"
        )


def sampling_settings(cfg: TrainConfig, p: StagePlan) -> dict:
    """What decides which sub-networks each step trains: K and the grid (saved in the checkpoint's Progress and in
    summary.json)."""
    return {"subnets_per_step": k_used(cfg, p), "grid": [s.subnet_id for s in p.specs]}


def check_resume_sampling(saved: dict, now: dict, checkpoint: Path) -> None:
    """A resume must train as the run it continues: another K or grid would leave a summary that describes only
    part of the steps. Raises ValueError naming both and the fix. (Checkpoints from before this was saved carry
    none and resume as before.)"""
    check_same_sampling(
        saved,
        now,
        f"{checkpoint} was started",
        "Resume with the run's own "
        "--subnets-per-step/--widths/--depths, or train into another --output-dir",
    )


def k_used(cfg: TrainConfig, p: StagePlan) -> int:
    """Sub-networks trained per step in this stage (K, or the whole grid)."""
    return min(cfg.subnets_per_step or len(p.specs), len(p.specs))


def k_line(cfg: TrainConfig, p: StagePlan) -> str:
    k = k_used(cfg, p)
    if k == len(p.specs):
        return "all trained every step"
    return (
        f"{k} trained per step (sandwich rule: largest, smallest and {k - 2} drawn per step; expected "
        f"width x depth cost {expected_cost_share(p.specs, k):.2f} of all)"
    )


def epoch_batches(cfg: TrainConfig, s: Stage, epoch: int) -> list[list[int]]:
    """The epoch's global batches (example indices), the same on every rank: a pure function of (seed, epoch)."""
    lengths = [len(f["input_ids"]) for f in s.data.train]
    world = s.accelerator.num_processes
    return batch_order(lengths, cfg.batch_size * world, cfg.seed, epoch, cfg.bucket)[
        : s.batches_per_epoch
    ]


def my_batch(s: Stage, idx: list[int]) -> dict[str, torch.Tensor]:
    """This rank's rows of the global batch `idx`, on its device."""
    full = s.data.batch([s.data.train[i] for i in idx])
    rows = rank_rows(full, s.accelerator.process_index, s.accelerator.num_processes)
    return {k: v.to(s.accelerator.device) for k, v in rows.items()}


def optimizer_step(cfg: TrainConfig, s: Stage) -> None:
    """Clip, step, advance the schedule unless the fp16 loss scaler skipped the step, clear the gradients."""
    if cfg.max_grad_norm > 0:
        s.accelerator.clip_grad_norm_(s.model.parameters(), cfg.max_grad_norm)
    s.optimizer.step()
    if s.optimizer.step_was_skipped:
        s.progress.skipped_steps += 1
    else:
        s.scheduler.step()
    s.optimizer.zero_grad(set_to_none=True)


def evaluate_and_choose(cfg: TrainConfig, s: Stage, final: bool) -> None:
    """Dev metrics of every sub-network on the main process only (the others wait); saves OUT/best when chosen."""
    if s.accelerator.is_main_process:
        student, data, p = s.core.student, s.data, s.progress
        results = {
            name: evaluate_specs(
                student,
                feats,
                s.plan.specs,
                data.metric,
                cfg.eval_batch_size,
                data.pad_token_id,
                data.regression,
                warn=s.log,
            )
            for name, feats in data.dev.items()
        }
        first = data.task.dev_files[0]
        score = selection_score(results[first])  # an undefined (NaN) correlation counts 0
        p.history.append({"step": p.step, "score": score, "dev": results})
        summary = ", ".join(f"{k}={next(iter(v.values())):.4f}" for k, v in results[first].items())
        s.log(f"step {p.step}: dev {summary} (sum {score:.4f})")
        if (
            cfg.checkpoint_choice == "best"
            and score > p.best_score
            or cfg.checkpoint_choice == "last"
            and final
        ):
            p.best_score, p.best_step = score, p.step
            save_atomic(student.hf, s.tokenizer, s.out / "best")
    s.accelerator.wait_for_everyone()


def evaluate_and_checkpoint(cfg: TrainConfig, s: Stage) -> None:
    evaluate_and_choose(cfg, s, final=False)
    save_checkpoint(s.accelerator, s.out / "checkpoint", s.progress)


def run_stage(cfg: TrainConfig, stage: str, stop: StopRequest) -> dict:
    """Train one stage to completion (resuming if a checkpoint exists); returns its summary. A SIGINT/SIGTERM
    (`stop`) ends it at the next step boundary with a checkpoint (StageStopped); a second Ctrl-C at once."""
    out = stage_dir(cfg, stage)
    if (out / "summary.json").is_file():
        summary = check_finished_stage(
            cfg, stage, out
        )  # another K or grid than it was trained with: refused
        print(f"stage {stage}: already finished ({out / 'summary.json'}); skipping")
        return summary
    s = setup_stage(cfg, stage, out)
    bar = tqdm(
        total=s.total_steps,
        initial=s.progress.step,
        desc=f"stage {stage}",
        disable=not s.accelerator.is_main_process,
    )
    try:
        seconds, seen = train_loop(cfg, s, bar, stop)
        evaluate_and_choose(cfg, s, final=True)
    except KeyboardInterrupt as err:
        bar.close()  # the message starts a line of its own
        s.log.close()
        raise StageStopped(interrupted_line(s), getattr(err, "signum", signal.SIGINT)) from None
    except NonFiniteLoss:
        bar.close()
        s.log.close()
        raise
    return finish_stage(cfg, s, seconds, seen)


def interrupted_line(s: Stage) -> str:
    """'stage depth stopped at step 7; the last checkpoint (step 7, OUT/depth/checkpoint) resumes with the same
    command', or that no checkpoint was written yet."""
    checkpoint = s.out / "checkpoint"
    if not has_checkpoint(checkpoint):
        return (
            f"stage {s.name} stopped at step {s.progress.step} before its first checkpoint; the same command "
            f"restarts it from its beginning"
        )
    return (
        f"stage {s.name} stopped at step {s.progress.step}; the last checkpoint (step "
        f"{checkpoint_step(checkpoint)}, {checkpoint}) resumes with the same command"
    )


def checkpoint_step(checkpoint: Path) -> int:
    return json.loads((checkpoint / CHECKPOINT_MARK).read_text())["step"]


def kept_line(s: Stage) -> str:
    """What a stop keeps: the last checkpoint (its step and folder), or nothing yet."""
    checkpoint = s.out / "checkpoint"
    if not has_checkpoint(checkpoint):
        return "no checkpoint was written yet"
    return f"the last checkpoint, step {checkpoint_step(checkpoint)}, is kept in {checkpoint}"


def agreed_stop(cfg: TrainConfig, s: Stage, stop: StopRequest, loss: float) -> int | None:
    """After a step's backward, before its update: NonFiniteLoss when any rank's loss or gradient is NaN/inf (the
    weights keep the last finite update); else the SIGINT/SIGTERM any rank received (None: none), agreed by all."""
    nonfinite = not math.isfinite(loss) or (
        s.accelerator.scaler is None and not grads_finite(s.model)
    )  # fp16: the loss scaler skips steps of infinite gradients itself
    signum, nonfinite = agree(s.accelerator, stop.signum, nonfinite)
    if nonfinite:
        raise NonFiniteLoss(nonfinite_message(s.name, s.progress.step + 1, loss, cfg, kept_line(s)))
    return signum


def stop_with_checkpoint(s: Stage, signum: int) -> None:
    """At a step boundary (the step's update, log and evaluation done): a checkpoint of the steps so far unless the
    cadence just wrote it, then StageStopped on every rank."""
    checkpoint = s.out / "checkpoint"
    if not (has_checkpoint(checkpoint) and checkpoint_step(checkpoint) == s.progress.step):
        save_checkpoint(s.accelerator, checkpoint, s.progress)
    raise StageStopped(interrupted_line(s), signum)


def train_loop(cfg: TrainConfig, s: Stage, bar: tqdm, stop: StopRequest) -> tuple[float, int]:
    """The optimizer steps from the current one to the last, with evaluations and checkpoints on their cadence,
    shown on `bar` (closed at the end); returns (wall seconds, training rows seen) of this run."""
    p = s.progress
    started, seen, clock, signum = time.time(), 0, time.process_time(), None
    s.model.train()
    while p.step < s.total_steps:
        epoch, offset = divmod(p.step, s.batches_per_epoch)
        for idx in epoch_batches(cfg, s, epoch)[offset:]:
            settings = replace(
                s.settings, tinybert_phase1=p.step < cfg.tinybert_phase1_fraction * s.total_steps
            )
            specs = subnets_for_step(s.plan.specs, cfg.subnets_per_step, cfg.seed, p.step)
            loss = train_step(
                s.model,
                s.teacher,
                specs,
                s.plan.kind,
                settings,
                my_batch(s, idx),
                s.accelerator,
                matched_teacher=cfg.teacher_width == "matched",
            )
            signum = agreed_stop(cfg, s, stop, loss)  # a NaN loss stops before this update
            optimizer_step(cfg, s)
            p.step, p.cpu_seconds, clock = (
                p.step + 1,
                p.cpu_seconds + time.process_time() - clock,
                time.process_time(),
            )
            seen += len(idx)
            rate = seen / (time.time() - started)
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.4f}", samples_per_s=f"{rate:.1f}")
            if p.step % cfg.logging_steps == 0:
                s.log(
                    f"step {p.step}: loss {loss:.4f} (sum over {len(specs)} of {len(s.plan.specs)} sub-networks, "
                    f"rank 0's rows), lr {s.scheduler.get_last_lr()[0]:.3g}, {rate:.1f} samples/s"
                )
            if cfg.eval_every and p.step % cfg.eval_every == 0 and p.step < s.total_steps:
                evaluate_and_checkpoint(cfg, s)
                clock = (
                    time.process_time()
                )  # train_cpu_seconds counts training steps, not evaluations
            elif cfg.save_every and p.step % cfg.save_every == 0 and p.step < s.total_steps:
                save_checkpoint(s.accelerator, s.out / "checkpoint", p)
                clock = time.process_time()
            if signum is not None and 0 < p.step % s.batches_per_epoch and p.step < s.total_steps:
                stop_with_checkpoint(s, signum)
            if p.step >= s.total_steps:
                break
        else:
            if p.step < s.total_steps:
                evaluate_and_checkpoint(cfg, s)
                clock = time.process_time()
                if signum is not None:
                    stop_with_checkpoint(s, signum)
    bar.close()
    return time.time() - started, seen


def finish_stage(cfg: TrainConfig, s: Stage, seconds: float, seen: int) -> dict:
    """summary.json (main process); every rank returns it."""
    p = s.progress
    if s.accelerator.is_main_process:
        summary = {
            "stage": s.name,
            "steps": p.step,
            "best_step": p.best_step,
            "checkpoint_choice": cfg.checkpoint_choice,
            "best_score": p.best_score,
            "chosen_model": str(s.out / "best"),
            "final_dev": p.history[-1]["dev"],
            "best_dev": next(h["dev"] for h in p.history if h["step"] == p.best_step),
            "train_examples": len(s.data.train),
            "data": s.data.sources,
            "skipped_rows": s.data.skipped,
            "processes": s.accelerator.num_processes,
            "batch_size_per_process": cfg.batch_size,
            "fp16_skipped_steps": p.skipped_steps,
            "subnets_per_step": k_used(cfg, s.plan),
            "subnets_in_grid": len(s.plan.specs),
            "sampling": sampling_settings(cfg, s.plan),
            "train_cpu_seconds": round(p.cpu_seconds, 3),
            "seconds_this_run": round(seconds, 1),
            "samples_per_s_this_run": round(seen / seconds, 2) if seconds > 0 else None,
            "config": asdict(cfg),
        }
        if cfg.checkpoint_choice == "best":
            summary["warning"] = (
                "the checkpoint was chosen on the same dev set that reports its accuracy "
                "(as the official code does); these dev numbers are optimistic"
            )
            s.log("warning: " + summary["warning"])
        text = json.dumps(summary, indent=1)
        with writing(
            s.out,
            "summary.json (the chosen model best/ is saved)",
            len(text),
            fix=", then run the same command to finish the stage",
        ):
            (s.out / "summary.json").write_text(text)
    s.log.close()
    s.accelerator.wait_for_everyone()
    return json.loads((s.out / "summary.json").read_text())


def run(cfg: TrainConfig, stage: str) -> list[dict]:
    """Run one stage, or `all` (teacher, width, depth) in order, or a baseline; finished stages are skipped.
    SIGINT/SIGTERM: StageStopped after a checkpoint at the next step boundary (see dynabert.stop)."""
    if cfg.baseline:
        stage = "baseline"
    stages = ("teacher", "width", "depth") if stage == "all" else (stage,)
    check_sampling(cfg, stages)
    check_grid_flags(cfg, stages)  # before any stage loads data or weights
    out = []
    with StopRequest() as stop:
        for s in stages:
            if stop.signum is not None:  # came while the previous stage finished: it is kept whole
                raise StageStopped(
                    f"stopped before stage {s} began; the same command continues with it",
                    stop.signum,
                )
            t0 = time.time()
            out.append(run_stage(cfg, s, stop))
            print(f"stage {s}: done in {time.time() - t0:.1f} s", file=sys.stderr)
    return out
