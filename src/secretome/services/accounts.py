"""Account security: lockout and unlock, the audit of failed attempts, password expiry (21 CFR 11.300).

django-axes counts failed password attempts per (username, address) and locks that pair for a cool-off
period once ``AXES_FAILURE_LIMIT`` is reached. This module puts every failed attempt, every lockout and every
unlock on the audit trail, lets an admin end a lockout with a reason, and keeps the date each password was
set so that a password older than ``PASSWORD_MAX_AGE_DAYS`` must be replaced before the account acts again.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.models import AnonymousUser, User
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.test import RequestFactory
from django.utils import timezone

from secretome.db.accounts.models import PasswordChange
from secretome.domain.roles import Role
from secretome.services.audit import SYSTEM_ACTOR, actor_name, record_event, require_reason
from secretome.services.errors import Forbidden, ServiceError
from secretome.services.users import get_user, require_role

Actor = User | AnonymousUser | str

#: Where a request says what a password was asked for, so that the audit trail can tell a failed login
#: from a failed signature or a command-line ``--as``.
PURPOSE_KEY = "secretome.password_purpose"
LOGIN = "login"
SIGNATURE = "signature"
COMMAND_LINE = "command line"
PASSWORD_CHANGE = "password change"

#: The actor of events nobody authenticated for: a failed login names whom it claimed to be, not who it was.
UNAUTHENTICATED = "unauthenticated"

# The audit trail's record id column holds 128 characters; a guessed username may be anything.
_MAX_NAME = 128


def local_request(purpose: str, path: str = "/cli/") -> HttpRequest:
    """A request for password checks made outside the web (the command line, services): django-axes counts
    failures against a request, and these come from this machine."""
    request = RequestFactory().post(path, REMOTE_ADDR="127.0.0.1")
    request.META[PURPOSE_KEY] = purpose
    return request


def check_password_again(user: User, password: str, purpose: str, request: HttpRequest | None = None) -> bool:
    """Whether ``password`` is ``user``'s, checked through Django's ``authenticate`` so that a failure counts
    towards the lockout and is audited. Must run outside any transaction that may be rolled back."""
    request = request or local_request(purpose)
    request.META[PURPOSE_KEY] = purpose
    found = authenticate(request, username=user.get_username(), password=password)
    return found is not None and found.pk == user.pk


# --- lockout -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lockout:
    """One (username, address) pair locked after repeated failed password attempts."""

    username: str
    address: str
    failures: int
    last_attempt: dt.datetime
    until: dt.datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "username": self.username,
            "address": self.address,
            "failures": self.failures,
            "last_attempt": _iso(self.last_attempt),
            "until": None if self.until is None else _iso(self.until),
        }


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _cool_off() -> dt.timedelta | None:
    value = settings.AXES_COOLOFF_TIME
    if value is None:
        return None
    if isinstance(value, dt.timedelta):
        return value
    return dt.timedelta(hours=float(value))


def failure_limit() -> int:
    return int(settings.AXES_FAILURE_LIMIT)


def active_lockouts(username: str | None = None, now: dt.datetime | None = None) -> list[Lockout]:
    """Lockouts in force now, for one username or all, newest first."""
    now = now or timezone.now()
    cool_off = _cool_off()
    query = AccessAttempt.objects.filter(failures_since_start__gte=failure_limit())
    if username is not None:
        query = query.filter(username=username)
    if cool_off is not None:
        query = query.filter(attempt_time__gt=now - cool_off)
    return [
        Lockout(
            username=attempt.username or "",
            address=attempt.ip_address or "",
            failures=attempt.failures_since_start,
            last_attempt=attempt.attempt_time,
            until=None if cool_off is None else attempt.attempt_time + cool_off,
        )
        for attempt in query.order_by("-attempt_time")
    ]


def is_locked(username: str) -> bool:
    """True while any address is locked out of ``username``."""
    return bool(active_lockouts(username))


@transaction.atomic
def unlock_user(actor: Actor, reason: str, username: str) -> list[Lockout]:
    """End every lockout of ``username`` (an admin, with a reason) and return the lockouts ended."""
    require_role(actor, Role.ADMIN)
    require_reason(reason)
    get_user(username)
    ended = active_lockouts(username)
    if not ended:
        raise ServiceError(f"user {username!r} is not locked")
    # Failures below the limit go too: an unlocked account starts counting afresh.
    AccessAttempt.objects.filter(username=username).delete()
    record_event(
        actor,
        "unlock",
        "user",
        username,
        reason,
        {"locked": True, "lockouts": [lock.to_dict() for lock in ended]},
        {"locked": False},
    )
    return ended


def record_failed_attempt(
    sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any
) -> None:
    """Receiver of Django's ``user_login_failed``: audit the failure and, when it locked the account, the lockout.

    django-axes has already counted the failure (its receiver was connected first), so the request carries
    its verdict: ``axes_failures_since_start`` and ``axes_locked_out``.
    """
    username = str(credentials.get("username") or "").replace("\x00", "")[:_MAX_NAME]
    if not username:
        return
    purpose = LOGIN
    address = ""
    failures = None
    locked = False
    if isinstance(request, HttpRequest):
        purpose = str(request.META.get(PURPOSE_KEY, LOGIN))
        address = str(getattr(request, "axes_ip_address", None) or request.META.get("REMOTE_ADDR") or "")
        failures = getattr(request, "axes_failures_since_start", None)
        locked = bool(getattr(request, "axes_locked_out", False))
    details = {"address": address, "purpose": purpose, "failures": failures, "locked": locked}
    action = "signature refused" if purpose == SIGNATURE else "login failed"
    actor = username if purpose == SIGNATURE and _exists(username) else UNAUTHENTICATED
    with transaction.atomic():
        record_event(
            actor, action, "user", username, f"wrong password or locked account ({purpose})", None, details
        )
        # The lockout is written once, when the failure that reached the limit locked the pair; later refusals
        # during the lockout are failed attempts like any other.
        if locked and failures == failure_limit():
            cool_off = _cool_off()
            record_event(
                SYSTEM_ACTOR,
                "lock",
                "user",
                username,
                f"{failures} failed password attempts from {address or 'an unknown address'}",
                {"locked": False},
                {
                    "locked": True,
                    "address": address,
                    "until": None if cool_off is None else _iso(timezone.now() + cool_off),
                },
            )


def _exists(username: str) -> bool:
    return User.objects.filter(username=username).exists()


def connect_receivers() -> None:
    """Connect the audit of failed attempts (called once, when the web app is ready)."""
    user_login_failed.connect(record_failed_attempt, dispatch_uid="secretome.audit_failed_attempt")


# --- password expiry -------------------------------------------------------------------------------------


def max_age() -> dt.timedelta | None:
    """How long a password stays valid, or None when expiry is off."""
    days = int(getattr(settings, "PASSWORD_MAX_AGE_DAYS", 0))
    return dt.timedelta(days=days) if days > 0 else None


def _latest_change(user: User) -> PasswordChange | None:
    return PasswordChange.objects.filter(user=user).order_by("-changed_at", "-pk").first()


def password_set_at(user: User) -> dt.datetime:
    """When the password in force was set (the account's creation for accounts older than this record)."""
    latest = _latest_change(user)
    return latest.changed_at if latest is not None else user.date_joined


def password_expires_at(user: User) -> dt.datetime | None:
    """When the password in force expires; None when expiry is off."""
    age = max_age()
    return None if age is None else password_set_at(user) + age


def password_expired(user: User, now: dt.datetime | None = None) -> bool:
    """True when ``user`` must set a new password before acting: it is too old, or an admin set it."""
    if not user.is_authenticated:
        return False
    latest = _latest_change(user)
    if latest is not None and latest.must_change:
        return True
    expires = password_expires_at(user)
    return expires is not None and (now or timezone.now()) >= expires


def require_current_password(user: User) -> None:
    """Refuse an account whose password has expired (for the command line and signing)."""
    if password_expired(user):
        raise Forbidden(
            f"the password of {user.get_username()} has expired (21 CFR 11.300(b)); set a new one first: "
            f"secretome user password --as {user.get_username()}, or on the web"
        )


def record_password_set(user: User, by: str, *, must_change: bool = False) -> PasswordChange:
    """Note that ``user``'s password was set now (inside the use case's transaction)."""
    return PasswordChange.objects.create(
        user=user, changed_at=timezone.now(), changed_by=by, must_change=must_change
    )


def _set_password(user: User, new_password: str) -> None:
    if user.check_password(new_password):
        raise ServiceError("new password: must differ from the current one")
    try:
        validate_password(new_password, user)
    except ValidationError as exc:
        raise ServiceError("new password: " + " ".join(exc.messages)) from None
    user.set_password(new_password)
    user.save(update_fields=["password"])


def change_password(
    user: User,
    reason: str,
    current_password: str,
    new_password: str,
    request: HttpRequest | None = None,
) -> dt.datetime | None:
    """``user`` replaces their own password, giving the current one again. Returns the new expiry.

    The current password is checked outside the transaction, so a wrong one counts towards the lockout.
    """
    require_reason(reason)
    if not user.is_authenticated or not user.is_active:
        raise Forbidden("log in first")
    if not check_password_again(user, current_password, PASSWORD_CHANGE, request):
        raise Forbidden(f"wrong current password for {user.get_username()}, or the account is locked")
    with transaction.atomic():
        before = _iso(password_set_at(user))
        _set_password(user, new_password)
        record_password_set(user, user.get_username())
        expires = password_expires_at(user)
        record_event(
            user,
            "change password",
            "user",
            user.get_username(),
            reason,
            {"password_set_at": before},
            {"password_set_at": _iso(password_set_at(user)), "expires_at": expires and _iso(expires)},
        )
    return expires


@transaction.atomic
def reset_password(actor: Actor, reason: str, username: str, new_password: str) -> None:
    """An admin gives ``username`` a temporary password, which its holder must replace at the next use."""
    require_role(actor, Role.ADMIN)
    require_reason(reason)
    user = get_user(username)
    if isinstance(actor, User) and actor.pk == user.pk:
        raise ServiceError("username: change your own password with your current one, not by a reset")
    before = _iso(password_set_at(user))
    _set_password(user, new_password)
    record_password_set(user, actor_name(actor), must_change=True)
    record_event(
        actor,
        "reset password",
        "user",
        username,
        reason,
        {"password_set_at": before},
        {"password_set_at": _iso(password_set_at(user)), "must_change": True},
    )
