"""The DynaBERT stages (spec 3): teacher fine-tuning, width distillation, width x depth distillation, final tuning.

Each stage reads its start and teacher from the previous stage's output, checkpoints atomically as it goes,
and resumes from its last checkpoint (same batches, same step count). Runs on CPU, one or several GPUs
through Accelerate. Must not import bench or devices.
"""

from __future__ import annotations

import json
import math
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from accelerate import Accelerator, DistributedDataParallelKwargs
from tqdm.auto import tqdm
from transformers import get_linear_schedule_with_warmup

from dynabert import baselines
from dynabert.augment import DEFAULT_N, N_PER_TASK, AugmentConfig, augmented_train
from dynabert.config import DEFAULT_DEPTHS, DEFAULT_WIDTHS, SubnetSpec, default_grid
from dynabert.data import Split, batch_order, collate, encode, get_task, load_hub, load_task, metric_for
from dynabert.distill import distill_loss
from dynabert.evaluate import evaluate_specs
from dynabert.labels import align_classifier, check_task_checkpoint
from dynabert.limits import check_model_inputs, check_seq_len, input_limits
from dynabert.metrics import selection_score
from dynabert.model import DynaBert
from dynabert.presets import load_model, load_tokenizer
from dynabert.rewire import importance, rewire_, task_loss

STAGES = ("teacher", "width", "depth", "final")
AUGMENTED_STAGES = ("width", "depth", "baseline")  # the distillation stages (spec 4); teacher and final: gold data


@dataclass
class TrainConfig:
    """Every training flag; defaults are the paper's / official code's (spec 3.1)."""

    task: str
    data_dir: str
    output_dir: str
    model: str = "minilm-l6"  # where stage "teacher" starts (preset, directory, hub id)
    teacher: str | None = None  # a fine-tuned teacher to use instead of OUTPUT/teacher/best
    text_columns: str | None = None  # --task custom
    label_column: str | None = None
    learning_rate: float = 2e-5
    batch_size: int = 32
    epochs: float = 3.0  # per stage; fractional allowed
    max_seq_len: int = 128
    seed: int = 42
    max_train_samples: int | None = None
    max_eval_samples: int | None = None
    warmup_ratio: float = 0.0
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    widths: tuple[float, ...] = DEFAULT_WIDTHS
    depths: tuple[float, ...] = DEFAULT_DEPTHS
    width_lambda1: float = 1.0
    width_lambda2: float = 0.1
    depth_lambda1: float = 1.0
    depth_lambda2: float = 1.0
    teacher_width: str = "full"  # "full" (official code) | "matched" (paper) in stage depth
    importance_rule: str = "code"  # "code" (official) | "paper"
    regression_pred_loss: bool = False  # STS-B: the official code has no prediction loss in stages width/depth
    checkpoint_choice: str = "best"  # "best" summed dev metric (official) | "last"
    eval_every: int = 50  # optimizer steps between dev evaluations (0: at epoch ends only)
    eval_batch_size: int = 128
    bucket: bool = False  # length bucketing
    max_errors: int = 0  # malformed rows skipped (and reported) before failing
    mixed_precision: str = "no"  # "no" | "fp16" | "bf16" (GPU)
    logging_steps: int = 10
    baseline: str | None = None  # "distilbert" | "tinybert" | "fixed": a same-teacher baseline instead of a stage
    student_layers: int | None = None  # tinybert: student depth (default half the teacher's)
    student_model: str | None = None  # distilbert/tinybert: a pretrained student (local dir / hub id) to distil into
    width: float | None = None  # fixed: the one width to train
    depth: float | None = None  # fixed: the one depth to train
    temperature: float = 2.0  # distilbert: soft-label temperature
    cosine_loss_weight: float = 0.0  # distilbert: weight of the last-hidden-state cosine loss
    tinybert_phase1_fraction: float = 0.5  # tinybert: share of steps for intermediate-layer distillation
    augment_model: str | None = None  # masked-LM checkpoint: TinyBERT augmentation for the distillation stages
    augment_n: int | None = None  # tries per text (default: TinyBERT's per-task N, 20 otherwise)
    augment_prob: float = 0.4  # chance of replacing each candidate word in a try
    augment_top_k: int = 15  # candidates per word
    augment_glove: str | None = None  # GloVe text file: candidates for words of several WordPieces

    def __post_init__(self) -> None:
        choices = {"teacher_width": ("full", "matched"), "importance_rule": ("code", "paper"),
                   "checkpoint_choice": ("best", "last"), "mixed_precision": ("no", "fp16", "bf16")}
        choices["baseline"] = (None, *baselines.BASELINES)
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        for name in ("learning_rate", "batch_size", "epochs", "max_seq_len"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")
        if self.baseline == "fixed" and (self.width is None or self.depth is None):
            raise ValueError("--baseline fixed needs --width and --depth (the one sub-network to train alone)")
        for w in self.widths:
            SubnetSpec(w, 1.0)
        for d in self.depths:
            SubnetSpec(1.0, d)


@dataclass
class StagePlan:
    specs: list[SubnetSpec]
    start_from: str  # student initial weights
    teacher_from: str | None  # frozen teacher (None: gold labels)
    lambda_pred: float = 1.0
    lambda_hidden: float = 0.0
    rewire: bool = False
    kind: str = "dynabert"  # loss: "dynabert" (or gold labels without a teacher) | "distilbert" | "tinybert"
    build_student: object = None  # teacher HF model -> student HF model (baselines), None: start_from as is


def stage_dir(cfg: TrainConfig, stage: str) -> Path:
    if stage == "baseline":
        name = (f"fixed-{SubnetSpec(cfg.width, cfg.depth).subnet_id}" if cfg.baseline == "fixed"
                else f"baseline-{cfg.baseline}")
        return Path(cfg.output_dir) / name
    return Path(cfg.output_dir) / stage


def finished_model(cfg: TrainConfig, stage: str) -> str:
    path = stage_dir(cfg, stage) / "best"
    if not (path / "config.json").is_file():
        raise ValueError(f"stage {stage!r} has no finished model at {path}; run --stage {stage} first")
    return str(path)


def plan(cfg: TrainConfig, stage: str) -> StagePlan:
    widths = [SubnetSpec(w, 1.0) for w in cfg.widths]
    if stage == "teacher":
        return StagePlan([SubnetSpec()], cfg.model, None)
    if stage == "width":
        teacher = cfg.teacher or finished_model(cfg, "teacher")
        return StagePlan(widths, teacher, teacher, cfg.width_lambda1, cfg.width_lambda2, rewire=True)
    if stage == "depth":
        start = finished_model(cfg, "width")
        return StagePlan(default_grid(cfg.widths, cfg.depths), start, start, cfg.depth_lambda1, cfg.depth_lambda2)
    if stage == "final":
        return StagePlan(default_grid(cfg.widths, cfg.depths), finished_model(cfg, "depth"), None)
    if stage == "baseline":
        return baseline_plan(cfg)
    raise ValueError(f"unknown stage {stage!r}; choose one of {STAGES} or all")


def baseline_plan(cfg: TrainConfig) -> StagePlan:
    """The plan of a same-teacher baseline: same task, data, teacher and epochs as the DynaBERT run."""
    teacher = cfg.teacher or finished_model(cfg, "teacher")
    if cfg.baseline == "fixed":
        return StagePlan([SubnetSpec(cfg.width, cfg.depth)], teacher, teacher, cfg.depth_lambda1, cfg.depth_lambda2,
                         rewire=True)
    if cfg.student_model:
        student_from = cfg.student_model

        def build(_teacher_hf):
            return load_model(student_from, num_labels=_teacher_hf.config.num_labels, seed=cfg.seed)
    elif cfg.baseline == "distilbert":
        def build(teacher_hf):
            return baselines.layer_subset(teacher_hf, baselines.distilbert_layers(teacher_hf.config.num_hidden_layers))
    else:
        def build(teacher_hf):
            n = teacher_hf.config.num_hidden_layers
            return baselines.layer_subset(teacher_hf, baselines.tinybert_layers(n, cfg.student_layers or max(1, n // 2)))
    return StagePlan([SubnetSpec()], teacher, teacher, kind=cfg.baseline, build_student=build)


class Data:
    """Tokenized train and dev features of a task, plus its labels and metric."""

    def __init__(self, cfg: TrainConfig, tokenizer, augment: bool = False):
        self.task = get_task(cfg.task, cfg.text_columns, cfg.label_column)
        labels, splits = load_hub(self.task) if cfg.data_dir == "hub" else load_task(self.task, cfg.data_dir, cfg.max_errors)
        self.labels, self.regression = labels, labels is None
        self.num_labels = 1 if labels is None else len(labels)
        self.metric = metric_for(self.task)
        train_cap = cfg.max_train_samples
        if augment:  # the cap applies to the original rows, before they are multiplied
            base = splits["train"]
            if train_cap is not None:
                base = Split(base.name, base.texts[:train_cap], base.labels[:train_cap], base.source, base.skipped)
            splits["train"], train_cap = augmented_train(base, self.task, labels, augment_config(cfg, self.task),
                                                         Path(cfg.output_dir) / "augmented"), None
        self.train = encode(splits["train"], tokenizer, cfg.max_seq_len, train_cap)
        self.dev = {name: encode(splits[name], tokenizer, cfg.max_seq_len, cfg.max_eval_samples)
                    for name in self.task.dev_files}
        self.pad_token_id = tokenizer.pad_token_id or 0
        self.sources = {name: s.source for name, s in splits.items()}
        self.skipped = {name: len(s.skipped) for name, s in splits.items()}

    def batch(self, features: list[dict]) -> dict[str, torch.Tensor]:
        return collate(features, self.pad_token_id, self.regression)


def augment_config(cfg: TrainConfig, task) -> AugmentConfig:
    return AugmentConfig(cfg.augment_model, cfg.augment_n or N_PER_TASK.get(task.name, DEFAULT_N), cfg.augment_prob,
                         cfg.augment_top_k, cfg.augment_glove, cfg.seed)


def save_atomic(model, tokenizer, target: Path, state: dict | None = None) -> None:
    """Write to target.tmp, then swap it in: a kill mid-write never leaves a broken checkpoint."""
    tmp, old = target.with_name(target.name + ".tmp"), target.with_name(target.name + ".old")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    if state is not None:
        torch.save(state, tmp / "state.pt")
    if target.exists():
        target.rename(old)
    tmp.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def run_stage(cfg: TrainConfig, stage: str) -> dict:
    """Train one stage to completion (resuming if a checkpoint exists); returns its summary."""
    out = stage_dir(cfg, stage)
    if (out / "summary.json").is_file():
        print(f"stage {stage}: already finished ({out / 'summary.json'}); skipping")
        return json.loads((out / "summary.json").read_text())
    p = plan(cfg, stage)
    accelerator = Accelerator(mixed_precision=cfg.mixed_precision,
                              kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)])
    tokenizer = load_tokenizer(p.start_from)
    check_model_inputs(p.start_from, tokenizer, cfg.max_seq_len, "--max-seq-len")  # a model's own limits, up front
    check_task_checkpoint(p.teacher_from, cfg.task, cfg.text_columns, cfg.label_column, cfg.data_dir, "--teacher")
    data = Data(cfg, tokenizer, augment=cfg.augment_model is not None and stage in AUGMENTED_STAGES)
    resume = out / "checkpoint"
    state = torch.load(resume / "state.pt", weights_only=False) if (resume / "state.pt").is_file() else None
    if state is None and p.build_student is not None:
        hf = p.build_student(load_model(p.start_from, num_labels=data.num_labels, seed=cfg.seed))
    else:
        hf = load_model(str(resume) if state else p.start_from, num_labels=data.num_labels, seed=cfg.seed)
    check_seq_len(input_limits(hf.config), cfg.max_seq_len, "--max-seq-len", cfg.student_model or p.start_from)
    student = DynaBert(align_classifier(hf, data.task, data.labels, p.start_from, strict=p.teacher_from is not None))
    teacher = DynaBert(align_classifier(load_model(p.teacher_from), data.task, data.labels, p.teacher_from)
                       ).to(accelerator.device).eval() if p.teacher_from else None
    if teacher is not None:
        teacher.requires_grad_(False)
    out.mkdir(parents=True, exist_ok=True)
    log = open(out / "train.log", "a", encoding="utf-8")

    def say(msg: str) -> None:
        line = f"{time.strftime('%Y-%m-%d %H:%M:%S')} {msg}"
        log.write(line + "\n")
        log.flush()
        if accelerator.is_main_process:
            tqdm.write(line)

    if p.rewire and state is None:
        dev0 = data.dev[data.task.dev_files[0]]
        importance_batches = [{k: v.to(accelerator.device) for k, v in data.batch(dev0[i:i + 8]).items()}
                              for i in range(0, len(dev0), 8)]  # dev batch size 8, as the official code
        student.to(accelerator.device)
        heads, ffn = importance(student, importance_batches, cfg.importance_rule)
        rewire_(student, heads, ffn)
        say(f"rewired with {cfg.importance_rule!r} importance on {len(dev0)} dev examples")

    no_decay = ("bias", "LayerNorm.weight")
    groups = [{"params": [p_ for n, p_ in hf.named_parameters() if not any(k in n for k in no_decay)],
               "weight_decay": cfg.weight_decay},
              {"params": [p_ for n, p_ in hf.named_parameters() if any(k in n for k in no_decay)], "weight_decay": 0.0}]
    extra = None
    if p.kind == "tinybert":
        extra = baselines.TinyBertProjection(hf.config.hidden_size, teacher.full_size.hidden_size).to(accelerator.device)
        groups.append({"params": list(extra.parameters()), "weight_decay": cfg.weight_decay})
    optimizer = torch.optim.AdamW(groups, lr=cfg.learning_rate, eps=1e-8)
    world = accelerator.num_processes
    lengths = [len(f["input_ids"]) for f in data.train]
    batches_per_epoch = math.ceil(len(data.train) / cfg.batch_size) // world
    if batches_per_epoch == 0:
        raise ValueError(f"{len(data.train)} training examples are fewer than one batch per process")
    total_steps = max(1, math.ceil(batches_per_epoch * cfg.epochs))
    scheduler = get_linear_schedule_with_warmup(optimizer, int(cfg.warmup_ratio * total_steps), total_steps)
    student, optimizer = accelerator.prepare(student, optimizer)
    core = accelerator.unwrap_model(student)

    progress = {"step": 0, "best_score": -math.inf, "best_step": None, "history": []}
    if state is not None:
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng"])
        if extra is not None:
            extra.load_state_dict(state["extra"])
        progress = state["progress"]
        say(f"resumed from {resume} at step {progress['step']} of {total_steps}")
    else:
        torch.manual_seed(cfg.seed)
        say(f"stage {stage}: {len(p.specs)} sub-network(s), {len(data.train)} train examples, "
            f"{total_steps} steps ({cfg.epochs} epochs x {batches_per_epoch} batches of {cfg.batch_size}), "
            f"teacher {p.teacher_from or 'none (gold labels)'}")

    def evaluate_and_maybe_save(final: bool) -> None:
        results = {name: evaluate_specs(core, feats, p.specs, data.metric, cfg.eval_batch_size, data.pad_token_id,
                                        data.regression) for name, feats in data.dev.items()}
        first = data.task.dev_files[0]
        score = selection_score(results[first])  # an undefined (NaN) correlation counts 0
        progress["history"].append({"step": progress["step"], "score": score, "dev": results})
        summary = ", ".join(f"{k}={next(iter(v.values())):.4f}" for k, v in results[first].items())
        say(f"step {progress['step']}: dev {summary} (sum {score:.4f})")
        better = score > progress["best_score"]
        if cfg.checkpoint_choice == "best" and better or cfg.checkpoint_choice == "last" and final:
            progress["best_score"], progress["best_step"] = score, progress["step"]
            if accelerator.is_main_process:
                save_atomic(core.hf, tokenizer, out / "best")

    def checkpoint() -> None:
        if accelerator.is_main_process:
            save_atomic(core.hf, tokenizer, resume, {"optimizer": optimizer.state_dict(),
                                                     "scheduler": scheduler.state_dict(),
                                                     "rng": torch.get_rng_state(), "progress": progress,
                                                     "extra": None if extra is None else extra.state_dict()})

    started, seen = time.time(), 0
    bar = tqdm(total=total_steps, initial=progress["step"], desc=f"stage {stage}",
               disable=not accelerator.is_main_process)
    student.train()
    while progress["step"] < total_steps:
        epoch, offset = divmod(progress["step"], batches_per_epoch)
        order = batch_order(lengths, cfg.batch_size, cfg.seed, epoch, cfg.bucket)[accelerator.process_index::world]
        for idx in order[offset:batches_per_epoch]:
            batch = {k: v.to(accelerator.device) for k, v in data.batch([data.train[i] for i in idx]).items()}
            inputs = (batch["input_ids"], batch["attention_mask"], batch.get("token_type_ids"))
            phase1 = progress["step"] < cfg.tinybert_phase1_fraction * total_steps
            loss_sum = train_step(student, teacher, p, cfg, batch, inputs, accelerator, phase1, extra)
            if cfg.max_grad_norm > 0:
                accelerator.clip_grad_norm_(student.parameters(), cfg.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            progress["step"] += 1
            seen += len(idx) * world
            bar.update(1)
            bar.set_postfix(loss=f"{loss_sum:.4f}", samples_per_s=f"{seen / (time.time() - started):.1f}")
            if progress["step"] % cfg.logging_steps == 0:
                say(f"step {progress['step']}: loss {loss_sum:.4f} (sum over {len(p.specs)} sub-networks), "
                    f"lr {scheduler.get_last_lr()[0]:.3g}, {seen / (time.time() - started):.1f} samples/s")
            if cfg.eval_every and progress["step"] % cfg.eval_every == 0 and progress["step"] < total_steps:
                evaluate_and_maybe_save(final=False)
                checkpoint()
            if progress["step"] >= total_steps:
                break
        else:
            if progress["step"] < total_steps:
                evaluate_and_maybe_save(final=False)
                checkpoint()
    bar.close()
    evaluate_and_maybe_save(final=True)
    summary = {"stage": stage, "steps": progress["step"], "best_step": progress["best_step"],
               "checkpoint_choice": cfg.checkpoint_choice, "best_score": progress["best_score"],
               "chosen_model": str(out / "best"), "final_dev": progress["history"][-1]["dev"],
               "best_dev": next(h["dev"] for h in progress["history"] if h["step"] == progress["best_step"]),
               "train_examples": len(data.train), "data": data.sources, "skipped_rows": data.skipped,
               "seconds_this_run": round(time.time() - started, 1), "config": asdict(cfg)}
    if cfg.checkpoint_choice == "best":
        summary["warning"] = ("the checkpoint was chosen on the same dev set that reports its accuracy "
                              "(as the official code does); these dev numbers are optimistic")
        say("warning: " + summary["warning"])
    if accelerator.is_main_process:
        (out / "summary.json").write_text(json.dumps(summary, indent=1))
    log.close()
    return summary


def train_step(student, teacher, p: StagePlan, cfg: TrainConfig, batch: dict, inputs: tuple, accelerator,
               phase1: bool = True, extra=None) -> float:
    """One optimizer step's forward/backward over all sub-networks; gradients accumulate. Returns summed loss."""
    if p.kind in ("distilbert", "tinybert"):
        return baseline_step(student, teacher, p, cfg, batch, inputs, accelerator, phase1, extra)
    full_teacher = None
    if teacher is not None:
        with torch.no_grad():
            full_teacher = teacher(*inputs)  # once per batch (official code: full-width teacher)
    matched: dict[float, object] = {}
    total = 0.0
    for spec in p.specs:
        with accelerator.autocast():
            out = student(*inputs, spec=spec)
            if teacher is None:
                loss = task_loss(out.logits, batch["labels"])
            else:
                t_out = full_teacher
                if cfg.teacher_width == "matched" and spec.width_mult != 1.0:
                    if spec.width_mult not in matched:  # paper: teacher at the student's width, once per width
                        with torch.no_grad():
                            matched[spec.width_mult] = teacher(*inputs, spec=SubnetSpec(spec.width_mult, 1.0))
                    t_out = matched[spec.width_mult]
                ids = spec.teacher_hidden_ids(len(t_out.hidden_states) - 1)
                loss = distill_loss(out.logits, out.hidden_states, t_out.logits, t_out.hidden_states, ids,
                                    p.lambda_pred, p.lambda_hidden, cfg.regression_pred_loss)
        accelerator.backward(loss)
        total += loss.item()
    return total


def baseline_step(student, teacher, p: StagePlan, cfg: TrainConfig, batch: dict, inputs: tuple, accelerator,
                  phase1: bool, extra) -> float:
    """One DistilBERT- or TinyBERT-style distillation step of the (full-size) student."""
    tiny = p.kind == "tinybert"
    with torch.no_grad():
        t_out = teacher(*inputs, output_attentions=tiny)
    with accelerator.autocast():
        out = student(*inputs, output_attentions=tiny)
        if not tiny:
            loss = baselines.distilbert_loss(out, t_out, cfg.temperature, cfg.cosine_loss_weight, inputs[1])
        elif phase1:
            hidden, attention = baselines.tinybert_intermediate_loss(out, t_out, extra)
            loss = hidden + attention
        else:
            loss = baselines.prediction_loss(out.logits, t_out.logits)
    accelerator.backward(loss)
    return loss.item()


def run(cfg: TrainConfig, stage: str) -> list[dict]:
    """Run one stage, or `all` (teacher, width, depth) in order, or a baseline; finished stages are skipped."""
    if cfg.baseline:
        stage = "baseline"
    stages = ("teacher", "width", "depth") if stage == "all" else (stage,)
    out = []
    for s in stages:
        t0 = time.time()
        out.append(run_stage(cfg, s))
        print(f"stage {s}: done in {time.time() - t0:.1f} s", file=sys.stderr)
    return out
