"""What each stage is: the plan of a stage or baseline (sub-networks trained,
start weights, teacher, loss kind and weights) with the folders stages read and write.

Must not import bench or devices (torch arrives only through baselines and presets).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

from dynabert import baselines
from dynabert.config import (
    SubnetSpec,
    check_grid,
    check_mults,
    default_grid,
)
from dynabert.presets import load_model, load_size
from dynabert.run_flags import check_same_flags, trained_flags
from dynabert.sampling import check_same_sampling, check_subnets_per_step
from dynabert.train_config import STAGES, TrainConfig  # noqa: F401  (re-exported)

AUGMENTED_STAGES = (
    "width",
    "depth",
    "baseline",
)  # the distillation stages (spec 4); teacher and final: gold data


@dataclass
class StagePlan:
    specs: list[SubnetSpec]
    start_from: str  # student initial weights
    teacher_from: str | None  # frozen teacher (None: gold labels)
    lambda_pred: float = 1.0
    lambda_hidden: float = 0.0
    rewire: bool = False
    kind: str = (
        "dynabert"  # loss, a key of losses.LOSSES: "dynabert" | "gold" | "distilbert" | "tinybert"
    )
    build_student: object = (
        None  # teacher HF model -> student HF model (baselines), None: start_from as is
    )


def grid_size(cfg: TrainConfig, stage: str) -> int:
    """Sub-networks in a stage's grid: width len(widths), depth and final len(widths) x len(depths), else 1."""
    if stage == "width":
        return len(cfg.widths)
    return len(cfg.widths) * len(cfg.depths) if stage in ("depth", "final") else 1


def check_sampling(cfg: TrainConfig, stages: tuple[str, ...]) -> None:
    """Refuses --subnets-per-step beyond the grid of any width/depth/final stage about to run (before any trains),
    a one-point grid included; the teacher and the baselines train their one network every step whatever K is."""
    for stage in stages:
        if stage in ("width", "depth", "final"):
            check_subnets_per_step(cfg.subnets_per_step, grid_size(cfg, stage), stage)


def check_grid_flags(cfg: TrainConfig, stages: tuple[str, ...]) -> None:
    """--widths/--depths (a fixed baseline: --width/--depth) checked against the architecture they are cut from,
    read from its config.json before any data or weights are loaded (config.check_grid: the one checker). Stages
    that train one network (teacher alone, distilbert/tinybert baselines) use no multipliers and are not checked."""
    fixed = stages == ("baseline",) and cfg.baseline == "fixed"
    if not fixed and not any(s in ("width", "depth", "final") for s in stages):
        return
    source = plan(
        cfg, stages[0]
    ).start_from  # the teacher's (or earlier stage's) architecture: the grid's source
    size = load_size(source)
    if fixed:
        check_mults((cfg.width,), "width", size, source, "--width")
        check_mults((cfg.depth,), "depth", size, source, "--depth")
    else:
        check_grid(cfg.widths, cfg.depths, size, source)


def stage_dir(cfg: TrainConfig, stage: str) -> Path:
    if stage == "baseline":
        name = (
            f"fixed-{SubnetSpec(cfg.width, cfg.depth).subnet_id}"
            if cfg.baseline == "fixed"
            else f"baseline-{cfg.baseline}"
        )
        return Path(cfg.output_dir) / name
    return Path(cfg.output_dir) / stage


def finished_model(cfg: TrainConfig, stage: str) -> str:
    path = stage_dir(cfg, stage) / "best"
    if not (path / "config.json").is_file():
        raise ValueError(
            f"stage {stage!r} has no finished model at {path}; run --stage {stage} first"
        )
    return str(path)


def stage_specs(cfg: TrainConfig, stage: str) -> list[SubnetSpec]:
    """The sub-networks a stage trains (its grid), from the flags alone: width the widths at full depth, depth and
    final every (width, depth), a fixed baseline its one (width, depth), the teacher and other baselines the full
    network."""
    if stage == "width":
        return [SubnetSpec(w, 1.0) for w in cfg.widths]
    if stage in ("depth", "final"):
        return default_grid(cfg.widths, cfg.depths)
    if stage == "baseline" and cfg.baseline == "fixed":
        return [SubnetSpec(cfg.width, cfg.depth)]
    return [SubnetSpec()]


def plan(cfg: TrainConfig, stage: str) -> StagePlan:
    specs = stage_specs(cfg, stage)
    if stage == "teacher":
        return StagePlan(specs, cfg.model, None, kind="gold")
    if stage == "width":
        teacher = cfg.teacher or finished_model(cfg, "teacher")
        return StagePlan(specs, teacher, teacher, cfg.width_lambda1, cfg.width_lambda2, rewire=True)
    if stage == "depth":
        start = finished_model(cfg, "width")
        return StagePlan(specs, start, start, cfg.depth_lambda1, cfg.depth_lambda2)
    if stage == "final":
        return StagePlan(specs, finished_model(cfg, "depth"), None, kind="gold")
    if stage == "baseline":
        return baseline_plan(cfg)
    raise ValueError(f"unknown stage {stage!r}; choose one of {STAGES} or all")


def baseline_plan(cfg: TrainConfig) -> StagePlan:
    """The plan of a same-teacher baseline: same task, data, teacher and epochs as the DynaBERT run."""
    teacher = cfg.teacher or finished_model(cfg, "teacher")
    if cfg.baseline == "fixed":
        return StagePlan(
            [SubnetSpec(cfg.width, cfg.depth)],
            teacher,
            teacher,
            cfg.depth_lambda1,
            cfg.depth_lambda2,
            rewire=True,
        )
    if cfg.student_model:
        student_from = cfg.student_model

        def build(_teacher_hf):
            return load_model(student_from, num_labels=_teacher_hf.config.num_labels, seed=cfg.seed)
    elif cfg.baseline == "distilbert":

        def build(teacher_hf):
            return baselines.layer_subset(
                teacher_hf, baselines.distilbert_layers(teacher_hf.config.num_hidden_layers)
            )
    else:

        def build(teacher_hf):
            n = teacher_hf.config.num_hidden_layers
            return baselines.layer_subset(
                teacher_hf, baselines.tinybert_layers(n, cfg.student_layers or max(1, n // 2))
            )

    return StagePlan([SubnetSpec()], teacher, teacher, kind=cfg.baseline, build_student=build)


def finished_sampling(summary: dict, cfg: TrainConfig, stage: str) -> dict | None:
    """K and grid a finished stage was trained with: summary.json's `sampling`, or (summaries written before it)
    worked out from its `subnets_per_step` and saved config; None when the summary holds neither."""
    if isinstance(summary.get("sampling"), dict):
        return summary["sampling"]
    then = summary.get("config")
    if not isinstance(then, dict) or "subnets_per_step" not in summary:
        return None
    old = replace(
        cfg,
        widths=tuple(then.get("widths", cfg.widths)),
        depths=tuple(then.get("depths", cfg.depths)),
    )
    return {
        "subnets_per_step": summary["subnets_per_step"],
        "grid": [s.subnet_id for s in stage_specs(old, stage)],
    }


def check_finished_stage(cfg: TrainConfig, stage: str, out: Path) -> dict:
    """The summary of a finished stage, when this command asks for the K, grid and training flags it was trained with
    (run_flags.STAGE_FLAGS: the stage's own and its lineage's); otherwise ValueError naming the stage folder, each
    changed setting (old -> new) and the fix (a rerun would skip it as done, silently)."""
    summary = json.loads((out / "summary.json").read_text())
    saved = finished_sampling(summary, cfg, stage)
    specs = stage_specs(cfg, stage)
    now = {
        "subnets_per_step": min(cfg.subnets_per_step or len(specs), len(specs)),
        "grid": [s.subnet_id for s in specs],
    }
    was = f"stage {stage} in {out} is finished (summary.json): it was trained"
    if saved is not None:
        check_same_sampling(
            saved,
            now,
            was,
            "To train with the new setting, give another --output-dir; to use the "
            "finished stage, run with the --subnets-per-step/--widths/--depths it was trained with",
        )
    check_same_flags(
        summary.get("config"),
        trained_flags(cfg, stage),
        was,
        "To train with the new flags, give "
        "another --output-dir; to use the finished stage, run with the flags it was trained with",
    )
    return summary
