"""Account pages: lockout by address at the login page, the admin's unlock page, the expired-password page."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from secretome.db.accounts.models import PasswordChange
from secretome.db.core.models import AuditEvent
from secretome.services import accounts
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def _try_login(address: str, password: str) -> Any:
    client = Client(REMOTE_ADDR=address)
    return client, client.post("/login/", {"username": "ana", "password": password})


def test_five_wrong_passwords_from_another_address_leave_the_owner_able_to_log_in(analyst: Any) -> None:
    for _ in range(5):
        _try_login("198.51.100.7", "wrong-wrong-wrong")
    locked = _try_login("198.51.100.7", PASSWORD)[1]
    assert locked.status_code == 429 and b"Account locked" in locked.content and b"0:30:00" in locked.content
    client, response = _try_login("10.0.0.2", PASSWORD)
    assert response.status_code == 302 and client.get("/").status_code == 200


def test_the_admin_sees_lockouts_and_unlocks_with_a_reason(
    analyst: Any, admin_user: Any, client_for: Callable[..., Client]
) -> None:
    for _ in range(5):
        _try_login("198.51.100.7", "wrong-wrong-wrong")
    admin = client_for(admin_user)
    page = admin.get("/accounts/")
    assert page.status_code == 200 and b"198.51.100.7" in page.content and b"Unlock" in page.content
    token = admin.cookies["csrftoken"].value
    assert admin.post("/accounts/ana/unlock/", {"reason": ""}, HTTP_X_CSRFTOKEN=token).status_code == 302
    assert accounts.is_locked("ana")  # no reason, no unlock
    response = admin.post("/accounts/ana/unlock/", {"reason": "confirmed by phone"}, HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 302 and not accounts.is_locked("ana")
    assert AuditEvent.objects.get(action="unlock", object_id="ana").reason == "confirmed by phone"
    assert _try_login("198.51.100.7", PASSWORD)[1].status_code == 302


def test_only_an_admin_reaches_the_accounts_page(analyst: Any, client_for: Callable[..., Client]) -> None:
    client = client_for(analyst)
    assert client.get("/accounts/").status_code == 403
    assert client.post("/accounts/ana/unlock/", {"reason": "me"}).status_code == 403


def test_an_expired_password_sends_the_user_to_the_password_page_until_changed(
    analyst: Any, client_for: Callable[..., Client]
) -> None:
    PasswordChange.objects.filter(user=analyst).update(changed_at=timezone.now() - dt.timedelta(days=400))
    client = client_for(analyst)
    response = client.get("/release/lots/")
    assert response.status_code == 302 and response["Location"] == "/account/password/"
    assert client.get("/api/me").status_code == 403
    page = client.get("/account/password/")
    assert page.status_code == 200 and b"has expired" in page.content
    token = client.cookies["csrftoken"].value
    form = {
        "current_password": PASSWORD,
        "new_password": "a-fresh-long-password",
        "new_password_again": "a-fresh-long-password",
        "reason": "password expired",
    }
    wrong = client.post("/account/password/", {**form, "current_password": "nope"}, HTTP_X_CSRFTOKEN=token)
    assert wrong.status_code == 400 and b"wrong current password" in wrong.content
    assert client.post("/account/password/", form, HTTP_X_CSRFTOKEN=token).status_code == 302
    assert client.get("/release/lots/").status_code == 200  # the session survives the change
    assert AuditEvent.objects.filter(action="change password", object_id="ana").count() == 1
