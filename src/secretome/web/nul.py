"""Refuse text holding a NUL character before it reaches a view.

PostgreSQL cannot store or even compare a text containing NUL (0x00): a query filtered by such a value fails
inside the database driver, which would surface as a server error on PostgreSQL while SQLite answers. No field
of the lab's records can hold one, so the request is refused up front, naming the parameter: 422 on the JSON
API (in the shape of django-ninja's validation errors), 400 on the web pages. Django's own form fields refuse
NUL too (``ProhibitNullCharactersValidator``); this covers query strings, paths and JSON bodies, which reach
views without a form.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.http.multipartparser import MultiPartParserError

NUL = "\x00"
_MESSAGE = "must not contain a NUL character (0x00)"


def _nul_locations(value: Any, location: tuple[str | int, ...]) -> Iterator[tuple[str | int, ...]]:
    """Where in a parsed JSON value a string (or an object key) holds NUL."""
    if isinstance(value, str):
        if NUL in value:
            yield location
    elif isinstance(value, dict):
        for key, member in value.items():
            if NUL in str(key):
                yield (*location, str(key))
            yield from _nul_locations(member, (*location, str(key)))
    elif isinstance(value, list):
        for index, member in enumerate(value):
            yield from _nul_locations(member, (*location, index))


def nul_problems(request: HttpRequest) -> list[tuple[str | int, ...]]:
    """The locations (``("path",)``, ``("query", name)``, ``("body", field, ...)``) of a request that hold NUL.

    A JSON body that does not parse is left to the API, which refuses it with its own 400.
    """
    problems: list[tuple[str | int, ...]] = []
    if NUL in request.path_info:
        problems.append(("path",))
    for name, values in request.GET.lists():
        if NUL in name or any(NUL in value for value in values):
            problems.append(("query", name))
    if request.method in {"POST", "PUT", "PATCH"}:
        content_type = request.content_type or ""
        # JSON can only carry NUL escaped (a raw control character does not parse), so a body without the
        # escape is not parsed here a second time.
        if content_type == "application/json" and b"\\u0000" in (request.body or b""):
            try:
                body = json.loads(request.body)
            except (ValueError, UnicodeDecodeError):
                body = None
            problems.extend(_nul_locations(body, ("body",)))
        elif content_type in {"application/x-www-form-urlencoded", "multipart/form-data"}:
            # Text fields only: an uploaded file's bytes are raw data and may hold anything. A body that
            # does not parse is left to the view, which refuses it as it would without this check.
            try:
                fields = list(request.POST.lists())
            except MultiPartParserError:
                fields = []
            for name, values in fields:
                if NUL in name or any(NUL in value for value in values):
                    problems.append(("form", name))
    return problems


class RefuseNulMiddleware:
    """Answer a request whose path, query string or text fields hold NUL with a refusal naming the field."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        problems = nul_problems(request)
        if not problems:
            return self.get_response(request)
        if request.path_info.startswith("/api/"):
            return JsonResponse(
                {
                    "detail": [
                        {"type": "string_nul_character", "loc": list(location), "msg": _MESSAGE}
                        for location in problems
                    ]
                },
                status=422,
            )
        named = ", ".join(".".join(str(part) for part in location) for location in problems)
        return HttpResponseBadRequest(f"{named}: {_MESSAGE}", content_type="text/plain; charset=utf-8")
