"""onnxruntime's default session against the artifact's shipped settings (bench/session_settings.py), measured
interleaved in one process: which graph each session runs, its latency, and its outputs' agreement.

Interleaving: every session is loaded first; then `rounds` rounds, each running every session `runs_per_round`
times in a rotated order, so a slow spell of a shared machine lands on all cells alike. Latency = median of all
per-run wall times of a cell (`time.perf_counter`, one `session.run`, batch 1, the runner's inputs).
"""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from devices.runner import load, make_inputs, pinned_cpus

MODES = ("default", "artifact")


@dataclass
class SessionCell:
    """One (artifact, session mode) cell: its label, what the session ran with, and its per-run ms."""

    label: str
    path: Path
    mode: str
    session_options: dict = field(default_factory=dict)
    samples_ms: list[float] = field(default_factory=list)

    @property
    def median_ms(self) -> float:
        return statistics.median(self.samples_ms)


def fused_op_counts(path: Path, mode: str, ops: tuple[str, ...] = ("SkipLayerNormalization", "LayerNormalization",
                                                                      "Attention", "MultiHeadAttention")) -> dict:
    """How many nodes of each of `ops` the graph has after onnxruntime's optimizer, as the session `mode` opens
    it (the optimized graph is written to a temporary file and counted)."""
    import tempfile

    import onnx
    import onnxruntime as ort

    from devices.runner import session_settings

    settings = session_settings(str(path), mode)
    opts = ort.SessionOptions()
    opts.graph_optimization_level = getattr(ort.GraphOptimizationLevel, settings["graph_optimization_level"])
    with tempfile.TemporaryDirectory() as tmp:
        opts.optimized_model_filepath = str(Path(tmp) / "optimized.onnx")
        kw = {"disabled_optimizers": settings["disabled_optimizers"]} if settings["disabled_optimizers"] else {}
        ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"], **kw)
        graph = onnx.load(opts.optimized_model_filepath, load_external_data=False).graph
    types = [n.op_type for n in graph.node]
    return {op: types.count(op) for op in ops}


def measure_interleaved(cells: list[SessionCell], seq_len: int, threads: int = 1, rounds: int = 15,
                        runs_per_round: int = 5, warmup: int = 5, pin: bool = True) -> dict[Path, float]:
    """Time every cell interleaved (see the module docstring), filling `samples_ms` and `session_options`.

    Returns, per artifact opened in both modes, the max-abs difference between the logits of its two sessions. Pins this process to its last `threads` CPUs when `pin` (as the runner).
    """
    from devices.inputs import read_input_spec

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
        outs.setdefault(cell.path, []).append(run(inputs))
        runs.append((run, inputs))
    for r in range(rounds):
        for i in range(len(cells)):
            k = (i + r) % len(cells)  # rotated: no cell always runs first or right after the same neighbour
            run, inputs = runs[k]
            for _ in range(runs_per_round):
                t0 = time.perf_counter()
                run(inputs)
                cells[k].samples_ms.append((time.perf_counter() - t0) * 1e3)
    return {path: float(np.abs(o[0] - o[1]).max()) for path, o in outs.items() if len(o) == 2}
