"""``/api/genealogy/``: lot lists (by donor or bank), a lot's trace and its passage compliance."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router, Status

from secretome.services import genealogy as g
from secretome.services.errors import ServiceError

router = Router(tags=["genealogy"])


@router.get(
    "/lots", response={200: list[dict[str, Any]], 400: dict[str, str]}, summary="Lots, by donor or bank"
)
def lot_list(request: HttpRequest, donor: str | None = None, bank: str | None = None) -> Any:
    try:
        return g.lot_summaries(g.lots(din=donor, bank=bank))
    except ServiceError as exc:
        return Status(400, {"detail": str(exc)})


@router.get(
    "/lots/{number}/trace",
    response={200: dict[str, Any], 404: dict[str, str]},
    summary="The whole genealogy of a lot",
    url_name="genealogy_trace",
)
def lot_trace(request: HttpRequest, number: str) -> Any:
    try:
        return g.trace(number)
    except ServiceError as exc:
        return Status(404, {"detail": str(exc)})


@router.get(
    "/lots/{number}/compliance",
    response={200: dict[str, Any], 404: dict[str, str]},
    summary="Was the lot made from over-passage cells, and is an approved deviation on file?",
)
def lot_compliance(request: HttpRequest, number: str) -> Any:
    try:
        return g.passage_compliance(number).to_dict()
    except ServiceError as exc:
        return Status(404, {"detail": str(exc)})
