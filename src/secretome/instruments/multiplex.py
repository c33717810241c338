"""Multiplex bead-assay exports: Luminex xPONENT batch CSV (3.1 on LX100/LX200, 4.2 and 4.3 on MAGPIX,
FLEXMAP 3D, INTELLIFLEX in xPONENT layout), Luminex INTELLIFLEX software CSV and Bio-Rad Bio-Plex Manager
XML, read with allotropy; :mod:`secretome.instruments.asm` maps the result to rows per well and analyte
(bead region): ``median fluorescence``, ``assay bead count``, and the calculated values of the export
(``Net MFI``, concentrations when the software computed them).

xPONENT files are also checked against their own structure (CRC footer, Locations, wells per table,
declared sample count: :mod:`secretome.instruments.xponent`), and where allotropy refuses an xPONENT file
(some 3.1 exports) the tolerant table reader of that module reads it and says so in a warning.
"""

from __future__ import annotations

from dataclasses import replace

from secretome.instruments import xponent
from secretome.instruments.asm import allotropy_format, read_with_allotropy
from secretome.instruments.formats import FileFormat, decoded, rectangular, with_checks
from secretome.instruments.model import InstrumentReading, ReaderError

FAMILY = "multiplex"


def _xponent(head: str, content: bytes) -> bool:
    first = head.lstrip().split("\n", 1)[0].replace('"', "")
    return first.startswith("Program,xPONENT")


def _intelliflex(head: str, content: bytes) -> bool:
    first = head.lstrip().split("\n", 1)[0]
    return first.startswith("MODEL NAME,INSTRUMENT TYPE,SERIAL NUMBER")


#: The line that opens the signature block INTELLIFLEX writes after its table.
INTELLIFLEX_SIGNATURE = "--DOCUMENT SIGNATURE--"


def _intelliflex_checks(content: bytes, filename: str) -> list[str]:
    """The table above the signature block is rectangular; a file without the block was cut."""
    text = decoded(content)
    end = text.find(INTELLIFLEX_SIGNATURE)
    rectangular((text if end < 0 else text[:end]).encode("utf-8"), filename)
    if end < 0:
        return [f"the file has no {INTELLIFLEX_SIGNATURE} block after its table: it may have been cut"]
    return []


def _bioplex(head: str, content: bytes) -> bool:
    return "<bpm:BioPlexManager" in head or "<BioPlexManager" in head


def read_xponent(content: bytes, filename: str) -> InstrumentReading:
    """allotropy's reading, with the file's integrity warnings; the tolerant reader where allotropy refuses."""
    parsed = xponent.parse(content, filename)
    checks = xponent.integrity_warnings(content, filename, parsed)
    try:
        reading = read_with_allotropy(
            content, filename, vendor="LUMINEX_XPONENT", format="xponent", family=FAMILY
        )
    except ReaderError as refusal:
        return xponent.read_xponent_tables(
            content,
            filename,
            note=f"allotropy refused this file ({refusal.problem}); read with the tolerant xPONENT table reader",
        )
    crc = xponent.crc_check(content)
    metadata = dict(reading.run_metadata)
    if crc is not None:
        metadata["crc32"] = crc[0]
        metadata["crc32 verified"] = crc[0] == crc[1]
    return replace(reading, warnings=(*reading.warnings, *checks), run_metadata=metadata)


FORMATS = (
    FileFormat(
        "xponent",
        FAMILY,
        "Luminex xPONENT",
        "batch CSV export (3.1, 4.2 and 4.3 tried; allotropy LUMINEX_XPONENT, own table reader as fallback)",
        _xponent,
        read_xponent,
    ),
    with_checks(
        allotropy_format(
            "intelliflex",
            FAMILY,
            "Luminex INTELLIFLEX",
            "software 2.x CSV export",
            _intelliflex,
            "LUMINEX_INTELLIFLEX",
        ),
        _intelliflex_checks,
    ),
    allotropy_format(
        "bioplex", FAMILY, "Bio-Rad Bio-Plex Manager", "6.x XML export", _bioplex, "BIORAD_BIOPLEX"
    ),
)
