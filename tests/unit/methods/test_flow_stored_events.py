"""The FCS kinds gate the events as stored: stored runs recompute unchanged, and the panel's marker values,
thresholds and plot inputs are exactly those of gating a float64 copy of the scaled events."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from secretome.analysis.flow.gating import (
    Dimension,
    EventTable,
    apply_strategy,
    file_spillover,
    read_populations,
)
from secretome.analysis.flow.identity import IdentityPanel, Marker, Tube
from secretome.analysis.flow.plots import plot_gates
from secretome.domain.canonical import canonical_json
from secretome.instruments.flow import read_fcs_data_sets
from secretome.instruments.gating_ml import parse_gating_ml
from secretome.methods.kinds._plots import svg
from tests.unit.methods.flow_runs import (
    FMO_CD90,
    FMO_CD105,
    RUNS,
    STAINED,
    UNSTAINED,
    fmo_panel_files,
    fmo_panel_settings,
    run,
)

EXPECTED = json.loads((Path(__file__).parents[2] / "data/flow/flow_runs_expected.json").read_text())
RTOL = 1e-9  # verify_run's tolerance on stored numbers


def _differences(stored: Any, new: Any, path: str = "") -> list[str]:
    """Where ``new`` differs from ``stored``: numbers beyond RTOL, anything else at all."""
    if isinstance(stored, dict) and isinstance(new, dict):
        if set(stored) != set(new):
            return [f"{path}: keys {sorted(set(stored) ^ set(new))}"]
        return [d for key in stored for d in _differences(stored[key], new[key], f"{path}.{key}")]
    if isinstance(stored, list) and isinstance(new, list):
        if len(stored) != len(new):
            return [f"{path}: {len(stored)} items, now {len(new)}"]
        return [
            d
            for i, (a, b) in enumerate(zip(stored, new, strict=True))
            for d in _differences(a, b, f"{path}[{i}]")
        ]
    if isinstance(stored, float) and isinstance(new, float) and not isinstance(new, bool):
        if math.isclose(stored, new, rel_tol=RTOL, abs_tol=0.0):
            return []
    elif stored == new and type(stored) is type(new):
        return []
    return [f"{path}: stored {stored!r}, now {new!r}"]


@pytest.mark.parametrize("name", RUNS)
def test_runs_stored_by_the_scaled_copy_kinds_recompute_unchanged(name: str) -> None:
    outcome = run(name)
    now = {
        "result": json.loads(canonical_json(dict(outcome.result))),
        "reportables": [json.loads(canonical_json(r.to_dict())) for r in outcome.reportables],
        "flags": list(outcome.flags),
    }
    assert _differences(EXPECTED[name], now) == []


def test_the_recorded_runs_cover_an_fmo_control_a_failing_marker_and_a_flagged_tube() -> None:
    fmo = EXPECTED["identity fmo"]["result"]["lots"]["CM-2026-014"]
    controls = {m["attribute"]: m["control"] for m in fmo["markers"]}
    assert controls == {"cd90": FMO_CD90, "cd73": UNSTAINED, "cd105": FMO_CD105}
    verdicts = {m["attribute"]: m["verdict"] for m in fmo["markers"]}
    assert verdicts["cd105"] == "does not comply" and verdicts["cd90"] == "complies"
    assert any(
        "Unstained" in flag and "fewer than 5000" in flag for flag in EXPECTED["identity fmo"]["flags"]
    )
    failing = EXPECTED["identity isotype cd105 failing"]["result"]["lots"]["CM-2026-014"]
    assert [m["attribute"] for m in failing["markers"] if m["verdict"] != "complies"] == ["cd105"]


@pytest.fixture(scope="module")
def fmo_tubes() -> dict[str, Any]:
    """The FMO panel's data sets by tube name (FSC-A and FITC-A stored with a gain of 2)."""
    data_sets = {}
    for name, content in fmo_panel_files().items():
        (data_set,) = read_fcs_data_sets(content, name)
        data_sets[data_set.keywords["tube name"]] = data_set
    return data_sets


def _panel() -> IdentityPanel:
    settings = fmo_panel_settings()
    markers = [
        Marker(code, spec["channel"], spec["tube"], spec["control"], "min", 95.0, spec["marker"])
        for code, spec in settings["markers"].items()
    ]
    return IdentityPanel(parse_gating_ml(settings["strategy"]), "Viable", markers, 99.5, "FCS", 5000)


def _scaled_copy_values(panel: IdentityPanel, data_set: Any, channel: str) -> np.ndarray:
    """The marker's population values as the kind computed them before: a float64 copy of the scaled
    events, gated, and the whole compensated column read from one table."""
    events = data_set.scaled()
    gating = apply_strategy(panel.strategy, events, data_set.channels, data_set.spillover)
    table = EventTable(panel.strategy, events, data_set.channels, file_spillover(data_set.spillover))
    table.extra_names = {m.channel for m in panel.markers}
    column: np.ndarray = table.column(Dimension(channel, panel.compensation))
    return column[gating.membership[panel.population]]


def test_the_panel_on_stored_values_reads_exactly_the_scaled_copys_marker_values(
    fmo_tubes: dict[str, Any],
) -> None:
    panel = _panel()
    stored = panel.fit(
        {
            name: Tube(name, d.events, d.channels, d.spillover, d.event_count, d.scaling())
            for name, d in fmo_tubes.items()
        }
    )
    assert fmo_tubes[STAINED].events.dtype == np.float32
    assert not all(scale.identity for scale in fmo_tubes[STAINED].scaling())
    for marker in stored.markers:
        stained = _scaled_copy_values(panel, fmo_tubes[marker.tube], marker.channel)
        control = _scaled_copy_values(panel, fmo_tubes[marker.control], marker.channel)
        np.testing.assert_array_equal(marker.stained_values, stained)
        np.testing.assert_array_equal(marker.control_values, control)
        assert marker.threshold == float(np.percentile(control, 99.5))
        assert marker.positive == int(np.count_nonzero(stained > marker.threshold))
    scaled = panel.fit(
        {
            name: Tube(name, d.scaled(), d.channels, d.spillover, d.event_count)
            for name, d in fmo_tubes.items()
        }
    )
    assert stored.to_dict() == scaled.to_dict()


def test_gate_plots_of_stored_values_draw_exactly_the_scaled_copys_values(fmo_tubes: dict[str, Any]) -> None:
    panel = _panel()
    data_set = fmo_tubes[FMO_CD105]
    scaling = data_set.scaling()
    result = apply_strategy(
        panel.strategy, data_set.events, data_set.channels, data_set.spillover, scaling=scaling
    )
    reads = [(gate.parent, d) for gate in panel.strategy.gates for d in gate.dimensions]
    values, _ = read_populations(
        panel.strategy,
        data_set.events,
        data_set.channels,
        data_set.spillover,
        result.membership,
        reads,
        scaling,
    )
    events = data_set.scaled()
    table = EventTable(panel.strategy, events, data_set.channels, file_spillover(data_set.spillover))
    for (population, dimension), found in zip(reads, values, strict=True):
        keep = result.membership[population] if population else np.ones(len(events), dtype=bool)
        np.testing.assert_array_equal(found, table.column(dimension)[keep])
    stored_svg = svg(
        plot_gates(
            panel.strategy, result, data_set.events, data_set.channels, data_set.spillover, scaling=scaling
        )
    )
    scaled_svg = svg(plot_gates(panel.strategy, result, events, data_set.channels, data_set.spillover))
    assert stored_svg == scaled_svg


@pytest.mark.parametrize(
    ("read", "named"),
    [
        (("Lymphocytes", Dimension("FITC-A")), "'Lymphocytes'"),
        (("Viable", Dimension("FITC-A", "Panel")), "'Panel'"),
        (("Viable", Dimension("CD99-A")), "'CD99-A'"),
    ],
)
def test_a_read_the_strategy_or_file_cannot_give_is_refused_naming_it(
    fmo_tubes: dict[str, Any], read: Any, named: str
) -> None:
    panel = _panel()
    data_set = fmo_tubes[STAINED]
    with pytest.raises(ValueError, match=named):
        apply_strategy(panel.strategy, data_set.events, data_set.channels, reads=[read])
