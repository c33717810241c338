"""Web views: thin. They read through services and render templates; writes go through services."""

from __future__ import annotations

from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils import timezone

from secretome.domain.roles import AUDIT_READERS
from secretome.services import audit, audit_review
from secretome.services.errors import ServiceError
from secretome.web.access import role_required


def home(request: HttpRequest) -> HttpResponse:
    """The lot list."""
    from secretome.web import registry

    return render(request, "secretome/home.html", {"lots": registry.lot_rows()})


def _audit_query(request: HttpRequest) -> tuple[audit_review.AuditQuery | None, dict[str, str], str]:
    """The review filters from the query string: the query, the values to show back, and an error or ""."""
    shown = {name: request.GET.get(name, "").replace("\x00", "").strip()[:200] for name in _AUDIT_FILTERS}
    try:
        query = audit_review.AuditQuery(
            since=audit_review.parse_moment(shown["since"], "since"),
            until=audit_review.parse_moment(shown["until"], "until", end=True),
            action=shown["action"],
            actor=shown["actor"],
            record=shown["record"],
            object_type=shown["object_type"],
            object_id=shown["object_id"],
        )
    except ServiceError as exc:
        return None, shown, str(exc)
    return query, shown, ""


_AUDIT_FILTERS = ("since", "until", "action", "actor", "record", "object_type", "object_id")


@role_required(*AUDIT_READERS)
def audit_log(request: HttpRequest) -> HttpResponse:
    """The audit trail, newest first, filtered by time range, action, user and record; each event's before and
    after values shown whole, as a diff."""
    query, shown, error = _audit_query(request)
    events = audit_review.search(query).reverse() if query else audit_review.no_events()
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    querystring = urlencode({k: v for k, v in shown.items() if v})
    context = {
        "page": page,
        "events": audit_review.reviewed(page.object_list),
        "filters": shown,
        "error": error,
        "querystring": querystring,
        "actions": audit_review.actions(),
        "actors": audit_review.actors(),
    }
    template = (
        "secretome/_audit_rows.html" if request.headers.get("HX-Request") else "secretome/audit_log.html"
    )
    return render(request, template, context, status=400 if error else 200)


@role_required(*AUDIT_READERS)
def audit_export_csv(request: HttpRequest) -> HttpResponseBase:
    """The filtered trail as CSV (every matching event, streamed)."""
    query, _, error = _audit_query(request)
    if query is None:
        return HttpResponseBadRequest(error, content_type="text/plain; charset=utf-8")
    response = StreamingHttpResponse(audit_review.csv_lines(query), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="audit-{_stamp()}.csv"'
    return response


@role_required(*AUDIT_READERS)
def audit_export_pdf(request: HttpRequest) -> HttpResponse:
    """The filtered trail as a PDF, with the chain verdict and each event's diff."""
    query, _, error = _audit_query(request)
    if query is not None:
        try:
            pdf = audit_review.render_pdf(query, exported_by=request.user.get_username(), now=timezone.now())
        except ServiceError as exc:
            error = str(exc)
    if error:
        return HttpResponseBadRequest(error, content_type="text/plain; charset=utf-8")
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="audit-{_stamp()}.pdf"'
    return response


def _stamp() -> str:
    return timezone.now().strftime("%Y%m%dT%H%M%SZ")


@role_required(*AUDIT_READERS)
def audit_verify(request: HttpRequest) -> HttpResponse:
    """Recompute the audit chain and show the verdict (htmx fragment)."""
    return render(request, "secretome/_audit_verdict.html", {"report": audit.verify().to_dict()})
