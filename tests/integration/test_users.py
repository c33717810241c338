"""Accounts: one person, one account, one role; only an admin adds users after the first."""

from __future__ import annotations

from typing import Any

import pytest

from secretome.domain.roles import Role
from secretome.services import users
from secretome.services.audit import SYSTEM_ACTOR
from secretome.services.errors import Forbidden, ServiceError

pytestmark = pytest.mark.django_db


def test_the_first_admin_is_created_by_the_system_and_audited() -> None:
    admin = users.add_user(
        SYSTEM_ACTOR, "bootstrap", username="boss", full_name="B. Oss", role="admin", password="p" * 12
    )
    assert users.roles_of(admin) == {Role.ADMIN}
    from secretome.db.core.models import AuditEvent

    event = AuditEvent.objects.get(object_type="user", object_id="boss")
    assert event.actor == "system" and event.after["role"] == "admin"


def test_once_an_admin_exists_the_system_cannot_add_users(admin_user: Any) -> None:
    with pytest.raises(Forbidden):
        users.add_user(SYSTEM_ACTOR, "sneaky", username="x", full_name="X", role="qa", password="p" * 12)


def test_an_analyst_cannot_add_users(analyst: Any) -> None:
    with pytest.raises(Forbidden, match="admin role"):
        users.add_user(analyst, "r", username="y", full_name="Y", role="qa", password="p" * 12)


def test_a_username_is_never_reused_even_after_deactivation(admin_user: Any, analyst: Any) -> None:
    users.deactivate_user(admin_user, "left the company", "ana")
    with pytest.raises(ServiceError, match="never reused"):
        users.add_user(
            admin_user, "r", username="ana", full_name="Another Ana", role="analyst", password="p" * 12
        )
    assert users.roles_of(users.get_user("ana")) == frozenset()


def test_api_tokens_are_stored_hashed_and_resolve_to_their_user(analyst: Any) -> None:
    token = users.create_api_token(analyst, "script", "nightly")
    from secretome.db.core.models import ApiToken

    stored = ApiToken.objects.get(user=analyst)
    assert token not in (stored.token_hash, stored.prefix) and len(stored.token_hash) == 64
    assert users.user_for_token(token) == analyst
    assert users.user_for_token(token + "x") is None


def test_the_system_can_only_create_an_admin_as_the_first_account() -> None:
    with pytest.raises(Forbidden, match="first account must be an admin"):
        users.add_user(SYSTEM_ACTOR, "bootstrap", username="q", full_name="Q", role="qa", password="p" * 12)
    assert users.all_users() == []
