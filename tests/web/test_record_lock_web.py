"""The locked record on the web: the certificate page of a quarantined lot is stamped SUSPENDED, never
RELEASED; the lot page says the record is locked and QA reopens it under a deviation."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from secretome.services import certificates, release
from secretome.services import genealogy as g
from tests.integration.release_support import released_lot

pytestmark = pytest.mark.django_db


def _csrf(client: Client, url: str) -> str:
    page = client.get(url)
    assert page.status_code == 200, (url, page.status_code)
    match = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.content)
    assert match, url
    return match.group(1).decode()


def _stamp(html: bytes) -> str:
    match = re.search(rb'<div class="disposition (\w+)">([^<]+)</div>', html)
    assert match, "no disposition stamp on the page"
    return match.group(2).decode()


@pytest.fixture
def released(qa_user: Any, analyst: Any, reviewer: Any) -> Any:
    lot = released_lot(qa_user, analyst, reviewer)
    certificates.issue_certificate(qa_user, "CoA", lot.number)
    return lot


def test_the_certificate_page_of_a_quarantined_lot_is_stamped_suspended(
    released: Any, qa_user: Any, client_for: Callable[..., Client]
) -> None:
    client = client_for(qa_user)
    url = f"/release/lots/{released.number}/certificate/"
    assert _stamp(client.get(url).content) == "released"

    release.transition(qa_user, "customer complaint", released.number, "quarantine")
    page = client.get(url)
    assert _stamp(page.content) == "suspended"
    assert b"This certificate is suspended" in page.content
    assert b"every release test complies" not in page.content
    lot_page = client.get(f"/release/lots/{released.number}/")
    assert b">suspended<" in lot_page.content and b"Record locked" in lot_page.content

    release.transition(qa_user, "complaint unfounded", released.number, "restore release")
    assert _stamp(client.get(url).content) == "released"


def test_qa_reopens_the_record_from_the_lot_page(
    released: Any, qa_user: Any, analyst: Any, client_for: Callable[..., Client]
) -> None:
    deviation = g.raise_deviation(
        analyst, "fix", kind="other", description="missing step", lot=released.number
    )
    g.decide_deviation(qa_user, "QA", number=deviation.number, decision="approved", note="ok")
    client = client_for(qa_user)
    url = f"/release/lots/{released.number}/"
    assert b"Reopen the record under a deviation" in client.get(url).content
    answer = client.post(
        url + "reopen/",
        {
            "csrfmiddlewaretoken": _csrf(client, url),
            "deviation": deviation.number,
            "reason": "record the step",
        },
        follow=True,
    )
    assert b"signatures voided" in answer.content
    assert b"Record locked" not in answer.content
    assert release.lot_status(release.get_lot(released.number))["record_version"] == 2
    certificate_page = client.get(url + "certificate/")
    assert _stamp(certificate_page.content) == "not current"


def test_an_analyst_is_not_offered_the_reopen_form(
    released: Any, analyst: Any, client_for: Callable[..., Client]
) -> None:
    page = client_for(analyst).get(f"/release/lots/{released.number}/")
    assert b"Record locked" in page.content
    assert b"Reopen the record" not in page.content


def test_the_api_reopens_a_record_under_an_approved_deviation_and_reports_the_lock(
    released: Any, qa_user: Any, analyst: Any
) -> None:
    from secretome.services.users import create_api_token

    headers = {"Authorization": f"Bearer {create_api_token(qa_user, 'script', 'ci')}"}
    client = Client()
    url = f"/api/release/lots/{released.number}"
    assert client.get(url, headers=headers).json()["locked"] is True
    deviation = g.raise_deviation(
        analyst, "fix", kind="other", description="missing step", lot=released.number
    )
    body = {"deviation": deviation.number, "reason": "record the step"}
    pending = client.post(url + "/reopen", body, content_type="application/json", headers=headers)
    assert pending.status_code == 409 and "no QA-approved deviation" in pending.json()["detail"]
    g.decide_deviation(qa_user, "QA", number=deviation.number, decision="approved", note="ok")
    reopened = client.post(url + "/reopen", body, content_type="application/json", headers=headers)
    assert reopened.status_code == 200 and reopened.json() == {"state": "QC testing"}
    status = client.get(url, headers=headers).json()
    assert status["locked"] is False and status["record_version"] == 2
