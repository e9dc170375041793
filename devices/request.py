"""What crosses into and out of every device target: `InputSpec`, `RunRequest`, `RunResult`, and the one place the
runner's JSON line becomes a `RunResult`.

A target (devices/targets.py) takes a `RunRequest` and answers a `RunResult`; it honours every field of the
request or refuses the request by name (`RunResult.refused`), never running another shape than the one asked.
Must not import dynabert or bench.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path

from devices import runner  # the timing defaults (runner.WARMUP, ...), stated there once

ROLES = (
    "input_ids",
    "attention_mask",
    "token_type_ids",
)  # the signature every exported artifact has


@dataclass(frozen=True)
class InputSpec:
    """An artifact's inputs, read from the artifact itself (devices/inputs.py).

    names: artifact input name per role (ROLES order); dtype: "int64" | "int32"; vocab_size / type_vocab_size:
    rows of the word / token-type embedding tables (type_vocab_size 1 where the model has no token types);
    batch / seq_len: the artifact's static input shape, None where the axis is dynamic.
    """

    names: tuple[str, str, str]
    dtype: str
    vocab_size: int
    type_vocab_size: int
    batch: int | None = None
    seq_len: int | None = None

    def __post_init__(self) -> None:
        if self.vocab_size < 2 or self.type_vocab_size < 1:
            raise ValueError(
                f"vocab_size >= 2 and type_vocab_size >= 1 required; got {self.vocab_size}, "
                f"{self.type_vocab_size}"
            )

    def shape_refusal(self, batch: int, seq_len: int) -> str | None:
        """Why (batch, seq_len) cannot run on this artifact, or None."""
        for axis, want, have in (
            ("batch", batch, self.batch),
            ("sequence length", seq_len, self.seq_len),
        ):
            if have is not None and want != have:
                return (
                    f"the artifact's inputs have a static {axis} of {have}; {axis} {want} was asked "
                    f"(export one with that {axis}, or ask for {have})"
                )
        return None


@dataclass(frozen=True)
class RunRequest:
    """One measured cell, as every target takes it.

    runtime: "torch" | "onnxruntime" | "litert" (what runs the artifact); precision: "fp32" | "int8" (targets
    that map runtimes, e.g. CUDA, need it); batch x seq_len: the input shape; warm-up runs after the first
    inference (timed apart), then timed runs until both `min_runs` and `min_time_s` are reached (capped at
    `max_time_s`); pin: the measuring process is pinned to the target's last `threads` CPUs; count_runs: runs
    bracketed by instruction-count markers (emulated targets only); save_output: a local .npy for the logits;
    session (onnxruntime): "artifact" runs the graph optimizations shipped beside the artifact
    (`<artifact>.session.json`), "default" onnxruntime's default session (devices/runner.py session_settings).
    """

    artifact: Path
    runtime: str
    inputs: InputSpec
    precision: str = "fp32"
    threads: int = 1
    batch: int = 1
    seq_len: int = 128
    warmup: int = runner.WARMUP
    min_runs: int = runner.MIN_RUNS
    min_time_s: float = runner.MIN_TIME_S
    max_time_s: float = runner.MAX_TIME_S
    pin: bool = True
    count_runs: int = 0
    save_output: str | None = None
    timeout_s: float = 600.0
    session: str = "artifact"
    # a query set instead of synthetic inputs (bench/workload.py Workload.payload: {"ids", "types"} per query,
    # unpadded), sent to the runner on its stdin; None: synthetic batch x seq_len inputs
    queries: dict | None = field(default=None, compare=False, repr=False)
    scenario: str = "singlestream"  # with queries: "singlestream" | "offline" (batches of `batch`)
    # with queries, static-shape artifacts (length, path), smallest first: each query on the smallest that fits
    buckets: tuple[tuple[int, Path], ...] = ()

    def queries_json(self) -> str | None:
        """The query set as the runner reads it from stdin (None: synthetic inputs)."""
        return None if self.queries is None else json.dumps(self.queries)

    def __post_init__(self) -> None:
        if self.scenario not in ("singlestream", "offline"):
            raise ValueError(f"scenario must be 'singlestream' or 'offline', got {self.scenario!r}")
        if self.buckets and self.queries is None:
            raise ValueError("buckets (static artifacts per length) need a query set (queries)")
        if self.session not in ("artifact", "default"):
            raise ValueError(f"session must be 'artifact' or 'default', got {self.session!r}")
        if self.batch < 1 or self.seq_len < 2 or self.threads < 1:
            raise ValueError(
                f"batch >= 1, seq_len >= 2 and threads >= 1 required; got {self.batch}, "
                f"{self.seq_len}, {self.threads}"
            )

    def runner_args(
        self,
        runtime: str | None = None,
        artifact: str | None = None,
        buckets: dict[int, str] | None = None,
    ) -> list[str]:
        """The runner's command-line arguments for this request (the runtime and artifact paths may be the
        target's own, e.g. `torch-cuda` or paths on a board); with a query set, the runner reads it on stdin."""
        args = [
            "--artifact",
            artifact or str(self.artifact),
            "--runtime",
            runtime or self.runtime,
            "--threads",
            str(self.threads),
            "--batch",
            str(self.batch),
            "--seq-len",
            str(self.seq_len),
            "--vocab-size",
            str(self.inputs.vocab_size),
            "--type-vocab-size",
            str(self.inputs.type_vocab_size),
            "--warmup",
            str(self.warmup),
            "--min-runs",
            str(self.min_runs),
            "--min-time",
            str(self.min_time_s),
            "--max-time",
            str(self.max_time_s),
        ]
        if self.session != "artifact":
            args += ["--session", self.session]
        if self.pin:
            args.append("--pin")
        if self.count_runs:
            args += ["--count-runs", str(self.count_runs)]
        if self.queries is not None:
            args += ["--queries", "-", "--scenario", self.scenario]
            for length, path in self.buckets:
                args += ["--bucket", f"{length}={(buckets or {}).get(length, path)}"]
        return args


@dataclass
class RunResult:
    """What a target measured, in the units a record takes. ok=False: `error` says why; refused=True: the target
    declined the request before running anything (the sweep records it as skipped)."""

    ok: bool
    error: str | None = None
    refused: bool = False
    runtime_version: str | None = None
    machine: str | None = None  # platform.machine() where it ran
    batch: int | None = None  # the shape it ran, as the runner reports it
    seq_len: int | None = None
    output_shape: list[int] | None = None
    samples_ms: list[float] | None = None  # raw timed runs
    load_ms: float | None = None
    first_inference_ms: float | None = None
    n_warmup: int | None = None
    peak_rss_increase_mb: float | None = None
    instructions_per_inference: int | None = None
    instructions_per_run: list[int] | None = None
    aggregates: dict | None = (
        None  # a tool's own statistics where it keeps no raw samples (benchmark_model)
    )
    extra: dict = field(
        default_factory=dict
    )  # goes to the record's env: affinity, GPU memory, emulation, ...

    @classmethod
    def failed(cls, error: str) -> RunResult:
        return cls(ok=False, error=error)

    @classmethod
    def refuse(cls, why: str) -> RunResult:
        return cls(ok=False, error=why, refused=True)


RUNNER_EXTRA = (
    "session_options",
    "cpu_affinity",
    "h2d_ms",
    "max_memory_allocated_mb",
    "gpu_memory_mb",
    "gpu_memory_source",
    "gpu",
    "gpu_index",
    "tf32",
    "count_runs",
    "queries",
)


def from_runner_output(
    stdout: str, stderr: str = "", returncode: int | None = None, where: str = "runner"
) -> RunResult:
    """The runner's last JSON line as a RunResult (the only place it is parsed); a missing line is a failure that
    quotes the end of stderr."""
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    if not lines:
        return RunResult.failed(
            f"{where} exited {returncode} without a result: {stderr.strip()[-500:]}"
        )
    out = json.loads(lines[-1])
    if not out.get("ok"):
        return RunResult.failed(out.get("error") or f"{where} failed without a message")
    own = {f.name for f in fields(RunResult)}
    result = RunResult(
        ok=True,
        **{
            k: out[k]
            for k in (
                "runtime_version",
                "machine",
                "batch",
                "seq_len",
                "output_shape",
                "samples_ms",
                "load_ms",
                "first_inference_ms",
                "n_warmup",
                "peak_rss_increase_mb",
            )
            if k in out and k in own
        },
    )
    result.extra = {k: out[k] for k in RUNNER_EXTRA if k in out}
    return result


def refusal(request: RunRequest, *, counting: bool = False, saving: bool = True) -> str | None:
    """Why a target cannot honour `request` as asked (None if it can): the artifact's static shape, instruction
    counting where there is no counter, saving the output where it cannot be brought back."""
    shape = (
        request.inputs.shape_refusal(request.batch, request.seq_len)
        if request.queries is None
        else query_refusal(request)
    )
    if shape:
        return shape
    if request.count_runs and not counting:
        return "instruction counting (count_runs) needs the emulated target (qemu-arm)"
    if request.save_output and not saving:
        return "this target cannot bring the output back (save_output)"
    return None


def query_refusal(request: RunRequest) -> str | None:
    """Why a query set cannot run on the request's artifacts (None if it can): a static-shape artifact without
    buckets, a bucket's static batch that is not the request's, a query longer than the largest bucket."""
    if request.inputs.seq_len is not None and not request.buckets:
        return (
            f"the artifact has a static sequence length of {request.inputs.seq_len}: a query set runs on it "
            f"as buckets (each query padded to the smallest that fits)"
        )
    if request.inputs.batch is not None and request.inputs.batch != (
        request.batch if request.scenario == "offline" else 1
    ):
        want = request.batch if request.scenario == "offline" else 1
        return (
            f"the artifact's inputs have a static batch of {request.inputs.batch}; {request.scenario} "
            f"needs batch {want} (export one with --batch {want})"
        )
    longest = max((len(q) for q in request.queries["ids"]), default=0)
    if request.buckets and longest > request.buckets[-1][0]:
        return (
            f"a query of {longest} tokens is longer than the largest static artifact "
            f"({request.buckets[-1][0]} tokens); export a longer one (--seq-len or --buckets)"
        )
    return None
