"""Panel arithmetic: normalisation, blank subtraction with its uncertainty, censored values, units, heat-map."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.cluster.hierarchy import leaves_list, linkage

from secretome.analysis.panels import (
    Quantity,
    normalisation_factor,
    normalised_unit,
    panel_heatmap,
    subtract_blank,
    unit_factor,
)


def test_the_rule_of_thumb_of_the_domain_reference_one_million_cells_in_10_ml_for_48_h_is_times_5() -> None:
    # "1x10^6 cells in 10 mL for 48 h -> pg/mL x 5 = pg/10^6 cells/24 h"
    factor = normalisation_factor("per_million_cells_per_24h", volume_ml=10.0, viable_cells=1e6, hours=48.0)
    assert factor == pytest.approx(5.0, rel=1e-15)
    assert normalisation_factor("per_ug_protein", protein_ug_per_ml=250.0) == pytest.approx(1 / 250.0)
    assert normalisation_factor("per_ml") == 1.0


@pytest.mark.parametrize(
    ("normalisation", "kwargs", "missing"),
    [
        ("per_million_cells_per_24h", {"volume_ml": 10.0, "hours": 48.0}, "viable_cells"),
        ("per_million_cells_per_24h", {"volume_ml": 10.0, "viable_cells": 1e6, "hours": 0.0}, "hours"),
        ("per_ug_protein", {}, "protein_ug_per_ml"),
        ("per_litre", {}, "normalisation"),
    ],
)
def test_normalisation_names_what_is_missing(
    normalisation: str, kwargs: dict[str, float], missing: str
) -> None:
    with pytest.raises(ValueError, match=rf"^{missing}:"):
        normalisation_factor(normalisation, **kwargs)


def test_units_follow_the_normalisation_and_change_only_by_prefix() -> None:
    assert normalised_unit("pg/mL", "per_million_cells_per_24h") == "pg/10^6 cells/24 h"
    assert normalised_unit("pg/mL", "per_ug_protein") == "pg/ug protein"
    assert unit_factor("pg/mL", "ng/mL") == pytest.approx(1e-3)
    assert unit_factor("uM", "nM") == pytest.approx(1e3)
    with pytest.raises(ValueError, match=r"^unit:"):
        unit_factor("pg/mL", "pg/L")


def quantity(value: float, se: float, qualifier: str = "=", flags: tuple[str, ...] = ()) -> Quantity:
    t = 2.0
    interval = (value - t * se, value + t * se) if qualifier == "=" else None
    return Quantity("s", value, qualifier, se if qualifier == "=" else None, interval, flags=flags)


def test_blank_subtraction_adds_the_variances_and_keeps_the_interval_multiplier() -> None:
    net = subtract_blank(quantity(1000.0, 30.0), quantity(200.0, 40.0))
    assert net.value == pytest.approx(800.0)
    assert net.se == pytest.approx(50.0)  # sqrt(30^2 + 40^2)
    assert net.interval is not None
    assert net.interval[0] == pytest.approx(700.0)
    assert net.interval[1] == pytest.approx(900.0)
    assert (net.blank, net.blank_se) == (200.0, 40.0)


def test_a_blank_below_lloq_is_not_subtracted_and_says_so() -> None:
    blank = Quantity("m", 62.5, "<", None, (0.0, 62.5), flags=("below_lloq",))
    net = subtract_blank(quantity(1000.0, 30.0), blank)
    assert net.value == 1000.0
    assert "blank_below_lloq" in net.flags


def test_a_censored_value_keeps_its_bound_below_and_loses_the_blank_above() -> None:
    blank = quantity(200.0, 40.0)
    below = subtract_blank(Quantity("s", 125.0, "<", None, (0.0, 125.0), flags=("below_lloq",)), blank)
    assert (below.qualifier, below.value) == ("<", 125.0)
    above = subtract_blank(Quantity("s", 8000.0, ">", None, None, flags=("above_uloq",)), blank)
    assert (above.qualifier, above.value) == (">", 7800.0)


def test_a_net_value_below_zero_is_flagged() -> None:
    assert "below_medium_blank" in subtract_blank(quantity(150.0, 10.0), quantity(200.0, 10.0)).flags


def test_scaling_multiplies_value_error_interval_and_blank() -> None:
    scaled = subtract_blank(quantity(1000.0, 30.0), quantity(200.0, 40.0)).scaled(5.0)
    assert scaled.value == pytest.approx(4000.0)
    assert scaled.se == pytest.approx(250.0)
    assert scaled.blank == 1000.0
    with pytest.raises(ValueError, match=r"^factor:"):
        scaled.scaled(0.0)
    assert Quantity("s", 125.0, "<", None, None).text("pg/mL") == "< 125 pg/mL"


def test_the_heatmap_is_log10_with_analytes_in_the_order_of_an_independent_average_linkage() -> None:
    panels = {
        "L1": {"VEGF-A": 2000.0, "HGF": 1500.0, "IL-6": 12000.0, "IL-8": 4000.0, "MCP-1": 5000.0},
        "L2": {"VEGF-A": 4000.0, "HGF": 2800.0, "IL-6": 9000.0, "IL-8": 3500.0, "MCP-1": 4500.0},
        "L3": {"VEGF-A": 1000.0, "HGF": 800.0, "IL-6": 15000.0, "IL-8": 5200.0, "MCP-1": 6100.0},
    }
    heatmap = panel_heatmap(panels, {"L3": {"HGF": "<"}}, unit="pg/mL")
    analytes = sorted(panels["L1"])
    logs = np.array([[math.log10(panels[lot][a]) for lot in panels] for a in analytes])
    z = (logs - logs.mean(axis=1, keepdims=True)) / logs.std(axis=1, keepdims=True)
    expected = [analytes[i] for i in leaves_list(linkage(z, method="average", metric="euclidean"))]
    assert list(heatmap.analytes) == expected
    # VEGF-A and HGF rise and fall together across the lots, as do IL-6, IL-8 and MCP-1: they cluster.
    assert abs(expected.index("VEGF-A") - expected.index("HGF")) == 1
    column = list(heatmap.analytes).index("IL-6")
    assert heatmap.log10[:, column] == pytest.approx([math.log10(panels[lot]["IL-6"]) for lot in panels])
    assert heatmap.qualifiers[2][list(heatmap.analytes).index("HGF")] == "<"
    figure = heatmap.plot()
    assert figure.axes
    assert heatmap.to_dict()["unit"] == "pg/mL"


def test_a_single_lot_heatmap_and_values_that_cannot_go_on_a_log_scale() -> None:
    heatmap = panel_heatmap({"L1": {"A": 10.0, "B": 0.0, "C": None, "D": 1000.0}})
    assert heatmap.lots == ("L1",)
    assert int(np.isnan(heatmap.log10).sum()) == 2
    with pytest.raises(ValueError, match=r"^panels:"):
        panel_heatmap({})
