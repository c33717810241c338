"""Plate layout templates for 96- and 384-well plates, and the tables a reading plus a layout gives.

A layout says what each well holds: a standard with its nominal concentration, a blank, a QC control with
its nominal concentration, a reference or test preparation with its dose, an unknown with its dilution
factor, or nothing usable (excluded). Combined with one response per well it gives the long-form tables
the dose-response engine (``dose``, ``response``) and the potency engine (``preparation``, ``dose``,
``response``, ``row``, ``column``) take. Pure: no files, no database.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

#: Rows and columns of the supported plate formats.
PLATE_SHAPES: dict[int, tuple[int, int]] = {96: (8, 12), 384: (16, 24)}

_WELL = re.compile(r"^\s*([A-Za-z])\s*0*(\d{1,2})\s*$")


class WellRole(StrEnum):
    """What a well holds."""

    STANDARD = "standard"
    BLANK = "blank"
    QC = "qc"
    REFERENCE = "reference"
    TEST = "test"
    UNKNOWN = "unknown"
    EXCLUDED = "excluded"


#: What ``level`` means for each role (None: the role has no level).
LEVEL_MEANING: dict[WellRole, str | None] = {
    WellRole.STANDARD: "nominal concentration",
    WellRole.BLANK: None,
    WellRole.QC: "nominal concentration",
    WellRole.REFERENCE: "dose",
    WellRole.TEST: "dose",
    WellRole.UNKNOWN: "dilution factor",
    WellRole.EXCLUDED: None,
}


def normalise_well(text: str) -> str:
    """``"a01"`` -> ``"A1"``; raises ``ValueError`` for anything that is not a well name."""
    match = _WELL.match(text)
    if not match:
        raise ValueError(f"well: {text!r} is not a well name like A1 or H12")
    return f"{match.group(1).upper()}{int(match.group(2))}"


def well_position(well: str) -> tuple[int, int]:
    """Zero-based (row, column) of a well name."""
    name = normalise_well(well)
    return ord(name[0]) - ord("A"), int(name[1:]) - 1


def plate_wells(plate_format: int) -> list[str]:
    """Every well of the plate format, row by row."""
    rows, columns = PLATE_SHAPES[plate_format]
    return [f"{chr(ord('A') + r)}{c + 1}" for r in range(rows) for c in range(columns)]


@dataclass(frozen=True)
class WellAssignment:
    """What one well holds.

    Parameters
    ----------
    role
        The well's role.
    name
        Preparation, standard series, QC level or sample name (``"REF"``, ``"T1"``, ``"QC-high"``).
    level
        Nominal concentration (standard, QC), dose (reference, test) or dilution factor (unknown).
    """

    role: WellRole
    name: str = ""
    level: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"role": self.role.value, "name": self.name, "level": self.level}


@dataclass(frozen=True)
class PlateLayout:
    """A plate layout template. Wells not named are empty."""

    name: str
    plate_format: int
    wells: Mapping[str, WellAssignment]
    unit: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValueError("name: a layout needs a name")
        if self.plate_format not in PLATE_SHAPES:
            raise ValueError(f"plate_format: {self.plate_format} is not 96 or 384")
        rows, columns = PLATE_SHAPES[self.plate_format]
        clean: dict[str, WellAssignment] = {}
        for raw_well, assignment in self.wells.items():
            well = normalise_well(raw_well)
            row, column = well_position(well)
            if row >= rows or column >= columns:
                raise ValueError(f"wells: {well} is outside a {self.plate_format}-well plate")
            if well in clean:
                raise ValueError(f"wells: {well} is assigned twice")
            _check_level(well, assignment)
            clean[well] = assignment
        if not clean:
            raise ValueError("wells: a layout assigns at least one well")
        object.__setattr__(self, "wells", dict(sorted(clean.items(), key=lambda kv: well_position(kv[0]))))

    def role_of(self, well: str) -> WellAssignment | None:
        return self.wells.get(normalise_well(well))

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "plate_format": self.plate_format,
            "unit": self.unit,
            "description": self.description,
            "wells": {well: a.to_dict() for well, a in self.wells.items()},
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> PlateLayout:
        """Build from :meth:`to_dict` output; ``ValueError`` naming the field for bad input."""
        try:
            wells_raw = raw["wells"]
            plate_format = int(raw["plate_format"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"layout: missing or bad field {exc}") from None
        if not isinstance(wells_raw, Mapping):
            raise ValueError("wells: must map well names to assignments")
        wells = {}
        for well, entry in wells_raw.items():
            wells[str(well)] = _assignment(str(well), entry)
        return cls(
            name=str(raw.get("name", "")),
            plate_format=plate_format,
            wells=wells,
            unit=str(raw.get("unit", "")),
            description=str(raw.get("description", "")),
        )

    @classmethod
    def from_rows(
        cls, name: str, plate_format: int, rows: Iterable[Mapping[str, str]], unit: str = ""
    ) -> PlateLayout:
        """Build from table rows with ``well``, ``role``, ``name`` and ``level`` columns (a CSV template)."""
        wells: dict[str, WellAssignment] = {}
        for number, row in enumerate(rows, start=2):
            well = (row.get("well") or "").strip()
            if not well:
                continue
            try:
                wells[normalise_well(well)] = _assignment(well, row)
            except ValueError as exc:
                raise ValueError(f"line {number}: {exc}") from None
        return cls(name=name, plate_format=plate_format, wells=wells, unit=unit)


def _assignment(well: str, entry: Any) -> WellAssignment:
    if not isinstance(entry, Mapping):
        raise ValueError(f"wells: {well} must give role, name and level")
    try:
        role = WellRole(str(entry.get("role", "")).strip().lower())
    except ValueError:
        choices = ", ".join(r.value for r in WellRole)
        raise ValueError(f"role: {entry.get('role')!r} for {well} is not one of {choices}") from None
    raw_level = entry.get("level")
    level: float | None = None
    if raw_level not in (None, ""):
        try:
            level = float(raw_level)
        except (TypeError, ValueError):
            raise ValueError(f"level: {raw_level!r} for {well} is not a number") from None
    return WellAssignment(role=role, name=str(entry.get("name") or "").strip(), level=level)


def _check_level(well: str, assignment: WellAssignment) -> None:
    meaning = LEVEL_MEANING[assignment.role]
    level = assignment.level
    if meaning is None:
        if level is not None:
            raise ValueError(f"level: a {assignment.role.value} well ({well}) takes no level")
        return
    if assignment.role is WellRole.UNKNOWN and level is None:
        return  # undiluted
    if level is None or not math.isfinite(level):
        raise ValueError(f"level: {well} ({assignment.role.value}) needs its {meaning}")
    if assignment.role is WellRole.UNKNOWN and level < 1:
        raise ValueError(f"level: the dilution factor of {well} must be at least 1, not {level}")
    if assignment.role in (WellRole.REFERENCE, WellRole.TEST) and level <= 0:
        raise ValueError(f"level: the dose of {well} must be positive, not {level}")
    if assignment.role in (WellRole.STANDARD, WellRole.QC) and level < 0:
        raise ValueError(f"level: the concentration of {well} must not be negative, not {level}")
    if assignment.role in (WellRole.REFERENCE, WellRole.TEST) and not assignment.name:
        raise ValueError(f"name: {well} ({assignment.role.value}) needs its preparation name")


@dataclass(frozen=True)
class StandardCurveTable:
    """Standards (and QC controls) for a dose-response fit: ``concentration`` -> ``response``."""

    wells: tuple[str, ...]
    concentration: FloatArray = field(repr=False)
    response: FloatArray = field(repr=False)


@dataclass(frozen=True)
class PotencyTable:
    """Reference and test preparations in long form, as the potency engine takes them."""

    wells: tuple[str, ...]
    preparation: tuple[str, ...]
    dose: FloatArray = field(repr=False)
    response: FloatArray = field(repr=False)
    row: tuple[int, ...]
    column: tuple[int, ...]


@dataclass(frozen=True)
class UnknownsTable:
    """Unknown samples with their dilution factors, for back-calculation from a standard curve."""

    wells: tuple[str, ...]
    sample: tuple[str, ...]
    dilution_factor: FloatArray = field(repr=False)
    response: FloatArray = field(repr=False)


@dataclass(frozen=True)
class LayoutTables:
    """Everything a reading plus a layout gives. Excluded and unread wells are left out (listed)."""

    standards: StandardCurveTable
    qc: StandardCurveTable
    potency: PotencyTable
    unknowns: UnknownsTable
    blank_wells: tuple[str, ...]
    blank_mean: float
    excluded_wells: tuple[str, ...]
    missing_wells: tuple[str, ...]


def _curve(items: list[tuple[str, float, float]]) -> StandardCurveTable:
    return StandardCurveTable(
        wells=tuple(w for w, _, _ in items),
        concentration=np.array([c for _, c, _ in items], dtype=float),
        response=np.array([r for _, _, r in items], dtype=float),
    )


def layout_tables(layout: PlateLayout, responses: Mapping[str, float]) -> LayoutTables:
    """Combine a layout with one response per well (well name -> value; NaN counts as missing)."""
    by_well: dict[str, float] = {}
    for well, value in responses.items():
        try:
            by_well[normalise_well(well)] = float(value)
        except ValueError:
            continue  # a row that is not a well (a summary line) has no place in a layout
    standards: list[tuple[str, float, float]] = []
    qc: list[tuple[str, float, float]] = []
    potency: list[tuple[str, str, float, float]] = []
    unknowns: list[tuple[str, str, float, float]] = []
    blanks: list[tuple[str, float]] = []
    excluded: list[str] = []
    missing: list[str] = []
    for well, assignment in layout.wells.items():
        if assignment.role is WellRole.EXCLUDED:
            excluded.append(well)
            continue
        value = by_well.get(well, math.nan)
        if math.isnan(value):
            missing.append(well)
            continue
        level = assignment.level
        if assignment.role is WellRole.STANDARD and level is not None:
            standards.append((well, level, value))
        elif assignment.role is WellRole.QC and level is not None:
            qc.append((well, level, value))
        elif assignment.role in (WellRole.REFERENCE, WellRole.TEST) and level is not None:
            potency.append((well, assignment.name, level, value))
        elif assignment.role is WellRole.UNKNOWN:
            unknowns.append((well, assignment.name or well, 1.0 if level is None else level, value))
        elif assignment.role is WellRole.BLANK:
            blanks.append((well, value))
    positions = [well_position(w) for w, _, _, _ in potency]
    return LayoutTables(
        standards=_curve(standards),
        qc=_curve(qc),
        potency=PotencyTable(
            wells=tuple(w for w, _, _, _ in potency),
            preparation=tuple(p for _, p, _, _ in potency),
            dose=np.array([d for _, _, d, _ in potency], dtype=float),
            response=np.array([r for _, _, _, r in potency], dtype=float),
            row=tuple(r for r, _ in positions),
            column=tuple(c for _, c in positions),
        ),
        unknowns=UnknownsTable(
            wells=tuple(w for w, _, _, _ in unknowns),
            sample=tuple(s for _, s, _, _ in unknowns),
            dilution_factor=np.array([d for _, _, d, _ in unknowns], dtype=float),
            response=np.array([r for _, _, _, r in unknowns], dtype=float),
        ),
        blank_wells=tuple(w for w, _ in blanks),
        blank_mean=float(np.mean([v for _, v in blanks])) if blanks else math.nan,
        excluded_wells=tuple(excluded),
        missing_wells=tuple(missing),
    )
