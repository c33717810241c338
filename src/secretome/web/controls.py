"""Web pages of assay controls: the Levey-Jennings chart of a control over the accepted runs of a method
(Plotly, points coloured by rule, mean and +/-1, 2, 3 SD of each set of limits, hover with run, date and plate
file, click through to the run), the list of a method's controls, and QA approval of a control's limits.

Thin: the numbers come from :mod:`secretome.services.controls`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from secretome.domain.roles import Role
from secretome.services import controls as assay_controls
from secretome.services.errors import NotFound, ServiceError
from secretome.services.users import roles_of
from secretome.web.access import role_required
from secretome.web.release import signed_in
from secretome.web.trending import LAB, _clean

#: Colour, dash and width of the lines drawn at k SD from the mean.
_LINES = {
    0: ("#2ca02c", "solid", 1.5),
    1: ("#aaaaaa", "dot", 1.0),
    2: ("#ff7f0e", "dash", 1.0),
    3: ("#d62728", "solid", 1.5),
}


def control_figure(payload: dict[str, Any]) -> dict[str, Any]:
    """Plotly spec of the Levey-Jennings chart: one point per run coloured by its first Nelson rule, and the
    mean and +/-1, 2, 3 SD of each set of limits over the runs it applies to."""
    chart = payload["chart"]
    points = chart["points"]
    observations = payload["observations"]
    unit = payload["unit"]
    data: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": f"{payload['control']} {payload['analyte']}",
            "x": [p["index"] for p in points],
            "y": [p["value"] for p in points],
            "line": {"color": "#999", "width": 1},
            "marker": {"color": [p["colour"] for p in points], "size": 9},
            "customdata": [
                [
                    p["id"],
                    (o["analysed_at"] or "")[:16].replace("T", " "),
                    o["filename"],
                    f"{p['value']:.4g} {unit}".strip(),
                    ", ".join(p["rules"]) or "none",
                    o["run"],
                    f"{p['z']:+.2f}",
                    o["version"],
                ]
                for p, o in zip(points, observations, strict=True)
            ],
            "hovertemplate": (
                "run %{customdata[0]} (v%{customdata[7]})<br>analysed %{customdata[1]} UTC<br>"
                "plate %{customdata[2]}<br>value %{customdata[3]} (z %{customdata[6]})<br>"
                "rules: %{customdata[4]}<extra></extra>"
            ),
        }
    ]
    n = len(points)
    bounds = [s["first_index"] for s in chart["segments"]] + [n + 1]
    for j, segment in enumerate(chart["segments"]):
        x = [bounds[j] - 0.5, bounds[j + 1] - 0.5]
        for k in (-3, -2, -1, 0, 1, 2, 3):
            colour, dash, width = _LINES[abs(k)]
            y = segment["mean"] + k * segment["sd"]
            name = "mean" if k == 0 else f"{k:+d} SD"
            data.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "x": x,
                    "y": [y, y],
                    "name": f"{name} ({segment['label']})",
                    "line": {"color": colour, "dash": dash, "width": width},
                    "hoverinfo": "name+y",
                    "showlegend": False,
                }
            )
    axis = payload["quantity"] + (f" ({unit})" if unit else "")
    return {
        "data": data,
        "layout": {
            "height": 420,
            "margin": {"l": 60, "r": 20, "t": 30, "b": 40},
            "xaxis": {"title": {"text": "run (order analysed)"}},
            "yaxis": {"title": {"text": axis}},
            "hovermode": "closest",
        },
    }


@role_required(*LAB)
def index(request: HttpRequest) -> HttpResponse:
    """Every method with assay controls in its accepted runs, each control linked to its chart."""
    return render(
        request, "secretome/trending/controls_index.html", {"rows": assay_controls.charted_controls()}
    )


@role_required(*LAB)
def method_page(request: HttpRequest, method: str) -> HttpResponse:
    """The controls of one method (every quantity), each linked to its chart."""
    try:
        rows = assay_controls.method_controls(method)
    except NotFound as exc:
        raise Http404(str(exc)) from None
    return render(
        request,
        "secretome/trending/controls_index.html",
        {"rows": [{"method": method, **row} for row in rows], "method": method},
    )


def _query(request: HttpRequest) -> dict[str, str]:
    return {k: request.GET[k] for k in ("analyte", "quantity", "baseline") if request.GET.get(k)}


@role_required(*LAB)
def chart_page(request: HttpRequest, method: str, control: str) -> HttpResponse:
    """The Levey-Jennings chart of one control."""
    query = _query(request)
    baseline = query.get("baseline")
    try:
        payload = assay_controls.control_chart(
            method,
            control,
            query.get("analyte"),
            int(baseline) if baseline and baseline.isdigit() else None,
            query.get("quantity"),
        )
    except NotFound as exc:
        raise Http404(str(exc)) from None
    except ServiceError as exc:
        messages.error(request, str(exc))
        return HttpResponseRedirect(reverse("control_method", args=[method]))
    figure = control_figure(payload) if payload["chart"] else None
    points = payload["chart"]["points"] if payload["chart"] else []
    return render(
        request,
        "secretome/trending/controls.html",
        {
            "trend": payload,
            "rows": list(zip(points, payload["observations"], strict=False)),
            "figure": _clean(figure) if figure else None,
            "can_approve": Role.QA in set(roles_of(request.user)),
            "run_url": reverse("analysis_run", args=["RUN"]),
            "query": urlencode({k: v for k, v in query.items() if k != "baseline"}),
        },
    )


class ControlLimitsForm(forms.Form):
    first_run = forms.CharField(max_length=40, required=False)
    baseline_n = forms.IntegerField(min_value=2, max_value=10000)
    analyte = forms.CharField(max_length=120, required=False)
    quantity = forms.CharField(max_length=40, required=False)
    reason = forms.CharField(max_length=500)


@require_POST
@role_required(Role.QA)
def approve_limits(request: HttpRequest, method: str, control: str) -> HttpResponse:
    """QA approves (or re-baselines) a control's limits."""
    form = ControlLimitsForm(request.POST)
    back = reverse("control_chart", args=[method, control])
    if not form.is_valid():
        messages.error(
            request, "; ".join(f"{k}: {' '.join(str(e) for e in v)}" for k, v in form.errors.items())
        )
        return HttpResponseRedirect(back)
    data = form.cleaned_data
    try:
        assay_controls.approve_control_limits(
            signed_in(request),
            data["reason"],
            method,
            control,
            analyte=data["analyte"] or None,
            quantity=data["quantity"] or None,
            first_run=data["first_run"] or None,
            baseline_n=data["baseline_n"],
        )
        messages.success(request, "control limits approved")
    except ServiceError as exc:
        messages.error(request, str(exc))
    selection = {k: data[k] for k in ("analyte", "quantity") if data[k]}
    return HttpResponseRedirect(back + (f"?{urlencode(selection)}" if selection else ""))
