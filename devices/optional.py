"""The optional runtimes and exporters: which extra of dynabert-edge installs each, and the refusal that names it.

One declaration (EXTRA) for every message that says "install X"; pyproject.toml's
[project.optional-dependencies] holds the same names (tests/test_packaging.py checks the two agree).
Must not import dynabert or bench (bench imports it).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

# distribution (pip name) -> the extra of dynabert-edge that installs it
EXTRA = {
    "onnxruntime": "cpu",
    "onnxruntime-gpu": "gpu",
    "litert-torch": "tflite",
    "ai-edge-litert": "tflite",
    "ai-edge-quantizer": "tflite",
    "datasets": "hub",
}
# a distribution -> others that install the same module (either one will do)
SAME_MODULE = {"onnxruntime": ("onnxruntime-gpu",), "ai-edge-litert": ("tflite-runtime",)}


def install_hint(dist: str) -> str:
    """The pip command that installs `dist`: its dynabert-edge extra where it has one, else the package."""
    extra = EXTRA.get(dist)
    if extra is None:
        return f"pip install {dist}"
    return f"pip install 'dynabert-edge[{extra}]' (or: pip install {dist})"


def missing(dists: tuple[str, ...] | list[str]) -> list[str]:
    """The distributions of `dists` not installed in this environment."""
    return [d for d in dists if not any(_installed(n) for n in (d, *SAME_MODULE.get(d, ())))]


def _installed(dist: str) -> bool:
    try:
        version(dist)
    except PackageNotFoundError:
        return False
    return True


def require(dists: tuple[str, ...] | list[str], what: str) -> None:
    """Raise ValueError naming `what`, each missing distribution and its pip command, when any is absent."""
    absent = missing(dists)
    if absent:
        hints = "; ".join(f"{d}: {install_hint(d)}" for d in absent)
        raise ValueError(f"{what} needs {', '.join(absent)}, not installed here ({hints})")
