"""``/api/analyses/`` and ``/api/imports/``: instrument imports, analysis methods and runs, recompute checks.

Writes go through the same services as the web pages and the command line; refusals are 4xx with the
service's one-line reason.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from secretome.services import analyses, imports
from secretome.web.api_release import ERRORS, _answer
from secretome.web.release import signed_in

router = Router(tags=["analyses"])
imports_router = Router(tags=["imports"])


class RunIn(Schema):
    imports: list[str] = Field(..., min_length=1, max_length=50)
    method: str = Field(..., max_length=100)
    lot: str | None = Field(None, max_length=32)
    exclude: dict[str, str] = Field(default_factory=dict)
    sample_lots: dict[str, str] = Field(default_factory=dict)
    reason: str = Field(..., min_length=1, max_length=2000)


class ExcludeIn(Schema):
    exclude: dict[str, str]
    reason: str = Field(..., min_length=1, max_length=2000)


class ReasonIn(Schema):
    reason: str = Field(..., min_length=1, max_length=2000)


def _import_dict(record: Any, values: bool = False) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "id": record.pk,
        "filename": record.filename,
        "format": record.format,
        "family": record.family,
        "sha256": record.raw_file.sha256,
        "size": record.raw_file.size,
        "lot": record.lot.number if record.lot else None,
        "layout": str(record.layout) if record.layout else None,
        "imported_at": record.imported_at.isoformat(),
        "imported_by": record.imported_by.get_username(),
        "summary": record.summary,
        "warnings": record.warnings,
    }
    if values:
        payload["values"] = [
            {
                "sample": m.sample,
                "well": m.well,
                "plate": m.plate,
                "analyte": m.analyte,
                "quantity": m.quantity,
                "value": m.value,
                "unit": m.unit,
                "flags": m.flags,
                "role": m.role,
                "level": m.level,
            }
            for m in record.measurements.all()
        ]
    return payload


@imports_router.get(
    "/", response={200: list[dict[str, Any]], **ERRORS}, summary="Instrument imports, newest first"
)
def import_list(request: HttpRequest) -> Any:
    return [_import_dict(r) for r in imports.list_imports()]


@imports_router.get(
    "/{pk}", response={200: dict[str, Any], **ERRORS}, summary="One import with its measurements"
)
def import_detail(request: HttpRequest, pk: int) -> Any:
    return _answer(lambda: _import_dict(imports.get_import(pk), values=True))


@router.get("/methods", response={200: list[dict[str, Any]], **ERRORS}, summary="Analysis methods")
def method_list(request: HttpRequest) -> Any:
    return [analyses.method_dict(m) for m in analyses.list_methods(include_superseded=True)]


@router.get("/methods/{reference}", response={200: dict[str, Any], **ERRORS}, summary="One method version")
def method_detail(request: HttpRequest, reference: str) -> Any:
    return _answer(lambda: analyses.method_dict(analyses.get_method(reference, approved_only=False)))


@router.get("/runs", response={200: list[dict[str, Any]], **ERRORS}, summary="Analysis runs, newest first")
def run_list(request: HttpRequest, lot: str | None = None) -> Any:
    return [analyses.run_dict(r, with_result=False) for r in analyses.list_runs(lot)]


@router.post(
    "/runs", response={201: dict[str, Any], **ERRORS}, summary="Analyse stored imports (a draft run)"
)
def run_create(request: HttpRequest, payload: RunIn) -> Any:
    def call() -> Any:
        run = analyses.analyse(
            signed_in(request),
            payload.reason,
            payload.imports,
            payload.method,
            payload.lot,
            exclude=payload.exclude,
            sample_lots=payload.sample_lots,
        )
        return Status(201, analyses.run_dict(run, with_result=False))

    return _answer(call)


@router.get("/runs/{number}", response={200: dict[str, Any], **ERRORS}, summary="One run with its result")
def run_detail(request: HttpRequest, number: str) -> Any:
    return _answer(lambda: analyses.run_dict(analyses.get_run(number)))


@router.post(
    "/runs/{number}/exclude", response={201: dict[str, Any], **ERRORS}, summary="Re-analyse without wells"
)
def run_exclude(request: HttpRequest, number: str, payload: ExcludeIn) -> Any:
    def call() -> Any:
        run = analyses.reanalyse(signed_in(request), payload.reason, number, exclude=payload.exclude)
        return Status(201, analyses.run_dict(run, with_result=False))

    return _answer(call)


@router.post("/runs/{number}/accept", response={200: dict[str, Any], **ERRORS}, summary="Accept a draft run")
def run_accept(request: HttpRequest, number: str, payload: ReasonIn) -> Any:
    def call() -> Any:
        results = analyses.accept_run(signed_in(request), payload.reason, number)
        return {"run": number, "results": [r.pk for r in results]}

    return _answer(call)


@router.post("/runs/{number}/return", response={200: dict[str, Any], **ERRORS}, summary="Send a run back")
def run_return(request: HttpRequest, number: str, payload: ReasonIn) -> Any:
    return _answer(
        lambda: analyses.run_dict(
            analyses.return_run(signed_in(request), payload.reason, number), with_result=False
        )
    )


@router.get("/runs/{number}/verify", response={200: dict[str, Any], **ERRORS}, summary="Recompute a run")
def run_verify(request: HttpRequest, number: str) -> Any:
    return _answer(lambda: analyses.verify_run(number).to_dict())


@router.get(
    "/lots/{lot}/verify", response={200: dict[str, Any], **ERRORS}, summary="Recompute a lot's results"
)
def lot_verify(request: HttpRequest, lot: str) -> Any:
    return _answer(lambda: analyses.verify_lot(lot).to_dict())
