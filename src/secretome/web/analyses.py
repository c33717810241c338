"""Web pages of analysis runs: the run page a reviewer reads (plots, reported values, wells used and left
out, decisions), excluding a well with a reason in place (htmx), accepting, sending back; the method list.
Thin: every write is a service call."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from secretome.domain.roles import Role
from secretome.methods.controls import CONTROL_KINDS
from secretome.services import analyses
from secretome.services.errors import NotFound, ServiceError
from secretome.services.users import roles_of
from secretome.web.access import role_required
from secretome.web.release import LAB, signed_in


class ExcludeForm(forms.Form):
    well = forms.CharField(max_length=60, help_text="WELL or IMPORT:WELL")
    because = forms.CharField(max_length=500)


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=500)


def _run_or_404(number: str) -> Any:
    try:
        return analyses.get_run(number)
    except NotFound:
        raise Http404(f"no analysis run {number}") from None


def _run_url(number: str) -> str:
    return reverse("analysis_run", args=[number])


@role_required(*LAB)
def run_list(request: HttpRequest) -> HttpResponse:
    lot = request.GET.get("lot") or None
    runs = [analyses.run_dict(r, with_result=False) for r in analyses.list_runs(lot)]
    return render(request, "secretome/analyses/run_list.html", {"runs": runs, "lot": lot})


@role_required(*LAB)
def run_detail(request: HttpRequest, number: str) -> HttpResponse:
    run = _run_or_404(number)
    held = roles_of(request.user)
    payload = analyses.run_dict(run, with_result=False)
    excluded = {d["target"]: d["reason"] for d in payload["decision_log"] if d["action"] == "exclude"}
    return render(
        request,
        "secretome/analyses/run_detail.html",
        {
            "run": payload,
            # Our own matplotlib output, stored by the service: trusted SVG, shown inline.
            "plots": [{"title": p.title, "svg": mark_safe(p.svg)} for p in run.plots.all()],
            "excluded": excluded,
            "can_decide": run.status == "draft" and bool(held & {Role.ANALYST, Role.REVIEWER}),
            "can_return": run.status in ("draft", "accepted") and bool(held & {Role.REVIEWER, Role.QA}),
        },
    )


@require_POST
@role_required(Role.ANALYST, Role.REVIEWER)
def run_exclude(request: HttpRequest, number: str) -> HttpResponse:
    """Leave a well out with a reason: a re-analysis (a new draft run); htmx follows to it in place."""
    form = ExcludeForm(request.POST)
    target = _run_url(number)
    if not form.is_valid():
        messages.error(request, "exclude: name the well and say why")
    else:
        try:
            new = analyses.reanalyse(
                signed_in(request),
                f"well {form.cleaned_data['well']} left out",
                number,
                exclude={form.cleaned_data["well"]: form.cleaned_data["because"]},
            )
            target = _run_url(new.number)
            messages.success(request, f"{new.number}: re-analysed without {form.cleaned_data['well']}")
        except (ServiceError, ValueError) as exc:
            messages.error(request, str(exc))
    if request.headers.get("HX-Request"):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = target
        return response
    return HttpResponseRedirect(target)


@require_POST
@role_required(Role.ANALYST, Role.REVIEWER)
def run_accept(request: HttpRequest, number: str) -> HttpResponse:
    try:
        results = analyses.accept_run(signed_in(request), "accepted on the run page", number)
        messages.success(request, f"{number} accepted: {len(results)} result(s) recorded")
    except ServiceError as exc:
        messages.error(request, str(exc))
    return HttpResponseRedirect(_run_url(number))


@require_POST
@role_required(Role.REVIEWER, Role.QA)
def run_return(request: HttpRequest, number: str) -> HttpResponse:
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, "send back: say why")
        return HttpResponseRedirect(_run_url(number))
    try:
        analyses.return_run(signed_in(request), form.cleaned_data["reason"], number)
        messages.success(request, f"{number} sent back")
    except ServiceError as exc:
        messages.error(request, str(exc))
    return HttpResponseRedirect(_run_url(number))


@role_required(*LAB)
def method_list(request: HttpRequest) -> HttpResponse:
    methods = [analyses.method_dict(m) for m in analyses.list_methods(include_superseded=True)]
    return render(
        request,
        "secretome/analyses/method_list.html",
        {"methods": methods, "control_kinds": CONTROL_KINDS},
    )
