"""The release pages and API: QC page, sign dialog with password, spec editor, certificate download."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from secretome.db.quality.models import Signature
from secretome.services import certificates, release
from tests.integration.release_support import (
    PASSWORD,
    PRODUCT,
    approved_specification,
    conforming_results,
    lot_in_qc_review,
    make_lot,
)

pytestmark = pytest.mark.django_db


def _csrf(client: Client, url: str) -> str:
    page = client.get(url)
    assert page.status_code == 200, (url, page.status_code)
    match = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.content)
    assert match, url
    return match.group(1).decode()


@pytest.fixture
def submitted(qa_user: Any, analyst: Any) -> Any:
    return lot_in_qc_review(qa_user, analyst)


def test_the_qc_page_shows_results_verdicts_and_the_sign_dialog(
    submitted: Any, reviewer: Any, client_for: Callable[..., Client]
) -> None:
    page = client_for(reviewer).get(f"/release/lots/{submitted.number}/")
    assert page.status_code == 200
    text = page.content.decode()
    for expected in ["CD73 positive", "98.6 %", "conforms", "QC review", "Sign…", 'type="password"']:
        assert expected in text, expected


def test_a_reviewer_signs_through_the_dialog_with_the_password(
    submitted: Any, reviewer: Any, client_for: Callable[..., Client]
) -> None:
    client = client_for(reviewer)
    url = f"/release/lots/{submitted.number}/"
    form = {
        "csrfmiddlewaretoken": _csrf(client, url),
        "meaning": "reviewed",
        "reason": "QC data reviewed",
        "record_sha256": release.qc_record_sha256(submitted),
    }
    refused = client.post(url + "sign/", {**form, "password": "wrong-password"}, follow=True)
    assert b"signature refused" in refused.content
    assert not Signature.objects.filter(record_type="lot").exists()
    signed = client.post(url + "sign/", {**form, "password": PASSWORD}, follow=True)
    assert b"signed as reviewed" in signed.content
    assert release.state_of(submitted).value == "QA disposition"


def test_a_sign_form_for_another_lot_is_refused(
    submitted: Any, analyst: Any, reviewer: Any, client_for: Callable[..., Client]
) -> None:
    other = make_lot(analyst)
    conforming_results(analyst, other.number)
    release.transition(analyst, "submit", other.number, "submit for review")
    client = client_for(reviewer)
    url = f"/release/lots/{other.number}/"
    response = client.post(
        url + "sign/",
        {
            "csrfmiddlewaretoken": _csrf(client, url),
            "meaning": "reviewed",
            "reason": "replay",
            "password": PASSWORD,
            "record_sha256": release.qc_record_sha256(submitted),
        },
        follow=True,
    )
    assert b"signature refused" in response.content
    assert release.state_of(other).value == "QC review"


def test_posting_without_csrf_is_refused(
    submitted: Any, reviewer: Any, client_for: Callable[..., Client]
) -> None:
    response = client_for(reviewer).post(
        f"/release/lots/{submitted.number}/sign/",
        {"meaning": "reviewed", "reason": "x", "password": PASSWORD},
    )
    assert response.status_code == 403


def test_an_analyst_cannot_reach_the_specification_editor_or_sign(
    submitted: Any, analyst: Any, client_for: Callable[..., Client]
) -> None:
    client = client_for(analyst)
    assert client.get("/release/specifications/").status_code == 403
    assert "Sign…" not in client.get(f"/release/lots/{submitted.number}/").content.decode()


def test_qa_edits_a_draft_and_approves_it_with_a_signature(
    qa_user: Any, client_for: Callable[..., Client]
) -> None:
    approved_specification(qa_user)
    client = client_for(qa_user)
    token = _csrf(client, "/release/specifications/")
    client.post(
        "/release/specifications/new/", {"csrfmiddlewaretoken": token, "product": PRODUCT, "reason": "v2"}
    )
    url = f"/release/specifications/{PRODUCT}/2/"
    token = _csrf(client, url)
    client.post(
        url + "attribute/",
        {
            "csrfmiddlewaretoken": token,
            "code": "ph",
            "name": "pH",
            "method": "Potentiometry",
            "kind": "range",
            "lower": "7.0",
            "upper": "7.6",
            "decimals": "1",
            "release_test": "on",
            "reason": "add pH",
        },
    )
    spec = release.get_specification(PRODUCT, 2)
    assert spec.attributes.filter(code="ph").exists()
    approved = client.post(
        url + "approve/",
        {
            "csrfmiddlewaretoken": token,
            "reason": "approve v2",
            "password": PASSWORD,
            "record_sha256": release.specification_sha256(spec),
        },
        follow=True,
    )
    assert b"approved and signed" in approved.content
    assert release.get_specification(PRODUCT).version == 2


def test_the_certificate_page_and_pdf_download(
    submitted: Any, reviewer: Any, qa_user: Any, client_for: Callable[..., Client]
) -> None:
    release.sign_lot(
        reviewer,
        "review",
        submitted.number,
        "reviewed",
        PASSWORD,
        expected_sha256=release.qc_record_sha256(release.get_lot(submitted.number)),
    )
    release.sign_lot(
        qa_user,
        "release",
        submitted.number,
        "released",
        PASSWORD,
        expected_sha256=release.qc_record_sha256(release.get_lot(submitted.number)),
    )
    client = client_for(qa_user)
    url = f"/release/lots/{submitted.number}/"
    issued = client.post(
        url + "certificate/issue/", {"csrfmiddlewaretoken": _csrf(client, url), "reason": "CoA"}, follow=True
    )
    assert b"issued" in issued.content
    page = client.get(url + "certificate/")
    assert page.status_code == 200 and b"Certificate of Analysis" in page.content
    pdf = client.get(url + "certificate.pdf")
    assert pdf["Content-Type"] == "application/pdf"
    assert certificates.verify_certificate(pdf.content)["current"] is True


def test_the_api_reports_status_and_verifies_a_certificate(
    submitted: Any, reviewer: Any, qa_user: Any, client_for: Callable[..., Client]
) -> None:
    from secretome.services.users import create_api_token

    token = create_api_token(reviewer, "script", "ci")
    headers = {"Authorization": f"Bearer {token}"}
    client = Client()
    status = client.get(f"/api/release/lots/{submitted.number}", headers=headers).json()
    assert status["state"] == "QC review"
    wrong = client.post(
        f"/api/release/lots/{submitted.number}/sign",
        {"meaning": "reviewed", "reason": "r", "password": "nope-nope-nope"},
        content_type="application/json",
        headers=headers,
    )
    # The record hash is required: a signature request without it is not even checked for the password.
    assert wrong.status_code == 422
    wrong = client.post(
        f"/api/release/lots/{submitted.number}/sign",
        {
            "meaning": "reviewed",
            "reason": "r",
            "password": "nope-nope-nope",
            "expected_sha256": status["record_sha256"],
        },
        content_type="application/json",
        headers=headers,
    )
    assert wrong.status_code == 403
    ok = client.post(
        f"/api/release/lots/{submitted.number}/sign",
        {
            "meaning": "reviewed",
            "reason": "r",
            "password": PASSWORD,
            "expected_sha256": status["record_sha256"],
        },
        content_type="application/json",
        headers=headers,
    )
    assert ok.status_code == 200 and ok.json()["state"] == "QA disposition"
    release.sign_lot(
        qa_user,
        "release",
        submitted.number,
        "released",
        PASSWORD,
        expected_sha256=release.qc_record_sha256(release.get_lot(submitted.number)),
    )
    certificate = certificates.issue_certificate(qa_user, "CoA", submitted.number)
    pdf = certificates.certificate_pdf(certificate)
    verdict = client.post(
        "/api/release/certificates/verify",
        {"pdf_base64": base64.b64encode(pdf[:-10] + b"0000000000").decode()},
        content_type="application/json",
        headers=headers,
    ).json()
    assert verdict["genuine"] is False
    assert client.get("/api/release/lots/NOPE", headers=headers).status_code == 404


def test_the_result_form_is_offered_only_while_the_lot_takes_results(
    qa_user: Any, analyst: Any, reviewer: Any, client_for: Callable[..., Client]
) -> None:
    approved_specification(qa_user)
    lot = make_lot(analyst)
    conforming_results(analyst, lot.number)
    url = f"/release/lots/{lot.number}/"
    assert "Enter a result" in client_for(analyst).get(url).content.decode()
    release.transition(analyst, "submit", lot.number, "submit for review")
    assert "Enter a result" not in client_for(reviewer).get(url).content.decode()
    assert "Enter a result" not in client_for(analyst).get(url).content.decode()
