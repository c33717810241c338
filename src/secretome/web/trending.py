"""Web pages of trending: a trend page per attribute (Plotly, points coloured by rule, limits and zones,
hover with lot, donor, source and passage, click through to the lot), the capability summary, the
comparisons by factor, the fingerprint comparability page, and the out-of-trend note of a lot page.

Views are thin: the numbers come from :mod:`secretome.services.trending`; the figures are Plotly JSON drawn
by the vendored plotly.js.
"""

from __future__ import annotations

import json
import math
from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from secretome.analysis.trending.charts import RULE_COLOURS
from secretome.domain.roles import Role
from secretome.services import release, trending
from secretome.services.errors import NotFound, ServiceError
from secretome.services.release.specifications import products
from secretome.web.access import role_required
from secretome.web.release import signed_in

LAB = (Role.ANALYST, Role.REVIEWER, Role.QA, Role.ADMIN)


def _clean(value: Any) -> Any:
    """JSON for the page: NaN and infinities become null, times become text."""
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if value is None or isinstance(value, str | int | bool):
        return value
    return str(value)


def trend_figure(payload: dict[str, Any]) -> dict[str, Any]:
    """Plotly spec of the individuals chart: points coloured by their first Nelson rule, each limit
    segment's CL, 3-sigma limits and 1/2-sigma zone lines over the lots it applies to."""
    chart = payload["chart"]
    points = chart["points"]
    facts = payload["lots"]
    n = len(points)
    colours = []
    for point in points:
        rule = next((r for r in point["rules"] if r.startswith("nelson")), None)
        colours.append(RULE_COLOURS["none" if rule is None else rule])
    data: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": payload["attribute"],
            "x": [p["lot_index"] for p in points],
            "y": [p["charted"] for p in points],
            "line": {"color": "#999", "width": 1},
            "marker": {"color": colours, "size": 9},
            "customdata": [
                [
                    f["lot"],
                    f["donor"],
                    f["tissue_source"],
                    f["passage"],
                    f["reported"],
                    ", ".join(p["rules"]) or "none",
                ]
                for p, f in zip(points, facts, strict=True)
            ],
            "hovertemplate": (
                "lot %{customdata[0]}<br>value %{customdata[4]}<br>donor %{customdata[1]}<br>"
                "source %{customdata[2]} · P%{customdata[3]}<br>rules: %{customdata[5]}<extra></extra>"
            ),
        }
    ]
    bounds = [s["first_lot_index"] for s in chart["segments"]] + [n + 1]
    for j, segment in enumerate(chart["segments"]):
        x = [bounds[j] - 0.5, bounds[j + 1] - 0.5]
        lines = [("CL", segment["centre_line"], "#2ca02c", "solid")]
        lines += [(name, segment[key], "#d62728", "solid") for name, key in (("UCL", "ucl"), ("LCL", "lcl"))]
        lines += [(f"zone {k}", v, "#aaa", "dot") for k, v in segment["zones"].items()]
        for name, y, colour, dash in lines:
            data.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "x": x,
                    "y": [y, y],
                    "name": f"{name} ({segment['label']})",
                    "line": {"color": colour, "dash": dash, "width": 1.5 if name in ("UCL", "LCL") else 1},
                    "hoverinfo": "name+y",
                    "showlegend": False,
                }
            )
    unit = payload["unit"]
    return {
        "data": data,
        "layout": {
            "height": 420,
            "margin": {"l": 60, "r": 20, "t": 30, "b": 40},
            "xaxis": {"title": {"text": "lot (production order)"}},
            "yaxis": {"title": {"text": ("log10 " if chart["log10"] else "") + (unit or "value")}},
            "hovermode": "closest",
        },
    }


@role_required(*LAB)
def overview(request: HttpRequest) -> HttpResponse:
    """Capability summary: every trended attribute of every product with its chart's signals."""
    rows = []
    for product in products():
        for code, name, unit in trending.trended_attributes(product.code):
            try:
                payload = trending.attribute_trend(code, product.code)
            except (NotFound, ServiceError, ValueError):
                continue
            capability = payload["capability"] or {}
            rows.append(
                {
                    "product": product.code,
                    "code": code,
                    "name": name,
                    "unit": unit,
                    "n": payload["n"],
                    "limits": (payload["limits"] or {}).get("origin", "none"),
                    "signals": len(payload["signals"]),
                    "cpk": (capability.get("Cpk") or {}).get("estimate"),
                    "cpk_lower": (capability.get("Cpk") or {}).get("lower_bound_95_one_sided"),
                    "ppk": (capability.get("Ppk") or {}).get("estimate"),
                    "ppm": (capability.get("ppm") or {}).get("overall", {}).get("total"),
                }
            )
    return render(request, "secretome/trending/overview.html", {"rows": rows})


class LimitsForm(forms.Form):
    first_lot = forms.CharField(max_length=32, required=False)
    baseline_n = forms.IntegerField(min_value=2, max_value=10000)
    reason = forms.CharField(max_length=500)


@role_required(*LAB)
def attribute_page(request: HttpRequest, product: str, code: str) -> HttpResponse:
    """The trend page of one attribute."""
    try:
        payload = trending.attribute_trend(code, product)
    except NotFound as exc:
        raise Http404(str(exc)) from None
    figure = trend_figure(payload) if payload["chart"] else None
    return render(
        request,
        "secretome/trending/attribute.html",
        {
            "trend": payload,
            "figure_json": json.dumps(_clean(figure)) if figure else "",
            "can_approve": Role.QA in _roles(request),
            "factors": trending.FACTORS,
            "lot_url": reverse("release_lot", args=["LOT"]),
        },
    )


def _roles(request: HttpRequest) -> set[Role]:
    from secretome.services.users import roles_of

    return set(roles_of(request.user))


@require_POST
@role_required(Role.QA)
def approve_limits(request: HttpRequest, product: str, code: str) -> HttpResponse:
    """QA approves (or re-baselines) the attribute's control limits."""
    form = LimitsForm(request.POST)
    if not form.is_valid():
        messages.error(
            request, "; ".join(f"{k}: {' '.join(str(e) for e in v)}" for k, v in form.errors.items())
        )
    else:
        data = form.cleaned_data
        try:
            trending.approve_limits(
                signed_in(request),
                data["reason"],
                product,
                code,
                first_lot=data["first_lot"] or None,
                baseline_n=data["baseline_n"],
            )
            messages.success(request, "control limits approved")
        except ServiceError as exc:
            messages.error(request, str(exc))
    return HttpResponseRedirect(reverse("trend_attribute", args=[product, code]))


def _factor_figure(payload: dict[str, Any]) -> dict[str, Any]:
    by_level: dict[str, list[dict[str, Any]]] = {}
    for point in payload["points"]:
        by_level.setdefault(point["level"], []).append(point)
    data = [
        {
            "type": "box",
            "name": level,
            "y": [p["value"] for p in members],
            "boxpoints": "all",
            "jitter": 0.4,
            "pointpos": 0,
            "text": [f"lot {p['lot']}, donor {p['donor']}, P{p['passage']}" for p in members],
            "hoverinfo": "y+text",
        }
        for level, members in by_level.items()
    ]
    return {
        "data": data,
        "layout": {
            "height": 380,
            "margin": {"l": 60, "r": 20, "t": 20, "b": 40},
            "xaxis": {"title": {"text": payload["factor"]}},
            "yaxis": {"title": {"text": payload["unit"] or payload["attribute"]}},
            "showlegend": False,
        },
    }


@role_required(*LAB)
def factor_page(request: HttpRequest, product: str, code: str) -> HttpResponse:
    """Comparison of an attribute across tissue sources, donors, passages or priming."""
    factor = request.GET.get("factor", "tissue source")
    try:
        payload = trending.factor_comparison(code, product, factor)
    except NotFound as exc:
        raise Http404(str(exc)) from None
    except ServiceError as exc:
        messages.error(request, str(exc))
        return HttpResponseRedirect(reverse("trend_attribute", args=[product, code]))
    return render(
        request,
        "secretome/trending/factor.html",
        {
            "comparison": payload,
            "factors": trending.FACTORS,
            "figure_json": json.dumps(_clean(_factor_figure(payload))),
        },
    )


def _score_figure(payload: dict[str, Any]) -> dict[str, Any]:
    pca = payload["pca"]
    flagged = {lot["lot_id"]: lot["flagged"] for lot in payload["lots"]}
    second = 1 if len(pca["eigenvalues"]) > 1 else 0

    def trace(rows: list[dict[str, Any]], name: str, colour: Any, symbol: str) -> dict[str, Any]:
        return {
            "type": "scatter",
            "mode": "markers",
            "name": name,
            "x": [r["scores"][0] for r in rows],
            "y": [r["scores"][second] for r in rows],
            "text": [r["lot_id"] for r in rows],
            "marker": {"color": colour, "symbol": symbol, "size": 10},
            "hoverinfo": "text",
        }

    explained = pca["explained_variance_ratio"]
    return {
        "data": [
            trace(pca["reference_scores"], "reference lots", "#888", "circle"),
            trace(
                pca["new_scores"],
                "new lots",
                ["#d62728" if flagged[r["lot_id"]] else "#1f77b4" for r in pca["new_scores"]],
                "diamond",
            ),
        ],
        "layout": {
            "height": 420,
            "margin": {"l": 60, "r": 20, "t": 20, "b": 40},
            "xaxis": {"title": {"text": f"PC1 ({100 * explained[0]:.0f} %)"}},
            "yaxis": {"title": {"text": f"PC{second + 1} ({100 * explained[second]:.0f} %)"}},
        },
    }


@role_required(*LAB)
def fingerprint_page(request: HttpRequest, product: str) -> HttpResponse:
    """Secretome-fingerprint comparability: T^2 of later lots against the first N lots as reference."""
    choices = trending.trended_attributes(product)
    analytes = request.GET.getlist("analyte")
    context: dict[str, Any] = {"product": product, "choices": choices, "analytes": analytes, "result": None}
    reference_n = request.GET.get("reference", "")
    context["reference_n"] = reference_n
    if analytes:
        try:
            series = {code: trending.attribute_series(code, product) for code in analytes}
            lot_sets = [{p.lot for p in s.points} for s in series.values()]
            order = [p.lot for p in next(iter(series.values())).points]
            complete = [lot for lot in order if all(lot in s for s in lot_sets)]
            count = int(reference_n) if reference_n.isdigit() else max(len(complete) - 5, 0)
            result = trending.fingerprint_comparison(product, analytes, complete[:count], complete[count:])
            context["result"] = result
            context["figure_json"] = json.dumps(_clean(_score_figure(result)))
        except (NotFound, ServiceError) as exc:
            context["error"] = str(exc)
    return render(request, "secretome/trending/fingerprint.html", context)


@role_required(*LAB)
def lot_signals(request: HttpRequest, number: str) -> HttpResponse:
    """The out-of-trend note of a lot page (loaded by htmx): which rules flag this lot, per attribute."""
    try:
        lot = release.get_lot(number)
    except NotFound:
        raise Http404(f"no lot {number}") from None
    return render(
        request, "secretome/trending/_lot_signals.html", {"signals": trending.lot_signals(lot), "lot": lot}
    )
