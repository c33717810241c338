"""Vendor-format assay files for the demo, written from true values with a seeded generator.

Every function here is pure: it takes the lots, their true values and a seeded ``numpy.random.Generator``
and returns the bytes a real instrument (or analysis program) would have exported, plus what the analysis
needs beside the file (the plate layout, the method settings). Importing the bytes through the readers and
running the method kind gives the true values back within the simulated noise; the tests check that.

- :func:`gen5_vegf_elisa`: an Agilent BioTek Gen5 3.x text export of a VEGF-A sandwich ELISA (absorbance at
  450 nm), with standards in duplicate, the unconditioned-medium blank and each lot's CM in duplicate.
- :func:`vegf_elisa_settings`: the ``standard-curve`` settings that analyse it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from secretome.domain.plate_layout import PlateLayout, WellAssignment, WellRole, plate_wells

#: VEGF-A ELISA standards (pg/mL), a two-fold series as in the common DuoSet-style kits.
VEGF_STANDARDS = (2000.0, 1000.0, 500.0, 250.0, 125.0, 62.5, 31.25)
#: The 4PL the simulated VEGF ELISA follows: bottom, top (absorbance), inflection (pg/mL), Hill slope.
VEGF_CURVE = (0.045, 2.9, 650.0, 1.15)
#: Sample name of the unconditioned (medium-only) blank on the plates.
MEDIUM_BLANK = "medium"


def four_pl(concentration: float, bottom: float, top: float, inflection: float, hill: float) -> float:
    """``bottom + (top - bottom) / (1 + (inflection / x)^hill)`` (``bottom`` at zero)."""
    if concentration <= 0:
        return bottom
    return float(bottom + (top - bottom) / (1.0 + (inflection / concentration) ** hill))


@dataclass(frozen=True)
class PlateFile:
    """A written plate export: its bytes, a file name, and the plate layout the analysis applies to it."""

    filename: str
    content: bytes
    layout: PlateLayout


def _check_lots(lots: Mapping[str, float]) -> None:
    if not lots:
        raise ValueError("lots: name at least one lot with its true value")
    for lot, value in lots.items():
        if not lot.strip():
            raise ValueError("lots: a lot number is empty")
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"lots: the true value of {lot} must be a non-negative number, not {value}")


def vegf_elisa_layout(lots: Sequence[str], dilution: float, name: str = "VEGF ELISA (demo)") -> PlateLayout:
    """The plate layout of :func:`gen5_vegf_elisa`.

    Columns 1-2: standards (rows A-G) and the zero standard (row H, a blank), in duplicate. Columns 3-4 row A:
    the medium-only blank (unconditioned medium at the same dilution); then each lot's CM in duplicate, two
    lots per row, filling columns 3-12 row by row.
    """
    if len(lots) > 39:
        raise ValueError(f"lots: at most 39 lots fit on one plate, not {len(lots)}")
    wells: dict[str, WellAssignment] = {}
    rows = "ABCDEFGH"
    for index, concentration in enumerate(VEGF_STANDARDS):
        for column in (1, 2):
            wells[f"{rows[index]}{column}"] = WellAssignment(
                WellRole.STANDARD, f"STD{index + 1}", concentration
            )
    for column in (1, 2):
        wells[f"H{column}"] = WellAssignment(WellRole.BLANK, "BLK")
    pairs = [(r, c) for r in rows for c in (3, 5, 7, 9, 11)]
    samples = [MEDIUM_BLANK, *lots]
    for sample, (row, column) in zip(samples, pairs, strict=False):
        for offset in (0, 1):
            wells[f"{row}{column + offset}"] = WellAssignment(WellRole.UNKNOWN, sample, dilution)
    return PlateLayout(name=name, plate_format=96, wells=wells, unit="pg/mL")


def _gen5_well_ids(layout: PlateLayout) -> dict[str, tuple[str, str]]:
    """Gen5's own Well ID and Conc/Dil cells (STD1, BLK, SPL1 ...) for the layout section of the export."""
    ids: dict[str, tuple[str, str]] = {}
    samples: dict[str, int] = {}
    for well, assignment in layout.wells.items():
        if assignment.role is WellRole.STANDARD:
            ids[well] = (assignment.name, f"{assignment.level:g}")
        elif assignment.role is WellRole.BLANK:
            ids[well] = ("BLK", "")
        elif assignment.role is WellRole.UNKNOWN:
            number = samples.setdefault(assignment.name, len(samples) + 1)
            level = assignment.level if assignment.level is not None else 1.0
            ids[well] = (f"SPL{number}", f"{1 / level:g}")
    return ids


def gen5_text(
    absorbance: Mapping[str, float],
    layout: PlateLayout,
    *,
    wavelength: int = 450,
    experiment: str = "VEGF_ELISA",
    date: str = "12/1/2026",
    time: str = "10:15:00 AM",
    serial_number: str = "21031715",
) -> bytes:
    """An Agilent BioTek Gen5 3.x plate text export (one absorbance read, with its layout section)."""
    ids = _gen5_well_ids(layout)
    header = [
        "",
        "",
        "Software Version\t3.12.08",
        "",
        "",
        "",
        f"Experiment File Path:\tC:\\Users\\Public\\Documents\\Experiments\\{experiment}.xpt",
        f"Protocol File Path:\tC:\\Users\\Public\\Documents\\Protocols\\{experiment}.prt",
        "",
        "",
        "",
        "Plate Number\tPlate 1",
        f"Date\t{date}",
        f"Time\t{time}",
        "Reader Type:\tSynergy H1",
        f"Reader Serial Number:\t{serial_number}",
        "Reading Type\tReader",
        "",
        "Procedure Details",
        "",
        "Plate Type\t96 WELL PLATE (Use plate lid)",
        "Read\tAbsorbance Endpoint",
        "\tFull Plate",
        f"\tWavelengths:  {wavelength}",
        "\tRead Speed: Normal,  Delay: 100 msec,  Measurements/Data Point: 8",
        "",
        "Layout",
        "\t" + "\t".join(str(c) for c in range(1, 13)),
    ]
    lines = list(header)
    for row in "ABCDEFGH":
        names = [ids.get(f"{row}{c}", ("", ""))[0] for c in range(1, 13)]
        levels = [ids.get(f"{row}{c}", ("", ""))[1] for c in range(1, 13)]
        lines.append(row + "\t" + "\t".join(names) + "\tWell ID")
        lines.append("\t" + "\t".join(levels) + "\tConc/Dil")
    lines += ["", str(wavelength), "\t" + "\t".join(str(c) for c in range(1, 13))]
    for row in "ABCDEFGH":
        cells = []
        for column in range(1, 13):
            value = absorbance.get(f"{row}{column}")
            cells.append("" if value is None else f"{value:.3f}")
        lines.append(row + "\t" + "\t".join(cells) + f"\t{wavelength}")
    lines += ["", ""]
    return "\r\n".join(lines).encode("ascii")


def gen5_vegf_elisa(
    lots: Mapping[str, float],
    rng: np.random.Generator,
    *,
    medium_blank_pg_ml: float = 160.0,
    dilution: float = 4.0,
    cv: float = 0.04,
    curve: tuple[float, float, float, float] = VEGF_CURVE,
) -> PlateFile:
    """A Gen5 export of a VEGF-A ELISA for ``lots`` (lot number -> true VEGF-A in the CM, pg/mL).

    The plate holds the standards and the zero standard in duplicate, the unconditioned medium (true
    concentration ``medium_blank_pg_ml``: a blank-subtracted result is ``lot - medium``) and each lot's CM,
    all samples diluted ``dilution``-fold. Absorbances follow the 4PL ``curve`` with multiplicative noise of
    ``cv`` (fraction) and are rounded to the three decimals Gen5 prints.

    So that blank subtraction gives back the true value, each lot well holds ``true + medium`` pg/mL of
    VEGF-A before dilution: the medium's own VEGF-A (from serum substitutes) is part of what the CM contains.
    """
    _check_lots(lots)
    if not (dilution >= 1 and math.isfinite(dilution)):
        raise ValueError(f"dilution: must be at least 1, not {dilution}")
    if not 0 <= cv < 0.5:
        raise ValueError(f"cv: must lie in [0, 0.5), not {cv}")
    if medium_blank_pg_ml < 0:
        raise ValueError(f"medium_blank_pg_ml: must not be negative, not {medium_blank_pg_ml}")
    layout = vegf_elisa_layout(list(lots), dilution)
    absorbance: dict[str, float] = {}
    for well in plate_wells(96):
        assignment = layout.wells.get(well)
        if assignment is None:
            continue
        if assignment.role is WellRole.STANDARD:
            concentration = float(assignment.level or 0.0)
        elif assignment.role is WellRole.BLANK:
            concentration = 0.0
        elif assignment.name == MEDIUM_BLANK:
            concentration = medium_blank_pg_ml / dilution
        else:
            concentration = (lots[assignment.name] + medium_blank_pg_ml) / dilution
        mean = four_pl(concentration, *curve)
        absorbance[well] = round(float(mean * (1.0 + cv * rng.standard_normal())), 3)
    return PlateFile("vegf-elisa-gen5.txt", gen5_text(absorbance, layout), layout)


def vegf_elisa_settings(attribute: str = "vegf", normalisation: str = "per_ml") -> dict[str, Any]:
    """``standard-curve`` settings for the VEGF-A ELISA of :func:`gen5_vegf_elisa`."""
    return {
        "analytes": {"VEGF-A": attribute},
        "response": "absorbance",
        "model": "4pl",
        "weighting": "1/y^2",
        "blank_wells": "fit",
        "medium_blank": MEDIUM_BLANK,
        "below_lloq": "lloq",
        "concentration_unit": "pg/mL",
        "normalisation": normalisation,
    }
