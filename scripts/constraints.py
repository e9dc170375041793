"""Write constraints.txt: the installed version of every declared dependency (base and the CPU extras) and of
everything they pull, walked through importlib.metadata. Run it in the venv the tests passed in:
    .venv/bin/python scripts/constraints.py > constraints.txt
"""

from __future__ import annotations

import tomllib
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
NOT_PINNED_EXTRAS = ("gpu",)  # the GPU packages are chosen per machine (docs/getting-started.md)
# the CPU wheel's version, written without its +cpu local label (pip matches either)
TORCH_PIN = "2.13.0"
HEADER = (ROOT / "constraints.txt").read_text().split("\n\n")[0].splitlines()


def roots() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra, deps in project["optional-dependencies"].items():
        if extra not in NOT_PINNED_EXTRAS:
            reqs += deps
    return [Requirement(r) for r in reqs]


def closure(reqs: list[Requirement]) -> dict[str, tuple[str, str]]:
    seen: dict[str, tuple[str, str]] = {}
    stack = list(reqs)
    while stack:
        req = stack.pop()
        key = canonicalize_name(req.name)
        if key in seen:
            continue
        try:
            dist = distribution(req.name)
        except PackageNotFoundError:
            continue
        seen[key] = (dist.metadata["Name"], dist.version)
        for line in dist.requires or []:
            sub = Requirement(line)
            if sub.marker is None or sub.marker.evaluate({"extra": ""}):
                stack.append(sub)
    return seen


def main() -> None:
    print("\n".join(line for line in HEADER if line.startswith("#")))
    for _, (name, ver) in sorted(closure(roots()).items()):
        print(f"{name}=={TORCH_PIN if name == 'torch' else ver}")


if __name__ == "__main__":
    main()
