"""The demo's production history: the plan of lots, the model of true values, and the VEGF-A drift that the
run rules catch on values computed from the demo's own ELISA files (the same seeds as ``secretome demo``)."""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter

import numpy as np
import pytest

from secretome.analysis.trending import IMRChart
from secretome.demo import history


def test_the_history_is_a_year_of_lots_in_production_order_from_donors_with_several_lots_each() -> None:
    planned = history.plan()
    assert len(planned) == history.HISTORY_LOTS == 26
    dates = [p.collected_at for p in planned]
    assert dates == sorted(dates)
    # Every lot in 2025, before the release story's lots of 2026, so that their numbers stay as they are.
    assert {d.year for d in dates} == {2025}
    assert (dates[-1] - dates[0]).days == 14 * 25
    per_donor = Counter(p.donor for p in planned)
    assert set(per_donor) == set(history.DONORS)
    assert min(per_donor.values()) >= 2  # the donor mixed model needs donors with two lots or more
    assert Counter(p.tissue_source for p in planned) == {"UC-WJ": 22, "BM": 4}


def test_every_lot_is_thawed_after_its_donor_cells_are_banked() -> None:
    for lot in history.plan():
        _, donated = history.DONORS[lot.donor]
        assert lot.thawed_at.date() >= donated + dt.timedelta(days=history.BANKED_AFTER_DAYS)


def test_the_medium_changes_to_the_reformulated_lot_right_after_the_baseline() -> None:
    media = [p.medium_lot for p in history.plan()]
    assert all(m not in history.REFORMULATED for m in media[: history.BASELINE_N])
    assert media[history.BASELINE_N] == history.REFORMULATED_FROM
    assert all(m in history.REFORMULATED for m in media[history.BASELINE_N :])


def test_the_reformulated_medium_lowers_vegf_by_the_drift_factor_and_nothing_else() -> None:
    before = history.lot_truth(np.random.default_rng(5), "UC-WJ", "SFM-2505")
    after = history.lot_truth(np.random.default_rng(5), "UC-WJ", "SFM-2508")
    assert after.vegf / before.vegf == pytest.approx(history.VEGF_DRIFT, rel=1e-12)
    assert after.potency == before.potency
    assert after.panel == before.panel


def test_a_weak_lot_secretes_less_as_in_the_release_story() -> None:
    normal = history.lot_truth(np.random.default_rng(7), "BM", "SFM-2602")
    weak = history.lot_truth(np.random.default_rng(7), "BM", "SFM-2602", strength=0.46)
    assert weak.vegf / normal.vegf == pytest.approx(0.76, rel=1e-12)
    assert weak.potency / normal.potency == pytest.approx(0.46, rel=1e-12)


def test_the_plan_refuses_an_empty_history() -> None:
    with pytest.raises(ValueError, match=r"^count:"):
        history.plan(0)


def test_nelson_2_flags_the_vegf_drift_on_values_computed_from_the_demo_files() -> None:
    lots = [f"H{i:02d}" for i in range(1, history.HISTORY_LOTS + 1)]
    values = history.vegf_from_files(lots)
    assert list(values) == lots
    truths = history.history_truths(history.plan())
    # The ELISA gives back the true values within its noise (4 % CV on absorbance, duplicates).
    for lot, truth in zip(lots, truths, strict=True):
        assert values[lot] == pytest.approx(truth.vegf, rel=0.12)
    chart = IMRChart(history.BASELINE_N, log10=True).fit([values[lot] for lot in lots], lots)
    # Ten lots after the change, all below the centre line: nine in a row end at the 25th and 26th lot.
    assert list(chart.nelson[2]) == [25, 26]
    # The drift is about -0.155 in log10, several baseline sigmas.
    shift = np.mean(np.log10([values[lot] for lot in lots[history.BASELINE_N :]])) - chart.centre_line
    assert shift == pytest.approx(math.log10(history.VEGF_DRIFT), abs=0.06)
