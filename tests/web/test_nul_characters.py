"""Text holding a NUL character is refused naming the field, never reaching PostgreSQL (which cannot store or
compare it) as a server error; raw instrument bytes are not text and still import."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def _token_headers(user: Any) -> dict[str, str]:
    from secretome.services.users import create_api_token

    return {"Authorization": f"Bearer {create_api_token(user, 'test', 'script')}"}


def test_an_api_query_parameter_holding_nul_gets_422_naming_it(qa_user: Any) -> None:
    response = Client().get("/api/genealogy/lots?bank=%C2%AA%00", headers=_token_headers(qa_user))
    assert response.status_code == 422
    assert response.json()["detail"] == [
        {
            "type": "string_nul_character",
            "loc": ["query", "bank"],
            "msg": "must not contain a NUL character (0x00)",
        }
    ]


def test_the_same_query_without_nul_is_answered(qa_user: Any) -> None:
    response = Client().get("/api/genealogy/lots?bank=%C2%AA", headers=_token_headers(qa_user))
    assert response.status_code in {200, 400}


def test_a_json_body_field_holding_nul_gets_422_with_its_path(analyst: Any) -> None:
    body = {"attribute": "cd73", "value": "1", "reason": "typed\x00in", "extra": [{"note": "a\x00"}]}
    response = Client().post(
        "/api/release/lots/X/results", body, content_type="application/json", headers=_token_headers(analyst)
    )
    assert response.status_code == 422
    assert [problem["loc"] for problem in response.json()["detail"]] == [
        ["body", "reason"],
        ["body", "extra", 0, "note"],
    ]


def test_a_path_holding_nul_gets_422(qa_user: Any) -> None:
    response = Client().get("/api/release/lots/CM%00-1", headers=_token_headers(qa_user))
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["path"]


def test_a_web_page_filtered_by_nul_gets_400_naming_the_parameter(
    qa_user: Any, client_for: Callable[..., Client]
) -> None:
    response = client_for(qa_user).get("/genealogy/?q=ok&donor=x%00")
    assert response.status_code == 400
    assert response.content.decode() == "query.donor: must not contain a NUL character (0x00)"


def test_a_form_field_holding_nul_gets_400(qa_user: Any, client_for: Callable[..., Client]) -> None:
    response = client_for(qa_user).post("/genealogy/", {"name": "a\x00b"})
    assert response.status_code == 400 and "form.name" in response.content.decode()


def test_a_json_body_that_does_not_parse_is_left_to_the_api(analyst: Any) -> None:
    response = Client().post(
        "/api/release/lots/X/results",
        "{\x00",
        content_type="application/json",
        headers=_token_headers(analyst),
    )
    assert response.status_code == 400


def test_a_multipart_body_that_does_not_parse_is_left_to_the_view(analyst: Any) -> None:
    response = Client().post(
        "/api/analyses/runs/0/exclude",
        b"--x\r\n",
        content_type="multipart/form-data",
        headers=_token_headers(analyst),
    )
    assert response.status_code in {400, 404, 422}
