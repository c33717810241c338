"""The Python API reaches the same services as the other entry points."""

from __future__ import annotations

from typing import Any

import pytest

import secretome.api as stm

pytestmark = pytest.mark.django_db


def test_services_are_reachable_as_attributes(admin_user: Any) -> None:
    assert stm.open_site() is not None
    assert stm.audit.verify().intact
    assert [u.get_username() for u in stm.users.all_users()] == ["root-admin"]


def test_an_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_thing"):
        _ = stm.no_such_thing
