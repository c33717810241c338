"""Template context: the signed-in user's roles, so templates show only what a role may use."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest


def roles(request: HttpRequest) -> dict[str, Any]:
    from secretome.domain.roles import can_read_audit_trail
    from secretome.services.users import full_name, roles_of

    user = request.user
    held = roles_of(user)
    return {
        "user_roles": sorted(r.value for r in held),
        "can_read_audit": can_read_audit_trail(held),
        "printed_name": full_name(user) if user.is_authenticated else "",
    }
