"""The console shows the project's output: two known import-time messages are dropped at their loggers, and
only those (anything else those loggers say, and the same torchao message on a CUDA torch, still shows)."""

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from dynabert import quiet

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_import_and_info_print_only_the_projects_output():
    proc = subprocess.run(
        [sys.executable, "-m", "dynabert", "info", "--model", "tiny"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        env={"PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert proc.stdout.startswith("tiny: sub-networks at batch 1, seq 128")


def test_only_the_known_messages_are_dropped(caplog, monkeypatch):
    quiet.install()
    quiet.install()  # idempotent: one filter per logger
    assert sum(isinstance(f, quiet._DropKnown) for f in logging.getLogger("torchao").filters) == 1
    ao, tree = logging.getLogger("torchao"), logging.getLogger("torch.utils._pytree")
    with caplog.at_level(logging.WARNING):
        ao.warning(
            "Failed to load /x/site-packages/torchao/_C_mxfp8.cpython-310-x86_64-linux-gnu.so: Could not load"
        )
        tree.warning(
            "%s is an Enum subclass and is now natively supported by torch.compile as an opaque value "
            "type. Calling register_constant() on Enum subclasses is deprecated",
            "<enum 'X'>",
        )
        ao.warning("Failed to load weights: disk full")
        tree.warning("some other pytree problem")
        monkeypatch.setattr(
            quiet, "_torch_has_cuda", lambda: True
        )  # on a CUDA torch the .so failure is a fault
        ao.warning(
            "Failed to load /x/site-packages/torchao/_C_cutlass_90a.abi3.so: libcudart missing"
        )
    shown = [r.getMessage() for r in caplog.records]
    assert shown == [
        "Failed to load weights: disk full",
        "some other pytree problem",
        "Failed to load /x/site-packages/torchao/_C_cutlass_90a.abi3.so: libcudart missing",
    ]
