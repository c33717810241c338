"""Instrument files the demo writes where no real export fits: the vendor's own format, numbers the
instrument would have read, so every demo result is computed from a stored file through the import and
analysis services. Pure: bytes out, a seeded generator in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from secretome.domain.plate_layout import PlateLayout, WellAssignment, WellRole

ROWS = "ABCDEFGH"

VI_CELL_HEADER = (
    "Sample ID,Cell count,Viable cells,Total (x10^6) cells/mL,Viable (x10^6) cells/mL,Viability (%),"
    "Average diameter (\u03bcm),Average viable diameter (\u03bcm),Average circularity,Average viable circularity,"
    "Average cells per image,Average background intensity,Bubble count,Cluster count,Images for analysis,"
    "Cell type,Minimum Diameter (\u03bcm),Maximum Diameter (\u03bcm),Images,Cell sharpness,Minimum circularity,"
    "Decluster degree,Aspiration cycles,Viable spot brightness (%),Viable spot area (%),Mixing cycles,"
    "Analysis date/time,Reanalysis date/time,Analysis by,Reanalysis by,Dilution,Wash,Tag"
)


@dataclass(frozen=True)
class CellCount:
    """One Vi-CELL BLU count: total cell density (10^6 cells/mL), viability (%), analysis time as printed."""

    sample: str
    total_density: float
    viability: float
    analysed: str


def vi_cell_blu_csv(counts: Sequence[CellCount]) -> bytes:
    """A Beckman Coulter Vi-CELL BLU results export (CSV), one row per count."""
    lines = [VI_CELL_HEADER]
    for count in counts:
        viable = count.total_density * count.viability / 100
        cells = int(count.total_density * 2800)
        lines.append(
            f"{count.sample},{cells},{int(cells * count.viability / 100)},{count.total_density:.2f},{viable:.2f},"
            f"{count.viability:.1f},17.9,18.1,0.88,0.89,{cells // 100},134,0,0,100,Mammalian,6,30,100,7,0.1,"
            f"Medium,3,50,5,3,{count.analysed},,Vi-CELL,,1,Normal Wash,"
        )
    return ("\n".join(lines) + "\n").encode("utf-8")


#: Doses of the potency plate: % v/v conditioned medium (and reference standard), two-fold from 80 %.
POTENCY_DOSES = (80.0, 40.0, 20.0, 10.0, 5.0, 2.5, 1.25, 0.625)


def four_pl(x: float, bottom: float, top: float, ec50: float, hill: float) -> float:
    """The increasing four-parameter logistic the simulated instrument reads through."""
    return float(bottom + (top - bottom) / (1 + (ec50 / x) ** hill))


def mars_plate_csv(
    readings: Mapping[str, float], *, test_name: str, plate_id: str, wavelength: int = 450
) -> bytes:
    """A BMG LABTECH MARS plate export (CSV, 96 wells) holding one reading per well (``{"A1": 0.123}``)."""
    lines = [
        "User: DEMO,Path: C:\\Program Files (x86)\\BMG\\CLARIOstar\\User\\Data,Test run no.: 7,,,,,,,,,,,",
        f"Test name: {test_name},Date: 03/12/2026,Time: 11:20:00,,,,,,,,,,,",
        ",,,,,,,,,,,,",
        f"ID1: {plate_id},,,,,,,,,,,,",
        "Absorbance,,,,,,,,,,,,",
        ",,,,,,,,,,,,",
        f"Raw Data ({wavelength}),,,,,,,,,,,,",
        ",,,,,,,,,,,,",
        "," + ",".join(str(c) for c in range(1, 13)),
    ]
    for row in ROWS:
        cells = [f"{readings[f'{row}{c}']:.3f}" if f"{row}{c}" in readings else "" for c in range(1, 13)]
        lines.append(row + "," + ",".join(cells))
    return ("\n".join(lines) + "\n").encode("utf-8")


#: The assay control of the demo potency plates: a control CM lot kept frozen in aliquots and run on every
#: plate as a test preparation named ``CTRL``, with its true relative potency against the reference standard.
DEMO_POTENCY_CONTROL = {"CTRL": 0.9}


def potency_layout(
    lots: Sequence[str], name: str = "IDO-POTENCY-96", control: str | None = None
) -> PlateLayout:
    """Reference standard in columns 1-3, each lot's conditioned medium in three columns after it (at most
    three lots a plate), eight two-fold doses down the rows.

    With an assay ``control`` preparation every preparation is in duplicate instead: the reference in columns
    1-2, the lots in pairs of columns after it, the control in the two columns after the lots.
    """
    if not 1 <= len(lots) <= 3:
        raise ValueError(f"lots: a potency plate holds one to three lots, not {len(lots)}")
    if control is not None and (control == "REF" or control in lots or not control.strip()):
        raise ValueError(f"control: {control!r} must be a name of its own, not the reference's or a lot's")
    preparations = ["REF", *lots, *([control] if control is not None else [])]
    width = 3 if control is None else 2
    wells: dict[str, WellAssignment] = {}
    for block, preparation in enumerate(preparations):
        role = WellRole.REFERENCE if preparation == "REF" else WellRole.TEST
        for row, dose in zip(ROWS, POTENCY_DOSES, strict=True):
            for column in range(width * block + 1, width * block + width + 1):
                wells[f"{row}{column}"] = WellAssignment(role, preparation, dose)
    description = "reference standard and test CM, 2-fold" + (
        f", assay control {control}" if control is not None else ""
    )
    return PlateLayout(name, 96, wells, unit="% v/v", description=description)


def potency_plate(
    rng: np.random.Generator,
    relative_potencies: Mapping[str, float],
    plate_id: str,
    control: Mapping[str, float] | None = None,
) -> tuple[bytes, PlateLayout]:
    """An IDO activity plate (kynurenine, absorbance 490 nm) read through a parallel 4PL; the lots' true
    relative potencies against the reference standard set how far their curves shift.

    ``control`` (e.g. :data:`DEMO_POTENCY_CONTROL`) adds one assay control preparation, name -> its true
    relative potency, and puts every preparation in duplicate (see :func:`potency_layout`).
    """
    lots = list(relative_potencies)
    if control is not None and len(control) != 1:
        raise ValueError(f"control: one assay control preparation a plate, not {len(control)}")
    truth = {**relative_potencies, **(control or {})}
    for name, value in truth.items():
        if not (np.isfinite(value) and value > 0):
            raise ValueError(f"relative potency of {name!r} must be a positive number, not {value}")
    layout = potency_layout(lots, control=next(iter(control)) if control else None)
    readings: dict[str, float] = {}
    for well, assignment in layout.wells.items():
        potency = 1.0 if assignment.role is WellRole.REFERENCE else truth[assignment.name]
        assert assignment.level is not None
        mean = four_pl(assignment.level * potency, 0.08, 1.9, 12.0, 1.25)
        readings[well] = mean * float(rng.normal(1, 0.02))
    return mars_plate_csv(readings, test_name="IDO kynurenine 490", plate_id=plate_id, wavelength=490), layout
