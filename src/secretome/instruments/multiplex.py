"""Multiplex bead-assay exports, read with allotropy: Luminex xPONENT batch CSV (4.x tried: MAGPIX,
FLEXMAP 3D, INTELLIFLEX in xPONENT layout; allotropy also covers 3.x), Luminex INTELLIFLEX software CSV and Bio-Rad
Bio-Plex Manager XML.

No reader is written here: allotropy does the reading and :mod:`secretome.instruments.asm` maps the result
to rows per well and analyte (bead region): ``median fluorescence``, ``assay bead count``, and the
calculated values of the export (``Net MFI``, concentrations when the software computed them).
"""

from __future__ import annotations

from secretome.instruments.asm import allotropy_format

FAMILY = "multiplex"


def _xponent(head: str, content: bytes) -> bool:
    first = head.lstrip().split("\n", 1)[0].replace('"', "")
    return first.startswith("Program,xPONENT")


def _intelliflex(head: str, content: bytes) -> bool:
    first = head.lstrip().split("\n", 1)[0]
    return first.startswith("MODEL NAME,INSTRUMENT TYPE,SERIAL NUMBER")


def _bioplex(head: str, content: bytes) -> bool:
    return "<bpm:BioPlexManager" in head or "<BioPlexManager" in head


FORMATS = (
    allotropy_format(
        "xponent",
        FAMILY,
        "Luminex xPONENT",
        "batch CSV export (4.2 and 4.3 tried)",
        _xponent,
        "LUMINEX_XPONENT",
    ),
    allotropy_format(
        "intelliflex",
        FAMILY,
        "Luminex INTELLIFLEX",
        "software 2.x CSV export",
        _intelliflex,
        "LUMINEX_INTELLIFLEX",
    ),
    allotropy_format(
        "bioplex", FAMILY, "Bio-Rad Bio-Plex Manager", "6.x XML export", _bioplex, "BIORAD_BIOPLEX"
    ),
)
