"""The JSON API under ``/api/`` (django-ninja): session auth with CSRF for the browser, API tokens for scripts.

Routers of later contexts register themselves here; every route requires authentication.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest
from ninja import NinjaAPI, Schema, Status
from ninja.security import APIKeyHeader, HttpBearer, SessionAuth

from secretome import __version__
from secretome.domain.roles import AUDIT_READERS
from secretome.services import audit
from secretome.services.users import roles_of, user_for_token


class BearerToken(HttpBearer):
    """``Authorization: Bearer stm_...`` with a personal API token."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = user_for_token(token)
        if user is not None:
            request.user = user
        return user


class HeaderToken(APIKeyHeader):
    """``X-API-Key: stm_...`` for tools that cannot set a bearer header."""

    param_name = "X-API-Key"

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = user_for_token(key or "")
        if user is not None:
            request.user = user
        return user


api = NinjaAPI(
    title="Secretome API",
    version=__version__,
    auth=[SessionAuth(csrf=True), BearerToken(), HeaderToken()],
    urls_namespace="api",
    docs_decorator=login_required,
)


class Me(Schema):
    username: str
    roles: list[str]


@api.get("/me", response=Me, summary="The authenticated user and roles")
def me(request: HttpRequest) -> dict[str, Any]:
    return {"username": request.user.get_username(), "roles": sorted(r.value for r in roles_of(request.user))}


class ChainVerdict(Schema):
    intact: bool
    events_checked: int
    first_break: dict[str, Any] | None
    checkpoint: dict[str, Any] | None
    findings: list[dict[str, Any]]


@api.get("/audit/verify", response={200: ChainVerdict, 403: dict[str, str]}, summary="Verify the audit chain")
def audit_verify(request: HttpRequest) -> Any:
    if not roles_of(request.user) & AUDIT_READERS:
        return Status(403, {"detail": "the qa or admin role is needed to read the audit trail"})
    return audit.verify().to_dict()


@api.get("/audit/events", response={200: list[dict[str, Any]], 403: dict[str, str]}, summary="Audit events")
def audit_events(
    request: HttpRequest,
    object_type: str | None = None,
    object_id: str | None = None,
    actor: str | None = None,
    limit: int = 200,
) -> Any:
    if not roles_of(request.user) & AUDIT_READERS:
        return Status(403, {"detail": "the qa or admin role is needed to read the audit trail"})
    return [e.to_dict() for e in audit.events(object_type, object_id, actor, limit)]


from secretome.web.api_genealogy import router as genealogy_router  # noqa: E402

api.add_router("/genealogy", genealogy_router)

from secretome.web.api_release import router as release_router  # noqa: E402

api.add_router("/release", release_router)
