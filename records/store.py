"""The results store: one flat, self-describing JSON record (records.schema) per line, appended atomically, and
the checks that refuse a store or output path before any work is done.

A crash can leave at most one half-written last line; readers detect and skip it (and say so), and `append`
starts a fresh line after it. Must not import dynabert, bench, devices or recipes, nor torch.
"""

from __future__ import annotations

import errno
import json
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from records.schema import Key, Record, normal_key


def append(path: str | Path, record: Record) -> None:
    """Append one record as one line with a single write + fsync; mends a half-written last line first. A full disk
    cuts the partial line off again (the store keeps its earlier records whole) and says so."""
    path = Path(path)
    line = json.dumps(record.to_dict(), sort_keys=False) + "\n"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "ab") as f:
            if f.tell() > 0:
                with open(path, "rb") as r:
                    r.seek(-1, os.SEEK_END)
                    if r.read(1) != b"\n":
                        f.write(b"\n")  # a crash left a partial line: end it, readers skip it
            f.write(line.encode())
            f.flush()
            os.fsync(f.fileno())
    except OSError as err:
        if err.errno in (
            errno.ENOSPC,
            errno.EDQUOT,
        ):  # not written whole: mend it, keep the store whole
            truncate_partial(path)
            raise ValueError(
                f"the disk holding {path.parent} is full while appending a record to {path} (about "
                f"{len(line)} bytes needed; its earlier records are kept). Free space there or choose "
                "another --results"
            ) from None
        raise ValueError(
            f"cannot append to the results file {str(path)!r}: {err.strerror}; "
            f"choose a writable path with --results"
        ) from None


def truncate_partial(path: Path) -> None:
    """Cut a half-written last line off a store (after a failed append), so the store ends with a whole record."""
    try:
        with open(path, "rb+") as f:
            data = f.read()
            if data and not data.endswith(b"\n"):
                f.truncate(data.rfind(b"\n") + 1)
    except OSError:
        pass  # readers skip a partial last line anyway


def check_readable(path: str | Path, what: str = "results file") -> Path:
    """`path` as a Path, or ValueError with the true reason it cannot be read: a directory, or missing."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(
            f"{what} {str(path)!r} is a directory, not a file; pass the store inside it "
            f"(e.g. {(path / 'records.jsonl').as_posix()})"
        )
    if not path.is_file():
        raise ValueError(f"{what} {str(path)!r} does not exist")
    return path


def check_writable(path: str | Path, flag: str = "--results") -> None:
    """Refuse, before any work is done, a results path that cannot be appended to: a directory, a path below a
    file, no permission or a read-only file system. Tried for real and leaves nothing behind: an existing file is
    opened for appending, else a temporary file is made in the nearest existing folder (where `append` creates
    the rest)."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(
            f"{flag} {str(path)!r} is a directory; give a file, e.g. {(path / 'records.jsonl').as_posix()}"
        )
    above = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    if above is not None:
        raise ValueError(
            f"{flag} {str(path)!r}: {str(above)!r} is a file, not a folder; choose another path"
        )
    try:
        if path.exists():
            with open(path, "ab"):
                pass
        else:
            folder = next(p for p in path.absolute().parents if p.exists())
            with tempfile.TemporaryFile(dir=folder):
                pass
    except OSError as err:
        raise ValueError(
            f"{flag} {str(path)!r} cannot be written ({err.strerror}); choose a writable path"
        ) from None


def check_not_a_store(path: str | Path, flag: str, inputs: tuple = ()) -> None:
    """Refuse an output file (a report, a sub-networks list) that would overwrite measurements: one of `inputs`, or
    an existing file whose first line is a record. ValueError naming the flag and the file."""
    path = Path(path)
    if any(path.resolve() == Path(i).resolve() for i in inputs):
        raise ValueError(
            f"{flag} {str(path)!r} is also an input store: writing it would replace its records; "
            "give another file"
        )
    if path.is_file():
        with open(path, encoding="utf-8", errors="replace") as f:
            first = f.readline()
        try:
            d = json.loads(first)
            Record.from_dict(d)
        except (json.JSONDecodeError, TypeError, ValueError, AttributeError):
            return
        raise ValueError(
            f"{flag} {str(path)!r} is a records store: writing it would replace its measurements; "
            "give another file"
        )


def check_out_dir(path: str | Path, flag: str) -> Path:
    """`path` as a Path, or ValueError when it (or a folder above it) is a file, so an output folder flag is refused
    before any work rather than failing when the first file is written."""
    path = Path(path)
    for p in (path, *path.parents):
        if p.exists() and not p.is_dir():
            raise ValueError(
                f"{flag} {str(path)!r}: {str(p)!r} is a file, not a folder; choose a folder path"
            )
    return path


def read(path: str | Path, warn: bool = True) -> list[Record]:
    """Every complete record of a store; partial or foreign lines are skipped with a warning naming the line."""
    path = check_readable(path)
    out = []
    with open(
        path, "rb"
    ) as f:  # decoded line by line: one corrupt byte costs its line, not the store
        for n, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                line = None  # skipped below, named
            if line is not None and not line.strip():
                continue
            if not out and line is not None and line.strip() in ("[", "{"):
                raise ValueError(
                    f"{path} is a JSON document, not a records store (JSON Lines: one record object per "
                    "line, as bench.sweep and dynabert evaluate write)"
                )
            try:
                if line is None:
                    raise ValueError("bytes that are not UTF-8 text")
                d = json.loads(line)
                if not isinstance(d, dict):
                    raise ValueError(f"a JSON {type(d).__name__}, not a record object")
                out.append(Record.from_dict(d))
            except (json.JSONDecodeError, TypeError, ValueError) as err:
                if warn:
                    print(
                        f"warning: {path}:{n}: skipped a line that is not a complete record ({err})",
                        file=sys.stderr,
                    )
    return out


@dataclass
class Store:
    """A results store on disk: `append` a record, ask whether a cell is `done`, `read` every record. The finished
    (status ok) keys are read once, when the store is opened, and kept current by `append`."""

    path: Path
    finished: set[Key] = field(default_factory=set)

    @classmethod
    def open(cls, path: str | Path) -> Store:
        """The store at `path` (a missing file is an empty store, made by the first append)."""
        path = Path(path)
        recs = read(path, warn=False) if path.is_file() else []
        return cls(path, {r.key for r in recs if r.status == "ok"})

    def append(self, record: Record) -> None:
        append(self.path, record)
        if record.status == "ok":
            self.finished.add(record.key)

    def done(self, key: Key) -> bool:
        """True if an ok record of this cell (same key, machine fingerprint included) is in the store. `key` is
        compared in its normal form (a missing workload is the synthetic one), as records' own keys are."""
        return normal_key(key) in self.finished

    def read(self) -> list[Record]:
        return read(self.path)


def portable_path(path: str | Path, root: Path | None = None) -> str:
    """An absolute path under `root` (default the working directory) made relative to it, one under the user's home
    shown as ~/...; anything else (relative paths, other absolute paths, non-paths) unchanged, as a string."""
    text = str(path)
    if not text.startswith("/"):
        return text
    p, root, home = Path(text).resolve(), (root or Path.cwd()).resolve(), Path.home().resolve()
    return (
        p.relative_to(root).as_posix()
        if p.is_relative_to(root)
        else "~/" + p.relative_to(home).as_posix()
        if p.is_relative_to(home)
        else text
    )
