"""Evaluation of reported results against acceptance criteria: rounding, censored results, findings, K/M."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from secretome.domain.specification import (
    AttributeSpec,
    Criterion,
    CriterionKind,
    EndotoxinLimit,
    Reading,
    ReportingRule,
    Verdict,
    evaluate,
    parse_reading,
    specification_content,
)

D = Decimal


def at_least(limit: str, decimals: int | None = None) -> Criterion:
    return Criterion(CriterionKind.AT_LEAST, lower=D(limit), rule=ReportingRule(decimals=decimals))


def at_most(limit: str, decimals: int | None = None) -> Criterion:
    return Criterion(CriterionKind.AT_MOST, upper=D(limit), rule=ReportingRule(decimals=decimals))


def test_a_positive_marker_at_95_percent_conforms_to_at_least_95() -> None:
    assert evaluate(at_least("95"), Reading(D("95"))).verdict is Verdict.CONFORMS


def test_rounding_happens_before_comparison_so_94_95_reported_to_one_decimal_conforms() -> None:
    # USP General Notices 7.20: 94.95 rounds half up to 95.0, which meets >= 95.
    result = evaluate(at_least("95", decimals=1), Reading(D("94.95")))
    assert result.verdict is Verdict.CONFORMS
    assert result.compared == "95.0"
    assert "rounded to 1 decimal place" in result.reason


def test_94_94_rounds_to_94_9_and_is_out_of_specification_with_the_reason_stated() -> None:
    result = evaluate(at_least("95", decimals=1), Reading(D("94.94")))
    assert result.verdict is Verdict.OUT_OF_SPECIFICATION
    assert "94.9" in result.reason and "below" in result.reason


def test_floats_round_half_up_on_their_decimal_value_not_their_binary_expansion() -> None:
    # 2.675 as a binary float is 2.67499999...; the lab means 2.675 and rounds it to 2.68.
    assert ReportingRule(decimals=2).apply(D(str(2.675))) == D("2.68")


def test_significant_digits_rounding() -> None:
    rule = ReportingRule(significant_digits=2)
    assert rule.apply(D("34.96")) == D("35")
    assert rule.apply(D("0.012345")) == D("0.012")
    assert rule.apply(D("1234")) == D("1.2E+3")


def test_a_negative_marker_above_2_percent_is_out_of_specification() -> None:
    assert evaluate(at_most("2", decimals=1), Reading(D("2.04"))).verdict is Verdict.CONFORMS
    assert evaluate(at_most("2", decimals=1), Reading(D("2.05"))).verdict is Verdict.OUT_OF_SPECIFICATION


def test_exclusive_limits_refuse_the_limit_itself() -> None:
    strict = Criterion(CriterionKind.AT_MOST, upper=D("12.5"), upper_inclusive=False)
    assert evaluate(strict, Reading(D("12.5"))).verdict is Verdict.OUT_OF_SPECIFICATION
    assert evaluate(strict, Reading(D("12.49"))).verdict is Verdict.CONFORMS


def test_a_range_checks_both_ends() -> None:
    ph = Criterion(CriterionKind.RANGE, lower=D("7.0"), upper=D("7.6"), rule=ReportingRule(decimals=1))
    assert evaluate(ph, Reading(D("7.34"))).verdict is Verdict.CONFORMS
    assert evaluate(ph, Reading(D("6.94"))).verdict is Verdict.OUT_OF_SPECIFICATION
    assert evaluate(ph, Reading(D("7.66"))).verdict is Verdict.OUT_OF_SPECIFICATION
    assert "above" in evaluate(ph, Reading(D("7.66"))).reason


def test_below_lloq_conforms_to_an_upper_limit_above_the_lloq() -> None:
    result = evaluate(at_most("35"), Reading(D("0.5"), qualifier="<"))
    assert result.verdict is Verdict.CONFORMS
    assert result.compared == "< 0.5"


def test_below_lloq_fails_a_lower_limit_at_or_above_the_lloq() -> None:
    result = evaluate(at_least("20"), Reading(D("5"), qualifier="<"))
    assert result.verdict is Verdict.OUT_OF_SPECIFICATION


def test_below_lloq_is_incomplete_when_the_lloq_lies_inside_the_acceptance_range() -> None:
    result = evaluate(at_least("2"), Reading(D("5"), qualifier="<"))
    assert result.verdict is Verdict.INCOMPLETE
    assert "quantified result is needed" in result.reason
    assert evaluate(at_most("1"), Reading(D("5"), qualifier="<")).verdict is Verdict.INCOMPLETE


def test_above_uloq_fails_an_upper_limit_and_meets_a_lower_one() -> None:
    assert evaluate(at_most("100"), Reading(D("200"), qualifier=">")).verdict is Verdict.OUT_OF_SPECIFICATION
    assert evaluate(at_least("100"), Reading(D("200"), qualifier=">")).verdict is Verdict.CONFORMS
    assert evaluate(at_most("300"), Reading(D("200"), qualifier=">")).verdict is Verdict.INCOMPLETE


def test_sterility_findings() -> None:
    complies = Criterion(CriterionKind.COMPLIES)
    assert evaluate(complies, Reading(finding="No growth")).verdict is Verdict.CONFORMS
    assert evaluate(complies, Reading(finding="Growth")).verdict is Verdict.OUT_OF_SPECIFICATION
    assert evaluate(complies, Reading(finding="turbid?")).verdict is Verdict.INCOMPLETE
    assert evaluate(complies, Reading(D("1"))).verdict is Verdict.INCOMPLETE


def test_mycoplasma_not_detected() -> None:
    criterion = Criterion(CriterionKind.NOT_DETECTED)
    assert evaluate(criterion, parse_reading("not detected")).verdict is Verdict.CONFORMS
    assert evaluate(criterion, parse_reading("Detected")).verdict is Verdict.OUT_OF_SPECIFICATION


def test_no_result_is_incomplete() -> None:
    assert evaluate(at_least("95"), None).verdict is Verdict.INCOMPLETE


def test_report_only_records_without_a_limit() -> None:
    result = evaluate(Criterion(CriterionKind.REPORT_ONLY), Reading(D("123.4")))
    assert result.verdict is Verdict.CONFORMS
    assert "report only" in result.reason


def test_a_finding_against_a_numeric_limit_is_incomplete() -> None:
    assert evaluate(at_least("95"), Reading(finding="complies")).verdict is Verdict.INCOMPLETE


@pytest.mark.parametrize(
    "text,value,qualifier,finding",
    [
        ("7.32", D("7.32"), "=", None),
        ("< 0.50", D("0.50"), "<", None),
        ("<0.5", D("0.5"), "<", None),
        ("≤ 0.5", D("0.5"), "<", None),
        ("> 200", D("200"), ">", None),
        ("1.5e9", D("1.5e9"), "=", None),
        ("No growth", None, "=", "no growth"),
    ],
)
def test_parse_reading(text: str, value: Decimal | None, qualifier: str, finding: str | None) -> None:
    reading = parse_reading(text)
    assert (reading.value, reading.qualifier, reading.finding) == (value, qualifier, finding)


def test_parse_reading_refuses_garbled_numbers() -> None:
    with pytest.raises(ValueError, match="result"):
        parse_reading("7,3.2")


@pytest.mark.parametrize(
    "kwargs,name",
    [
        ({"kind": CriterionKind.RANGE, "lower": D(1)}, "upper"),
        ({"kind": CriterionKind.AT_LEAST}, "lower"),
        ({"kind": CriterionKind.AT_MOST, "upper": D(1), "lower": D(0)}, "lower"),
        ({"kind": CriterionKind.RANGE, "lower": D(2), "upper": D(1)}, "lower"),
        ({"kind": CriterionKind.COMPLIES, "upper": D(1)}, "upper"),
    ],
)
def test_invalid_criteria_name_the_parameter(kwargs: dict[str, object], name: str) -> None:
    with pytest.raises(ValueError, match=name):
        Criterion(**kwargs)  # type: ignore[arg-type]


def test_invalid_reporting_rules_name_the_parameter() -> None:
    with pytest.raises(ValueError, match="decimals"):
        ReportingRule(decimals=1, significant_digits=2)
    with pytest.raises(ValueError, match="significant_digits"):
        ReportingRule(significant_digits=0)


def test_reading_needs_a_number_or_a_finding() -> None:
    with pytest.raises(ValueError, match="value"):
        Reading()
    with pytest.raises(ValueError, match="qualifier"):
        Reading(D(1), qualifier="~")
    with pytest.raises(ValueError, match="interval"):
        Reading(D(1), interval=(D(2), D(1)))


def test_endotoxin_limit_matches_the_usp_85_worked_example() -> None:
    # USP <85>: 10 mL infused over 1 h into a 70 kg adult, K = 5 EU/kg -> M = 0.143 mL/kg -> 35 EU/mL.
    limit = EndotoxinLimit("intravenous", D(10))
    assert limit.k == 5
    assert limit.limit_eu_per_ml == D(35)
    assert limit.criterion().upper == D("35.0")
    assert "K/M" in limit.describe()


def test_intrathecal_endotoxin_k_is_0_2() -> None:
    limit = EndotoxinLimit("intrathecal", D(10))
    assert limit.limit_eu_per_ml == D("1.4")


def test_a_dose_given_faster_than_an_hour_counts_as_one_hour() -> None:
    fast = EndotoxinLimit("intravenous", D(10), infusion_hours=D("0.25"))
    assert fast.limit_eu_per_ml == D(35)
    slow = EndotoxinLimit("intravenous", D(10), infusion_hours=D(2))
    assert slow.limit_eu_per_ml == D(70)


def test_endotoxin_refuses_unknown_route_and_non_positive_dose() -> None:
    with pytest.raises(ValueError, match="route"):
        EndotoxinLimit("oral-ish", D(10))
    with pytest.raises(ValueError, match="dose_volume_ml"):
        EndotoxinLimit("intravenous", D(0))


def test_attribute_and_criterion_round_trip_through_dicts() -> None:
    attribute = AttributeSpec(
        "cd73", "CD73", "Flow cytometry", "%", at_least("95", decimals=1), category="identity"
    )
    assert AttributeSpec.from_dict(attribute.to_dict()) == attribute
    reading = Reading(D("98.2"), interval=(D("80"), D("120")))
    assert Reading.from_dict(reading.to_dict()) == reading


def test_specification_content_refuses_duplicate_codes() -> None:
    attribute = AttributeSpec("ph", "pH", "Potentiometry", "", Criterion(CriterionKind.REPORT_ONLY))
    with pytest.raises(ValueError, match="ph"):
        specification_content("P", 1, [attribute, attribute])


def test_attribute_needs_a_method() -> None:
    with pytest.raises(ValueError, match="method"):
        AttributeSpec("ph", "pH", " ", "", Criterion(CriterionKind.REPORT_ONLY))


@given(
    value=st.decimals(min_value=-1000, max_value=1000, places=4, allow_nan=False),
    low=st.decimals(min_value=-1000, max_value=0, places=2, allow_nan=False),
    width=st.decimals(min_value=0, max_value=1000, places=2, allow_nan=False),
)
def test_an_unrounded_quantified_result_conforms_exactly_when_it_lies_in_the_range(
    value: Decimal, low: Decimal, width: Decimal
) -> None:
    criterion = Criterion(CriterionKind.RANGE, lower=low, upper=low + width)
    verdict = evaluate(criterion, Reading(value)).verdict
    assert (verdict is Verdict.CONFORMS) == (low <= value <= low + width)


@given(
    lloq=st.decimals(min_value=0, max_value=100, places=2, allow_nan=False),
    limit=st.decimals(min_value=0, max_value=100, places=2, allow_nan=False),
)
def test_a_censored_result_never_conforms_when_some_value_it_stands_for_would_fail(
    lloq: Decimal, limit: Decimal
) -> None:
    # Every value v < lloq must meet v >= limit for "conforms"; none can when lloq <= limit.
    verdict = evaluate(at_least(str(limit)), Reading(lloq, qualifier="<")).verdict
    assert verdict is not Verdict.CONFORMS


def test_numbers_print_as_a_certificate_shows_them() -> None:
    from secretome.domain.specification import format_number

    assert format_number(ReportingRule(significant_digits=3).apply(D("2358.7"))) == "2360"
    assert format_number(D("7.30")) == "7.30"
    assert format_number(D("2.8E+9")) == "2.8 × 10⁹"
    assert (
        Criterion(CriterionKind.AT_LEAST, lower=D("1E9")).describe("particles/mL") == "≥ 1 × 10⁹ particles/mL"
    )
    assert (
        Reading(D("88.3"), interval=(D("84.1"), D("93.0"))).describe(ReportingRule(decimals=0))
        == "88 (CI 84 – 93)"
    )
