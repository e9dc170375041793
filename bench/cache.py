"""Where exported artifacts (and cached preset hashes) are kept: one folder, shared by bench.artifacts and
bench.export. A leaf: imports nothing of the project.
"""

from __future__ import annotations

import os
from pathlib import Path


def default_cache() -> Path:
    """The artifact cache: $DYNABERT_CACHE/artifacts, default ~/.cache/dynabert-edge/artifacts."""
    return (
        Path(os.environ.get("DYNABERT_CACHE", Path.home() / ".cache" / "dynabert-edge"))
        / "artifacts"
    )
