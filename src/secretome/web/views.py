"""Web views: thin. They read through services and render templates; writes go through services."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from secretome.domain.roles import AUDIT_READERS
from secretome.services import audit
from secretome.web.access import role_required


def home(request: HttpRequest) -> HttpResponse:
    """The lot list."""
    from secretome.web import registry

    return render(request, "secretome/home.html", {"lots": registry.lot_rows()})


@role_required(*AUDIT_READERS)
def audit_log(request: HttpRequest) -> HttpResponse:
    """The audit trail, newest first, filterable by record and actor."""
    object_type = request.GET.get("object_type") or None
    object_id = request.GET.get("object_id") or None
    actor = request.GET.get("actor") or None
    events = list(reversed(audit.events(object_type, object_id, actor)))
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "filters": {"object_type": object_type or "", "object_id": object_id or "", "actor": actor or ""},
    }
    template = (
        "secretome/_audit_rows.html" if request.headers.get("HX-Request") else "secretome/audit_log.html"
    )
    return render(request, template, context)


@role_required(*AUDIT_READERS)
def audit_verify(request: HttpRequest) -> HttpResponse:
    """Recompute the audit chain and show the verdict (htmx fragment)."""
    return render(request, "secretome/_audit_verdict.html", {"report": audit.verify().to_dict()})
