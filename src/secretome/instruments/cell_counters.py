"""Cell-counter exports, read with allotropy: Vi-CELL BLU (CSV, UTF-8 or UTF-16), Vi-CELL XR 2.06 (txt,
xlsx), ChemoMetec NucleoCounter NC-200 (NucleoView CSV) and Roche Cedex HiRes (CSV).

No reader is written here: allotropy's parsers do the reading and :mod:`secretome.instruments.asm` maps
their output. Quantities: ``viable cell density``, ``total cell density``, ``viability``, ``total cell
count``, ``viable cell count``, ``dead cell count``, diameters and circularity where the file has them.
"""

from __future__ import annotations

from secretome.instruments.asm import allotropy_format
from secretome.instruments.formats import xlsx_head

FAMILY = "cell_counter"


def _vi_cell_blu(head: str, content: bytes) -> bool:
    first = head.lstrip().split("\n", 1)[0]
    return first.startswith("Sample ID,") and "Viable (x10^6) cells/mL" in first


def _vi_cell_xr_text(head: str, content: bytes) -> bool:
    return head.lstrip().startswith("Vi-CELL XR") and "Sample ID :" in head


def _vi_cell_xr_xlsx(head: str, content: bytes) -> bool:
    return xlsx_head(content, rows=2).startswith("Vi-CELL XR")


def _nucleoview(head: str, content: bytes) -> bool:
    return "Viability and Cell Count Assay" in head.split("\n", 1)[0] or "Instrument type;NucleoView" in head


def _cedex_hires(head: str, content: bytes) -> bool:
    return head.lstrip().startswith("Cedex ID,System name,")


FORMATS = (
    allotropy_format(
        "vi-cell-blu",
        FAMILY,
        "Beckman Coulter Vi-CELL BLU",
        "results CSV, UTF-8 or UTF-16",
        _vi_cell_blu,
        "BECKMAN_VI_CELL_BLU",
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
        "nucleoview-nc200",
        FAMILY,
        "ChemoMetec NucleoCounter NC-200",
        "NucleoView viability and cell count CSV",
        _nucleoview,
        "CHEMOMETEC_NUCLEOVIEW",
    ),
    allotropy_format(
        "cedex-hires", FAMILY, "Roche Cedex HiRes", "analyzer CSV export", _cedex_hires, "ROCHE_CEDEX_HIRES"
    ),
)
