"""The JSON API under ``/api/`` (django-ninja): session auth with CSRF for the browser, API tokens for scripts.

A token is checked before the session, and a token request needs no CSRF token: CSRF abuses credentials a
browser sends by itself (the session cookie), and a browser never adds an ``Authorization`` or ``X-API-Key``
header to a cross-site request by itself. A request that authenticates with the session cookie is checked for
CSRF as before. Routers of later contexts register themselves here; every route requires authentication.
"""

from __future__ import annotations

from typing import Annotated, Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest
from ninja import Field, NinjaAPI, Schema, Status
from ninja.security import APIKeyHeader, HttpBearer, SessionAuth

from secretome import __version__
from secretome.domain.roles import AUDIT_READERS
from secretome.services import audit, audit_review
from secretome.services.errors import ServiceError
from secretome.services.users import roles_of, user_for_token


class BearerToken(HttpBearer):
    """``Authorization: Bearer stm_...`` with a personal API token."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = user_for_token(token)
        if user is not None:
            request.user = user
        return user


class SessionWithCsrf(SessionAuth):
    """The browser session, with Django's CSRF check, tried only when a session user is present.

    ninja's ``SessionAuth`` checks CSRF before looking at the session, and its refusal ends the search for a
    credential; first among the methods it refused every token request, and after them it would answer
    "CSRF check failed" to a wrong token instead of 401.
    """

    def __call__(self, request: HttpRequest) -> Any:
        if not request.user.is_authenticated:
            return None
        return super().__call__(request)


class HeaderToken(APIKeyHeader):
    """``X-API-Key: stm_...`` for tools that cannot set a bearer header."""

    param_name = "X-API-Key"

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = user_for_token(key or "")
        if user is not None:
            request.user = user
        return user


class Detail(Schema):
    """A refusal, in one line."""

    detail: str


class FieldProblem(Schema):
    """One field that failed validation (pydantic's error, as django-ninja returns it)."""

    type: str
    loc: list[str | int]
    msg: str


class ValidationFailed(Schema):
    """422: the request does not match the operation's parameters or body schema."""

    detail: list[FieldProblem]


_BODY_METHODS = {"post", "put", "patch"}


class SecretomeApi(NinjaAPI):
    """The API, whose OpenAPI schema also lists the refusals that come from django-ninja itself rather than from
    the operations: 401 without a valid credential, 400 for a body that is not JSON, 422 for parameters or a
    body that break the schema (types, lengths, patterns) or hold a NUL character, 403 for a session write without its CSRF token, and
    414 for a request line longer than the server reads."""

    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ) -> Any:
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in (Detail, FieldProblem, ValidationFailed):
            components[model.__name__] = model.model_json_schema(ref_template="#/components/schemas/{model}")
        detail = {"application/json": {"schema": {"$ref": "#/components/schemas/Detail"}}}
        failed = {"application/json": {"schema": {"$ref": "#/components/schemas/ValidationFailed"}}}
        for methods in schema.get("paths", {}).values():
            for method, operation in methods.items():
                # django-ninja keys its own responses by int; JSON keys are strings, so one kind only.
                responses = {str(code): answer for code, answer in operation.get("responses", {}).items()}
                operation["responses"] = responses
                added: dict[str, tuple[str, dict[str, Any]]] = {"401": ("No valid token or session.", detail)}
                # Any text holding a NUL character is refused with 422 before the operation runs
                # (secretome.web.nul), so every operation can answer it.
                added["422"] = ("A parameter or body field breaks the schema, or holds NUL.", failed)
                if operation.get("parameters"):
                    # gunicorn answers this itself, in HTML, before the request reaches the site.
                    responses.setdefault(
                        "414",
                        {"description": "The request line is longer than the server reads (4094 bytes)."},
                    )
                if method in _BODY_METHODS:
                    added["400"] = ("The body is not valid JSON, or the request was refused.", detail)
                    added["403"] = (
                        "Refused: the role does not allow it, or a session write lacks CSRF.",
                        detail,
                    )
                for code, (description, content) in added.items():
                    responses.setdefault(code, {"description": description, "content": content})
        return schema


api = SecretomeApi(
    title="Secretome API",
    version=__version__,
    auth=[BearerToken(), HeaderToken(), SessionWithCsrf(csrf=True)],
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


_FILTER = Field(max_length=200)


@api.get(
    "/audit/events",
    response={200: list[dict[str, Any]], 400: Detail, 403: Detail},
    summary="Audit events, filtered as on the review page, each with its before/after diff",
)
def audit_events(
    request: HttpRequest,
    object_type: Annotated[str | None, _FILTER] = None,
    object_id: Annotated[str | None, _FILTER] = None,
    actor: Annotated[str | None, _FILTER] = None,
    action: Annotated[str | None, _FILTER] = None,
    record: Annotated[
        str | None,
        Field(max_length=200, description="Part of a record id, or TYPE:ID; children included."),
    ] = None,
    since: Annotated[str | None, Field(max_length=40, description="UTC date or ISO time, inclusive.")] = None,
    until: Annotated[
        str | None, Field(max_length=40, description="UTC date (whole day) or ISO time.")
    ] = None,
    limit: Annotated[int, Field(ge=1, le=10_000, description="Only the newest N events.")] = 200,
) -> Any:
    if not roles_of(request.user) & AUDIT_READERS:
        return Status(403, {"detail": "the qa or admin role is needed to read the audit trail"})
    try:
        query = audit_review.AuditQuery(
            since=audit_review.parse_moment(since, "since"),
            until=audit_review.parse_moment(until, "until", end=True),
            action=_clean(action),
            actor=_clean(actor),
            record=_clean(record),
            object_type=_clean(object_type),
            object_id=_clean(object_id),
        )
    except ServiceError as exc:
        return Status(400, {"detail": str(exc)})
    newest = list(audit_review.search(query).reverse()[:limit])
    return [audit_review.event_dict(e) for e in reversed(newest)]


def _clean(value: str | None) -> str:
    # PostgreSQL text cannot hold NUL; no record, user or action contains one.
    return (value or "").replace("\x00", "").strip()


from secretome.web.api_genealogy import router as genealogy_router  # noqa: E402

api.add_router("/genealogy", genealogy_router)

from secretome.web.api_release import router as release_router  # noqa: E402

api.add_router("/release", release_router)

from secretome.web.api_analyses import imports_router  # noqa: E402
from secretome.web.api_analyses import router as analyses_router  # noqa: E402

api.add_router("/analyses", analyses_router)
api.add_router("/imports", imports_router)
