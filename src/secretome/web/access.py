"""Role checks for views: a view names the roles it serves, and everyone else gets 403."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.http.response import HttpResponseBase

from secretome.domain.roles import Role
from secretome.services.users import roles_of

View = Callable[..., HttpResponseBase]


def role_required(*allowed: Role) -> Callable[[View], View]:
    """Allow the view only to users holding one of ``allowed`` (login is already required site-wide)."""

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not roles_of(request.user) & set(allowed):
                raise PermissionDenied("your role does not give access to this page")
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
