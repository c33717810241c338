"""Luminex xPONENT batch CSV: the integrity checks the format allows, and a tolerant reader of its tables.

An xPONENT export is a header block (``Program``, ``Build``, ``SN``, ``Batch``, ``Samples,<n>``...), then
one table per ``DataType:`` (``Median``, ``Net MFI``, ``Count``, ``Result``...) whose rows are keyed by a
``Location`` such as ``"1(1,A1)"`` and a ``Sample``, and a footer ``-- CRC --`` / ``CRC32: XXXXXXXX``: the
CRC-32 (zlib's polynomial) of every byte before the footer, with CRLF line ends as xPONENT writes them.

:func:`integrity_warnings` checks what the format lets one check: the CRC, every Location well-formed, the
per-well tables listing the same wells, the declared sample count against the wells, and every
value cell of the ``Median`` table a number. A damaged Location is refused (the converter would drop that
well without a word); the rest become warnings on the reading.

:func:`read_xponent_tables` reads the per-well tables itself. It is the fallback for exports allotropy
refuses (xPONENT 3.1 files whose calibration block it cannot parse) and gives the same quantities as the
allotropy mapping: ``median fluorescence``, ``Net MFI``, ``Avg Net MFI`` (RFU), ``assay bead count`` per
analyte and per well (``Total Events``), and, where xPONENT fitted standard curves, the ``Result``
concentrations in the export's units.
"""

from __future__ import annotations

import csv
import io
import math
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from secretome.instruments.model import InstrumentReading, Measurement, ReaderError, number

XPONENT_TABLE_READER_VERSION = "1.0"
_LOCATION = re.compile(r"^\d+\((\d+),([A-Pa-p])(\d{1,2})\)$")
_CRC_LINE = re.compile(rb"CRC32:\s*([0-9A-Fa-f]{8})")
#: Tables with one row per well, whose values become measurements: DataType -> (quantity, unit).
PER_WELL_TABLES: dict[str, tuple[str, str]] = {
    "Median": ("median fluorescence", "RFU"),
    "Net MFI": ("Net MFI", "RFU"),
    "Avg Net MFI": ("Avg Net MFI", "RFU"),
    "Count": ("assay bead count", "#"),
    "Result": ("Result", ""),
}
#: Tables that must list the same wells as ``Median`` when present.
_SAME_WELLS = ("Median", "Net MFI", "Count", "Result")


@dataclass
class Table:
    """One ``DataType:`` table: its header row and its rows with their line numbers."""

    name: str
    line: int
    header: list[str] = field(default_factory=list)
    rows: list[tuple[int, list[str]]] = field(default_factory=list)


@dataclass
class XponentFile:
    header: dict[str, list[str]]
    tables: dict[str, Table]


def _text(content: bytes) -> str:
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return content.decode("latin-1")


def _trim(row: list[str]) -> list[str]:
    """The row without the trailing empty cells xPONENT pads every line with."""
    end = len(row)
    while end and not row[end - 1].strip():
        end -= 1
    return [cell.strip() for cell in row[:end]]


def parse(content: bytes, filename: str) -> XponentFile:
    """The header block and every ``DataType:`` table of an xPONENT CSV."""
    reader = csv.reader(io.StringIO(_text(content), newline=""))
    header: dict[str, list[str]] = {}
    tables: dict[str, Table] = {}
    current: Table | None = None
    try:
        for row in reader:
            line = reader.line_num
            cells = _trim(row)
            if not cells:
                continue
            if cells[0] == "DataType:":
                name = cells[1] if len(cells) > 1 else ""
                current = Table(name, line)
                tables.setdefault(name, current)
                continue
            if cells[0].startswith("-- CRC --"):
                current = None
                continue
            if current is None:
                if cells[0] not in header:
                    header[cells[0]] = cells[1:]
                continue
            if not current.header:
                current.header = cells
            else:
                current.rows.append((line, cells))
    except csv.Error as exc:
        raise ReaderError(filename, f"malformed CSV: {exc}", line=reader.line_num) from None
    return XponentFile(header, tables)


def crc_check(content: bytes) -> tuple[str, str] | None:
    """(declared, computed) CRC-32 as 8 hex digits, or None when the file has no CRC footer."""
    footer = content.rfind(b"-- CRC --")
    if footer < 0:
        return None
    match = _CRC_LINE.search(content, footer)
    if match is None:
        return None
    declared = match.group(1).decode("ascii").upper()
    body = content[:footer]
    computed = zlib.crc32(body)
    if f"{computed:08X}" != declared:
        # A copy whose line ends were converted (version control, a text editor) keeps its content.
        crlf = body.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        computed = zlib.crc32(crlf)
    return declared, f"{computed:08X}"


def _well(location: str) -> str | None:
    match = _LOCATION.match(location.replace(" ", ""))
    return f"{match.group(2).upper()}{int(match.group(3))}" if match else None


def _per_well_rows(table: Table) -> Iterator[tuple[int, list[str]]]:
    """Rows of a per-well table (a Location in the first cell), stopping at the table's end."""
    for line, cells in table.rows:
        if table.header[:1] != ["Location"]:
            return
        yield line, cells


def integrity_warnings(content: bytes, filename: str, parsed: XponentFile | None = None) -> list[str]:
    """What the file's own structure says is wrong with it; :class:`ReaderError` for a damaged Location."""
    parsed = parsed or parse(content, filename)
    warnings: list[str] = []
    crc = crc_check(content)
    if crc is None:
        warnings.append("the file has no '-- CRC --' footer: it cannot be checked for changes after export")
    elif crc[0] != crc[1]:
        warnings.append(
            f"CRC32 mismatch: the footer says {crc[0]} but the content gives {crc[1]}; "
            "the file was changed after xPONENT wrote it"
        )
    median = parsed.tables.get("Median")
    if median is None or not median.rows:
        raise ReaderError(filename, "no 'DataType: Median' table; is the export complete?")
    wells: dict[str, set[str]] = {}
    for name in _SAME_WELLS:
        table = parsed.tables.get(name)
        if table is None:
            continue
        found: set[str] = set()
        for line, cells in _per_well_rows(table):
            well = _well(cells[0])
            if well is None:
                raise ReaderError(
                    filename,
                    f"table {name!r}: Location {cells[0][:20]!r} is not of the form n(plate,A1)",
                    line=line,
                )
            found.add(well)
        wells[name] = found
    reference = wells["Median"]
    for name, found in wells.items():
        if found != reference:
            missing = sorted(reference - found) + sorted(found - reference)
            warnings.append(
                f"table {name!r} lists {len(found)} wells but 'Median' lists {len(reference)} "
                f"(differing: {', '.join(missing[:8])}{'...' if len(missing) > 8 else ''})"
            )
    # "Samples" counts batch entries: a replicate group is one entry over several wells, and two groups may
    # share a name. So distinct names <= declared <= wells; fewer wells than entries means lost rows.
    declared = (parsed.header.get("Samples") or [""])[0]
    well_rows = sum(1 for _ in _per_well_rows(median))
    if declared.isdigit() and well_rows < int(declared):
        warnings.append(
            f"the header declares {int(declared)} samples but the Median table holds only {well_rows} wells"
        )
    analytes = len(median.header) - 2
    unreadable = 0
    short = []
    for line, cells in _per_well_rows(median):
        values = cells[2:]
        if len(values) < analytes:
            short.append(line)
        unreadable += sum(1 for cell in values if cell and cell.lower() != "nan" and math.isnan(number(cell)))
    if short:
        raise ReaderError(
            filename,
            f"{len(short)} row(s) of the Median table have fewer values than its {analytes} columns",
            line=short[0],
        )
    if unreadable:
        warnings.append(f"{unreadable} cell(s) of the Median table are not numbers")
    return warnings


def read_xponent_tables(content: bytes, filename: str, *, note: str = "") -> InstrumentReading:
    """Read the per-well tables of an xPONENT CSV without allotropy (see the module docstring)."""
    parsed = parse(content, filename)
    warnings = integrity_warnings(content, filename, parsed)
    if note:
        warnings.insert(0, note)
    units = _units(parsed)
    measurements: list[Measurement] = []
    for name, (quantity, unit) in PER_WELL_TABLES.items():
        table = parsed.tables.get(name)
        if table is None:
            continue
        analytes = table.header[2:]
        for _line, cells in _per_well_rows(table):
            well = _well(cells[0]) or cells[0]
            sample = cells[1] if len(cells) > 1 else ""
            for analyte, cell in zip(analytes, cells[2:], strict=False):
                if analyte == "Total Events":
                    if name == "Count":
                        measurements.append(Measurement(quantity, number(cell), unit, sample, well))
                    continue
                value = number(cell)
                # "< 0.105" / "> 3450" (outside the fitted range), "NaN", "OOR": kept as missing with
                # the file's words, never as a number the software did not report.
                flags = (f"reported as {cell[:40]!r}",) if math.isnan(value) and cell else ()
                measurements.append(
                    Measurement(
                        quantity,
                        value,
                        units.get(analyte, unit) if name == "Result" else unit,
                        sample,
                        well,
                        "",
                        analyte,
                        flags,
                    )
                )
    header = parsed.header
    program = header.get("Program", [])
    metadata: dict[str, object] = {}
    for key, label in (
        ("Batch", "experimental data identifier"),
        ("ProtocolName", "analytical method identifier"),
        ("ProtocolVersion", "method version"),
        ("Operator", "analyst"),
        ("BatchStartTime", "measurement time"),
    ):
        if header.get(key) and header[key][0]:
            metadata[label] = header[key][0]
    if header.get("Samples") and header["Samples"][0].isdigit():
        metadata["declared samples"] = int(header["Samples"][0])
    crc = crc_check(content)
    if crc is not None:
        metadata["crc32"] = crc[0]
        metadata["crc32 verified"] = crc[0] == crc[1]
    return InstrumentReading(
        filename=filename,
        format="xponent",
        family="multiplex",
        reader="secretome.instruments.xponent.read_xponent_tables",
        reader_version=XPONENT_TABLE_READER_VERSION,
        instrument=program[2] if len(program) > 2 else "",
        serial_number=(header.get("SN") or [""])[0],
        software="xPONENT",
        software_version=(header.get("Build") or [""])[0],
        run_metadata=metadata,
        measurements=tuple(measurements),
        warnings=tuple(warnings),
    )


def _units(parsed: XponentFile) -> dict[str, str]:
    """Analyte -> unit from the ``Units`` table (``Analyte:`` and ``Units:`` rows)."""
    table = parsed.tables.get("Units")
    if table is None:
        return {}
    analytes = table.header[1:] if table.header[:1] == ["Analyte:"] else []
    for _line, cells in table.rows:
        if cells[:1] == ["Units:"]:
            return dict(zip(analytes, cells[1:], strict=False))
    return {}
