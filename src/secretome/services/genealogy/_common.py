"""Helpers the genealogy use cases share: roles, time checks, record look-ups, plain-value snapshots."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth.models import User

from secretome.db.genealogy.models import (
    CellBank,
    ConditioningRun,
    Deviation,
    Donor,
    Lot,
    Passage,
    ProcessRecipe,
    Vial,
)
from secretome.domain.din import parse_din
from secretome.domain.roles import Role
from secretome.services.audit import SYSTEM_ACTOR
from secretome.services.errors import NotFound, ServiceError
from secretome.services.record_lock import refuse_future
from secretome.services.users import Actor, get_user, require_role

#: Roles that record culture work (the lab); QA may record too.
LAB_ROLES = (Role.ANALYST, Role.QA)
#: Roles that approve recipes and deviations, set policies and determine eligibility.
QA_ROLES = (Role.QA,)


def require_lab(actor: Actor) -> None:
    require_role(actor, *LAB_ROLES)


def require_qa(actor: Actor) -> None:
    require_role(actor, *QA_ROLES)


def acting_user_record(actor: Actor) -> User:
    """The user row to store as creator; the system actor has none and may not record culture work."""
    if isinstance(actor, str):
        raise ServiceError(f"{actor!r} cannot record culture work; a named user must")
    if not isinstance(actor, User):
        raise ServiceError("an anonymous user cannot change records")
    return actor


def operator_for(actor: User, operator: str | None) -> User:
    """The operator who did the work: a named user, or the one recording it."""
    return get_user(operator) if operator else actor


def utc(name: str, value: dt.datetime) -> dt.datetime:
    """Refuse naive times (Secretome stores UTC) and times after now: a record says what has happened."""
    if value.tzinfo is None:
        raise ServiceError(f"{name}: give a time zone (UTC), e.g. 2026-03-01T09:00Z")
    refuse_future(name, value)
    return value.astimezone(dt.UTC)


def past_date(name: str, value: dt.date | None) -> None:
    """Refuse a date after today (UTC)."""
    refuse_future(name, value)


def positive(name: str, value: float | None) -> float:
    """A required positive number."""
    if value is None:
        raise ServiceError(f"{name}: required")
    if not value > 0:
        raise ServiceError(f"{name}: must be positive, got {value}")
    return float(value)


def maybe_positive(name: str, value: float | None) -> float | None:
    """An optional positive number (None where not measured)."""
    return None if value is None else positive(name, value)


def percent(name: str, value: float | None) -> float:
    """A required percentage, 0-100."""
    if value is None:
        raise ServiceError(f"{name}: required")
    if not 0 <= value <= 100:
        raise ServiceError(f"{name}: must be between 0 and 100 %, got {value}")
    return float(value)


def maybe_percent(name: str, value: float | None) -> float | None:
    """An optional percentage (None where not measured)."""
    return None if value is None else percent(name, value)


def donor_by_din(din: str) -> Donor:
    try:
        code = parse_din(din).code
    except ValueError as exc:
        raise ServiceError(str(exc)) from None
    donor = Donor.objects.filter(din=code).first()
    if donor is None:
        raise NotFound(f"donor {code} does not exist")
    return donor


def passage_by_id(passage_id: int) -> Passage:
    passage = (
        Passage.objects.select_related("donor", "recipe", "source_vial__bank").filter(pk=passage_id).first()
    )
    if passage is None:
        raise NotFound(f"passage #{passage_id} does not exist")
    return passage


def vial_by_label(label: str) -> Vial:
    vial = Vial.objects.select_related("bank__donor").filter(label=label.strip()).first()
    if vial is None:
        raise NotFound(f"vial {label!r} does not exist")
    return vial


def bank_by_code(code: str) -> CellBank:
    bank = CellBank.objects.select_related("donor").filter(code=code.strip()).first()
    if bank is None:
        raise NotFound(f"cell bank {code!r} does not exist")
    return bank


def lot_by_number(number: str) -> Lot:
    lot = (
        Lot.objects.select_related("donor", "conditioning_run__passage", "conditioning_run__recipe")
        .filter(number=number.strip().upper())
        .first()
    )
    if lot is None:
        raise NotFound(f"lot {number!r} does not exist")
    return lot


def run_by_id(run_id: int) -> ConditioningRun:
    run = ConditioningRun.objects.select_related("passage__donor", "recipe").filter(pk=run_id).first()
    if run is None:
        raise NotFound(f"conditioning run #{run_id} does not exist")
    return run


def deviation_by_number(number: str) -> Deviation:
    deviation = Deviation.objects.filter(number=number.strip().upper()).first()
    if deviation is None:
        raise NotFound(f"deviation {number!r} does not exist")
    return deviation


def recipe_by_code(code: str, version: int | None = None, *, approved: bool = True) -> ProcessRecipe:
    """A recipe version; the latest approved one when ``version`` is None."""
    query = ProcessRecipe.objects.filter(code=code.strip())
    if version is not None:
        recipe = query.filter(version=version).first()
        if recipe is None:
            raise NotFound(f"recipe {code} v{version} does not exist")
    else:
        recipe = query.filter(approved_at__isnull=False).order_by("-version").first()
        if recipe is None:
            raise NotFound(f"recipe {code!r} has no approved version")
    if approved and recipe.approved_at is None:
        raise ServiceError(f"recipe {recipe}: not approved by QA; an unapproved recipe cannot be followed")
    return recipe


def iso(value: dt.datetime | dt.date | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    return value.isoformat()


def username(user: User | None) -> str | None:
    return None if user is None else str(user.get_username())


def snapshot(record: Any, fields: list[str]) -> dict[str, Any]:
    """Plain values of ``fields`` for the audit trail and JSON answers (times as UTC ISO strings)."""
    values: dict[str, Any] = {}
    for name in fields:
        value = getattr(record, name)
        if isinstance(value, dt.date | dt.datetime):
            value = iso(value)
        elif isinstance(value, User):
            value = username(value)
        values[name] = value
    return values


__all__ = ["SYSTEM_ACTOR"]
