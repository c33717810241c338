"""The standard-curve kind against Gen5's own analysis of a real plate (BioTek Gen5 3.12 export, see
tests/data/samples/plate_reader/PROVENANCE.md).

The export holds the plate layout (7 standards in triplicate, blanks, six samples at four dilutions, each in
triplicate), the blank-corrected absorbances and Gen5's concentration of every well from its linear standard
curve. With the layout read from the export, a linear model and the blank wells subtracted (as Gen5 does),
the kind's result for each sample, dilution applied, agrees with Gen5's.
"""

from __future__ import annotations

import numpy as np
import pytest

from secretome.domain.plate_layout import PlateLayout, WellAssignment, WellRole
from secretome.instruments.detect import read
from secretome.methods.base import Decisions, MethodInput, RunContext
from secretome.methods.registry import get_kind
from tests.unit.instruments.samples import sample_bytes

NAME = "plate_reader/BioTek_Gen5_3.12_abs_stdcurve_singleplate.txt"


def gen5_layout(text: list[str]) -> PlateLayout:
    """The export's own Layout block: ``STDn`` with their concentration, ``BLK``, ``SPLn:k`` with Conc/Dil
    (the inverse of the dilution factor)."""
    start = text.index("Layout")
    wells: dict[str, WellAssignment] = {}
    for row in "ABCDEFGH":
        at = next(k for k in range(start, len(text)) if text[k].startswith(row + "\t"))
        names, levels = text[at].split("\t")[1:13], text[at + 1].split("\t")[1:13]
        for column, (name, level) in enumerate(zip(names, levels, strict=True), start=1):
            well = f"{row}{column}"
            if name.startswith("STD"):
                wells[well] = WellAssignment(WellRole.STANDARD, name, float(level))
            elif name == "BLK":
                wells[well] = WellAssignment(WellRole.BLANK, "BLK")
            elif name.startswith("SPL"):
                wells[well] = WellAssignment(WellRole.UNKNOWN, name.split(":")[0], 1 / float(level))
    return PlateLayout("Gen5 export layout", 96, wells)


def test_sample_concentrations_agree_with_gen5s_own_linear_curve() -> None:
    content = sample_bytes(NAME)
    reading = read(content, "gen5.txt")
    layout = gen5_layout(content.decode("latin-1").splitlines())
    gen5 = {m.well: m.value for m in reading.measurements if m.quantity == "[Concentration]"}
    kind = get_kind("standard-curve")
    settings = kind.check_settings(
        {
            "analytes": {"protein": "protein"},
            "model": "linear",
            "blank_wells": "subtract",
            "concentration_unit": "ug/mL",
        }
    )
    outcome = kind.analyse(
        [MethodInput(1, "0" * 64, "gen5.txt", reading, layout)], settings, Decisions(), RunContext()
    )
    samples = outcome.result["curves"][0]["samples"]
    assert sorted(samples) == [f"SPL{k}" for k in range(1, 7)]
    for name, quantity in samples.items():
        wells = [w for w, a in layout.wells.items() if a.name == name]
        theirs = float(np.mean([gen5[w] * (layout.wells[w].level or 1.0) for w in wells]))
        assert quantity["qualifier"] == "="
        assert quantity["value"] == pytest.approx(theirs, rel=1e-3)
        for reading_at in quantity["readings"]:
            dilution = reading_at["dilution"]
            at_dilution = [w for w in wells if layout.wells[w].level == dilution]
            expected = float(np.mean([gen5[w] for w in at_dilution])) * dilution
            assert reading_at["concentration"] == pytest.approx(expected, rel=3e-3)
