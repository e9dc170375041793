"""`python -m devices list | check NAME | setup qemu-arm | prepare NAME`."""

from __future__ import annotations

import argparse
import sys

from devices import profiles
from devices.targets import target_for


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m devices", description=__doc__)
    sub = ap.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="the device profiles")
    c = sub.add_parser("check", help="is a device reachable, and which runtimes does it have")
    c.add_argument("name")
    s = sub.add_parser("setup", help="build the emulated ARM target")
    s.add_argument("name", choices=["qemu-arm"])
    p = sub.add_parser("prepare", help="install the runtimes into an SSH device's workdir (pip)")
    p.add_argument("name")
    args = ap.parse_args(argv)
    try:
        if args.command == "list":
            for name, prof in sorted(profiles.load_all().items()):
                where = prof.get("host") or prof.get("serial") or ""
                print(
                    f"{name:12s} {prof['kind']:10s} {prof.get('arch', ''):8s} threads {prof['threads']} "
                    f"runtimes {','.join(prof.get('runtimes', []))} {where}  ({prof['path']})"
                )
            return 0
        if args.command == "setup":
            from devices.qemu_arm import setup

            print(f"qemu-arm ready in {setup()}")
            return 0
        prof = profiles.get(args.name)
        if args.command == "prepare":
            if prof["kind"] != "ssh":
                raise ValueError(f"prepare is for ssh devices; {args.name} is {prof['kind']}")
            from devices.ssh import prepare

            prepare(prof)
        ok, line = target_for(prof).check()
        print(f"{args.name}: {'ok' if ok else 'NOT READY'}: {line}")
        return 0 if ok else 1
    except (ValueError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
