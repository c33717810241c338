"""Analysis methods: versioned, QA-approved engine settings for one method kind."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from secretome.db.analyses.models import AnalysisMethod, MethodStatus
from secretome.db.imports.models import PlateLayout
from secretome.domain.canonical import canonical_json
from secretome.domain.roles import Role
from secretome.domain.signature import Meaning, record_sha256
from secretome.methods import get_kind
from secretome.services.audit import record_event, require_reason
from secretome.services.errors import GuardFailed, NotFound, ServiceError
from secretome.services.imports import get_layout
from secretome.services.release.signing import create_signature, reauthenticate
from secretome.services.users import require_role

RECORD_TYPE = "analysis_method"

#: How a method's values are normalised before they are reported.
NORMALISATIONS = ("none", "per_ml", "per_million_cells_per_24h", "per_ug_protein")

#: Who drafts methods (QA approves them).
METHOD_AUTHORS = (Role.ANALYST, Role.REVIEWER, Role.QA)


def record_id(method: AnalysisMethod) -> str:
    return f"{method.code}@{method.version}"


def method_settings(method: AnalysisMethod) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(method.settings_json)
    return loaded


def method_content(method: AnalysisMethod) -> dict[str, Any]:
    """What QA signs when approving a method version (and what runs name)."""
    return {
        "code": method.code,
        "version": method.version,
        "title": method.title,
        "kind": method.kind,
        "settings": method_settings(method),
        "layout": str(method.layout) if method.layout else None,
        "attributes": list(method.attributes),
        "reporting_unit": method.reporting_unit,
        "normalisation": method.normalisation,
        "change_summary": method.change_summary,
    }


def method_sha256(method: AnalysisMethod) -> str:
    """The record hash a QA approver is shown."""
    return record_sha256(RECORD_TYPE, record_id(method), method.version, method_content(method))


def method_dict(method: AnalysisMethod) -> dict[str, Any]:
    return {
        **method_content(method),
        "status": method.status,
        "content_sha256": method.content_sha256 or method_sha256(method),
        "created_at": method.created_at.isoformat(),
        "created_by": method.created_by.get_username(),
        "approved_at": method.approved_at.isoformat() if method.approved_at else None,
        "approved_by": method.approved_by.get_username() if method.approved_by else None,
        "previous_version": record_id(method.previous_version) if method.previous_version else None,
    }


def _check(kind_name: str, settings: Mapping[str, Any], normalisation: str) -> dict[str, Any]:
    try:
        kind = get_kind(kind_name)
    except ValueError as exc:
        raise ServiceError(str(exc)) from None
    if normalisation not in NORMALISATIONS:
        raise ServiceError(f"normalisation: {normalisation!r} is not one of {', '.join(NORMALISATIONS)}")
    try:
        checked = kind.check_settings(settings)
    except ValueError as exc:
        raise ServiceError(f"settings: {exc}") from None
    # A kind that normalises itself (standard-curve) must agree with the method's declared normalisation,
    # so the method list never says one thing while the engine does another.
    if "normalisation" in checked and normalisation != "none" and checked["normalisation"] != normalisation:
        raise ServiceError(
            f"normalisation: the method says {normalisation!r}, its settings say {checked['normalisation']!r}"
        )
    return checked


@transaction.atomic
def draft_method(
    actor: User,
    reason: str,
    *,
    code: str,
    title: str,
    kind: str,
    settings: Mapping[str, Any],
    attributes: Sequence[str],
    reporting_unit: str = "",
    normalisation: str = "per_ml",
    layout: PlateLayout | str | None = None,
    change_summary: str = "",
) -> AnalysisMethod:
    """Draft the next version of method ``code``; the settings are checked by the kind and completed with
    its defaults, so the stored settings are the ones a run uses."""
    require_role(actor, *METHOD_AUTHORS)
    reason = require_reason(reason)
    code = code.strip()
    if not code or any(c.isspace() or c == "@" for c in code):
        raise ServiceError(f"code: {code!r} must be a non-empty name without spaces or '@'")
    if not attributes:
        raise ServiceError("attributes: a method reports at least one specification attribute")
    checked = _check(kind, settings, normalisation)
    layout_record = get_layout(layout) if isinstance(layout, str) else layout
    previous = AnalysisMethod.objects.filter(code=code).order_by("-version").first()
    if previous is not None and previous.status == MethodStatus.DRAFT:
        raise GuardFailed(
            f"method {record_id(previous)} is still a draft: approve it before drafting another"
        )
    method = AnalysisMethod.objects.create(
        code=code,
        version=1 if previous is None else previous.version + 1,
        title=title.strip() or code,
        kind=kind,
        settings_json=canonical_json(checked),
        layout=layout_record,
        attributes=[a.strip() for a in attributes],
        reporting_unit=reporting_unit,
        normalisation=normalisation,
        change_summary=change_summary,
        previous_version=previous,
        created_at=timezone.now(),
        created_by=actor,
    )
    record_event(actor, "create", RECORD_TYPE, record_id(method), reason, None, method_content(method))
    return method


def approve_method(
    actor: User,
    reason: str,
    reference: str,
    password: str,
    expected_sha256: str | None = None,
    request: HttpRequest | None = None,
) -> AnalysisMethod:
    """QA approves a draft method version with an electronic signature; the version before is superseded."""
    require_role(actor, Role.QA)
    require_reason(reason)
    reauthenticate(actor, password, request)
    return _approve(actor, reason, reference, expected_sha256)


@transaction.atomic
def _approve(actor: User, reason: str, reference: str, expected_sha256: str | None) -> AnalysisMethod:
    method = get_method(reference, approved_only=False)
    if method.status != MethodStatus.DRAFT:
        raise GuardFailed(f"method {record_id(method)} is {method.status}: only a draft can be approved")
    if method.created_by_id == actor.pk:
        raise GuardFailed(f"method {record_id(method)}: the approver cannot be the author")
    signature = create_signature(
        actor,
        reason,
        record_type=RECORD_TYPE,
        record_id=record_id(method),
        version=method.version,
        content=method_content(method),
        meaning=Meaning.APPROVED,
        expected_sha256=expected_sha256,
    )
    for old in AnalysisMethod.objects.filter(code=method.code, status=MethodStatus.APPROVED):
        old.status = MethodStatus.SUPERSEDED
        old.save(update_fields=["status"])
        record_event(
            actor,
            "supersede",
            RECORD_TYPE,
            record_id(old),
            reason,
            {"status": "approved"},
            {"status": "superseded", "by": record_id(method)},
        )
    method.status = MethodStatus.APPROVED
    method.approved_at = signature.signed_at
    method.approved_by = actor
    method.content_sha256 = signature.record_sha256
    method.save(update_fields=["status", "approved_at", "approved_by", "content_sha256"])
    record_event(
        actor,
        "approve",
        RECORD_TYPE,
        record_id(method),
        reason,
        {"status": "draft"},
        {"status": "approved", "content_sha256": method.content_sha256},
    )
    return method


def get_method(reference: str, approved_only: bool = True) -> AnalysisMethod:
    """A method by ``CODE`` (its approved version) or ``CODE@VERSION``."""
    code, _, version = reference.strip().partition("@")
    query = AnalysisMethod.objects.select_related("layout", "created_by", "approved_by").filter(code=code)
    if version:
        if not version.isdigit():
            raise ServiceError(f"method: {reference!r} is not CODE or CODE@VERSION")
        found = query.filter(version=int(version)).first()
        if found is None:
            raise NotFound(f"method {reference!r} does not exist")
        return found
    found = query.filter(status=MethodStatus.APPROVED).first()
    if found is None:
        if not approved_only:
            latest = query.order_by("-version").first()
            if latest is not None:
                return latest
        if query.exists():
            raise GuardFailed(f"method {code!r} has no approved version")
        raise NotFound(f"method {code!r} does not exist")
    return found


def list_methods(include_superseded: bool = False) -> list[AnalysisMethod]:
    query = AnalysisMethod.objects.select_related("layout", "created_by", "approved_by")
    if not include_superseded:
        query = query.exclude(status=MethodStatus.SUPERSEDED)
    return list(query)
