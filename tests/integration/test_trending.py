"""Trending on the lots in the database (series, provisional and approved limits, re-baselining, lot
signals, comparisons) and the ``secretome trend`` commands on CSV files."""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from secretome.analysis.trending import Capability, IMRChart, ToleranceInterval, tolerance_factor
from secretome.domain.specification import AttributeSpec, Criterion, CriterionKind, ReportingRule
from tests.integration.release_support import PRODUCT, approved_specification, make_lot

DATA = Path(__file__).resolve().parents[1] / "data" / "trending"

POTENCY = [100, 104, 98, 102, 101, 99, 103, 100, 101, 102, 140, 100]


def _attributes() -> list[AttributeSpec]:
    return [
        AttributeSpec(
            "potency",
            "Relative potency",
            "IDO kynurenine",
            "%",
            Criterion(
                CriterionKind.RANGE, lower=Decimal(70), upper=Decimal(143), rule=ReportingRule(decimals=0)
            ),
            category="potency",
        ),
        AttributeSpec(
            "vegf",
            "VEGF-A",
            "ELISA",
            "pg/mL",
            Criterion(CriterionKind.REPORT_ONLY),
            category="secretome",
            release_test=False,
        ),
    ]


@pytest.fixture
def lots(qa_user: Any, analyst: Any) -> list[Any]:
    from secretome.services import release

    approved_specification(qa_user, _attributes())
    made = []
    for i, value in enumerate(POTENCY):
        lot = make_lot(analyst, passage_number=3 + i % 3, tissue="UC-WJ" if i % 2 else "BM")
        release.add_result(analyst, "QC result", lot.number, "potency", str(value))
        release.add_result(analyst, "QC result", lot.number, "vegf", str(1000 + (0, 80, -40, 40)[i % 4]))
        made.append(lot)
    return made


@pytest.mark.django_db
def test_attribute_trend_charts_the_current_results_in_lot_order_with_provisional_limits(
    lots: list[Any],
) -> None:
    from secretome.services import trending

    payload = trending.attribute_trend("potency", PRODUCT)
    assert [p["lot"] for p in payload["lots"]] == [lot.number for lot in lots]
    assert payload["limits"]["origin"] == "provisional"
    expected = IMRChart(12).fit(POTENCY)
    assert payload["chart"]["individuals"]["centre_line"] == pytest.approx(expected.centre_line)
    assert payload["chart"]["individuals"]["sigma"] == pytest.approx(expected.sigma)
    assert payload["chart"]["nelson"]["1"] == list(expected.nelson[1])
    assert payload["lots"][0]["tissue_source"] == "BM" and payload["lots"][0]["passage"] == 3
    capability = Capability(70.0, 143.0).fit(POTENCY)
    assert payload["capability"]["Cpk"]["estimate"] == pytest.approx(capability.cpk.estimate)
    tolerance = ToleranceInterval(0.99, 0.95).fit(POTENCY)
    assert payload["tolerance"]["normal"]["upper"] == pytest.approx(tolerance.upper)
    assert payload["tolerance"]["k"] == pytest.approx(tolerance_factor(12, 0.99, 0.95))


@pytest.mark.django_db
def test_approved_limits_are_stored_audited_and_not_recomputed_and_a_rebaselining_keeps_the_old_ones(
    lots: list[Any], qa_user: Any, analyst: Any
) -> None:
    from secretome.db.core.models import AuditEvent
    from secretome.services import release, trending
    from secretome.services.errors import Forbidden

    with pytest.raises(Forbidden):
        trending.approve_limits(analyst, "try", PRODUCT, "potency", baseline_n=8)
    first = trending.approve_limits(qa_user, "limits from the first 8 lots", PRODUCT, "potency", baseline_n=8)
    expected = IMRChart(8).fit(POTENCY)
    assert first.centre_line == pytest.approx(expected.centre_line)
    assert first.sigma == pytest.approx(expected.sigma)
    payload = trending.attribute_trend("potency", PRODUCT)
    assert payload["limits"]["origin"] == "approved"
    assert payload["chart"]["nelson"]["1"] == [11]
    assert {
        "lot_index": 11,
        "lot_id": lots[10].number,
        "rules": ["nelson 1", "western electric 1"],
    } in payload["signals"]
    # a new lot does not move approved limits
    extra = make_lot(analyst)
    release.add_result(analyst, "QC result", extra.number, "potency", "500")
    assert (
        trending.attribute_trend("potency", PRODUCT)["chart"]["individuals"]["centre_line"]
        == first.centre_line
    )
    # re-baselining from lot 9: the old limits stay, for lots 1-8
    second = trending.approve_limits(
        qa_user, "process change at lot 9", PRODUCT, "potency", first_lot=lots[8].number, baseline_n=4
    )
    assert second.supersedes_id == first.pk
    payload = trending.attribute_trend("potency", PRODUCT)
    segments = payload["chart"]["segments"]
    assert [s["first_lot_index"] for s in segments] == [1, 9]
    assert segments[0]["centre_line"] == pytest.approx(first.centre_line)
    assert [h["superseded"] for h in payload["limit_history"]] == [True, False]
    actions = list(AuditEvent.objects.filter(object_type="control limits").values_list("action", flat=True))
    assert actions == ["approve control limits", "re-baseline control limits"]
    with pytest.raises(Exception, match="first_lot"):
        trending.approve_limits(
            qa_user, "earlier", PRODUCT, "potency", first_lot=lots[2].number, baseline_n=4
        )


@pytest.mark.django_db
def test_lot_signals_name_the_rules_that_flag_a_lot(lots: list[Any], qa_user: Any) -> None:
    from secretome.services import trending

    trending.approve_limits(qa_user, "limits", PRODUCT, "potency", baseline_n=8)
    assert trending.lot_signals(lots[10]) == [
        {"attribute": "potency", "product": PRODUCT, "rules": ["nelson 1", "western electric 1"]}
    ]
    assert trending.lot_signals(lots[0]) == []


@pytest.mark.django_db
def test_concentrations_are_charted_on_log10(lots: list[Any]) -> None:
    from secretome.services import trending

    payload = trending.attribute_trend("vegf", PRODUCT)
    assert payload["chart"]["log10"] is True
    assert payload["chart"]["points"][0]["charted"] == pytest.approx(3.0)


@pytest.mark.django_db
def test_factor_comparison_by_tissue_source(lots: list[Any]) -> None:
    from secretome.services import trending

    payload = trending.factor_comparison("potency", PRODUCT, "tissue source")
    assert [g["level"] for g in payload["one_way"]["groups"]] == ["BM", "UC-WJ"]
    assert payload["mixed"] is None and "donor" in payload["mixed_note"]  # one lot per donor here


@pytest.mark.django_db
def test_fingerprint_comparison_of_lots_in_the_database(lots: list[Any]) -> None:
    from secretome.services import trending
    from secretome.services.errors import ServiceError

    with pytest.raises(ServiceError, match="analytes"):
        trending.fingerprint_comparison(PRODUCT, ["vegf"], [], [])
    numbers = [lot.number for lot in lots]
    payload = trending.fingerprint_comparison(PRODUCT, ["potency", "vegf"], numbers[:9], numbers[9:])
    assert [lot["lot_id"] for lot in payload["lots"]] == numbers[9:]
    assert payload["log10"] is True


# --- the command line ------------------------------------------------------------------------------------


def test_trend_chart_prints_the_json_contract(run_cli: Callable[..., Any]) -> None:
    result = run_cli("trend", "chart", str(DATA / "potency.csv"), "--baseline", "8", "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    expected = IMRChart(8).fit(POTENCY)
    assert payload["individuals"]["centre_line"] == pytest.approx(expected.centre_line)
    assert payload["individuals"]["ucl"] == pytest.approx(expected.ucl)
    assert payload["moving_range"]["flagged_lots"] == list(expected.mr_flagged)
    assert payload["nelson"]["1"] == [11]
    assert sorted(payload["western_electric"]) == ["1", "2", "3", "4"]


def test_trend_capability_prints_the_json_contract(run_cli: Callable[..., Any]) -> None:
    result = run_cli(
        "trend", "capability", str(DATA / "potency.csv"), "--lsl", "70", "--usl", "143", "--json"
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["n"] == 12
    assert payload["Cpk"]["estimate"] == pytest.approx(Capability(70.0, 143.0).fit(POTENCY).cpk.estimate)
    assert set(payload["Ppk"]) == {"estimate", "ci95_lower", "ci95_upper", "lower_bound_95_one_sided"}


def test_trend_tolerance_prints_k(run_cli: Callable[..., Any]) -> None:
    result = run_cli(
        "trend",
        "tolerance",
        "--n",
        "43",
        "--coverage",
        "0.90",
        "--confidence",
        "0.99",
        "--method",
        "howe",
        "--json",
    )
    assert result.exit_code == 0
    assert json.loads(result.output)["k"] == pytest.approx(2.2173, abs=1e-4)
    result = run_cli(
        "trend",
        "tolerance",
        "--n",
        "10",
        "--coverage",
        "0.95",
        "--confidence",
        "0.95",
        "--sides",
        "1",
        "--json",
    )
    assert json.loads(result.output)["k"] == pytest.approx(2.911, abs=6e-4)


def test_trend_compare_flags_the_lot_and_names_the_analyte(run_cli: Callable[..., Any]) -> None:
    result = run_cli("trend", "compare", str(DATA / "reference.csv"), str(DATA / "new.csv"), "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert [lot["flagged"] for lot in payload["lots"]] == [False, True]
    assert payload["lots"][1]["analytes_responsible"] == ["HGF"]
    assert set(payload["lots"][0]["myt_unconditional"]) == {"IL6", "VEGF", "HGF"}
    assert "pca" in payload and "ucl" in payload


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("lot_index,lot_id,value\n1,A,1\n3,B,2\n", "row 3, column 'lot_index'"),
        ("lot_index,lot_id,value\n1,A,1\n2,B,x\n", "row 3, column 'value'"),
        ("lot_index,lot_id\n1,A\n", "row 1, column 'value'"),
        ("", "row 1"),
    ],
)
def test_bad_chart_files_exit_2_naming_row_and_column(
    run_cli: Callable[..., Any], tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    result = run_cli("trend", "chart", str(path), "--baseline", "2", "--json")
    assert result.exit_code == 2
    assert message in result.output


def test_trend_attribute_on_the_database(run_cli: Callable[..., Any], lots: list[Any]) -> None:
    result = run_cli("trend", "attribute", "potency", "--product", PRODUCT, "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["n"] == 12 and payload["limits"]["origin"] == "provisional"
    result = run_cli("trend", "attribute", "nonexistent", "--json")
    assert result.exit_code == 2


def test_levey_jennings_chart_and_human_output(run_cli: Callable[..., Any]) -> None:
    result = run_cli(
        "trend", "chart", str(DATA / "potency.csv"), "--baseline", "8", "--levey-jennings", "--json"
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["kind"] == "Levey-Jennings"
    assert payload["individuals"]["sigma"] == pytest.approx(statistics.stdev(POTENCY[:8]))
    for args in (
        ("trend", "chart", str(DATA / "potency.csv"), "--baseline", "8"),
        ("trend", "capability", str(DATA / "potency.csv"), "--usl", "143"),
        ("trend", "tolerance", "--n", "10", "--coverage", "0.9", "--confidence", "0.95"),
        ("trend", "compare", str(DATA / "reference.csv"), str(DATA / "new.csv")),
    ):
        result = run_cli(*args)
        assert result.exit_code == 0, (args, result.output)


@pytest.mark.parametrize(
    "args",
    [
        ("trend", "tolerance", "--n", "10", "--coverage", "1.5", "--confidence", "0.95"),
        (
            "trend",
            "tolerance",
            "--n",
            "10",
            "--coverage",
            "0.9",
            "--confidence",
            "0.95",
            "--sides",
            "1",
            "--method",
            "howe",
        ),
        ("trend", "capability", str(DATA / "potency.csv")),
        ("trend", "chart", str(DATA / "potency.csv"), "--baseline", "40"),
        ("trend", "compare", str(DATA / "reference.csv"), str(DATA / "potency.csv")),
    ],
)
def test_bad_options_exit_2_with_one_line(run_cli: Callable[..., Any], args: tuple[str, ...]) -> None:
    result = run_cli(*args)
    assert result.exit_code == 2
    assert result.output.strip().startswith("error:") and len(result.output.strip().splitlines()) == 1
