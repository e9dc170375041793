"""Task files as real tools write them -> rows of fields, each with the line number an editor shows.

Encodings: a byte-order mark (UTF-8, UTF-16 LE/BE, UTF-32 LE/BE) decides the encoding and is dropped (the GLUE
MRPC files start with a UTF-8 BOM); without one the file must be UTF-8, else it is read as Windows-1252 (a
superset of the printable Latin-1 range, what Excel's "Text (Tab delimited)" writes) with a warning naming the first
line that is not UTF-8. Line endings: LF, CRLF and lone CR. Blank lines (e.g. trailing ones) are not rows.
Quoting: .tsv files are read as GLUE's own readers do (csv, tab, no quote character: a `"` is text);
.csv files use standard CSV quoting, so a quoted field may hold commas and line breaks.
Must not import torch, bench or devices.
"""

from __future__ import annotations

import codecs
import csv
import io
import sys
from pathlib import Path

BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)  # UTF-32 LE first: it starts like UTF-16 LE


def decode(path: Path) -> str:
    """The text of `path`: BOM-declared encoding, else UTF-8, else Windows-1252 (warned). Errors name the file."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ValueError(f"cannot read {str(path)!r}: {err.strerror}") from None
    for bom, encoding in BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom) :].decode(encoding)
            except UnicodeDecodeError as err:
                raise ValueError(
                    f"{path}: starts with a {encoding} byte-order mark but is not valid {encoding} "
                    f"(byte {err.start + len(bom)}); re-save it as UTF-8"
                ) from None
    if b"\x00" in data:
        raise ValueError(
            f"{path}: holds NUL bytes, so it is not a text file in UTF-8 or Windows-1252 (UTF-16 without "
            f"a byte-order mark?); re-save it as UTF-8"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError:
            text = data.decode("latin-1")
        print(
            f"warning: {path}:{line}: not UTF-8 (byte 0x{data[err.start]:02x}); read the file as Windows-1252. "
            f"Re-save it as UTF-8 if that is wrong",
            file=sys.stderr,
        )
        return text


def read_rows(path: Path) -> list[tuple[int, list[str]]]:
    """(editor line number where the row starts, fields) of every non-blank row; tab-separated unless .csv."""
    text = decode(path)
    is_csv = path.suffix.lower() == ".csv"
    reader = csv.reader(
        io.StringIO(text, newline=""),
        delimiter="," if is_csv else "\t",
        quoting=csv.QUOTE_MINIMAL if is_csv else csv.QUOTE_NONE,
    )
    rows, next_line = [], 1
    try:
        for fields in reader:
            start, next_line = next_line, reader.line_num + 1
            if any(f.strip() for f in fields):
                rows.append((start, fields))
    except csv.Error as err:
        raise ValueError(f"{path}:{next_line}: {err} (fix the quoting of that row)") from None
    return rows
