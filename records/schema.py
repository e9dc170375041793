"""The results schema: a record is a Key (which cell), a Measurement (what was measured of it) and a Provenance
(how and where it was measured), stored flat, one JSON object per line.

Every field is declared once, in its part, with its unit in its name and its lower bound (if any) in its
metadata; a record is validated once, when it is constructed. Must not import dynabert, bench, devices or recipes
(they all import this), nor torch or a runtime.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace

TINY = 1e-300  # "> 0": the lower bound of a time that cannot be zero
KINDS = ("accuracy", "latency")
STATUSES = ("ok", "error", "skipped")


def _at_least(low: float):
    """An optional number field (None: not measured) that must be finite and >= low when given."""
    return field(default=None, metadata={"min": low})


class _Validated:
    """Checks every field by its metadata: "choices" (one of them), "min" (None, or a finite number, never text,
    bool or NaN, at or above it). ValueError naming the field."""

    def __post_init__(self) -> None:
        for f in fields(self):
            value, low, choices = (
                getattr(self, f.name),
                f.metadata.get("min"),
                f.metadata.get("choices"),
            )
            if choices and value not in choices:
                raise ValueError(f"{f.name} must be one of {', '.join(choices)}, got {value!r}")
            if low is None or value is None:
                continue
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not math.isfinite(value)
            ):
                raise ValueError(f"{f.name} must be a finite number, got {value!r}")
            if value < low:
                raise ValueError(
                    f"{f.name} must be {'> 0' if low == TINY else f'>= {low}'}, got {value!r}"
                )

    def to_dict(self) -> dict:
        """The fields as a flat dict, in declaration order (a Record's: the JSON object stored; values shared)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True, kw_only=True)
class Key(_Validated):
    """What makes two records measurements of the same cell (resume, de-duplication). The machine's fingerprint is
    part of it, so a store holding another machine's records (or records from before fingerprints: None) never
    makes a cell count as done here. Accuracy keys leave device, threads and the fingerprint None."""

    kind: str = field(metadata={"choices": KINDS})
    model_id: str  # preset name, directory or hub id it came from
    checkpoint_sha: str  # content hash of the weights (first 12 hex digits)
    subnet_id: str  # "w0.75-d0.50" or a per-layer id (dynabert.subnet)
    task: str | None = None
    split: str | None = None  # the data split an accuracy was measured on
    device: str | None = None  # a device profile name (devices/profiles)
    runtime: str | None = None  # "torch" | "onnxruntime" | "onnxruntime-int8" | "litert" | ...
    threads: int | None = _at_least(1)
    batch_size: int | None = _at_least(1)
    seq_len: int | None = _at_least(1)
    machine_fingerprint: str | None = (
        None  # 12 hex digits of the measuring machine (records.machine)
    )
    # the traffic timed (docs/workloads.md); None in records from before workloads means synthetic
    workload: str | None = None  # "synthetic" | "<name>#<hash>" of a query set (bench/workload.py)
    scenario: str | None = None  # query sets: "singlestream" (per query) | "offline" (per batch)
    shapes: str | None = None  # query sets: "dynamic" | "padded" | "bucketed" (static artifacts)
    buckets: list[int] | None = None  # static lengths the queries ran on (padded: the one length)


@dataclass(frozen=True, kw_only=True)
class Measurement(_Validated):
    """What was measured, and of what. Field names carry their units; None means not measured (never a made-up
    value); a failed or skipped cell is still a record (status, error)."""

    # the sub-network measured
    width_mult: float
    depth_mult: float
    n_layers: int | None = None
    n_heads: int | None = None
    ffn_dim: int | None = None
    family: str = "dynabert"  # "dynabert" | "baseline"
    # heads and FFN neurons per source layer (0 = skipped), dynabert.subnet.LayerwiseSpec.to_json(); None in
    # records written before per-layer sub-networks (then width_mult/depth_mult and subnet_id say it all)
    subnet: dict | None = None
    # the artifact timed
    format: str | None = None  # "torch" | "onnx" | "tflite"
    precision: str | None = None  # "fp32" | "int8"
    artifact_bytes: int | None = _at_least(0)
    export_max_abs_err: float | None = None
    export_ok: bool | None = None
    quantization: dict | None = None  # int8 settings the artifact was made with (per_channel, ...)
    # size and cost (analytic: dynabert.flops)
    params: int | None = _at_least(0)  # active parameters of the sub-network
    params_total: int | None = _at_least(0)
    flops: int | None = _at_least(0)  # dense (Linear layers), 2 x MACs, times the batch
    flops_with_attention: int | None = _at_least(0)
    flops_source: str | None = None
    # latency (bench.stats of samples_ms) and memory
    latency_ms_p50: float | None = _at_least(TINY)
    latency_ms_p90: float | None = _at_least(TINY)
    latency_ms_p99: float | None = _at_least(TINY)
    latency_ms_mean: float | None = _at_least(TINY)
    latency_ms_std: float | None = _at_least(0)
    latency_cv: float | None = None
    first_inference_ms: float | None = _at_least(0)
    load_ms: float | None = _at_least(0)
    n_runs: int | None = None
    n_warmup: int | None = None
    samples_ms: list[float] | None = None  # the raw timed runs
    peak_rss_mb: float | None = None
    instructions_per_inference: int | None = _at_least(1)  # exact, on the emulated target
    # query sets (docs/workloads.md)
    workload_info: dict | None = (
        None  # kind, name, hash, queries, seed, source, truncation_len, length stats
    )
    n_queries: int | None = _at_least(
        1
    )  # queries in the set (n_runs counts timed units: queries or batches)
    latency_ms_p90_early_stop: float | None = _at_least(TINY)  # MLPerf LoadGen's early-stopping p90
    early_stop_queries_needed: int | None = None  # queries LoadGen needs for that estimate at least
    throughput_qps: float | None = _at_least(TINY)  # queries per second over the timed passes
    # accuracy
    metric_name: str | None = None
    metric_value: float | None = None
    metrics: dict | None = None
    accuracy_source: str | None = None  # "measured" | "cited: <source>"
    # outcome
    status: str = field(default="ok", metadata={"choices": STATUSES})
    error: str | None = None


@dataclass(frozen=True, kw_only=True)
class Provenance(_Validated):
    """How and where a record was made: gathered once per run (records.provenance.this_run), the same for every
    record of that run except timestamp_utc (when the cell finished), runtime_version and env."""

    git_sha: str | None = None
    torch_version: str | None = None
    runtime_version: str | None = None
    cpu_model: str | None = None
    timestamp_utc: str | None = None  # ISO 8601, seconds
    machine: dict | None = (
        None  # records.machine.Machine.to_dict(): CPU, cores, ISA, memory, OS, runtimes
    )
    env: dict = field(
        default_factory=dict
    )  # conditions: load average, governor, runner extras, ...

    @property
    def fingerprint(self) -> str | None:
        """The machine's fingerprint (what Key.machine_fingerprint takes), None where no machine was recorded."""
        return (self.machine or {}).get("fingerprint")


PARTS = (Key, Measurement, Provenance)


def normal_key(key: Key) -> Key:
    """`key` as resume compares it: workload None (records from before workloads) is "synthetic"; buckets a tuple
    (None when empty), so the key hashes."""
    return replace(
        key, workload=key.workload or "synthetic", buckets=tuple(key.buckets or ()) or None
    )


def _part(cls, values: dict):
    return cls(**{f.name: values[f.name] for f in fields(cls) if f.name in values})


@dataclass(frozen=True, kw_only=True)
class Record(Provenance, Measurement, Key):
    """One record: every field of Key, Measurement and Provenance, flat (in that order), as stored; checked once,
    here, by each field's metadata."""

    @classmethod
    def of(cls, key: Key, measurement: Measurement, provenance: Provenance) -> Record:
        """The record made of its three parts (the constructor producers use)."""
        return cls(
            **{
                f.name: getattr(p, f.name)
                for p in (key, measurement, provenance)
                for f in fields(p)
            }
        )

    @property
    def key(self) -> Key:
        """The cell's key, comparable and hashable: a workload of None (before workloads) is "synthetic", the
        buckets a tuple."""
        return normal_key(_part(Key, self.__dict__))

    @property
    def measurement(self) -> Measurement:
        return _part(Measurement, self.__dict__)

    @property
    def provenance(self) -> Provenance:
        return _part(Provenance, self.__dict__)

    @classmethod
    def from_dict(cls, d: dict) -> Record:
        """A record from its stored object; ValueError naming unknown fields or a bad value."""
        unknown = set(d) - FIELD_NAMES
        if unknown:
            raise ValueError(f"unknown record fields {sorted(unknown)}")
        return cls(**d)


FIELD_NAMES = frozenset(f.name for f in fields(Record))


def cost_fields(cost, batch: int = 1) -> dict:
    """The Measurement fields of a sub-network's analytic cost (any object with dynabert.flops.Cost's attributes:
    width_mult, depth_mult, subnet, n_layers, n_heads, ffn_dim, params_active, params_total, flops_dense,
    flops_with_attention); FLOPs times `batch`."""
    return dict(
        width_mult=cost.width_mult,
        depth_mult=cost.depth_mult,
        subnet=cost.subnet,
        n_layers=cost.n_layers,
        n_heads=cost.n_heads,
        ffn_dim=cost.ffn_dim,
        params=cost.params_active,
        params_total=cost.params_total,
        flops=cost.flops_dense * batch,
        flops_with_attention=cost.flops_with_attention * batch,
        flops_source="analytic",
    )
