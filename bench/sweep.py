"""The sweep: every (model, sub-network, runtime, threads) cell -> export (cached, checked) -> fresh-process run ->
one record appended to the results store. Finished cells are skipped on a re-run, so a killed sweep resumes;
a failed cell is still a record (status "error").

`python -m bench.sweep --model MODEL_OR_CHECKPOINT --runtimes torch,onnxruntime,... --threads 1 --seq-len 128
 --results FILE [--widths ... --depths ...] [--baselines]`
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from dynabert import records
from dynabert.config import DEFAULT_DEPTHS, DEFAULT_WIDTHS, SubnetSpec, default_grid, parse_mults

RUNTIMES: dict[str, tuple[str, str, str]] = {  # name -> (artifact format, runner runtime, precision)
    "torch": ("torch", "torch", "fp32"),
    "onnxruntime": ("onnx", "onnxruntime", "fp32"),
    "onnxruntime-int8": ("onnx-int8", "onnxruntime", "int8"),
    "litert": ("tflite", "litert", "fp32"),
    "litert-int8": ("tflite-int8", "litert", "int8"),
}
BASELINES = ("tinybert-4l-312d", "tinybert-6l-768d", "distilbert-6l-768d", "bert-base")


@dataclass
class SweepConfig:
    models: list[str]
    results: str
    runtimes: tuple[str, ...] = tuple(RUNTIMES)
    threads: tuple[int, ...] = (1,)
    seq_len: int = 128
    batch: int = 1
    widths: tuple[float, ...] = DEFAULT_WIDTHS
    depths: tuple[float, ...] = DEFAULT_DEPTHS
    baselines: tuple[str, ...] = ()
    warmup: int = 10
    min_runs: int = 30
    min_time_s: float = 2.0
    cache: Path | None = None
    devices: tuple[str, ...] = ("local-cpu",)
    task: str | None = None
    processes: int = 1  # fresh processes per cell, interleaved across cells (emulated targets: always 1)

    def __post_init__(self) -> None:
        unknown = [r for r in self.runtimes if r not in RUNTIMES]
        if unknown:
            raise ValueError(f"unknown runtime(s) {unknown}; choose from {', '.join(RUNTIMES)}")
        if self.processes < 1:
            raise ValueError(f"processes must be >= 1, got {self.processes}")
        if self.seq_len < 2 or self.batch < 1 or any(t < 1 for t in self.threads):
            raise ValueError(f"seq_len >= 2, batch >= 1 and threads >= 1 required; got {self.seq_len}, "
                             f"{self.batch}, {self.threads}")


@dataclass
class Cell:
    model_id: str
    family: str
    spec: SubnetSpec
    runtime: str
    threads: int
    device: str = "local-cpu"


@dataclass
class LoadedModel:
    """A model loaded once per sweep, with its hash; sub-networks extracted on demand."""

    name: str
    dyna: object
    sha: str
    extracted: dict = field(default_factory=dict)

    def sub(self, spec: SubnetSpec):
        from dynabert.extract import extract

        if spec not in self.extracted:
            self.extracted = {spec: extract(self.dyna, spec)}  # keep one: BERT-base copies are large
        return self.extracted[spec]


def load(name: str) -> LoadedModel:
    from dynabert.evaluate import weights_sha
    from dynabert.model import DynaBert
    from dynabert.presets import PRESETS, load_model
    from dynabert.train_cli import resolve_checkpoint

    path = name if name in PRESETS else str(resolve_checkpoint(name))
    hf = load_model(path)
    if hf.config.model_type == "dynabert-pruned":
        raise ValueError(f"{name!r} is an extracted sub-network; sweep the checkpoint it came from "
                         f"(or use python -m bench.export on it)")
    return LoadedModel(name, DynaBert(hf), weights_sha(hf))


def torch_artifact(model: LoadedModel, spec: SubnetSpec, cache: Path) -> tuple[Path, dict]:
    """The extracted model saved with save_pretrained (what the torch runtime loads)."""
    path = cache / model.sha / spec.subnet_id / "torch"
    if not (path / "config.json").is_file():
        tmp = path.with_name("torch.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        model.sub(spec).save_pretrained(tmp)
        shutil.rmtree(path, ignore_errors=True)
        tmp.rename(path)
    size = sum(f.stat().st_size for f in path.glob("*.safetensors"))
    return path, {"ok": True, "max_abs_err": 0.0, "bytes": size}


def artifact_for(cfg: SweepConfig, model: LoadedModel, cell: Cell) -> tuple[Path, dict]:
    """The cell's checked artifact; the sub-network is only extracted when the artifact must be exported."""
    from bench.export import default_cache, ensure_artifact

    fmt = RUNTIMES[cell.runtime][0]
    cache = cfg.cache or default_cache()
    if fmt == "torch":
        return torch_artifact(model, cell.spec, cache)
    return ensure_artifact(lambda: model.sub(cell.spec), model.sha, cell.spec.subnet_id, fmt, cfg.seq_len, cache)


def prepare_cell(cfg: SweepConfig, model: LoadedModel, cell: Cell, prov: dict, env: dict):
    """(record fields, artifact path, runner runtime), or the cell's skipped/error record."""
    from devices.local import available
    from dynabert.flops import cost

    fmt, runner_runtime, precision = RUNTIMES[cell.runtime]
    c = cost(model.dyna.full_size, cell.spec, cfg.seq_len)
    base = dict(kind="latency", subnet_id=cell.spec.subnet_id, width_mult=cell.spec.width_mult,
                depth_mult=cell.spec.depth_mult, model_id=model.name, checkpoint_sha=model.sha, n_layers=c.n_layers,
                n_heads=c.n_heads, ffn_dim=c.ffn_dim, task=cfg.task, family=cell.family, format=fmt.split("-")[0],
                precision=precision, device=cell.device, runtime=cell.runtime, threads=cell.threads,
                batch_size=cfg.batch, seq_len=cfg.seq_len, params=c.params_active, params_total=c.params_total,
                flops=c.flops_dense * cfg.batch, flops_with_attention=c.flops_with_attention * cfg.batch,
                flops_source="analytic", env=env, **prov)
    ok, why = available(runner_runtime)
    if not ok:
        return records.Record(**base, status="skipped", error=why)
    try:
        path, meta = artifact_for(cfg, model, cell)
    except Exception as err:  # an export failure is a failed cell, recorded
        return records.Record(**base, status="error", error=f"export failed: {type(err).__name__}: {err}")
    base.update(artifact_bytes=meta.get("bytes"), export_max_abs_err=meta.get("max_abs_err"), export_ok=meta["ok"],
                quantization=meta.get("quantization"))
    if not meta["ok"]:
        return records.Record(**base, status="error", error=f"artifact failed its numerics check: max abs err "
                              f"{meta.get('max_abs_err')} > tolerance {meta.get('tolerance')} {meta.get('error', '')}")
    return base, path, runner_runtime


def pool(outs: list[dict]) -> dict:
    """One runner result from several processes: timed runs pooled; per-process medians kept for the spread."""
    if len(outs) == 1 or "samples_ms" not in outs[0] or "instructions_per_inference" in outs[0]:
        return outs[0]
    import statistics

    pooled = dict(outs[0])
    pooled["samples_ms"] = [s for o in outs for s in o["samples_ms"]]
    pooled["process_medians_ms"] = [statistics.median(o["samples_ms"]) for o in outs]
    for key in ("load_ms", "first_inference_ms"):
        values = [o[key] for o in outs if o.get(key) is not None]
        pooled[key] = statistics.median(values) if values else None
    rss = [o["peak_rss_increase_mb"] for o in outs if o.get("peak_rss_increase_mb") is not None]
    pooled["peak_rss_increase_mb"] = max(rss) if rss else None
    return pooled


def finish_cell(base: dict, cell: Cell, outs: list[dict]) -> records.Record:
    """The record of a cell from its processes' runner results (any failure makes it an error record)."""
    failed = [o for o in outs if not o.get("ok")]
    if failed:
        return records.Record(**base, status="error", error=failed[0].get("error"))
    out = pool(outs)
    fields = result_fields(out)
    env = {**base["env"], **fields.pop("env_extra", {})}
    if out.get("machine") and out["machine"] != env.get("machine"):  # ran elsewhere (board, emulator)
        fields["cpu_model"] = (f"emulated {out['machine']} (qemu-user -cpu {env.get('cpu')}) on {base['cpu_model']}"
                               if "emulated_wall_ms_p50" in env else f"{out['machine']} ({cell.device})")
    return records.Record(**{**base, **fields, "env": env})


def run_on_device(cfg: SweepConfig, cell: Cell, path: Path, runner_runtime: str) -> dict:
    """The runner's result from wherever the cell's device is."""
    from devices import profiles

    profile = profiles.get(cell.device)
    kind = profile["kind"]
    if kind == "local-cpu":
        from devices.local import run_fresh
        return run_fresh(path, runner_runtime, cell.threads, cfg.seq_len, cfg.batch, cfg.warmup, cfg.min_runs,
                         cfg.min_time_s)
    if kind == "cuda":
        from devices.local import run_fresh
        return run_fresh(path, runner_runtime + "-cuda", cell.threads, cfg.seq_len, cfg.batch, cfg.warmup,
                         cfg.min_runs, cfg.min_time_s)
    if kind == "qemu-arm":
        from devices.qemu_arm import run as qemu_run
        out = qemu_run(path, cell.runtime, cell.threads, cfg.seq_len, cpu=profile.get("cpu", "neoverse-n1"),
                       save_output=str(path) + ".arm-out.npy")
        if out.get("ok"):
            out["arm_vs_x86_max_abs_diff"] = compare_with_x86(path, runner_runtime, cfg.seq_len,
                                                              Path(str(path) + ".arm-out.npy"))
        return out
    if kind == "ssh":
        from devices.ssh import Unreachable, run as ssh_run
        try:
            return ssh_run(profile, path, cell.runtime, cell.threads, cfg.seq_len, cfg.warmup, cfg.min_runs,
                           cfg.min_time_s)
        except (Unreachable, RuntimeError) as err:
            return {"ok": False, "error": str(err)}
    if kind == "adb":
        from devices.adb import run as adb_run
        try:
            return adb_run(profile, path, cell.threads, cfg.warmup, cfg.min_runs)
        except RuntimeError as err:
            return {"ok": False, "error": str(err)}
    return {"ok": False, "error": f"device kind {kind!r} cannot run cells"}


def compare_with_x86(path: Path, runtime: str, seq_len: int, arm_out: Path) -> float:
    """Max abs difference between the emulated aarch64 logits and this machine's, same artifact and inputs."""
    import numpy as np

    from devices.runner import load, make_inputs

    run, _ = load(runtime, str(path), 1)
    return float(np.abs(np.load(arm_out) - run(make_inputs(1, seq_len))).max())


def result_fields(out: dict) -> dict:
    """Record fields from a runner result: statistics of raw samples, or a tool's own aggregates, or emulated."""
    from bench.stats import summarize

    fields = {"runtime_version": out.get("runtime_version"), "load_ms": out.get("load_ms"),
              "first_inference_ms": out.get("first_inference_ms"), "n_warmup": out.get("n_warmup")}
    if "instructions_per_inference" in out:  # emulated: exact instruction count; wall time kept apart, not latency
        stats = summarize(out["samples_ms"])
        fields.update(instructions_per_inference=out["instructions_per_inference"], load_ms=None,
                      first_inference_ms=None, env_extra={
                          "emulated_wall_ms_p50": stats["latency_ms_p50"], "emulated_runs": stats["n_runs"],
                          "arm_vs_x86_max_abs_diff": out.get("arm_vs_x86_max_abs_diff"), **out["emulated"]})
        return fields
    if "samples_ms" in out:
        stats = summarize(out["samples_ms"])
        stats.pop("latency_ms_min")
        fields.update(stats, samples_ms=out["samples_ms"], peak_rss_mb=out.get("peak_rss_increase_mb"))
        for key in ("h2d_ms", "max_memory_allocated_mb", "gpu", "cpu_affinity", "process_medians_ms"):
            if key in out:
                fields.setdefault("env_extra", {})[key] = out[key]
        return fields
    fields.update({k: out.get(k) for k in ("latency_ms_p50", "latency_ms_mean", "latency_ms_std", "n_runs",
                                           "peak_rss_mb")})
    fields["env_extra"] = {"p5_ms": out.get("latency_ms_p5"), "p95_ms": out.get("latency_ms_p95"),
                           "source": "benchmark_model aggregates (no raw samples, no p90/p99)"}
    return fields


def plan_cells(cfg: SweepConfig) -> list[Cell]:
    grid = default_grid(cfg.widths, cfg.depths)
    cells = []
    for device in cfg.devices:
        cells += [Cell(m, "dynabert", s, r, t, device) for m in cfg.models for s in grid for r in cfg.runtimes
                  for t in cfg.threads]
        cells += [Cell(b, "baseline", SubnetSpec(), r, t, device) for b in cfg.baselines for r in cfg.runtimes
                  for t in cfg.threads]
    return cells


def run_sweep(cfg: SweepConfig) -> list[records.Record]:
    """Measure every cell not already in the store; returns the records written by this run."""
    from tqdm.auto import tqdm

    from devices.local import cpu_info

    done = records.done_keys(cfg.results)
    prov, env = {**records.provenance(), **machine_fields()}, cpu_info()
    prov.pop("cpu_model")
    env_cpu = env.pop("cpu_model")
    loaded: dict = {}

    def model_of(cell: Cell) -> LoadedModel:
        if cell.model_id not in loaded:
            loaded.clear()  # one model in memory at a time
            loaded[cell.model_id] = load(cell.model_id)
        return loaded[cell.model_id]

    # phase 1: plan and export every pending cell (prepare_cell exports what the cache lacks), so no export
    # (torch threads, hundreds of MB written) runs beside a timed process; then flush the written files, so their
    # write-back does not either
    pending, ready = [], []
    for cell in tqdm(plan_cells(cfg), desc="export", unit="cell"):
        model = model_of(cell)
        if records.cell_key("latency", model.name, model.sha, cell.spec.subnet_id, cfg.task, None, cell.device,
                            cell.runtime, cell.threads, cfg.batch, cfg.seq_len, prov["machine_fingerprint"]) in done:
            continue
        pending.append(cell)
        ready.append(prepare_cell(cfg, model, cell, {**prov, "cpu_model": env_cpu}, env))
    if pending and hasattr(os, "sync"):
        os.sync()
    # phase 2: with processes > 1, round r of every cell runs before round r + 1 of any, so a slow spell of the
    # machine lands on one process of several cells rather than on every process of one cell
    rounds = [1 if isinstance(rd, records.Record) or profiles_kind(c.device) == "qemu-arm" else cfg.processes
              for c, rd in zip(pending, ready)]
    outs: list[list[dict]] = [[] for _ in pending]
    written = []
    bar = tqdm(total=sum(rounds), desc="measure", unit="run")
    for r in range(max(rounds, default=0)):
        for i, cell in enumerate(pending):
            if r >= rounds[i]:
                continue
            bar.update(1)
            if isinstance(ready[i], records.Record):
                rec = ready[i]
            else:
                base, path, runner_runtime = ready[i]
                bar.set_postfix_str(f"{cell.model_id} {cell.spec.subnet_id} {cell.runtime} t{cell.threads}")
                outs[i].append(run_on_device(cfg, cell, path, runner_runtime))
                if outs[i][-1].get("ok") and len(outs[i]) < rounds[i]:
                    continue
                rounds[i] = len(outs[i])  # done (all rounds, or a failed process)
                rec = finish_cell(base, cell, outs[i])
            records.append(cfg.results, rec)
            written.append(rec)
    bar.close()
    return written


def machine_fields() -> dict:
    """The measuring machine's identity for every record (and the cell key): its fingerprint and description."""
    from devices.machine import this_machine

    m = this_machine()
    return {"machine_fingerprint": m.fingerprint, "machine": m.to_dict()}


def profiles_kind(device: str) -> str:
    from devices import profiles

    return profiles.get(device)["kind"]


def summary_table(path: str | Path, seq_len: int | None = None, value: str = "latency_ms_p50"):
    """`value` (median latency in ms, or instructions per inference) by sub-network x runtime (pandas)."""
    import pandas as pd

    rows = [r.to_dict() for r in records.read(path) if r.kind == "latency" and r.status == "ok"]
    df = pd.DataFrame(rows)
    if seq_len and not df.empty:
        df = df[df.seq_len == seq_len]
    if df.empty or df[value].isna().all():
        return None
    df = df[df[value].notna()]
    df["cell"] = df.model_id.where(df.family == "baseline", df.subnet_id)
    return df.pivot_table(index="cell", columns="runtime", values=value, aggfunc="last", sort=False)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.sweep", description=__doc__.splitlines()[0])
    ap.add_argument("--model", action="append", default=[], help="preset, checkpoint or training output (repeatable)")
    ap.add_argument("--runtimes", default=",".join(RUNTIMES), help=f"comma-separated: {', '.join(RUNTIMES)}")
    ap.add_argument("--threads", default="1", help="comma-separated thread counts")
    ap.add_argument("--seq-len", type=int, default=128)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--widths", default=",".join(map(str, DEFAULT_WIDTHS)))
    ap.add_argument("--depths", default=",".join(map(str, DEFAULT_DEPTHS)))
    ap.add_argument("--baselines", nargs="?", const=",".join(BASELINES), default="",
                    help=f"also measure baseline presets (default set: {', '.join(BASELINES)})")
    ap.add_argument("--devices", default="local-cpu",
                    help="comma-separated device profiles (python -m devices list): local-cpu, qemu-arm, cuda, ...")
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--min-runs", type=int, default=30)
    ap.add_argument("--min-time", type=float, default=2.0, help="seconds of timed runs per cell, at least")
    ap.add_argument("--processes", type=int, default=1,
                    help="fresh processes per cell, interleaved across cells; their timed runs are pooled and "
                         "each process's median is kept (env.process_medians_ms)")
    ap.add_argument("--cache-dir", help="artifact cache (default ~/.cache/dynabert-edge/artifacts)")
    ap.add_argument("--task", help="task name to put in the records (for joining with accuracy)")
    ap.add_argument("--results", required=True, help="results store (JSON lines), appended to")
    args = ap.parse_args(argv)
    try:
        from devices import profiles
        devices = tuple(d.strip() for d in args.devices.split(",") if d.strip())
        for d in devices:
            profiles.get(d)  # a clear error naming an unknown device before anything runs
        cfg = SweepConfig(
            models=args.model, results=args.results, runtimes=tuple(r.strip() for r in args.runtimes.split(",")),
            threads=tuple(int(t) for t in args.threads.split(",")), seq_len=args.seq_len, batch=args.batch,
            widths=parse_mults(args.widths, "widths"), depths=parse_mults(args.depths, "depths"),
            baselines=tuple(b for b in args.baselines.split(",") if b), warmup=args.warmup,
            min_runs=args.min_runs, min_time_s=args.min_time, processes=args.processes,
            cache=Path(args.cache_dir) if args.cache_dir else None, task=args.task, devices=devices)
        if not cfg.models and not cfg.baselines:
            raise ValueError("nothing to measure: give --model and/or --baselines")
        t0 = time.time()
        written = run_sweep(cfg)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    failed = [r for r in written if r.status != "ok"]
    where = f"batch {cfg.batch}, seq {cfg.seq_len}, threads {args.threads}, {','.join(cfg.devices)}"
    table = summary_table(cfg.results, cfg.seq_len)
    if table is not None:
        print(f"\nmedian latency (ms), {where}:")
        print(table.to_string(float_format=lambda v: f"{v:.2f}"))
    counts = summary_table(cfg.results, cfg.seq_len, "instructions_per_inference")
    if counts is not None:
        print(f"\nemulated guest instructions per inference (millions; not time), {where}:")
        print((counts / 1e6).to_string(float_format=lambda v: f"{v:.2f}"))
    print(f"\n{len(written)} new records ({len(failed)} failed) in {time.time() - t0:.0f} s -> {cfg.results}")
    for r in failed:
        print(f"  {r.status}: {r.model_id} {r.subnet_id} {r.runtime}: {r.error}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
