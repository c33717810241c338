"""Cell-counter exports, read with allotropy: Vi-CELL BLU (CSV, UTF-8 or UTF-16, quoted or not), Vi-CELL XR
2.06 (txt, xlsx) and 2.04 (legacy Excel ``.xls``, BIFF, read through xlrd), ChemoMetec NucleoCounter NC-200
(NucleoView CSV) and NC-202 (tab-separated key/value export), Revvity (Nexcelom) Matrix CSV and Roche Cedex
HiRes (CSV).

allotropy's parsers do the reading and :mod:`secretome.instruments.asm` maps their output. Quantities:
``viable cell density``, ``total cell density``, ``viability``, ``total cell count``, ``viable cell count``,
``dead cell count``, diameters and circularity where the file has them.

What the formats let one check is checked here, since the converters take what they find: every Vi-CELL
BLU row has the header's fields (a cut file loses its last rows), as many samples come out as the file has
rows, and the NC-202 counts agree with each other (total = live + dead, viability = live / total).
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import replace

from secretome.instruments.asm import allotropy_format
from secretome.instruments.formats import FileFormat, decoded, rectangular, with_checks, xlsx_head
from secretome.instruments.model import InstrumentReading, ReaderError, number

FAMILY = "cell_counter"
#: Relative disagreement tolerated between a count and the counts it is the sum or ratio of (rounding).
CONSISTENCY_TOLERANCE = 0.02


def _vi_cell_blu(head: str, content: bytes) -> bool:
    first = head.lstrip().split("\n", 1)[0].replace('"', "")
    return first.startswith("Sample ID,") and "Viable (x10^6) cells/mL" in first


def _blu_rows(content: bytes, filename: str) -> tuple[int, list[str]]:
    """The number of data rows of a Vi-CELL BLU table, refusing a row shorter than the header."""
    text = decoded(content)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        rows = [(reader.line_num, row) for row in reader]
    except csv.Error as exc:
        raise ReaderError(filename, f"malformed CSV: {exc}", line=reader.line_num) from None
    header = rows[0][1] if rows else []
    count = 0
    for line, row in rows[1:]:
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < len(header):
            raise ReaderError(
                filename,
                f"a row of {len(row)} fields under a header of {len(header)}: the file was cut or damaged",
                line=line,
            )
        count += 1
    warnings = []
    if text and not text.endswith(("\n", "\r")):
        warnings.append("the last line has no line end: the file may have been cut inside its last row")
    return count, warnings


def _checked_blu(base: FileFormat) -> FileFormat:
    def read(content: bytes, filename: str) -> InstrumentReading:
        rows, warnings = _blu_rows(content, filename)
        reading = base.read(content, filename)
        read_rows = len(reading.values("viability"))
        if read_rows != rows:
            raise ReaderError(
                filename,
                f"the file has {rows} sample rows but {read_rows} were read; refusing a partial import",
            )
        return replace(reading, warnings=(*reading.warnings, *warnings))

    return replace(base, read=read)


def _nc202(head: str, content: bytes) -> bool:
    return "Sample Media:\t" in head and "Live (cells/ml):\t" in head and "Viability (%):\t" in head


def _nc202_consistency(content: bytes, filename: str) -> list[str]:
    """Total = live + dead and viability = live / total, as the NC-202 writes them (rounded)."""
    fields: dict[str, str] = {}
    for line in decoded(content).splitlines():
        key, _, value = line.partition(":\t")
        if value:
            fields[key.strip()] = value.strip()
    required = ("Total (cells/ml)", "Live (cells/ml)", "Dead (cells/ml)", "Viability (%)")
    missing = [key for key in required if math.isnan(number(fields.get(key, "")))]
    if missing:
        raise ReaderError(filename, f"no readable value for {', '.join(missing)}")
    total, live, dead, viability = (number(fields[key]) for key in required)
    warnings = []
    if abs(live + dead - total) > CONSISTENCY_TOLERANCE * max(total, 1.0):
        warnings.append(
            f"live + dead ({live + dead:.4g}) differs from total ({total:.4g}): a value is damaged"
        )
    if total > 0 and abs(100 * live / total - viability) > 100 * CONSISTENCY_TOLERANCE:
        warnings.append(
            f"viability {viability:g} % differs from live / total = {100 * live / total:.1f} %: a value is damaged"
        )
    status = fields.get("Status", "")
    if status and status != "OK":
        warnings.append(f"the instrument reported status {status!r}")
    return warnings


def _vi_cell_xr_text(head: str, content: bytes) -> bool:
    return head.lstrip().startswith("Vi-CELL XR") and "Sample ID :" in head


def _vi_cell_xr_xlsx(head: str, content: bytes) -> bool:
    return xlsx_head(content, rows=2).startswith("Vi-CELL XR")


def _vi_cell_xr_xls(head: str, content: bytes) -> bool:
    return content[:4] == b"\xd0\xcf\x11\xe0" and xls_head(content).startswith("Vi-CELL XR")


def xls_head(content: bytes, rows: int = 2) -> str:
    """The first rows of a BIFF workbook's first sheet as tab-separated text ('' when not one)."""
    import xlrd

    try:
        book = xlrd.open_workbook(file_contents=content, on_demand=True)
        sheet = book.sheet_by_index(0)
        lines = ["\t".join(str(v) for v in sheet.row_values(i)) for i in range(min(rows, sheet.nrows))]
        book.release_resources()
        return "\n".join(lines)
    except Exception:  # a damaged workbook simply matches no xls format
        return ""


def _revvity_matrix(head: str, content: bytes) -> bool:
    first = head.lstrip().split("\n", 1)[0]
    return first.startswith("Well Name,Live Count,Live Cells/mL")


def _nucleoview(head: str, content: bytes) -> bool:
    return "Viability and Cell Count Assay" in head.split("\n", 1)[0] or "Instrument type;NucleoView" in head


def _cedex_hires(head: str, content: bytes) -> bool:
    return head.lstrip().startswith("Cedex ID,System name,")


FORMATS = (
    _checked_blu(
        allotropy_format(
            "vi-cell-blu",
            FAMILY,
            "Beckman Coulter Vi-CELL BLU",
            "results CSV, UTF-8 or UTF-16, quoted or not",
            _vi_cell_blu,
            "BECKMAN_VI_CELL_BLU",
        )
    ),
    allotropy_format(
        "vi-cell-xr",
        FAMILY,
        "Beckman Coulter Vi-CELL XR",
        "2.06 per-sample text report",
        _vi_cell_xr_text,
        "BECKMAN_VI_CELL_XR",
    ),
    allotropy_format(
        "vi-cell-xr-xlsx",
        FAMILY,
        "Beckman Coulter Vi-CELL XR",
        "2.06 Excel run summary",
        _vi_cell_xr_xlsx,
        "BECKMAN_VI_CELL_XR",
    ),
    allotropy_format(
        "vi-cell-xr-xls",
        FAMILY,
        "Beckman Coulter Vi-CELL XR",
        "2.04 legacy Excel (.xls, BIFF) run summary, via xlrd",
        _vi_cell_xr_xls,
        "BECKMAN_VI_CELL_XR",
    ),
    with_checks(
        allotropy_format(
            "nc202",
            FAMILY,
            "ChemoMetec NucleoCounter NC-202",
            "NucleoView NC-202 tab-separated key/value export",
            _nc202,
            "CHEMOMETEC_NUCLEOVIEW",
        ),
        _nc202_consistency,
    ),
    with_checks(
        allotropy_format(
            "revvity-matrix",
            FAMILY,
            "Revvity (Nexcelom) Matrix, Cellometer / Cellaca",
            "Matrix software CSV, one row per well",
            _revvity_matrix,
            "REVVITY_MATRIX",
        ),
        rectangular,
    ),
    allotropy_format(
        "nucleoview-nc200",
        FAMILY,
        "ChemoMetec NucleoCounter NC-200",
        "NucleoView viability and cell count CSV",
        _nucleoview,
        "CHEMOMETEC_NUCLEOVIEW",
    ),
    with_checks(
        allotropy_format(
            "cedex-hires",
            FAMILY,
            "Roche Cedex HiRes",
            "analyzer CSV export",
            _cedex_hires,
            "ROCHE_CEDEX_HIRES",
        ),
        rectangular,
    ),
)
