"""On-device runner: load one artifact, time it, measure this process's peak RSS, print one JSON line.

Self-contained on purpose (stdlib + numpy + onnxruntime, or ai_edge_litert falling back to tflite_runtime):
the same file is copied to SSH boards and run under emulated ARM, and it is what the local sweep runs in a
fresh process per cell. The `torch` runtime (local only) loads an extracted model directory through transformers
(the code saved beside its weights, trust_remote_code), so this file imports nothing from dynabert.

Latency methodology: `warmup` untimed runs after the first (timed apart), then rounds until both `min_runs`
and `min_time_s` are met (capped by `max_runs` / `max_time_s`); raw per-run milliseconds are returned.
Usage: python runner.py --artifact PATH --runtime onnxruntime|litert|torch [--threads 1] [--seq-len 128] ...
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time

import numpy as np

RUNTIMES = ("onnxruntime", "onnxruntime-cuda", "litert", "torch", "torch-cuda")


EXTRA: dict = {}  # per-process extras a runtime reports (h2d_ms, GPU memory); this script runs one cell per process


def rss_mb() -> float:
    """Current resident set size of this process (MB), from /proc (Linux)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mb() -> float:
    """Peak RSS of this process image (MB): VmHWM from /proc, which exec resets. Not ru_maxrss: Linux keeps it
    across fork + exec, so a runner started by a large parent would report the parent's size."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / (1024 if sys.platform == "darwin" else 1)


def make_inputs(batch: int, seq_len: int, vocab: int = 30522, seed: int = 0) -> dict:
    """Deterministic token ids with a full attention mask: latency does not depend on token values."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(1000, min(vocab, 29000), size=(batch, seq_len), dtype=np.int64)
    ids[:, 0] = 101  # [CLS]
    return {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}


def load_onnxruntime(path: str, threads: int, cuda: bool = False):
    # onnxruntime >= 1.29 on Linux starts a 1DS telemetry uploader thread, keeps an event cache on disk and
    # aggregates per-run statistics on a timer: work that is not inference and depends on the clock and on
    # earlier processes. ORT_DISABLE_TELEMETRY must be set before the runtime initialises; the API call covers
    # a process that imported onnxruntime earlier.
    os.environ["ORT_DISABLE_TELEMETRY"] = "1"
    import onnxruntime as ort

    ort.disable_telemetry_events()
    opts = ort.SessionOptions()
    if os.environ.get("DYNABERT_NO_SPIN"):  # instruction counting: no time-dependent spin-waits
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.add_session_config_entry("session.inter_op.allow_spinning", "0")
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if cuda else ["CPUExecutionProvider"]
    session = ort.InferenceSession(path, opts, providers=providers)
    if cuda and session.get_providers()[0] != "CUDAExecutionProvider":
        raise RuntimeError(f"onnxruntime has no CUDA execution provider here (providers: {session.get_providers()})")
    names = [i.name for i in session.get_inputs()]
    if not cuda:
        def run(inputs: dict) -> np.ndarray:
            return session.run(None, {n: inputs[n] for n in names})[0]

        return run, f"onnxruntime {ort.__version__}"
    bindings: dict = {}

    def run_bound(inputs: dict) -> np.ndarray:
        """IO binding: inputs copied to the GPU once (timed apart as h2d_ms), output kept on the GPU."""
        key = id(inputs)
        if key not in bindings:
            t0 = time.perf_counter()
            binding = session.io_binding()
            for n in names:
                binding.bind_ortvalue_input(n, ort.OrtValue.ortvalue_from_numpy(inputs[n], "cuda", 0))
            binding.bind_output(session.get_outputs()[0].name, "cuda")
            binding.synchronize_inputs()
            EXTRA["h2d_ms"] = (time.perf_counter() - t0) * 1e3
            bindings[key] = binding
        binding = bindings[key]
        session.run_with_iobinding(binding)
        binding.synchronize_outputs()
        return binding.get_outputs()[0]

    def run(inputs: dict):
        out = run_bound(inputs)
        return out.numpy() if hasattr(out, "numpy") else out

    return run, f"onnxruntime {ort.__version__} (CUDA EP, IO binding)"


def load_litert(path: str, threads: int):
    try:
        from ai_edge_litert.interpreter import Interpreter
        import ai_edge_litert
        version = f"ai-edge-litert {getattr(ai_edge_litert, '__version__', '?')}"
    except ImportError:
        from tflite_runtime.interpreter import Interpreter  # fallback on devices without LiteRT
        import tflite_runtime
        version = f"tflite-runtime {tflite_runtime.__version__}"
    interp = Interpreter(model_path=path, num_threads=threads)
    runner = interp.get_signature_runner()
    order = sorted(runner.get_input_details())  # args_0 = ids, args_1 = mask, args_2 = token types

    def run(inputs: dict) -> np.ndarray:
        values = (inputs["input_ids"], inputs["attention_mask"], inputs["token_type_ids"])
        out = runner(**{name: v.astype(np.int32) for name, v in zip(order, values)})
        return next(iter(out.values()))

    return run, version


def load_torch(path: str, threads: int, cuda: bool = False):
    from pathlib import Path

    import torch
    from transformers import AutoModelForSequenceClassification

    torch.set_num_threads(threads)
    device = torch.device("cuda" if cuda else "cpu")
    config = json.loads((Path(path) / "config.json").read_text()) if (Path(path) / "config.json").is_file() else {}
    if config.get("model_type") == "dynabert-pruned" and "auto_map" not in config:
        raise ValueError(f"{path} holds an extracted sub-network saved without its modeling code (an older "
                         f"extraction); extract it again (python -m dynabert extract), or delete it from the "
                         f"sweep's artifact cache so the sweep saves it again")
    # an extracted sub-network directory carries its own modeling code (config auto_map); run that code
    model = AutoModelForSequenceClassification.from_pretrained(path, trust_remote_code=True).eval().to(device)
    cached: dict = {}

    def run(inputs: dict) -> np.ndarray:
        with torch.inference_mode():
            key = id(inputs)
            if key not in cached:  # host->device copy once per input set, timed apart (extra["h2d_ms"])
                t0 = time.perf_counter()
                cached[key] = {k: torch.from_numpy(v).to(device) for k, v in inputs.items()}
                if cuda:
                    torch.cuda.synchronize()
                EXTRA["h2d_ms"] = (time.perf_counter() - t0) * 1e3
            t = cached[key]
            out = model(input_ids=t["input_ids"], attention_mask=t["attention_mask"],
                        token_type_ids=t["token_type_ids"]).logits
            if cuda:
                torch.cuda.synchronize()
            return out.cpu().numpy()

    if cuda:
        torch.cuda.reset_peak_memory_stats()
        EXTRA["memory"] = lambda: {"max_memory_allocated_mb": torch.cuda.max_memory_allocated() / 2**20,
                                   "gpu": torch.cuda.get_device_name()}
    return run, f"torch {torch.__version__}"


def load(runtime: str, path: str, threads: int):
    if runtime == "onnxruntime":
        return load_onnxruntime(path, threads)
    if runtime == "onnxruntime-cuda":
        return load_onnxruntime(path, threads, cuda=True)
    if runtime == "litert":
        return load_litert(path, threads)
    if runtime == "torch":
        return load_torch(path, threads)
    if runtime == "torch-cuda":
        return load_torch(path, threads, cuda=True)
    raise ValueError(f"unknown runtime {runtime!r}; one of {RUNTIMES}")


def measure(run, inputs: dict, warmup: int, min_runs: int, min_time_s: float, max_runs: int,
            max_time_s: float) -> tuple[float, list[float]]:
    """(first-inference ms, per-run ms after warm-up)."""
    t0 = time.perf_counter()
    run(inputs)
    first_ms = (time.perf_counter() - t0) * 1e3
    for _ in range(warmup):
        run(inputs)
    samples, start = [], time.perf_counter()
    while True:
        t0 = time.perf_counter()
        run(inputs)
        samples.append((time.perf_counter() - t0) * 1e3)
        elapsed = time.perf_counter() - start
        if len(samples) >= max_runs or elapsed >= max_time_s or len(samples) >= min_runs and elapsed >= min_time_s:
            return first_ms, samples


MARK_MAGIC = 0x1A2B3C4D


def mark(tag: int) -> None:
    """A no-op syscall (lseek on fd -1 fails with EBADF) that qemu's instruction-count plugin reports."""
    try:
        os.lseek(-1, MARK_MAGIC, tag)
    except OSError:
        pass


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="time one model artifact; prints one JSON line")
    ap.add_argument("--artifact", required=True)
    ap.add_argument("--runtime", required=True, choices=RUNTIMES)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--seq-len", type=int, default=128)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--min-runs", type=int, default=30)
    ap.add_argument("--min-time", type=float, default=2.0)
    ap.add_argument("--max-runs", type=int, default=100000)
    ap.add_argument("--max-time", type=float, default=60.0)
    ap.add_argument("--save-output", help="write the logits of the timed input to this .npy file")
    ap.add_argument("--cpus", default="", help="pin this process to these CPUs (comma-separated), e.g. 1")
    ap.add_argument("--count-runs", type=int, default=0,
                    help="emulated targets: bracket this many extra runs with instruction-count markers")
    args = ap.parse_args(argv)
    result = {"runtime": args.runtime, "threads": args.threads, "batch": args.batch, "seq_len": args.seq_len,
              "machine": platform.machine(), "python": platform.python_version()}
    try:
        if args.cpus:
            os.sched_setaffinity(0, {int(c) for c in args.cpus.split(",")})
        result["cpu_affinity"] = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
        inputs = make_inputs(args.batch, args.seq_len)
        baseline = rss_mb()
        t0 = time.perf_counter()
        run, version = load(args.runtime, args.artifact, args.threads)
        result["load_ms"] = (time.perf_counter() - t0) * 1e3
        first_ms, samples = measure(run, inputs, args.warmup, args.min_runs, args.min_time, args.max_runs,
                                    args.max_time)
        if args.count_runs:
            mark(1)
            for i in range(args.count_runs):  # each run bracketed: the plugin reports one count per run
                run(inputs)
                mark(2 + i)
            result["count_runs"] = args.count_runs
        if args.save_output:
            np.save(args.save_output, run(inputs))
        result.update(ok=True, runtime_version=version, first_inference_ms=first_ms, samples_ms=samples,
                      n_warmup=args.warmup, rss_baseline_mb=baseline, peak_rss_mb=peak_rss_mb(),
                      peak_rss_increase_mb=peak_rss_mb() - baseline)
        if "memory" in EXTRA:
            result.update(EXTRA.pop("memory")())
        result.update(EXTRA)
    except Exception as err:  # reported as a failed cell, never swallowed
        result.update(ok=False, error=f"{type(err).__name__}: {err}")
    print(json.dumps(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
