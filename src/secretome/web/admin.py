"""The Django admin: for the admin role only, and read-only for GxP records (writes go through services)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from secretome.db.core.models import AuditEvent
from secretome.domain.roles import Role
from secretome.services.users import roles_of


def _admin_role_only(request: HttpRequest) -> bool:
    return Role.ADMIN in roles_of(request.user) and bool(request.user.is_staff)


admin.site.has_permission = _admin_role_only  # type: ignore[method-assign]
admin.site.site_header = "Secretome administration"


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin[AuditEvent]):
    list_display = ("sequence", "occurred_at", "actor", "action", "object_type", "object_id", "reason")
    list_filter = ("action", "object_type")
    search_fields = ("object_id", "actor", "reason")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _admin_role_only(request)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return _admin_role_only(request)
