"""Genealogy pages, forms and API: the lab records through forms (CSRF enforced), everyone reads."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from secretome.db.genealogy.models import Donor, Lot
from tests.integration.test_genealogy_services import (
    Lab,
    approved_recipe,
    collect,
    condition,
    eligible_donor,
    grow,
    isolate,
)

pytestmark = pytest.mark.django_db


def _csrf(client: Client, url: str) -> str:
    page = client.get(url)
    assert page.status_code == 200, page.content[:500]
    match = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.content)
    assert match is not None
    return match.group(1).decode()


@pytest.fixture
def lot(analyst: Any, qa_user: Any) -> Lot:
    lab = Lab(analyst, qa_user)
    approved_recipe(lab)
    donor = eligible_donor(lab)
    return collect(lab, condition(lab, grow(lab, isolate(lab, donor, cells_seeded=1e5), 3)))


def test_the_lot_page_shows_timeline_growth_curve_and_pdt(
    lot: Lot, reviewer: Any, client_for: Callable[..., Client]
) -> None:
    page = client_for(reviewer).get(f"/lots/{lot.number}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert lot.donor.din in html and "<svg" in html and "Timeline" in html
    assert "P3 seeded" in html and "30.0" in html  # PDT of the passages grown at 30 h
    assert client_for(reviewer).get("/lots/CM-XX-2026-0001/").status_code == 404


def test_the_home_page_lists_lots_with_donor_passage_and_link(
    lot: Lot, analyst: Any, client_for: Callable[..., Client]
) -> None:
    html = client_for(analyst).get("/").content.decode()
    assert (
        f'href="/lots/{lot.number}/"' in html
        and lot.donor.din in html
        and "P3" in html
        and "in production" in html
    )


def test_an_analyst_registers_a_donor_through_the_form_with_csrf(
    analyst: Any, client_for: Callable[..., Client]
) -> None:
    client = client_for(analyst)
    token = _csrf(client, "/genealogy/record/donor/")
    data = {
        "tissue_source": "BM",
        "collected_on": "2026-02-01",
        "facility": "W0001",
        "consent_date": "2026-01-30",
        "reason": "donation received",
        "csrfmiddlewaretoken": token,
    }
    response = client.post("/genealogy/record/donor/", data)
    assert response.status_code == 302
    donor = Donor.objects.get()
    assert response["Location"] == f"/genealogy/donors/{donor.din}/"
    assert donor.din == "W000126000001" and donor.consent_obtained
    assert client.get(response["Location"]).status_code == 200
    # Without the CSRF token the browser's post is refused.
    assert client.post("/genealogy/record/donor/", {**data, "csrfmiddlewaretoken": ""}).status_code == 403


def test_a_refused_use_case_shows_its_reason_on_the_form(
    analyst: Any, client_for: Callable[..., Client]
) -> None:
    client = client_for(analyst)
    token = _csrf(client, "/genealogy/record/donor/")
    response = client.post(
        "/genealogy/record/donor/",
        {
            "tissue_source": "AT",
            "collected_on": "2026-02-01",
            "din": "G123498654321K",
            "reason": "typo",
            "csrfmiddlewaretoken": token,
        },
    )
    assert response.status_code == 400
    assert "check character" in response.content.decode()
    assert not Donor.objects.exists()


def test_over_passage_conditioning_is_refused_in_the_web_form(
    analyst: Any, qa_user: Any, client_for: Callable[..., Client]
) -> None:
    lab = Lab(analyst, qa_user)
    approved_recipe(lab)
    p9 = grow(lab, isolate(lab, eligible_donor(lab), cells_seeded=1e5), 9)
    client = client_for(analyst)
    token = _csrf(client, f"/genealogy/record/run/?passage={p9.pk}")
    started = (p9.seeded_at + dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(
        "/genealogy/record/run/",
        {
            "passage": p9.pk,
            "recipe": "WJ-HPL",
            "product": "MSC-CM",
            "started_at": started,
            "confluence_percent": 80,
            "viable_cells_at_start": 1e7,
            "medium": "DMEM/F12 phenol-red-free",
            "medium_lot": "L",
            "volume_ml": 30,
            "planned_hours": 48,
            "o2_percent": 21,
            "reason": "try",
            "csrfmiddlewaretoken": token,
        },
    )
    assert response.status_code == 400
    assert "P9 is over the maximum passage P8" in response.content.decode()


def test_a_reviewer_reads_but_cannot_record(reviewer: Any, client_for: Callable[..., Client]) -> None:
    client = client_for(reviewer)
    assert client.get("/genealogy/").status_code == 200
    assert client.get("/genealogy/record/donor/").status_code == 403
    assert client_for(reviewer).get("/genealogy/record/nothing/").status_code == 403


def test_every_recording_form_renders_for_the_lab(analyst: Any, client_for: Callable[..., Client]) -> None:
    from secretome.web.genealogy import FORMS

    client = client_for(analyst)
    for kind in FORMS:
        assert client.get(f"/genealogy/record/{kind}/").status_code == 200, kind
    assert client.get("/genealogy/record/nothing/").status_code == 404


def test_the_api_lists_and_traces_lots(lot: Lot, analyst: Any, client_for: Callable[..., Client]) -> None:
    client = client_for(analyst)
    listed = client.get("/api/genealogy/lots", {"donor": lot.donor.din}).json()
    assert [row["number"] for row in listed] == [lot.number]
    trace = client.get(f"/api/genealogy/lots/{lot.number}/trace").json()
    assert trace["donor"]["din"] == lot.donor.din and len(trace["passages"]) == 4
    assert client.get(f"/api/genealogy/lots/{lot.number}/compliance").json()["compliant"] is True
    assert client.get("/api/genealogy/lots/NOPE/trace").status_code == 404
    assert client.get("/api/genealogy/lots", {"donor": "bad"}).status_code == 400
    assert Client().get("/api/genealogy/lots").status_code == 401
