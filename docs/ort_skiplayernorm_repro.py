"""Minimal reproduction (for an onnxruntime issue): one SkipLayerNormalization node, fp32, 1 x 128 x 384, one thread,
against the Add + LayerNormalization it replaces, interleaved in one process.

Needs only numpy, onnx and onnxruntime: `python docs/ort_skiplayernorm_repro.py [--seq 128 --hidden 384]`.
Prints the onnxruntime version, the CPU's model name and SIMD flags, each graph's median / min µs per run, and the
largest output difference. Results on this project's machines: docs/ort-skiplayernorm.md.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper


def model(nodes, seq: int, hidden: int, contrib: bool) -> bytes:
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.standard_normal(hidden).astype(np.float32), n) for n in ("gamma", "beta")]
    shape = [1, seq, hidden]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(n, TensorProto.FLOAT, shape)
                                           for n in ("x", "skip")],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)], inits)
    opsets = [helper.make_opsetid("", 18)] + ([helper.make_opsetid("com.microsoft", 1)] if contrib else [])
    return helper.make_model(graph, opset_imports=opsets).SerializeToString()


def sessions(seq: int, hidden: int) -> dict:
    skip_ln = model([helper.make_node("SkipLayerNormalization", ["x", "skip", "gamma", "beta"], ["y"],
                                      domain="com.microsoft", epsilon=1e-12)], seq, hidden, True)
    add_ln = model([helper.make_node("Add", ["x", "skip"], ["s"]),
                    helper.make_node("LayerNormalization", ["s", "gamma", "beta"], ["y"], axis=-1, epsilon=1e-12)],
                   seq, hidden, False)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    cpu = ["CPUExecutionProvider"]
    return {"SkipLayerNormalization (one node)": ort.InferenceSession(skip_ln, opts, providers=cpu),
            "Add + LayerNormalization, default session (fused to SkipLayerNormalization)":
                ort.InferenceSession(add_ln, opts, providers=cpu),
            "Add + LayerNormalization, disabled_optimizers=['SkipLayerNormFusion']":
                ort.InferenceSession(add_ln, opts, providers=cpu, disabled_optimizers=["SkipLayerNormFusion"])}


def cpu_line() -> str:
    try:
        text = open("/proc/cpuinfo").read()
    except OSError:
        return platform.processor()
    name = next((line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("model name")), "?")
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    simd = [f for f in flags if f.startswith(("avx", "fma", "amx")) or f in ("sse4_2", "f16c")]
    return f"{name}; SIMD flags: {' '.join(simd)}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--hidden", type=int, default=384)
    ap.add_argument("--rounds", type=int, default=40)
    ap.add_argument("--runs", type=int, default=20, help="runs per session per round")
    a = ap.parse_args()
    print(f"onnxruntime {ort.__version__}, onnx {onnx.__version__}, numpy {np.__version__}, "
          f"python {platform.python_version()}, {platform.machine()}\nCPU: {cpu_line()}")
    rng = np.random.default_rng(1)
    feeds = {n: rng.standard_normal((1, a.seq, a.hidden)).astype(np.float32) for n in ("x", "skip")}
    ss = sessions(a.seq, a.hidden)
    times = {k: [] for k in ss}
    for _ in range(a.rounds):  # interleaved: each round runs every session
        for k, s in ss.items():
            for _ in range(a.runs):
                t0 = time.perf_counter()
                s.run(None, feeds)
                times[k].append((time.perf_counter() - t0) * 1e6)
    for k, v in times.items():
        print(f"{k}: median {statistics.median(v):.1f} us, min {min(v):.1f} us ({len(v)} runs)")
    outs = [s.run(None, feeds)[0] for s in ss.values()]
    print(f"max abs output difference: {max(float(np.abs(o - outs[0]).max()) for o in outs):.2e}")


if __name__ == "__main__":
    main()
