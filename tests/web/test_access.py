"""Every page and API route refuses anonymous users; roles decide who sees the audit trail and the admin."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

pytestmark = pytest.mark.django_db

PUBLIC = {"login/", "static/"}


def _routes(patterns: list[Any], prefix: str = "") -> Iterator[str]:
    for p in patterns:
        route = prefix + str(p.pattern)
        if isinstance(p, URLResolver):
            if route.startswith("admin/"):
                yield "admin/"
                continue
            yield from _routes(p.url_patterns, route)
        elif isinstance(p, URLPattern):
            yield route


def _concrete(route: str) -> str:
    # Fill path converters with a plausible value: anonymous users must be refused before lookup.
    import re

    return "/" + re.sub(r"<(?:\w+:)?\w+>", "1", route).replace("^", "").replace("$", "")


ALL_ROUTES = sorted({_concrete(r) for r in _routes(get_resolver().url_patterns) if r not in PUBLIC})


def test_the_route_list_covers_pages_and_api() -> None:
    assert "/" in ALL_ROUTES and "/audit/" in ALL_ROUTES and "/api/me" in ALL_ROUTES


@pytest.mark.parametrize("route", ALL_ROUTES)
def test_every_route_refuses_an_anonymous_user(route: str) -> None:
    response = Client().get(route)
    if route.startswith("/api/"):
        assert response.status_code in (302, 401, 404, 405), route
    else:
        assert response.status_code in (302, 404, 405), route
    if response.status_code == 302:
        assert "/login/" in response["Location"]


def test_an_analyst_cannot_reach_the_audit_log_or_the_admin(
    analyst: Any, client_for: Callable[..., Client]
) -> None:
    client = client_for(analyst)
    assert client.get("/audit/").status_code == 403
    assert client.get("/audit/verify/").status_code == 403
    assert client.get("/admin/").status_code in (302, 403)
    assert client.get("/api/audit/events").status_code == 403


def test_qa_reads_the_audit_log_and_verifies_the_chain(
    qa_user: Any, client_for: Callable[..., Client]
) -> None:
    client = client_for(qa_user)
    page = client.get("/audit/")
    assert page.status_code == 200 and b"Audit trail" in page.content and b"quinn" in page.content
    verdict = client.get("/audit/verify/", HTTP_HX_REQUEST="true")
    assert b"Intact" in verdict.content


def test_the_admin_role_reaches_the_read_only_admin(
    admin_user: Any, client_for: Callable[..., Client]
) -> None:
    client = client_for(admin_user)
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/core/auditevent/add/").status_code == 403


def test_login_page_logs_in_and_logout_needs_csrf(analyst: Any) -> None:
    from tests.conftest import PASSWORD

    client = Client(enforce_csrf_checks=True)
    page = client.get("/login/")
    token = page.cookies["csrftoken"].value
    response = client.post("/login/", {"username": "ana", "password": PASSWORD, "csrfmiddlewaretoken": token})
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").status_code == 200
    assert client.post("/logout/").status_code == 403  # no CSRF token
    assert (
        client.post("/logout/", {"csrfmiddlewaretoken": client.cookies["csrftoken"].value}).status_code == 302
    )
    assert client.get("/").status_code == 302


def test_repeated_failed_logins_lock_the_account(analyst: Any) -> None:
    from tests.conftest import PASSWORD

    client = Client()
    for _ in range(5):
        client.post("/login/", {"username": "ana", "password": "wrong"})
    response = client.post("/login/", {"username": "ana", "password": PASSWORD})
    assert response.status_code in (403, 429)


def test_the_home_page_serves_htmx_from_the_package(analyst: Any, client_for: Callable[..., Client]) -> None:
    html = client_for(analyst).get("/").content.decode()
    assert "/static/secretome/vendor/htmx-2.0.11.min.js" in html
    assert "https://" not in html
