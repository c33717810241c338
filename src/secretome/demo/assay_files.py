"""Vendor-format assay files for the demo, written from true values with a seeded generator.

Every function here is pure: it takes the lots, their true values and a seeded ``numpy.random.Generator``
and returns the bytes a real instrument (or analysis program) would have exported, plus what the analysis
needs beside the file (the plate layout, the method settings). Importing the bytes through the readers and
running the method kind gives the true values back within the simulated noise; the tests check that.

- :func:`gen5_vegf_elisa`: an Agilent BioTek Gen5 3.x text export of a VEGF-A sandwich ELISA (absorbance at
  450 nm), with standards in duplicate, the unconditioned-medium blank and each lot's CM in duplicate.
- :func:`vegf_elisa_settings`: the ``standard-curve`` settings that analyse it.
- :func:`xponent_panel`: a Luminex xPONENT 4.2 batch CSV of a five-analyte MSC secretome panel (HGF, IL-6,
  IL-8, MCP-1, TIMP-1) with seven standards, the background and each lot's CM in duplicate.
- :func:`panel_settings`: the ``standard-curve`` settings that analyse it.
- :func:`gen5_ido_kynurenine`: a Gen5 export of the IDO assay (kynurenine by Ehrlich's reagent at 490 nm)
  and :func:`ido_settings`.
- :func:`angiogenesis_table`: an Angiogenesis Analyzer (ImageJ) results table of a tube-formation assay and
  :func:`angiogenesis_settings`.
- :func:`scratch_table`: a scratch wound-area table over time and :func:`wound_settings`.
- :func:`gen5_t_cell_suppression`: a Gen5 export of a BrdU proliferation ELISA of PBMCs with CM dilutions
  (reference lot and test lots) and :func:`t_cell_settings`.
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
#: QC samples of the VEGF-A ELISA: recombinant VEGF-A spiked into assay diluent at a known concentration
#: (pg/mL in the well), low and high on the curve; charted run after run as assay controls.
VEGF_QC = {"QC-low": 80.0, "QC-high": 500.0}


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


def vegf_elisa_layout(
    lots: Sequence[str],
    dilution: float,
    name: str = "VEGF ELISA (demo)",
    qc: Mapping[str, float] | None = None,
) -> PlateLayout:
    """The plate layout of :func:`gen5_vegf_elisa`.

    Columns 1-2: standards (rows A-G) and the zero standard (row H, a blank), in duplicate. Columns 3-4 row A:
    the medium-only blank (unconditioned medium at the same dilution); then each lot's CM in duplicate, two
    lots per row, filling columns 3-12 row by row; then the QC samples ``qc`` (name -> nominal pg/mL in the
    well, layout role ``qc``), in duplicate.
    """
    controls = dict(qc or {})
    if len(lots) + len(controls) > 39:
        raise ValueError(
            f"lots: at most {39 - len(controls)} lots fit on one plate beside {len(controls)} QC samples, "
            f"not {len(lots)}"
        )
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
    for (control, nominal), (row, column) in zip(controls.items(), pairs[len(samples) :], strict=False):
        for offset in (0, 1):
            wells[f"{row}{column + offset}"] = WellAssignment(WellRole.QC, control, nominal)
    return PlateLayout(name=name, plate_format=96, wells=wells, unit="pg/mL")


def _gen5_well_ids(layout: PlateLayout) -> dict[str, tuple[str, str]]:
    """Gen5's own Well ID and Conc/Dil cells (STD1, BLK, SPL1 ...) for the layout section of the export."""
    ids: dict[str, tuple[str, str]] = {}
    samples: dict[str, int] = {}
    controls: dict[str, int] = {}
    for well, assignment in layout.wells.items():
        if assignment.role is WellRole.STANDARD:
            ids[well] = (assignment.name, f"{assignment.level:g}")
        elif assignment.role is WellRole.BLANK:
            ids[well] = ("BLK", "")
        elif assignment.role is WellRole.QC:
            number = controls.setdefault(assignment.name, len(controls) + 1)
            ids[well] = (f"CTL{number}", f"{assignment.level:g}")
        elif assignment.role is WellRole.UNKNOWN:
            number = samples.setdefault(assignment.name, len(samples) + 1)
            level = assignment.level if assignment.level is not None else 1.0
            ids[well] = (f"SPL{number}", f"{1 / level:g}")
        elif assignment.role in (WellRole.REFERENCE, WellRole.TEST):
            # Gen5 has no preparation role: a dose series is a sample with the dose as its concentration.
            number = samples.setdefault(assignment.name, len(samples) + 1)
            ids[well] = (f"SPL{number}", f"{assignment.level:g}")
    return ids


def gen5_text(
    absorbance: Mapping[str, float],
    layout: PlateLayout,
    *,
    wavelength: int = 450,
    experiment: str = "VEGF_ELISA",
    plate_id: str = "Plate 1",
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
        f"Plate Number\t{plate_id}",
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
    qc: Mapping[str, float] | None = VEGF_QC,
    qc_true: Mapping[str, float] | None = None,
) -> PlateFile:
    """A Gen5 export of a VEGF-A ELISA for ``lots`` (lot number -> true VEGF-A in the CM, pg/mL).

    The plate holds the standards and the zero standard in duplicate, the unconditioned medium (true
    concentration ``medium_blank_pg_ml``: a blank-subtracted result is ``lot - medium``) and each lot's CM,
    all samples diluted ``dilution``-fold, and the QC samples ``qc`` (name -> nominal pg/mL in the well;
    ``None`` or empty for none) in duplicate. A QC well holds its nominal concentration unless ``qc_true``
    says otherwise (a QC material that has degraded, a spiking error: what a control chart is for).
    Absorbances follow the 4PL ``curve`` with multiplicative noise of ``cv`` (fraction) and are rounded to
    the three decimals Gen5 prints.

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
    controls = dict(qc or {})
    actual = {**controls, **(qc_true or {})}
    unknown = sorted(set(actual) - set(controls))
    if unknown:
        raise ValueError(f"qc_true: {unknown[0]!r} is not one of the QC samples ({', '.join(controls)})")
    for name, value in actual.items():
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"qc: the concentration of {name!r} must be a positive number, not {value}")
    layout = vegf_elisa_layout(list(lots), dilution, qc=controls)
    absorbance: dict[str, float] = {}
    for well in plate_wells(96):
        assignment = layout.wells.get(well)
        if assignment is None:
            continue
        if assignment.role is WellRole.STANDARD:
            concentration = float(assignment.level or 0.0)
        elif assignment.role is WellRole.QC:
            concentration = actual[assignment.name]
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


#: The demo's multiplex panel: analyte -> (specification attribute, top standard in pg/mL, bead region,
#: curve inflection in pg/mL). Standards are a four-fold series of seven from the top standard.
PANEL: dict[str, tuple[str, float, int, float]] = {
    "HGF": ("hgf", 20000.0, 18, 2500.0),
    "IL-6": ("il6", 20000.0, 26, 1800.0),
    "IL-8": ("il8", 20000.0, 34, 2200.0),
    "MCP-1": ("mcp1", 20000.0, 42, 2000.0),
    "TIMP-1": ("timp1", 80000.0, 54, 9000.0),
}
#: Typical basal MSC-CM concentrations (pg/mL, serum-free, 48 h) the demo lots scatter around.
PANEL_TYPICAL = {"HGF": 1500.0, "IL-6": 12000.0, "IL-8": 4000.0, "MCP-1": 5000.0, "TIMP-1": 60000.0}
#: Median fluorescence of the lowest and highest plateau, and the Hill slope, of every analyte's curve.
MFI_BOTTOM, MFI_TOP, MFI_HILL = 18.0, 24000.0, 1.05


def panel_qc() -> dict[str, dict[str, float]]:
    """The panel's QC samples (recombinant analytes in assay diluent, pg/mL in the well): ``QC-low`` at a
    two-hundred-and-fiftieth and ``QC-high`` at a twenty-fifth of each analyte's top standard (near the
    curve's inflection, where a concentration reads most precisely)."""
    return {
        "QC-low": {analyte: top / 250.0 for analyte, (_, top, _, _) in PANEL.items()},
        "QC-high": {analyte: top / 25.0 for analyte, (_, top, _, _) in PANEL.items()},
    }


#: The panel's QC samples, the default of :func:`xponent_panel` (never mutated).
PANEL_QC: Mapping[str, Mapping[str, float]] = panel_qc()


def panel_standards() -> dict[str, dict[str, float]]:
    """Standard concentrations per analyte, keyed by the sample names of the plate (``Standard1``..7)."""
    return {
        analyte: {f"Standard{k + 1}": top / 4.0**k for k in range(7)}
        for analyte, (_, top, _, _) in PANEL.items()
    }


def _xponent_block(data_type: str, rows: Sequence[Sequence[str]], header: Sequence[str]) -> list[str]:
    lines = [_csv("DataType:", data_type), _csv(*header)]
    lines += [_csv(*row) for row in rows]
    lines.append("")
    return lines


def _csv(*cells: str) -> str:
    return ",".join(f'"{c}"' for c in cells)


def xponent_panel(
    lots: Mapping[str, Mapping[str, float]],
    rng: np.random.Generator,
    *,
    dilution: float = 10.0,
    cv: float = 0.05,
    low_bead_wells: Sequence[str] = (),
    qc: Mapping[str, Mapping[str, float]] | None = PANEL_QC,
    qc_true: Mapping[str, Mapping[str, float]] | None = None,
) -> PlateFile:
    """A Luminex xPONENT 4.2 (MAGPIX) batch CSV of the :data:`PANEL` for ``lots`` (lot -> analyte -> true
    pg/mL in the CM; analytes left out are at :data:`PANEL_TYPICAL`).

    Wells are read column by column (A1, B1, ... H1, A2 ...): ``Background0`` and the seven standards in
    duplicate, then each lot's CM, diluted ``dilution``-fold, in duplicate, then the QC samples ``qc`` (sample
    -> analyte -> nominal pg/mL in the well; the default :func:`panel_qc`, ``None`` for none) in duplicate,
    each holding its nominal concentrations unless ``qc_true`` says otherwise. Median fluorescence follows each
    analyte's 4PL with multiplicative noise ``cv``; bead counts are 80-120 per region, except in
    ``low_bead_wells`` (20-30: below the usual minimum of 50). The returned layout is None-equivalent: the
    wells are identified by their sample names, as multiplex exports are.
    """
    if not lots:
        raise ValueError("lots: name at least one lot with its true values")
    if not (dilution >= 1 and math.isfinite(dilution)):
        raise ValueError(f"dilution: must be at least 1, not {dilution}")
    if not 0 <= cv < 0.5:
        raise ValueError(f"cv: must lie in [0, 0.5), not {cv}")
    for lot, values in lots.items():
        for analyte, value in values.items():
            if analyte not in PANEL:
                raise ValueError(f"lots: {analyte!r} of {lot} is not in the panel ({', '.join(PANEL)})")
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"lots: {analyte} of {lot} must be a non-negative number")
    controls = {name: dict(levels) for name, levels in (qc or {}).items()}
    unknown = sorted(set(qc_true or {}) - set(controls))
    if unknown:
        raise ValueError(f"qc_true: {unknown[0]!r} is not one of the QC samples ({', '.join(controls)})")
    standards = panel_standards()
    samples: list[tuple[str, dict[str, float]]] = []
    for name in ("Background0", *standards["HGF"]):
        well_values = {a: standards[a].get(name, 0.0) for a in PANEL}
        samples += [(name, well_values), (name, well_values)]
    for lot, values in lots.items():
        well_values = {a: values.get(a, PANEL_TYPICAL[a]) / dilution for a in PANEL}
        samples += [(lot, well_values), (lot, well_values)]
    for name, nominal in controls.items():
        actual = {**nominal, **(qc_true or {}).get(name, {})}
        well_values = {a: float(actual.get(a, 0.0)) for a in PANEL}
        samples += [(name, well_values), (name, well_values)]
    if len(samples) > 96:
        raise ValueError(f"lots: {len(lots)} lots do not fit on one 96-well plate")
    order = [f"{row}{column}" for column in range(1, 13) for row in "ABCDEFGH"]
    analytes = list(PANEL)
    median_rows, net_rows, count_rows, dilution_rows = [], [], [], []
    low = set(low_bead_wells)
    for index, ((sample, values), well) in enumerate(zip(samples, order, strict=False), start=1):
        location = f"{index}(1,{well})"
        medians, counts = [], []
        for analyte in analytes:
            _, _, _, inflection = PANEL[analyte]
            mean = four_pl(values[analyte], MFI_BOTTOM, MFI_TOP, inflection, MFI_HILL)
            medians.append(max(mean * (1.0 + cv * float(rng.standard_normal())), 1.0))
            counts.append(int(rng.integers(20, 31)) if well in low else int(rng.integers(80, 121)))
        total = str(sum(counts) + int(rng.integers(50, 150)))
        median_rows.append([location, sample, *(f"{m:.1f}" for m in medians), total])
        net_rows.append([location, sample, *(f"{m - MFI_BOTTOM:.1f}" for m in medians), total])
        count_rows.append([location, sample, *(str(c) for c in counts), total])
        is_lot = sample in lots
        dilution_rows.append([location, sample, *([f"{dilution:g}"] if is_lot else [])])
    header = ["Location", "Sample", *analytes, "Total Events"]
    lines = [
        _csv("Program", "xPONENT", "", "MAGPIX"),
        _csv("Build", "4.2.1324.0"),
        _csv("Date", "12/2/2026", "9:40 AM"),
        "",
        _csv("SN", "MAGPX21104707"),
        _csv("Batch", "MSC-CM secretome panel"),
        _csv("Version", "1"),
        _csv("Operator", "analyst"),
        _csv("ComputerName", "MAGPIX-QC"),
        _csv("Country Code", "409"),
        _csv("ProtocolName", "MSC-CM 5-plex"),
        _csv("ProtocolVersion", "1"),
        _csv("ProtocolDescription", ""),
        _csv("ProtocolDevelopingCompany", ""),
        _csv("SampleVolume", "50 uL"),
        _csv("SampleWash", "Off"),
        _csv("BatchStartTime", "12/2/2026 8:55:12 AM"),
        _csv("BatchStopTime", "12/2/2026 9:38:40 AM"),
        _csv("BatchDescription", "<None>"),
        _csv("ProtocolPlate", "Name", "96-well", "Type", "96", "Plates", "1"),
        _csv("ProtocolMicrosphere", "Map", "MagPlex", "Type", "MagPlex", "Count", str(len(analytes))),
        _csv("ProtocolReporterGain", "N/A"),
        _csv("ProtocolAnalysis", "Off"),
        _csv("NormBead", "None"),
        _csv("ProtocolHeater", "Off"),
        "",
        _csv("Most Recent Calibration and Verification Results:"),
        _csv("Last CAL Calibration", "Passed 12/1/2026 9:13:06 AM"),
        _csv("Last VER Verification", "Passed 12/2/2026 7:06:41 AM"),
        _csv("Last Fluidics Test", "Passed 12/2/2026 7:08:01 AM"),
        _csv(""),
        _csv("CALInfo:"),
        _csv("Calibrator"),
        _csv("Lot", "ExpirationDate", "CalibrationTime", "Result", "MachineSerialNo"),
        _csv("C03633", "8/29/2027", "12/1/2026 9:13:06 AM", "Pass", "MAGPX21104707"),
        "",
        "",
        _csv("Samples", str(len(samples)), "Min Events", "50", "Per Bead"),
        "",
        _csv("Results"),
        "",
    ]
    lines += _xponent_block("Median", median_rows, header)
    lines += _xponent_block("Net MFI", net_rows, header)
    lines += _xponent_block("Count", count_rows, header)
    lines += [
        _csv("DataType:", "Units"),
        _csv("Analyte:", *analytes),
        _csv("BeadID:", *(str(PANEL[a][2]) for a in analytes)),
        _csv("Units:", *("pg/mL" for _ in analytes)),
        "",
        _csv("DataType:", "Per Bead Count"),
        _csv("Analyte:", *analytes),
        _csv("BeadID:", *(str(PANEL[a][2]) for a in analytes)),
        _csv("Per Bead:", *("50" for _ in analytes)),
        "",
    ]
    lines += _xponent_block("Dilution Factor", dilution_rows, ["Location", "Sample", "Dilution Factor"])
    lines += [
        "",
        _csv("DataType:", "Analysis Types"),
        _csv("Analyte:", *analytes),
        _csv("AnalysisType", *("None" for _ in analytes)),
        "",
        _csv("DataType:", "Audit Logs"),
        _csv("UserId", "Date", "Message"),
        "",
        _csv("DataType:", "Warnings/Errors"),
        _csv("Location", "Status", "Message"),
        *(
            _csv(
                f"1,{well}",
                "Ok",
                "The acquisition had at least one region that did not reach the specified count.",
            )
            for well in sorted(low)
        ),
        "",
        "-- CRC --",
        _csv("CRC32", "0"),
    ]
    content = ("\r\n".join(lines) + "\r\n").encode("ascii")
    layout = _panel_layout(samples, order, lots, dilution, controls)
    return PlateFile("secretome-panel-xponent.csv", content, layout)


def _panel_layout(
    samples: Sequence[tuple[str, Mapping[str, float]]],
    order: Sequence[str],
    lots: Mapping[str, Mapping[str, float]],
    dilution: float,
    controls: Mapping[str, Mapping[str, float]],
) -> PlateLayout:
    wells: dict[str, WellAssignment] = {}
    for (sample, _), well in zip(samples, order, strict=False):
        if sample == "Background0":
            wells[well] = WellAssignment(WellRole.BLANK, sample)
        elif sample in lots:
            wells[well] = WellAssignment(WellRole.UNKNOWN, sample, dilution)
        elif sample in controls:
            # Like a standard, a QC's level is per analyte (the settings' qc_samples); the layout names it.
            wells[well] = WellAssignment(WellRole.QC, sample, next(iter(controls[sample].values())))
        else:
            # The level of a standard is per analyte (see panel_standards); the layout names the standard.
            wells[well] = WellAssignment(WellRole.STANDARD, sample, panel_standards()["HGF"][sample])
    return PlateLayout(name="MSC-CM 5-plex (demo)", plate_format=96, wells=wells, unit="pg/mL")


def panel_settings(dilution: float = 10.0, normalisation: str = "per_ml") -> dict[str, Any]:
    """``standard-curve`` settings for the panel of :func:`xponent_panel` (standards by sample name)."""
    return {
        "analytes": {analyte: attribute for analyte, (attribute, _, _, _) in PANEL.items()},
        "response": "median fluorescence",
        "model": "5pl",
        "weighting": "1/y^2",
        "blank_wells": "fit",
        "standards": panel_standards(),
        "qc_samples": panel_qc(),
        "assay_blanks": ["Background0"],
        "dilution": dilution,
        "below_lloq": "lloq",
        "min_bead_count": 50,
        "concentration_unit": "pg/mL",
        "normalisation": normalisation,
    }


# ---------------------------------------------------------------------------------------------------------
# IDO activity: kynurenine by Ehrlich's reagent
# ---------------------------------------------------------------------------------------------------------
#: Kynurenine standards (uM) of the IDO plate, and the straight line absorbance follows at 490 nm.
KYNURENINE_STANDARDS = (1.5625, 3.125, 6.25, 12.5, 25.0, 50.0, 100.0)
KYNURENINE_LINE = (0.042, 0.0106)
#: The IDO assay culture: IFN-gamma-primed MSCs per well, supernatant volume and hours.
IDO_CULTURE = {"cells": 1.0e5, "volume_ml": 0.2, "hours": 48.0}


def ido_layout(lots: Sequence[str], dilution: float = 1.0) -> PlateLayout:
    """Kynurenine standards and the zero standard (blank) in duplicate in columns 1-2; each lot's supernatant
    in duplicate from column 3 on."""
    wells: dict[str, WellAssignment] = {}
    rows = "ABCDEFGH"
    for index, level in enumerate(KYNURENINE_STANDARDS):
        for column in (1, 2):
            wells[f"{rows[index]}{column}"] = WellAssignment(WellRole.STANDARD, f"STD{index + 1}", level)
    for column in (1, 2):
        wells[f"H{column}"] = WellAssignment(WellRole.BLANK, "BLK")
    pairs = [(r, c) for r in rows for c in (3, 5, 7, 9, 11)]
    if len(lots) > len(pairs):
        raise ValueError(f"lots: at most {len(pairs)} lots fit on one plate")
    for lot, (row, column) in zip(lots, pairs, strict=False):
        for offset in (0, 1):
            wells[f"{row}{column + offset}"] = WellAssignment(WellRole.UNKNOWN, lot, dilution)
    return PlateLayout(name="IDO kynurenine (demo)", plate_format=96, wells=wells, unit="uM")


def gen5_ido_kynurenine(
    lots: Mapping[str, float], rng: np.random.Generator, *, sd: float = 0.004, dilution: float = 1.0
) -> PlateFile:
    """A Gen5 export of the IDO assay for ``lots`` (lot -> true IDO activity, nmol kynurenine per 10^6 cells
    per hour, in the culture of :data:`IDO_CULTURE`). Absorbance at 490 nm is linear in kynurenine with
    additive noise ``sd``."""
    _check_lots(lots)
    layout = ido_layout(list(lots), dilution)
    intercept, slope = KYNURENINE_LINE
    per_activity = IDO_CULTURE["cells"] / 1e6 * IDO_CULTURE["hours"] / IDO_CULTURE["volume_ml"]
    absorbance: dict[str, float] = {}
    for well, assignment in layout.wells.items():
        if assignment.role is WellRole.STANDARD:
            kynurenine = float(assignment.level or 0.0)
        elif assignment.role is WellRole.BLANK:
            kynurenine = 0.0
        else:
            kynurenine = lots[assignment.name] * per_activity / dilution
        absorbance[well] = round(intercept + slope * kynurenine + sd * float(rng.standard_normal()), 3)
    content = gen5_text(absorbance, layout, wavelength=490, experiment="IDO_kynurenine", time="2:40:00 PM")
    return PlateFile("ido-kynurenine-gen5.txt", content, layout)


def ido_settings(attribute: str = "ido_activity") -> dict[str, Any]:
    """``ido-activity`` settings for :func:`gen5_ido_kynurenine`."""
    return {
        "attribute": attribute,
        "response": "absorbance",
        "wavelength": 490,
        "model": "linear",
        "culture": "assay",
        **IDO_CULTURE,
    }


# ---------------------------------------------------------------------------------------------------------
# Angiogenesis: Angiogenesis Analyzer results table
# ---------------------------------------------------------------------------------------------------------
#: Mean total tube length (pixels) of the VEGF positive control and the basal-medium control.
TUBE_LENGTH = {"VEGF": 12500.0, "basal": 4200.0}
ANGIOGENESIS_HEADER = (
    "Image Name",
    "Analysed area",
    "Nb extrem.",
    "Nb nodes",
    "Nb Junctions",
    "Nb master junction",
    "Nb master segments",
    "Tot. master segments lenght",
    "Nb meshes",
    "Tot.meshes area",
    "Nb peaces",
    "Nb segments",
    "Nb branches",
    "Nb isol. seg.",
    "Tot. lenght",
    "Tot. branching lenght",
    "Tot. segments lenght",
    "Tot. branches lenght",
    "Tot. isol. branches lenght",
    "Branching interval",
    "Mesh index",
    "Mean Mesh Size",
)


def angiogenesis_table(
    lots: Mapping[str, float], rng: np.random.Generator, *, wells_per_group: int = 3, cv: float = 0.06
) -> PlateFile:
    """An Angiogenesis Analyzer "Stat Results Table" (ImageJ CSV, row numbers first) for ``lots`` (lot -> true
    total tube length in % of the VEGF control), with the VEGF and basal-medium controls; images are named
    ``<group>_<replicate>.tif``. The network's other figures follow the tube length."""
    _check_lots(lots)
    if wells_per_group < 2:
        raise ValueError("wells_per_group: at least 2 wells per group")
    groups = {**TUBE_LENGTH, **{lot: TUBE_LENGTH["VEGF"] * pct / 100 for lot, pct in lots.items()}}
    lines = [",".join([" ", *ANGIOGENESIS_HEADER])]
    row = 0
    for group, mean_length in groups.items():
        for replicate in range(1, wells_per_group + 1):
            row += 1
            length = mean_length * (1 + cv * float(rng.standard_normal()))
            junctions = round(length / 95 * (1 + 0.05 * float(rng.standard_normal())))
            meshes = round(length / 260 * (1 + 0.08 * float(rng.standard_normal())))
            segments = round(junctions * 1.3)
            branches = round(junctions * 0.45)
            master = round(junctions * 0.5)
            cells = [
                f"{group}_{replicate}.tif",
                "1310720",
                str(round(branches * 1.2)),
                str(round(junctions * 3.1)),
                str(junctions),
                str(master),
                str(round(master * 1.4)),
                f"{length * 0.62:.0f}",
                str(meshes),
                f"{meshes * 5200:.0f}",
                str(round(branches * 0.3) + 2),
                str(segments),
                str(branches),
                str(round(branches * 0.2)),
                f"{length:.0f}",
                f"{length * 0.93:.0f}",
                f"{length * 0.71:.0f}",
                f"{length * 0.22:.0f}",
                f"{length * 0.07:.0f}",
                f"{length / max(junctions, 1):.3f}",
                f"{meshes * 5200 / 1310720:.4f}",
                f"{5200 * (1 + 0.1 * float(rng.standard_normal())):.1f}",
            ]
            lines.append(",".join([str(row), *cells]))
    return PlateFile("angiogenesis-analyzer.csv", ("\n".join(lines) + "\n").encode("ascii"), _no_layout())


def _no_layout() -> PlateLayout:
    # Image tables carry no plate layout; a one-well placeholder keeps PlateFile's shape.
    return PlateLayout(
        name="images (no plate layout)", plate_format=96, wells={"A1": WellAssignment(WellRole.EXCLUDED)}
    )


def angiogenesis_settings(attribute: str = "angiogenesis") -> dict[str, Any]:
    """``angiogenesis`` settings for :func:`angiogenesis_table`: total tube length, % of the VEGF control."""
    return {
        "attribute": attribute,
        "metric": "total tube length",
        "positive_control": "VEGF",
        "negative_control": "basal",
        "baseline": "none",
    }


# ---------------------------------------------------------------------------------------------------------
# Wound healing: scratch areas over time
# ---------------------------------------------------------------------------------------------------------
#: Closure of the control medium at 24 h (%), and the imaging times (h).
CONTROL_CLOSURE_24H = 45.0
SCRATCH_HOURS = (0.0, 6.0, 12.0, 18.0, 24.0)


def scratch_table(
    lots: Mapping[str, float], rng: np.random.Generator, *, wells_per_group: int = 3, noise: float = 0.02
) -> PlateFile:
    """A scratch wound-area table for ``lots`` (lot -> true closure at 24 h in % of the control medium's),
    with the control medium; closure grows linearly in time, areas in um^2 with relative noise ``noise``."""
    _check_lots(lots)
    groups = {
        "control": CONTROL_CLOSURE_24H,
        **{lot: CONTROL_CLOSURE_24H * pct / 100 for lot, pct in lots.items()},
    }
    lines = ["Well,Sample,Time (h),Area (um^2)"]
    rows = "ABCDEFGH"
    for g, (group, closure_24) in enumerate(groups.items()):
        for replicate in range(wells_per_group):
            well = f"{rows[g % 8]}{replicate + 1 + 3 * (g // 8)}"
            initial = 1.2e6 * (1 + 0.05 * float(rng.standard_normal()))
            for hours in SCRATCH_HOURS:
                closure = closure_24 * hours / 24.0
                area = (
                    initial
                    * (1 - closure / 100)
                    * (1 + (noise * float(rng.standard_normal()) if hours else 0.0))
                )
                lines.append(f"{well},{group},{hours:g},{area:.0f}")
    return PlateFile("scratch-areas.csv", ("\r\n".join(lines) + "\r\n").encode("ascii"), _no_layout())


def wound_settings(attribute: str = "wound_healing") -> dict[str, Any]:
    """``wound-healing`` settings for :func:`scratch_table`: closure at 24 h relative to control medium."""
    return {"attribute": attribute, "control": "control", "at_hours": 24.0, "report": "relative_closure"}


# ---------------------------------------------------------------------------------------------------------
# T-cell suppression: BrdU proliferation ELISA of stimulated PBMCs with CM dilutions
# ---------------------------------------------------------------------------------------------------------
#: CM doses (% v/v) of the suppression plate, and the reference lot's IC50 (% v/v) on it.
SUPPRESSION_DOSES = (0.78125, 1.5625, 3.125, 6.25, 12.5, 25.0, 50.0)
REFERENCE_IC50 = 10.0
#: Absorbance of the stimulated (no CM) and unstimulated controls at 450 nm.
STIMULATED_A450, UNSTIMULATED_A450 = 2.1, 0.12


def suppression_layout(lots: Sequence[str], reference: str = "REF") -> PlateLayout:
    """Reference and each lot in rows (seven doses in columns 1-7 and again in 8-11 plus 12 for the top
    dose: duplicates), stimulated controls in row H columns 1-6, unstimulated in columns 7-12."""
    preparations = [reference, *lots]
    if len(preparations) > 7:
        raise ValueError(f"lots: at most 6 lots fit beside the reference, not {len(lots)}")
    wells: dict[str, WellAssignment] = {}
    rows = "ABCDEFG"
    for row, name in zip(rows, preparations, strict=False):
        role = WellRole.REFERENCE if name == reference else WellRole.TEST
        for k, dose in enumerate(SUPPRESSION_DOSES):
            wells[f"{row}{k + 1}"] = WellAssignment(role, name, dose)
        for k, dose in enumerate(SUPPRESSION_DOSES[:5]):
            wells[f"{row}{k + 8}"] = WellAssignment(role, name, dose)
    for column in range(1, 7):
        wells[f"H{column}"] = WellAssignment(WellRole.UNKNOWN, "stimulated")
        wells[f"H{column + 6}"] = WellAssignment(WellRole.UNKNOWN, "unstimulated")
    return PlateLayout(name="T-cell suppression (demo)", plate_format=96, wells=wells, unit="% v/v")


def gen5_t_cell_suppression(
    lots: Mapping[str, float], rng: np.random.Generator, *, reference: str = "REF", sd: float = 0.03
) -> PlateFile:
    """A Gen5 export of a T-cell suppression plate for ``lots`` (lot -> true relative potency against the
    reference lot on the plate). % inhibition follows ``2 + 90 / (1 + (IC50 / dose)^1.3)`` with
    ``IC50 = REFERENCE_IC50 / RP``; absorbance falls from the stimulated to the unstimulated level with it,
    plus additive noise ``sd``. Only the five lowest doses are duplicated (columns 8-12)."""
    _check_lots(lots)
    layout = suppression_layout(list(lots), reference)
    absorbance: dict[str, float] = {}
    for well, assignment in layout.wells.items():
        if assignment.name == "stimulated":
            mean = STIMULATED_A450
        elif assignment.name == "unstimulated":
            mean = UNSTIMULATED_A450
        else:
            potency = 1.0 if assignment.name == reference else lots[assignment.name]
            dose = float(assignment.level or 0.0)
            inhibition = 2.0 + 90.0 / (1.0 + (REFERENCE_IC50 / potency / dose) ** 1.3)
            mean = UNSTIMULATED_A450 + (1 - inhibition / 100) * (STIMULATED_A450 - UNSTIMULATED_A450)
        absorbance[well] = round(mean + sd * float(rng.standard_normal()), 3)
    content = gen5_text(absorbance, layout, wavelength=450, experiment="BrdU_suppression", time="4:05:00 PM")
    return PlateFile("t-cell-suppression-gen5.txt", content, layout)


def t_cell_settings(
    attribute: str = "t_cell_suppression", rp_attribute: str | None = "immunomodulation_rp"
) -> dict[str, Any]:
    """``t-cell-suppression`` settings for :func:`gen5_t_cell_suppression`: % inhibition at 25 % v/v CM and the
    relative potency against the reference lot."""
    return {"attribute": attribute, "report": "inhibition", "report_dose": 25.0, "rp_attribute": rp_attribute}


# ---------------------------------------------------------------------------------------------------------
# The demo's methods and specification attributes for these files
# ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DemoMethod:
    """An analysis method for one of the files above, in the words ``services.analyses.draft_method`` takes."""

    code: str
    title: str
    kind: str
    settings: Mapping[str, Any]
    attributes: tuple[str, ...]
    reporting_unit: str
    normalisation: str = "none"

    def draft_arguments(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "title": self.title,
            "kind": self.kind,
            "settings": dict(self.settings),
            "attributes": list(self.attributes),
            "reporting_unit": self.reporting_unit,
            "normalisation": self.normalisation,
        }


def demo_methods() -> list[DemoMethod]:
    """One method per demo file: VEGF-A ELISA, the five-plex panel, IDO, T-cell suppression, angiogenesis and
    wound healing (panel values per mL of CM, the assays in their own units)."""
    panel = panel_settings()
    return [
        DemoMethod(
            "VEGF-ELISA",
            "VEGF-A sandwich ELISA, 4PL, medium blank subtracted",
            "standard-curve",
            vegf_elisa_settings(),
            ("vegf",),
            "pg/mL",
            "per_ml",
        ),
        DemoMethod(
            "SECRETOME-5PLEX",
            "Secretome panel (HGF, IL-6, IL-8, MCP-1, TIMP-1), Luminex 5PL",
            "standard-curve",
            panel,
            tuple(panel["analytes"].values()),
            "pg/mL",
            "per_ml",
        ),
        DemoMethod(
            "IDO-ACTIVITY",
            "IDO activity, kynurenine by Ehrlich's reagent at 490 nm",
            "ido-activity",
            ido_settings(),
            ("ido_activity",),
            "nmol/10^6 cells/h",
        ),
        DemoMethod(
            "TCELL-SUPPRESSION",
            "T-cell suppression (BrdU), % inhibition at 25 % CM and RP",
            "t-cell-suppression",
            # the plate's stimulated control and reference lot are charted run after run
            {**t_cell_settings(), "chart_controls": True},
            ("t_cell_suppression", "immunomodulation_rp"),
            "%",
        ),
        DemoMethod(
            "ANGIOGENESIS",
            "Tube formation on Matrigel, % of VEGF control",
            "angiogenesis",
            angiogenesis_settings(),
            ("angiogenesis",),
            "%",
        ),
        DemoMethod(
            "WOUND-HEALING",
            "Scratch closure at 24 h, % of control medium",
            "wound-healing",
            wound_settings(),
            ("wound_healing",),
            "%",
        ),
    ]


def demo_attributes() -> list[Any]:
    """Report-only specification attributes the demo methods compute (``AttributeSpec``), for the lead's
    specification: the panel analytes and the potency assays."""
    from secretome.domain.specification import AttributeSpec, Criterion, CriterionKind, ReportingRule

    def spec(code: str, name: str, method: str, unit: str, kind: str, category: str) -> AttributeSpec:
        return AttributeSpec(
            code,
            name,
            method,
            unit,
            Criterion(CriterionKind.REPORT_ONLY, rule=ReportingRule(significant_digits=3)),
            category=category,
            release_test=False,
            analysis_kind=kind,
        )

    attributes = [
        spec("vegf", "VEGF-A", "Sandwich ELISA, 4PL standard curve", "pg/mL", "standard-curve", "secretome")
    ]
    for analyte, (code, _, _, _) in PANEL.items():
        attributes.append(
            spec(
                code, analyte, "Luminex multiplex, 5PL standard curve", "pg/mL", "standard-curve", "secretome"
            )
        )
    attributes += [
        spec(
            "ido_activity",
            "IDO activity",
            "Kynurenine (Ehrlich's reagent, 490 nm)",
            "nmol/10^6 cells/h",
            "ido-activity",
            "potency",
        ),
        spec(
            "t_cell_suppression",
            "T-cell suppression at 25 % CM",
            "PBMC proliferation (BrdU)",
            "%",
            "t-cell-suppression",
            "potency",
        ),
        spec(
            "immunomodulation_rp",
            "Immunomodulation, relative potency",
            "PBMC proliferation (BrdU), parallel 4PL",
            "",
            "t-cell-suppression",
            "potency",
        ),
        spec(
            "angiogenesis",
            "Tube formation",
            "HUVEC on Matrigel, Angiogenesis Analyzer",
            "%",
            "angiogenesis",
            "potency",
        ),
        spec(
            "wound_healing",
            "Wound closure at 24 h",
            "Scratch assay, relative to control medium",
            "%",
            "wound-healing",
            "potency",
        ),
    ]
    return attributes
