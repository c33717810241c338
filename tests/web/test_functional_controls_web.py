"""Assay-control pages of a functional potency method: the wound-healing method's control medium is listed
on the control index and the method list, and its chart page draws the runs with the shifted one flagged."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from tests.integration.test_functional_controls import METHOD, build_runs

pytestmark = pytest.mark.django_db


def test_the_control_medium_is_listed_and_charted(
    analyst: Any, qa_user: Any, client_for: Callable[..., Client]
) -> None:
    _, new = build_runs(analyst, qa_user)
    client = client_for(analyst)
    link = f'href="/trending/controls/{METHOD}/control/?analyte=wound%20closure%20at%2024%20h&amp;quantity=closure"'
    assert link in client.get("/trending/controls/").content.decode()
    assert f'href="/trending/controls/{METHOD}/"' in client.get("/analyses/methods/").content.decode()
    page = client.get(f"/trending/controls/{METHOD}/control/?quantity=closure&baseline=5")
    assert page.status_code == 200
    html = page.content.decode()
    assert "wound closure at 24 h" in html and "closure (%)" in html
    match = re.search(r'<script id="control-figure-data" type="application/json">(.*?)</script>', html, re.S)
    assert match, "no figure on the page"
    points = json.loads(match.group(1))["data"][0]
    assert points["x"] == [1, 2, 3, 4, 5, 6]
    assert points["y"] == pytest.approx([45.0, 44.0, 46.0, 45.5, 44.5, 58.0], rel=1e-9)
    # the sixth run (the control medium at 58 %) is beyond 3 SD: red (Nelson 1); the others plain
    assert points["marker"]["color"][5] == "#d62728" and points["marker"]["color"][0] == "#1f77b4"
    for run in new:
        assert f'href="/analyses/{run.number}/"' in html
