"""Export an extracted sub-network to ONNX (fp32, int8) and TFLite (fp32, int8), check it, cache it.

Every artifact is run on padded random inputs and compared with the torch model; the max abs logit error is
stored beside it, and one over tolerance is marked `ok: false` (the sweep records it as an error, never times it).
Tolerances: fp32 1e-4 absolute. int8 (dynamic, weights int8, activations fp32): 0.05 * (1 + max|torch logit|),
i.e. 5% of the logit scale plus 0.05; random-weight models show 1e-2..4e-2 (notes/export-pruned.md).
ONNX artifacts ship the onnxruntime session settings they are checked and timed with beside them
(`<artifact>.session.json`, bench/session_settings.py).
Cache key: (checkpoint sha, sub-network id, format, seq len) -> CACHE/<sha>/<subnet>/<format>-s<seq>.<ext>.
`python -m bench.export --model SUB_OR_CHECKPOINT --formats ... --seq-len 128 --output-dir ART`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

from bench import session_settings

FORMATS = ("onnx", "onnx-int8", "tflite", "tflite-int8")
FP32_TOL = 1e-4
INT8_REL_TOL = 0.05


class LogitsOnly(torch.nn.Module):
    """(input_ids, attention_mask, token_type_ids) -> logits: the signature every artifact has."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask, token_type_ids):
        return self.model(input_ids, attention_mask, token_type_ids)


def default_cache() -> Path:
    return Path(os.environ.get("DYNABERT_CACHE", Path.home() / ".cache" / "dynabert-edge")) / "artifacts"


def sample_inputs(batch: int, seq_len: int, vocab: int, seed: int = 0, dtype=torch.long) -> tuple[torch.Tensor, ...]:
    """Random ids from the model's vocabulary (the runner's range, devices.runner.token_id_range); row 1 (if any)
    half padded, so a baked-in mask would show up as an error. Token types 0, valid for every type vocabulary."""
    from devices.runner import token_id_range

    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(*token_id_range(vocab), (batch, seq_len), generator=g)
    mask = torch.ones_like(ids)
    if batch > 1:
        mask[1, seq_len // 2:] = 0
        ids[1, seq_len // 2:] = 0
    return ids.to(dtype), mask.to(dtype), torch.zeros_like(ids).to(dtype)


def export_onnx(model: torch.nn.Module, path: Path, seq_len: int) -> None:
    """Dynamo export, opset 18, dynamic batch and sequence axes, weights inside the file."""
    from torch.export import Dim

    batch, seq = Dim("batch", min=1, max=64), Dim("seq", min=2, max=model.config.max_position_embeddings)
    axes = {0: batch, 1: seq}
    torch.onnx.export(LogitsOnly(model).eval(), sample_inputs(2, seq_len, model.config.vocab_size), str(path),
                      dynamo=True, opset_version=18, input_names=["input_ids", "attention_mask", "token_type_ids"],
                      output_names=["logits"], external_data=False, verbose=False,
                      dynamic_shapes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes})


def quantize_onnx(src: Path, dst: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8)


def export_tflite(model: torch.nn.Module, path: Path, seq_len: int, batch: int = 1) -> None:
    """litert-torch conversion at a static (batch, seq_len) int32 signature (the cache holds batch 1)."""
    import litert_torch

    edge = litert_torch.convert(LogitsOnly(model).eval(), sample_inputs(batch, seq_len, model.config.vocab_size,
                                                                          dtype=torch.int32))
    edge.export(str(path))


def quantize_tflite(src: Path, dst: Path) -> None:
    from ai_edge_quantizer import quantizer, recipe

    q = quantizer.Quantizer(str(src))
    q.load_quantization_recipe(recipe.dynamic_wi8_afp32())
    q.quantize().export_model(str(dst), overwrite=True)


def check(model: torch.nn.Module, fmt: str, path: Path, seq_len: int) -> dict:
    """Max abs logit error of the artifact against torch on padded inputs, and whether it is within tolerance."""
    from devices.runner import load

    ids, mask, tt = sample_inputs(2, seq_len, model.config.vocab_size, seed=1)
    with torch.no_grad():
        ref = model(ids, mask, tt).numpy()
    run, version = load("litert" if fmt.startswith("tflite") else "onnxruntime", str(path), 1)
    rows = [slice(0, 2)] if fmt.startswith("onnx") else [slice(0, 1), slice(1, 2)]  # TFLite: static batch 1
    got = np.concatenate([run({"input_ids": ids[r].numpy(), "attention_mask": mask[r].numpy(),
                               "token_type_ids": tt[r].numpy()}) for r in rows])
    err = float(np.abs(got - ref).max())
    tol = FP32_TOL if not fmt.endswith("int8") else INT8_REL_TOL * (1 + float(np.abs(ref).max()))
    if fmt == "onnx":  # the dynamic axes must work too: a shorter sequence, batch 1
        short = sample_inputs(1, max(2, seq_len // 2), model.config.vocab_size, seed=2)
        with torch.no_grad():
            ref_short = model(*short).numpy()
        got_short = run({k: v.numpy() for k, v in zip(("input_ids", "attention_mask", "token_type_ids"), short)})
        err = max(err, float(np.abs(got_short - ref_short).max()))
    return {"max_abs_err": err, "tolerance": tol, "ok": bool(err <= tol), "runtime_version": version,
            "argmax_agree": bool((got.argmax(-1) == ref.argmax(-1)).all())}


def artifact_path(cache: Path, sha: str, subnet_id: str, fmt: str, seq_len: int) -> Path:
    ext = ".onnx" if fmt.startswith("onnx") else ".tflite"
    return cache / sha / subnet_id / f"{fmt}-s{seq_len}{ext}"


def ensure_artifact(model, sha: str, subnet_id: str, fmt: str, seq_len: int,
                    cache: Path | None = None) -> tuple[Path, dict]:
    """(path, metadata) of a checked artifact, exporting it (and its fp32 parent for int8) when not cached.

    `model` is the extracted module, or a function returning it (built only when an export is needed).
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    cache = cache or default_cache()
    path = artifact_path(cache, sha, subnet_id, fmt, seq_len)
    meta_path = path.with_suffix(path.suffix + ".json")
    if path.is_file() and meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        if not fmt.startswith("onnx") or session_settings.is_current(path):
            return path, meta
        return path, recheck_with_session_settings(model, fmt, path, seq_len, meta)
    path.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    tmp = path.with_name("tmp-" + path.name)
    model = (model() if callable(model) and not isinstance(model, torch.nn.Module) else model).eval()
    if fmt == "onnx":
        export_onnx(model, tmp, seq_len)
    elif fmt == "tflite":
        export_tflite(model, tmp, seq_len)
    else:
        parent, _ = ensure_artifact(model, sha, subnet_id, fmt.removesuffix("-int8"), seq_len, cache)
        (quantize_onnx if fmt == "onnx-int8" else quantize_tflite)(parent, tmp)
    export_s = time.perf_counter() - t0
    shipped = session_settings.write(tmp) if fmt.startswith("onnx") else None  # checked as it will be opened
    try:
        meta = check(model, fmt, tmp, seq_len)
    except Exception as err:  # a corrupt or unrunnable artifact is a failed check, recorded as such
        meta = {"max_abs_err": None, "tolerance": None, "ok": False, "error": f"{type(err).__name__}: {err}"}
    meta.update(format=fmt, seq_len=seq_len, subnet_id=subnet_id, checkpoint_sha=sha, bytes=tmp.stat().st_size,
                export_s=round(export_s, 2), torch_version=torch.__version__, session_settings=shipped)
    if shipped:
        session_settings.sidecar(tmp).rename(session_settings.sidecar(path))
    tmp.rename(path)
    meta_path.write_text(json.dumps(meta, indent=1))
    return path, meta


def recheck_with_session_settings(model, fmt: str, path: Path, seq_len: int, meta: dict) -> dict:
    """A cached ONNX artifact from before its session settings were shipped (or with other settings): write the
    current sidecar and check the numerics again as it will now be opened; the metadata is updated in place."""
    model = (model() if callable(model) and not isinstance(model, torch.nn.Module) else model).eval()
    shipped = session_settings.write(path)
    try:
        meta.update(check(model, fmt, path, seq_len))
    except Exception as err:
        meta.update(max_abs_err=None, ok=False, error=f"{type(err).__name__}: {err}")
    meta["session_settings"] = shipped
    path.with_suffix(path.suffix + ".json").write_text(json.dumps(meta, indent=1))
    return meta


def main(argv: list[str] | None = None) -> int:
    from dynabert.config import SubnetSpec
    from dynabert.evaluate import weights_sha
    from dynabert.extract import extract
    from dynabert.model import DynaBert
    from dynabert.presets import load_model

    ap = argparse.ArgumentParser(prog="python -m bench.export", description="export and check one sub-network")
    ap.add_argument("--model", required=True, help="an extracted sub-network directory, or a checkpoint with --width/--depth")
    ap.add_argument("--width", type=float, default=1.0)
    ap.add_argument("--depth", type=float, default=1.0)
    ap.add_argument("--formats", default=",".join(FORMATS))
    ap.add_argument("--seq-len", type=int, default=128)
    ap.add_argument("--output-dir", help="artifact cache/output folder (default ~/.cache/dynabert-edge/artifacts)")
    args = ap.parse_args(argv)
    try:
        model = load_model(args.model)
        if model.config.model_type != "dynabert-pruned":
            dyna = DynaBert(model)
            sha, model = weights_sha(model), extract(dyna, SubnetSpec(args.width, args.depth))
            subnet = SubnetSpec(args.width, args.depth).subnet_id
        else:
            sha = weights_sha(model)
            subnet = SubnetSpec(model.config.source_width_mult, model.config.source_depth_mult).subnet_id
        cache = Path(args.output_dir) if args.output_dir else None
        for fmt in args.formats.split(","):
            path, meta = ensure_artifact(model, sha, subnet, fmt.strip(), args.seq_len, cache)
            flag = "ok" if meta["ok"] else "FAILED CHECK"
            print(f"{fmt}: {path} ({meta['bytes'] / 2**20:.1f} MiB), max abs err {meta['max_abs_err']} "
                  f"(tolerance {meta['tolerance']}): {flag}")
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
