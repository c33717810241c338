"""Account security: lockout by username and address with a cool-off, the audit of every failed password,
lockout and unlock, unlocking by an admin, tokens of locked accounts, password expiry (21 CFR 11.300)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.test import RequestFactory, override_settings
from django.utils import timezone

from secretome.db.accounts.models import PasswordChange
from secretome.db.core.models import AuditEvent
from secretome.services import accounts, users
from secretome.services.errors import Forbidden, ServiceError
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def _fail(username: str, address: str, times: int, purpose: str = accounts.LOGIN) -> None:
    from django.contrib.auth import authenticate

    for _ in range(times):
        request = RequestFactory().post("/login/", REMOTE_ADDR=address)
        request.META[accounts.PURPOSE_KEY] = purpose
        assert authenticate(request, username=username, password="not-the-password") is None


def _login(username: str, address: str, password: str = PASSWORD) -> Any:
    from django.contrib.auth import authenticate

    return authenticate(
        RequestFactory().post("/login/", REMOTE_ADDR=address), username=username, password=password
    )


def _events(action: str, username: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action, object_type="user", object_id=username))


def test_wrong_passwords_from_one_address_lock_that_address_only(analyst: Any) -> None:
    _fail("ana", "203.0.113.9", 5)
    assert _login("ana", "203.0.113.9") is None  # the guesser's address is locked out, right password or not
    assert _login("ana", "10.1.2.3") == analyst  # the lab's own address is not
    assert accounts.is_locked("ana")
    assert [lock.address for lock in accounts.active_lockouts("ana")] == ["203.0.113.9"]


def test_a_lockout_ends_by_itself_after_the_cool_off(analyst: Any) -> None:
    _fail("ana", "203.0.113.9", 5)
    cool_off = accounts._cool_off()
    assert cool_off == dt.timedelta(minutes=30)
    AccessAttempt.objects.update(attempt_time=timezone.now() - cool_off - dt.timedelta(seconds=1))
    assert not accounts.is_locked("ana")
    assert _login("ana", "203.0.113.9") == analyst


def test_every_failed_login_and_the_lockout_are_on_the_audit_trail(analyst: Any) -> None:
    _fail("ana", "203.0.113.9", 6)
    failed = _events("login failed", "ana")
    assert len(failed) == 6
    assert failed[0].actor == accounts.UNAUTHENTICATED
    assert failed[0].after == {"address": "203.0.113.9", "purpose": "login", "failures": 1, "locked": False}
    assert failed[-1].after["locked"] is True
    (lock,) = _events("lock", "ana")  # written once, when the fifth failure locked the pair
    assert lock.actor == "system" and lock.after["address"] == "203.0.113.9" and lock.after["until"]
    assert lock.sequence == failed[4].sequence + 1


def test_a_failed_login_for_a_name_nobody_holds_does_not_reserve_that_name(admin_user: Any) -> None:
    _fail("newcomer", "203.0.113.9", 1)
    assert len(_events("login failed", "newcomer")) == 1
    users.add_user(
        admin_user, "joins", username="newcomer", full_name="New Comer", role="qa", password=PASSWORD
    )


def test_a_failed_signature_is_audited_as_a_refused_signature(reviewer: Any) -> None:
    from secretome.services.release import reauthenticate

    with pytest.raises(Forbidden, match="wrong password"):
        reauthenticate(reviewer, "guess-guess-guess")
    (event,) = _events("signature refused", "rey")
    assert event.actor == "rey" and event.after["purpose"] == "signature"
    assert not _events("login failed", "rey")


def test_only_an_admin_unlocks_with_a_reason_and_the_unlock_is_audited(analyst: Any, admin_user: Any) -> None:
    _fail("ana", "203.0.113.9", 5)
    with pytest.raises(Forbidden, match="admin"):
        accounts.unlock_user(analyst, "let me in", "ana")
    with pytest.raises(ServiceError, match="reason"):
        accounts.unlock_user(admin_user, " ", "ana")
    ended = accounts.unlock_user(admin_user, "identity confirmed by phone", "ana")
    assert [lock.address for lock in ended] == ["203.0.113.9"]
    assert not accounts.is_locked("ana") and not AccessAttempt.objects.filter(username="ana").exists()
    (event,) = _events("unlock", "ana")
    assert event.actor == "root-admin" and event.before["locked"] is True and event.after == {"locked": False}
    assert _login("ana", "203.0.113.9") == analyst
    with pytest.raises(ServiceError, match="not locked"):
        accounts.unlock_user(admin_user, "again", "ana")


def test_the_token_of_a_locked_or_inactive_account_is_refused(analyst: Any, admin_user: Any) -> None:
    token = users.create_api_token(analyst, "script", "nightly")
    assert users.user_for_token(token) == analyst
    _fail("ana", "203.0.113.9", 5)
    assert users.user_for_token(token) is None
    accounts.unlock_user(admin_user, "confirmed", "ana")
    assert users.user_for_token(token) == analyst
    users.deactivate_user(admin_user, "left", "ana")
    assert users.user_for_token(token) is None


@override_settings(PASSWORD_MAX_AGE_DAYS=90)
def test_a_password_expires_after_the_maximum_age(analyst: Any) -> None:
    set_at = accounts.password_set_at(analyst)
    assert accounts.password_expires_at(analyst) == set_at + dt.timedelta(days=90)
    assert not accounts.password_expired(analyst, now=set_at + dt.timedelta(days=89, hours=23))
    assert accounts.password_expired(analyst, now=set_at + dt.timedelta(days=90))


@override_settings(PASSWORD_MAX_AGE_DAYS=0)
def test_a_maximum_age_of_zero_turns_expiry_off(analyst: Any) -> None:
    assert accounts.password_expires_at(analyst) is None
    assert not accounts.password_expired(analyst, now=timezone.now() + dt.timedelta(days=3650))


def _age_password(user: Any, days: int) -> None:
    PasswordChange.objects.filter(user=user).update(changed_at=timezone.now() - dt.timedelta(days=days))


def test_an_expired_password_signs_nothing_until_it_is_changed(reviewer: Any) -> None:
    from secretome.services.release import reauthenticate

    _age_password(reviewer, 91)
    with pytest.raises(Forbidden, match="expired"):
        reauthenticate(reviewer, PASSWORD)
    with pytest.raises(Forbidden, match="wrong current password"):
        accounts.change_password(reviewer, "expired", "guess-guess-guess", "a-new-long-password")
    with pytest.raises(ServiceError, match="differ"):
        accounts.change_password(reviewer, "expired", PASSWORD, PASSWORD)
    expires = accounts.change_password(reviewer, "expired", PASSWORD, "a-new-long-password")
    assert expires is not None and expires > timezone.now() + dt.timedelta(days=89)
    reauthenticate(reviewer, "a-new-long-password")
    (event,) = _events("change password", "rey")
    assert event.actor == "rey" and "password" not in event.after_json.replace("password_set_at", "")


def test_a_password_reset_by_an_admin_must_be_changed_by_its_holder(analyst: Any, admin_user: Any) -> None:
    with pytest.raises(Forbidden):
        accounts.reset_password(analyst, "r", "root-admin", "a-temporary-password")
    accounts.reset_password(admin_user, "forgotten password", "ana", "a-temporary-password")
    analyst.refresh_from_db()
    assert accounts.password_expired(analyst)
    accounts.change_password(analyst, "first use", "a-temporary-password", "only-ana-knows-this")
    assert not accounts.password_expired(analyst)
    assert [e.action for e in AuditEvent.objects.filter(object_id="ana", object_type="user")][-2:] == [
        "reset password",
        "change password",
    ]
