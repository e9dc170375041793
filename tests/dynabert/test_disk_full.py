"""A full disk while a checkpoint, best/ or a record is written (pytorch#10577): one message naming the disk's
folder and the space needed, the previous checkpoint and the store left whole, and the same command resumes once
space is freed. On a real small tmpfs (needs root to mount; skipped otherwise)."""

import os
import subprocess
from pathlib import Path

import pytest

import records
from dynabert.cli import main
from dynabert.config import SubnetSpec
from dynabert.diskspace import folder_bytes
from dynabert.engine import CHECKPOINT_MARK
from tests.bench.test_pareto import acc


def teacher(sst2, out, rows):
    return [
        "train",
        "--task",
        "sst2",
        "--data-dir",
        sst2,
        "--model",
        "tiny",
        "--output-dir",
        str(out),
        "--stage",
        "teacher",
        "--max-train-samples",
        str(rows),
        "--max-eval-samples",
        "16",
        "--batch-size",
        "16",
        "--epochs",
        "1",
        "--eval-every",
        "0",
        "--save-every",
        "1",
    ]


@pytest.fixture
def small_disk(tmp_path):
    """mount(size) -> a folder on a tmpfs of `size` bytes, unmounted at the end."""
    folder = tmp_path / "disk"
    folder.mkdir()
    mounted = []

    def mount(size: int) -> Path:
        if os.geteuid() != 0:
            pytest.skip("mounting a small tmpfs needs root")
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounted.append(folder)
        return folder

    yield mount
    for f in mounted:
        subprocess.run(["umount", str(f)], check=False)


def test_full_disk_during_a_checkpoint_names_the_folder_and_keeps_the_last_one(
    tmp_path, sst2_dir, small_disk, capsys
):
    """Before: `RuntimeError: [enforce fail at inline_container.cc:672] . unexpected pos 8173888 vs 8173776`."""
    ref = tmp_path / "ref"
    assert main(teacher(sst2_dir, ref, 32)) == 0  # 2 steps: a checkpoint at step 1, then best/
    checkpoint = folder_bytes(ref / "teacher" / "checkpoint")
    disk = small_disk(
        checkpoint + checkpoint // 2 + 256 * 1024
    )  # one checkpoint fits, a second beside it not
    out = disk / "run"
    capsys.readouterr()
    assert main(teacher(sst2_dir, out, 48)) == 2  # 3 steps: the checkpoint of step 2 does not fit
    err = capsys.readouterr().err
    assert f"error: the disk holding {out / 'teacher'} is full (" in err, err
    assert (
        "while writing the checkpoint of step 2 (the last checkpoint (step 1) is kept whole); it needs about"
        in err
    )
    assert "Traceback" not in err and "inline_container" not in err
    kept = out / "teacher" / "checkpoint"
    assert (kept / CHECKPOINT_MARK).read_text().strip() == '{"step": 1}'
    assert not (out / "teacher" / "checkpoint.tmp").exists()  # the partial write was removed

    store = disk / "acc.jsonl"
    records.append(store, acc(SubnetSpec(), 0.8))
    with open(disk / "filler", "wb") as f:  # fill the disk to its last byte
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
    with pytest.raises(
        ValueError, match=rf"the disk holding {disk} is full while appending a record to {store}"
    ):
        for _ in range(64):  # the first appends may still fit in the store's last page
            records.append(store, acc(SubnetSpec(), 0.8))
    assert all(r.metric_value == 0.8 for r in records.read(store))
    assert store.read_bytes().endswith(b"\n")  # no half-written line left

    os.unlink(disk / "filler")
    subprocess.run(["mount", "-o", f"remount,size={8 * checkpoint}", str(disk)], check=True)
    assert main(teacher(sst2_dir, out, 48)) == 0  # the same command resumes from step 1
    assert "resumed from" in (out / "teacher" / "train.log").read_text()
