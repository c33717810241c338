"""Trending pages: the trend page with its Plotly figure, the capability summary, QA approval of limits,
the comparisons by factor, fingerprint comparability and the out-of-trend note of a lot page."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from secretome.services import release
from tests.integration.release_support import PRODUCT, make_lot
from tests.integration.test_trending import POTENCY, _attributes

pytestmark = pytest.mark.django_db


@pytest.fixture
def lots(qa_user: Any, analyst: Any) -> list[Any]:
    from tests.integration.release_support import approved_specification

    approved_specification(qa_user, _attributes())
    made = []
    for i, value in enumerate(POTENCY):
        lot = make_lot(analyst, passage_number=3 + i % 3, tissue="UC-WJ" if i % 2 else "BM")
        release.add_result(analyst, "QC result", lot.number, "potency", str(value))
        release.add_result(analyst, "QC result", lot.number, "vegf", str(1000 + (0, 80, -40, 40)[i % 4]))
        made.append(lot)
    return made


def _figure(html: str) -> dict[str, Any]:
    match = re.search(r'<script type="application/json" id="figure-data">(.*?)</script>', html, re.S)
    assert match, "no figure on the page"
    figure: dict[str, Any] = json.loads(match.group(1))
    return figure


def test_trend_page_draws_points_coloured_by_rule_with_limits_and_hover_facts(
    lots: list[Any], analyst: Any, client_for: Callable[..., Client]
) -> None:
    page = client_for(analyst).get(f"/trending/{PRODUCT}/potency/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "plotly-4.1.1.min.js" in html and "cdn" not in html.lower()
    assert "provisional" in html and "Specification limits from history" in html and "Shapiro-Wilk" in html
    figure = _figure(html)
    points = figure["data"][0]
    assert points["x"] == list(range(1, 13))
    assert points["customdata"][0][:4] == [lots[0].number, lots[0].donor.din, "BM", 3]
    # provisional limits from all 12 lots: lot 11 beyond 3 sigma (Nelson 1), lots 9-10 end nine below the CL
    colours = points["marker"]["color"]
    assert (colours[0], colours[8], colours[10]) == ("#1f77b4", "#9467bd", "#d62728")
    names = " ".join(trace["name"] for trace in figure["data"][1:])
    assert "UCL" in names and "LCL" in names and "zone plus_2" in names
    assert 'data-lot-url="/release/lots/LOT/"' in html


def test_qa_approves_limits_on_the_trend_page_and_a_rule_fires(
    lots: list[Any], qa_user: Any, analyst: Any, client_for: Callable[..., Client]
) -> None:
    client = client_for(qa_user)
    url = f"/trending/{PRODUCT}/potency/"
    page = client.get(url)
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.content)
    assert token
    response = client.post(
        f"{url}limits/",
        {
            "csrfmiddlewaretoken": token.group(1).decode(),
            "baseline_n": "8",
            "reason": "first 8 lots in control",
        },
    )
    assert response.status_code == 302
    html = client.get(url).content.decode()
    assert "approved by quinn" in html and "nelson 1" in html
    points = _figure(html)["data"][0]
    assert points["marker"]["color"][10] == "#d62728"  # Nelson 1 colour on lot 11
    # an analyst cannot approve limits
    analyst_client = client_for(analyst)
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', analyst_client.get(url).content)
    assert token
    denied = analyst_client.post(
        f"{url}limits/", {"csrfmiddlewaretoken": token.group(1).decode(), "baseline_n": "4", "reason": "x"}
    )
    assert denied.status_code == 403


def test_lot_pages_load_the_out_of_trend_note(
    lots: list[Any], qa_user: Any, reviewer: Any, client_for: Callable[..., Client]
) -> None:
    from secretome.services import trending

    trending.approve_limits(qa_user, "limits", PRODUCT, "potency", baseline_n=8)
    client = client_for(reviewer)
    flagged = lots[10].number
    assert f"/trending/lots/{flagged}/signals/" in client.get(f"/release/lots/{flagged}/").content.decode()
    assert f"/trending/lots/{flagged}/signals/" in client.get(f"/lots/{flagged}/").content.decode()
    note = client.get(f"/trending/lots/{flagged}/signals/").content.decode()
    assert "Out of trend" in note and "not a rejection" in note and "nelson 1" in note
    assert "Out of trend" not in client.get(f"/trending/lots/{lots[0].number}/signals/").content.decode()


def test_capability_summary_lists_the_attributes_with_cpk(
    lots: list[Any], analyst: Any, client_for: Callable[..., Client]
) -> None:
    html = client_for(analyst).get("/trending/").content.decode()
    assert "Relative potency" in html and "VEGF-A" in html
    assert f"/trending/{PRODUCT}/potency/" in html


def test_factor_page_compares_tissue_sources(
    lots: list[Any], analyst: Any, client_for: Callable[..., Client]
) -> None:
    page = client_for(analyst).get(f"/trending/{PRODUCT}/potency/factor/", {"factor": "tissue source"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "One-way ANOVA" in html and "Tukey" in html
    assert {trace["name"] for trace in _figure(html)["data"]} == {"BM", "UC-WJ"}


def test_fingerprint_page_compares_later_lots_with_the_first(
    lots: list[Any], analyst: Any, client_for: Callable[..., Client]
) -> None:
    page = client_for(analyst).get(
        f"/trending/{PRODUCT}/fingerprint/", {"analyte": ["potency", "vegf"], "reference": "9"}
    )
    assert page.status_code == 200
    html = page.content.decode()
    assert "Hotelling" in html
    assert [trace["name"] for trace in _figure(html)["data"]] == ["reference lots", "new lots"]
