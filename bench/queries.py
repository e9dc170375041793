"""A sweep cell's query set: the workload options, the query set built once per model (before anything is exported
or timed), the static artifacts a query set runs on (padded: the export length; bucketed: one per bucket), and
the record fields such a cell adds. The sweep (bench/sweep.py) calls these; the runner does the timing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.workload import DEFAULT_BATCHES, KINDS, SCENARIOS, Workload

STATIC_RUNTIMES = (
    "litert",
    "litert-int8",
)  # static-shape artifacts: a query set runs padded or bucketed


@dataclass(frozen=True)
class WorkloadConfig:
    """What traffic the sweep times (docs/workloads.md).

    kind: "synthetic" (batch x --seq-len random ids), "task" (the `task`'s `split` in `data_dir`, tokenized by
    each model's tokenizer at its positions) or "lengths" (`lengths_file`: one query length per line, random ids);
    max_queries: a seeded draw of that many (default all); scenario: "singlestream" or "offline" (one cell per
    batch in `batches`); buckets: static lengths for static-shape runtimes (default: padded to --seq-len).
    """

    kind: str = "synthetic"
    task: str | None = None
    data_dir: str | None = None
    split: str | None = None
    max_queries: int | None = None
    lengths_file: str | None = None
    seed: int = 0
    scenario: str = "singlestream"
    buckets: tuple[int, ...] = ()
    batches: tuple[int, ...] = DEFAULT_BATCHES

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"--workload {self.kind!r}: one of {', '.join(KINDS)}")
        if self.kind == "task" and not (self.task and self.data_dir):
            raise ValueError(
                "--workload task needs --task NAME and --data-dir DIR (the folder with the split file)"
            )
        if self.kind == "lengths" and not self.lengths_file:
            raise ValueError(
                "--workload lengths needs --lengths-file FILE (one query length per line)"
            )
        if self.scenario not in SCENARIOS:
            raise ValueError(f"--scenario {self.scenario!r}: one of {', '.join(SCENARIOS)}")
        if self.kind == "synthetic" and (self.buckets or self.scenario != "singlestream"):
            raise ValueError(
                "--buckets and --scenario need a query set: add --workload task (or lengths)"
            )
        if not self.batches or any(b < 1 for b in self.batches):
            raise ValueError(f"--batches {self.batches}: give batch sizes >= 1")

    @property
    def queries(self) -> bool:
        return self.kind != "synthetic"


def build_workload(cfg: WorkloadConfig, model_name: str, limits) -> Workload | None:
    """The query set for `model_name` (None: synthetic): the split tokenized with the model's own tokenizer at its
    positions (`limits`: dynabert.limits.InputLimits), or the lengths file's queries; ValueError naming the
    missing split file, a bad length or bad buckets, before anything is exported or timed."""
    from bench.workload import check_buckets, lengths_workload, task_workload

    check_buckets(cfg.buckets, limits.max_seq_len, model_name)
    if cfg.kind == "task":
        from dynabert.data import default_split, find_file, get_task, task_dir

        spec = get_task(cfg.task)  # the split file first: named before a tokenizer is loaded
        find_file(task_dir(cfg.data_dir, spec), cfg.split or default_split(cfg.task, spec))
        tokenizer = model_tokenizer(model_name)
        return task_workload(
            cfg.task,
            cfg.data_dir,
            cfg.split,
            tokenizer,
            limits.max_seq_len,
            cfg.max_queries,
            cfg.seed,
        )
    if cfg.kind == "lengths":
        return lengths_workload(
            cfg.lengths_file, limits.vocab_size, limits.max_seq_len, cfg.max_queries, cfg.seed
        )
    return None


def model_tokenizer(model_name: str):
    """The tokenizer a model's users tokenize with: a preset's (MiniLM's vocabulary), a checkpoint's own files."""
    from dynabert.presets import PRESETS, load_tokenizer

    if model_name in PRESETS:
        return load_tokenizer(model_name)
    from dynabert.evaluate import resolve_checkpoint

    return load_tokenizer(str(resolve_checkpoint(model_name)))


def shapes_of(runtime: str, cfg: WorkloadConfig, seq_len: int) -> tuple[str, tuple[int, ...]]:
    """("dynamic", ()) for a dynamic-shape runtime; ("padded", (seq_len,)) or ("bucketed", buckets) for a static
    one."""
    if runtime not in STATIC_RUNTIMES:
        return "dynamic", ()
    return ("bucketed", cfg.buckets) if cfg.buckets else ("padded", (seq_len,))


def query_fields(workload: Workload, cfg: WorkloadConfig, runtime: str, seq_len: int) -> dict:
    """The record fields a query-set cell adds before anything runs."""
    shapes, buckets = shapes_of(runtime, cfg, seq_len)
    return {
        "workload": workload.key,
        "workload_info": workload.info(),
        "scenario": cfg.scenario,
        "shapes": shapes,
        "buckets": list(buckets) or None,
        "n_queries": len(workload.ids),
    }


def long_query(workload: Workload, buckets: tuple[int, ...], flag: str) -> str | None:
    """Why a static artifact cannot take the set: its longest query beyond the largest static length (None: fits)."""
    longest = max(workload.lengths)
    if not buckets or longest <= buckets[-1]:
        return None
    n = sum(1 for q in workload.lengths if q > buckets[-1])
    return (
        f"{n} of {len(workload.ids)} queries of {workload.name} are longer than the static artifact's "
        f"{buckets[-1]} tokens (longest {longest}); give {flag} of at least {longest}"
    )


def refused_early(cell, cfg: WorkloadConfig, seq_len: int, workload: Workload | None) -> str | None:
    """Why a query-set cell is refused before its artifact is even exported: a query longer than the static
    artifact(s) of a static-shape runtime (None: go on)."""
    if workload is None:
        return None
    buckets = shapes_of(cell.runtime, cfg, seq_len)[1]
    return long_query(workload, buckets, "--buckets" if cfg.buckets else "--seq-len")


def static_artifacts(
    artifact_for, buckets: tuple[int, ...], batch: int
) -> tuple[tuple[tuple[int, Path], ...], list[dict]]:
    """((length, path) per bucket, their metadata): `artifact_for(length, batch)` exports and checks each (like
    any other artifact); the first failed check is the caller's to record."""
    pairs, metas = [], []
    for length in buckets:
        path, meta = artifact_for(length, batch)
        pairs.append((length, path))
        metas.append({**meta, "bucket": length})
    return tuple(pairs), metas


def result_fields(extra: dict, samples_ms: list[float]) -> dict:
    """A query-set cell's measured fields from the runner's `queries` report and the (pooled) unit samples:
    queries/s over every timed pass, and for SingleStream LoadGen's early-stopping p90 (bench/early_stopping)."""
    from bench.early_stopping import early_stopping

    q = extra["queries"]
    passes = len(samples_ms) / q["units_per_pass"]
    fields = {"throughput_qps": passes * q["queries"] / (sum(samples_ms) / 1e3)}
    if q["scenario"] == "singlestream":
        stop = early_stopping(samples_ms, 0.9)
        fields.update(
            latency_ms_p90_early_stop=stop.estimate_ms,
            early_stop_queries_needed=stop.queries_needed,
        )
    return fields
