"""Lot lists read their facts once for all lots: the query count does not grow with the number of lots, and
each row says what the lot's own trace says."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import partial
from typing import Any

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from secretome.db.genealogy.models import Lot
from secretome.domain.lot_lifecycle import LotState
from secretome.services import genealogy as g
from secretome.services import release
from secretome.web import registry
from tests.integration.release_support import PRODUCT, approved_specification
from tests.integration.test_genealogy_services import (
    Lab,
    bank,
    collect,
    condition,
    eligible_donor,
    grow,
    harvest,
    isolate,
    lab,
    thaw,
)

__all__ = ["lab"]  # the fixture of the service tests, used here too


def queries_of(action: Callable[[], Any]) -> int:
    action()  # warm whatever Django caches on a first call, so both sizes are counted alike
    with CaptureQueriesContext(connection) as captured:
        action()
    return len(captured)


def two_lots(lab: Lab) -> list[Lot]:
    """Two lots of one Wharton's-jelly donor, straight from culture (two isolations)."""
    donor = eligible_donor(lab)
    first = collect(lab, condition(lab, grow(lab, isolate(lab, donor, cells_seeded=1e5), 2)))
    second = collect(lab, condition(lab, grow(lab, isolate(lab, donor, cells_seeded=1e5), 3)))
    return [first, second]


def four_more_lots(lab: Lab, wharton: Any) -> str:
    """Lots with every fact a row rests on: a bank and thaw, a tissue-digest P0 (CPD a lower bound),
    senescence flags, an over-passage run of the ``wharton`` donor under an approved deviation, a product
    policy and a lot in QC testing. Returns the bank's code."""
    g.set_passage_policy(
        lab.qa, "product policy", tissue_source="BM", product=PRODUCT, max_passage=5, rationale="clinical"
    )
    marrow = eligible_donor(lab, source="BM")
    p1 = grow(lab, isolate(lab, marrow), 1)  # P0 seeded count unknown
    harvest(lab, p1, 1e7)
    mcb = bank(lab, p1, 2)
    labels = mcb.vials.order_by("label").values_list("label", flat=True)
    thawed = [thaw(lab, label, p1.seeded_at + dt.timedelta(days=40 + i)) for i, label in enumerate(labels)]
    banked = collect(lab, condition(lab, thawed[0], product=PRODUCT))
    release.start_testing(lab.qa, "into QC", banked.number)

    p1 = g.passage_by_id(p1.pk)  # harvested since
    slowing = grow(lab, grow(lab, p1, 3, pdt_hours=30), 1, pdt_hours=120)  # P5: P4 at 4x the baseline
    g.record_senescence(
        lab.analyst,
        "SA-beta-gal",
        passage_id=slowing.pk,
        observed_on=dt.date(2026, 3, 1),
        sa_beta_gal_percent=31,
        cells_counted=250,
        morphology="enlarged",
    )
    collect(lab, condition(lab, slowing))

    old = grow(lab, isolate(lab, wharton, cells_seeded=1e5), 9)
    deviation = g.raise_deviation(
        lab.analyst, "over-passage", kind="over-passage", description="comparability", passage_id=old.pk
    )
    g.decide_deviation(lab.qa, "QA", number=deviation.number, decision="approved", note="research lot")
    collect(lab, condition(lab, old, deviation=deviation.number))
    collect(lab, condition(lab, grow(lab, thawed[1], 1)))
    return str(mcb.code)


def test_the_lot_lists_cost_the_same_number_of_queries_for_six_lots_as_for_two(
    lab: Lab, django_assert_max_num_queries: Callable[[int], Any]
) -> None:
    approved_specification(lab.qa)
    wharton = two_lots(lab).pop().donor
    donor = wharton.din
    home_page = queries_of(registry.lot_rows)
    everything = queries_of(lambda: g.lot_summaries(g.lots()))
    of_donor = queries_of(lambda: g.lot_summaries(g.lots(din=donor)))
    assert len(registry.lot_rows()) == 2

    bank_code = four_more_lots(lab, wharton)
    assert len(registry.lot_rows()) == 6 and len(g.lots(din=donor)) == 3
    with django_assert_max_num_queries(home_page):
        registry.lot_rows()
    with django_assert_max_num_queries(everything):
        g.lot_summaries(g.lots())
    with django_assert_max_num_queries(of_donor):
        g.lot_summaries(g.lots(din=donor))
    # By bank: the bank instead of the donor, and the lineages read once more to keep the bank's lots.
    with django_assert_max_num_queries(of_donor + 1):
        assert len(g.lot_summaries(g.lots(bank=bank_code))) == 2


def test_each_row_of_the_lot_list_says_what_the_lots_trace_says(lab: Lab) -> None:
    approved_specification(lab.qa)
    four_more_lots(lab, two_lots(lab)[0].donor)
    rows = {row["number"]: row for row in registry.lot_rows()}
    summaries = {row["number"]: row for row in g.lot_summaries(g.lots())}
    assert len(rows) == len(summaries) == 6
    for number, summary in summaries.items():
        assert summary == g.lot_summary(Lot.objects.get(number=number))
        trace = g.trace(number)
        compliance = trace["passage_compliance"]
        over_passage = [f for f in summary["flags"] if f.startswith("over-passage")]
        assert [f for f in summary["flags"] if f not in over_passage] == trace["flags"]
        assert bool(over_passage) == compliance["over_limit"]
        assert summary["passage"] == trace["passages"][-1]["number"]
        assert summary["din"] == trace["donor"]["din"]
        row = rows[number]
        assert row["passage"] == f"P{summary['passage']}" and row["flags"] == summary["flags"]
        assert row["status"] == release.state_of(Lot.objects.get(number=number)).value
    flagged = {number: row["flags"] for number, row in rows.items() if row["flags"]}
    assert any("sa_beta_gal" in flags and "pdt_over_baseline" in flags for flags in flagged.values())
    assert any(f.startswith("over-passage (deviation DEV-") for flags in flagged.values() for f in flags)
    assert [row["status"] for row in rows.values()].count(LotState.QC_TESTING.value) == 1


def test_an_empty_lot_list_reads_only_the_lots(
    lab: Lab, django_assert_max_num_queries: Callable[[int], Any]
) -> None:
    with django_assert_max_num_queries(2):  # the lots, and the dispositions of none of them
        assert registry.lot_rows() == []


def test_the_home_page_and_the_api_lot_list_cost_the_same_for_six_lots_as_for_two(
    lab: Lab, client_for: Callable[[Any], Client], django_assert_max_num_queries: Callable[[int], Any]
) -> None:
    approved_specification(lab.qa)
    wharton = two_lots(lab)[0].donor
    client = client_for(lab.analyst)
    urls = ("/", "/api/genealogy/lots")
    counts = {url: queries_of(partial(client.get, url)) for url in urls}
    four_more_lots(lab, wharton)
    for url, count in counts.items():
        with django_assert_max_num_queries(count):
            response = client.get(url)
        assert response.status_code == 200
    assert len(client.get("/api/genealogy/lots").json()) == 6
