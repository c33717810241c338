"""Population doublings, doubling time, CPD and dose bases against worked examples."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from secretome.domain.growth import (
    GrowthCurve,
    PassageCounts,
    dose_bases,
    doubling_time_hours,
    fold_expansion,
    growth_curve,
    population_doublings,
    seeding_density,
)

T0 = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)


def test_worked_example_from_the_domain_reference() -> None:
    # 5.0e5 seeded in a T175, 4.2e6 harvested after 96 h: PD 3.07, PDT 31.3 h, ~2,860 cells/cm².
    assert population_doublings(5.0e5, 4.2e6) == pytest.approx(3.07, abs=0.005)
    assert doubling_time_hours(5.0e5, 4.2e6, 96) == pytest.approx(31.3, abs=0.05)
    assert fold_expansion(5.0e5, 4.2e6) == pytest.approx(8.4)
    assert seeding_density(5.0e5, 175) == pytest.approx(2857, abs=1)
    # The textbook identity PD = 3.322 (log10 Nh - log10 Ns).
    assert population_doublings(5.0e5, 4.2e6) == pytest.approx(
        3.322 * (math.log10(4.2e6) - math.log10(5.0e5)), rel=1e-3
    )


def test_no_doubling_time_when_cells_did_not_expand() -> None:
    assert doubling_time_hours(1e6, 8e5, 72) is None
    assert population_doublings(1e6, 8e5) < 0


@pytest.mark.parametrize("name", ["cells_seeded", "cells_harvested"])
def test_counts_must_be_positive_naming_the_parameter(name: str) -> None:
    args = {"cells_seeded": 1e5, "cells_harvested": 1e6}
    args[name] = 0
    with pytest.raises(ValueError, match=name):
        population_doublings(**args)


def _lineage(p0_seeded: float | None) -> list[PassageCounts]:
    return [
        PassageCounts(0, 25.0, T0, p0_seeded, 2.0e6, T0 + dt.timedelta(days=10)),
        PassageCounts(1, 175.0, T0 + dt.timedelta(days=10), 5.0e5, 4.2e6, T0 + dt.timedelta(days=14)),
        # Frozen for a month in between: the freezer time must not stretch the curve.
        PassageCounts(2, 175.0, T0 + dt.timedelta(days=45), 5.0e5, 2.0e6, T0 + dt.timedelta(days=49)),
        PassageCounts(3, 175.0, T0 + dt.timedelta(days=52), 5.0e5),
    ]


def test_cpd_sums_passages_and_counts_culture_days_only() -> None:
    curve = growth_curve(_lineage(1.25e5))
    p0, p1, p2, p3 = curve.passages
    assert p0.population_doublings == pytest.approx(4.0)
    assert p1.cumulative_pd == pytest.approx(4.0 + math.log2(8.4))
    assert p2.cumulative_pd == pytest.approx(4.0 + math.log2(8.4) + 2.0)
    assert p2.culture_days_at_end == pytest.approx(18.0)
    assert p3.population_doublings is None and p3.cumulative_pd == p2.cumulative_pd
    assert curve.cpd_complete


def test_unknown_p0_makes_cpd_a_lower_bound_that_says_so() -> None:
    curve = growth_curve(_lineage(None))
    assert curve.passages[0].population_doublings is None
    assert curve.passages[0].seeding_density_per_cm2 is None
    assert not curve.cpd_complete
    assert curve.cpd == pytest.approx(math.log2(8.4) + 2.0)


def test_growth_curve_round_trips_through_dict_and_does_not_mutate_input() -> None:
    lineage = _lineage(1.25e5)
    snapshot = list(lineage)
    curve = growth_curve(lineage)
    assert lineage == snapshot
    assert GrowthCurve.from_dict(curve.to_dict()) == curve


def test_curve_refuses_decreasing_passage_numbers_and_time_travel() -> None:
    with pytest.raises(ValueError, match="lineage"):
        growth_curve(list(reversed(_lineage(1e5))))
    with pytest.raises(ValueError, match="harvested_at"):
        growth_curve([PassageCounts(0, 25.0, T0, 1e5, 1e6, T0 - dt.timedelta(hours=1))])


def test_plot_draws_cpd_against_days() -> None:
    ax = growth_curve(_lineage(1.25e5)).plot()
    xs, ys = ax.lines[0].get_data()
    assert list(xs) == pytest.approx([0.0, 10.0, 14.0, 18.0])
    assert ys[-1] == pytest.approx(4.0 + math.log2(8.4) + 2.0)


@pytest.mark.parametrize(("p0_seeded", "figsize"), [(None, (7.5, 3.4)), (1.25e5, (7.5, 3.4)), (None, None)])
def test_plot_labels_fit_in_the_figure_and_say_when_cpd_is_a_lower_bound(
    p0_seeded: float | None, figsize: tuple[float, float] | None
) -> None:
    import matplotlib.pyplot as plt
    from matplotlib.text import Text

    curve = growth_curve(_lineage(p0_seeded))
    if figsize is None:  # the figure plot() makes itself
        ax = curve.plot()
        figure = ax.figure
    else:  # the figure of the lot page
        figure, ax = plt.subplots(figsize=figsize)
        curve.plot(ax)
    figure.tight_layout()
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    page = figure.bbox
    caption = ax.get_title(loc="left")
    # The axis labels (CPD on the left, PDT on the right), the caption line and the passage labels.
    texts = [label for axes in figure.axes for label in (axes.xaxis.label, axes.yaxis.label)]
    texts += [t for t in ax.findobj(Text) if caption and t.get_text() == caption] + list(ax.texts)
    for text in [t for t in texts if t.get_text()]:
        box = text.get_window_extent(renderer)
        assert page.x0 <= box.x0 and box.x1 <= page.x1, text.get_text()
        assert page.y0 <= box.y0 and box.y1 <= page.y1, text.get_text()
    assert ("lower bound" in caption) is (p0_seeded is None)
    assert ax.yaxis.label.get_text().endswith("*") is (p0_seeded is None)
    plt.close(figure)


def test_dose_bases_scale_with_concentration_factor() -> None:
    # 5e7 cells conditioning 100 mL for 48 h, concentrated 100 mL -> 10 mL: 5e5 cell-eq/mL x 10.
    bases = dose_bases(5e7, 48, 100, [(100, 10)])
    assert bases.concentration_factor == pytest.approx(10)
    assert bases.cell_equivalents_per_ml == pytest.approx(5e6)
    assert bases.cell_hours == pytest.approx(2.4e9)
    assert bases.final_volume_ml == 10
    with pytest.raises(ValueError, match="harvest_volume_ml"):
        dose_bases(5e7, 48, 0)
