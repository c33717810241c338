"""Culture records and lot genealogy from the command line, as a script would drive them."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

MARKERS = ["HIV-1/2", "HBV", "HCV", "syphilis", "HTLV-I/II"]


@pytest.fixture
def as_user(run_cli: Callable[..., Any], analyst: Any, qa_user: Any) -> Callable[..., Any]:
    """Run a command as ``ana`` or ``quinn`` (password from the environment) and decode --json output."""

    def run(user: str, *args: str, expect: int = 0) -> Any:
        result = run_cli(*args, "--as", user, "--json", env={"SECRETOME_PASSWORD": PASSWORD})
        assert result.exit_code == expect, result.output
        return json.loads(result.stdout) if expect == 0 else result

    return run


def approved_recipe(as_user: Callable[..., Any], code: str) -> None:
    """Write a recipe as the analyst and approve it as QA."""
    as_user(
        "ana",
        "recipe",
        "add",
        code,
        "--title",
        code,
        "--basal-medium",
        "alpha-MEM",
        "--supplement",
        "hPL",
        "--supplement-percent",
        "5",
        "--seeding-density",
        "3000",
        "--conditioning-medium",
        "DMEM/F12",
    )
    as_user("quinn", "recipe", "approve", code, "--version", "1")


def test_a_lot_recorded_from_the_command_line_traces_to_its_donor(
    as_user: Callable[..., Any], run_cli: Callable[..., Any]
) -> None:
    donor = as_user(
        "ana",
        "donor",
        "add",
        "--source",
        "WJ",
        "--collected-on",
        "2026-01-30",
        "--facility",
        "W0001",
        "--consent-date",
        "2026-01-29",
    )
    din = donor["din"]
    for marker in MARKERS:
        as_user(
            "ana",
            "donor",
            "screen",
            din,
            "--marker",
            marker,
            "--outcome",
            "negative",
            "--method",
            "NAT",
            "--tested-on",
            "2026-01-31",
        )
    assert (
        as_user(
            "quinn", "donor", "eligibility", din, "--decision", "eligible", "--rationale", "all negative"
        )["status"]
        == "eligible"
    )
    approved_recipe(as_user, "WJ-HPL")
    p0 = as_user(
        "ana",
        "passage",
        "add",
        "--din",
        din,
        "--recipe",
        "WJ-HPL",
        "--seeded-at",
        "2026-02-01T09:00Z",
        "--area",
        "25",
        "--medium-lot",
        "M1",
        "--harvested",
        "3e6",
        "--harvested-at",
        "2026-02-11T09:00Z",
    )
    p1 = as_user(
        "ana",
        "passage",
        "add",
        "--from-passage",
        str(p0["id"]),
        "--recipe",
        "WJ-HPL",
        "--seeded-at",
        "2026-02-11T10:00Z",
        "--area",
        "175",
        "--seeded",
        "5e5",
        "--medium-lot",
        "M1",
    )
    as_user(
        "ana",
        "passage",
        "harvest",
        str(p1["id"]),
        "--harvested",
        "4.2e6",
        "--harvested-at",
        "2026-02-15T10:00Z",
        "--viability",
        "95",
    )
    p2 = as_user(
        "ana",
        "passage",
        "add",
        "--from-passage",
        str(p1["id"]),
        "--recipe",
        "WJ-HPL",
        "--seeded-at",
        "2026-02-15T11:00",
        "--area",
        "175",
        "--seeded",
        "5e5",
        "--medium-lot",
        "M1",
    )
    assert p2["number"] == 2

    as_user(
        "quinn", "policy", "passage", "--source", "UC-WJ", "--max-passage", "1", "--rationale", "test limit"
    )
    start = [
        "run",
        "start",
        str(p2["id"]),
        "--recipe",
        "WJ-HPL",
        "--started-at",
        "2026-02-18T09:00Z",
        "--confluence",
        "85",
        "--viable-cells",
        "1.2e7",
        "--medium",
        "DMEM/F12",
        "--medium-lot",
        "SF1",
        "--volume",
        "30",
    ]
    refused = as_user("ana", *start, expect=2)
    assert "P2 is over the maximum passage P1" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1 and "Traceback" not in refused.output

    deviation = as_user(
        "ana",
        "deviation",
        "raise",
        "--kind",
        "over-passage",
        "--passage",
        str(p2["id"]),
        "--description",
        "study lot",
    )
    as_user(
        "quinn", "deviation", "decide", deviation["number"], "--decision", "approved", "--note", "study only"
    )
    run = as_user("ana", *start, "--deviation", deviation["number"])
    lot = as_user(
        "ana",
        "run",
        "collect",
        str(run["id"]),
        "--collected-at",
        "2026-02-20T09:00Z",
        "--viable-cells",
        "1.3e7",
        "--volume",
        "30",
    )
    assert lot["number"] == "CM-WJ-2026-0001"

    traced = json.loads(run_cli("lot", "trace", lot["number"], "--json").stdout)
    assert traced["donor"]["din"] == din
    assert [p["number"] for p in traced["passages"]] == [0, 1, 2]
    assert traced["passages"][1]["population_doublings"] == pytest.approx(3.07, abs=0.005)
    assert traced["passages"][1]["doubling_time_hours"] == pytest.approx(31.3, abs=0.05)
    assert traced["growth"]["cpd_complete"] is False
    assert [d["number"] for d in traced["deviations"]] == [deviation["number"]]
    listed = json.loads(run_cli("lot", "list", "--donor", din, "--json").stdout)
    assert [row["number"] for row in listed] == [lot["number"]]
    assert run_cli("lot", "trace", "CM-WJ-2026-0099").exit_code == 2
    assert "din:" in run_cli("lot", "list", "--donor", "nonsense").stderr


def test_bad_times_and_unknown_records_exit_2_with_one_line(as_user: Callable[..., Any]) -> None:
    bad_time = as_user(
        "ana", "passage", "harvest", "1", "--harvested", "1e6", "--harvested-at", "yesterday", expect=2
    )
    assert "harvested_at" in bad_time.stderr
    missing = as_user(
        "ana",
        "passage",
        "harvest",
        "999",
        "--harvested",
        "1e6",
        "--harvested-at",
        "2026-01-01T00:00Z",
        expect=2,
    )
    assert "passage #999 does not exist" in missing.stderr


def test_a_harvest_is_read_from_a_cell_counter_file(as_user: Callable[..., Any]) -> None:
    from pathlib import Path

    counter = Path(__file__).resolve().parents[1] / "data" / "samples" / "cell_counter"
    donor = as_user(
        "ana", "donor", "add", "--source", "AT", "--collected-on", "2026-01-30", "--facility", "W0001"
    )
    approved_recipe(as_user, "AT")
    p0 = as_user(
        "ana",
        "passage",
        "add",
        "--din",
        donor["din"],
        "--recipe",
        "AT",
        "--seeded-at",
        "2026-02-01T09:00Z",
        "--area",
        "75",
        "--seeded",
        "2e5",
        "--medium-lot",
        "M1",
    )
    harvest = ["passage", "harvest", str(p0["id"]), "--harvested-at", "2026-02-06T09:00Z"]
    missing_volume = as_user(
        "ana",
        *harvest,
        "--counter-file",
        str(counter / "ChemoMetec_NucleoView_NC200_example01.csv"),
        expect=2,
    )
    assert "--volume" in missing_volume.stderr
    harvested = as_user(
        "ana",
        *harvest,
        "--counter-file",
        str(counter / "ChemoMetec_NucleoView_NC200_example01.csv"),
        "--volume",
        "2",
    )
    assert harvested["cells_harvested"] == pytest.approx(2.45e6 * 2)  # "Live (cells/ml);2.45E6" in the file
    assert harvested["harvest_counts"]["sample"]
