"""Export an extracted sub-network to ONNX (fp32, int8) and TFLite (fp32, int8), check it, cache it.

Every artifact is run on padded random inputs and compared with the torch model; the max abs logit error is
stored beside it, and one over tolerance is marked `ok: false` (the sweep records it as an error, never times it).
Tolerances: fp32 1e-4 absolute. int8 (dynamic, weights int8, activations fp32): 0.05 * (1 + max|torch logit|),
i.e. 5% of the logit scale plus 0.05; random-weight models show 1e-2..4e-2 (notes/export-pruned.md).
Cache key: what decides the artifact and its check. The file is keyed by (checkpoint sha, sub-network id, format,
seq len, export key) -> CACHE/<sha>/<subnet>/<format>-s<seq>-<export key>.<ext>, where the export key hashes the
exporter versions (torch, onnx, onnxscript, onnxruntime: its attention fusion and quantizer; litert-torch,
ai-edge-quantizer), the ONNX graph rewrite's version (GRAPH) and the quantization settings. Its check is reused
only while the check key matches: the runtime that ran it (onnxruntime /
ai-edge-litert version), the tolerances, and for int8 the CPU's kernel-choosing ISA features (records.machine);
otherwise the cached file is checked again here.
int8 ONNX settings (onnx_int8_candidates): per-channel int8 weights; on a CPU without an int8 dot-product
instruction (no VNNI/AMX) also reduce_range (7-bit weights), as onnxruntime's quantization docs advise; when that
artifact fails its numerics check, the fused Attention is left fp32 (MatMul only), then also reduce_range: the first
that passes is kept, and its settings and every attempt are in the metadata and the record's `quantization`.
ONNX artifacts ship the onnxruntime session settings they are checked and timed with beside them
(`<artifact>.session.json`, bench/session_settings.py); a cached artifact whose settings are not the current ones
is checked again. ONNX fp32 artifacts are the dynamo export with onnxruntime's offline attention fusion applied
(bench/ort_fusion.py; the plain export kept beside as `<stem>.unfused.onnx`); int8 is quantized from that fused
graph. What was applied is in the metadata's and the sidecar's `graph_optimizations` / `offline_optimizations`.
`python -m bench.export --model SUB_OR_CHECKPOINT --formats ... --seq-len 128 --output-dir ART`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

import argfields
import records
from argfields import option
from bench import session_settings
from bench.cache import default_cache
from bench.export_inputs import logits_only, sample_inputs  # noqa: F401 (the exporters' shared inputs)
from records.machine import package_versions

if TYPE_CHECKING:  # torch is imported where it runs, so that `--help` answers without it
    import torch

FORMATS = (
    "onnx",
    "onnx-int8",
    "tflite",
    "tflite-int8",
    "openvino",
    "openvino-int8",
    "pte",
    "pte-int8",
)
DEFAULT_FORMATS = (
    "onnx",
    "onnx-int8",
    "tflite",
    "tflite-int8",
)  # OpenVINO / .pte: asked for by name
EXTENSIONS = {"onnx": ".onnx", "tflite": ".tflite", "openvino": ".xml", "pte": ".pte"}
CHECK_RUNNER = {
    "onnx": "onnxruntime",
    "tflite": "litert",
    "openvino": "openvino",
    "pte": "executorch",
}
STATIC_SHAPE = ("tflite", "pte")  # exported at batch 1 and the cell's sequence length
FP32_TOL = 1e-4
INT8_REL_TOL = 0.05


def export_onnx(model: torch.nn.Module, path: Path, seq_len: int) -> None:
    """Dynamo export, opset 18, dynamic batch and sequence axes, weights inside the file."""

    from torch.export import Dim

    batch, seq = (
        Dim("batch", min=1, max=64),
        Dim("seq", min=2, max=model.config.max_position_embeddings),
    )
    axes = {0: batch, 1: seq}
    with (
        warnings.catch_warnings()
    ):  # two messages of torch's own exporter internals, on every export; only these
        warnings.filterwarnings(
            "ignore",
            message=r"# The axis name: \w+ will not be used, since it shares the same "
            "shape constraints",
            category=UserWarning,
        )
        warnings.filterwarnings(
            "ignore",
            message=r"`isinstance\(treespec, LeafSpec\)` is deprecated",
            category=FutureWarning,
        )
        _export_onnx(model, path, seq_len, axes)


def _export_onnx(model: torch.nn.Module, path: Path, seq_len: int, axes: dict) -> None:
    import torch

    torch.onnx.export(
        logits_only(model).eval(),
        sample_inputs(2, seq_len, model.config.vocab_size),
        str(path),
        dynamo=True,
        opset_version=18,
        input_names=["input_ids", "attention_mask", "token_type_ids"],
        output_names=["logits"],
        external_data=False,
        verbose=False,
        dynamic_shapes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes},
    )


def unfused_path(artifact: Path) -> Path:
    """The plain dynamo export an ONNX artifact was fused from (kept beside it: `<stem>.unfused.onnx`)."""
    return artifact.with_name(artifact.stem + ".unfused.onnx")


def export_onnx_fused(model: torch.nn.Module, path: Path, seq_len: int, unfused: Path) -> dict:
    """export_onnx to `unfused`, then onnxruntime's offline attention fusion (bench/ort_fusion.py) to `path`.

    Returns the fusion's summary (recipe, fused node counts). A graph the fusion refuses or fails on is shipped
    unfused, the reason in the summary's `error` (the export check then runs on that graph as usual).
    """
    from bench import ort_fusion

    export_onnx(model, unfused, seq_len)
    try:
        return ort_fusion.fuse(unfused, path)
    except (
        Exception
    ) as err:  # the unfused graph is a correct artifact; say why it was not fused, here and in it
        shutil.copyfile(unfused, path)
        print(
            f"warning: {path.name}: onnxruntime's attention fusion failed ({type(err).__name__}: {err}); the "
            f"artifact is the plain export (slower; its records say so in offline_optimizations.error)",
            file=sys.stderr,
        )
        return {"recipe": ort_fusion.RECIPE, "error": f"{type(err).__name__}: {err}", "fused": {}}


def _fused_counts(path: Path) -> dict:
    import onnx

    from bench.ort_fusion import FUSED_OPS

    types = [n.op_type for n in onnx.load(str(path), load_external_data=False).graph.node]
    return {op: types.count(op) for op in FUSED_OPS + ("QAttention",) if types.count(op)}


def onnx_int8_settings(isa: tuple[str, ...] | list[str]) -> dict:
    """The first (fastest) quantize_dynamic settings for a CPU with these ISA features (records.machine.Machine.isa).

    Weights int8 per output channel (one scale per row: BERT's rows differ in range, so one tensor-wide scale
    wastes most of the 8 bits on most rows). Without an int8 dot-product instruction (VNNI/AMX), u8 x s8 products
    are summed pairwise in int16 by vpmaddubsw and can saturate; reduce_range=True keeps weights in 7 bits so they
    cannot (onnxruntime.ai docs, quantization, "When to use reduce_range").
    """
    from records.machine import has_int8_dot

    return {"weight_type": "QInt8", "per_channel": True, "reduce_range": not has_int8_dot(isa)}


def onnx_int8_candidates(isa: tuple[str, ...] | list[str]) -> list[dict]:
    """quantize_dynamic settings tried in order until the artifact passes its numerics check (accuracy-aware
    tuning, as Intel Neural Compressor and Olive do it): fastest first.

    1. onnx_int8_settings: every MatMul and the fused Attention (QAttention) int8;
    2. the same with the fused Attention node left fp32 (op_types_to_quantize MatMul only): measured on the SST-2
       reference run (AVX-512 VNNI/AMX, onnxruntime 1.32), QAttention put 6 of 17 models' logits over the int8
       bound (max abs err 0.18-0.34), MatMul-only 2 of 17;
    3. MatMul only with reduce_range (7-bit weights), which passed one of those two.
    """
    first = onnx_int8_settings(isa)
    out = [
        first,
        {**first, "op_types_to_quantize": ["MatMul"]},
        {**first, "op_types_to_quantize": ["MatMul"], "reduce_range": True},
    ]
    return [c for i, c in enumerate(out) if c not in out[:i]]


def quantize_onnx(src: Path, dst: Path, settings: dict) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    class _NoPreprocessAdvice(
        logging.Filter
    ):  # advice for static/CNN models, logged on every call; only it
        def filter(self, record: logging.LogRecord) -> bool:
            return not record.getMessage().startswith(
                "Please consider to run pre-processing before quantization"
            )

    drop = _NoPreprocessAdvice()
    logging.getLogger().addFilter(drop)
    try:
        quantize_dynamic(
            str(src),
            str(dst),
            weight_type=getattr(QuantType, settings["weight_type"]),
            per_channel=settings["per_channel"],
            reduce_range=settings["reduce_range"],
            op_types_to_quantize=settings.get("op_types_to_quantize"),
        )
    finally:
        logging.getLogger().removeFilter(drop)


def quantize_onnx_checked(
    model: torch.nn.Module, src: Path, dst: Path, seq_len: int, candidates: list[dict]
) -> tuple[dict, list[dict]]:
    """Quantize `src` into `dst` with the first of `candidates` whose artifact passes check(); (the settings kept,
    every attempt as {settings, max_abs_err, ok}). When none passes, the attempt with the smallest error is kept
    (and its record says it failed, as before)."""
    attempts, best = [], None
    for settings in candidates:
        trial = dst.with_name(f"try{len(attempts)}-{dst.name}")
        quantize_onnx(src, trial, settings)
        session_settings.write(trial)  # checked as it will be opened (the shipped session)
        verdict = _checked(model, "onnx-int8", trial, seq_len)
        session_settings.sidecar(trial).unlink()
        attempts.append(
            {"settings": settings, "max_abs_err": verdict["max_abs_err"], "ok": verdict["ok"]}
        )
        err = verdict["max_abs_err"] if verdict["max_abs_err"] is not None else float("inf")
        if best is None or err < best[0]:
            if best is not None:
                best[1].unlink(missing_ok=True)
            best = (err, trial, settings)
        else:
            trial.unlink(missing_ok=True)
        if verdict["ok"]:
            break
    best[1].replace(dst)
    return best[2], attempts


def export_tflite(model: torch.nn.Module, path: Path, seq_len: int, batch: int = 1) -> None:
    """litert-torch conversion at a static (batch, seq_len) int32 signature (the cache holds batch 1)."""
    import litert_torch
    import torch

    edge = litert_torch.convert(
        logits_only(model).eval(),
        sample_inputs(batch, seq_len, model.config.vocab_size, dtype=torch.int32),
    )
    edge.export(str(path))


def quantize_tflite(src: Path, dst: Path) -> None:
    from ai_edge_quantizer import quantizer, recipe

    q = quantizer.Quantizer(str(src))
    q.load_quantization_recipe(recipe.dynamic_wi8_afp32())
    q.quantize().export_model(str(dst), overwrite=True)


def check(model: torch.nn.Module, fmt: str, path: Path, seq_len: int, batch: int = 1) -> dict:
    """Max abs logit error of the artifact against torch on padded inputs, and whether it is within tolerance
    (a TFLite artifact at its static `batch`)."""
    import torch

    from devices.runner import load

    n = 2 if batch == 1 else batch
    ids, mask, tt = sample_inputs(n, seq_len, model.config.vocab_size, seed=1)
    with torch.no_grad():
        ref = model(ids, mask, tt).logits.numpy()
    base = fmt.removesuffix("-int8")
    run, version = load(CHECK_RUNNER[base], str(path), 1)
    rows = (
        [slice(0, n)]
        if base not in STATIC_SHAPE
        else [slice(i, i + batch) for i in range(0, n, batch)]
    )  # TFLite: its static batch; ExecuTorch: batch 1
    got = np.concatenate(
        [
            run(
                {
                    "input_ids": ids[r].numpy(),
                    "attention_mask": mask[r].numpy(),
                    "token_type_ids": tt[r].numpy(),
                }
            )
            for r in rows
        ]
    )
    err = float(np.abs(got - ref).max())
    tol = FP32_TOL if not fmt.endswith("int8") else INT8_REL_TOL * (1 + float(np.abs(ref).max()))
    if fmt in ("onnx", "openvino"):  # the dynamic axes must work too: a shorter sequence, batch 1
        short = sample_inputs(1, max(2, seq_len // 2), model.config.vocab_size, seed=2)
        with torch.no_grad():
            ref_short = model(*short).logits.numpy()
        got_short = run(
            {k: v.numpy() for k, v in zip(("input_ids", "attention_mask", "token_type_ids"), short)}
        )
        err = max(err, float(np.abs(got_short - ref_short).max()))
    return {
        "max_abs_err": err,
        "tolerance": tol,
        "ok": bool(err <= tol),
        "runtime_version": version,
        "argmax_agree": bool((got.argmax(-1) == ref.argmax(-1)).all()),
    }


EXPORTERS = {
    "onnx": ("torch", "onnx", "onnxscript", "onnxruntime"),
    "tflite": ("torch", "litert-torch"),
    "openvino": ("torch", "openvino"),
    "pte": ("torch", "executorch", "torchao"),
}
GRAPH = {"onnx": "onnxruntime.transformers BERT attention fusion (bench/ort_fusion.py), v2"}
QUANTIZERS = {
    "onnx-int8": ("onnxruntime",),
    "tflite-int8": ("ai-edge-quantizer",),
    "openvino-int8": ("nncf", "openvino"),
    "pte-int8": ("executorch", "torchao"),
}
CHECK_RUNTIMES = {
    "onnx": ("onnxruntime",),
    "tflite": ("ai-edge-litert",),
    "openvino": ("openvino",),
    "pte": ("executorch",),
}


def require_exporters(fmt: str) -> None:
    """Refuse `fmt` by name (ValueError with the pip command) when its exporter, quantizer or checker is absent."""
    from devices.optional import require

    base = fmt.removesuffix("-int8")
    dists = EXPORTERS[base] + QUANTIZERS.get(fmt, ()) + CHECK_RUNTIMES[base]
    require(tuple(dict.fromkeys(dists)), f"format {fmt!r}")


def export_key(fmt: str, isa: tuple[str, ...] | list[str], calibration=None) -> dict:
    """What decides the exported file: exporter (and quantizer) versions and the quantization settings (for
    openvino-int8 its calibration source, bench.openvino_export.Calibration; default synthetic)."""
    base = fmt.removesuffix("-int8")
    key = {"format": fmt, "exporters": package_versions(EXPORTERS[base] + QUANTIZERS.get(fmt, ()))}
    if base in GRAPH:
        key["graph"] = GRAPH[base]
    if fmt == "onnx-int8":
        key["quantization"] = {"try_in_order": onnx_int8_candidates(isa)}
    elif fmt == "tflite-int8":
        key["quantization"] = {"recipe": "ai_edge_quantizer dynamic_wi8_afp32"}
    elif fmt == "openvino-int8":
        from bench import openvino_export

        key["quantization"] = openvino_export.settings(calibration or openvino_export.Calibration())
    elif fmt == "pte-int8":
        from bench.executorch_export import QUANTIZATION

        key["quantization"] = QUANTIZATION
    return key


def check_key(fmt: str, isa: tuple[str, ...] | list[str]) -> dict:
    """What decides the numerics check's verdict: checking runtime's version, tolerances, and for int8 the CPU's
    kernel-choosing ISA features (int8 kernels differ between, e.g., AVX2 and AVX-512 VNNI)."""
    key = {
        "runtime": package_versions(CHECK_RUNTIMES[fmt.removesuffix("-int8")]),
        "fp32_tol": FP32_TOL,
        "int8_rel_tol": INT8_REL_TOL,
    }
    if fmt.endswith("int8"):
        key["isa"] = list(isa)
    return key


def _short_hash(d: dict) -> str:
    return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:10]


def artifact_path(
    cache: Path,
    sha: str,
    subnet_id: str,
    fmt: str,
    seq_len: int,
    key: dict | None = None,
    batch: int = 1,
) -> Path:
    """CACHE/<sha>/<subnet>/<fmt>-s<seq>[-b<batch>]-<hash of export_key>.<ext> (batch named when not 1)."""
    from records.machine import this_machine

    ext = EXTENSIONS[fmt.removesuffix("-int8")]
    key = key or export_key(fmt, this_machine().isa)
    shape = f"s{seq_len}" + (f"-b{batch}" if batch != 1 else "")
    return cache / sha / subnet_id / f"{fmt}-{shape}-{_short_hash(key)}{ext}"


def static_batch(fmt: str, batch: int) -> int:
    """The batch an artifact of `fmt` is exported at: `batch` for TFLite (static shapes), 1 for ONNX (its batch
    axis is dynamic). ValueError for a batch < 1."""
    if batch < 1:
        raise ValueError(f"--batch must be >= 1, got {batch}")
    return batch if fmt.startswith("tflite") else 1


def ensure_artifact(
    model,
    sha: str,
    subnet_id: str,
    fmt: str,
    seq_len: int,
    cache: Path | None = None,
    batch: int = 1,
    calibration=None,
) -> tuple[Path, dict]:
    """(path, metadata) of a checked artifact, exporting it (and its fp32 parent for int8) when not cached.

    `model` is the extracted module, or a function returning it (built only when an export is needed); `batch`:
    a TFLite artifact's static batch (static_batch; ONNX's and OpenVINO's batch axes are dynamic, ExecuTorch's is 1).
    `calibration` (openvino-int8 only): a bench.openvino_export.Calibration; default synthetic inputs.
    """
    import torch

    # dynabert is imported here, not at the top: the exporters (check, export_onnx, ...) must import in a process
    # without dynabert, as a remote-code sub-network's export does (tests/bench/test_export_remote_code.py)
    from dynabert.diskspace import writing
    from dynabert.limits import check_seq_len, input_limits
    from records.machine import this_machine

    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    require_exporters(fmt)
    cache = cache or default_cache()
    isa = this_machine().isa
    ekey, ckey = export_key(fmt, isa, calibration), check_key(fmt, isa)
    batch = static_batch(fmt, batch)
    path = artifact_path(cache, sha, subnet_id, fmt, seq_len, ekey, batch)
    meta_path = path.with_suffix(path.suffix + ".json")
    meta = _cached_meta(meta_path) if path.is_file() else None
    current = not fmt.startswith("onnx") or session_settings.is_current(path)
    if meta is not None and meta.get("check_key") == ckey and current:
        return path, meta
    model = (
        model() if callable(model) and not isinstance(model, torch.nn.Module) else model
    ).eval()
    check_seq_len(input_limits(model.config), seq_len, "--seq-len", f"sub-network {subnet_id}")
    if meta is None:  # not cached (or made by other exporters / settings): export
        path.parent.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        tmp = path.with_name("tmp-" + path.name)
        with writing(
            path.parent,
            f"the {fmt} export {path.name}",
            partial=tmp,
            fix=" or give another --output-dir",
        ):
            graph = export_to(
                model, fmt, tmp, path, sha, subnet_id, seq_len, cache, ekey, batch, calibration
            )
        _move(fmt, tmp, path)
        meta = {"export_s": round(time.perf_counter() - t0, 2), "graph_optimizations": graph}
    meta = {
        k: meta[k] for k in ("export_s", "graph_optimizations") if k in meta
    }  # the old verdict is dropped
    shipped = (
        session_settings.write(path, session_settings.recommended(meta.get("graph_optimizations")))
        if fmt.startswith("onnx")
        else None
    )  # checked as it will be opened
    meta.update(
        _checked(model, fmt, path, seq_len, batch),
        format=fmt,
        seq_len=seq_len,
        batch=batch,
        subnet_id=subnet_id,
        checkpoint_sha=sha,
        bytes=_size(path),
        torch_version=torch.__version__,
        export_key=ekey,
        check_key=ckey,
        quantization=(meta.get("graph_optimizations") or {}).get(
            "quantization", ekey.get("quantization")
        ),
        session_settings=shipped,
        delegation=(meta.get("graph_optimizations") or {}).get("delegation"),
    )
    if meta.get("error"):  # it could not run at all: never left in the cache as if usable
        path.unlink(missing_ok=True)
        meta["removed"] = f"{path.name} was deleted: it cannot run ({meta['error']})"
    with writing(path.parent, f"the metadata of {path.name}", fix=" or give another --output-dir"):
        meta_path.write_text(json.dumps(meta, indent=1))
    return path, meta


def _export_other(model, sha, subnet_id, fmt, seq_len, cache, tmp: Path, calibration) -> dict:
    """OpenVINO IR (bench/openvino_export.py) and ExecuTorch .pte (bench/executorch_export.py) exports; returns
    what the metadata's graph_optimizations keeps (int8 settings; the .pte's XNNPACK delegation)."""
    if fmt.startswith("openvino"):
        from bench import openvino_export

        if fmt == "openvino":
            openvino_export.export(model, tmp, seq_len)
            return {"converter": "openvino.convert_model (torch module)", "weights": "fp32"}
        parent, _ = ensure_artifact(model, sha, subnet_id, "openvino", seq_len, cache)
        calibration = calibration or openvino_export.Calibration()
        openvino_export.quantize(parent, tmp, model.config.vocab_size, seq_len, calibration)
        return {"quantization": openvino_export.settings(calibration)}
    from bench import executorch_export

    summary = executorch_export.export(model, tmp, seq_len, int8=fmt == "pte-int8")
    executorch_export.write_vocab(tmp, model, seq_len)
    out = {"lowering": "to_edge_transform_and_lower, XnnpackPartitioner", "delegation": summary}
    if fmt == "pte-int8":
        out["quantization"] = executorch_export.QUANTIZATION
    return out


def _move(fmt: str, tmp: Path, path: Path) -> None:
    """The finished export into its cache name (an IR's .bin and a .pte's vocabulary note with it)."""
    if fmt.startswith("openvino"):
        from bench.openvino_export import move

        move(tmp, path)
        return
    if fmt.startswith("pte"):
        from devices.inputs import pte_vocab_file

        pte_vocab_file(tmp).rename(pte_vocab_file(path))
    tmp.rename(path)


def _size(path: Path) -> int:
    if path.suffix == ".xml":
        from bench.openvino_export import size_bytes

        return size_bytes(path)
    return path.stat().st_size


def export_to(
    model,
    fmt: str,
    tmp: Path,
    path: Path,
    sha: str,
    subnet_id: str,
    seq_len: int,
    cache: Path,
    ekey: dict,
    batch: int = 1,
    calibration=None,
) -> dict | None:
    """Write the `fmt` artifact of `model` to `tmp` (int8: from its fp32 parent, made first); its graph notes.
    `batch`: a TFLite artifact's static batch."""
    graph = None
    if fmt == "onnx":
        graph = export_onnx_fused(model, tmp, seq_len, unfused_path(path))
    elif fmt == "tflite":
        export_tflite(model, tmp, seq_len, batch)
    elif fmt == "onnx-int8":
        parent, parent_meta = ensure_artifact(model, sha, subnet_id, "onnx", seq_len, cache)
        chosen, attempts = quantize_onnx_checked(
            model, parent, tmp, seq_len, ekey["quantization"]["try_in_order"]
        )
        graph = {
            **parent_meta.get("graph_optimizations", {}),
            "then": "quantize_dynamic " + json.dumps(chosen),
            "fused_after_quantization": _fused_counts(tmp),
            "quantization": chosen,
            "quantization_attempts": attempts,
        }
    elif fmt == "tflite-int8":
        parent, _ = ensure_artifact(model, sha, subnet_id, "tflite", seq_len, cache, batch)
        quantize_tflite(parent, tmp)
    else:
        graph = _export_other(model, sha, subnet_id, fmt, seq_len, cache, tmp, calibration)
    return graph


def _cached_meta(meta_path: Path) -> dict | None:
    """An artifact's saved metadata; None when absent or damaged (not a JSON object): then it is exported again."""
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def _checked(model: torch.nn.Module, fmt: str, path: Path, seq_len: int, batch: int = 1) -> dict:
    try:
        return check(model, fmt, path, seq_len, batch)
    except Exception as err:  # a corrupt or unrunnable artifact is a failed check, recorded as such
        return {
            "max_abs_err": None,
            "tolerance": None,
            "ok": False,
            "error": f"{type(err).__name__}: {err}",
        }


def source_subnet_id(config) -> str:
    """The sub-network id an extracted model was cut as: per layer when its config lists layers, else the grid's."""
    from dynabert.config import SubnetSpec
    from dynabert.subnet import LayerwiseSpec

    if getattr(config, "source_subnet", None):
        return LayerwiseSpec.from_json(config.source_subnet).subnet_id
    return SubnetSpec(config.source_width_mult, config.source_depth_mult).subnet_id


def model_dir(name: str) -> str:
    """A preset or hub id as given; a folder resolved as bench.sweep and dynabert evaluate do: a model directory
    itself, or a training output's latest finished stage (OUT/final|depth|width|teacher/best). ValueError when a
    folder holds no model."""
    from dynabert.evaluate import resolve_checkpoint

    return str(resolve_checkpoint(name)) if Path(name).is_dir() else name


def lengths_to_export(opts, model) -> tuple[int, ...]:
    """--buckets (checked: increasing, within the model's positions) or --seq-len alone (checked)."""
    from bench.workload import check_buckets, parse_ints
    from dynabert.limits import check_seq_len, input_limits

    limits = input_limits(model.config)
    if not opts.buckets:
        check_seq_len(limits, opts.seq_len, "--seq-len", opts.model)
        return (opts.seq_len,)
    return check_buckets(parse_ints(opts.buckets, "--buckets"), limits.max_seq_len, opts.model)


@dataclass(kw_only=True)
class ExportOptions:
    """`python -m bench.export`: one sub-network, exported to each format and checked against torch."""

    model: str = option(
        help="an extracted sub-network directory, or a checkpoint or training output (as bench.sweep) "
        "with --width/--depth or --subnet",
        group="model",
    )
    width: float | None = option(None, help="width multiplier (default 1.0)", group="sub-network")
    depth: float | None = option(None, help="depth multiplier (default 1.0)", group="sub-network")
    subnet: str | None = option(
        None,
        help="instead of --width/--depth: a sub-network id ('w0.50-d0.75', or per layer "
        '\'h12.6.0.3-f1536.768.0.384\') or its JSON {"heads": [...], "ffn": [...]}',
        group="sub-network",
    )
    formats: str = option(
        ",".join(DEFAULT_FORMATS),
        help=f"artifact formats to export and check, comma-separated, of {', '.join(FORMATS)}",
        group="artifacts",
    )
    seq_len: int = option(
        128, help="the artifacts' static sequence length", group="artifacts", min=1
    )
    batch: int = option(
        1,
        help="static batch of TFLite artifacts (ONNX's batch axis is dynamic)",
        group="artifacts",
        min=1,
    )
    buckets: str | None = option(
        None,
        help="comma-separated static lengths, smallest first (e.g. 16,32,64,128): one checked artifact "
        "per length instead of --seq-len (for bench.sweep --buckets; docs/workloads.md)",
        group="artifacts",
    )
    output_dir: str | None = option(
        None,
        help="artifact cache/output folder (default ~/.cache/dynabert-edge/artifacts)",
        group="artifacts",
    )


def build_parser():
    return argfields.command_parser(
        "python -m bench.export",
        "Export one sub-network to ONNX / TFLite (fp32, int8) and check each artifact against torch.",
        "python -m bench.export --model runs/sst2 --width 0.5 --depth 0.75 --formats onnx,onnx-int8",
        ExportOptions,
    )


def main(argv: list[str] | None = None) -> int:
    opts, _ = argfields.parse(build_parser(), argv)  # before torch loads: --help answers without it
    from dynabert.config import SubnetSpec
    from dynabert.evaluate import weights_sha
    from dynabert.extract import extract
    from dynabert.model import DynaBert
    from dynabert.presets import load_model
    from dynabert.subnet import canonical, parse_subnet

    try:
        if opts.subnet and (opts.width is not None or opts.depth is not None):
            raise ValueError("give --subnet or --width/--depth, not both")
        model = load_model(model_dir(opts.model))
        cut = opts.subnet or opts.width is not None or opts.depth is not None
        if model.config.model_type == "dynabert-pruned" and cut:
            raise ValueError(
                f"{opts.model} is an extracted sub-network already: leave out --subnet/--width/--depth "
                "(or give the checkpoint it was extracted from)"
            )
        if model.config.model_type != "dynabert-pruned":
            dyna = DynaBert(model)
            spec = canonical(
                parse_subnet(opts.subnet)
                if opts.subnet
                else SubnetSpec(opts.width or 1.0, opts.depth or 1.0),
                dyna.full_size,
            )
            sha, model = weights_sha(model), extract(dyna, spec)
            subnet = spec.subnet_id  # a grid point given per layer is cached under its grid id
        else:
            sha = weights_sha(model)
            subnet = source_subnet_id(model.config)
        cache = records.check_out_dir(opts.output_dir, "--output-dir") if opts.output_dir else None
        failed = []
        for fmt, length in [
            (f.strip(), n) for f in opts.formats.split(",") for n in lengths_to_export(opts, model)
        ]:
            path, meta = ensure_artifact(model, sha, subnet, fmt, length, cache, opts.batch)
            flag = "ok" if meta["ok"] else "FAILED CHECK"
            print(
                f"{fmt}: {path} ({meta['bytes'] / 2**20:.1f} MiB), max abs err {meta['max_abs_err']} "
                f"(tolerance {meta['tolerance']}): {flag}"
            )
            failed += (
                [] if meta["ok"] else [f"{fmt}: {meta.get('removed') or meta.get('error') or flag}"]
            )
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if failed:  # a failed numerics check never exits 0 (a script would go on with the artifact)
        print(
            f"error: {len(failed)} artifact(s) failed their check: {'; '.join(failed)}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
