"""Instrument import pages: drop a file, see the parsed preview (plate heat map, FCS channels and density,
NTA size distribution), confirm the import, and download any import's raw file again.

Views stay thin: reading and storing go through :mod:`secretome.services.imports`; the Plotly figures are
built here from the reading (Plotly's JSON, drawn by the vendored plotly.js).
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_POST

from secretome.analysis.flow.transforms import LogicleTransform
from secretome.domain.plate_layout import PLATE_SHAPES, well_position
from secretome.domain.roles import Role
from secretome.instruments.detect import format_names
from secretome.instruments.model import InstrumentReading
from secretome.services import imports as service
from secretome.services.errors import NotFound, ServiceError
from secretome.web.access import role_required

LAB = (Role.ANALYST, Role.REVIEWER, Role.QA)
#: Events drawn in an FCS density plot (a random subset keeps the page light).
DENSITY_EVENTS = 20_000
#: Measurement rows shown on an import page.
ROWS_SHOWN = 500


class UploadForm(forms.Form):
    file = forms.FileField(label="Instrument file")
    format = forms.ChoiceField(label="Format", required=False)
    layout = forms.ChoiceField(label="Plate layout", required=False)
    lot = forms.CharField(label="Lot", required=False, max_length=32)
    reason = forms.CharField(label="Reason", max_length=500, initial="instrument data import")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        format_field = self.fields["format"]
        layout_field = self.fields["layout"]
        assert isinstance(format_field, forms.ChoiceField) and isinstance(layout_field, forms.ChoiceField)
        format_field.choices = [("", "detect from content"), *((n, n) for n in format_names())]
        layouts = [(f"{r.name}@{r.version}", f"{r.name} v{r.version}") for r in service.list_layouts()]
        layout_field.choices = [("", "none"), *layouts]


def _plate_figure(reading: InstrumentReading) -> dict[str, Any] | None:
    """A heat map of the first quantity that has well values (the first analyte for multiplex)."""
    wells = [m for m in reading.measurements if m.well]
    if not wells:
        return None
    quantity = wells[0].quantity
    analyte = wells[0].analyte
    plate = wells[0].plate
    values: dict[tuple[int, int], float] = {}
    for m in wells:
        if m.quantity != quantity or m.analyte != analyte or m.plate != plate:
            continue
        try:
            position = well_position(m.well)
        except ValueError:
            return None  # not a plate (videos, data sets)
        values.setdefault(position, m.value)
    if not values:
        return None
    plate_format = 96 if max(r for r, _ in values) < 8 and max(c for _, c in values) < 12 else 384
    rows, columns = PLATE_SHAPES[plate_format]
    z: list[list[float | None]] = [[None] * columns for _ in range(rows)]
    for (row, column), value in values.items():
        if row < rows and column < columns:
            z[row][column] = None if math.isnan(value) else value
    title = " · ".join(part for part in (quantity, analyte, plate) if part)
    return {
        "data": [
            {
                "type": "heatmap",
                "z": z,
                "x": [str(c + 1) for c in range(columns)],
                "y": [chr(ord("A") + r) for r in range(rows)],
                "colorscale": "Viridis",
                "hoverongaps": False,
            }
        ],
        "layout": {
            "title": {"text": title},
            "yaxis": {"autorange": "reversed"},
            "height": 360 if rows == 8 else 520,
        },
    }


def _display_logicle(values: np.ndarray) -> LogicleTransform:
    """A logicle scale for raw channel values: top of scale the next power of two above the data (at least
    1,024, as 10-bit FCS 2.0 data need), 4.5 decades for 18-bit data and fewer for narrower ranges."""
    largest = float(np.nanmax(np.abs(values))) if values.size else 0.0
    top = float(2 ** max(10, math.ceil(math.log2(max(largest, 1.0)))))
    decades = min(4.5, max(2.0, math.log10(top) - 0.9))
    return LogicleTransform("display", top, 0.5, decades, 0.0)


def _flow_figure(reading: InstrumentReading) -> dict[str, Any] | None:
    """Two density plots on the logicle scale: the scatter channels, and the first two fluorescence ones.

    Raw channel values on a linear axis put nearly every fluorescence event in one corner; the logicle
    scale (linear around zero, logarithmic above) shows the populations as a cytometrist reads them.
    """
    if not reading.events:
        return None
    matrix = reading.events[0]
    names = list(matrix.channels)
    if matrix.event_count == 0 or len(names) < 2:
        return None
    x_name = next((n for n in names if n.upper().startswith(("FSC", "FS "))), names[0])
    y_name = next(
        (n for n in names if n.upper().startswith(("SSC", "SS "))),
        names[1] if names[1] != x_name else names[0],
    )
    skip = ("FSC", "SSC", "FS ", "SS ", "TIME", "HDR", "WIDTH")
    fluorescence = [n for n in names if not n.upper().startswith(skip) and n not in (x_name, y_name)]
    rng = np.random.default_rng(0)
    count = matrix.event_count
    picked = (
        np.sort(rng.choice(count, size=min(count, DENSITY_EVENTS), replace=False))
        if count > DENSITY_EVENTS
        else slice(None)
    )
    pairs = [(x_name, y_name)]
    if len(fluorescence) >= 2:
        pairs.append((fluorescence[0], fluorescence[1]))
    traces: list[dict[str, Any]] = []
    layout: dict[str, Any] = {
        "title": {"text": f"{count:,} events; density of {min(count, DENSITY_EVENTS):,}, logicle scale"},
        "height": 480,
        "grid": {"rows": 1, "columns": len(pairs), "pattern": "independent"},
    }
    for number, (first, second) in enumerate(pairs, start=1):
        raw = np.asarray(matrix.events[picked][:, [names.index(first), names.index(second)]], dtype=float)
        scale = _display_logicle(raw)
        shown = scale.apply(raw)
        suffix = "" if number == 1 else str(number)
        traces.append(
            {
                "type": "histogram2d",
                "x": np.round(shown[:, 0], 5).tolist(),
                "y": np.round(shown[:, 1], 5).tolist(),
                "nbinsx": 128,
                "nbinsy": 128,
                "colorscale": "Viridis",
                "showscale": False,
                "xaxis": f"x{suffix}",
                "yaxis": f"y{suffix}",
            }
        )
        axis_note = f" (logicle, T={scale.t:g})"
        layout[f"xaxis{suffix}"] = {"title": {"text": first + axis_note}, "range": [0, 1.02]}
        layout[f"yaxis{suffix}"] = {"title": {"text": second + axis_note}, "range": [0, 1.02]}
    return {"data": traces, "layout": layout}


def _series_figure(reading: InstrumentReading) -> dict[str, Any] | None:
    names = [n for n in reading.series if n.startswith("size distribution")]
    if not names:
        return None
    chosen = [n for n in names if n.endswith("average")] or names[:1]
    traces = [
        {
            "type": "scatter",
            "mode": "lines",
            "name": n.removeprefix("size distribution "),
            "x": [p[0] for p in reading.series[n]],
            "y": [p[1] for p in reading.series[n]],
        }
        for n in chosen
    ]
    return {
        "data": traces,
        "layout": {
            "title": {"text": "Size distribution"},
            "xaxis": {"title": {"text": "size (nm)"}, "range": [0, 500]},
            "yaxis": {"title": {"text": "particles/mL per nm"}},
            "height": 400,
        },
    }


def _bar_figure(reading: InstrumentReading) -> dict[str, Any] | None:
    for quantity in ("viable cell density", "viability"):
        rows = [m for m in reading.measurements if m.quantity == quantity]
        if rows:
            return {
                "data": [
                    {
                        "type": "bar",
                        "x": [m.sample or str(i) for i, m in enumerate(rows, 1)],
                        "y": [m.value for m in rows],
                    }
                ],
                "layout": {"title": {"text": f"{quantity} ({rows[0].unit})"}, "height": 360},
            }
    return None


def figure_for(reading: InstrumentReading) -> dict[str, Any] | None:
    """The preview plot of a reading: density for flow, size distribution for NTA, heat map for plates."""
    if reading.family == "flow":
        return _flow_figure(reading)
    if reading.family == "nta":
        return _series_figure(reading)
    if reading.family == "cell_counter":
        return _bar_figure(reading)
    return _plate_figure(reading)


def _clean(value: Any) -> Any:
    """JSON for the page: NaN and infinities become null (JSON has neither)."""
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def _preview_context(reading: InstrumentReading) -> dict[str, Any]:
    figure = figure_for(reading)
    channels = []
    if reading.events:
        data = reading.run_metadata.get("channel labels", [])
        channels = [
            {"name": n, "label": data[i] if i < len(data) else ""}
            for i, n in enumerate(reading.events[0].channels)
        ]
    return {
        "summary": reading.summary(),
        "figure_json": json.dumps(_clean(figure)) if figure else "",
        "channels": channels,
        "rows": [m.to_dict() for m in reading.measurements[:50]],
    }


@role_required(*LAB)
@require_GET
def import_list(request: HttpRequest) -> HttpResponse:
    """Recent imports and the upload form."""
    return render(
        request, "secretome/imports/list.html", {"form": UploadForm(), "imports": service.list_imports(100)}
    )


@role_required(*LAB)
@require_POST
def import_preview(request: HttpRequest) -> HttpResponse:
    """Parse the uploaded file without storing it and show what would be imported (htmx fragment)."""
    upload = request.FILES.get("file")
    if upload is None:
        return render(
            request, "secretome/imports/_preview.html", {"error": "choose a file first"}, status=400
        )
    content = upload.read()
    try:
        # A separate, time- and memory-bounded process: a hostile file cannot stall this web worker.
        reading = service.inspect_file(
            upload.name or "upload", content, request.POST.get("format") or None, bounded=True
        )
    except service.ImportBusy as exc:
        return render(request, "secretome/imports/_preview.html", {"error": str(exc)}, status=503)
    except ServiceError as exc:
        return render(request, "secretome/imports/_preview.html", {"error": str(exc)}, status=422)
    context = _preview_context(reading)
    existing = service.find_import(content)
    context["existing"] = existing
    template = (
        "secretome/imports/_preview.html"
        if request.headers.get("HX-Request")
        else "secretome/imports/preview_page.html"
    )
    return render(request, template, context)


@role_required(*LAB)
@require_POST
def import_create(request: HttpRequest) -> HttpResponse:
    """Store the uploaded file through the import service, then show the import."""
    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return render(
            request,
            "secretome/imports/list.html",
            {"form": form, "imports": service.list_imports(100)},
            status=400,
        )
    upload = form.cleaned_data["file"]
    try:
        outcome = service.import_file_outcome(
            request.user,
            form.cleaned_data["reason"],
            upload.name or "upload",
            upload.read(),
            form.cleaned_data["format"] or None,
            form.cleaned_data["layout"] or None,
            form.cleaned_data["lot"].strip() or None,
            bounded=True,
        )
    except ServiceError as exc:
        form.add_error(None, str(exc))
        return render(
            request,
            "secretome/imports/list.html",
            {"form": form, "imports": service.list_imports(100)},
            status=422,
        )
    if outcome.restored_file:
        messages.info(request, "This file was imported before; its missing raw file was put back.")
    elif not outcome.created:
        messages.info(request, "This file was imported before; nothing changed.")
    return redirect(reverse("import_detail", args=[outcome.record.pk]))


@role_required(*LAB)
@require_GET
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One import: who, when, reader, metadata, its measurements and the preview plot."""
    try:
        record = service.get_import(pk)
    except NotFound as exc:
        raise Http404(str(exc)) from None
    try:
        reading = service.reading_of(record)
        context = _preview_context(reading)
    except ServiceError as exc:
        context = {"figure_json": "", "channels": [], "read_error": str(exc)}
    context.update(
        {
            "record": record,
            "measurements": list(record.measurements.all()[:ROWS_SHOWN]),
            "measurement_count": record.measurements.count(),
            "rows_shown": ROWS_SHOWN,
        }
    )
    return render(request, "secretome/imports/detail.html", context)


@role_required(*LAB)
@require_GET
def import_raw(request: HttpRequest, pk: int) -> HttpResponse:
    """The raw file exactly as received (its SHA-256 is checked before it is sent)."""
    try:
        record = service.get_import(pk)
        content = service.raw_content(record.raw_file)
    except NotFound as exc:
        raise Http404(str(exc)) from None
    except ServiceError as exc:
        raise Http404(str(exc)) from None
    response = HttpResponse(content, content_type="application/octet-stream")
    response["Content-Disposition"] = (
        content_disposition_header(True, record.raw_file.original_name) or "attachment"
    )
    response["X-Content-SHA256"] = record.raw_file.sha256
    return response
