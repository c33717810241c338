"""Our 5PL and the standard-curve kind against xPONENT's own analysis of a 30-plex cytokine panel.

The export (xPONENT 3.1, LX200; the S1 File of Sanz et al., PLOS ONE 2017, see
tests/data/xponent_reference/PROVENANCE.md) holds, besides the bead readings, xPONENT's fitted 5PL
coefficients (A, B, C, D, F, on Net MFI) and its back-calculated result for every well: an independent,
commercial implementation of the same arithmetic.

xPONENT's 5PL, ``y = A + (B - A) / (1 + (x / C)^D)^F``, is ours with bottom A, top B, inflection C,
hill -D, asymmetry F.
"""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path

import numpy as np
import pytest

from secretome.analysis import CurveFitter
from secretome.analysis.models import FIVE_PL
from secretome.instruments.model import InstrumentReading, Measurement
from secretome.methods.base import Decisions, MethodInput, RunContext
from secretome.methods.registry import get_kind

FILE = (
    Path(__file__).resolve().parents[2]
    / "data"
    / "xponent_reference"
    / ("xPONENT3.1_LX200_drLumi_S1_with_stdcurve_results.csv")
)
Table = tuple[list[str], list[list[str]]]


def _tables() -> dict[str, Table]:
    rows = list(csv.reader(FILE.read_text(encoding="latin-1").splitlines()))
    tables: dict[str, Table] = {}
    for index, row in enumerate(rows):
        if row[:1] == ["DataType:"]:
            body = []
            for line in rows[index + 2 :]:
                if not any(c.strip() for c in line) or line[0] == "DataType:":
                    break
                body.append(line)
            tables[row[1]] = (rows[index + 1], body)
    return tables


TABLES = _tables()
ANALYTES = TABLES["Median"][0][2:-1]


def _coefficients(analyte: str) -> np.ndarray:
    column = 1 + ANALYTES.index(analyte)
    found = {
        r[0]: float(r[column]) for r in TABLES["Analysis Coefficients"][1] if r[0].startswith("Coefficient")
    }
    a, b, c, d, f = (found[f"Coefficient {k}"] for k in "ABCDF")
    return np.array([a, b, c, -d, f])


def _standards(analyte: str) -> tuple[list[float], list[float]]:
    """Net MFI of the standards and their concentrations, rebuilt as Standard1 / 2^(k-1): the export's own
    expected-concentration table lost the decimal point of every value with three decimals."""
    column = 1 + ANALYTES.index(analyte)
    top = float(next(r for r in TABLES["Standard Expected Concentration"][1] if r[0] == "Standard1")[column])
    dose, response = [], []
    for row in TABLES["Net MFI"][1]:
        if row[1].startswith("Standard"):
            dose.append(top / 2 ** (int(row[1][len("Standard") :]) - 1))
            response.append(float(row[1 + column]))
    return dose, response


def _dilutions() -> dict[str, float]:
    return {r[0]: float(r[2]) for r in TABLES["Dilution Factor"][1] if len(r) > 2 and r[2]}


@pytest.mark.parametrize("analyte", ANALYTES)
def test_our_5pl_inverse_with_xponents_coefficients_gives_xponents_result(analyte: str) -> None:
    params = _coefficients(analyte)
    column = 2 + ANALYTES.index(analyte)
    dilution = _dilutions()
    low, high = sorted((params[0], params[1]))
    compared = 0
    for net, result in zip(TABLES["Net MFI"][1], TABLES["Result"][1], strict=True):
        assert net[0] == result[0]
        if net[1].startswith(("Standard", "Background")):
            continue
        try:
            expected = float(result[column])
        except ValueError:
            continue  # "< 0.23", "> 7600", NaN: xPONENT's own censoring
        response = float(net[column])
        ours = float(FIVE_PL.inverse(np.array(response), params)) * dilution[net[0]]
        if math.isnan(ours):
            # xPONENT extrapolates beyond the fitted asymptotes; we never do.
            assert not low < response < high
            continue
        assert ours == pytest.approx(expected, rel=1e-9)
        compared += 1
    assert compared >= 40


WELL_FITTED = [
    a
    for a in ANALYTES
    if float(next(r for r in TABLES["R^2"][1] if r[0] == "Value")[1 + ANALYTES.index(a)]) >= 0.99
]


@pytest.mark.parametrize("analyte", WELL_FITTED)
def test_our_5pl_fit_of_the_standards_follows_xponents_curve(analyte: str) -> None:
    dose, response = _standards(analyte)
    fit = CurveFitter("5pl").fit(dose, response)
    levels = np.array(sorted(set(dose)))
    theirs = FIVE_PL.predict(levels, _coefficients(analyte))
    spread = max(response) - min(response)
    # Both fit the same 17 points; the weighting xPONENT used is not in the export, so the curves differ a
    # little, never by more than 6 % of the response range at a standard.
    assert float(np.max(np.abs(fit.predict(levels) - theirs))) < 0.06 * spread


@pytest.mark.parametrize("analyte", ["VEGF", "IL10", "TNFa", "IP10"])
def test_the_kind_reads_the_samples_like_xponent_does(analyte: str) -> None:
    column = 2 + ANALYTES.index(analyte)
    measurements = []
    for row in TABLES["Net MFI"][1]:
        well = re.search(r",([A-H]\d+)\)", row[0])
        assert well is not None
        value = float(row[column]) if row[column] not in ("NaN", "") else math.nan
        measurements.append(Measurement("Net MFI", value, "", row[1], well.group(1), "", analyte))
    reading = InstrumentReading(
        "drlumi.csv", "xponent", "multiplex", "csv", "0", measurements=tuple(measurements)
    )
    dose, _ = _standards(analyte)
    kind = get_kind("standard-curve")
    settings = kind.check_settings(
        {
            "analytes": {analyte: analyte.lower()},
            "response": "Net MFI",
            "standards": {
                f"Standard{k + 1}": level for k, level in enumerate(sorted(set(dose), reverse=True))
            },
            "assay_blanks": ["Background0"],
            "blank_wells": "ignore",
            "model": "5pl",
            "dilution": 2.0,
        }
    )
    outcome = kind.analyse(
        [MethodInput(1, "0" * 64, "drlumi.csv", reading)], settings, Decisions(), RunContext()
    )
    samples = outcome.result["curves"][0]["samples"]
    levels = sorted(set(dose))
    ratios = []
    for name, quantity in samples.items():
        theirs = []
        for row in TABLES["Result"][1]:
            if row[1] == name:
                try:
                    theirs.append(float(row[column]))
                except ValueError:
                    break
        else:
            # The back-calculated reading, before our LLOQ rule (stricter than xPONENT's lowest standard).
            ours = quantity["readings"][0]["concentration"]
            if ours is not None and theirs and 2 * levels[1] < ours < 2 * levels[-2]:
                ratios.append(ours / float(np.mean(theirs)))
    assert len(ratios) >= 10
    assert float(np.median(ratios)) == pytest.approx(1.0, abs=0.12)
