"""onnxruntime's default session against the artifact's shipped settings (bench/session_settings.py), measured
interleaved in one process: which graph each session runs, its latency, and its outputs' agreement.
VARIANTS: the plain export in the default session (before issue 18), the plain export with SkipLayerNormFusion
disabled, and the artifact as shipped (attention-fused, bench/ort_fusion.py, in its sidecar's session);
`plain_export` gives the plain file of an artifact.

Interleaving: every session is loaded first; then `rounds` rounds, each running every session `runs_per_round`
times in a rotated order, so a slow spell of a shared machine lands on all cells alike. Latency = median of all
per-run wall times of a cell (`time.perf_counter`, one `session.run`, batch 1, the runner's inputs).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from devices.inputs import read_input_spec
from devices.runner import load, make_inputs, pinned_cpus

MODES = ("default", "artifact")
# what is compared per sub-network and format: graph-session -> the session mode it is opened with
VARIANTS = {"export-default": "default", "export-noskipln": "artifact", "fused-shipped": "artifact"}


@dataclass
class SessionCell:
    """One (artifact, session mode) cell: its label, what the session ran with, and its per-run ms."""

    label: str
    path: Path
    mode: str
    session_options: dict = field(default_factory=dict)
    samples_ms: list[float] = field(default_factory=list)
    output: np.ndarray | None = None  # its logits on the timed inputs (after warm-up)

    def round_medians(self, runs_per_round: int) -> list[float]:
        """Median ms of each round (samples_ms holds `runs_per_round` runs per round, in round order)."""
        k = runs_per_round
        return [
            statistics.median(self.samples_ms[i : i + k]) for i in range(0, len(self.samples_ms), k)
        ]

    @property
    def median_ms(self) -> float:
        return statistics.median(self.samples_ms)


def fused_op_counts(
    path: Path,
    mode: str,
    ops: tuple[str, ...] = (
        "SkipLayerNormalization",
        "LayerNormalization",
        "Attention",
        "MultiHeadAttention",
        "QAttention",
        "BiasGelu",
    ),
) -> dict:
    """How many nodes of each of `ops` the graph has after onnxruntime's optimizer, as the session `mode` opens
    it (the optimized graph is written to a temporary file and counted)."""
    import onnx
    import onnxruntime as ort

    from devices.runner import session_settings

    settings = session_settings(str(path), mode)
    opts = ort.SessionOptions()
    opts.graph_optimization_level = getattr(
        ort.GraphOptimizationLevel, settings["graph_optimization_level"]
    )
    with tempfile.TemporaryDirectory() as tmp:
        opts.optimized_model_filepath = str(Path(tmp) / "optimized.onnx")
        kw = (
            {"disabled_optimizers": settings["disabled_optimizers"]}
            if settings["disabled_optimizers"]
            else {}
        )
        ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"], **kw)
        graph = onnx.load(opts.optimized_model_filepath, load_external_data=False).graph
    types = [n.op_type for n in graph.node]
    return {op: types.count(op) for op in ops}


def measure_interleaved(
    cells: list[SessionCell],
    seq_len: int,
    threads: int = 1,
    rounds: int = 15,
    runs_per_round: int = 5,
    warmup: int = 5,
    pin: bool = True,
) -> dict[Path, float]:
    """Time every cell interleaved (see the module docstring), filling `samples_ms` and `session_options`.

    Returns, per artifact opened in both modes, the max-abs difference between the logits of its two sessions.
    Each cell keeps its logits in `output`. Pins this process to its last `threads` CPUs when `pin` (as the
    runner).
    """
    if pin and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, set(pinned_cpus(threads)))
    runs, outs = [], {}
    for cell in cells:
        spec = read_input_spec(cell.path)
        extras: dict = {}
        run, _ = load("onnxruntime", str(cell.path), threads, extras=extras, session=cell.mode)
        cell.session_options = extras["session_options"]
        inputs = make_inputs(1, seq_len, spec.vocab_size, spec.type_vocab_size)
        for _ in range(warmup):
            run(inputs)
        cell.output = run(inputs)
        outs.setdefault(cell.path, []).append(cell.output)
        runs.append((run, inputs))
    for r in range(rounds):
        for i in range(len(cells)):
            k = (i + r) % len(
                cells
            )  # rotated: no cell always runs first or right after the same neighbour
            run, inputs = runs[k]
            for _ in range(runs_per_round):
                t0 = time.perf_counter()
                run(inputs)
                cells[k].samples_ms.append((time.perf_counter() - t0) * 1e3)
    return {path: float(np.abs(o[0] - o[1]).max()) for path, o in outs.items() if len(o) == 2}


def plain_export(path: Path, fmt: str, meta: dict, fp32: Path) -> Path:
    """The plain export an artifact was made from (fp32: kept beside it; int8: quantized from the fp32
    artifact's plain export `fp32` with the int8 artifact's own settings, once), with a sidecar disabling
    SkipLayerNormFusion (for *export, no SkipLN*)."""
    from bench import session_settings
    from bench.export import quantize_onnx, unfused_path

    plain = unfused_path(path)
    if fmt == "onnx-int8" and not plain.is_file():
        quantize_onnx(unfused_path(fp32), plain, meta["quantization"])
    if not plain.is_file():
        raise FileNotFoundError(
            f"{plain}: the plain export is missing; delete {path} and export again"
        )
    session_settings.write(plain)
    return plain
