"""The results store: one flat, self-describing JSON record per line, appended atomically.

It lives in dynabert/ (not bench/) because both halves write it: `dynabert evaluate` writes accuracy records,
bench writes efficiency records, and imports may only go bench -> dynabert. A crash can leave at most one
half-written last line; readers detect and skip it (and say so), and `append` starts a fresh line after it.
Must not import torch, bench or devices.
"""

from __future__ import annotations

import json
import math
import os
import sys
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path


@dataclass(frozen=True)
class Record:
    """One measurement. Field names carry their units; None means not measured (never a made-up value)."""

    kind: str  # "accuracy" | "latency"
    # identity
    subnet_id: str
    width_mult: float
    depth_mult: float
    model_id: str  # preset name, directory or hub id it came from
    checkpoint_sha: str  # content hash of the weights (first 12 hex digits)
    n_layers: int | None = None
    n_heads: int | None = None
    ffn_dim: int | None = None
    task: str | None = None
    family: str = "dynabert"  # "dynabert" | "baseline"
    # heads and FFN neurons per source layer (0 = skipped), dynabert.subnet.LayerwiseSpec.to_json(); None in records
    # written before per-layer sub-networks (then width_mult/depth_mult and subnet_id say it all)
    subnet: dict | None = None
    # artifact
    format: str | None = None  # "torch" | "onnx" | "tflite"
    precision: str | None = None  # "fp32" | "int8"
    artifact_bytes: int | None = None
    export_max_abs_err: float | None = None
    export_ok: bool | None = None
    quantization: dict | None = (
        None  # int8 settings the artifact was made with (e.g. per_channel, reduce_range)
    )
    # where
    device: str | None = None
    runtime: str | None = (
        None  # "torch" | "onnxruntime" | "onnxruntime-int8" | "litert" | "litert-int8" | ...
    )
    threads: int | None = None
    batch_size: int | None = None
    seq_len: int | None = None
    # measured
    params: int | None = None  # active parameters of the sub-network
    params_total: int | None = None
    flops: int | None = None  # dense (Linear layers), 2 x MACs, batch 1
    flops_with_attention: int | None = None
    flops_source: str | None = None
    latency_ms_p50: float | None = None
    latency_ms_p90: float | None = None
    latency_ms_p99: float | None = None
    latency_ms_mean: float | None = None
    latency_ms_std: float | None = None
    latency_cv: float | None = None
    first_inference_ms: float | None = None
    load_ms: float | None = None
    n_runs: int | None = None
    n_warmup: int | None = None
    samples_ms: list[float] | None = None
    peak_rss_mb: float | None = None
    instructions_per_inference: int | None = None
    metric_name: str | None = None
    metric_value: float | None = None
    metrics: dict | None = None
    split: str | None = None
    accuracy_source: str | None = None  # "measured" | "cited: <source>"
    # provenance
    git_sha: str | None = None
    torch_version: str | None = None
    runtime_version: str | None = None
    cpu_model: str | None = None
    timestamp_utc: str | None = None
    machine_fingerprint: str | None = (
        None  # 12 hex digits of the measuring machine's identity (devices.machine)
    )
    machine: dict | None = (
        None  # that identity: CPU, cores used, ISA features, memory, OS, runtime versions
    )
    env: dict = field(default_factory=dict)
    # outcome
    status: str = "ok"  # "ok" | "error" | "skipped"
    error: str | None = None

    def __post_init__(self) -> None:
        """Measured quantities are finite numbers in their range, never text, NaN or a negative time: ValueError
        naming the field (a store line with one is skipped by `read`, naming the line)."""
        for name, low in MEASURED_RANGES.items():
            value = getattr(self, name)
            if value is None:
                continue
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not math.isfinite(value)
            ):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
            if value < low:
                raise ValueError(f"{name} must be {'> 0' if low > 0 else '>= 0'}, got {value!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Record:
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown record fields {sorted(unknown)}")
        return cls(**d)

    @property
    def key(self) -> tuple:
        """What makes two records measurements of the same cell (for resume and de-duplication)."""
        return cell_key(
            self.kind,
            self.model_id,
            self.checkpoint_sha,
            self.subnet_id,
            self.task,
            self.split,
            self.device,
            self.runtime,
            self.threads,
            self.batch_size,
            self.seq_len,
            self.machine_fingerprint,
        )


TINY = 1e-300  # "> 0": the lower bound of a time or count that cannot be zero
MEASURED_RANGES = {
    "latency_ms_p50": TINY,
    "latency_ms_p90": TINY,
    "latency_ms_p99": TINY,
    "latency_ms_mean": TINY,
    "latency_ms_std": 0,
    "first_inference_ms": 0,
    "load_ms": 0,
    "instructions_per_inference": 1,
    "flops": 0,
    "flops_with_attention": 0,
    "params": 0,
    "params_total": 0,
    "artifact_bytes": 0,
    "threads": 1,
    "seq_len": 1,
    "batch_size": 1,
}


def cell_key(
    kind: str,
    model_id: str,
    checkpoint_sha: str,
    subnet_id: str,
    task: str | None,
    split: str | None,
    device: str | None,
    runtime: str | None,
    threads: int | None,
    batch_size: int | None,
    seq_len: int | None,
    machine_fingerprint: str | None,
) -> tuple:
    """The identity of one measured cell. The machine's fingerprint is part of it, so a store holding another
    machine's records (or records from before fingerprints existed: None) never makes a cell count as done here."""
    return (
        kind,
        model_id,
        checkpoint_sha,
        subnet_id,
        task,
        split,
        device,
        runtime,
        threads,
        batch_size,
        seq_len,
        machine_fingerprint,
    )


def append(path: str | Path, record: Record) -> None:
    """Append one record as one line with a single write + fsync; mends a half-written last line first."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(record.to_dict(), sort_keys=False) + "\n"
        with open(path, "ab") as f:
            if f.tell() > 0:
                with open(path, "rb") as r:
                    r.seek(-1, os.SEEK_END)
                    if r.read(1) != b"\n":
                        f.write(b"\n")  # a crash left a partial line: end it, readers skip it
            f.write(line.encode())
            f.flush()
            os.fsync(f.fileno())
    except OSError as err:
        raise ValueError(
            f"cannot append to the results file {str(path)!r}: {err.strerror}; "
            f"choose a writable path with --results"
        ) from None


def check_readable(path: str | Path, what: str = "results file") -> Path:
    """`path` as a Path, or ValueError with the true reason it cannot be read: a directory, or missing."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(
            f"{what} {str(path)!r} is a directory, not a file; pass the store inside it "
            f"(e.g. {(path / 'records.jsonl').as_posix()})"
        )
    if not path.is_file():
        raise ValueError(f"{what} {str(path)!r} does not exist")
    return path


def check_writable(path: str | Path, flag: str = "--results") -> None:
    """Refuse, before any work is done, a results path that cannot be appended to: a directory, a path below a
    file, no permission or a read-only file system. Tried for real and leaves nothing behind: an existing file is
    opened for appending, else a temporary file is made in the nearest existing folder (where `append` creates
    the rest)."""
    import tempfile

    path = Path(path)
    if path.is_dir():
        raise ValueError(
            f"{flag} {str(path)!r} is a directory; give a file, e.g. {(path / 'records.jsonl').as_posix()}"
        )
    above = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    if above is not None:
        raise ValueError(
            f"{flag} {str(path)!r}: {str(above)!r} is a file, not a folder; choose another path"
        )
    try:
        if path.exists():
            with open(path, "ab"):
                pass
        else:
            folder = next(p for p in path.absolute().parents if p.exists())
            with tempfile.TemporaryFile(dir=folder):
                pass
    except OSError as err:
        raise ValueError(
            f"{flag} {str(path)!r} cannot be written ({err.strerror}); choose a writable path"
        ) from None


def check_not_a_store(path: str | Path, flag: str, inputs: tuple = ()) -> None:
    """Refuse an output file (a report, a sub-networks list) that would overwrite measurements: one of `inputs`, or
    an existing file whose first line is a record. ValueError naming the flag and the file."""
    path = Path(path)
    if any(path.resolve() == Path(i).resolve() for i in inputs):
        raise ValueError(
            f"{flag} {str(path)!r} is also an input store: writing it would replace its records; "
            "give another file"
        )
    if path.is_file():
        with open(path, encoding="utf-8", errors="replace") as f:
            first = f.readline()
        try:
            d = json.loads(first)
            Record.from_dict(d)
        except (json.JSONDecodeError, TypeError, ValueError, AttributeError):
            return
        raise ValueError(
            f"{flag} {str(path)!r} is a records store: writing it would replace its measurements; "
            "give another file"
        )


def check_out_dir(path: str | Path, flag: str) -> Path:
    """`path` as a Path, or ValueError when it (or a folder above it) is a file, so an output folder flag is refused
    before any work rather than failing when the first file is written."""
    path = Path(path)
    for p in (path, *path.parents):
        if p.exists() and not p.is_dir():
            raise ValueError(
                f"{flag} {str(path)!r}: {str(p)!r} is a file, not a folder; choose a folder path"
            )
    return path


def read(path: str | Path, warn: bool = True) -> list[Record]:
    """Every complete record of a store; partial or foreign lines are skipped with a warning naming the line."""
    path = check_readable(path)
    out = []
    with open(
        path, "rb"
    ) as f:  # decoded line by line: one corrupt byte costs its line, not the store
        for n, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                line = None  # skipped below, named
            if line is not None and not line.strip():
                continue
            if not out and line is not None and line.strip() in ("[", "{"):
                raise ValueError(
                    f"{path} is a JSON document, not a records store (JSON Lines: one record object per "
                    "line, as bench.sweep and dynabert evaluate write)"
                )
            try:
                if line is None:
                    raise ValueError("bytes that are not UTF-8 text")
                d = json.loads(line)
                if not isinstance(d, dict):
                    raise ValueError(f"a JSON {type(d).__name__}, not a record object")
                out.append(Record.from_dict(d))
            except (json.JSONDecodeError, TypeError, ValueError) as err:
                if warn:
                    print(
                        f"warning: {path}:{n}: skipped a line that is not a complete record ({err})",
                        file=sys.stderr,
                    )
    return out


def done_keys(path: str | Path, since_utc: str | None = None) -> set[tuple]:
    """Keys of the finished (status ok) records, so a resumed sweep skips them; with `since_utc` (ISO 8601 UTC, as
    timestamp_utc), only those stamped after it: a sitting that must time its cells together re-measures older
    ones (and any stamped in its own first second)."""
    path = Path(path)
    if not path.is_file():
        return set()
    return {
        r.key
        for r in read(path, warn=False)
        if r.status == "ok" and (since_utc is None or (r.timestamp_utc or "") > since_utc)
    }


def provenance() -> dict:
    """git commit of this project, torch version, CPU model and a UTC timestamp, for every record."""
    import datetime
    import platform
    import subprocess

    try:
        sha = (
            subprocess.run(
                ["git", "rev-parse", "--short=12", "HEAD"],
                capture_output=True,
                text=True,
                timeout=5,
                cwd=Path(__file__).resolve().parent,
            ).stdout.strip()
            or None
        )
    except (OSError, subprocess.SubprocessError):
        sha = None
    cpu = platform.processor() or None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        from importlib.metadata import version

        torch_version = version(
            "torch"
        )  # package metadata: importing torch just for this costs seconds
    except ImportError:
        torch_version = None
    return {
        "git_sha": sha,
        "torch_version": torch_version,
        "cpu_model": cpu,
        "timestamp_utc": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


def portable_path(path: str | Path, root: Path | None = None) -> str:
    """An absolute path under `root` (default the working directory) made relative to it, one under the user's home
    shown as ~/...; anything else (relative paths, other absolute paths, non-paths) unchanged, as a string."""
    text = str(path)
    if not text.startswith("/"):
        return text
    p, root, home = Path(text).resolve(), (root or Path.cwd()).resolve(), Path.home().resolve()
    return (
        p.relative_to(root).as_posix()
        if p.is_relative_to(root)
        else "~/" + p.relative_to(home).as_posix()
        if p.is_relative_to(home)
        else text
    )
