"""The onnxruntime session settings shipped beside every ONNX artifact (`<artifact>.session.json`).

onnxruntime's CPU graph optimizer fuses each residual `Add` + `LayerNormalization` of this project's export into
the contrib op `SkipLayerNormalization`, whose fp32 CPU kernel is several times slower than the two nodes it
replaces (a scalar loop; docs/ort-skiplayernorm.md has the one-node reproduction, versions and CPU). The artifact
therefore ships "onnxruntime's default session, SkipLayerNormFusion disabled", which the runner
(devices/runner.py `session_settings`) opens by default and every latency record names in `env.session_options`.
A user reproduces it in one line:
`onnxruntime.InferenceSession(path, disabled_optimizers=["SkipLayerNormFusion"])`.
The sidecar also says what the file itself went through before any session (`offline_optimizations`: the
attention fusion of bench/ort_fusion.py, and for int8 the quantization after it); the runner copies that into
every record's `env.session_options`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from devices.runner import SESSION_SUFFIX

WHY_SKIP_LN = (
    "onnxruntime's fused SkipLayerNormalization CPU kernel (fp32) is several times slower than the "
    "Add + LayerNormalization it replaces; docs/ort-skiplayernorm.md"
)


@dataclass(frozen=True)
class SessionSettings:
    """What a session of the artifact should run with: onnxruntime's GraphOptimizationLevel name, the graph
    optimizers to disable (onnxruntime's `disabled_optimizers` names), the execution provider they are for,
    why, the onnxruntime version they were chosen under, and the offline graph optimizations already applied to
    the file (bench/ort_fusion.py fuse()'s summary; empty: none)."""

    graph_optimization_level: str = "ORT_ENABLE_ALL"
    disabled_optimizers: tuple[str, ...] = ("SkipLayerNormFusion",)
    execution_provider: str = "CPUExecutionProvider"
    why: str = WHY_SKIP_LN
    chosen_with: dict = field(default_factory=dict)
    offline_optimizations: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {**asdict(self), "disabled_optimizers": list(self.disabled_optimizers)}


def recommended(offline: dict | None = None) -> SessionSettings:
    """The settings this project ships: onnxruntime's default with SkipLayerNormFusion disabled; `offline`: the
    graph optimizations already in the file."""
    import onnxruntime

    return SessionSettings(
        chosen_with={"onnxruntime": onnxruntime.__version__}, offline_optimizations=offline or {}
    )


def sidecar(artifact: Path) -> Path:
    return artifact.with_name(artifact.name + SESSION_SUFFIX)


def write(artifact: Path, settings: SessionSettings | None = None) -> dict:
    """Write `<artifact>.session.json`; returns what was written."""
    data = (settings or recommended()).to_json()
    sidecar(artifact).write_text(json.dumps(data, indent=1))
    return data


def is_current(artifact: Path) -> bool:
    """Whether the artifact's sidecar exists and names the settings this project ships now."""
    path = sidecar(artifact)
    if not path.is_file():
        return False
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return False
    if not isinstance(
        data, dict
    ):  # damaged (e.g. `[]`): not current, so the export writes it again
        return False
    want = recommended().to_json()
    return all(
        data.get(k) == want[k]
        for k in ("graph_optimization_level", "disabled_optimizers", "execution_provider")
    )
