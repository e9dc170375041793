"""The GPU check: one command on a CUDA machine, from the source tree, nothing installed, no network.

    python -m bench.gpu_check [--out gpu-check.json] [--work DIR]

It brings its own small model (a random-weight 4-layer BERT, hidden 256, with a word-level tokenizer built from
its own SST-2-format data), then runs, each step a subprocess with a time limit (under 8 minutes in all on one
data-centre GPU): the CUDA-marked tests (when pytest is there); a short stage depth in bf16 and in fp16 (samples/s,
fp16 loss-scale skips); the step/parts ratio of one stage-depth step on the GPU; the fp16 run's GPU-saved state
resumed on the CPU; and a CUDA latency sweep through `python -m bench.sweep --devices cuda` (torch, plus
onnxruntime when its CUDA provider is installed, else a skip naming `onnxruntime-gpu`). It writes one JSON summary
and exits 1 when a step failed; without a GPU it refuses to start (exit 2) and says why.
Written for older environments too (e.g. Python 3.12, torch 2.11, transformers 5.17, accelerate 1.15, CPU-only
onnxruntime, no LiteRT): only torch, transformers, accelerate and numpy are required.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import argfields
from argfields import option
from bench.gpu_step_ratio import step_parts_ratio
from bench.standin import WORDS, write_sst2_standin

ROOT = Path(__file__).resolve().parents[1]
TRAIN = [
    "--task",
    "sst2",
    "--stage",
    "depth",
    "--max-train-samples",
    "2048",
    "--max-eval-samples",
    "256",
    "--batch-size",
    "32",
    "--epochs",
    "1",
    "--eval-every",
    "16",
    "--learning-rate",
    "1e-4",
    "--logging-steps",
    "8",
    "--checkpoint-choice",
    "last",
]


def require_gpu() -> str:
    """The GPU's name; SystemExit(2) with the reason when torch sees no CUDA GPU."""
    import torch

    if not torch.cuda.is_available():
        build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"
        print(
            f"bench.gpu_check needs a CUDA GPU, and torch {torch.__version__} ({build}) sees none "
            f"(torch.cuda.is_available() is False). Run it on the GPU machine; with a CPU-only torch, "
            f"install a CUDA build first (https://pytorch.org/get-started/locally/).",
            file=sys.stderr,
        )
        raise SystemExit(2)
    return torch.cuda.get_device_name(0)


def environment(gpu: str) -> dict:
    import accelerate
    import torch
    import transformers

    env = {
        "gpu": gpu,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "transformers": transformers.__version__,
        "accelerate": accelerate.__version__,
        "gpu_memory_gb": round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1),
    }
    try:
        import onnxruntime as ort

        env["onnxruntime"], env["onnxruntime_providers"] = (
            ort.__version__,
            ort.get_available_providers(),
        )
    except ImportError:
        env["onnxruntime"] = None
    return env


def make_assets(work: Path) -> tuple[Path, Path]:
    """SST-2-format data whose label is a word rule, and OUT/width/best: a random BERT with a word-level tokenizer."""
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    data = write_sst2_standin(work / "data", {"train.tsv": 2048, "dev.tsv": 256})
    model = work / "run" / "width" / "best"
    model.mkdir(parents=True, exist_ok=True)
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]
    words += [
        f"[unused{i}]" for i in range(30522 - len(words))
    ]  # BERT's vocabulary size: the sweep draws ids >= 1000
    BertTokenizerFast(
        vocab={w: i for i, w in enumerate(words)}, do_lower_case=True
    ).save_pretrained(model)  # v5 API
    import torch

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(words),
        hidden_size=256,
        num_hidden_layers=4,
        num_attention_heads=4,
        intermediate_size=1024,
        max_position_embeddings=128,
        num_labels=2,
    )
    BertForSequenceClassification(config).save_pretrained(model)
    return model, data


def run(cmd: list[str], timeout_s: int, env: dict | None = None) -> dict:
    """A subprocess from the source tree (PYTHONPATH=repo root); rc, seconds and the output's tail."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "HF_HUB_OFFLINE": "1",
        "TQDM_DISABLE": "1",
        **(env or {}),
    }
    t0 = time.time()
    try:
        done = subprocess.run(
            cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout_s
        )
        rc, tail = done.returncode, (done.stdout + done.stderr)[-2000:]
    except subprocess.TimeoutExpired as err:
        rc, tail = "timeout", f"killed after {timeout_s} s: {str(err.output)[-1500:]}"
    return {
        "status": "ok" if rc == 0 else "error",
        "rc": rc,
        "seconds": round(time.time() - t0, 1),
        "output_tail": tail,
    }


def cuda_tests() -> dict:
    try:
        import pytest  # noqa: F401
    except ImportError:
        return {"status": "skipped", "reason": "pytest is not installed in this environment"}
    files = sorted(
        str(p.relative_to(ROOT))
        for folder in ("tests", "bench")
        for p in (ROOT / folder).rglob("test_*.py")
        if "mark.gpu" in p.read_text(encoding="utf-8")
    )
    result = run(
        [sys.executable, "-m", "pytest", "-q", "-m", "gpu", "-p", "no:cacheprovider", *files], 240
    )
    return {**result, "files": files}


def train(work: Path, data: Path, precision: str) -> dict:
    out = work / f"run-{precision}"
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(work / "run", out)
    result = run(
        [
            sys.executable,
            "-m",
            "dynabert",
            "train",
            "--data-dir",
            str(data),
            "--output-dir",
            str(out),
            "--mixed-precision",
            precision,
            *TRAIN,
        ],
        180,
    )
    summary = out / "depth" / "summary.json"
    if summary.is_file():
        s = json.loads(summary.read_text())
        result.update(
            steps=s["steps"],
            samples_per_s=s["samples_per_s_this_run"],
            loss_scale_skipped_steps=s["fp16_skipped_steps"],
            seconds_training=s["seconds_this_run"],
        )
    return result


def resume_on_cpu(work: Path, data: Path) -> dict:
    """The fp16 run's mid-stage checkpoint (saved on the GPU, with its loss scaler) resumed with no GPU visible."""
    out = work / "run-resume-cpu"
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(work / "run-fp16", out)
    (out / "depth" / "summary.json").unlink(missing_ok=True)
    shutil.rmtree(out / "depth" / "best", ignore_errors=True)
    result = run(
        [
            sys.executable,
            "-m",
            "dynabert",
            "train",
            "--data-dir",
            str(data),
            "--output-dir",
            str(out),
            "--mixed-precision",
            "no",
            *TRAIN,
        ],
        240,
        {"CUDA_VISIBLE_DEVICES": ""},
    )
    log = (
        (out / "depth" / "train.log").read_text() if (out / "depth" / "train.log").is_file() else ""
    )
    resumed = [line for line in log.splitlines() if "resumed from" in line]
    if result["status"] == "ok" and not resumed:
        result.update(status="error", error="the CPU run did not resume from the GPU checkpoint")
    result["resumed"] = resumed[-1] if resumed else None
    return result


def cuda_sweep(work: Path, model: Path) -> dict:
    runtimes, skipped = ["torch"], {}
    try:
        import onnxruntime as ort

        if "CUDAExecutionProvider" in ort.get_available_providers():
            runtimes.append("onnxruntime")
        else:
            skipped["onnxruntime"] = (
                f"onnxruntime {ort.__version__} has no CUDAExecutionProvider: "
                f"pip uninstall onnxruntime && pip install onnxruntime-gpu"
            )
    except ImportError:
        skipped["onnxruntime"] = "onnxruntime is not installed (pip install onnxruntime-gpu)"
    store = work / "sweep-cuda.jsonl"
    store.unlink(missing_ok=True)
    result = run(
        [
            sys.executable,
            "-m",
            "bench.sweep",
            "--model",
            str(model),
            "--devices",
            "cuda",
            "--runtimes",
            ",".join(runtimes),
            "--widths",
            "1.0,0.5",
            "--depths",
            "1.0,0.5",
            "--seq-len",
            "128",
            "--min-runs",
            "30",
            "--min-time",
            "0.5",
            "--cache-dir",
            str(work / "artifacts"),
            "--results",
            str(store),
        ],
        240,
    )
    cells = [json.loads(line) for line in store.read_text().splitlines()] if store.is_file() else []
    result["cells"] = [
        {
            k: c.get(k)
            for k in (
                "subnet_id",
                "backend",
                "runtime",
                "precision",
                "status",
                "latency_ms_p50",
                "peak_mem_mb",
                "error",
            )
        }
        for c in cells
    ]
    if any(c.get("status") == "error" for c in cells) or (result["status"] == "ok" and not cells):
        result["status"] = "error"
    return {**result, "skipped_runtimes": skipped}


@dataclass(kw_only=True)
class GpuCheckOptions:
    """`python -m bench.gpu_check`: where the summary and the scratch files go."""

    out: str = option("gpu-check.json", help="the JSON summary written at the end", group="output")
    work: str = option(
        "gpu-check-work", help="scratch folder (model, data, runs), replaced", group="output"
    )


def main(argv: list[str] | None = None) -> int:
    opts, _ = argfields.parse(
        argfields.command_parser(
            "python -m bench.gpu_check",
            "Check the CUDA paths end to end on this machine's GPU -> one JSON summary.",
            "python -m bench.gpu_check --out gpu-check.json",
            GpuCheckOptions,
        ),
        argv,
    )
    gpu = require_gpu()
    started, work = time.time(), Path(opts.work).resolve()
    shutil.rmtree(work, ignore_errors=True)
    model, data = make_assets(work)

    checks = {
        "cuda_tests": cuda_tests(),
        "train_depth_bf16": train(work, data, "bf16"),
        "train_depth_fp16": train(work, data, "fp16"),
    }
    checks["step_parts_ratio"] = {p: step_parts_ratio(model, p) for p in ("no", "bf16", "fp16")}
    checks["gpu_state_resumed_on_cpu"] = resume_on_cpu(work, data)
    checks["cuda_sweep"] = cuda_sweep(work, model)
    failed = sorted(
        k
        for k, v in checks.items()
        if v.get("status") == "error"
        or any(isinstance(x, dict) and x.get("status") == "error" for x in v.values())
    )
    summary = {
        "ok": not failed,
        "failed": failed,
        "seconds": round(time.time() - started, 1),
        "environment": environment(gpu),
        "checks": checks,
    }
    Path(opts.out).write_text(json.dumps(summary, indent=1))
    print(
        f"gpu check {'passed' if not failed else 'FAILED: ' + ', '.join(failed)}; summary -> {opts.out}"
    )
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
