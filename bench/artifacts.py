"""The models a sweep measures: each loaded once with its weights' hash, sub-networks extracted on demand, and
the artifact each runtime times (torch: the extracted model saved with save_pretrained; others: bench.export).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from dynabert.subnet import AnySpec


@dataclass
class LoadedModel:
    """A model loaded once per sweep, with its hash; sub-networks extracted on demand."""

    name: str
    dyna: object
    sha: str
    extracted: dict = field(default_factory=dict)

    def sub(self, spec: AnySpec):
        from dynabert.extract import extract

        if spec not in self.extracted:
            self.extracted = {spec: extract(self.dyna, spec)}  # keep one: BERT-base copies are large
        return self.extracted[spec]


def load(name: str) -> LoadedModel:
    from dynabert.evaluate import weights_sha
    from dynabert.model import DynaBert
    from dynabert.presets import PRESETS, load_model
    from dynabert.train_cli import resolve_checkpoint

    path = name if name in PRESETS else str(resolve_checkpoint(name))
    hf = load_model(path)
    if hf.config.model_type == "dynabert-pruned":
        raise ValueError(f"{name!r} is an extracted sub-network; sweep the checkpoint it came from "
                         f"(or use python -m bench.export on it)")
    return LoadedModel(name, DynaBert(hf), weights_sha(hf))


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


def artifact_for(model: LoadedModel, spec: AnySpec, fmt: str, seq_len: int, cache: Path | None) -> tuple[Path, dict]:
    """A sub-network's checked artifact; the sub-network is only extracted when the artifact must be exported."""
    from bench.export import default_cache, ensure_artifact

    cache = cache or default_cache()
    if fmt == "torch":
        return torch_artifact(model, spec, cache)
    return ensure_artifact(lambda: model.sub(spec), model.sha, spec.subnet_id, fmt, seq_len, cache)
