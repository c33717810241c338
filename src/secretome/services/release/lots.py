"""The lot's QC record and disposition: results, evaluation, investigations, review and release.

The lot's QC record (what reviewers and QA sign) is :func:`qc_record`: the specification version, every
result with its verdict, every investigation and the passage facts. The lifecycle is the pure state table
of :mod:`secretome.domain.lot_lifecycle`; :func:`lot_facts` gathers what its guards need.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from secretome.db.genealogy.models import Lot
from secretome.db.imports.models import InstrumentImport
from secretome.db.quality.models import (
    Investigation,
    InvestigationOutcome,
    InvestigationStatus,
    LotDisposition,
    Result,
    ResultInvalidation,
    ResultSource,
    SpecificationAttribute,
)
from secretome.domain.canonical import canonical_json
from secretome.domain.lot_lifecycle import (
    RESULT_ENTRY_STATES,
    LotEvent,
    LotFacts,
    LotState,
    TransitionRefused,
    allowed_events,
    guard_failures,
    next_state,
)
from secretome.domain.roles import Role
from secretome.domain.signature import Meaning, record_sha256
from secretome.domain.specification import Evaluation, Reading, Verdict, evaluate, parse_reading
from secretome.services.audit import record_event, require_reason
from secretome.services.errors import Forbidden, GuardFailed, NotFound, ServiceError
from secretome.services.genealogy import deviation_by_number, passage_compliance
from secretome.services.record_lock import (
    disposition_signature,
    guard_result_entry,
    is_locked,
    late_entries_of_lot,
    lock_lot_row,
    refuse_if_locked,
)
from secretome.services.release.signing import (
    create_signature,
    reauthenticate,
    require_expected_sha256,
    signature_dict,
    signature_state,
    signatures_on,
    void_signatures,
)
from secretome.services.release.specifications import get_specification, record_id
from secretome.services.users import require_role, roles_of

RECORD_TYPE = "lot"

#: Which role may trigger each lifecycle event.
EVENT_ROLES: dict[LotEvent, tuple[Role, ...]] = {
    LotEvent.START_TESTING: (Role.ANALYST, Role.REVIEWER, Role.QA),
    LotEvent.SUBMIT_FOR_REVIEW: (Role.ANALYST, Role.REVIEWER),
    LotEvent.REVIEW: (Role.REVIEWER,),
    LotEvent.RETURN_TO_TESTING: (Role.REVIEWER, Role.QA),
    LotEvent.RELEASE: (Role.QA,),
    LotEvent.REJECT: (Role.QA,),
    LotEvent.QUARANTINE: (Role.QA,),
    LotEvent.RESUME: (Role.QA,),
    LotEvent.RESTORE_RELEASE: (Role.QA,),
    LotEvent.REOPEN: (Role.QA,),
}

#: Who enters results: analysts, and reviewers who run a test themselves (they then cannot review the lot).
RESULT_ROLES = (Role.ANALYST, Role.REVIEWER)

#: The signing meaning of each signed lot event.
SIGNED_EVENTS = {
    Meaning.REVIEWED: LotEvent.REVIEW,
    Meaning.RELEASED: LotEvent.RELEASE,
    Meaning.REJECTED: LotEvent.REJECT,
}


def get_lot(number: str) -> Lot:
    try:
        return Lot.objects.select_related("donor", "conditioning_run__passage").get(number=number)
    except Lot.DoesNotExist:
        raise NotFound(f"lot {number!r} does not exist") from None


def disposition_of(lot: Lot) -> LotDisposition | None:
    return LotDisposition.objects.select_related("specification__product").filter(lot=lot).first()


def state_of(lot: Lot) -> LotState:
    disposition = disposition_of(lot)
    return LotState.IN_PRODUCTION if disposition is None else LotState(disposition.state)


# --- passage facts ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PassageFacts:
    """Passage at conditioning, the limit in force, and whether an approved deviation covers an excess."""

    passage_number: int
    max_passage: int
    over_passage: bool
    approved_deviation: bool
    deviations: tuple[str, ...]
    reasons: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "passage_number": self.passage_number,
            "max_passage": self.max_passage,
            "over_passage": self.over_passage,
            "approved_deviation": self.approved_deviation,
            "deviations": list(self.deviations),
            "reasons": list(self.reasons),
        }


def passage_facts(lot: Lot) -> PassageFacts:
    """Was the lot made from over-passage cells, and does an approved deviation cover it? (genealogy's answer)"""
    answer = passage_compliance(lot)
    return PassageFacts(
        passage_number=answer.verdict.passage_number,
        max_passage=answer.verdict.limit.max_passage,
        over_passage=answer.over_limit,
        approved_deviation=bool(answer.approved_deviations),
        deviations=answer.approved_deviations,
        reasons=answer.verdict.reasons,
    )


# --- results and evaluation ------------------------------------------------------------------------


def current_results(lot: Lot) -> dict[str, Result]:
    """Attribute code -> the lot's current valid result (the latest one not invalidated)."""
    current: dict[str, Result] = {}
    query = (
        Result.objects.select_related("attribute", "analyst", "instrument_import__raw_file")
        .filter(lot=lot, invalidation__isnull=True)
        .order_by("recorded_at", "pk")
    )
    for result in query:
        current[result.attribute.code] = result
    return current


def evaluations(lot: Lot) -> list[dict[str, Any]]:
    """Every attribute of the lot's specification with its current result and the evaluation."""
    disposition = disposition_of(lot)
    if disposition is None:
        return []
    current = current_results(lot)
    rows = []
    for attribute in disposition.specification.attributes.order_by("position"):
        result = current.get(attribute.code)
        criterion = attribute.criterion()
        evaluation = evaluate(criterion, result.reading() if result else None)
        rows.append(
            {
                "attribute": attribute.code,
                "name": attribute.name,
                "category": attribute.category,
                "method": attribute.method,
                "unit": attribute.unit,
                "criterion": criterion.describe(attribute.unit),
                "kind": criterion.kind.value,
                "release_test": attribute.release_test,
                "note": attribute.note,
                "result": None if result is None else result.to_dict(),
                "reported": None if result is None else result.reading().describe(criterion.rule),
                "verdict": evaluation.verdict.value,
                "reason": evaluation.reason,
            }
        )
    return rows


def lot_facts(lot: Lot) -> LotFacts:
    rows = evaluations(lot)
    passage = passage_facts(lot)
    reviewer = Q(
        record_type=RECORD_TYPE, record_id=lot.number, meaning=Meaning.REVIEWED.value, voided_at__isnull=True
    )
    review = signatures_on_query(reviewer)
    return LotFacts(
        verdicts={r["attribute"]: Verdict(r["verdict"]) for r in rows if r["release_test"]},
        open_investigations=tuple(
            Investigation.objects.filter(lot=lot)
            .filter(status=InvestigationStatus.OPEN)
            .values_list("number", flat=True)
        ),
        analysts=frozenset(r["result"]["analyst"] for r in rows if r["result"] is not None),
        reviewer=review,
        over_passage=passage.over_passage,
        approved_deviation=passage.approved_deviation,
        release_suspended=_release_suspended(lot),
    )


def _release_suspended(lot: Lot) -> bool:
    """Does a release signature still stand on the lot (released, then quarantined)?"""
    signature = disposition_signature(lot)
    return signature is not None and signature.meaning == Meaning.RELEASED.value


def signatures_on_query(condition: Q) -> str | None:
    from secretome.db.quality.models import Signature

    signature = Signature.objects.select_related("signer").filter(condition).order_by("-signed_at").first()
    return None if signature is None else signature.signer.get_username()


def record_version(lot: Lot) -> int:
    disposition = disposition_of(lot)
    return 1 if disposition is None else disposition.record_version


def qc_record(lot: Lot) -> dict[str, Any]:
    """The lot's QC record: what a review or disposition signature covers (state and signatures excluded)."""
    disposition = disposition_of(lot)
    results = (
        Result.objects.select_related("attribute", "analyst", "instrument_import__raw_file")
        .filter(lot=lot)
        .order_by("attribute__position", "recorded_at", "pk")
    )
    invalidated = set(ResultInvalidation.objects.filter(result__lot=lot).values_list("result_id", flat=True))
    return {
        "lot": lot.number,
        "product": lot.product,
        "specification": None
        if disposition is None
        else {
            "id": record_id(disposition.specification),
            "content_sha256": disposition.specification.content_sha256,
        },
        "results": [{**r.to_dict(), "invalidated": r.pk in invalidated} for r in results],
        "evaluations": [
            {"attribute": row["attribute"], "verdict": row["verdict"], "reason": row["reason"]}
            for row in evaluations(lot)
        ],
        "investigations": [
            {"number": i.number, "result": i.result_id, "status": i.status, "outcome": i.outcome}
            for i in Investigation.objects.filter(lot=lot).order_by("number")
        ],
        "passage": passage_facts(lot).to_dict(),
        # Only when there are any, so that records without late entries keep the hashes they were signed at.
        **({"late_entries": late} if (late := _late_entries_in_record(lot)) else {}),
    }


def _late_entries_in_record(lot: Lot) -> list[dict[str, Any]]:
    return [{k: v for k, v in flag.items() if k != "description"} for flag in late_entries_of_lot(lot)]


def qc_record_sha256(lot: Lot) -> str:
    """The record hash a signer of the lot is shown."""
    return record_sha256(RECORD_TYPE, lot.number, record_version(lot), qc_record(lot))


def lot_status(lot: Lot) -> dict[str, Any]:
    """Everything the lot QC page, ``secretome lot status`` and the API show."""
    state = state_of(lot)
    disposition = disposition_of(lot)
    content = qc_record(lot)
    version = record_version(lot)
    facts = lot_facts(lot) if disposition is not None else LotFacts()
    next_steps = []
    for event in allowed_events(state):
        refusals = [
            f.reason
            for f in guard_failures(state, event, facts, "")
            if f.guard.name not in ("REVIEWER_NOT_ANALYST", "APPROVER_INDEPENDENT")
        ]
        next_steps.append({"event": event.value, "blocked_by": refusals})
    return {
        "lot": lot.number,
        "product": lot.product,
        "tissue_source": lot.tissue_source,
        "state": state.value,
        "locked": is_locked(lot),
        "reopenings": reopenings_of(lot),
        "late_entries": late_entries_of_lot(lot),
        "record_version": version,
        "record_sha256": record_sha256(RECORD_TYPE, lot.number, version, content),
        "specification": None if disposition is None else record_id(disposition.specification),
        "attributes": evaluations(lot),
        "investigations": [
            investigation_dict(i) for i in Investigation.objects.filter(lot=lot).order_by("number")
        ],
        "passage": content["passage"],
        "signatures": lot_signatures(lot, version, content),
        "next_steps": next_steps,
    }


def lot_signatures(
    lot: Lot, version: int | None = None, content: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """The signatures on the lot's QC record, each with its manifestation and state (valid, voided, broken).

    Every page that shows the lot shows these (21 CFR 11.50). ``version`` and ``content`` save recomputing
    the QC record when the caller has it.
    """
    version = record_version(lot) if version is None else version
    content = qc_record(lot) if content is None else content
    quarantined = state_of(lot) is LotState.QUARANTINED
    rows = []
    for signature in signatures_on(RECORD_TYPE, lot.number):
        state = signature_state(signature, version, content)
        # Quarantine suspends a release: the signature is not voided (lifting the quarantine restores it)
        # but it does not stand as valid while the lot is held.
        if quarantined and state == "valid" and signature.meaning == Meaning.RELEASED.value:
            state = "suspended"
        rows.append(signature_dict(signature, state))
    return rows


def reopenings_of(lot: Lot) -> list[dict[str, Any]]:
    """Every reopening of the lot's record under a deviation, oldest first."""
    from secretome.db.recordlock.models import LotReopening

    return [
        {
            "deviation": r.deviation.number,
            "from_state": r.from_state,
            "from_record_version": r.from_record_version,
            "to_record_version": r.to_record_version,
            "reopened_at": r.reopened_at,
            "reopened_by": r.reopened_by.get_username(),
        }
        for r in LotReopening.objects.filter(lot=lot).select_related("deviation", "reopened_by")
    ]


def investigation_dict(investigation: Investigation) -> dict[str, Any]:
    return {
        "number": investigation.number,
        "lot": investigation.lot.number,
        "result": investigation.result_id,
        "attribute": investigation.result.attribute.code,
        "status": investigation.status,
        "outcome": investigation.outcome,
        "conclusion": investigation.conclusion,
        "opened_at": investigation.opened_at,
        "closed_at": investigation.closed_at,
        "closed_by": None if investigation.closed_by is None else investigation.closed_by.get_username(),
    }


# --- writes ----------------------------------------------------------------------------------------


def _set_state(
    actor: User, reason: str, disposition: LotDisposition, event: LotEvent, state: LotState
) -> None:
    before = disposition.state
    disposition.state = state.value
    disposition.updated_at = timezone.now()
    disposition.save(update_fields=["state", "updated_at"])
    record_event(
        actor,
        event.value,
        RECORD_TYPE,
        disposition.lot.number,
        reason,
        {"state": before},
        {"state": state.value},
    )


@transaction.atomic
def start_testing(
    actor: User, reason: str, lot_number: str, specification_version: int | None = None
) -> LotDisposition:
    """Put a lot into QC testing against its product's approved specification (or a named version)."""
    require_role(actor, *EVENT_ROLES[LotEvent.START_TESTING])
    require_reason(reason)
    lock_lot_row(get_lot(lot_number).number)
    lot = get_lot(lot_number)
    if disposition_of(lot) is not None:
        raise GuardFailed(f"lot {lot_number} is already {state_of(lot).value}")
    spec = get_specification(lot.product, specification_version)
    if spec.status == "draft":
        raise ServiceError(
            f"specification {record_id(spec)} is a draft; lots are tested against approved ones"
        )
    next_state(LotState.IN_PRODUCTION, LotEvent.START_TESTING, LotFacts(), actor.get_username())
    disposition = LotDisposition.objects.create(
        lot=lot, specification=spec, state=LotState.QC_TESTING.value, updated_at=timezone.now()
    )
    record_event(
        actor,
        LotEvent.START_TESTING.value,
        RECORD_TYPE,
        lot.number,
        reason,
        {"state": LotState.IN_PRODUCTION.value},
        {"state": LotState.QC_TESTING.value, "specification": record_id(spec)},
    )
    return disposition


def instrument_import_for(reference: InstrumentImport | int | str, lot: Lot) -> InstrumentImport:
    """The instrument import a result of ``lot`` comes from, named by its id or its raw file's SHA-256.

    Refused (naming the field) when no such import exists, or when the import belongs to another lot.
    """
    found: InstrumentImport | None
    if isinstance(reference, InstrumentImport):
        found = reference
    else:
        text = str(reference).strip().lower()
        query = InstrumentImport.objects.select_related("raw_file", "lot")
        if text.isascii() and text.isdigit():
            found = query.filter(pk=int(text)).first()
        elif len(text) == 64 and all(c in "0123456789abcdef" for c in text):
            found = query.filter(raw_file__sha256=text).first()
        else:
            raise ServiceError(
                f"instrument_import: {reference!r} is neither an import id nor a raw file's SHA-256 (64 hex digits)"
            )
    if found is None:
        raise NotFound(f"instrument_import: no instrument import {reference!r} (id or raw file SHA-256)")
    if found.lot is not None and found.lot.pk != lot.pk:
        raise ServiceError(
            f"instrument_import: import #{found.pk} ({found.filename}) belongs to lot {found.lot.number}, "
            f"not {lot.number}"
        )
    return found


def _next_investigation_number(year: int) -> str:
    prefix = f"INV-{year}-"
    count = Investigation.objects.filter(number__startswith=prefix).count()
    return f"{prefix}{count + 1:04d}"


@transaction.atomic
def add_result(
    actor: User,
    reason: str,
    lot_number: str,
    attribute_code: str,
    reading: Reading | str,
    *,
    source: str = ResultSource.MANUAL,
    method: str | None = None,
    raw_file: str = "",
    instrument_import: InstrumentImport | int | str | None = None,
    analysis: dict[str, Any] | None = None,
    tested_at: dt.datetime | None = None,
    retest_of: int | None = None,
    comment: str = "",
    analysis_run: Any = None,
    document: tuple[str, bytes] | None = None,
) -> Result:
    """Record a result; an out-of-specification result of a release test opens a phase I investigation.

    An attribute with a current valid result takes a new one only as a retest of an invalidated result:
    nothing is overwritten. ``instrument_import`` links the result to the import (and so the raw file) its
    value comes from: the import record, its id, or its raw file's SHA-256; ``raw_file`` is free text for
    references that are not imports.

    An attribute the specification says is computed (it names an analysis kind) takes results only from an
    accepted analysis run: ``analysis_run`` is set by :func:`secretome.services.analyses.accept_run`, and any
    other call is refused. A manual result may attach ``document`` (file name, bytes), stored
    content-addressed like instrument files.
    """
    require_role(actor, *RESULT_ROLES)
    require_reason(reason)
    guard_result_entry(actor, lot_number, attribute_code, tested_at, reason)
    lot = get_lot(lot_number)
    if disposition_of(lot) is None:
        start_testing(actor, "first result entered", lot_number)
    disposition = disposition_of(lot)
    assert disposition is not None
    if LotState(disposition.state) not in RESULT_ENTRY_STATES:
        raise GuardFailed(
            f"lot {lot_number} is in {disposition.state}: results are entered in QC testing only "
            "(a reviewer or QA can return the lot to testing)"
        )
    try:
        attribute = disposition.specification.attributes.get(code=attribute_code)
    except SpecificationAttribute.DoesNotExist:
        raise NotFound(
            f"attribute {attribute_code!r} is not in specification {record_id(disposition.specification)}"
        ) from None
    if attribute.analysis_kind and analysis_run is None:
        raise GuardFailed(
            f"{attribute_code} is computed by a {attribute.analysis_kind} analysis method: its result comes only "
            "from an accepted analysis run (secretome analysis run IMPORT --method METHOD, then analysis accept)"
        )
    if analysis_run is not None and analysis_run.method.kind != attribute.analysis_kind:
        raise GuardFailed(
            f"{attribute_code} is computed by {attribute.analysis_kind or 'no analysis kind'}; run "
            f"{analysis_run.number} is a {analysis_run.method.kind} analysis"
        )
    stored_document = None
    if document is not None:
        from secretome.services.imports import store_document

        stored_document = store_document(actor, document[0], document[1])
    parsed = parse_reading(reading) if isinstance(reading, str) else reading
    try:
        ResultSource(source)
    except ValueError:
        raise ServiceError(f"source: {source!r} is not one of analysis, import, manual") from None
    linked = None
    if instrument_import is not None and instrument_import != "":
        linked = instrument_import_for(instrument_import, lot)
    original = None
    if retest_of is not None:
        original = Result.objects.filter(pk=retest_of, lot=lot, attribute=attribute).first()
        if original is None:
            raise NotFound(f"result #{retest_of} is not a result of {attribute_code} on lot {lot_number}")
        if not ResultInvalidation.objects.filter(result=original).exists():
            raise GuardFailed(
                f"result #{retest_of} is valid: a retest needs the original invalidated by an investigation"
            )
    elif attribute_code in current_results(lot):
        raise GuardFailed(
            f"{attribute_code} of lot {lot_number} has a valid result; results are never overwritten "
            "(an investigation can invalidate it, then enter a retest)"
        )
    now = timezone.now()
    result = Result.objects.create(
        lot=lot,
        attribute=attribute,
        value="" if parsed.value is None else str(parsed.value),
        qualifier=parsed.qualifier,
        finding=parsed.finding or "",
        interval_lower="" if parsed.interval is None else str(parsed.interval[0]),
        interval_upper="" if parsed.interval is None else str(parsed.interval[1]),
        source=source,
        method=(method or attribute.method).strip(),
        raw_file=raw_file,
        instrument_import=linked,
        analysis_json="" if analysis is None else canonical_json(analysis),
        analysis_run=analysis_run,
        document=stored_document,
        comment=comment,
        analyst=actor,
        tested_at=tested_at or now,
        recorded_at=now,
        retest_of=original,
    )
    evaluation = evaluate(attribute.criterion(), parsed)
    record_event(
        actor,
        "add result",
        RECORD_TYPE,
        lot.number,
        reason,
        None,
        {**result.to_dict(), "verdict": evaluation.verdict.value, "reason": evaluation.reason},
    )
    if evaluation.verdict is Verdict.OUT_OF_SPECIFICATION and attribute.release_test:
        _open_investigation(actor, result, evaluation)
    return result


def _open_investigation(actor: User, result: Result, evaluation: Evaluation) -> Investigation:
    investigation = Investigation.objects.create(
        number=_next_investigation_number(result.recorded_at.year),
        lot=result.lot,
        result=result,
        opened_at=result.recorded_at,
        opened_by=actor.get_username(),
    )
    record_event(
        actor,
        "open investigation",
        "investigation",
        investigation.number,
        f"out of specification: {evaluation.reason}",
        None,
        investigation_dict(investigation),
    )
    return investigation


def get_investigation(number: str) -> Investigation:
    try:
        return Investigation.objects.select_related("lot", "result__attribute").get(number=number)
    except Investigation.DoesNotExist:
        raise NotFound(f"investigation {number!r} does not exist") from None


def investigation_content(investigation: Investigation, outcome: str, conclusion: str) -> dict[str, Any]:
    return {
        "number": investigation.number,
        "lot": investigation.lot.number,
        "result": investigation.result.to_dict(),
        "outcome": outcome,
        "conclusion": conclusion,
    }


def close_investigation(
    actor: User,
    reason: str,
    number: str,
    *,
    outcome: str,
    conclusion: str,
    password: str,
    request: HttpRequest | None = None,
) -> Investigation:
    """Close a phase I investigation with a signed conclusion (meaning "approved").

    ``assignable cause``: the result is invalidated (a record of its own) and a retest may be entered.
    ``OOS confirmed``: the result stands and the lot can only be rejected.
    """
    require_role(actor, Role.REVIEWER, Role.QA)
    require_reason(reason)
    try:
        parsed = InvestigationOutcome(outcome)
    except ValueError:
        raise ServiceError(f"outcome: {outcome!r} is not 'assignable cause' or 'OOS confirmed'") from None
    if not conclusion.strip():
        raise ServiceError("conclusion: an investigation is closed with a written conclusion")
    reauthenticate(actor, password, request)
    return _close_investigation(actor, reason, number, parsed, conclusion.strip())


@transaction.atomic
def _close_investigation(
    actor: User, reason: str, number: str, outcome: InvestigationOutcome, conclusion: str
) -> Investigation:
    investigation = get_investigation(number)
    refuse_if_locked(lock_lot_row(investigation.lot.number), f"close investigation {number}")
    if investigation.status != InvestigationStatus.OPEN:
        raise GuardFailed(f"investigation {number} is already closed")
    if investigation.result.analyst_id == actor.pk:
        raise Forbidden(f"{actor.get_username()} entered the result and cannot conclude its investigation")
    create_signature(
        actor,
        reason,
        record_type="investigation",
        record_id=number,
        version=1,
        content=investigation_content(investigation, outcome.value, conclusion),
        meaning=Meaning.APPROVED,
    )
    investigation.status = InvestigationStatus.CLOSED
    investigation.outcome = outcome.value
    investigation.conclusion = conclusion
    investigation.closed_at = timezone.now()
    investigation.closed_by = actor
    investigation.save(update_fields=["status", "outcome", "conclusion", "closed_at", "closed_by"])
    record_event(
        actor,
        "close investigation",
        "investigation",
        number,
        reason,
        {"status": "open"},
        {"status": "closed", "outcome": outcome.value, "conclusion": conclusion},
    )
    if outcome is InvestigationOutcome.ASSIGNABLE_CAUSE:
        ResultInvalidation.objects.create(
            result=investigation.result,
            investigation=investigation,
            reason=conclusion,
            invalidated_at=investigation.closed_at,
            invalidated_by=actor,
        )
        record_event(
            actor,
            "invalidate result",
            RECORD_TYPE,
            investigation.lot.number,
            reason,
            {"result": investigation.result_id, "valid": True},
            {"result": investigation.result_id, "valid": False, "investigation": number},
        )
    return investigation


def _authorise(actor: User, event: LotEvent) -> None:
    if not roles_of(actor) & set(EVENT_ROLES[event]):
        names = " or ".join(r.value for r in EVENT_ROLES[event])
        raise Forbidden(f"{actor.get_username()} needs the {names} role to {event.value}")


def _disposition(lot: Lot) -> LotDisposition:
    disposition = disposition_of(lot)
    if disposition is None:
        raise GuardFailed(f"lot {lot.number} is in production: start QC testing first")
    return disposition


@transaction.atomic
def transition(actor: User, reason: str, lot_number: str, event: LotEvent | str) -> LotState:
    """An unsigned lifecycle step: submit for review, return to testing, quarantine, resume disposition.

    Returning a lot to testing voids the signatures on its QC record and starts a new record version.
    """
    parsed = LotEvent(event)
    if parsed in SIGNED_EVENTS.values():
        raise ServiceError(f"{parsed.value}: this step is an electronic signature (secretome lot sign)")
    if parsed is LotEvent.REOPEN:
        raise ServiceError(
            "reopen: name the QA-approved deviation that reopens the record (secretome lot reopen)"
        )
    if parsed is LotEvent.START_TESTING:
        start_testing(actor, reason, lot_number)
        return LotState.QC_TESTING
    _authorise(actor, parsed)
    require_reason(reason)
    lock_lot_row(get_lot(lot_number).number)
    lot = get_lot(lot_number)
    disposition = _disposition(lot)
    try:
        target = next_state(LotState(disposition.state), parsed, lot_facts(lot), actor.get_username())
    except TransitionRefused as exc:
        raise GuardFailed(str(exc)) from None
    if parsed is LotEvent.RETURN_TO_TESTING:
        voided = void_signatures(actor, f"returned to testing: {reason}", RECORD_TYPE, lot.number)
        if voided:
            disposition.record_version += 1
            disposition.save(update_fields=["record_version"])
    _set_state(actor, reason, disposition, parsed, target)
    return target


def sign_lot(
    actor: User,
    reason: str,
    lot_number: str,
    meaning: Meaning | str,
    password: str,
    *,
    expected_sha256: str,
    request: HttpRequest | None = None,
) -> LotState:
    """Review, release or reject a lot with an electronic signature (password asked again).

    ``expected_sha256`` is the QC record hash the signer was shown (``lot status``); it is required, and the
    signature is refused when the record no longer has it, so a signature cannot be replayed onto another
    record or a changed one.
    """
    try:
        parsed = Meaning(meaning)
    except ValueError:
        raise ServiceError(f"meaning: {meaning!r} is not one of reviewed, released, rejected") from None
    if parsed not in SIGNED_EVENTS:
        raise ServiceError(f"meaning: a lot is signed as reviewed, released or rejected, not {parsed.value}")
    event = SIGNED_EVENTS[parsed]
    _authorise(actor, event)
    require_reason(reason)
    require_expected_sha256(expected_sha256, "lot status")
    reauthenticate(actor, password, request)
    return _sign_lot(actor, reason, lot_number, parsed, event, expected_sha256)


@transaction.atomic
def _sign_lot(
    actor: User, reason: str, lot_number: str, meaning: Meaning, event: LotEvent, expected_sha256: str
) -> LotState:
    lock_lot_row(get_lot(lot_number).number)
    lot = get_lot(lot_number)
    disposition = _disposition(lot)
    try:
        target = next_state(LotState(disposition.state), event, lot_facts(lot), actor.get_username())
    except TransitionRefused as exc:
        raise GuardFailed(str(exc)) from None
    create_signature(
        actor,
        reason,
        record_type=RECORD_TYPE,
        record_id=lot.number,
        version=disposition.record_version,
        content=qc_record(lot),
        meaning=meaning,
        expected_sha256=expected_sha256,
    )
    _set_state(actor, reason, disposition, event, target)
    return target


def reopen_lot(actor: User, reason: str, lot_number: str, deviation: str) -> LotState:
    """Reopen the record of a disposed lot under a QA-approved deviation of that lot.

    Every signature on the lot's QC record is voided (each stays listed, voided with the reason), the record
    starts a new version, and the lot goes back to QC testing; its certificates are no longer current. The
    deviation must be approved by QA, raised on this lot (its conditioning run), and not have reopened a
    record before.
    """
    _authorise(actor, LotEvent.REOPEN)
    require_reason(reason)
    return _reopen(actor, reason, lot_number, deviation)


@transaction.atomic
def _reopen(actor: User, reason: str, lot_number: str, deviation_number: str) -> LotState:
    from secretome.db.recordlock.models import LotReopening

    lock_lot_row(get_lot(lot_number).number)
    lot = get_lot(lot_number)
    disposition = _disposition(lot)
    deviation = deviation_by_number(deviation_number)
    if deviation.conditioning_run_id != lot.conditioning_run_id:
        raise ServiceError(
            f"deviation: {deviation.number} is not a deviation of lot {lot.number} "
            f"(raise it with --lot {lot.number})"
        )
    if LotReopening.objects.filter(deviation=deviation).exists():
        raise GuardFailed(f"deviation {deviation.number} has already reopened the record once")
    facts = LotFacts(
        release_suspended=_release_suspended(lot),
        reopening_deviation=deviation.approved,
    )
    before = LotState(disposition.state)
    try:
        target = next_state(before, LotEvent.REOPEN, facts, actor.get_username())
    except TransitionRefused as exc:
        detail = (
            "" if deviation.approved else f" ({deviation.number} is {deviation.decision or 'awaiting QA'})"
        )
        raise GuardFailed(f"{exc}{detail}") from None
    why = f"record reopened under deviation {deviation.number}: {reason}"
    void_signatures(actor, why, RECORD_TYPE, lot.number)
    old_version = disposition.record_version
    disposition.record_version += 1
    disposition.state = target.value
    disposition.updated_at = timezone.now()
    disposition.save(update_fields=["record_version", "state", "updated_at"])
    LotReopening.objects.create(
        lot=lot,
        deviation=deviation,
        from_state=before.value,
        from_record_version=old_version,
        to_record_version=disposition.record_version,
        reopened_at=timezone.now(),
        reopened_by=actor,
    )
    record_event(
        actor,
        LotEvent.REOPEN.value,
        RECORD_TYPE,
        lot.number,
        reason,
        {"state": before.value, "record_version": old_version},
        {
            "state": target.value,
            "record_version": disposition.record_version,
            "deviation": deviation.number,
        },
    )
    return target


def lots_with_disposition() -> list[LotDisposition]:
    return list(
        LotDisposition.objects.select_related("lot", "specification__product").order_by("lot__number")
    )


def analysis_of(result: Result) -> dict[str, Any] | None:
    return json.loads(result.analysis_json) if result.analysis_json else None
