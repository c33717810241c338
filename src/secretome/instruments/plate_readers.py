"""Plate-reader exports, read with allotropy: Agilent BioTek Gen5 (text), Molecular Devices SoftMax Pro
(plate-format text, ASCII or UTF-16), Tecan Magellan (xlsx), BMG LABTECH MARS (CSV) and PerkinElmer /
Revvity EnVision (CSV).

No reader is written here: allotropy does the reading and :mod:`secretome.instruments.asm` maps the result
to one ``absorbance`` / ``fluorescence`` / ``luminescence`` row per well (analyte = wavelength) plus the
calculated values the software exported (blank-corrected values, concentrations).
"""

from __future__ import annotations

from secretome.instruments.asm import allotropy_format
from secretome.instruments.formats import csv_rows, decoded, with_checks, xlsx_head
from secretome.instruments.model import ReaderError

#: Plate rows for a grid of this many columns.
_GRID_ROWS = {12: 8, 24: 16, 48: 32}

FAMILY = "plate_reader"


def _gen5(head: str, content: bytes) -> bool:
    return "Software Version\t" in head[:400] and (
        "Plate Number" in head or "Reader Type" in head or "Gen5" in head or "Experiment File Path" in head
    )


def _softmax(head: str, content: bytes) -> bool:
    return head.lstrip("\ufeff").startswith("##BLOCKS=")


def _magellan(head: str, content: bytes) -> bool:
    text = xlsx_head(content, rows=1)
    return text.startswith("Well positions") or "Magellan" in text


def _mars(head: str, content: bytes) -> bool:
    first = head.split("\n", 1)[0]
    return first.startswith("User:") and "Path:" in first and "Test run no." in first


def plate_grids(rows: list[tuple[int, list[str]]], filename: str) -> None:
    """Every plate grid (a header row ``"", 1, 2, ... 12/24/48``) has its rows A to H, P or AF.

    Rows are labelled with their letter; Gen5 follows a labelled row with unlabelled continuation rows
    (well IDs, then concentrations), which are skipped.
    """
    for index, (line, row) in enumerate(rows):
        cells = [c.strip() for c in row]
        columns = 0
        while columns + 1 < len(cells) and cells[columns + 1] == str(columns + 1):
            columns += 1
        if cells[:1] != [""] or columns not in _GRID_ROWS:
            continue
        labels: list[str] = []
        for number, below in rows[index + 1 :]:
            label = below[0].strip() if below else ""
            if not label and len(below) > 1 and any(c.strip() for c in below[1:]) and labels:
                continue  # a continuation row of the row above
            if len(label) != 1 or not label.isalpha():
                break
            if len(below) < columns + 1:
                raise ReaderError(
                    filename,
                    f"plate row {label} has {len(below) - 1} of {columns} wells: the file was cut or damaged",
                    line=number,
                )
            labels.append(label)
        expected = _GRID_ROWS[columns]
        if labels != [chr(ord("A") + i) for i in range(expected)]:
            raise ReaderError(
                filename,
                f"a plate grid of {columns} columns has rows {''.join(labels) or 'none'}, not A to "
                f"{chr(ord('A') + expected - 1)}: the file was cut or damaged",
                line=line,
            )


def _mars_grids(content: bytes, filename: str) -> list[str]:
    """Every plate grid has all its rows, each with a cell per column.

    Not every line of every MARS export has the same number of fields (header lines vary by writer), so
    the check is on the grids, where the values are.
    """
    plate_grids(csv_rows(content, filename), filename)
    return []


def _gen5_grids(content: bytes, filename: str) -> list[str]:
    """Every plate grid of a Gen5 text export (tab-separated) has all its rows."""
    lines = decoded(content).splitlines()
    plate_grids([(number, line.split("\t")) for number, line in enumerate(lines, start=1)], filename)
    return []


def _softmax_blocks(content: bytes, filename: str) -> list[str]:
    """The ``##BLOCKS= n`` header against the ``~End`` lines that close each block: a cut file lacks some."""
    lines = decoded(content).splitlines()
    first = lines[0].lstrip("\ufeff").strip() if lines else ""
    declared = first.removeprefix("##BLOCKS=").strip()
    if not declared.isdigit():
        raise ReaderError(
            filename, "the first line does not declare the number of blocks (##BLOCKS= n)", line=1
        )
    closed = sum(1 for line in lines if line.strip() == "~End")
    if closed < int(declared):
        raise ReaderError(
            filename, f"##BLOCKS= {int(declared)} but only {closed} blocks end with ~End: the file was cut"
        )
    return []


def _envision(head: str, content: bytes) -> bool:
    return head.lstrip().startswith("Plate information") and "Measured height" in head


FORMATS = (
    with_checks(
        allotropy_format("gen5", FAMILY, "Agilent BioTek Gen5", "text export, 3.x", _gen5, "AGILENT_GEN5"),
        _gen5_grids,
    ),
    with_checks(
        allotropy_format(
            "softmax-pro",
            FAMILY,
            "Molecular Devices SoftMax Pro",
            "plate-format text export, ASCII or UTF-16",
            _softmax,
            "MOLDEV_SOFTMAX_PRO",
        ),
        _softmax_blocks,
    ),
    allotropy_format("magellan", FAMILY, "Tecan Magellan", "Excel list export", _magellan, "TECAN_MAGELLAN"),
    with_checks(
        allotropy_format("bmg-mars", FAMILY, "BMG LABTECH MARS", "CSV table export", _mars, "BMG_MARS"),
        _mars_grids,
    ),
    allotropy_format(
        "envision", FAMILY, "PerkinElmer EnVision", "CSV results export", _envision, "PERKIN_ELMER_ENVISION"
    ),
)
