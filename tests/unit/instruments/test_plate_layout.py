"""Plate layout templates and the tables a reading plus a layout gives."""

from __future__ import annotations

import math

import numpy as np
import pytest

from secretome.domain.plate_layout import (
    PlateLayout,
    WellAssignment,
    WellRole,
    layout_tables,
    normalise_well,
    plate_wells,
)


def _layout() -> PlateLayout:
    wells = {
        "A1": WellAssignment(WellRole.STANDARD, "STD", 100.0),
        "A2": WellAssignment(WellRole.STANDARD, "STD", 50.0),
        "A3": WellAssignment(WellRole.BLANK),
        "A4": WellAssignment(WellRole.BLANK),
        "B1": WellAssignment(WellRole.REFERENCE, "REF", 1.0),
        "B2": WellAssignment(WellRole.REFERENCE, "REF", 2.0),
        "C1": WellAssignment(WellRole.TEST, "T1", 1.0),
        "C2": WellAssignment(WellRole.TEST, "T1", 2.0),
        "D1": WellAssignment(WellRole.UNKNOWN, "LOT-7", 10.0),
        "D2": WellAssignment(WellRole.QC, "QC-high", 80.0),
        "H12": WellAssignment(WellRole.EXCLUDED),
    }
    return PlateLayout("ELISA-96", 96, wells, unit="pg/mL")


def test_well_names_are_normalised() -> None:
    assert normalise_well("a01") == "A1"
    assert normalise_well(" H12 ") == "H12"
    with pytest.raises(ValueError, match="well"):
        normalise_well("Z")


def test_plate_formats_have_96_and_384_wells() -> None:
    assert len(plate_wells(96)) == 96
    assert len(plate_wells(384)) == 384
    assert plate_wells(384)[-1] == "P24"


def test_layout_round_trips_through_its_dictionary() -> None:
    layout = _layout()
    assert PlateLayout.from_dict(layout.to_dict()) == layout


@pytest.mark.parametrize(
    ("wells", "message"),
    [
        ({"I1": WellAssignment(WellRole.BLANK)}, "outside a 96-well plate"),
        ({"A1": WellAssignment(WellRole.STANDARD, "S")}, "needs its nominal concentration"),
        ({"A1": WellAssignment(WellRole.REFERENCE, "R", 0.0)}, "dose of A1 must be positive"),
        ({"A1": WellAssignment(WellRole.UNKNOWN, "U", 0.5)}, "dilution factor of A1 must be at least 1"),
        ({"A1": WellAssignment(WellRole.BLANK, "", 3.0)}, "takes no level"),
        ({"A1": WellAssignment(WellRole.TEST, "", 1.0)}, "needs its preparation name"),
        ({}, "at least one well"),
    ],
)
def test_invalid_layouts_are_refused_naming_the_parameter(
    wells: dict[str, WellAssignment], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        PlateLayout("bad", 96, wells)


def test_a_384_well_layout_accepts_row_p() -> None:
    assert PlateLayout("big", 384, {"P24": WellAssignment(WellRole.BLANK)}).wells


def test_from_rows_reads_a_csv_template_and_names_the_line_of_an_error() -> None:
    rows = [
        {"well": "A1", "role": "standard", "name": "STD", "level": "100"},
        {"well": "A2", "role": "blank", "name": "", "level": ""},
    ]
    layout = PlateLayout.from_rows("csv", 96, rows)
    assert layout.wells["A1"].level == 100.0
    with pytest.raises(ValueError, match="line 3: role"):
        PlateLayout.from_rows("csv", 96, [rows[0], {"well": "A3", "role": "sample", "name": "", "level": ""}])


def test_layout_tables_split_standards_potency_unknowns_blanks_and_exclusions() -> None:
    responses = {"A1": 2.0, "A2": 1.0, "A3": 0.1, "A4": 0.3, "B1": 0.5, "B2": 0.9, "C1": 0.4, "C2": 0.8,
                 "D1": 0.7, "D2": 1.6, "H12": 9.9, "E5": 5.0}  # fmt: skip
    tables = layout_tables(_layout(), responses)
    assert tables.standards.wells == ("A1", "A2")
    np.testing.assert_array_equal(tables.standards.concentration, [100.0, 50.0])
    np.testing.assert_array_equal(tables.standards.response, [2.0, 1.0])
    assert tables.blank_mean == pytest.approx(0.2)
    assert tables.potency.preparation == ("REF", "REF", "T1", "T1")
    np.testing.assert_array_equal(tables.potency.dose, [1.0, 2.0, 1.0, 2.0])
    assert tables.potency.row == (1, 1, 2, 2)
    assert tables.potency.column == (0, 1, 0, 1)
    assert tables.unknowns.sample == ("LOT-7",)
    np.testing.assert_array_equal(tables.unknowns.dilution_factor, [10.0])
    assert tables.qc.wells == ("D2",)
    assert tables.excluded_wells == ("H12",)
    assert tables.missing_wells == ()


def test_wells_without_a_response_are_listed_as_missing() -> None:
    tables = layout_tables(_layout(), {"A1": 2.0, "A2": math.nan})
    assert tables.standards.wells == ("A1",)
    assert "A2" in tables.missing_wells
    assert math.isnan(tables.blank_mean)
