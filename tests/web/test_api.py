"""The JSON API: session auth with CSRF, personal tokens for scripts, an OpenAPI schema."""

from __future__ import annotations

import json
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


def test_the_openapi_schema_lists_the_refusals_and_field_limits(
    analyst: Any, client_for: Callable[..., Client]
) -> None:
    schema = client_for(analyst).get("/api/openapi.json").json()
    results = schema["paths"]["/api/release/lots/{number}/results"]["post"]
    assert {"400", "401", "403", "422"} <= set(results["responses"])
    assert results["responses"]["422"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ValidationFailed"
    }
    body = schema["components"]["schemas"]["ResultIn"]["properties"]
    assert body["reason"]["maxLength"] == 2000 and body["attribute"]["maxLength"] == 40
    sign = schema["components"]["schemas"]["SignIn"]["properties"]
    assert (
        sign["expected_sha256"]["pattern"] == "^[0-9a-f]{64}$"
        and "expected_sha256" in schema["components"]["schemas"]["SignIn"]["required"]
    )
    # Even an operation without parameters refuses a query string holding NUL (secretome.web.nul).
    assert "NUL" in schema["paths"]["/api/me"]["get"]["responses"]["422"]["description"]


def test_a_field_beyond_its_limit_gets_422_naming_it_and_bad_json_gets_400(analyst: Any) -> None:
    from secretome.services.users import create_api_token

    auth = {"Authorization": f"Bearer {create_api_token(analyst, 'test', 'script')}"}
    too_long = {"attribute": "cd73", "value": "1", "reason": "r" * 2001}
    response = Client().post(
        "/api/release/lots/X/results", too_long, content_type="application/json", headers=auth
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == "reason"
    broken = Client().post(
        "/api/release/lots/X/results", "{not json", content_type="application/json", headers=auth
    )
    assert broken.status_code == 400 and "detail" in broken.json()


def test_an_audit_event_limit_beyond_the_range_gets_422_not_a_server_error(qa_user: Any) -> None:
    from secretome.services.users import create_api_token

    auth = {"Authorization": f"Bearer {create_api_token(qa_user, 'test', 'script')}"}
    # A limit past 64 bits made SQLite fail ("datatype mismatch") with a 500, found by the fuzz pass.
    assert Client().get(f"/api/audit/events?limit={2**70}", headers=auth).status_code == 422
    assert Client().get("/api/audit/events?limit=0", headers=auth).status_code == 422
    assert Client().get("/api/audit/events?limit=5", headers=auth).status_code == 200


def test_the_api_filters_audit_events_as_the_review_page_does(
    qa_user: Any, analyst: Any, client_for: Callable[..., Client]
) -> None:
    client = client_for(qa_user)
    (event,) = client.get("/api/audit/events", {"record": "user:an", "action": "create"}).json()
    assert event["object_id"] == "ana" and event["diff"][0] == {
        "path": "active",
        "before": None,
        "after": "true",
        "change": "added",
    }
    assert client.get("/api/audit/events", {"until": "2000-01-01"}).json() == []
    assert client.get("/api/audit/events", {"since": "soon"}).status_code == 400


def test_each_response_code_appears_once_in_the_served_schema(
    qa_user: Any, client_for: Callable[..., Client]
) -> None:
    raw = client_for(qa_user).get("/api/openapi.json").content.decode()

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in pairs]
        assert len(keys) == len(set(keys)), keys
        return dict(pairs)

    schema = json.loads(raw, object_pairs_hook=no_duplicates)
    assert set(schema["paths"]["/api/audit/events"]["get"]["responses"]) == {
        "200",
        "400",
        "401",
        "403",
        "414",
        "422",
    }
