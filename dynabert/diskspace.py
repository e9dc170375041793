"""A full disk, said once for every writer: checkpoints, best/, summaries, logs, results stores, exports, reports.

Libraries report a full disk in their own words: OSError ENOSPC from Python, `[enforce fail at inline_container.cc]
unexpected pos` or `file write failed` from torch.save (pytorch#10577), `IoError(Os { code: 28, kind: StorageFull`
from safetensors. `writing` turns each into DiskFull naming the folder, the free space and about how much the
write needs, and removes the partial output it was given so the space comes back and the previous copy stays whole.
Imports only the standard library (records and bench use it too); must not import torch, bench or devices.
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# what a full disk looks like in the messages of torch.save (zip writer), safetensors (Rust io::Error) and others
FULL_DISK_MARKS = ("no space left", "storagefull", "code: 28", "os error 28", "disk quota")
WRITE_FAILED_MARKS = ("unexpected pos", "file write failed")  # torch's zip writer: a short write
LOW_BYTES = 1 << 20  # below 1 MiB free, a failed write is taken for a full disk


class DiskFull(ValueError):
    """A write failed because its file system is full; the message names the folder and the space needed."""


def folder_bytes(path: str | Path) -> int:
    """Bytes of a file or of every file below a folder (0 when absent)."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else 0


def free_bytes(path: str | Path) -> int:
    """Free bytes on the file system holding `path` (or its nearest existing folder)."""
    path = Path(path).absolute()
    existing = next(p for p in (path, *path.parents) if p.exists())
    return shutil.disk_usage(existing).free


def is_disk_full(err: BaseException, folder: str | Path) -> bool:
    """Whether `err`, raised while writing into `folder`, means its file system is full."""
    if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(err).lower()
    if any(m in text for m in FULL_DISK_MARKS):
        return True
    return any(m in text for m in WRITE_FAILED_MARKS) and free_bytes(folder) < LOW_BYTES


def megabytes(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


@contextmanager
def writing(
    folder: str | Path,
    what: str,
    needed_bytes: int | None = None,
    partial: str | Path | None = None,
    fix: str = "",
) -> Iterator[None]:
    """Run a write into `folder`; a full disk becomes DiskFull: 'the disk holding FOLDER is full (N MB free) while
    writing WHAT; it needs about M MB. FIX'. `partial` (a file or folder the write was making) is removed first."""
    try:
        yield
    except Exception as err:
        if not is_disk_full(err, folder):
            raise
        if partial is not None:
            remove(Path(partial))
        need = f"; it needs about {megabytes(needed_bytes)}" if needed_bytes else ""
        raise DiskFull(
            f"the disk holding {folder} is full ({megabytes(free_bytes(folder))} free) while writing "
            f"{what}{need}. Free space there{fix or ' or write somewhere else'}"
        ) from None


def remove(path: Path) -> None:
    """Delete a partial output (file or folder); a failure to delete is left for the next run to overwrite."""
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            os.unlink(path)
        except OSError:
            pass
