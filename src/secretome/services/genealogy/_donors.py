"""Donors: registration by ISBT 128 DIN, infectious-disease screening and eligibility."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone

from secretome.db.genealogy.models import (
    Donor,
    DonorScreening,
    Eligibility,
    EligibilityDetermination,
    ScreeningMarker,
    ScreeningOutcome,
    TissueSource,
)
from secretome.domain.din import generate_din, parse_din
from secretome.services.audit import record_event
from secretome.services.errors import GuardFailed, ServiceError
from secretome.services.genealogy._common import (
    acting_user_record,
    donor_by_din,
    iso,
    past_date,
    require_lab,
    require_qa,
    snapshot,
    username,
)
from secretome.services.users import Actor

DONOR_FIELDS = [
    "din",
    "check_character",
    "flags",
    "tissue_source",
    "collected_on",
    "consent_obtained",
    "consent_date",
]
PENDING = "pending"


def parse_tissue_source(value: str) -> str:
    """A tissue source code from its code or a common name (``WJ``, ``bone marrow``)."""
    aliases = {"WJ": "UC-WJ", "UC": "UC-WJ", "BONE MARROW": "BM", "ADIPOSE": "AT", "OTHER": "OTHER"}
    cleaned = value.strip().upper()
    cleaned = aliases.get(cleaned, cleaned)
    if cleaned not in TissueSource.values:
        raise ServiceError(f"tissue_source: {value!r} is not one of {', '.join(TissueSource.values)}")
    return cleaned


def next_din(facility: str, year: int) -> str:
    """The next free DIN of a facility and year (sequence after the highest registered)."""
    try:
        prefix = generate_din(facility, year, 1).code[:7]
    except ValueError as exc:
        raise ServiceError(str(exc)) from None
    last = Donor.objects.filter(din__startswith=prefix).order_by("-din").values_list("din", flat=True).first()
    sequence = int(last[7:]) + 1 if last else 1
    return generate_din(facility, year, sequence).code


@transaction.atomic
def register_donor(
    actor: Actor,
    reason: str,
    *,
    tissue_source: str,
    collected_on: dt.date,
    consent_obtained: bool,
    consent_date: dt.date | None = None,
    din: str | None = None,
    facility: str | None = None,
) -> Donor:
    """Register a donation: validate a scanned/typed DIN, or generate the next one for ``facility``."""
    require_lab(actor)
    user = acting_user_record(actor)
    source = parse_tissue_source(tissue_source)
    past_date("collected_on", collected_on)
    past_date("consent_date", consent_date)
    if din is None:
        if not facility:
            raise ServiceError("din: give the DIN, or the facility code to generate one")
        din = next_din(facility, collected_on.year)
    try:
        parsed = parse_din(din)
    except ValueError as exc:
        raise ServiceError(str(exc)) from None
    if Donor.objects.filter(din=parsed.code).exists():
        raise ServiceError(f"din: {parsed.code} is already registered")
    if consent_obtained and consent_date is None:
        raise ServiceError("consent_date: give the date consent was obtained")
    donor = Donor.objects.create(
        din=parsed.code,
        check_character=parsed.check,
        flags=parsed.flags,
        tissue_source=source,
        collected_on=collected_on,
        consent_obtained=consent_obtained,
        consent_date=consent_date,
        created_at=timezone.now(),
        created_by=user,
    )
    record_event(actor, "create", "donor", donor.din, reason, None, snapshot(donor, DONOR_FIELDS))
    return donor


@transaction.atomic
def record_screening(
    actor: Actor,
    reason: str,
    *,
    din: str,
    marker: str,
    method: str,
    outcome: str,
    tested_on: dt.date,
    supersedes: int | None = None,
) -> DonorScreening:
    """Record one infectious-disease screening result; a correction names the result it supersedes."""
    require_lab(actor)
    user = acting_user_record(actor)
    donor = donor_by_din(din)
    if marker not in ScreeningMarker.values:
        raise ServiceError(f"marker: {marker!r} is not one of {', '.join(ScreeningMarker.values)}")
    if outcome not in ScreeningOutcome.values:
        raise ServiceError(f"outcome: {outcome!r} is not one of {', '.join(ScreeningOutcome.values)}")
    if not method.strip():
        raise ServiceError("method: name the assay (e.g. CMIA, NAT)")
    past_date("tested_on", tested_on)
    previous = None
    if supersedes is not None:
        previous = DonorScreening.objects.filter(pk=supersedes, donor=donor, marker=marker).first()
        if previous is None:
            raise ServiceError(f"supersedes: no {marker} result #{supersedes} for donor {donor.din}")
        if DonorScreening.objects.filter(supersedes=previous).exists():
            raise ServiceError(f"supersedes: result #{supersedes} was already superseded")
    elif current_screenings(donor).get(marker) is not None:
        raise ServiceError(
            f"marker: {donor.din} already has a {marker} result; a correction names it (supersedes)"
        )
    screening = DonorScreening.objects.create(
        donor=donor,
        marker=marker,
        method=method.strip(),
        outcome=outcome,
        tested_on=tested_on,
        supersedes=previous,
        recorded_at=timezone.now(),
        recorded_by=user,
    )
    record_event(
        actor,
        "create",
        "donor_screening",
        screening.pk,
        reason,
        None if previous is None else screening_dict(previous),
        screening_dict(screening),
    )
    return screening


def screening_dict(screening: DonorScreening) -> dict[str, Any]:
    return {
        "id": screening.pk,
        "din": screening.donor.din,
        "marker": screening.marker,
        "method": screening.method,
        "outcome": screening.outcome,
        "tested_on": iso(screening.tested_on),
        "supersedes": screening.supersedes_id,
    }


def current_screenings(donor: Donor) -> dict[str, DonorScreening]:
    """The result in force for each marker (those not superseded)."""
    results: dict[str, DonorScreening] = {}
    for screening in DonorScreening.objects.filter(donor=donor, superseded_by__isnull=True).order_by("pk"):
        results[screening.marker] = screening
    return results


@transaction.atomic
def determine_eligibility(
    actor: Actor, reason: str, *, din: str, decision: str, rationale: str
) -> EligibilityDetermination:
    """QA determines eligibility. "Eligible" needs consent and a negative result for every marker."""
    require_qa(actor)
    user = acting_user_record(actor)
    donor = donor_by_din(din)
    if decision not in Eligibility.values:
        raise ServiceError(f"decision: {decision!r} is not one of {', '.join(Eligibility.values)}")
    if not rationale.strip():
        raise ServiceError("rationale: say what the determination rests on")
    before = eligibility(donor)
    if decision == Eligibility.ELIGIBLE:
        missing = eligibility_gaps(donor)
        if missing:
            raise GuardFailed(f"donor {donor.din} cannot be eligible: " + "; ".join(missing))
    determination = EligibilityDetermination.objects.create(
        donor=donor,
        decision=decision,
        rationale=rationale.strip(),
        determined_at=timezone.now(),
        determined_by=user,
    )
    record_event(actor, "determine_eligibility", "donor", donor.din, reason, before, eligibility(donor))
    return determination


def eligibility_gaps(donor: Donor) -> list[str]:
    """What stands between a donor and an "eligible" determination."""
    gaps = []
    if not donor.consent_obtained:
        gaps.append("no consent")
    results = current_screenings(donor)
    for marker in ScreeningMarker.values:
        result = results.get(marker)
        if result is None:
            gaps.append(f"no {marker} result")
        elif result.outcome != ScreeningOutcome.NEGATIVE:
            gaps.append(f"{marker} {result.outcome}")
    return gaps


def eligibility(donor: Donor) -> dict[str, Any]:
    """The eligibility in force: status (eligible, ineligible or pending), who decided, and the screening."""
    latest = EligibilityDetermination.objects.filter(donor=donor).order_by("-determined_at", "-pk").first()
    return {
        "status": latest.decision if latest else PENDING,
        "determined_at": iso(latest.determined_at) if latest else None,
        "determined_by": username(latest.determined_by) if latest else None,
        "rationale": latest.rationale if latest else None,
        "consent_obtained": donor.consent_obtained,
        "consent_date": iso(donor.consent_date),
        "screening": [screening_dict(s) for s in current_screenings(donor).values()],
    }


def refuse_ineligible(donor: Donor, step: str, *, require_eligible: bool = False) -> None:
    """An ineligible donor's material goes no further; steps towards a lot also need a positive determination."""
    status = eligibility(donor)["status"]
    if status == Eligibility.INELIGIBLE:
        raise GuardFailed(f"donor {donor.din} is ineligible: {step} refused")
    if require_eligible and status != Eligibility.ELIGIBLE:
        raise GuardFailed(f"donor {donor.din} is not determined eligible ({status}): {step} refused")


def donor_dict(donor: Donor) -> dict[str, Any]:
    values = snapshot(donor, DONOR_FIELDS)
    values["eligibility"] = eligibility(donor)
    return values


def donors() -> list[Donor]:
    return list(Donor.objects.order_by("din"))
