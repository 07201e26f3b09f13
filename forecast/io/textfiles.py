"""Reading what a user hands over (an events CSV, a crowd CSV, a priors YAML) without being fooled.

* Only a regular file is read, and only up to a size limit that the message names: a link to
  `/dev/zero` would be read until memory ran out, a named pipe would wait for ever.
* The bytes must be UTF-8; UTF-16 (what some spreadsheets save as "Unicode text") is named as such.
* A CSV must be comma-separated (a tab- or semicolon-separated file is named as such), and a
  quote that opens a field must close it: Python's csv module would otherwise read every row
  after an unclosed quote as that field's text.

Every problem is an `InputError` with the file, line and column.
"""

from __future__ import annotations

import csv
import io
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from forecast.errors import InputError

MAX_INPUT_ENV = "FORECAST_MAX_INPUT_MB"  # the limit for an events or a crowd file
MB = 1024 * 1024
# Far above any real log (the 20,000-signal benchmark is 3 MB), far below what exhausts memory.
# A priors file is a page of YAML: its limit is fixed.
LIMIT_MB = {"an events file": 256.0, "a crowd file": 64.0, "a priors file": 1.0}
_SETTABLE = ("an events file", "a crowd file")


def read_input(path: Path, what: str) -> bytes:
    """The bytes of `path`, which must be a regular file of at most the limit for `what`
    ("an events file", "a crowd file", "a priors file")."""
    limit = _limit_mb(what)
    try:
        info = path.stat()  # follows links: a link to a device is a device
    except FileNotFoundError:
        raise InputError("file not found", path=path) from None
    except OSError as exc:
        raise InputError(f"cannot be read ({exc.strerror or exc})", path=path) from None
    if stat.S_ISDIR(info.st_mode):
        raise InputError(f"is a folder, expected {what}", path=path)
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"is {_kind(info.st_mode)}, not a regular file; expected {what} "
                         "(a device or a pipe may never end, so it is not read)", path=path)
    if info.st_size > limit * MB:
        raise _too_large(path, info.st_size, limit, what)
    try:
        with path.open("rb") as handle:
            raw = handle.read(int(limit * MB) + 1)
    except OSError as exc:
        raise InputError(f"cannot be read ({exc.strerror or exc})", path=path) from None
    if len(raw) > limit * MB:  # it grew while we looked
        raise _too_large(path, len(raw), limit, what)
    return raw


def _limit_mb(what: str) -> float:
    text = os.environ.get(MAX_INPUT_ENV, "").strip()
    if not text or what not in _SETTABLE:
        return LIMIT_MB[what]
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise InputError(f"{MAX_INPUT_ENV}={text!r}: expected a size in MB greater than 0")
    return value


def _too_large(path: Path, size: int, limit: float, what: str) -> InputError:
    shown = f"{size / MB:.1f} MB" if size >= MB / 10 else f"{size / 1024:.1f} KB"
    advice = f" ({MAX_INPUT_ENV} sets another); is it the right file?" if what in _SETTABLE else "; is it the right file?"
    if what == "an events file":
        advice += " A long log can be given to update in several files"
    return InputError(f"is {shown}, over the {limit:g} MB limit for {what}{advice}", path=path)


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "a special file"


def decode_text(path: Path, raw: bytes) -> str:
    """UTF-8 text (a byte-order mark is fine); UTF-16 and UTF-32 are named, not guessed at."""
    for bom, name in ((b"\xff\xfe\x00\x00", "UTF-32"), (b"\x00\x00\xfe\xff", "UTF-32"), (b"\xff\xfe", "UTF-16"), (b"\xfe\xff", "UTF-16")):
        if raw.startswith(bom):
            raise _not_utf8(path, name)
    head = raw[:400]
    if len(head) >= 4 and head.count(0) >= len(head) // 3:  # every other byte zero: UTF-16 without its mark
        raise _not_utf8(path, "UTF-16")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise InputError(
            f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at byte {column} of the line); save the file as UTF-8",
            path=path, line=line, column=column,
        ) from None


def _not_utf8(path: Path, name: str) -> InputError:
    return InputError(f"is {name} text, not UTF-8; save it as UTF-8 (in a spreadsheet: 'CSV UTF-8')", path=path, line=1)


def csv_rows(path: Path, text: str) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """The header row and an iterator of (line where the row starts, fields) for a comma-separated
    file; the errors of either point at the file and line."""
    first = text.lstrip("\ufeff").split("\n", 1)[0]
    if "," not in first:
        for separator, name in (("\t", "tabs"), (";", "semicolons")):
            if separator in first:
                raise InputError(f"separated by {name}, not commas (a {'tab' if separator == chr(9) else 'semicolon'}-"
                                 "separated file); save it as comma-separated CSV", path=path, line=1)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, [])
    except csv.Error as exc:
        raise _csv_error(path, text, exc, 1) from None

    def rows() -> Iterator[tuple[int, list[str]]]:
        start = reader.line_num + 1
        while True:
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise _csv_error(path, text, exc, start, header) from None
            line, start = start, reader.line_num + 1
            yield line, values

    return header, rows()


def _csv_error(path: Path, text: str, exc: csv.Error, start: int, header: list[str] | None = None) -> InputError:
    """A csv error at the row starting on line `start`, said where it happened."""
    opened = _open_quote(text, start) if "unexpected end of data" in str(exc) else None
    if opened is not None:
        line, field = opened
        name = f" ('{header[field - 1].strip()}')" if header and field <= len(header) else ""
        return InputError('a quoted field opens here (") and is never closed, so every row after it would be read as '
                          'its text; close the quote, or write a quote inside a field as two ("")',
                          path=path, line=line, column=f"{field}{name}")
    if "expected after" in str(exc):
        return InputError(f'not valid CSV: {exc}: a quote (") inside a quoted field must be written as two ("")',
                          path=path, line=start)
    return InputError(f"not valid CSV: {exc}", path=path, line=start)


def _open_quote(text: str, start: int) -> tuple[int, int] | None:
    """(line, field) of a quote that opens a field on or after line `start` and never closes."""
    offset = 0
    for _ in range(start - 1):
        offset = text.find("\n", offset) + 1
        if offset == 0:
            return None
    line, field, at_start, quoted_at = start, 1, True, None
    i = offset
    while i < len(text):
        char = text[i]
        if quoted_at is not None:
            if char == '"':
                if text.startswith('"', i + 1):
                    i += 1  # a doubled quote inside the field
                else:
                    quoted_at = None
            elif char == "\n":
                line += 1
        elif char == '"' and at_start:
            quoted_at = (line, field)
        elif char == ",":
            field += 1
        elif char == "\n":
            line, field = line + 1, 1
        at_start = char in ",\n" and quoted_at is None
        i += 1
    return quoted_at


def header_names(path: Path, header: list[str], known: tuple[str, ...]) -> list[str]:
    """The header's column names, stripped, with a known column matched whatever its case
    ('Reported' is 'reported'); a name given twice (in any case) is an error."""
    lower = {k.lower(): k for k in known}
    columns = [lower.get(h.strip().lower(), h.strip()) for h in header]
    seen: dict[str, int] = {}
    for i, name in enumerate(columns, start=1):
        if not name:
            raise InputError("empty column name in the header", path=path, line=1, column=i)
        key = name.lower()
        if key in seen:
            raise InputError(f"column '{header[i - 1].strip()}' appears twice in the header (also column {seen[key]})",
                             path=path, line=1, column=i)
        seen[key] = i
    return columns
