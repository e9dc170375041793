"""The models a sweep measures: each loaded once with its weights' hash, sub-networks extracted on demand, and
the artifact each runtime times (torch: the extracted model saved with save_pretrained; others: bench.export).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import dynabert
from bench.cache import default_cache
from dynabert.config import ARCHITECTURES
from dynabert.limits import InputLimits, input_limits

if (
    TYPE_CHECKING
):  # bench.export imports this module and must work without dynabert (remote-code exports)
    from dynabert.subnet import AnySpec


@dataclass
class LoadedModel:
    """A model of a sweep with its weights' hash. The model itself (`dyna`, a DynaBert) is built on first use, so
    a sweep whose cells are all measured never builds a preset whose hash is cached; sub-networks are extracted on
    demand."""

    name: str
    sha: str
    build: Callable[[], object]
    _dyna: object | None = field(default=None, repr=False)
    extracted: dict = field(default_factory=dict)

    @property
    def dyna(self):
        if self._dyna is None:
            self._dyna = self.build()
        return self._dyna

    def release(self) -> None:
        """Drop the built model and its extracted sub-network (built again on next use): one model in memory."""
        self._dyna, self.extracted = None, {}

    def full_size(self):
        """The full model's BertSize (a preset's from its table, without building it)."""
        return (
            ARCHITECTURES[self.name]
            if self._dyna is None and self.name in ARCHITECTURES
            else self.dyna.full_size
        )

    def limits(self):
        """The model's InputLimits (a preset's from its table, without building it)."""

        if self._dyna is None and self.name in ARCHITECTURES:
            size = self.full_size()
            return InputLimits(size.vocab_size, size.type_vocab_size, size.max_positions)
        return input_limits(self.dyna.hf.config)

    def sub(self, spec: AnySpec):
        from dynabert.extract import extract

        if spec not in self.extracted:
            self.extracted = {
                spec: extract(self.dyna, spec)
            }  # keep one: BERT-base copies are large
        return self.extracted[spec]


def model_size(name: str):
    """The BertSize of a sweep's model (preset, checkpoint or training output), from its table or config.json only:
    what its sub-networks are checked against before any model is built. ValueError for an extracted sub-network."""
    if name in ARCHITECTURES:  # a preset's shape from its table: a warm sweep imports no torch
        return ARCHITECTURES[name]
    from dynabert.evaluate import resolve_checkpoint
    from dynabert.presets import PRESETS, load_size

    return load_size(name if name in PRESETS else str(resolve_checkpoint(name)))


def preset_key(name: str, seed: int = 0) -> dict:
    """What decides a random-weight preset's weights: its architecture (BertSize), the seed, the code that builds
    it (dynabert/presets.py, hashed) and the torch and transformers versions (initialisers, RNG). Reads package
    metadata and one file; imports neither torch nor transformers."""
    from records.machine import package_versions

    code = Path(dynabert.__file__).with_name("presets.py").read_bytes()
    return {
        "preset": name,
        "size": ARCHITECTURES[name].to_dict(),
        "num_labels": 2,
        "seed": seed,
        "builder_sha256": hashlib.sha256(code).hexdigest(),
        **package_versions(("torch", "transformers")),
    }


def preset_sha_file(cache: Path, name: str, key: dict) -> Path:
    """CACHE/preset-sha/<name>-<hash of preset_key>.json (beside the artifacts' <sha>/ folders)."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    return cache / "preset-sha" / f"{name}-{digest}.json"


def _build(name: str):
    from dynabert.evaluate import resolve_checkpoint
    from dynabert.model import DynaBert
    from dynabert.presets import PRESETS, load_model

    hf = load_model(name if name in PRESETS else str(resolve_checkpoint(name)))
    if hf.config.model_type == "dynabert-pruned":
        raise ValueError(
            f"{name!r} is an extracted sub-network; sweep the checkpoint it came from "
            f"(or use python -m bench.export on it)"
        )
    return DynaBert(hf)


def _build_matching(name: str, sha: str, cached: Path):
    """Build a preset whose hash came from the cache; a build with other weights is refused (and the stale entry
    removed), never measured under the cached hash."""
    from dynabert.evaluate import weights_sha

    dyna = _build(name)
    if (built := weights_sha(dyna.hf)) != sha:
        cached.unlink(missing_ok=True)
        raise ValueError(
            f"preset {name!r} built here has weights {built}, not the cached {sha} "
            f"({cached}); the stale entry is removed: run the command again"
        )
    return dyna


def load(name: str, cache: Path | None = None) -> LoadedModel:
    """`name` (preset, checkpoint or training output) with its weights' hash. A random-weight architecture
    preset's hash is cached under `cache` (default_cache()) by preset_key: once cached, the model is only
    built when a cell needs it. Raises ValueError for an extracted sub-network."""
    stored = (
        preset_sha_file(cache or default_cache(), name, preset_key(name))
        if name in ARCHITECTURES
        else None
    )
    if stored is not None and stored.is_file():
        try:
            sha = json.loads(stored.read_text())["sha"]
            return LoadedModel(name, sha, lambda: _build_matching(name, sha, stored))
        except (json.JSONDecodeError, KeyError, TypeError):
            pass  # a damaged entry: build and write it again
    from dynabert.evaluate import weights_sha

    dyna = _build(name)
    sha = weights_sha(dyna.hf)
    if stored is not None:
        stored.parent.mkdir(parents=True, exist_ok=True)
        tmp = stored.with_name(
            f"{stored.name}.{os.getpid()}.tmp"
        )  # export workers may write it at once
        tmp.write_text(json.dumps({"sha": sha, "key": preset_key(name)}, indent=1))
        tmp.replace(stored)
    return LoadedModel(name, sha, lambda: _build(name), dyna)


def torch_artifact(model: LoadedModel, spec: AnySpec, cache: Path) -> tuple[Path, dict]:
    """The extracted model saved with save_pretrained, its modeling code beside it (what the torch runtime loads
    through transformers); a cached directory saved before the code travelled with it is saved again."""
    path = cache / model.sha / spec.subnet_id / "torch"
    config = path / "config.json"
    if not config.is_file() or "auto_map" not in json.loads(config.read_text()):
        tmp = path.with_name("torch.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        model.sub(spec).save_pretrained(tmp)
        shutil.rmtree(path, ignore_errors=True)
        tmp.rename(path)
    size = sum(f.stat().st_size for f in path.glob("*.safetensors"))
    return path, {"ok": True, "max_abs_err": 0.0, "bytes": size}


def artifact_for(
    model: LoadedModel,
    spec: AnySpec,
    fmt: str,
    seq_len: int,
    cache: Path | None,
    batch: int = 1,
) -> tuple[Path, dict]:
    """A sub-network's checked artifact (a TFLite one at static `batch`); the sub-network is only extracted when
    the artifact must be exported."""
    from bench.export import ensure_artifact

    cache = cache or default_cache()
    if fmt == "torch":
        return torch_artifact(model, spec, cache)
    return ensure_artifact(
        lambda: model.sub(spec), model.sha, spec.subnet_id, fmt, seq_len, cache, batch
    )
