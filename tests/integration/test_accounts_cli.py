"""``secretome user unlock`` and ``secretome user password``, and the refusal of an expired password at ``--as``."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import authenticate
from django.test import RequestFactory
from django.utils import timezone

from secretome.db.accounts.models import PasswordChange
from secretome.db.core.models import AuditEvent
from secretome.services import accounts
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def _lock_out(username: str) -> None:
    for _ in range(5):
        authenticate(
            RequestFactory().post("/login/", REMOTE_ADDR="192.0.2.1"), username=username, password="x"
        )


def test_user_unlock_ends_the_lockout_as_an_admin_with_a_reason(
    run_cli: Callable[..., Any], analyst: Any, admin_user: Any
) -> None:
    _lock_out("ana")
    listed = {row["username"]: row for row in json.loads(run_cli("user", "list", "--json").stdout)}
    assert (
        listed["ana"]["locked"] is True
        and listed["rey" if "rey" in listed else "root-admin"]["locked"] is False
    )
    refused = run_cli(
        "user", "unlock", "ana", "--reason", "me", "--as", "ana", "--password-stdin", input=PASSWORD
    )
    assert refused.exit_code == 2 and "admin" in refused.stderr
    done = run_cli(
        "user",
        "unlock",
        "ana",
        "--reason",
        "confirmed",
        "--as",
        "root-admin",
        "--password-stdin",
        "--json",
        input=PASSWORD + "\n",
    )
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["unlocked"][0]["address"] == "192.0.2.1"
    assert not accounts.is_locked("ana")
    again = run_cli(
        "user",
        "unlock",
        "ana",
        "--reason",
        "again",
        "--as",
        "root-admin",
        "--password-stdin",
        input=PASSWORD + "\n",
    )
    assert again.exit_code == 2 and "not locked" in again.stderr


def test_an_expired_password_is_refused_at_as_until_user_password_sets_a_new_one(
    run_cli: Callable[..., Any], analyst: Any
) -> None:
    PasswordChange.objects.filter(user=analyst).update(changed_at=timezone.now() - dt.timedelta(days=365))
    refused = run_cli(
        "user", "token", "--as", "ana", input=PASSWORD + "\n", env={"SECRETOME_PASSWORD": PASSWORD}
    )
    assert (
        refused.exit_code == 2 and "expired" in refused.stderr and "secretome user password" in refused.stderr
    )
    changed = run_cli(
        "user", "password", "--as", "ana", "--password-stdin", input=f"{PASSWORD}\na-new-long-one-1\n"
    )
    assert changed.exit_code == 0, changed.output
    ok = run_cli("user", "token", "--as", "ana", env={"SECRETOME_PASSWORD": "a-new-long-one-1"})
    assert ok.exit_code == 0, ok.output
    assert AuditEvent.objects.filter(action="change password", object_id="ana").count() == 1


def test_an_admin_resets_a_password_that_its_holder_must_change(
    run_cli: Callable[..., Any], analyst: Any, admin_user: Any
) -> None:
    reset = run_cli(
        "user",
        "password",
        "ana",
        "--as",
        "root-admin",
        "--password-stdin",
        "--reason",
        "forgotten",
        input=f"{PASSWORD}\ntemporary-password-1\n",
    )
    assert reset.exit_code == 0, reset.output
    refused = run_cli("user", "token", "--as", "ana", env={"SECRETOME_PASSWORD": "temporary-password-1"})
    assert refused.exit_code == 2 and "expired" in refused.stderr
