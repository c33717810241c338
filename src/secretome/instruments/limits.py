"""Limits on an instrument file, checked on its bytes before any reader parses it.

A hostile or broken file must be refused in time proportional to its size, never by a parser that
allocates per column or backtracks per line: a 2 MB CSV with one line of a million columns once took a
CSV-to-table converter minutes and gigabytes. :func:`check_input` finds the line ends with NumPy (in
chunks, no copy of the file), looks closer only at lines long enough to break a limit (``bytes.count`` of
the separators), and raises :class:`~secretome.instruments.model.ReaderError` naming the limit, never the
file's content. On a 160 MB CSV of 2 million lines it costs 1.2x one ``bytes.count`` of its line ends
(``benchmarks/bench_limits.py``).

Binary formats (FCS list mode, zipped workbooks and RDML, BIFF ``.xls``) have no lines; their size is
checked, and their readers check their own declared structure.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from secretome.instruments.model import ReaderError

_BINARY_MAGIC = (
    b"FCS2.0",
    b"FCS3.0",
    b"FCS3.1",
    b"PK\x03\x04",  # xlsx, zipped RDML
    b"\xd0\xcf\x11\xe0",  # OLE2 compound file: BIFF .xls
)


@dataclass(frozen=True)
class InputLimits:
    """The largest file, line and row a reader is given.

    Parameters
    ----------
    max_file_bytes
        Largest file accepted, in bytes.
    max_line_bytes
        Longest line of a text file, in bytes (of the file as stored: UTF-16 lines count double).
    max_columns
        Most delimiter-separated fields on one line of a text file (commas, tabs or semicolons, whichever
        the line has most of).
    """

    max_file_bytes: int = 512 * 1024 * 1024
    max_line_bytes: int = 1024 * 1024
    max_columns: int = 4096

    def __post_init__(self) -> None:
        for name in ("max_file_bytes", "max_line_bytes", "max_columns"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name}: must be a positive number, not {getattr(self, name)!r}")


DEFAULT_LIMITS = InputLimits()


def is_binary(content: bytes) -> bool:
    """True for the binary containers the readers accept (FCS, zip, OLE2)."""
    return content.startswith(_BINARY_MAGIC)


def _text_unit(content: bytes) -> tuple[bytes, int]:
    """The newline as the file encodes it, and the bytes per character (UTF-16 files have 2)."""
    if content.startswith(b"\xff\xfe"):
        return b"\n\x00", 2
    if content.startswith(b"\xfe\xff"):
        return b"\x00\n", 2
    return b"\n", 1


def check_input(content: bytes, filename: str, limits: InputLimits = DEFAULT_LIMITS) -> None:
    """Refuse ``content`` when it breaks ``limits``; one linear pass, no decoding, no parsing."""
    if len(content) > limits.max_file_bytes:
        raise ReaderError(
            filename, f"the file has {len(content):,} bytes; the limit is {limits.max_file_bytes:,}"
        )
    if is_binary(content):
        return
    newline, width = _text_unit(content)
    if width == 1:
        _check_single_byte(content, filename, limits)
    else:
        _check_lines(content, filename, limits, newline, width)


def _too_wide(content: bytes, start: int, end: int, separators: list[bytes], limit: int) -> int | None:
    fields = 1 + max(content.count(s, start, end) for s in separators)
    return fields if fields > limit else None


#: Bytes scanned at once for line ends (bounds the temporary memory of the scan).
_CHUNK = 1 << 24


def _line_ends(content: bytes) -> npt.NDArray[np.int64]:
    """Offsets of every LF, found by NumPy in chunks (C speed, no copy of the content)."""
    view = np.frombuffer(content, dtype=np.uint8)
    parts = [np.flatnonzero(view[i : i + _CHUNK] == 10) + i for i in range(0, len(view), _CHUNK)]
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)


def _check_single_byte(content: bytes, filename: str, limits: InputLimits) -> None:
    """UTF-8 / Latin-1 text: line lengths from the line ends; only lines long enough to break a limit are
    looked at more closely, so a file of many short lines costs one vectorised scan."""
    ends = np.append(_line_ends(content), len(content))
    starts = np.concatenate([[0], ends[:-1] + 1])
    lengths = ends - starts
    shortest = min(limits.max_line_bytes + 1, limits.max_columns)
    for index in np.flatnonzero(lengths >= shortest):
        begin, stop = int(starts[index]), int(ends[index])
        line = int(index) + 1
        if stop - begin > limits.max_line_bytes:
            raise ReaderError(
                filename,
                f"a line of {stop - begin:,} bytes; the limit is {limits.max_line_bytes:,}",
                line=line,
            )
        fields = _too_wide(content, begin, stop, [b",", b"\t", b";"], limits.max_columns)
        if fields is not None:
            raise ReaderError(
                filename, f"a line of {fields:,} columns; the limit is {limits.max_columns:,}", line=line
            )


def _check_lines(content: bytes, filename: str, limits: InputLimits, newline: bytes, width: int) -> None:
    """UTF-16 text (two bytes a character): line by line."""
    separators = [s + b"\x00" if newline == b"\n\x00" else b"\x00" + s for s in (b",", b"\t", b";")]
    start = 0
    line = 1
    size = len(content)
    while start < size:
        end = content.find(newline, start)
        if end < 0:
            end = size
        length = end - start
        if length > limits.max_line_bytes:
            raise ReaderError(
                filename, f"a line of {length:,} bytes; the limit is {limits.max_line_bytes:,}", line=line
            )
        # A line shorter than the column limit cannot hold more fields than that.
        if length >= limits.max_columns * width:
            fields = _too_wide(content, start, end, separators, limits.max_columns)
            if fields is not None:
                raise ReaderError(
                    filename, f"a line of {fields:,} columns; the limit is {limits.max_columns:,}", line=line
                )
        start = end + len(newline)
        line += 1
