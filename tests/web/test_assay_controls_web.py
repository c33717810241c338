"""Assay-control pages: the Levey-Jennings chart of a QC sample (Plotly served locally, points coloured by
rule, mean and +/-1, 2, 3 SD, hover with run, date and plate file, each point linked to its run), the
method's and the trend index's links to it, and QA approval of the limits."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from secretome.db.controls.models import AssayControlLimits
from tests.integration.controls_support import METHOD, accepted_elisa_runs, elisa_method

pytestmark = pytest.mark.django_db


@pytest.fixture(name="runs")
def runs_fixture(analyst: Any, qa_user: Any) -> list[Any]:
    elisa_method(analyst, qa_user)
    return accepted_elisa_runs(analyst, 5, shifted={4: {"QC-high": 675.0}})


def _figure(html: str) -> dict[str, Any]:
    match = re.search(r'<script id="control-figure-data" type="application/json">(.*?)</script>', html, re.S)
    assert match, "no figure on the page"
    figure: dict[str, Any] = json.loads(match.group(1))
    return figure


def test_the_chart_page_draws_runs_coloured_by_rule_with_sd_lines_and_links_to_the_runs(
    runs: list[Any], analyst: Any, client_for: Callable[..., Client]
) -> None:
    page = client_for(analyst).get(f"/trending/controls/{METHOD}/QC-high/?baseline=4")
    assert page.status_code == 200
    html = page.content.decode()
    assert "plotly-4.1.1.min.js" in html and "cdn" not in html.lower()
    assert "baseline of the first 4 runs" in html
    figure = _figure(html)
    points = figure["data"][0]
    assert points["x"] == [1, 2, 3, 4, 5]
    first = points["customdata"][0]
    assert first[0] == runs[0].number and first[2] == "vegf-01.txt" and first[5] == runs[0].number
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", first[1])
    assert (
        "run %{customdata[0]}" in points["hovertemplate"]
        and "plate %{customdata[2]}" in points["hovertemplate"]
    )
    # the shifted fifth run is beyond 3 SD: red (Nelson 1); the others plain
    assert points["marker"]["color"][4] == "#d62728" and points["marker"]["color"][0] == "#1f77b4"
    names = [trace["name"] for trace in figure["data"][1:]]
    assert (
        len(names) == 7
        and any(n.startswith("mean") for n in names)
        and any(n.startswith("+3 SD") for n in names)
    )
    assert 'data-run-url="/analyses/RUN/"' in html
    for run in runs:
        assert f'href="/analyses/{run.number}/"' in html


def test_the_method_page_and_the_trend_index_link_to_the_controls(
    runs: list[Any], analyst: Any, client_for: Callable[..., Client]
) -> None:
    client = client_for(analyst)
    methods = client.get("/analyses/methods/").content.decode()
    assert f'href="/trending/controls/{METHOD}/"' in methods
    assert 'href="/trending/controls/"' in client.get("/trending/").content.decode()
    index = client.get("/trending/controls/").content.decode()
    assert f'href="/trending/controls/{METHOD}/QC-high/?analyte=VEGF-A&amp;quantity=recovery"' in index
    method_page = client.get(f"/trending/controls/{METHOD}/").content.decode()
    assert "QC-low" in method_page and "concentration" in method_page
    assert client.get("/trending/controls/NOPE/QC-high/").status_code == 404
    assert client.get(f"/trending/controls/{METHOD}/QC-mid/").status_code == 404


def test_qa_approves_limits_on_the_page_and_others_cannot(
    runs: list[Any], analyst: Any, qa_user: Any, client_for: Callable[..., Client]
) -> None:
    url = f"/trending/controls/{METHOD}/QC-high/limits/"
    form = {"baseline_n": "4", "reason": "first four plates", "analyte": "VEGF-A", "quantity": "recovery"}
    analyst_client = client_for(analyst)
    page = analyst_client.get(f"/trending/controls/{METHOD}/QC-high/").content.decode()
    assert "Approve limits" not in page
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token is not None  # the page's own form (sign out) carries one
    assert analyst_client.post(url, {**form, "csrfmiddlewaretoken": token.group(1)}).status_code == 403
    assert not AssayControlLimits.objects.exists()
    qa = client_for(qa_user)
    page = qa.get(f"/trending/controls/{METHOD}/QC-high/").content.decode()
    assert "Approve limits" in page
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token is not None
    response = qa.post(url, {**form, "csrfmiddlewaretoken": token.group(1)})
    assert response.status_code == 302
    limits = AssayControlLimits.objects.get()
    assert (limits.first_run, limits.baseline_n, limits.approved_by) == (runs[0].number, 4, qa_user)
    html = qa.get(response["Location"]).content.decode()
    assert "approved by quinn" in html and "in force" in html and "Re-baseline" in html
