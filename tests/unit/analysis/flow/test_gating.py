"""Gate semantics, and the whole ISAC Gating-ML 2.0 compliance suite (51 truth vectors)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from secretome.analysis.flow.gating import (
    BooleanGate,
    Dimension,
    Divider,
    GatingStrategy,
    PolygonGate,
    Quadrant,
    QuadrantGate,
    RectangleGate,
    Spillover,
    apply_strategy,
    compensate,
    points_in_polygon,
)
from secretome.instruments.flow import read_fcs_data_sets
from secretome.instruments.gating_ml import parse_gating_ml, write_gating_ml

DATA = Path(__file__).resolve().parents[3] / "data"
FLOW = DATA / "flow"
REFERENCE_FCS = DATA / "samples" / "fcs" / "BD_FACSCalibur_FCS2.0_data1_GatingML_reference.fcs"
TRUTH = np.load(FLOW / "gatingml2_truth.npz")
# Truth files named differently from the gate they check.
TRUTH_NAME = {"ParRectangle1": "ParQuadRect"}
STRATEGIES = [
    "gml_all_gates.xml",
    "gml_ellipsoid3d_gate.xml",
    "gml_parent_quadrant_rect_gate.xml",
    "gml_matrix_transform_logicle_rect1_gate.xml",
]


def _truth(gate: str) -> np.ndarray:
    return np.unpackbits(TRUTH[TRUTH_NAME.get(gate, gate)])[: int(TRUTH["events"])].astype(bool)


@pytest.fixture(scope="module")
def reference_sample() -> tuple[np.ndarray, tuple[str, ...], object]:
    (data_set,) = read_fcs_data_sets(REFERENCE_FCS.read_bytes(), REFERENCE_FCS.name)
    return data_set.scaled(), data_set.channels, data_set.spillover


def _compliance_cases() -> list[tuple[str, str]]:
    cases: list[tuple[str, str]] = []
    for name in STRATEGIES:
        strategy = parse_gating_ml((FLOW / name).read_text())
        cases.extend((name, node) for node, _, _ in strategy.nodes())
    return cases


@pytest.mark.parametrize(("strategy_file", "gate"), _compliance_cases())
def test_every_gate_of_the_gating_ml_compliance_suite_matches_its_truth_vector(
    reference_sample: tuple[np.ndarray, tuple[str, ...], object], strategy_file: str, gate: str
) -> None:
    events, channels, spillover = reference_sample
    strategy = parse_gating_ml((FLOW / strategy_file).read_text())
    result = apply_strategy(strategy, events, channels, spillover)  # type: ignore[arg-type]
    membership = result.membership[gate]
    expected = _truth(gate)
    assert int(membership.sum()) == int(expected.sum())
    assert np.array_equal(membership, expected)


def test_the_compliance_suite_covers_all_51_truth_vectors() -> None:
    gates = {TRUTH_NAME.get(g, g) for _, g in _compliance_cases()}
    stored = {k for k in TRUTH.files if not k.startswith("sha256_") and k != "events"}
    assert stored <= gates
    assert len(stored) == 51


@pytest.mark.parametrize("strategy_file", [*STRATEGIES, "8_color_ICS_GatingML2.xml"])
def test_a_strategy_written_as_gating_ml_reads_back_equal(strategy_file: str) -> None:
    strategy = parse_gating_ml((FLOW / strategy_file).read_text())
    again = parse_gating_ml(write_gating_ml(strategy))
    assert again.to_dict() == strategy.to_dict()


def test_counts_and_percentages_follow_the_hierarchy(
    reference_sample: tuple[np.ndarray, tuple[str, ...], object],
) -> None:
    events, channels, spillover = reference_sample
    strategy = parse_gating_ml((FLOW / "gml_parent_quadrant_rect_gate.xml").read_text())
    result = apply_strategy(strategy, events, channels, spillover)  # type: ignore[arg-type]
    child = result.count("ParRectangle1")
    assert child.parent == "FL2P-FL4P"
    assert child.path == ("root", "FL2P-FL4P", "ParRectangle1")
    assert child.parent_count == result.count("FL2P-FL4P").count == 620
    assert child.count == 3
    assert child.percent_of_parent == pytest.approx(100 * 3 / 620)
    assert child.percent_of_total == pytest.approx(100 * 3 / 13367)
    quadrant = result.count("FL2P-FL4P")
    assert quadrant.parent == "root" and quadrant.parent_count == 13367


X = Dimension("X")
Y = Dimension("Y")


def test_rectangle_keeps_min_and_drops_max_and_open_bounds_are_open() -> None:
    events = np.array([[1.0, 0.0], [2.0, 0.0], [1.5, 0.0], [-1e300, 0.0], [1e300, 0.0]])
    closed = RectangleGate("R", (X,), ((1.0, 2.0),))
    open_top = RectangleGate("U", (X,), ((1.0, None),))
    strategy = GatingStrategy((closed, open_top))
    result = apply_strategy(strategy, events, ("X", "Y"))
    assert result.membership["R"].tolist() == [True, False, True, False, False]
    assert result.membership["U"].tolist() == [True, True, True, False, True]


def test_polygon_edges_count_half_open_and_crossed_polygons_use_odd_winding() -> None:
    square = [(0.0, 0.0), (2.0, 0.0), (2.0, 2.0), (0.0, 2.0)]
    x = np.array([1.0, 0.0, 2.0, 1.0, 1.0, 3.0])
    y = np.array([1.0, 1.0, 1.0, 0.0, 2.0, 1.0])
    # Left edge and bottom edge belong to the square, right and top edges to the neighbour.
    assert points_in_polygon(x, y, square).tolist() == [True, True, False, True, False, False]
    # A bow tie: two triangles meeting at (1, 1); points in either lobe are inside.
    bow_tie = [(0.0, 0.0), (2.0, 2.0), (2.0, 0.0), (0.0, 2.0)]
    inside = points_in_polygon(np.array([0.2, 1.8, 1.0, 1.0]), np.array([1.0, 1.0, 0.2, 1.8]), bow_tie)
    assert inside.tolist() == [True, True, False, False]


def test_a_value_on_a_quadrant_divider_goes_up() -> None:
    divider = Divider("D", X, (10.0,))
    gate = QuadrantGate("Q", (divider,), (Quadrant("low", (("D", 5.0),)), Quadrant("high", (("D", 15.0),))))
    result = apply_strategy(
        GatingStrategy((gate,)), np.array([[9.999, 0], [10.0, 0], [10.001, 0]]), ("X", "Y")
    )
    assert result.membership["low"].tolist() == [True, False, False]
    assert result.membership["high"].tolist() == [False, True, True]


def test_boolean_gates_combine_memberships_with_complements() -> None:
    low = RectangleGate("low", (X,), ((None, 5.0),))
    wide = RectangleGate("wide", (Y,), ((0.0, 10.0),))
    both = BooleanGate("both", "and", (("low", False), ("wide", True)))
    either = BooleanGate("either", "or", (("low", False), ("wide", False)))
    neither = BooleanGate("neither", "not", (("either", False),))
    events = np.array([[1.0, 5.0], [1.0, 50.0], [9.0, 5.0], [9.0, 50.0]])
    result = apply_strategy(GatingStrategy((low, wide, both, either, neither)), events, ("X", "Y"))
    assert result.membership["both"].tolist() == [False, True, False, False]
    assert result.membership["either"].tolist() == [True, True, True, False]
    assert result.membership["neither"].tolist() == [False, False, False, True]


def test_compensation_solves_the_spillover_on_matched_channels_only() -> None:
    spill = Spillover("S", ("A", "B"), ("A", "B"), np.array([[1.0, 0.2], [0.1, 1.0]]))
    true = np.array([[100.0, 10.0], [0.0, 50.0]])
    measured = true @ spill.matrix
    events = np.column_stack([measured, [7.0, 8.0]])
    compensated, detectors = compensate(events, ("A", "B", "FSC"), spill)
    assert detectors == ("A", "B")
    np.testing.assert_allclose(compensated, true, atol=1e-12)


def test_a_gate_naming_a_missing_channel_is_refused_naming_it() -> None:
    strategy = GatingStrategy((RectangleGate("R", (Dimension("CD73 PE-A"),), ((0.0, 1.0),)),))
    with pytest.raises(ValueError, match="CD73 PE-A"):
        apply_strategy(strategy, np.zeros((3, 2)), ("X", "Y"))


def test_an_undefined_compensation_reference_is_refused_naming_it() -> None:
    dimension = Dimension("X", compensation="Panel-Comp")
    with pytest.raises(ValueError, match="Panel-Comp"):
        GatingStrategy((RectangleGate("R", (dimension,), ((0.0, 1.0),)),))


def test_fcs_compensation_on_a_file_without_spillover_is_uncompensated_with_a_warning() -> None:
    dimension = Dimension("X", compensation="FCS")
    strategy = GatingStrategy((RectangleGate("R", (dimension,), ((0.0, 1.0),)),))
    result = apply_strategy(strategy, np.array([[0.5, 0.0]]), ("X", "Y"))
    assert result.count("R").count == 1
    assert any("no spillover" in w for w in result.warnings)


def test_parents_that_do_not_exist_and_cycles_are_refused() -> None:
    with pytest.raises(ValueError, match="parent 'nowhere'"):
        GatingStrategy((RectangleGate("R", (X,), ((0.0, 1.0),), parent="nowhere"),))
    a = BooleanGate("a", "not", (("b", False),))
    b = BooleanGate("b", "not", (("a", False),))
    with pytest.raises(ValueError, match="cycle"):
        GatingStrategy((a, b))


def test_polygon_gate_in_a_strategy_uses_both_dimensions() -> None:
    gate = PolygonGate("P", (X, Y), ((0.0, 0.0), (4.0, 0.0), (0.0, 4.0)))
    result = apply_strategy(GatingStrategy((gate,)), np.array([[1.0, 1.0], [3.0, 3.0]]), ("X", "Y"))
    assert result.membership["P"].tolist() == [True, False]
    assert result.to_dict()["gates"][0]["percent_of_total"] == pytest.approx(50.0)


FLOWKIT_COUNTS = json.loads((FLOW / "flowkit_counts.json").read_text())


@pytest.mark.parametrize("sample_file", sorted(FLOWKIT_COUNTS))
def test_gate_counts_equal_flowkits_on_every_sample_file(sample_file: str) -> None:
    path = DATA / "samples" / "fcs" / sample_file
    data_set = read_fcs_data_sets(path.read_bytes(), path.name)[0]
    strategy = parse_gating_ml((FLOW / "strategies" / f"{path.stem}.xml").read_text())
    result = apply_strategy(strategy, data_set.scaled(), data_set.channels, data_set.spillover)
    assert {gate.id: gate.count for gate in result.gates} == FLOWKIT_COUNTS[sample_file]


@pytest.mark.parametrize("sample_file", sorted(FLOWKIT_COUNTS))
def test_gating_the_stored_values_with_the_files_scaling_counts_as_flowkit_does(sample_file: str) -> None:
    path = DATA / "samples" / "fcs" / sample_file
    data_set = read_fcs_data_sets(path.read_bytes(), path.name)[0]
    strategy = parse_gating_ml((FLOW / "strategies" / f"{path.stem}.xml").read_text())
    result = apply_strategy(
        strategy, data_set.events, data_set.channels, data_set.spillover, scaling=data_set.scaling()
    )
    assert {gate.id: gate.count for gate in result.gates} == FLOWKIT_COUNTS[sample_file]


@pytest.mark.parametrize("strategy_file", STRATEGIES)
def test_the_compliance_suite_holds_on_stored_values_over_many_blocks_of_events(strategy_file: str) -> None:
    # Eleven copies of the reference events (147,037 events, nine blocks of 16,384 and a part block): the
    # blocks must give every event exactly the membership it has alone.
    (data_set,) = read_fcs_data_sets(REFERENCE_FCS.read_bytes(), REFERENCE_FCS.name)
    copies = 11
    events = np.tile(data_set.events, (copies, 1))
    strategy = parse_gating_ml((FLOW / strategy_file).read_text())
    result = apply_strategy(
        strategy, events, data_set.channels, data_set.spillover, scaling=data_set.scaling()
    )
    for node, _, _ in strategy.nodes():
        assert np.array_equal(result.membership[node], np.tile(_truth(node), copies)), node


def test_a_scaling_that_does_not_match_the_channels_is_refused() -> None:
    strategy = GatingStrategy((RectangleGate("R", (Dimension("X"),), ((0.0, 1.0),)),))
    with pytest.raises(ValueError, match="scaling"):
        apply_strategy(strategy, np.zeros((3, 2)), ("X", "Y"), scaling=())
