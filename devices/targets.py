"""Every kind of device target, looked up in one table: kind -> class taking the device profile.

Each target has `kind`, `check() -> (usable, one line)`, `plan(request) -> request` (how this kind measures:
identity except the emulated target, which counts instructions) and `run(request) -> RunResult`; it honours every
field of the request or refuses it by name (RunResult.refused). Adding a kind: one module with its class and one
row here. Must not import dynabert or bench.
"""

from __future__ import annotations

from typing import Protocol

from devices.adb import Adb
from devices.cuda import Cuda
from devices.local import LocalCpu
from devices.qemu_arm import QemuArm
from devices.request import RunRequest, RunResult
from devices.ssh import Ssh


class Target(Protocol):
    kind: str
    profile: dict

    def check(self) -> tuple[bool, str]: ...

    def plan(self, request: RunRequest) -> RunRequest: ...

    def run(self, request: RunRequest) -> RunResult: ...


TARGETS: dict[str, type] = {
    "local-cpu": LocalCpu,
    "cuda": Cuda,
    "qemu-arm": QemuArm,
    "ssh": Ssh,
    "adb": Adb,
}


def target_for(profile: dict) -> Target:
    """The target of a device profile (devices/profiles.py); ValueError naming an unknown kind."""
    kind = profile.get("kind")
    if kind not in TARGETS:
        raise ValueError(
            f"device {profile.get('name')!r}: kind {kind!r} is not one of {', '.join(TARGETS)}"
        )
    return TARGETS[kind](profile)
