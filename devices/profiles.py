"""Device profiles (devices/profiles/*.toml, plus any folder in DYNABERT_DEVICES): where a model can run.

Must not import dynabert or bench.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

REQUIRED = {"ssh": ("host",), "adb": ("benchmark_binary",)}
BUILTIN = Path(__file__).with_name("profiles")


def folders() -> list[Path]:
    extra = [
        Path(p).expanduser() for p in os.environ.get("DYNABERT_DEVICES", "").split(os.pathsep) if p
    ]
    return [*extra, BUILTIN]


def load_all() -> dict[str, dict]:
    """{name: profile}; a user folder's profile overrides a built-in one of the same name."""
    out: dict[str, dict] = {}
    for folder in reversed(folders()):
        for path in sorted(folder.glob("*.toml")):
            with open(path, "rb") as f:
                try:
                    profile = tomllib.load(f)
                except tomllib.TOMLDecodeError as err:
                    raise ValueError(f"device profile {path} is not valid TOML: {err}") from None
            profile.setdefault("name", path.stem)
            profile["path"] = str(path)
            validate(profile)
            out[profile["name"]] = profile
    return out


def validate(profile: dict) -> None:
    from devices.targets import TARGETS

    kind = profile.get("kind")
    if kind not in TARGETS:
        raise ValueError(
            f"device profile {profile.get('path')}: kind {kind!r} is not one of {tuple(TARGETS)}"
        )
    missing = [k for k in REQUIRED.get(kind, ()) if not profile.get(k)]
    if missing:
        raise ValueError(f"device profile {profile.get('path')}: kind {kind} needs {missing}")
    runtimes = profile.get("runtimes")
    if runtimes is not None and not (
        isinstance(runtimes, list) and all(isinstance(r, str) for r in runtimes)
    ):
        raise ValueError(
            f"device profile {profile.get('path')}: runtimes must be a list of runtime names"
        )
    threads = profile.setdefault("threads", [1])
    if not isinstance(threads, list) or not all(isinstance(t, int) and t > 0 for t in threads):
        raise ValueError(
            f"device profile {profile.get('path')}: threads must be a list of positive ints"
        )


def get(name: str) -> dict:
    profiles = load_all()
    if name not in profiles:
        raise ValueError(
            f"no device profile {name!r}; known: {', '.join(sorted(profiles))} (add one as "
            f"devices/profiles/{name}.toml or in a folder named by DYNABERT_DEVICES)"
        )
    return profiles[name]
