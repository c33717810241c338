"""FlowJo 10 workspace import: the gating tree as FlowKit 1.3.2 reads it from the same files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from secretome.analysis.flow.gating import PolygonGate, RectangleGate, apply_strategy
from secretome.instruments.flow import read_fcs_data_sets
from secretome.instruments.flowjo_wsp import parse_flowjo_workspace, workspace_samples
from secretome.instruments.gating_ml import parse_gating_ml, write_gating_ml

FLOW = Path(__file__).resolve().parents[2] / "data" / "flow"
ICS = (FLOW / "8_color_ICS_simple.wsp").read_text()
SAMPLE = "101_DEN084Y5_15_E01_008_clean.fcs"


def test_the_samples_of_a_workspace_are_listed_in_file_order() -> None:
    assert workspace_samples(ICS) == [
        "101_DEN084Y5_15_E03_009_clean.fcs",
        "101_DEN084Y5_15_E05_010_clean.fcs",
        SAMPLE,
    ]


def test_the_gating_tree_matches_flowkits_reading_of_the_workspace() -> None:
    # Expected values: FlowKit 1.3.2, Workspace(...).get_gating_strategy(SAMPLE) on the same file.
    strategy = parse_flowjo_workspace(ICS, SAMPLE)
    assert [(g.id, g.parent) for g in strategy.gates] == [
        ("Time", None),
        ("Singlets", "Time"),
        ("aAmine-", "Singlets"),
        ("CD3+", "aAmine-"),
    ]
    time_gate, singlets, amine, cd3 = strategy.gates
    assert isinstance(time_gate, RectangleGate)
    assert time_gate.bounds[0] == pytest.approx((0.036352824354772086, 2.5863464704426753), abs=1e-12)
    assert time_gate.bounds[1] == pytest.approx((0.1171875, 1.0), abs=1e-12)
    assert isinstance(singlets, PolygonGate)
    assert [*singlets.vertices[0], *singlets.vertices[1]] == pytest.approx(
        [0.328125, 0.1640625, 0.296875, 0.1484375], abs=1e-12
    )
    assert isinstance(amine, PolygonGate)
    # A compensated (Comp-) dimension on the logicle scale: vertices moved from data to logicle units.
    assert amine.dimensions[0].channel == "Aqua Amine FLR-A"
    assert amine.dimensions[0].compensation == "Acquisition-defined"
    assert amine.vertices[0][0] == pytest.approx(0.2629268137285685, abs=1e-12)
    assert isinstance(cd3, PolygonGate)
    assert cd3.vertices[1] == pytest.approx((0.3132637699981912, 0.203125), abs=1e-12)
    assert strategy.compensations["Acquisition-defined"].matrix.shape == (8, 8)


def test_an_imported_tree_writes_out_as_gating_ml_and_reads_back_equal() -> None:
    strategy = parse_flowjo_workspace(ICS, SAMPLE)
    assert parse_gating_ml(write_gating_ml(strategy)).to_dict() == strategy.to_dict()


def test_the_small_workspace_gates_its_file_as_flowkit_does() -> None:
    strategy = parse_flowjo_workspace((FLOW / "simple_poly_and_rect.wsp").read_text())
    (data_set,) = read_fcs_data_sets((FLOW / "data_set_simple_line_100.fcs").read_bytes(), "line.fcs")
    result = apply_strategy(strategy, data_set.scaled(), data_set.channels, data_set.spillover)
    # FlowKit 1.3.2 (Workspace + analyze_samples): poly1 0 events, rect1 0 events of 100.
    assert {g.id: g.count for g in result.gates} == {"poly1": 0, "rect1": 0}
    assert result.total == 100


def test_flowjo_transforms_without_a_gating_ml_form_are_refused_naming_them() -> None:
    changed = ICS.replace("<transforms:logicle ", "<transforms:biex ").replace(
        "</transforms:logicle>", "</transforms:biex>"
    )
    with pytest.raises(ValueError, match="biex"):
        parse_flowjo_workspace(changed, SAMPLE)


def test_an_unknown_sample_and_a_non_workspace_are_refused() -> None:
    with pytest.raises(ValueError, match=r"no sample 'nope\.fcs'"):
        parse_flowjo_workspace(ICS, "nope.fcs")
    with pytest.raises(ValueError, match="FlowJo 10"):
        parse_flowjo_workspace("<Workspace flowJoVersion='9.3'/>")


def test_the_exported_compensation_csv_equals_the_workspace_matrix() -> None:
    from secretome.instruments.gating_ml import parse_spillover_csv

    csv = parse_spillover_csv((FLOW / "8_color_ICS_comp_matrix.csv").read_text(), "csv")
    matrix = parse_flowjo_workspace(ICS, SAMPLE).compensations["Acquisition-defined"]
    assert csv.detectors == matrix.detectors
    # The CSV is written with six decimals.
    np.testing.assert_allclose(csv.matrix, matrix.matrix, atol=5e-7)
