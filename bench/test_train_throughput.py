"""Training throughput of one stage-1 (width) and one stage-2 (width x depth) optimizer step, and its overhead.

ratio = (one whole step) / (one teacher forward + each sub-network's forward/backward alone + the optimizer
step alone), medians of the rounds. 1.0 means the step does no work beyond its parts; target <= 1.05. The step is
the trainer's own `engine.train_step` on the module the trainer prepares (`Trainable`).
Default: the tiny model, batch 32, seq 64; BENCH_MODEL=minilm-l6 for the real one.
"""

from __future__ import annotations

import os
import statistics
import time

import pytest
import torch
from accelerate import Accelerator

from dynabert.config import SubnetSpec, default_grid
from dynabert.distill import distill_loss
from dynabert.engine import Trainable, train_step
from dynabert.losses import LossSettings
from dynabert.model import DynaBert
from dynabert.presets import load_model

pytestmark = pytest.mark.slow  # the measurement suite: times training steps

BATCH, SEQ, ROUNDS = 32, 64, 5


def timed(fn, rounds: int = ROUNDS) -> float:
    fn()  # warm-up
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def part_timings(
    student, teacher, inputs: tuple, specs, lambdas: tuple, optimizer
) -> tuple[float, dict, float]:
    """Seconds of the step's parts timed alone: the teacher forward, each sub-network's forward/backward, the
    optimizer step (clip included)."""

    def teacher_forward():
        with torch.no_grad():
            return teacher(*inputs)

    t_out = teacher_forward()

    def part(spec):
        def run():
            out = student(*inputs, spec=spec)
            ids_map = spec.teacher_hidden_ids(len(t_out.hidden_states) - 1)
            distill_loss(
                out.logits,
                out.hidden_states,
                t_out.logits,
                t_out.hidden_states,
                ids_map,
                *lambdas,
                False,
            ).backward()

        return run

    def opt_only():
        torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
        optimizer.step()

    return (
        timed(teacher_forward),
        {spec.subnet_id: timed(part(spec)) for spec in specs},
        timed(opt_only),
    )


@pytest.mark.bench
@pytest.mark.parametrize("stage", ["width", "depth"])
def test_train_step_throughput(benchmark, stage, request):
    name = request.config.option.bench_model
    threads = request.config.option.bench_threads
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        teacher = DynaBert(load_model(name)).eval().requires_grad_(False)
        student = DynaBert(load_model(name)).train()
        specs = (
            [SubnetSpec(w, 1.0) for w in (1.0, 0.75, 0.5, 0.25)]
            if stage == "width"
            else default_grid()
        )
        lambdas = (1.0, 0.1) if stage == "width" else (1.0, 1.0)
        settings = LossSettings(*lambdas)
        model = Trainable(student)
        g = torch.Generator().manual_seed(0)
        ids = torch.randint(1000, 29000, (BATCH, SEQ), generator=g)
        batch = {
            "input_ids": ids,
            "attention_mask": torch.ones_like(ids),
            "labels": torch.randint(0, 2, (BATCH,)),
        }
        inputs = (ids, batch["attention_mask"], None)
        optimizer = torch.optim.AdamW(student.parameters(), lr=1e-5)
        accelerator = Accelerator(cpu=True)

        def step():
            train_step(model, teacher, specs, "dynabert", settings, batch, accelerator)
            torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)

        teacher_s, parts, optimizer_s = part_timings(
            student, teacher, inputs, specs, lambdas, optimizer
        )
        optimizer.zero_grad(set_to_none=True)
        before = [p.detach().clone() for p in student.parameters()]
        benchmark.pedantic(step, rounds=ROUNDS, warmup_rounds=1, iterations=1)
        if (
            benchmark.disabled
        ):  # --benchmark-disable (or the plugin disabled itself): the step ran once, no stats
            assert any(
                not torch.equal(b, p) for b, p in zip(before, student.parameters())
            )  # the step updated
            return
        step_s = benchmark.stats.stats.median
        parts_sum = teacher_s + sum(parts.values()) + optimizer_s
        benchmark.group = f"train step {name} b{BATCH} s{SEQ} t{threads}"
        benchmark.extra_info.update(
            kind="train_throughput",
            stage=stage,
            model_id=name,
            batch_size=BATCH,
            seq_len=SEQ,
            threads=threads,
            n_subnetworks=len(specs),
            samples_per_s=BATCH / step_s,
            step_s=step_s,
            teacher_forward_s=teacher_s,
            optimizer_step_s=optimizer_s,
            subnet_fwd_bwd_s=parts,
            ratio_step_to_parts=step_s / parts_sum,
            target_ratio=1.05,
        )
        assert step_s > 0 and parts_sum > 0
    finally:
        torch.set_num_threads(previous)


PAIRS = 8  # interleaved (all, K) step pairs after one warm-up pair


def paired_step_times(step_all, step_k, pairs: int) -> tuple[list[float], list[float]]:
    """Seconds of `pairs` whole steps of each kind, alternated (all, K, all, K, ...) after one warm-up pair, so a
    drift of the machine's speed hits both alike. step_k(i) takes the pair's index (its draw)."""
    step_all()
    step_k(0)
    t_all, t_k = [], []
    for i in range(pairs):
        t0 = time.perf_counter()
        step_all()
        t_all.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        step_k(i + 1)
        t_k.append(time.perf_counter() - t0)
    return t_all, t_k


@pytest.mark.bench
def test_sampled_depth_step_cost_ratio(benchmark, request):
    """A stage-depth step training K = 4 sub-networks (sandwich rule, drawn per step as the trainer does) against
    the paper's step over all 12, interleaved; ratio = mean K step / mean all step (means: the draw varies per step).
    Issue 19 target <= 0.40; sum of width x depth predicts 0.36 for the sub-network passes alone. Reported, not
    asserted (timings are no unit-test matter)."""
    from dynabert.sampling import expected_cost_share, subnets_for_step

    name, threads, k = request.config.option.bench_model, request.config.option.bench_threads, 4
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        teacher = DynaBert(load_model(name)).eval().requires_grad_(False)
        student = DynaBert(load_model(name)).train()
        grid, settings, model = default_grid(), LossSettings(1.0, 1.0), Trainable(student)
        g = torch.Generator().manual_seed(0)
        ids = torch.randint(1000, 29000, (BATCH, SEQ), generator=g)
        batch = {
            "input_ids": ids,
            "attention_mask": torch.ones_like(ids),
            "labels": torch.randint(0, 2, (BATCH,)),
        }
        optimizer = torch.optim.AdamW(student.parameters(), lr=1e-5)
        accelerator = Accelerator(cpu=True)

        def step(specs):
            train_step(model, teacher, specs, "dynabert", settings, batch, accelerator)
            torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)

        times = {}
        pairs = 1 if benchmark.disabled else PAIRS

        def measure():
            times["all"], times["k"] = paired_step_times(
                lambda: step(grid), lambda i: step(subnets_for_step(grid, k, 42, i)), pairs
            )

        load_before = os.getloadavg()[0]
        benchmark.pedantic(measure, rounds=1, iterations=1)
        mean_all, mean_k = statistics.mean(times["all"]), statistics.mean(times["k"])
        benchmark.group = f"sampled depth step {name} b{BATCH} s{SEQ} t{threads}"
        benchmark.extra_info.update(
            kind="train_step_ratio",
            stage="depth",
            model_id=name,
            batch_size=BATCH,
            seq_len=SEQ,
            threads=threads,
            subnets_per_step=k,
            n_subnetworks=len(grid),
            pairs=pairs,
            step_all_s=times["all"],
            step_k_s=times["k"],
            mean_step_all_s=mean_all,
            mean_step_k_s=mean_k,
            ratio_k_to_all=mean_k / mean_all,
            median_ratio_k_to_all=statistics.median(times["k"]) / statistics.median(times["all"]),
            predicted_ratio_width_x_depth=expected_cost_share(grid, k),
            target_ratio=0.40,
            load_avg_1min_before=load_before,
            load_avg_1min_after=os.getloadavg()[0],
        )
        assert mean_all > 0 and mean_k > 0
    finally:
        torch.set_num_threads(previous)
