"""The sweep: every (model, sub-network, runtime, threads) cell -> export (cached, checked) -> fresh-process run ->
one record appended to the results store. Finished cells are skipped on a re-run, so a killed sweep resumes;
a failed cell is still a record (status "error").

`python -m bench.sweep --model MODEL_OR_CHECKPOINT --runtimes torch,onnxruntime,... --threads 1 --seq-len 128
 --results FILE [--widths ... --depths ... | --subnets FILE.json] [--baselines]`
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import argfields
import records
from argfields import option
from bench.artifacts import LoadedModel, artifact_for, load
from bench.cells import (
    DEFAULT_RUNTIMES,
    KEY_FIELDS,
    RUNTIMES,
    Cell,
    Ready,
    base_for,
    cell_key,
    finish,
    model_grid,
    other_machine_diff,
    skip_reason,
    stamped,
    with_artifact,
)
from bench.export_pool import export_cells
from bench.frame import print_summaries
from bench.queries import (
    STATIC_RUNTIMES,
    WorkloadConfig,
    build_workload,
    query_fields,
    refused_early,
    shapes_of,
)
from bench.workload import Workload, parse_ints
from devices import profiles
from devices.local import cpu_info
from devices.request import RunRequest, RunResult
from dynabert.config import DEFAULT_DEPTHS, DEFAULT_WIDTHS, SubnetSpec, parse_mults
from dynabert.flops import cost
from dynabert.limits import check_seq_len
from dynabert.subnet import read_subnets
from records.provenance import this_run

BASELINES = ("tinybert-4l-312d", "tinybert-6l-768d", "distilbert-6l-768d", "bert-base")


@dataclass
class SweepConfig:
    models: list[str]
    results: str
    runtimes: tuple[str, ...] = DEFAULT_RUNTIMES
    threads: tuple[int, ...] = (1,)
    seq_len: int = 128
    batch: int = 1
    widths: tuple[float, ...] = DEFAULT_WIDTHS
    depths: tuple[float, ...] = DEFAULT_DEPTHS
    baselines: tuple[str, ...] = ()
    warmup: int = RunRequest.warmup  # the runner's defaults (devices/runner.py WARMUP, ...)
    min_runs: int = RunRequest.min_runs
    min_time_s: float = RunRequest.min_time_s
    cache: Path | None = None
    devices: tuple[str, ...] = ("local-cpu",)
    task: str | None = None
    processes: int = (
        1  # fresh processes per cell, interleaved across cells (emulated targets: always 1)
    )
    subnets: tuple = ()  # sub-networks to measure instead of the widths x depths grid (grid points or per-layer)
    subnets_source: str = "the sub-networks given"  # the --subnets file, named in messages
    export_workers: int = (
        1  # processes exporting at once before anything is timed (bench/export_pool.py)
    )
    export_only: bool = (
        False  # export and check every pending cell's artifact, measure nothing (fill the cache)
    )
    resume: bool = True  # skip cells the store already holds (an ok record, this machine); False: measure all now
    workload: WorkloadConfig = field(
        default_factory=WorkloadConfig
    )  # the traffic timed (bench/queries.py)

    def __post_init__(self) -> None:
        if unknown := [r for r in self.runtimes if r not in RUNTIMES]:
            raise ValueError(f"unknown runtime(s) {unknown}; choose from {', '.join(RUNTIMES)}")
        if self.processes < 1 or self.export_workers < 1:
            raise ValueError(
                f"processes and export workers must be >= 1, got {self.processes}, {self.export_workers}"
            )
        if self.seq_len < 2 or self.batch < 1 or any(t < 1 for t in self.threads):
            raise ValueError(
                f"seq_len >= 2, batch >= 1 and threads >= 1 required; got {self.seq_len}, "
                f"{self.batch}, {self.threads}"
            )


def prepare_cell(
    cfg: SweepConfig,
    model: LoadedModel,
    cell: Cell,
    target,
    key: records.Key,
    prov: records.Provenance,
    workload: Workload | None = None,
):
    """The cell's Ready (artifact exported and checked, request planned by its target), or its skipped/error
    record: a runtime its device profile does not list, a runtime not installed here, a query longer than a static
    artifact, a failed export (of any bucket)."""
    fmt, runner_runtime, precision = RUNTIMES[cell.runtime]
    batch = key.batch_size
    base = base_for(cost(model.full_size(), cell.spec, cfg.seq_len), cell, key, prov)
    if (
        workload is not None
    ):  # the query set's measurement-side fields (its Key fields are in `key`)
        extra = query_fields(workload, cfg.workload, cell.runtime, cfg.seq_len)
        base = replace(
            base, known={**base.known, **{k: v for k, v in extra.items() if k not in KEY_FIELDS}}
        )
    why = skip_reason(cell, target) or refused_early(cell, cfg.workload, cfg.seq_len, workload)
    if why:
        return base.record({"status": "skipped", "error": why})
    try:
        path, meta, buckets = cell_artifacts(cfg, model, cell, fmt, batch, workload)
    except Exception as err:  # an export failure is a failed cell, recorded
        return base.record(
            {"status": "error", "error": f"export failed: {type(err).__name__}: {err}"}
        )
    base = with_artifact(base, meta)
    if isinstance(base, records.Record):
        return base
    return Ready(
        base,
        target.plan(
            cell_request(cfg, cell, path, runner_runtime, precision, batch, workload, buckets)
        ),
    )


def cell_artifacts(
    cfg: SweepConfig, model: LoadedModel, cell: Cell, fmt: str, batch: int, workload
):
    """(path, meta, buckets) of a cell: its artifact, or for a query set on a static-shape runtime one checked
    artifact per bucket (the largest's path; the first failed check's meta, else the largest's)."""
    if workload is None or cell.runtime not in STATIC_RUNTIMES:
        return (*artifact_for(model, cell.spec, fmt, cfg.seq_len, cfg.cache), ())
    from bench.queries import static_artifacts

    static = batch if cfg.workload.scenario == "offline" else 1
    buckets, metas = static_artifacts(
        lambda n, b: artifact_for(model, cell.spec, fmt, n, cfg.cache, b),
        shapes_of(cell.runtime, cfg.workload, cfg.seq_len)[1],
        static,
    )
    meta = next((m for m in metas if not m["ok"]), metas[-1])
    return buckets[-1][1], meta, buckets


def cell_request(
    cfg: SweepConfig, cell: Cell, path, runner_runtime, precision, batch, workload, buckets
) -> RunRequest:
    from devices.inputs import read_input_spec

    return RunRequest(
        artifact=path,
        runtime=runner_runtime,
        inputs=read_input_spec(path),
        precision=precision,
        threads=cell.threads,
        batch=batch,
        seq_len=cfg.seq_len,
        warmup=cfg.warmup,
        min_runs=cfg.min_runs,
        min_time_s=cfg.min_time_s,
        queries=None if workload is None else workload.payload(),
        scenario=cfg.workload.scenario,
        buckets=buckets,
    )


def run_on_device(target, request: RunRequest) -> RunResult:
    """One process of a cell on its target (the seam tests spy on)."""
    return target.run(request)


def plan_cells(cfg: SweepConfig) -> list[Cell]:
    grids = {
        m: model_grid(m, cfg.widths, cfg.depths, cfg.subnets, cfg.subnets_source)
        for m in cfg.models
    }
    offline = cfg.workload.queries and cfg.workload.scenario == "offline"
    batches = cfg.workload.batches if offline else (None,)  # Offline: one cell per batch
    cells = []
    for device in cfg.devices:
        cells += [
            Cell(m, "dynabert", s, r, t, device, b)
            for m in cfg.models
            for s in grids[m]
            for r in cfg.runtimes
            for t in cfg.threads
            for b in batches
        ]
        cells += [
            Cell(name, "baseline", SubnetSpec(), r, t, device, b)
            for name in cfg.baselines
            for r in cfg.runtimes
            for t in cfg.threads
            for b in batches
        ]
    return cells


def prepare_pending(
    cfg: SweepConfig, targets: dict, store: records.Store
) -> list[tuple[Cell, Ready | records.Record]]:
    """Every cell not yet in the store, exported (by cfg.export_workers processes, then checked here) and planned,
    one model in memory at a time, then the written files flushed: no export (torch threads, hundreds of MB
    written) runs beside a timed process. A model whose cells are all done is not built (bench.artifacts.load)."""
    from tqdm.auto import tqdm

    from records.machine import this_machine

    machine = this_machine()  # the machine's identity, read once for the whole sweep
    state = {
        k: v for k, v in cpu_info(machine).items() if k != "cpu_model"
    }  # cpu_model: in the provenance
    prov = this_run(machine, env=state)
    loaded: dict[str, LoadedModel] = {}
    workloads: dict[str, Workload | None] = {}
    todo = []
    for cell in plan_cells(
        cfg
    ):  # every model's sub-networks checked (bench.cells.model_grid) before any is built
        if cell.model_id not in loaded:
            for previous in loaded.values():
                previous.release()
            loaded = {
                cell.model_id: load(cell.model_id, cfg.cache)
            }  # a cached preset's hash: nothing built
        model = loaded[cell.model_id]
        if (
            cell.model_id not in workloads
        ):  # built (and checked) before anything is exported or timed
            workloads[cell.model_id] = build_workload(cfg.workload, cell.model_id, model.limits())
        workload = workloads[cell.model_id]
        fields_of_set = (
            query_fields(workload, cfg.workload, cell.runtime, cfg.seq_len) if workload else None
        )
        key = cell_key(
            cell,
            model.name,
            model.sha,
            cell.batch or cfg.batch,
            cfg.seq_len,
            cfg.task,
            machine.fingerprint,
            fields_of_set,
        )
        if not store.done(key):
            check_seq_len(model.limits(), cfg.seq_len, "--seq-len", cell.model_id)
            todo.append((cell, model, key))
    export_cells(
        [
            (c, m)
            for c, m, _ in todo
            if not skip_reason(c, targets[c.device])
            and not refused_early(c, cfg.workload, cfg.seq_len, workloads[c.model_id])
        ],
        cfg.seq_len,
        cfg.cache,
        cfg.export_workers,
    )
    pending = []
    for i, (cell, model, key) in enumerate(
        tqdm(todo, desc="export", unit="cell", disable=not todo)
    ):
        if i and todo[i - 1][1] is not model:
            todo[i - 1][1].release()
        pending.append(
            (
                cell,
                prepare_cell(
                    cfg, model, cell, targets[cell.device], key, prov, workloads[cell.model_id]
                ),
            )
        )
    if pending and hasattr(os, "sync"):
        os.sync()
    return pending


def run_sweep(cfg: SweepConfig) -> list[records.Record]:
    """Measure every cell not already in the store; returns the records written by this run.

    With processes > 1, round r of every cell runs before round r + 1 of any, so a slow spell of the machine lands
    on one process of several cells rather than on every process of one cell; counted (emulated) cells run once.
    """
    from tqdm.auto import tqdm

    from devices.targets import target_for

    records.check_writable(cfg.results)  # before any work: not after the measurements it would lose
    targets = {d: target_for(profiles.get(d)) for d in cfg.devices}
    store = records.Store.open(cfg.results) if cfg.resume else records.Store(Path(cfg.results))
    pending = prepare_pending(cfg, targets, store)
    if cfg.export_only:  # returns the cells whose export or numerics check failed (not written: a timing run retries)
        failed = [r for _, r in pending if isinstance(r, records.Record)]
        print(
            f"--export-only: {len(pending) - len(failed)} pending cell(s) exported and checked, {len(failed)} failed"
        )
        return failed
    rounds = [
        1 if isinstance(r, records.Record) or r.request.count_runs else cfg.processes
        for _, r in pending
    ]
    results: list[list[RunResult]] = [[] for _ in pending]
    written = []
    if not pending:
        print(f"every cell is already measured on this machine ({cfg.results}): nothing to measure")
    bar = tqdm(total=sum(rounds), desc="measure", unit="run", disable=not pending)
    for r in range(max(rounds, default=0)):
        for i, (cell, ready) in enumerate(pending):
            if r >= rounds[i]:
                continue
            bar.update(1)
            if isinstance(ready, Ready):
                bar.set_postfix_str(
                    f"{cell.model_id} {cell.spec.subnet_id} {cell.runtime} t{cell.threads}"
                )
                results[i].append(run_on_device(targets[cell.device], ready.request))
                if results[i][-1].ok and len(results[i]) < rounds[i]:
                    continue
                rounds[i] = len(results[i])  # done (all rounds, or a failed process)
                ready = finish(ready, results[i], other_machine_diff(ready.request, results[i][-1]))
            written.append(stamped(ready))
            store.append(written[-1])
    bar.close()
    return written


MEASURE, GRID, MODELS = "measurement", "sub-network grid", "models"
WORKLOAD = "workload (docs/workloads.md)"


@dataclass(kw_only=True)
class SweepOptions:
    """`python -m bench.sweep`'s options; `config()` is the SweepConfig they ask for (its defaults are these)."""

    model: list[str] = option(
        [], help="preset, checkpoint or training output (repeatable)", group=MODELS
    )
    baselines: str = option(
        "",
        help=f"also measure baseline presets (default set: {', '.join(BASELINES)})",
        group=MODELS,
        nargs="?",
        const=",".join(BASELINES),
    )
    runtimes: str = option(
        ",".join(SweepConfig.runtimes),
        help=f"comma-separated, of {', '.join(RUNTIMES)} (default: the first five)",
        group=MEASURE,
    )
    threads: str = option(
        ",".join(map(str, SweepConfig.threads)), help="comma-separated thread counts", group=MEASURE
    )
    seq_len: int = option(SweepConfig.seq_len, help="tokens per input sequence", group=MEASURE)
    batch: int = option(SweepConfig.batch, help="sequences per inference", group=MEASURE)
    widths: str = option(
        ",".join(map(str, SweepConfig.widths)),
        help="width multipliers, comma-separated",
        group=GRID,
    )
    depths: str = option(
        ",".join(map(str, SweepConfig.depths)),
        help="depth multipliers, comma-separated",
        group=GRID,
    )
    subnets: str | None = option(
        None,
        help="JSON file: a list of sub-network ids or per-layer {heads, ffn} objects, measured "
        "instead of --widths x --depths (python -m bench.pareto search writes one)",
        group=GRID,
    )
    devices: str = option(
        ",".join(SweepConfig.devices),
        help="comma-separated device profiles (python -m devices list): local-cpu, qemu-arm, cuda, ...",
        group=MEASURE,
    )
    warmup: int = option(
        SweepConfig.warmup, help="untimed runs after the first, per process", group=MEASURE, min=0
    )
    min_runs: int = option(
        SweepConfig.min_runs, help="timed runs per process, at least", group=MEASURE, min=1
    )
    min_time: float = option(
        SweepConfig.min_time_s,
        help="seconds of timed runs per cell, at least",
        group=MEASURE,
        min=0,
    )
    processes: int = option(
        SweepConfig.processes,
        help="fresh processes per cell, interleaved across cells; their timed runs are pooled and "
        "each process's median is kept (env.process_medians_ms)",
        group=MEASURE,
    )
    export_workers: int = option(
        SweepConfig.export_workers,
        help="processes exporting at once, before any timing",
        group="artifacts",
    )
    export_only: bool = option(
        False,
        help="export every pending cell's artifact into the cache and stop: the slow, noisy part "
        "done now, the timing later in a quiet window",
        group="artifacts",
    )
    cache_dir: str | None = option(
        None, help="artifact cache (default ~/.cache/dynabert-edge/artifacts)", group="artifacts"
    )
    task: str | None = option(
        None,
        help="task name to put in the records (for joining with accuracy); with --workload task, the "
        "task whose split is the query set (e.g. sst2)",
        group="output",
    )
    workload: str = option(
        "synthetic",
        help="synthetic: batch x --seq-len random ids; task: the --task split's queries (each at its "
        "own length); lengths: --lengths-file's (docs/workloads.md)",
        group=WORKLOAD,
        choices=("synthetic", "task", "lengths"),
    )
    data_dir: str | None = option(
        None, help="--workload task: the folder with the split file", group=WORKLOAD
    )
    split: str | None = option(
        None, help="--workload task: the split (default: the task's dev file)", group=WORKLOAD
    )
    max_queries: int | None = option(
        None, help="a seeded draw of this many queries (default all)", group=WORKLOAD
    )
    lengths_file: str | None = option(
        None, help="--workload lengths: one query length (tokens) per line", group=WORKLOAD
    )
    workload_seed: int = option(0, help="seed of the query order and draw", group=WORKLOAD)
    scenario: str = option(
        "singlestream",
        help="with a query set: singlestream (one query at a time; p50/p90/p99 and LoadGen's "
        "early-stopping p90) or offline (sorted by length, batched, queries/s; one cell per --batches)",
        group=WORKLOAD,
        choices=("singlestream", "offline"),
    )
    buckets: str = option(
        "",
        help="with a query set, static-shape runtimes (LiteRT): one artifact per length, e.g. "
        "16,32,64,128, each query on the smallest that fits (default: padded to --seq-len)",
        group=WORKLOAD,
    )
    batches: str = option(
        "1,2,4,8,16,32",
        help="--scenario offline: the batch sizes swept (one cell each)",
        group=WORKLOAD,
    )
    results: str = option(help="results store (JSON lines), appended to", group="output")

    def workload_config(self) -> WorkloadConfig:
        """The WorkloadConfig of the workload options (docs/workloads.md)."""
        return WorkloadConfig(
            kind=self.workload,
            task=self.task,
            data_dir=self.data_dir,
            split=self.split,
            max_queries=self.max_queries,
            lengths_file=self.lengths_file,
            seed=self.workload_seed,
            scenario=self.scenario,
            buckets=parse_ints(self.buckets, "--buckets"),
            batches=parse_ints(self.batches, "--batches"),
        )

    def config(self) -> SweepConfig:
        """The SweepConfig of these options; ValueError naming the flag for an unknown device or a bad
        list."""
        from devices import profiles

        devices = tuple(d.strip() for d in self.devices.split(",") if d.strip())
        for d in devices:
            profiles.get(d)  # a clear error naming an unknown device before anything runs
        return SweepConfig(
            models=self.model,
            results=self.results,
            runtimes=tuple(r.strip() for r in self.runtimes.split(",")),
            threads=tuple(int(t) for t in self.threads.split(",")),
            seq_len=self.seq_len,
            batch=self.batch,
            widths=parse_mults(self.widths, "widths"),
            depths=parse_mults(self.depths, "depths"),
            baselines=tuple(b for b in self.baselines.split(",") if b),
            warmup=self.warmup,
            min_runs=self.min_runs,
            min_time_s=self.min_time,
            processes=self.processes,
            export_workers=self.export_workers,
            export_only=self.export_only,
            cache=records.check_out_dir(self.cache_dir, "--cache-dir") if self.cache_dir else None,
            task=self.task,
            workload=self.workload_config(),
            devices=devices,
            subnets=tuple(read_subnets(self.subnets)) if self.subnets else (),
            subnets_source=self.subnets,
        )


def build_parser() -> argparse.ArgumentParser:
    return argfields.command_parser(
        "python -m bench.sweep",
        "Measure every (model, sub-network, runtime, threads) cell -> one record each in a results store.",
        "python -m bench.sweep --model minilm-l6 --runtimes onnxruntime,onnxruntime-int8 "
        "--threads 1 --results results.jsonl",
        SweepOptions,
    )


def config_from_argv(argv: list[str]) -> SweepConfig:
    """The SweepConfig of a `python -m bench.sweep` command line (without the program): a command declared once as
    its arguments both runs and is printed (bench.pareto's default run)."""
    opts, _ = argfields.parse(build_parser(), argv)
    return opts.config()


def main(argv: list[str] | None = None) -> int:
    opts, _ = argfields.parse(build_parser(), argv)
    try:
        cfg = opts.config()
        if not cfg.models and not cfg.baselines:
            raise ValueError("nothing to measure: give --model and/or --baselines")
        t0 = time.time()
        written = run_sweep(cfg)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    failed = [
        r for r in written if r.status == "error"
    ]  # with --export-only: the failed exports (not written); refused cells are skipped, not failed
    skipped = [r for r in written if r.status == "skipped"]
    if not cfg.export_only:
        print_summaries(
            cfg.results,
            cfg.seq_len,
            f"batch {cfg.batch}, seq {cfg.seq_len}, threads {opts.threads}, "
            f"{','.join(cfg.devices)}",
        )
        print(
            f"\n{len(written)} new records ({len(failed)} failed, {len(skipped)} skipped) in "
            f"{time.time() - t0:.0f} s -> {cfg.results}"
        )
    for r in skipped:
        print(f"  SKIPPED: {r.model_id} {r.subnet_id} {r.runtime}: {r.error}", file=sys.stderr)
    for r in failed:
        print(f"  {r.status}: {r.model_id} {r.subnet_id} {r.runtime}: {r.error}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
