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

    def __post_init__(self) -> None:
        if self.session not in ("artifact", "default"):
            raise ValueError(f"session must be 'artifact' or 'default', got {self.session!r}")
        if self.batch < 1 or self.seq_len < 2 or self.threads < 1:
            raise ValueError(
                f"batch >= 1, seq_len >= 2 and threads >= 1 required; got {self.batch}, "
                f"{self.seq_len}, {self.threads}"
            )

    def runner_args(self, runtime: str | None = None, artifact: str | None = None) -> list[str]:
        """The runner's command-line arguments for this request (the runtime and artifact path may be the
        target's own, e.g. `torch-cuda` or a path on a board)."""
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
    shape = request.inputs.shape_refusal(request.batch, request.seq_len)
    if shape:
        return shape
    if request.count_runs and not counting:
        return "instruction counting (count_runs) needs the emulated target (qemu-arm)"
    if request.save_output and not saving:
        return "this target cannot bring the output back (save_output)"
    return None
