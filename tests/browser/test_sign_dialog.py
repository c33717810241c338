"""A reviewer signs a lot in QC review through the sign dialog: a wrong password is refused and records
nothing; the right one records the signature, shown with printed name, UTC time and meaning (21 CFR 11.50)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.browser.support import log_in, screenshots
from tests.integration.release_support import lot_in_qc_review

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def lot_in_review(qa_user: Any, analyst: Any) -> Any:
    return lot_in_qc_review(qa_user, analyst)


def _sign(page: Any, reason: str, password: str) -> None:
    page.click("summary:has-text('Sign…')")
    page.fill("form[action$='/sign/'] input[name=reason]", reason)
    page.fill("form[action$='/sign/'] input[name=password]", password)
    page.click("form[action$='/sign/'] button:has-text('Sign')")
    page.wait_for_load_state()


def test_a_reviewer_is_refused_with_a_wrong_password_then_signs_and_sees_the_manifestation(
    live_server: Any, reviewer: Any, lot_in_review: Any, page: Any
) -> None:
    from secretome.db.quality.models import Signature
    from tests.conftest import PASSWORD

    base = live_server.url
    log_in(page, base, "rey")
    page.goto(f"{base}/release/lots/{lot_in_review.number}/")
    assert "QC review" in page.locator(".card strong").first.inner_text()
    page.click("summary:has-text('Sign…')")
    assert page.locator("form[action$='/sign/'] select[name=meaning]").input_value() == "reviewed"
    page.click("summary:has-text('Sign…')")  # closed again; _sign opens it

    _sign(page, "QC review", "not-my-password")
    refusal = page.locator(".card p.bad")
    assert "signature refused: wrong password for rey" in refusal.inner_text()
    assert Signature.objects.filter(signer=reviewer).count() == 0
    assert page.locator("td", has_text="No signatures.").is_visible()

    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    _sign(page, "QC review complete", PASSWORD)
    after = dt.datetime.now(dt.UTC)
    assert "signed as reviewed" in page.locator(".card p.ok").first.inner_text()
    [signature] = Signature.objects.filter(signer=reviewer)
    assert (signature.meaning, signature.record_id) == ("reviewed", lot_in_review.number)

    row = page.locator("h2:has-text('Signatures') + table tbody tr").first
    cells = row.locator("td").all_inner_texts()
    meaning, printed_name, signed_at = cells[0], cells[1], cells[2]
    assert meaning == "reviewed"
    assert printed_name == "Rey Reviewer (rey)"
    assert page.locator("h2:has-text('Signatures') + table th", has_text="Signed (UTC)").is_visible()
    shown = dt.datetime.strptime(signed_at, "%Y-%m-%d %H:%M:%S").replace(tzinfo=dt.UTC)
    assert before <= shown <= after, "the time shown is the signing time in UTC"
    page.screenshot(path=str(screenshots() / "lot_signed.png"), full_page=True)
