"""On-device runner: load one artifact, time it, measure this process's peak RSS, print one JSON line.

Self-contained on purpose (stdlib + numpy + onnxruntime, or ai_edge_litert falling back to tflite_runtime):
the same file is copied to SSH boards and run under emulated ARM, and it is what the local and CUDA targets run
in a fresh process per cell. The `torch` runtime (local only) loads an extracted model directory through
transformers (the code saved beside its weights, trust_remote_code), so this file imports nothing from dynabert.
Its JSON line is parsed in one place only: devices/request.py `from_runner_output`.

Inputs: token ids drawn from the model's own vocabulary (`--vocab-size`), token types from its own type
vocabulary (`--type-vocab-size`), a full attention mask; the values do not change the work, only their range
must be valid. Latency methodology: `warmup` untimed runs after the first (timed apart), then rounds until both
`min_runs` and `min_time_s` are met (capped by `max_runs` / `max_time_s`); raw per-run milliseconds are returned.
onnxruntime sessions take the graph optimizations shipped beside the artifact (`<artifact>.session.json`, see
session_settings) unless `--session default`; the result's `session_options` names what the session ran with.
Usage: python runner.py --artifact PATH --runtime onnxruntime|litert|torch --vocab-size N --type-vocab-size M ...
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time

import numpy as np

RUNTIMES = ("onnxruntime", "onnxruntime-cuda", "litert", "torch", "torch-cuda")
ORT_GPU_INSTALL = "pip uninstall -y onnxruntime && pip install onnxruntime-gpu"
TORCH_GPU_INSTALL = "pip install torch --index-url https://download.pytorch.org/whl/cu128"
# The timing defaults, stated here only: devices/request.py RunRequest and bench.sweep take them from these names
# (this file is shipped alone, so it cannot take them from anywhere else).
WARMUP, MIN_RUNS, MIN_TIME_S, MAX_RUNS, MAX_TIME_S = 10, 30, 2.0, 100000, 60.0


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
    return (
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        / 1024
        / (1024 if sys.platform == "darwin" else 1)
    )


def token_id_range(vocab_size: int) -> tuple[int, int]:
    """[low, high) of the token ids every input maker draws: inside the model's vocabulary, past the first 1,000
    ids (BERT's [PAD]/[unused]/special pieces) and below 29,000 where the vocabulary is that large."""
    if vocab_size < 2:
        raise ValueError(f"vocab_size must be >= 2, got {vocab_size}")
    return min(1000, vocab_size // 2), min(vocab_size, 29000)


def make_inputs(
    batch: int, seq_len: int, vocab_size: int, type_vocab_size: int, seed: int = 0
) -> dict:
    """Deterministic (batch, seq_len) int64 inputs: ids from the model's vocabulary ([CLS] = 101 first where the
    vocabulary has it), token types from its type vocabulary, a full attention mask."""
    rng = np.random.default_rng(seed)
    low, high = token_id_range(vocab_size)
    ids = rng.integers(low, high, size=(batch, seq_len), dtype=np.int64)
    if vocab_size > 101:
        ids[:, 0] = 101  # [CLS]
    types = rng.integers(0, max(1, type_vocab_size), size=(batch, seq_len), dtype=np.int64)
    return {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": types}


def gpu_process_memory_mb(index: int) -> tuple[float | None, str]:
    """GPU memory held by this process on GPU `index` (MB) and where the figure came from: NVML (pynvml) where
    installed, else nvidia-smi; (None, why) where neither answers."""
    pid = os.getpid()
    try:
        import pynvml

        pynvml.nvmlInit()
        handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        used = [
            p.usedGpuMemory
            for p in pynvml.nvmlDeviceGetComputeRunningProcesses(handle)
            if p.pid == pid
        ]
        return (used[0] / 2**20 if used and used[0] is not None else None), "NVML, this process"
    except ImportError:
        pass
    except (
        Exception
    ) as err:  # NVML present but unusable (e.g. in a container): say so in the record
        return None, f"NVML failed: {type(err).__name__}: {err}"
    if shutil.which("nvidia-smi") is None:
        return None, "neither pynvml (pip install nvidia-ml-py) nor nvidia-smi found"
    out = subprocess.run(
        [
            "nvidia-smi",
            "-i",
            str(index),
            "--query-compute-apps=pid,used_memory",
            "--format=csv,noheader,nounits",
        ],
        capture_output=True,
        text=True,
    ).stdout
    used = [
        float(line.split(",")[1])
        for line in out.splitlines()
        if line.split(",")[0].strip() == str(pid)
    ]
    return (used[0] if used else None), "nvidia-smi, this process"


SESSION_SUFFIX = ".session.json"
SESSION_MODES = ("artifact", "default")
OPT_LEVELS = (
    "ORT_DISABLE_ALL",
    "ORT_ENABLE_BASIC",
    "ORT_ENABLE_EXTENDED",
    "ORT_ENABLE_LAYOUT",
    "ORT_ENABLE_ALL",
)


# Graph optimizer names onnxruntime's `disabled_optimizers` takes (it ignores a name it does not know, silently):
# the transformers its CPU session reports at log level 0 ("Applying graph transformer NAME"), the rewrite rules
# and transformers named in its library, onnxruntime 1.32. A sidecar naming another one is refused (a typo would
# otherwise leave the optimizer on without a word); a name a later onnxruntime adds belongs in this list.
ORT_OPTIMIZERS = frozenset(
    """
AttentionFusion Avx2WeightS8ToU8Transformer BiasDropoutFusion BiasGeluFusion BiasSkipLayerNormFusion BiasSoftmaxFusion
CastChainElimination CastElimination CastFloat16Transformer CommonSubexpressionElimination ConstantFolding
ConstantSharing ConvActivationFusion ConvAddActivationFusion ConvAddFusion ConvBNFusion ConvMulFusion
DQMatMulNBitsFusion DivMulFusion DoubleQDQPairsRemover DynamicQuantizeMatMulFusion EliminateDropout EliminateIdentity
EliminateSlice EmbedLayerNormFusion EnsureUniqueDQForNodeUnit ExpandElimination FastGeluFusion
FreeDimensionOverrideTransformer FuseFp16InitializerToFp32NodeTransformer GatherSliceToSplitFusion
GatherToSliceFusion GeluFusion GeluFusionL1 GeluFusionL2 GemmActivationFusion GemmSumFusion GemmTransposeFusion
GqaValueLayoutTransformer GroupQueryAttentionFusion GroupQueryAttentionPreNormFusion LabelEncoderFusion
LayerNormFusion LayerNormFusionL1 LayerNormFusionL2 Level1_RuleBasedTransformer Level2_RuleBasedTransformer
MatMulActivationFusion MatMulAddFusion MatMulIntegerToFloatFusion MatMulNBitsFusion MatMulNBitsMlpFusion
MatMulNBitsQLoRAFusion MatMulNBitsQkvFusion MatMulScaleFusion MatMul_BatchNormalization_Fusion
MatmulTransposeFusion MemcpyTransformer NchwcTransformer NhwcTransformer NoopElimination NotWhereFusion Pad_Fusion
PreShapeNodeElimination QDQFinalCleanupTransformer QDQPropagationTransformer QDQS8ToU8Transformer
QDQSelectorActionTransformer QuickGeluFusion RemoveDuplicateCastTransformer ReshapeFusion SimplifiedLayerNormFusion
SkipLayerNormFusion SliceConcatToSpaceToDepthFusion SwiGluFusion TransposeOptimizer
TransposeOptimizer_CPUExecutionProvider UnsqueezeElimination WeightBiasQuantization WhereDummyDq
""".split()
)


def config_object(file: str | os.PathLike) -> dict:
    """A saved model's config.json as a dict; ValueError naming the file and the fix when it is not a JSON object."""
    try:
        with open(file) as f:
            data = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(
            f"{file}: not JSON ({err}); save the model again (save_pretrained)"
        ) from None
    if not isinstance(data, dict):
        raise ValueError(
            f"{file}: holds a JSON {type(data).__name__}, not a model config; save the model again"
        )
    return data


def check_sidecar(sidecar: str, data: object) -> dict:
    """The sidecar's settings, or ValueError naming the file, the bad entry and the fix: not a JSON object, an
    unknown graph_optimization_level, a disabled optimizer onnxruntime does not have (ORT_OPTIMIZERS), an
    execution provider onnxruntime does not know (onnxruntime.get_all_providers())."""
    fix = "fix or delete the file (bench.export writes it again)"
    if not isinstance(data, dict):
        raise ValueError(
            f"{sidecar}: holds a JSON {type(data).__name__}, not an object of onnxruntime session "
            f"settings (graph_optimization_level, disabled_optimizers, execution_provider); {fix}"
        )
    missing = [k for k in ("graph_optimization_level", "disabled_optimizers") if k not in data]
    if missing:
        raise ValueError(
            f"{sidecar}: has no {' or '.join(missing)} (a shipped sidecar names both, so a missing "
            f"one would silently change the session timed); {fix}"
        )
    level, disabled = data["graph_optimization_level"], data["disabled_optimizers"]
    if (
        level not in OPT_LEVELS
        or not isinstance(disabled, list)
        or not all(isinstance(d, str) for d in disabled)
    ):
        raise ValueError(
            f"{sidecar}: graph_optimization_level must be one of {', '.join(OPT_LEVELS)} and "
            f"disabled_optimizers a list of optimizer names; {fix}"
        )
    unknown = [d for d in disabled if d not in ORT_OPTIMIZERS]
    if unknown:
        raise ValueError(
            f"{sidecar}: disabled_optimizers names {', '.join(map(repr, unknown))}, not a graph "
            f"optimizer of onnxruntime (which would ignore it silently); known names include "
            f"SkipLayerNormFusion, AttentionFusion, EmbedLayerNormFusion, GeluFusionL1; {fix}"
        )
    provider = data.get("execution_provider", "CPUExecutionProvider")
    os.environ["ORT_DISABLE_TELEMETRY"] = "1"  # before onnxruntime initialises (see ort_session)
    import onnxruntime

    if provider not in onnxruntime.get_all_providers():
        raise ValueError(
            f"{sidecar}: execution_provider {provider!r} is not an onnxruntime execution provider "
            f"(e.g. CPUExecutionProvider, CUDAExecutionProvider); {fix}"
        )
    return {
        "graph_optimization_level": level,
        "disabled_optimizers": list(disabled),
        "execution_provider": provider,
    }


def session_settings_path(path: str) -> str:
    """The session-settings sidecar shipped beside an ONNX artifact: `<artifact>.session.json`."""
    return path + SESSION_SUFFIX


def session_settings(path: str, mode: str = "artifact", cuda: bool = False) -> dict:
    """The graph optimizations an onnxruntime session of `path` runs with.

    mode "default": onnxruntime's own (ORT_ENABLE_ALL, nothing disabled). mode "artifact": the sidecar's
    (`<artifact>.session.json`: graph_optimization_level, disabled_optimizers, execution_provider) where there is
    one for this execution provider, else the default. Returns {graph_optimization_level, disabled_optimizers,
    source}, plus in either mode the sidecar's `offline_optimizations` (the fusions already in the file).
    Raises ValueError naming the sidecar and the fix when it is malformed or `mode` is unknown.
    """
    default = {
        "graph_optimization_level": "ORT_ENABLE_ALL",
        "disabled_optimizers": [],
        "source": "onnxruntime default",
    }
    if mode not in SESSION_MODES:
        raise ValueError(f"unknown session settings {mode!r}; one of {', '.join(SESSION_MODES)}")
    sidecar = session_settings_path(path)
    if os.path.isdir(sidecar):
        raise ValueError(
            f"{sidecar}: is a directory, not the artifact's session-settings file; remove it "
            f"(bench.export writes the file again)"
        )
    if not os.path.isfile(sidecar):
        if mode != "default":
            print(
                f"warning: no {os.path.basename(sidecar)} beside {path}: timing onnxruntime's default session, "
                f"not the shipped one (export the artifact again with python -m bench.export)",
                file=sys.stderr,
            )
        return (
            default
            if mode == "default"
            else {**default, "source": "onnxruntime default (no sidecar)"}
        )
    try:
        with open(sidecar) as f:
            data = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{sidecar}: not JSON ({err}); fix or delete the file") from None
    checked = check_sidecar(sidecar, data)
    if data.get(
        "offline_optimizations"
    ):  # what the file itself went through before any session (its graph)
        default["offline_optimizations"] = data["offline_optimizations"]
    if mode == "default":
        return default
    level, disabled, provider = (
        checked[k]
        for k in ("graph_optimization_level", "disabled_optimizers", "execution_provider")
    )
    if (provider == "CUDAExecutionProvider") != cuda:
        return {**default, "source": f"onnxruntime default (the sidecar is for {provider})"}
    return {
        **default,
        "graph_optimization_level": level,
        "disabled_optimizers": list(disabled),
        "source": f"sidecar {os.path.basename(sidecar)}",
    }


def ort_session(path: str, threads: int, cuda: bool, gpu_index: int, settings: dict | None = None):
    """An onnxruntime session: telemetry off, sequential, `threads` intra-op threads, the graph optimizations of
    `settings` (session_settings(); default: the artifact's sidecar); CUDA EP on GPU `gpu_index` with TF32 off
    (fp32 means fp32), after preloading pip-installed CUDA libraries where onnxruntime can."""
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
    settings = settings or session_settings(path, cuda=cuda)
    opts.graph_optimization_level = getattr(
        ort.GraphOptimizationLevel, settings["graph_optimization_level"]
    )
    disabled = (
        {"disabled_optimizers": settings["disabled_optimizers"]}
        if settings["disabled_optimizers"]
        else {}
    )
    if not cuda:
        return ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"], **disabled)
    if hasattr(ort, "preload_dlls"):  # onnxruntime >= 1.21: CUDA/cuDNN from the nvidia-* pip wheels
        ort.preload_dlls()
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        raise RuntimeError(
            f"onnxruntime {ort.__version__} has no CUDA execution provider (a CPU-only build): "
            f"{ORT_GPU_INSTALL}"
        )
    cuda_opts = {"device_id": str(gpu_index), "use_tf32": "0"}
    session = ort.InferenceSession(
        path,
        opts,
        providers=[("CUDAExecutionProvider", cuda_opts), "CPUExecutionProvider"],
        **disabled,
    )
    if session.get_providers()[0] != "CUDAExecutionProvider":
        raise RuntimeError(
            f"onnxruntime could not start its CUDA execution provider on GPU {gpu_index} "
            f"(providers: {session.get_providers()}); check the CUDA/cuDNN libraries: {ORT_GPU_INSTALL}"
        )
    return session


def load_onnxruntime(
    path: str,
    threads: int,
    cuda: bool = False,
    gpu_index: int = 0,
    extras: dict | None = None,
    mode: str = "artifact",
):
    """(run, version); `extras["session_options"]` says which graph optimizations and threads the session has."""
    settings = session_settings(path, mode, cuda)
    session = ort_session(
        path, threads, cuda, gpu_index, settings
    )  # first: it switches telemetry off before the import
    import onnxruntime as ort

    extras = {} if extras is None else extras
    extras["session_options"] = {
        **settings,
        "intra_op_num_threads": threads,
        "inter_op_num_threads": 1,
        "execution_mode": "ORT_SEQUENTIAL",
    }
    names = [i.name for i in session.get_inputs()]
    if not cuda:

        def run(inputs: dict) -> np.ndarray:
            return session.run(None, {n: inputs[n] for n in names})[0]

        return run, f"onnxruntime {ort.__version__}"
    extras.update(tf32=False, gpu_index=gpu_index)
    extras["memory"] = lambda: gpu_memory(gpu_index)
    bindings: dict = {}

    def run_bound(inputs: dict):
        """IO binding: inputs copied to the GPU once (timed apart as h2d_ms), output kept on the GPU."""
        key = id(inputs)
        if key not in bindings:
            t0 = time.perf_counter()
            binding = session.io_binding()
            for n in names:
                binding.bind_ortvalue_input(
                    n, ort.OrtValue.ortvalue_from_numpy(inputs[n], "cuda", gpu_index)
                )
            binding.bind_output(session.get_outputs()[0].name, "cuda", gpu_index)
            binding.synchronize_inputs()
            extras["h2d_ms"] = (time.perf_counter() - t0) * 1e3
            bindings[key] = binding
        binding = bindings[key]
        session.run_with_iobinding(binding)
        binding.synchronize_outputs()
        return binding.get_outputs()[0]

    def run(inputs: dict):
        out = run_bound(inputs)
        return out.numpy() if hasattr(out, "numpy") else out

    return run, f"onnxruntime {ort.__version__} (CUDA EP, IO binding, TF32 off)"


def gpu_memory(index: int) -> dict:
    mb, source = gpu_process_memory_mb(index)
    return {"gpu_memory_mb": mb, "gpu_memory_source": source}


def load_litert(path: str, threads: int):
    try:
        import ai_edge_litert
        from ai_edge_litert.interpreter import Interpreter

        version = f"ai-edge-litert {getattr(ai_edge_litert, '__version__', '?')}"
    except ImportError:
        try:
            import tflite_runtime
            from tflite_runtime.interpreter import Interpreter  # fallback on devices without LiteRT
        except ImportError:
            raise ImportError(
                "runtime 'litert' needs ai-edge-litert (or tflite-runtime on a board), not installed here: "
                "pip install 'dynabert-edge[tflite]' (or: pip install ai-edge-litert)"
            ) from None
        version = f"tflite-runtime {tflite_runtime.__version__}"
    interp = Interpreter(model_path=path, num_threads=threads)
    runner = interp.get_signature_runner()
    order = sorted(runner.get_input_details())  # args_0 = ids, args_1 = mask, args_2 = token types

    def run(inputs: dict) -> np.ndarray:
        values = (inputs["input_ids"], inputs["attention_mask"], inputs["token_type_ids"])
        out = runner(**{name: v.astype(np.int32) for name, v in zip(order, values)})
        return next(iter(out.values()))

    return run, version


def torch_device(cuda: bool, gpu_index: int, extras: dict | None):
    """CPU, or CUDA GPU `gpu_index` with TF32 off and its memory reported into `extras`; a missing CUDA build or
    GPU is named with the fix."""
    import torch

    if not cuda:
        return torch.device("cpu")
    if not torch.cuda.is_available():
        what = (
            "a CPU-only build" if torch.version.cuda is None else "no CUDA device or driver visible"
        )
        raise RuntimeError(
            f"torch {torch.__version__} cannot use a GPU ({what}): {TORCH_GPU_INSTALL}"
        )
    if gpu_index >= torch.cuda.device_count():
        raise RuntimeError(
            f"gpu_index {gpu_index} does not exist: {torch.cuda.device_count()} GPU(s) visible"
        )
    torch.backends.cuda.matmul.allow_tf32 = (
        False  # fp32 means fp32 (torch's default; set, not assumed)
    )
    torch.backends.cudnn.allow_tf32 = False
    torch.cuda.set_device(gpu_index)
    torch.cuda.reset_peak_memory_stats(gpu_index)
    if extras is not None:
        extras.update(tf32=False, gpu_index=gpu_index)
        extras["memory"] = lambda: {
            **gpu_memory(gpu_index),
            "gpu": torch.cuda.get_device_name(gpu_index),
            "max_memory_allocated_mb": torch.cuda.max_memory_allocated(gpu_index) / 2**20,
        }
    return torch.device("cuda", gpu_index)


def load_torch(
    path: str, threads: int, cuda: bool = False, gpu_index: int = 0, extras: dict | None = None
):
    from pathlib import Path

    import torch
    from transformers import AutoModelForSequenceClassification

    torch.set_num_threads(threads)
    device = torch_device(cuda, gpu_index, extras)
    config = (
        config_object(Path(path) / "config.json") if (Path(path) / "config.json").is_file() else {}
    )
    if config.get("model_type") == "dynabert-pruned" and "auto_map" not in config:
        raise ValueError(
            f"{path} holds an extracted sub-network saved without its modeling code (an older "
            f"extraction); extract it again (python -m dynabert extract), or delete it from the "
            f"sweep's artifact cache so the sweep saves it again"
        )
    # an extracted sub-network directory carries its own modeling code (config auto_map); run that code
    model = (
        AutoModelForSequenceClassification.from_pretrained(path, trust_remote_code=True)
        .eval()
        .to(device)
    )
    cached: dict = {}
    extras = {} if extras is None else extras

    def run(inputs: dict) -> np.ndarray:
        with torch.inference_mode():
            key = id(inputs)
            if (
                key not in cached
            ):  # host->device copy once per input set, timed apart (extras["h2d_ms"])
                t0 = time.perf_counter()
                cached[key] = {k: torch.from_numpy(v).to(device) for k, v in inputs.items()}
                if cuda:
                    torch.cuda.synchronize()
                extras["h2d_ms"] = (time.perf_counter() - t0) * 1e3
            t = cached[key]
            out = model(
                input_ids=t["input_ids"],
                attention_mask=t["attention_mask"],
                token_type_ids=t["token_type_ids"],
            ).logits
            if cuda:
                torch.cuda.synchronize()
            return out.cpu().numpy()

    return run, f"torch {torch.__version__}"


def load(
    runtime: str,
    path: str,
    threads: int,
    gpu_index: int = 0,
    extras: dict | None = None,
    session: str = "artifact",
):
    """(run(inputs) -> logits, version string); `extras` (optional) collects what the runtime reports beside the
    timings (session_options, h2d_ms, tf32, a `memory` callable for GPU memory). `session` (onnxruntime): "artifact"
    opens the file with the settings shipped beside it (session_settings), "default" with onnxruntime's own."""
    if runtime == "onnxruntime":
        return load_onnxruntime(path, threads, extras=extras, mode=session)
    if runtime == "onnxruntime-cuda":
        return load_onnxruntime(
            path, threads, cuda=True, gpu_index=gpu_index, extras=extras, mode=session
        )
    if runtime == "litert":
        return load_litert(path, threads)
    if runtime == "torch":
        return load_torch(path, threads, extras=extras)
    if runtime == "torch-cuda":
        return load_torch(path, threads, cuda=True, gpu_index=gpu_index, extras=extras)
    raise ValueError(f"unknown runtime {runtime!r}; one of {RUNTIMES}")


def measure(
    run,
    inputs: dict,
    warmup: int,
    min_runs: int,
    min_time_s: float,
    max_runs: int,
    max_time_s: float,
) -> tuple[float, list[float]]:
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
        if (
            len(samples) >= max_runs
            or elapsed >= max_time_s
            or len(samples) >= min_runs
            and elapsed >= min_time_s
        ):
            return first_ms, samples


MARK_MAGIC = 0x1A2B3C4D


def mark(tag: int) -> None:
    """A no-op syscall (lseek on fd -1 fails with EBADF) that qemu's instruction-count plugin reports."""
    try:
        os.lseek(-1, MARK_MAGIC, tag)
    except OSError:
        pass


def pinned_cpus(threads: int) -> list[int]:
    """The last `threads` CPUs this process may use: measurements stay off CPU 0, where the OS and the
    sweep itself mostly run (taskset practice of MLPerf / nn-Meter). All CPUs if threads >= their count."""
    allowed = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    return allowed[-threads:] if 0 < threads < len(allowed) else allowed


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The runner's command line (plain argparse: this file is shipped alone, so it cannot use argfields; the
    line is written by devices/request.py RunRequest.runner_args only)."""
    ap = argparse.ArgumentParser(
        prog="python runner.py",
        description="Time one model artifact in this process; prints one JSON line.",
        epilog="example:\n  python devices/runner.py --artifact model.onnx --runtime onnxruntime "
        "--vocab-size 30522 --type-vocab-size 2",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    model = ap.add_argument_group("artifact")
    model.add_argument("--artifact", required=True, help="the model file (or extracted directory)")
    model.add_argument("--runtime", required=True, choices=RUNTIMES, help="what runs it")
    model.add_argument(
        "--vocab-size", type=int, required=True, help="rows of the model's word embedding table"
    )
    model.add_argument(
        "--type-vocab-size", type=int, required=True, help="rows of its token-type table (1: none)"
    )
    model.add_argument(
        "--session",
        choices=SESSION_MODES,
        default="artifact",
        help="onnxruntime: the settings shipped beside the artifact (<artifact>.session.json) or "
        "onnxruntime's default session",
    )
    shape = ap.add_argument_group("input and threads")
    shape.add_argument("--threads", type=int, default=1, help="runtime threads")
    shape.add_argument("--batch", type=int, default=1, help="sequences per inference")
    shape.add_argument("--seq-len", type=int, default=128, help="tokens per sequence")
    shape.add_argument(
        "--pin", action="store_true", help="pin this process to its last THREADS allowed CPUs"
    )
    shape.add_argument("--gpu-index", type=int, default=0, help="CUDA runtimes: which GPU")
    shape.add_argument(
        "--queries",
        help="a query set instead of synthetic inputs: a JSON file ('-': stdin) of "
        '{"ids": [[...], ...], "types": [[...], ...]} (token ids per query, unpadded)',
    )
    shape.add_argument(
        "--scenario",
        choices=SCENARIOS,
        default="singlestream",
        help="with --queries: singlestream (one query at a time, each at its own length) or "
        "offline (all queries, sorted by length, in batches of --batch padded per batch)",
    )
    shape.add_argument(
        "--bucket",
        action="append",
        default=[],
        metavar="LEN=PATH",
        help="with --queries, a static-shape artifact of LEN tokens (repeatable): each query runs on "
        "the smallest that fits, padded to it",
    )
    timing = ap.add_argument_group("timing")
    timing.add_argument("--warmup", type=int, default=WARMUP, help="untimed runs after the first")
    timing.add_argument("--min-runs", type=int, default=MIN_RUNS, help="timed runs, at least")
    timing.add_argument(
        "--min-time", type=float, default=MIN_TIME_S, help="seconds of timed runs, at least"
    )
    timing.add_argument("--max-runs", type=int, default=MAX_RUNS, help="timed runs, at most")
    timing.add_argument(
        "--max-time", type=float, default=MAX_TIME_S, help="seconds of timed runs, at most"
    )
    timing.add_argument(
        "--count-runs",
        type=int,
        default=0,
        help="emulated targets: bracket this many extra runs with instruction-count markers",
    )
    out = ap.add_argument_group("output")
    out.add_argument("--save-output", help="write the logits of the timed input to this .npy file")
    return ap.parse_args(argv)


LOOKUP_ERRORS = (  # (runtime's message pattern with the bad index and the table's last row, which runtime)
    (
        r"indices element out of data bounds, idx=(-?\d+) must be within the inclusive range \[-?\d+,(-?\d+)\]",
        "onnxruntime Gather",
    ),
    (
        r"Embedding Lookup: index out of bounds\. Got (-?\d+), and bounds are \[0, (-?\d+)\]",
        "LiteRT EMBEDDING_LOOKUP",
    ),
)


def lookup_error(
    err: Exception, artifact: str, vocab_size: int, type_vocab_size: int
) -> str | None:
    """A clear message for an embedding lookup that read past the model's table (an input-size flag larger than
    the model's table), naming the flag(s) whose values reach that index; None for any other error."""
    import re

    msg = str(err)
    hits = [(m, where) for pattern, where in LOOKUP_ERRORS if (m := re.search(pattern, msg))]
    if hits:
        m, where = hits[0]
        idx, rows = int(m.group(1)), int(m.group(2)) + 1
    elif "index out of range in self" in msg:  # torch's embedding
        idx, rows, where = None, None, "torch embedding"
    else:
        return None
    low, high = token_id_range(vocab_size)
    flags = []  # the flag(s) whose drawn values reach the bad index
    if idx is None or idx < type_vocab_size:
        flags.append(f"--type-vocab-size {type_vocab_size}")
    if idx is None or low <= idx < high:
        flags.append(f"--vocab-size {vocab_size}")
    table = (
        f"index {idx} is past the model's table of {rows} rows"
        if idx is not None
        else "an index is past a table"
    )
    return (
        f"an embedding lookup failed ({where}: {table}): {' or '.join(flags) or 'an input size'} is larger than "
        f"the model's own; pass the artifact's sizes (python -c \"from devices.inputs import read_input_spec; "
        f'print(read_input_spec({artifact!r}))" prints them; 1 for a model without token types)'
    )


SCENARIOS = ("singlestream", "offline")


def bucket_for(length: int, buckets: list[int]) -> int | None:
    """The smallest bucket (static length) that holds a query of `length` tokens; None when none does."""
    return next((b for b in sorted(buckets) if b >= length), None)


def offline_batches(lengths: list[int], batch: int) -> list[list[int]]:
    """Offline batching: query indices sorted by length (ties in query order), cut into batches of `batch`
    (the last one may be short); each batch is then padded to its longest query (or that query's bucket)."""
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
    return [order[i : i + batch] for i in range(0, len(order), batch)]


def read_queries(source: str) -> tuple[list[list[int]], list[list[int]]]:
    """(ids, types) per query from the JSON the request sends ('-': stdin)."""
    data = json.load(sys.stdin) if source == "-" else json.load(open(source))
    ids, types = data["ids"], data.get("types") or [[0] * len(q) for q in data["ids"]]
    if not ids or any(len(q) < 1 for q in ids) or [len(q) for q in ids] != [len(t) for t in types]:
        raise ValueError("the query set is empty, has an empty query, or types not matching ids")
    return ids, types


def padded_inputs(ids: list, types: list, members: list[int], pad_len: int, rows: int) -> dict:
    """(rows, pad_len) int64 inputs for the queries `members`: ids and types left-aligned, mask 1 on real tokens,
    pad id 0; rows beyond the members (a static batch's short last batch) repeat the last member."""
    picked = members + [members[-1]] * (rows - len(members))
    out = {k: np.zeros((rows, pad_len), dtype=np.int64) for k in ROLES}
    for r, q in enumerate(picked):
        n = len(ids[q])
        out["input_ids"][r, :n], out["token_type_ids"][r, :n] = ids[q], types[q]
        out["attention_mask"][r, :n] = 1
    return out


ROLES = ("input_ids", "attention_mask", "token_type_ids")


def query_plan(
    args: argparse.Namespace, ids: list, types: list
) -> tuple[list[dict], list, list[int]]:
    """(inputs per unit, bucket length per unit or None, queries per unit): a unit is one query (singlestream)
    or one batch (offline); static artifacts (--bucket) pad to the smallest bucket that fits."""
    buckets = sorted(int(b.split("=", 1)[0]) for b in args.bucket)
    lengths = [len(q) for q in ids]
    groups = (
        [[i] for i in range(len(ids))]
        if args.scenario == "singlestream"
        else offline_batches(lengths, args.batch)
    )
    rows = 1 if args.scenario == "singlestream" else args.batch
    inputs, units_bucket = [], []
    for members in groups:
        longest = max(lengths[i] for i in members)
        bucket = bucket_for(longest, buckets) if buckets else None
        if buckets and bucket is None:
            raise ValueError(
                f"a query of {longest} tokens is longer than the largest static artifact ({buckets[-1]})"
            )
        static = bucket is not None
        inputs.append(
            padded_inputs(ids, types, members, bucket or longest, rows if static else len(members))
        )
        units_bucket.append(bucket)
    return inputs, units_bucket, [len(m) for m in groups]


def time_units(
    runs: list, inputs: list[dict], args: argparse.Namespace, cpu_ms: list
) -> tuple[float, list, int]:
    """(first-inference ms, per-unit wall ms over whole passes, passes): warm-up units untimed after the first,
    then passes over every unit in order until min_runs and min_time are met (at least one pass, max_time caps).
    `cpu_ms` gets each unit's CPU time of this process (time.process_time): on a machine shared with other work,
    what the unit cost apart from the time it waited for a CPU."""
    t0 = time.perf_counter()
    runs[0](inputs[0])
    first_ms = (time.perf_counter() - t0) * 1e3
    for i in range(args.warmup):
        runs[i % len(runs)](inputs[i % len(inputs)])
    samples, passes, start = [], 0, time.perf_counter()
    while True:
        for run, x in zip(runs, inputs):
            c0, t0 = time.process_time(), time.perf_counter()
            run(x)
            samples.append((time.perf_counter() - t0) * 1e3)
            cpu_ms.append((time.process_time() - c0) * 1e3)
        passes += 1
        elapsed = time.perf_counter() - start
        enough = len(samples) >= args.min_runs and elapsed >= args.min_time
        if enough or elapsed >= args.max_time or len(samples) >= args.max_runs:
            return first_ms, samples, passes


def run_queries(args: argparse.Namespace, result: dict) -> None:
    """Time a query set (--queries) in its scenario, filling `result`: per-unit samples (a query, or a batch
    Offline), queries/s over the timed passes, and which bucket each unit ran on."""
    ids, types = read_queries(args.queries)
    inputs, units_bucket, per_unit = query_plan(args, ids, types)
    paths = dict(b.split("=", 1) for b in args.bucket)
    extras: dict = {}
    baseline = rss_mb()
    t0 = time.perf_counter()
    loaded = {
        b: load(
            args.runtime,
            paths[str(b)] if b else args.artifact,
            args.threads,
            args.gpu_index,
            extras,
            args.session,
        )
        for b in sorted(set(units_bucket), key=lambda b: b or 0)
    }
    result["load_ms"] = (time.perf_counter() - t0) * 1e3
    runs = [loaded[b][0] for b in units_bucket]
    cpu_ms: list = []
    first_ms, samples, passes = time_units(runs, inputs, args, cpu_ms)
    out = runs[0](inputs[0])
    if args.save_output:
        np.save(args.save_output, out)
    counts: dict = {}
    for b in units_bucket:
        counts[str(b) if b else "dynamic"] = counts.get(str(b) if b else "dynamic", 0) + 1
    memory = extras.pop("memory", None)
    result.update(
        ok=True,
        runtime_version=next(iter(loaded.values()))[1],
        first_inference_ms=first_ms,
        samples_ms=samples,
        output_shape=list(np.shape(out)),
        n_warmup=args.warmup,
        rss_baseline_mb=baseline,
        peak_rss_mb=peak_rss_mb(),
        peak_rss_increase_mb=peak_rss_mb() - baseline,
        queries={
            "scenario": args.scenario,
            "queries": len(ids),
            "passes": passes,
            "units_per_pass": len(inputs),
            "queries_per_unit": per_unit if args.scenario == "offline" else None,
            "bucket_counts": counts,
            "queries_per_s": passes * len(ids) / (sum(samples) / 1e3),
            "padded_tokens_per_pass": int(sum(x["input_ids"].size for x in inputs)),
            "real_tokens_per_pass": int(sum(len(q) for q in ids)),
            "cpu_ms": cpu_ms,
        },
        **extras,
        **(memory() if memory else {}),
    )


def run_cell(args: argparse.Namespace, result: dict) -> None:
    """Load, time and (optionally) count one artifact, filling `result`."""
    if args.pin and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, set(pinned_cpus(args.threads)))
    result["cpu_affinity"] = (
        sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    )
    if args.queries:
        return run_queries(args, result)
    inputs = make_inputs(args.batch, args.seq_len, args.vocab_size, args.type_vocab_size)
    extras: dict = {}
    baseline = rss_mb()
    t0 = time.perf_counter()
    run, version = load(
        args.runtime, args.artifact, args.threads, args.gpu_index, extras, args.session
    )
    result["load_ms"] = (time.perf_counter() - t0) * 1e3
    try:
        first_ms, samples = measure(
            run, inputs, args.warmup, args.min_runs, args.min_time, args.max_runs, args.max_time
        )
    except Exception as err:
        if (why := lookup_error(err, args.artifact, args.vocab_size, args.type_vocab_size)) is None:
            raise
        raise ValueError(why) from None
    if args.count_runs:
        mark(1)
        for i in range(args.count_runs):  # each run bracketed: the plugin reports one count per run
            run(inputs)
            mark(2 + i)
        result["count_runs"] = args.count_runs
    out = run(inputs)
    if args.save_output:
        np.save(args.save_output, out)
    memory = extras.pop("memory", None)
    result.update(
        ok=True,
        runtime_version=version,
        first_inference_ms=first_ms,
        samples_ms=samples,
        output_shape=list(np.shape(out)),
        n_warmup=args.warmup,
        rss_baseline_mb=baseline,
        peak_rss_mb=peak_rss_mb(),
        peak_rss_increase_mb=peak_rss_mb() - baseline,
        **extras,
        **(memory() if memory else {}),
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    result = {
        "runtime": args.runtime,
        "threads": args.threads,
        "batch": args.batch,
        "seq_len": args.seq_len,
        "machine": platform.machine(),
        "python": platform.python_version(),
    }
    try:
        run_cell(args, result)
    except Exception as err:  # reported as a failed cell, never swallowed
        result.update(ok=False, error=f"{type(err).__name__}: {err}")
    print(json.dumps(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
