"""The registry entry every supported file format has, and the helpers sniffers share."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, replace

from secretome.instruments.model import InstrumentReading, ReaderError

#: How many leading bytes a sniffer looks at.
HEAD_BYTES = 8192


@dataclass(frozen=True)
class FileFormat:
    """One supported export format.

    Parameters
    ----------
    name
        Short identifier used with ``--format`` (``"vi-cell-blu"``).
    family
        One of :data:`secretome.instruments.model.FAMILIES`.
    vendor
        Instrument vendor and product (``"Beckman Coulter Vi-CELL BLU"``).
    description
        File kind and the versions tried.
    sniff
        ``sniff(head_text, content) -> bool``: True when the content is this format.
    read
        ``read(content, filename) -> InstrumentReading``.
    """

    name: str
    family: str
    vendor: str
    description: str
    sniff: Callable[[str, bytes], bool]
    read: Callable[[bytes, str], InstrumentReading]


def head_text(content: bytes) -> str:
    """The file's first bytes as text: UTF-16 and UTF-8 byte-order marks honoured, latin-1 as last resort."""
    head = content[:HEAD_BYTES]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return head.decode("utf-16", errors="replace")
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    try:
        return head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the head is not a decoding problem.
        if exc.start >= len(head) - 4:
            return head[: exc.start].decode("utf-8")
        return head.decode("latin-1")


def is_zip(content: bytes) -> bool:
    return content[:4] == b"PK\x03\x04"


def zip_members(content: bytes) -> list[str]:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            return archive.namelist()
    except (zipfile.BadZipFile, ValueError, OSError):
        return []


def xlsx_head(content: bytes, rows: int = 12) -> str:
    """The first rows of an xlsx workbook's first sheet as tab-separated text ('' when not a workbook)."""
    if not is_zip(content) or "xl/workbook.xml" not in zip_members(content):
        return ""
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        sheet = workbook.worksheets[0]
        lines = []
        for index, row in enumerate(sheet.iter_rows(values_only=True)):
            if index >= rows:
                break
            lines.append("\t".join("" if cell is None else str(cell) for cell in row))
        workbook.close()
        return "\n".join(lines)
    except Exception:  # a damaged workbook simply matches no xlsx format
        return ""


def with_checks(base: FileFormat, check: Callable[[bytes, str], list[str]]) -> FileFormat:
    """``base`` whose reading first runs ``check(content, filename)``: it raises
    :class:`~secretome.instruments.model.ReaderError` for damage that loses values, and returns warnings,
    which are added to the reading."""

    def read(content: bytes, filename: str) -> InstrumentReading:
        warnings = check(content, filename)
        reading = base.read(content, filename)
        return replace(reading, warnings=(*reading.warnings, *warnings))

    return replace(base, read=read)


def decoded(content: bytes) -> str:
    """The text of an export: UTF-16 with its byte-order mark, else UTF-8 (with or without one)."""
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        return content.decode("utf-16", errors="replace")
    return content.decode("utf-8-sig", errors="replace")


def csv_rows(content: bytes, filename: str) -> list[tuple[int, list[str]]]:
    """(line number, fields) of every row of a CSV export; :class:`ReaderError` on malformed quoting."""
    reader = csv.reader(io.StringIO(decoded(content), newline=""))
    try:
        return [(reader.line_num, row) for row in reader]
    except csv.Error as exc:
        raise ReaderError(filename, f"malformed CSV: {exc}", line=reader.line_num) from None


def rectangular(content: bytes, filename: str) -> list[str]:
    """For exports whose every line has the same number of fields: refuse a line with another count.

    A file cut inside its last line, or a line whose delimiter was damaged, loses values the converter
    would otherwise drop without a word.
    """
    rows = [(line, row) for line, row in csv_rows(content, filename) if row]
    if not rows:
        return []
    width = len(rows[0][1])
    for line, row in rows[1:]:
        if len(row) != width:
            raise ReaderError(
                filename,
                f"a line of {len(row)} fields where every line of this export has {width}: "
                "the file was cut or damaged",
                line=line,
            )
    return []


def sectioned_tables(content: bytes, filename: str) -> list[str]:
    """For tab-separated ``[Section]`` exports (QuantStudio, ViiA 7): no row is wider than its table's header,
    and the file's last row is not narrower than every other row of its table.

    These exports leave trailing empty cells out, so rows may be narrower than the header; but a file cut
    short ends inside its last row, which is then narrower than its siblings. Refuse either case.
    """
    header: list[str] | None = None
    section = ""
    widths: list[int] = []
    last: tuple[int, int] | None = None
    for number, line in enumerate(decoded(content).splitlines(), start=1):
        if line.startswith("["):
            header, section, widths, last = [], line.strip(), [], None
            continue
        if header is None or not line.strip() or line.startswith("*"):
            continue
        cells = line.split("\t")
        if not header:
            header = cells
            continue
        if len(cells) > len(header):
            raise ReaderError(
                filename,
                f"a row of {len(cells)} fields in the {section} table of {len(header)} columns: "
                "the file was damaged",
                line=number,
            )
        if last is not None:
            widths.append(last[1])
        last = (number, len(cells))
    if last is not None and widths and last[1] < min(widths):
        raise ReaderError(
            filename,
            f"the last row has {last[1]} fields where every other row of the {section} table has at least "
            f"{min(widths)}: the file was cut",
            line=last[0],
        )
    return []
