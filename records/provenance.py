"""How and where a run measures: the git commit, the machine's identity (records.machine, read once per run) and
the time, as one records.schema.Provenance that every record of the run shares.

Must not import dynabert, bench, devices or recipes, nor torch (its version comes from package metadata).
"""

from __future__ import annotations

import datetime
import subprocess
from dataclasses import replace
from pathlib import Path

from records.machine import Machine, this_machine
from records.schema import Provenance


def now_utc() -> str:
    """The current UTC time as ISO 8601 to the second (the form of timestamp_utc)."""
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


HERE = Path(__file__).resolve().parent


def git_sha(where: Path = HERE) -> str | None:
    """The short (12 hex digit) commit of the checkout holding `where`; None outside a git checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=where,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def this_run(machine: Machine | None = None, env: dict | None = None) -> Provenance:
    """The provenance of a run starting now on `machine` (default: this machine, read here, once): git commit,
    torch version and CPU model from the machine's identity, the machine itself and `env`."""
    m = machine or this_machine()
    return Provenance(
        git_sha=git_sha(),
        torch_version=m.runtimes.get("torch"),
        cpu_model=m.cpu_model,
        timestamp_utc=now_utc(),
        machine=m.to_dict(),
        env=env or {},
    )


def stamp(prov: Provenance, **env) -> Provenance:
    """`prov` stamped now (timestamp_utc) with `env` added: the provenance of one record as it is written."""
    return replace(prov, timestamp_utc=now_utc(), env={**prov.env, **env})
