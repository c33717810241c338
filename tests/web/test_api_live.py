"""The write API through a real HTTP server: a personal token writes without CSRF, a session cookie does not.

Django's test client skips CSRF checks unless told otherwise, which hid that every token POST was refused;
these tests go through ``live_server`` and ``urllib`` like a script would.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from http.cookiejar import CookieJar
from typing import Any

import pytest

from tests.conftest import PASSWORD
from tests.integration.release_support import approved_specification, make_lot

pytestmark = pytest.mark.django_db(transaction=True)


def _call(
    url: str, body: Any = None, headers: dict[str, str] | None = None, opener: Any = None
) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, headers={"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with (opener or urllib.request.build_opener()).open(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


@pytest.fixture
def lot(qa_user: Any, analyst: Any) -> Any:
    approved_specification(qa_user)
    return make_lot(analyst)


def test_a_token_records_a_result_through_a_real_server(live_server: Any, analyst: Any, lot: Any) -> None:
    from secretome.services.users import create_api_token

    token = create_api_token(analyst, "test", "script")
    status, body = _call(
        f"{live_server.url}/api/release/lots/{lot.number}/results",
        {"attribute": "cd73", "value": "98.2", "reason": "flow run 12"},
        {"Authorization": f"Bearer {token}"},
    )
    assert status == 201, body
    assert body["verdict"] == "conforms"
    status, body = _call(
        f"{live_server.url}/api/release/lots/{lot.number}/results",
        {"attribute": "sterility", "value": "complies", "reason": "day 14 read"},
        {"X-API-Key": token},
    )
    assert status == 201, body


def test_a_session_write_without_the_csrf_token_is_refused(
    live_server: Any, analyst: Any, lot: Any, settings: Any
) -> None:
    # The cookies are Secure by default and urllib keeps them off plain HTTP, as a browser would.
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(f"{live_server.url}/login/", timeout=30) as page:
        page.read()
    csrf = next(str(c.value) for c in jar if c.name == "csrftoken")
    form = urllib.parse.urlencode({"username": "ana", "password": PASSWORD, "csrfmiddlewaretoken": csrf})
    with opener.open(
        urllib.request.Request(
            f"{live_server.url}/login/", data=form.encode(), headers={"Referer": live_server.url}
        ),
        timeout=30,
    ) as response:
        response.read()
    url = f"{live_server.url}/api/release/lots/{lot.number}/results"
    result = {"attribute": "cd73", "value": "98.2", "reason": "flow run 12"}
    assert _call(f"{live_server.url}/api/me", opener=opener) == (
        200,
        {"username": "ana", "roles": ["analyst"]},
    )
    status, body = _call(url, result, opener=opener)
    assert status == 403 and "CSRF" in body["detail"]
    csrf = next(str(c.value) for c in jar if c.name == "csrftoken")
    status, body = _call(url, result, {"X-CSRFToken": csrf, "Referer": live_server.url}, opener=opener)
    assert status == 201, body


def test_a_wrong_token_gets_401_not_a_csrf_refusal(live_server: Any, lot: Any) -> None:
    status, _ = _call(
        f"{live_server.url}/api/release/lots/{lot.number}/results",
        {"attribute": "cd73", "value": "98.2", "reason": "r"},
        {"Authorization": "Bearer stm_not-a-token"},
    )
    assert status == 401
