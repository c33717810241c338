"""``/api/release/``: lot status, results, lifecycle steps and signatures, specifications, certificates.

Signing through the API asks for the password in the request body, like the web dialog; the password is
checked again by the service and failures count towards the account lockout.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from secretome.services import certificates, ev, release
from secretome.services.errors import Forbidden, GuardFailed, NotFound, ServiceError
from secretome.web.release import signed_in

router = Router(tags=["release"])

ERRORS: dict[int, Any] = {400: dict[str, str], 403: dict[str, str], 404: dict[str, str], 409: dict[str, str]}


def _answer(call: Callable[[], Any]) -> Any:
    """Run a service call; refusals become 4xx with the service's one-line reason."""
    try:
        return call()
    except NotFound as exc:
        return Status(404, {"detail": str(exc)})
    except Forbidden as exc:
        return Status(403, {"detail": str(exc)})
    except GuardFailed as exc:
        return Status(409, {"detail": str(exc)})
    except (ServiceError, ValueError) as exc:
        return Status(400, {"detail": str(exc)})


# Field limits follow the database columns the values end in, so a long value is refused with 422 naming the
# field rather than failing deeper down.
REASON = Field(..., min_length=1, max_length=2000, description="Why (audit trail).")
SHA256 = r"^[0-9a-f]{64}$"
#: A certificate PDF is a few hundred kilobytes; 20 MB of base64 is far beyond any.
MAX_PDF_BASE64 = 20_000_000


class ResultIn(Schema):
    attribute: str = Field(..., min_length=1, max_length=40)
    value: str = Field(..., max_length=120)
    reason: str = REASON
    method: str | None = Field(None, max_length=200)
    raw_file: str = Field("", max_length=300)
    instrument_import: str | None = Field(None, max_length=64)
    retest_of: int | None = Field(None, ge=1, le=2**62)


class StepIn(Schema):
    event: str = Field(..., min_length=1, max_length=64)
    reason: str = REASON


class SignIn(Schema):
    meaning: str = Field(..., min_length=1, max_length=64)
    reason: str = REASON
    password: str = Field(..., max_length=1024)
    #: The QC record SHA-256 the signer reviewed (``record_sha256`` of the lot status); required.
    expected_sha256: str = Field(..., pattern=SHA256)


class ReopenIn(Schema):
    deviation: str = Field(..., min_length=1, max_length=40)
    reason: str = REASON


class ReasonIn(Schema):
    reason: str = REASON


class CertificateFile(Schema):
    pdf_base64: str = Field(..., min_length=1, max_length=MAX_PDF_BASE64)


@router.get("/lots/{number}", response={200: dict[str, Any], **ERRORS}, summary="A lot's QC status")
def lot_status(request: HttpRequest, number: str) -> Any:
    return _answer(lambda: _status_with_misev(release.get_lot(number)))


def _status_with_misev(lot: Any) -> dict[str, Any]:
    """The lot's status and, for a lot with EV data, its MISEV2023 checklist (``misev``, else null)."""
    misev = ev.misev_if_ev_data(lot)
    return {**release.lot_status(lot), "misev": None if misev is None else misev.to_dict()}


@router.post("/lots/{number}/results", response={201: dict[str, Any], **ERRORS}, summary="Record a result")
def add_result(request: HttpRequest, number: str, payload: ResultIn) -> Any:
    def call() -> Any:
        result = release.add_result(
            signed_in(request),
            payload.reason,
            number,
            payload.attribute,
            payload.value,
            method=payload.method,
            raw_file=payload.raw_file,
            instrument_import=payload.instrument_import,
            retest_of=payload.retest_of,
        )
        rows = release.lot_status(result.lot)["attributes"]
        row = next(r for r in rows if r["attribute"] == payload.attribute)
        return Status(201, {"id": result.pk, "verdict": row["verdict"], "reason": row["reason"]})

    return _answer(call)


@router.post(
    "/lots/{number}/step", response={200: dict[str, Any], **ERRORS}, summary="An unsigned lifecycle step"
)
def step(request: HttpRequest, number: str, payload: StepIn) -> Any:
    return _answer(
        lambda: {"state": release.transition(signed_in(request), payload.reason, number, payload.event).value}
    )


@router.post(
    "/lots/{number}/sign", response={200: dict[str, Any], **ERRORS}, summary="Sign a lot (password again)"
)
def sign(request: HttpRequest, number: str, payload: SignIn) -> Any:
    return _answer(
        lambda: {
            "state": release.sign_lot(
                signed_in(request),
                payload.reason,
                number,
                payload.meaning,
                payload.password,
                expected_sha256=payload.expected_sha256,
                request=request,
            ).value
        }
    )


@router.post(
    "/lots/{number}/reopen",
    response={200: dict[str, Any], **ERRORS},
    summary="Reopen a disposed lot's record under a QA-approved deviation (voids its signatures)",
)
def reopen(request: HttpRequest, number: str, payload: ReopenIn) -> Any:
    return _answer(
        lambda: {
            "state": release.reopen_lot(signed_in(request), payload.reason, number, payload.deviation).value
        }
    )


@router.get("/specifications/{product}", response={200: dict[str, Any], **ERRORS}, summary="A specification")
def specification(request: HttpRequest, product: str, version: int | None = None) -> Any:
    return _answer(lambda: release.specification_dict(release.get_specification(product, version)))


@router.post(
    "/lots/{number}/certificate", response={201: dict[str, Any], **ERRORS}, summary="Issue a certificate"
)
def issue_certificate(request: HttpRequest, number: str, payload: ReasonIn) -> Any:
    return _answer(
        lambda: Status(
            201,
            certificates.certificate_dict(
                certificates.issue_certificate(signed_in(request), payload.reason, number)
            ),
        )
    )


@router.get(
    "/lots/{number}/certificate", response={200: dict[str, Any], **ERRORS}, summary="The latest certificate"
)
def latest_certificate(request: HttpRequest, number: str) -> Any:
    return _answer(lambda: certificates.certificate_dict(certificates.latest_certificate(number)))


@router.post(
    "/certificates/verify", response={200: dict[str, Any], **ERRORS}, summary="Verify a certificate PDF"
)
def verify_certificate(request: HttpRequest, payload: CertificateFile) -> Any:
    try:
        pdf = base64.b64decode(payload.pdf_base64, validate=True)
    except (binascii.Error, ValueError):
        return Status(400, {"detail": "pdf_base64: not valid base64"})
    return _answer(lambda: certificates.verify_certificate(pdf))
