"""The lot's lifecycle from production to disposition, as an explicit state table with pure guards.

21 CFR 11.10(f) asks the system to enforce the permitted sequence of steps. The table below is the whole
of that sequence: a transition not in it is refused, and a transition in it happens only when every one of
its guards passes. The guards look at :class:`LotFacts`, a snapshot the service layer assembles from the
database, so that each rule can be tested here without one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from secretome.domain.specification import Verdict


class LotState(StrEnum):
    """Where a conditioned-medium lot is in its life."""

    IN_PRODUCTION = "in production"
    QC_TESTING = "QC testing"
    QC_REVIEW = "QC review"
    QA_DISPOSITION = "QA disposition"
    RELEASED = "released"
    REJECTED = "rejected"
    QUARANTINED = "quarantined"


class LotEvent(StrEnum):
    """What moves a lot from one state to the next."""

    START_TESTING = "start testing"
    SUBMIT_FOR_REVIEW = "submit for review"
    REVIEW = "review"
    RETURN_TO_TESTING = "return to testing"
    RELEASE = "release"
    REJECT = "reject"
    QUARANTINE = "quarantine"
    RESUME = "resume disposition"
    RESTORE_RELEASE = "restore release"
    REOPEN = "reopen"


class Guard(StrEnum):
    """The named conditions a transition may require."""

    RELEASE_RESULTS_VALID = "every release attribute has a valid result"
    RELEASE_RESULTS_CONFORM = "every release attribute conforms"
    NO_OPEN_INVESTIGATION = "no investigation is open"
    REVIEWER_NOT_ANALYST = "the reviewer is not an analyst of the lot"
    APPROVER_INDEPENDENT = "the QA approver is neither an analyst nor the reviewer"
    PASSAGE_COMPLIANT = "cells within the passage limit, or an approved deviation"
    NOT_SUSPENDED = "the lot was not released before its quarantine"
    RELEASE_SUSPENDED = "the lot was released before its quarantine and its release signature holds"
    REOPENING_APPROVED = "a QA-approved deviation reopens the record"


#: The state table: (from state, event) -> (to state, guards). Nothing else is allowed.
TRANSITIONS: Mapping[tuple[LotState, LotEvent], tuple[LotState, tuple[Guard, ...]]] = {
    (LotState.IN_PRODUCTION, LotEvent.START_TESTING): (LotState.QC_TESTING, ()),
    (LotState.QC_TESTING, LotEvent.SUBMIT_FOR_REVIEW): (
        LotState.QC_REVIEW,
        (Guard.RELEASE_RESULTS_VALID,),
    ),
    (LotState.QC_REVIEW, LotEvent.REVIEW): (
        LotState.QA_DISPOSITION,
        (Guard.RELEASE_RESULTS_VALID, Guard.NO_OPEN_INVESTIGATION, Guard.REVIEWER_NOT_ANALYST),
    ),
    (LotState.QC_REVIEW, LotEvent.RETURN_TO_TESTING): (LotState.QC_TESTING, ()),
    (LotState.QA_DISPOSITION, LotEvent.RETURN_TO_TESTING): (LotState.QC_TESTING, ()),
    (LotState.QA_DISPOSITION, LotEvent.RELEASE): (
        LotState.RELEASED,
        (
            Guard.RELEASE_RESULTS_VALID,
            Guard.RELEASE_RESULTS_CONFORM,
            Guard.NO_OPEN_INVESTIGATION,
            Guard.APPROVER_INDEPENDENT,
            Guard.PASSAGE_COMPLIANT,
        ),
    ),
    (LotState.QA_DISPOSITION, LotEvent.REJECT): (
        LotState.REJECTED,
        (Guard.NO_OPEN_INVESTIGATION, Guard.APPROVER_INDEPENDENT),
    ),
    (LotState.IN_PRODUCTION, LotEvent.QUARANTINE): (LotState.QUARANTINED, ()),
    (LotState.QC_TESTING, LotEvent.QUARANTINE): (LotState.QUARANTINED, ()),
    (LotState.QC_REVIEW, LotEvent.QUARANTINE): (LotState.QUARANTINED, ()),
    (LotState.QA_DISPOSITION, LotEvent.QUARANTINE): (LotState.QUARANTINED, ()),
    (LotState.RELEASED, LotEvent.QUARANTINE): (LotState.QUARANTINED, ()),
    (LotState.QUARANTINED, LotEvent.RESUME): (LotState.QA_DISPOSITION, (Guard.NOT_SUSPENDED,)),
    # Quarantine of a released lot suspends its release; lifting it restores the same, unchanged release.
    (LotState.QUARANTINED, LotEvent.RESTORE_RELEASE): (LotState.RELEASED, (Guard.RELEASE_SUSPENDED,)),
    # After disposition the record is locked; only a QA-approved deviation reopens it (signatures voided).
    (LotState.RELEASED, LotEvent.REOPEN): (LotState.QC_TESTING, (Guard.REOPENING_APPROVED,)),
    (LotState.REJECTED, LotEvent.REOPEN): (LotState.QC_TESTING, (Guard.REOPENING_APPROVED,)),
    (LotState.QUARANTINED, LotEvent.REOPEN): (LotState.QC_TESTING, (Guard.REOPENING_APPROVED,)),
}

#: States a lot never leaves by a normal step (a released lot can still be quarantined on a complaint; a
#: rejected one leaves only when a QA-approved deviation reopens its record).
TERMINAL_STATES = frozenset({LotState.REJECTED})

#: The states of a disposition: the lot's record is locked once it reaches one of them.
DISPOSITION_STATES = frozenset({LotState.RELEASED, LotState.REJECTED})

#: States in which results may be added to the lot.
RESULT_ENTRY_STATES = frozenset({LotState.IN_PRODUCTION, LotState.QC_TESTING})


@dataclass(frozen=True)
class LotFacts:
    """What the guards need to know about a lot, gathered by the service layer.

    Parameters
    ----------
    verdicts
        Release attribute code -> verdict of its current valid result (``incomplete`` when it has none).
    open_investigations
        Numbers of investigations still open on the lot.
    analysts
        Usernames of everyone who entered a current result of the lot.
    reviewer
        Username of the reviewer who signed the review, if any.
    over_passage
        The lot was made from cells beyond the passage limit of its recipe.
    approved_deviation
        A QA-approved deviation covers that over-passage.
    release_suspended
        The lot carries a release signature that still holds (it was released, then quarantined).
    reopening_deviation
        A QA-approved deviation of the lot, not used before, reopens its record.
    """

    verdicts: Mapping[str, Verdict] = field(default_factory=dict)
    open_investigations: tuple[str, ...] = ()
    analysts: frozenset[str] = frozenset()
    reviewer: str | None = None
    over_passage: bool = False
    approved_deviation: bool = False
    release_suspended: bool = False
    reopening_deviation: bool = False


@dataclass(frozen=True)
class GuardFailure:
    """One guard that refused, with the reason in the lab's words."""

    guard: Guard
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"guard": self.guard.name.lower(), "reason": self.reason}


class TransitionRefused(ValueError):
    """A lot transition was refused; ``failures`` names every guard that failed."""

    def __init__(self, message: str, failures: tuple[GuardFailure, ...] = ()) -> None:
        super().__init__(message)
        self.failures = failures


def _check(guard: Guard, facts: LotFacts, actor: str) -> str | None:
    """The reason ``guard`` refuses, or None when it passes."""
    if guard is Guard.RELEASE_RESULTS_VALID:
        missing = sorted(code for code, v in facts.verdicts.items() if v is Verdict.INCOMPLETE)
        if not facts.verdicts:
            return "the specification has no release attributes"
        if missing:
            return "no valid result for: " + ", ".join(missing)
        return None
    if guard is Guard.RELEASE_RESULTS_CONFORM:
        failing = sorted(code for code, v in facts.verdicts.items() if v is not Verdict.CONFORMS)
        return "not conforming: " + ", ".join(failing) if failing else None
    if guard is Guard.NO_OPEN_INVESTIGATION:
        if facts.open_investigations:
            return "open investigation: " + ", ".join(facts.open_investigations)
        return None
    if guard is Guard.REVIEWER_NOT_ANALYST:
        if actor in facts.analysts:
            return f"{actor} entered results of this lot and cannot review them (four-eyes principle)"
        return None
    if guard is Guard.APPROVER_INDEPENDENT:
        if actor in facts.analysts:
            return f"{actor} entered results of this lot and cannot approve its disposition"
        if facts.reviewer is not None and actor == facts.reviewer:
            return f"{actor} reviewed this lot and cannot also approve its disposition"
        return None
    if guard is Guard.PASSAGE_COMPLIANT:
        if facts.over_passage and not facts.approved_deviation:
            return "the lot was made from over-passage cells and no approved deviation covers it"
        return None
    if guard is Guard.NOT_SUSPENDED:
        if facts.release_suspended:
            return (
                "the lot was released before its quarantine: restore the release, "
                "or reopen the record under a QA-approved deviation"
            )
        return None
    if guard is Guard.RELEASE_SUSPENDED:
        if not facts.release_suspended:
            return "the lot carries no release signature that still holds: resume disposition instead"
        return None
    if guard is Guard.REOPENING_APPROVED:
        if not facts.reopening_deviation:
            return "no QA-approved deviation of this lot reopens its record"
        return None
    raise AssertionError(guard)  # pragma: no cover - the enum is exhaustive


def allowed_events(state: LotState) -> list[LotEvent]:
    """The events the state table allows from ``state`` (guards not yet checked)."""
    return [event for (source, event) in TRANSITIONS if source is state]


def guard_failures(state: LotState, event: LotEvent, facts: LotFacts, actor: str) -> tuple[GuardFailure, ...]:
    """Every guard of the transition that refuses, in the table's order (empty when all pass)."""
    try:
        _, guards = TRANSITIONS[(LotState(state), LotEvent(event))]
    except KeyError:
        raise TransitionRefused(
            f"a lot in {LotState(state).value!r} cannot {LotEvent(event).value}"
        ) from None
    failures = []
    for guard in guards:
        reason = _check(guard, facts, actor)
        if reason is not None:
            failures.append(GuardFailure(guard, reason))
    return tuple(failures)


def next_state(state: LotState, event: LotEvent, facts: LotFacts, actor: str) -> LotState:
    """The state after ``event``; raises :class:`TransitionRefused` naming every failed guard."""
    failures = guard_failures(state, event, facts, actor)
    if failures:
        raise TransitionRefused(
            f"cannot {LotEvent(event).value}: " + "; ".join(f.reason for f in failures), failures
        )
    return TRANSITIONS[(LotState(state), LotEvent(event))][0]


def state_table() -> list[dict[str, Any]]:
    """The state table as rows, for documentation and the API."""
    return [
        {"from": source.value, "event": event.value, "to": target.value, "guards": [g.value for g in guards]}
        for (source, event), (target, guards) in TRANSITIONS.items()
    ]
