"""Nelson and Western Electric rules on constructed series: each rule firing alone, negative controls,
ties and zone-line values, windows straddling the baseline end, and the vectorised rules against the
plain loop on random series."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from secretome.analysis.trending import (
    IMRChart,
    LeveyJennings,
    all_flags,
    nelson_flags,
    western_electric_flags,
)
from secretome.analysis.trending.rules import lot_indices
from tests.unit.trending.loops import loop_imr, loop_rules

EMPTY_NELSON: dict[int, list[int]] = {r: [] for r in range(1, 9)}
EMPTY_WE: dict[int, list[int]] = {r: [] for r in range(1, 5)}


def nelson(values: list[float]) -> dict[int, list[int]]:
    return {r: lot_indices(f) for r, f in nelson_flags(values, 0.0, 1.0).items()}


def western(values: list[float]) -> dict[int, list[int]]:
    return {r: lot_indices(f) for r, f in western_electric_flags(values, 0.0, 1.0).items()}


def only(rule: int, lots: list[int], table: dict[int, list[int]] | None = None) -> dict[int, list[int]]:
    expected = dict(EMPTY_NELSON if table is None else table)
    expected[rule] = lots
    return expected


# --- each Nelson rule firing alone (CL 0, sigma 1) ------------------------------------------------------

CASES = {
    1: ([0.5, -0.5, 3.5, -0.5, 0.5], [3]),
    2: ([0.5, 0.2, 0.6, 0.3, 0.5, 0.2, 0.6, 0.3, 0.5], [9]),
    3: ([-0.5, -0.3, -0.1, 0.1, 0.3, 0.5], [6]),
    4: ([0.5, -0.5] * 7, [14]),
    5: ([0.5, 2.5, -0.5, 2.5, 0.5], [4]),
    6: ([1.5, 1.5, -0.5, 1.5, 1.5], [5]),
    7: ([0.5, 0.2, -0.3, -0.1] * 4, [15, 16]),
    8: ([1.5, -1.5] * 4, [8]),
}


@pytest.mark.parametrize("rule", sorted(CASES))
def test_each_nelson_rule_fires_alone_on_its_constructed_series(rule: int) -> None:
    values, lots = CASES[rule]
    assert nelson(values) == only(rule, lots)


@pytest.mark.parametrize(
    "values",
    [
        [0.5, -0.5, 3.0, -0.5, 0.5],  # exactly 3 sigma is not beyond
        [0.5, 0.2, 0.6, 0.3, 0.0, 0.2, 0.6, 0.3, 0.5],  # a point on the CL is on neither side
        [-0.5, -0.3, -0.1, -0.1, 0.1, 0.3],  # a tie breaks the trend
        [0.5, -0.5] * 3 + [-0.5] + [0.5, -0.5] * 3 + [0.5],  # a tie breaks the alternation
        [0.5, 2.5, -0.5, 2.0, 0.5],  # exactly 2 sigma is not beyond
        [0.5, 2.5, -2.5, 0.5, 0.5],  # two beyond 2 sigma on opposite sides
        [1.5, 1.5, -0.5, 1.0, 1.5],  # exactly 1 sigma is not beyond
        [1.5, -1.5, 1.5, -1.0, 1.5, -1.5, 1.5, -1.5],  # exactly 1 sigma breaks eight beyond 1 sigma
        [0.5, 0.2, -0.3, -0.1] * 3 + [0.5, 1.0, -0.3],  # exactly 1 sigma is not within
        [0.5, 0.2, 0.6, 0.3, 0.5, 0.2, 0.6, 0.3],  # eight on one side: the window of nine does not exist
    ],
)
def test_negative_controls_fire_no_nelson_rule(values: list[float]) -> None:
    assert nelson(values) == EMPTY_NELSON


def test_rule_5_flags_only_a_point_that_is_itself_beyond_2_sigma() -> None:
    # the window ending at lot 4 holds two beyond 2 sigma, but lot 4 is not one of them
    assert nelson([0.5, 2.5, 2.5, 0.5])[5] == [3]
    # two beyond 2 sigma in lots 1-2: the window of three does not exist before lot 3
    assert nelson([2.5, 2.5, 0.5])[5] == []


def test_decreasing_trend_and_lower_side_fire_as_upper_ones_do() -> None:
    assert nelson([0.5, 0.3, 0.1, -0.1, -0.3, -0.5]) == only(3, [6])
    assert nelson([-0.5, -2.5, 0.5, -2.5, -0.5]) == only(5, [4])
    assert nelson([-3.01]) == only(1, [1])


def test_western_electric_rules_1_to_3_are_nelson_1_5_6_and_rule_4_is_eight_on_one_side() -> None:
    assert western(CASES[1][0]) == only(1, [3], EMPTY_WE)
    assert western(CASES[5][0]) == only(2, [4], EMPTY_WE)
    assert western(CASES[6][0]) == only(3, [5], EMPTY_WE)
    eight = [0.5, 0.2, 0.6, 0.3, 0.5, 0.2, 0.6, 0.3]
    assert western(eight) == only(4, [8], EMPTY_WE)
    assert nelson(eight) == EMPTY_NELSON


def test_rules_run_on_many_attributes_side_by_side_as_on_each_alone() -> None:
    columns = [CASES[r][0][:5] for r in (1, 5, 6)]
    table = np.column_stack(columns)
    flags, _ = all_flags(table, np.zeros(3), np.ones(3))
    for j, column in enumerate(columns):
        assert {r: lot_indices(f[:, j]) for r, f in flags.items()} == nelson(column)


# --- the I-MR chart: limits from the baseline, rules on every lot -----------------------------------------


def test_imr_limits_follow_the_baseline_conventions_exactly() -> None:
    values = [10.0, 12.0, 10.0, 12.0, 10.0, 12.0, 11.2, 11.4, 11.3, 11.5, 30.0, -5.0]
    chart = IMRChart(10).fit(values)
    # by hand: mean of lots 1-10 = 111.4 / 10; MRs 2,2,2,2,2,0.8,0.2,0.1,0.2 sum 11.3 over 9
    assert chart.centre_line == pytest.approx(11.14, abs=1e-12)
    assert chart.mr_bar == pytest.approx(11.3 / 9, abs=1e-12)
    assert chart.sigma == pytest.approx(11.3 / 9 / 1.128, abs=1e-12)
    assert chart.ucl == pytest.approx(11.14 + 3 * 11.3 / 9 / 1.128, abs=1e-12)
    assert chart.lcl == pytest.approx(11.14 - 3 * 11.3 / 9 / 1.128, abs=1e-12)
    assert chart.mr_ucl == pytest.approx(3.267 * 11.3 / 9, abs=1e-12)
    # lots after the baseline do not move the limits
    assert IMRChart(10).fit(values[:10]).centre_line == chart.centre_line
    # MR of lot 11 (18.5) and lot 12 (35) are above 3.267 * 1.2556 = 4.10
    assert chart.mr_flagged == (11, 12)
    assert chart.nelson[1] == (11, 12)


def test_a_window_straddling_the_baseline_end_fires_on_the_lot_that_completes_it() -> None:
    baseline = [10.0, 12.0, 10.0, 12.0, 10.0, 12.0, 11.2, 11.4, 11.3, 11.5]
    centre, sigma, _ = loop_imr(baseline, 10)
    # lots 6-10 are above the CL (within 1 sigma); four more above complete nine in a row at lot 14
    after = [centre + sigma * f for f in (0.3, 0.15, 0.3, 0.15, -0.3)]
    chart = IMRChart(10).fit(baseline + after)
    assert chart.nelson == {1: (), 2: (14,), 3: (), 4: (), 5: (), 6: (), 7: (), 8: ()}
    assert chart.western_electric == {1: (), 2: (), 3: (), 4: (13, 14)}
    assert chart.signals()[0] == {"lot_index": 13, "lot_id": "13", "rules": ["western electric 4"]}


def test_a_rule_can_fire_inside_the_baseline() -> None:
    chart = IMRChart(14).fit([0.5, -0.5] * 7 + [-0.6])
    assert chart.nelson[4] == (14,)


def test_chart_json_has_the_contract_keys() -> None:
    payload = IMRChart(5).fit([1.0, 2.0, 1.5, 1.2, 1.8, 9.0], lot_ids=list("ABCDEF")).to_dict()
    assert set(payload["individuals"]) >= {"centre_line", "sigma", "ucl", "lcl"}
    assert set(payload["moving_range"]) >= {"mr_bar", "ucl", "flagged_lots"}
    assert sorted(payload["nelson"]) == [str(r) for r in range(1, 9)]
    assert sorted(payload["western_electric"]) == ["1", "2", "3", "4"]
    assert payload["points"][5]["lot_id"] == "F" and "nelson 1" in payload["points"][5]["rules"]


def test_log10_chart_charts_the_logarithm() -> None:
    chart = IMRChart(3, log10=True).fit([10.0, 100.0, 1000.0, 100.0])
    assert chart.centre_line == pytest.approx(2.0)
    assert chart.sigma == pytest.approx(1.0 / 1.128)
    with pytest.raises(ValueError, match="values"):
        IMRChart(3, log10=True).fit([1.0, 0.0, 2.0])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"baseline_n": 1}, "baseline_n"), ({"baseline_n": 2.5}, "baseline_n")],
)
def test_invalid_chart_parameters_name_the_parameter(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        IMRChart(**kwargs)  # type: ignore[arg-type]


def test_baseline_longer_than_the_series_and_flat_baseline_are_refused() -> None:
    with pytest.raises(ValueError, match="baseline_n"):
        IMRChart(5).fit([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="sigma"):
        IMRChart(3).fit([1.0, 1.0, 1.0, 2.0])


def test_levey_jennings_uses_the_assigned_mean_and_sd_or_the_baseline_sample_sd() -> None:
    chart = LeveyJennings(target_mean=100.0, target_sd=5.0).fit([100.0, 104.0, 116.0, 99.0])
    assert chart.nelson[1] == (3,)
    assert chart.ucl == pytest.approx(115.0)
    runs = [98.0, 102.0, 100.0, 101.0, 99.0, 111.0]
    chart = LeveyJennings(baseline_n=5).fit(runs)
    assert chart.centre_line == pytest.approx(100.0)
    assert chart.sigma == pytest.approx(np.std(runs[:5], ddof=1))
    assert chart.nelson[1] == (6,)
    with pytest.raises(ValueError, match="target_sd"):
        LeveyJennings(target_mean=1.0)


# --- vectorised against the plain loop on random series -------------------------------------------------

series = st.lists(st.integers(-8, 8).map(lambda v: v / 2), min_size=2, max_size=60)


@given(values=series)
def test_vectorised_rules_agree_with_the_plain_loop(values: list[float]) -> None:
    # half-sigma steps put many points exactly on zone lines and the CL, and make ties common
    flags_n, flags_w = all_flags(values, 0.0, 1.0)
    expected_n, expected_w = loop_rules(values, 0.0, 1.0)
    assert {r: lot_indices(f) for r, f in flags_n.items()} == expected_n
    assert {r: lot_indices(f) for r, f in flags_w.items()} == expected_w


@given(
    values=st.lists(st.floats(-100, 100, allow_nan=False), min_size=6, max_size=40),
    baseline=st.integers(2, 6),
)
def test_imr_chart_agrees_with_plain_sums(values: list[float], baseline: int) -> None:
    centre, sigma, mr_bar = loop_imr(values, baseline)
    if not sigma > 1e-9:
        return
    chart = IMRChart(baseline).fit(values)
    assert chart.centre_line == pytest.approx(centre, rel=1e-12, abs=1e-9)
    assert chart.mr_bar == pytest.approx(mr_bar, rel=1e-12, abs=1e-9)


# --- limits that change at a re-baselining ----------------------------------------------------------------


def test_each_lot_is_judged_against_the_limits_in_force_for_it() -> None:
    from secretome.analysis.trending import LimitSegment, segmented_chart

    old = LimitSegment(0, 0.0, 1.0, 1.128, "old")
    new = LimitSegment(5, 10.0, 1.0, 1.128, "new")
    values = [0.5, -0.5, 0.5, -0.5, 3.5, 10.5, 9.5, 10.5, 13.5, 10.0]
    chart = segmented_chart(values, [f"L{i}" for i in range(1, 11)], [new, old])
    assert chart.segments == (old, new)  # ordered by first lot
    assert chart.segment_of_lot == (0, 0, 0, 0, 0, 1, 1, 1, 1, 1)
    # lot 5 beyond 3 sigma of the old limits, lot 9 of the new; lot 6 (10.5) is not beyond the new limits
    assert chart.nelson[1] == (5, 9)
    # the moving range into lot 6 (7.0) is above the new MR UCL 3.267 * 1.128 = 3.685
    assert 6 in chart.mr_flagged
    payload = chart.to_dict()
    assert [s["first_lot_index"] for s in payload["segments"]] == [1, 6]
    assert payload["individuals"]["centre_line"] == 10.0
    assert chart.signals()[0] == {"lot_index": 5, "lot_id": "L5", "rules": ["nelson 1", "western electric 1"]}


def test_per_point_limits_agree_with_the_plain_loop_within_each_segment() -> None:
    from secretome.analysis.trending import LimitSegment, segmented_chart

    rng = np.random.default_rng(8)
    values = list(np.round(rng.normal(0, 1, 30), 1))
    chart = segmented_chart(values, [str(i) for i in range(30)], [LimitSegment(0, 0.0, 1.0, 1.0)])
    expected, _ = loop_rules(values, 0.0, 1.0)
    assert {r: list(v) for r, v in chart.nelson.items()} == expected
