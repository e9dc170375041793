"""`python -m devices list | check NAME | setup qemu-arm | prepare NAME`."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import argfields
from argfields import option
from devices import profiles
from devices.targets import target_for


@dataclass(kw_only=True)
class ListOptions:
    """`python -m devices list`: no options."""


@dataclass(kw_only=True)
class DeviceOptions:
    """`python -m devices check | prepare NAME`."""

    name: str = option(
        help="device profile name (python -m devices list)", group="device", flag="name"
    )


@dataclass(kw_only=True)
class SetupOptions:
    """`python -m devices setup NAME`."""

    name: str = option(
        help="the target to build", group="device", flag="name", choices=["qemu-arm"]
    )


def cmd_list(opts: ListOptions) -> int:
    for name, prof in sorted(profiles.load_all().items()):
        where = prof.get("host") or prof.get("serial") or ""
        print(
            f"{name:12s} {prof['kind']:10s} {prof.get('arch', ''):8s} threads {prof['threads']} "
            f"runtimes {','.join(prof.get('runtimes', []))} {where}  ({prof['path']})"
        )
    return 0


def cmd_setup(opts: SetupOptions) -> int:
    from devices.qemu_arm import setup

    print(f"qemu-arm ready in {setup()}")
    return 0


def cmd_prepare(opts: DeviceOptions) -> int:
    prof = profiles.get(opts.name)
    if prof["kind"] != "ssh":
        raise ValueError(f"prepare is for ssh devices; {opts.name} is {prof['kind']}")
    from devices.ssh import prepare

    prepare(prof)
    return cmd_check(opts)


def cmd_check(opts: DeviceOptions) -> int:
    ok, line = target_for(profiles.get(opts.name)).check()
    print(f"{opts.name}: {'ok' if ok else 'NOT READY'}: {line}")
    return 0 if ok else 1


def build_parser():
    ap = argfields.command_parser(
        "python -m devices",
        "Device profiles: list them, check one, build the emulated ARM target, prepare an SSH board.",
        "python -m devices list\npython -m devices check local-cpu",
    )
    sub = ap.add_subparsers(dest="command", required=True)
    for name, cls, run, summary, example in (
        ("list", ListOptions, cmd_list, "the device profiles", ""),
        (
            "check",
            DeviceOptions,
            cmd_check,
            "is a device reachable, and which runtimes does it have",
            " local-cpu",
        ),
        ("setup", SetupOptions, cmd_setup, "build the emulated ARM target", " qemu-arm"),
        (
            "prepare",
            DeviceOptions,
            cmd_prepare,
            "install the runtimes into an SSH device's workdir (pip)",
            " my-pi",
        ),
    ):
        argfields.add_command(sub, name, cls, run, summary, f"python -m devices {name}{example}")
    return ap


def main(argv: list[str] | None = None) -> int:
    opts, run = argfields.parse(build_parser(), argv)
    try:
        return run(opts)
    except (ValueError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
