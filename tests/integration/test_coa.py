"""Certificates of analysis: issued for released lots only, PDF/A-3b with embedded JSON, verified."""

from __future__ import annotations

import io
import json
import re
import stat
from typing import Any

import pytest
from pypdf import PdfReader

from secretome.services import certificates, durable, release
from secretome.services.errors import Forbidden, GuardFailed
from tests.integration.release_support import PASSWORD, approved_specification, conforming_results, make_lot

pytestmark = pytest.mark.django_db


@pytest.fixture
def released_lot(qa_user: Any, analyst: Any, reviewer: Any) -> Any:
    approved_specification(qa_user)
    lot = make_lot(analyst)
    conforming_results(analyst, lot.number)
    release.transition(analyst, "submit", lot.number, "submit for review")
    release.sign_lot(
        reviewer,
        "review",
        lot.number,
        "reviewed",
        PASSWORD,
        expected_sha256=release.qc_record_sha256(release.get_lot(lot.number)),
    )
    release.sign_lot(
        qa_user,
        "release",
        lot.number,
        "released",
        PASSWORD,
        expected_sha256=release.qc_record_sha256(release.get_lot(lot.number)),
    )
    return lot


@pytest.fixture
def issued(released_lot: Any, qa_user: Any) -> tuple[Any, bytes]:
    certificate = certificates.issue_certificate(qa_user, "CoA for shipment", released_lot.number)
    return certificate, certificates.certificate_pdf(certificate)


def test_a_certificate_is_a_pdf_a_3b_with_its_json_embedded(issued: tuple[Any, bytes]) -> None:
    certificate, pdf = issued
    assert pdf.startswith(b"%PDF-")
    xmp = PdfReader(io.BytesIO(pdf)).xmp_metadata
    assert xmp is not None
    metadata = xmp.stream.get_data().decode("utf-8")
    assert re.search(r"pdfaid:part[^0-9]{0,3}3", metadata), metadata
    assert re.search(r"pdfaid:conformance[^A-Z]{0,3}B", metadata), metadata
    embedded = json.loads(certificates.embedded_json(pdf) or "null")
    assert embedded["certificate"] == certificate.number
    assert embedded["lot"] == certificate.lot.number
    assert {s["meaning"] for s in embedded["signatures"]} == {"reviewed", "released"}
    assert [a["verdict"] for a in embedded["attributes"] if a["release_test"]] == ["conforms"] * 4


def test_an_issued_pdf_is_stored_read_only_and_no_partial_write_remains(issued: tuple[Any, bytes]) -> None:
    certificate, _ = issued
    directory = certificates.certificates_directory()
    assert stat.S_IMODE((directory / certificate.file_name).stat().st_mode) == 0o444
    assert not [p.name for p in directory.iterdir() if p.name.startswith(durable.TEMPORARY_PREFIX)]


def test_the_certificate_shows_genealogy_results_and_signatures(released_lot: Any, qa_user: Any) -> None:
    content = certificates.preview_content(released_lot.number, qa_user)
    html = certificates.render_html(content, [], for_pdf=False)
    for text in [
        "Certificate of Analysis",
        released_lot.number,
        "P4",
        "CD73 positive",
        "98.6 %",
        "No growth",
        "Quinn QA",
        "Rey Reviewer",
        "Released",
        "Reviewed",
    ]:
        assert text in html, text


def test_a_genuine_current_certificate_verifies(issued: tuple[Any, bytes]) -> None:
    certificate, pdf = issued
    verdict = certificates.verify_certificate(pdf)
    assert (verdict["genuine"], verdict["current"], verdict["certificate"]) == (
        True,
        True,
        certificate.number,
    )


def test_a_copy_with_one_byte_changed_is_rejected(issued: tuple[Any, bytes]) -> None:
    _, pdf = issued
    middle = len(pdf) // 2
    altered = pdf[:middle] + bytes([pdf[middle] ^ 0x01]) + pdf[middle + 1 :]
    verdict = certificates.verify_certificate(altered)
    assert verdict["genuine"] is False and verdict["current"] is False
    assert "changed after issue" in verdict["reasons"][0]


def test_a_certificate_of_a_lot_quarantined_later_is_genuine_but_not_current(
    issued: tuple[Any, bytes], qa_user: Any
) -> None:
    certificate, pdf = issued
    release.transition(qa_user, "customer complaint", certificate.lot.number, "quarantine")
    verdict = certificates.verify_certificate(pdf)
    assert verdict["genuine"] is True and verdict["current"] is False
    assert "quarantined" in " ".join(verdict["reasons"])


def test_a_reissued_certificate_supersedes_the_first(issued: tuple[Any, bytes], qa_user: Any) -> None:
    first, pdf = issued
    second = certificates.issue_certificate(qa_user, "reissue", first.lot.number)
    assert second.supersedes == first
    assert "superseded" in " ".join(certificates.verify_certificate(pdf)["reasons"])
    assert certificates.verify_certificate(certificates.certificate_pdf(second))["current"] is True


def test_no_certificate_before_release(qa_user: Any, analyst: Any) -> None:
    approved_specification(qa_user)
    lot = make_lot(analyst)
    with pytest.raises(GuardFailed, match="released lots"):
        certificates.issue_certificate(qa_user, "too early", lot.number)


def test_only_qa_issues_certificates(released_lot: Any, analyst: Any) -> None:
    with pytest.raises(Forbidden):
        certificates.issue_certificate(analyst, "x", released_lot.number)
