"""The JSON API: session auth with CSRF, personal tokens for scripts, an OpenAPI schema."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_a_token_authenticates_a_script(analyst: Any) -> None:
    from secretome.services.users import create_api_token

    token = create_api_token(analyst, "test", "script")
    response = Client().get("/api/me", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200 and response.json() == {"username": "ana", "roles": ["analyst"]}
    assert Client().get("/api/me", HTTP_X_API_KEY=token).status_code == 200
    assert Client().get("/api/me", HTTP_AUTHORIZATION="Bearer stm_wrong").status_code == 401


def test_a_session_reads_the_api(qa_user: Any, client_for: Callable[..., Client]) -> None:
    client = client_for(qa_user)
    assert client.get("/api/audit/verify").json()["intact"] is True
    events = client.get("/api/audit/events?object_type=user").json()
    assert any(e["object_id"] == "quinn" for e in events)


def test_the_openapi_schema_is_served_to_logged_in_users(
    analyst: Any, client_for: Callable[..., Client]
) -> None:
    schema = client_for(analyst).get("/api/openapi.json")
    assert schema.status_code == 200 and "/api/me" in schema.json()["paths"]
