"""Passage restriction, senescence alerts and lot numbers."""

from __future__ import annotations

import datetime as dt

import pytest

from secretome.domain.genealogy import (
    PassageLimit,
    SenescenceMarkers,
    SenescenceRules,
    check_passage,
    default_limit,
    evaluate_senescence,
    lot_number,
    lot_number_prefix,
    next_sequence,
    parse_lot_number,
)
from secretome.domain.growth import PassageCounts, growth_curve

T0 = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)


def test_default_limits_are_p6_for_bm_and_at_and_p8_for_wharton_jelly() -> None:
    assert default_limit("BM").max_passage == 6
    assert default_limit("AT").max_passage == 6
    assert default_limit("UC-WJ").max_passage == 8
    with pytest.raises(ValueError, match="tissue_source"):
        default_limit("liver")


def test_passage_over_the_limit_is_refused_and_at_the_limit_allowed() -> None:
    limit = default_limit("UC-WJ")
    assert check_passage(limit, 8, 20.0, True).within_limit
    verdict = check_passage(limit, 9, 20.0, True)
    assert not verdict.within_limit
    assert "P9 is over the maximum passage P8" in verdict.reasons[0]


def test_cpd_ceiling_applies_and_an_unknown_p0_cannot_prove_compliance() -> None:
    limit = PassageLimit(8, max_cpd=25.0)
    assert not check_passage(limit, 4, 25.5, True).within_limit
    assert check_passage(limit, 4, 24.0, True).within_limit
    unknown = check_passage(limit, 4, 10.0, False)
    assert not unknown.within_limit and "not determined" in unknown.reasons[0]
    # Without a ceiling an unknown P0 does not matter.
    assert check_passage(PassageLimit(8), 4, 10.0, False).within_limit


def test_limit_parameters_are_validated() -> None:
    with pytest.raises(ValueError, match="max_cpd"):
        PassageLimit(6, max_cpd=0)
    with pytest.raises(ValueError, match="baseline_passages"):
        SenescenceRules(baseline_passages=0)


def _slowing_lineage(pdts: list[float]) -> list[PassageCounts]:
    """Each passage seeded 5e5 cells and grew for 96 h with the given doubling time."""
    lineage = []
    start = T0
    for number, pdt in enumerate(pdts, start=1):
        harvested = 5e5 * 2 ** (96 / pdt)
        end = start + dt.timedelta(hours=96)
        lineage.append(PassageCounts(number, 175.0, start, 5e5, harvested, end))
        start = end
    return lineage


def test_senescence_flags_slow_growth_beta_gal_and_p21() -> None:
    # Baseline = median of 30, 32, 34 = 32 h; 70 h > 2 x 32 = 64 h; 100 h also gives PD 0.96 < 1.
    curve = growth_curve(_slowing_lineage([30, 32, 34, 50, 70, 100]))
    markers = {6: SenescenceMarkers(sa_beta_gal_percent=35.0, p21_fold=2.5, morphology="enlarged")}
    report = evaluate_senescence(SenescenceRules(), curve, markers)
    assert report.pdt_baseline_hours == pytest.approx(32.0)
    rules_by_passage = {(f.passage_number, f.rule) for f in report.flags}
    assert (4, "pdt_over_baseline") not in rules_by_passage
    assert (5, "pdt_over_baseline") in rules_by_passage
    assert {(6, "pd_per_passage"), (6, "sa_beta_gal"), (6, "p21_fold"), (6, "morphology")} <= rules_by_passage
    assert not report.flags_for(1)


def test_healthy_lineage_raises_no_flags() -> None:
    curve = growth_curve(_slowing_lineage([30, 31, 33, 35]))
    report = evaluate_senescence(SenescenceRules(), curve, {2: SenescenceMarkers(sa_beta_gal_percent=4.0)})
    assert report.flags == ()


def test_lot_numbers_are_readable_unique_per_sequence_and_parse_back() -> None:
    assert lot_number("UC-WJ", 2026, 3) == "CM-WJ-2026-0003"
    assert parse_lot_number("cm-bm-2026-0012") == ("BM", 2026, 12)
    prefix = lot_number_prefix("AT", 2026)
    assert prefix == "CM-AT-2026-"
    assert next_sequence(["CM-AT-2026-0001", "CM-AT-2026-0007", "CM-WJ-2026-0009"], prefix) == 8
    with pytest.raises(ValueError, match="lot"):
        parse_lot_number("LOT-1")
