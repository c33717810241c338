"""A person logs in with a real browser, sees the lot list, and QA verifies the audit chain with one click."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.support import log_in, screenshots

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_analyst_logs_in_and_sees_no_audit_link(live_server: Any, analyst: Any, page: Any) -> None:
    log_in(page, live_server.url, "ana")
    assert page.locator("h1").inner_text() == "Conditioned-medium lots"
    assert page.locator("a", has_text="Audit trail").count() == 0


def test_qa_verifies_the_audit_chain_through_htmx(live_server: Any, qa_user: Any, page: Any) -> None:
    log_in(page, live_server.url, "quinn")
    page.click("text=Audit trail")
    page.click("text=Verify the hash chain")
    page.wait_for_selector("#verdict .ok")
    assert "Intact" in page.locator("#verdict").inner_text()
    page.screenshot(path=str(screenshots() / "audit_log.png"), full_page=True)
