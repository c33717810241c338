"""Account pages: setting a new password (also once it has expired) and, for admins, lockouts and unlocks."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from secretome.domain.roles import Role
from secretome.services import accounts, users
from secretome.services.errors import ServiceError
from secretome.web.access import role_required

# Pages a user whose password has expired may still reach: the page that sets a new one, and the way out.
_OPEN_WHEN_EXPIRED = ("password_change", "logout", "login")


class PasswordExpiryMiddleware:
    """Send a signed-in user whose password has expired to the password page before anything else
    (21 CFR 11.300(b)). API calls with the session get 403 instead of a redirect; tokens are not passwords."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if isinstance(user, User) and accounts.password_expired(user):
            path = request.path_info
            open_paths = {reverse(name) for name in _OPEN_WHEN_EXPIRED}
            if path not in open_paths and not path.startswith("/static/"):
                if path.startswith("/api/"):
                    return JsonResponse(
                        {
                            "detail": "your password has expired: set a new one at "
                            + reverse("password_change")
                        },
                        status=403,
                    )
                return redirect("password_change")
        return self.get_response(request)


def password_change(request: HttpRequest) -> HttpResponse:
    """Set a new password, giving the current one again."""
    user = request.user
    assert isinstance(user, User)  # login is required site-wide
    expired = accounts.password_expired(user)
    error = ""
    if request.method == "POST":
        new = request.POST.get("new_password", "")
        if new != request.POST.get("new_password_again", ""):
            error = "The two new passwords differ."
        else:
            try:
                accounts.change_password(
                    user,
                    request.POST.get("reason", "") or "password change",
                    request.POST.get("current_password", ""),
                    new,
                    request,
                )
            except ServiceError as exc:
                error = str(exc)
            else:
                # Keep this session: changing the password logs out every other session of the account.
                update_session_auth_hash(request, user)
                messages.success(request, "Password changed.")
                return redirect("home")
    return render(
        request,
        "secretome/password_change.html",
        {
            "expired": expired,
            "error": error,
            "expires_at": accounts.password_expires_at(user),
        },
        status=400 if error else 200,
    )


@role_required(Role.ADMIN)
def account_list(request: HttpRequest) -> HttpResponse:
    """Every account with its lockouts (per address, with their end) and password expiry."""
    lockouts: dict[str, list[accounts.Lockout]] = {}
    for lock in accounts.active_lockouts():
        lockouts.setdefault(lock.username, []).append(lock)
    rows = [
        {
            "username": u.get_username(),
            "full_name": users.full_name(u),
            "roles": ", ".join(sorted(r.value for r in users.roles_of(u))),
            "active": u.is_active,
            "lockouts": lockouts.get(u.get_username(), []),
            "password_expired": accounts.password_expired(u),
            "password_expires_at": accounts.password_expires_at(u),
        }
        for u in users.all_users()
    ]
    return render(request, "secretome/accounts.html", {"rows": rows})


@require_POST
@role_required(Role.ADMIN)
def account_unlock(request: HttpRequest, username: str) -> HttpResponse:
    """End an account's lockouts, with a reason (audited)."""
    try:
        ended = accounts.unlock_user(request.user, request.POST.get("reason", ""), username)
    except ServiceError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Unlocked {username} ({', '.join(lock.address for lock in ended)}).")
    return redirect("accounts")
