"""The lot state table and its guards: each guard refuses when its condition fails."""

from __future__ import annotations

import pytest

from secretome.domain.lot_lifecycle import (
    TRANSITIONS,
    Guard,
    LotEvent,
    LotFacts,
    LotState,
    TransitionRefused,
    allowed_events,
    guard_failures,
    next_state,
    state_table,
)
from secretome.domain.specification import Verdict

ALL_CONFORM = {"sterility": Verdict.CONFORMS, "potency": Verdict.CONFORMS}
GOOD = LotFacts(verdicts=ALL_CONFORM, analysts=frozenset({"ana"}), reviewer="rey")


def refused_guards(state: LotState, event: LotEvent, facts: LotFacts, actor: str) -> set[Guard]:
    return {f.guard for f in guard_failures(state, event, facts, actor)}


def test_the_happy_path_runs_from_production_to_release() -> None:
    state = LotState.IN_PRODUCTION
    for event, actor in [
        (LotEvent.START_TESTING, "ana"),
        (LotEvent.SUBMIT_FOR_REVIEW, "ana"),
        (LotEvent.REVIEW, "rey"),
        (LotEvent.RELEASE, "quinn"),
    ]:
        state = next_state(state, event, GOOD, actor)
    assert state is LotState.RELEASED


def test_a_step_outside_the_table_is_refused() -> None:
    with pytest.raises(TransitionRefused, match="cannot release"):
        next_state(LotState.QC_TESTING, LotEvent.RELEASE, GOOD, "quinn")
    with pytest.raises(TransitionRefused):
        next_state(LotState.REJECTED, LotEvent.QUARANTINE, GOOD, "quinn")


def test_submitting_for_review_refuses_a_missing_release_result() -> None:
    facts = LotFacts(verdicts={"sterility": Verdict.CONFORMS, "potency": Verdict.INCOMPLETE})
    with pytest.raises(TransitionRefused, match="no valid result for: potency") as refused:
        next_state(LotState.QC_TESTING, LotEvent.SUBMIT_FOR_REVIEW, facts, "ana")
    assert refused.value.failures[0].guard is Guard.RELEASE_RESULTS_VALID


def test_a_specification_without_release_attributes_cannot_be_submitted() -> None:
    assert refused_guards(LotState.QC_TESTING, LotEvent.SUBMIT_FOR_REVIEW, LotFacts(), "ana") == {
        Guard.RELEASE_RESULTS_VALID
    }


def test_review_refuses_while_an_investigation_is_open() -> None:
    facts = LotFacts(verdicts=ALL_CONFORM, analysts=frozenset({"ana"}), open_investigations=("INV-1",))
    assert refused_guards(LotState.QC_REVIEW, LotEvent.REVIEW, facts, "rey") == {Guard.NO_OPEN_INVESTIGATION}


def test_the_reviewer_cannot_be_an_analyst_of_the_lot() -> None:
    assert refused_guards(LotState.QC_REVIEW, LotEvent.REVIEW, GOOD, "ana") == {Guard.REVIEWER_NOT_ANALYST}


def test_the_qa_approver_cannot_be_an_analyst() -> None:
    assert refused_guards(LotState.QA_DISPOSITION, LotEvent.RELEASE, GOOD, "ana") == {
        Guard.APPROVER_INDEPENDENT
    }


def test_the_qa_approver_cannot_be_the_reviewer() -> None:
    failures = guard_failures(LotState.QA_DISPOSITION, LotEvent.REJECT, GOOD, "rey")
    assert [f.guard for f in failures] == [Guard.APPROVER_INDEPENDENT]
    assert "reviewed this lot" in failures[0].reason


def test_release_refuses_an_out_of_specification_result() -> None:
    facts = LotFacts(verdicts={"potency": Verdict.OUT_OF_SPECIFICATION}, analysts=frozenset({"ana"}))
    assert refused_guards(LotState.QA_DISPOSITION, LotEvent.RELEASE, facts, "quinn") == {
        Guard.RELEASE_RESULTS_CONFORM
    }
    # ... while rejecting the same lot is allowed.
    assert next_state(LotState.QA_DISPOSITION, LotEvent.REJECT, facts, "quinn") is LotState.REJECTED


def test_over_passage_without_an_approved_deviation_cannot_be_released() -> None:
    facts = LotFacts(verdicts=ALL_CONFORM, over_passage=True, approved_deviation=False)
    with pytest.raises(TransitionRefused, match="over-passage"):
        next_state(LotState.QA_DISPOSITION, LotEvent.RELEASE, facts, "quinn")


def test_over_passage_with_an_approved_deviation_can_be_released() -> None:
    facts = LotFacts(verdicts=ALL_CONFORM, over_passage=True, approved_deviation=True)
    assert next_state(LotState.QA_DISPOSITION, LotEvent.RELEASE, facts, "quinn") is LotState.RELEASED


def test_every_failing_guard_is_named_at_once() -> None:
    facts = LotFacts(
        verdicts={"potency": Verdict.INCOMPLETE},
        open_investigations=("INV-2",),
        analysts=frozenset({"quinn"}),
        over_passage=True,
    )
    assert refused_guards(LotState.QA_DISPOSITION, LotEvent.RELEASE, facts, "quinn") == {
        Guard.RELEASE_RESULTS_VALID,
        Guard.RELEASE_RESULTS_CONFORM,
        Guard.NO_OPEN_INVESTIGATION,
        Guard.APPROVER_INDEPENDENT,
        Guard.PASSAGE_COMPLIANT,
    }


def test_quarantine_is_reachable_from_every_state_but_rejected() -> None:
    for state in LotState:
        reachable = (state, LotEvent.QUARANTINE) in TRANSITIONS
        assert reachable == (state not in (LotState.REJECTED, LotState.QUARANTINED))


def test_rejected_is_left_only_by_reopening_the_record_under_a_deviation() -> None:
    assert allowed_events(LotState.REJECTED) == [LotEvent.REOPEN]


def test_every_state_is_reachable_from_in_production() -> None:
    seen = {LotState.IN_PRODUCTION}
    frontier = [LotState.IN_PRODUCTION]
    while frontier:
        state = frontier.pop()
        for (source, _event), (target, _guards) in TRANSITIONS.items():
            if source is state and target not in seen:
                seen.add(target)
                frontier.append(target)
    assert seen == set(LotState)


def test_state_table_rows_name_their_guards() -> None:
    rows = state_table()
    release = next(r for r in rows if r["event"] == "release")
    assert release["to"] == "released"
    assert "no investigation is open" in release["guards"]


def test_a_released_lot_in_quarantine_is_restored_not_resumed() -> None:
    suspended = LotFacts(release_suspended=True)
    assert next_state(LotState.QUARANTINED, LotEvent.RESTORE_RELEASE, suspended, "q") is LotState.RELEASED
    with pytest.raises(TransitionRefused, match="released before its quarantine"):
        next_state(LotState.QUARANTINED, LotEvent.RESUME, suspended, "q")


def test_a_lot_quarantined_before_release_cannot_be_restored_to_released() -> None:
    with pytest.raises(TransitionRefused, match="no release signature"):
        next_state(LotState.QUARANTINED, LotEvent.RESTORE_RELEASE, LotFacts(), "q")
    assert next_state(LotState.QUARANTINED, LotEvent.RESUME, LotFacts(), "q") is LotState.QA_DISPOSITION


@pytest.mark.parametrize("state", [LotState.RELEASED, LotState.REJECTED, LotState.QUARANTINED])
def test_a_disposed_record_reopens_only_under_an_approved_deviation(state: LotState) -> None:
    with pytest.raises(TransitionRefused, match="no QA-approved deviation"):
        next_state(state, LotEvent.REOPEN, LotFacts(), "q")
    assert next_state(state, LotEvent.REOPEN, LotFacts(reopening_deviation=True), "q") is LotState.QC_TESTING


def test_a_record_still_in_testing_is_not_reopened() -> None:
    for state in (LotState.IN_PRODUCTION, LotState.QC_TESTING, LotState.QC_REVIEW, LotState.QA_DISPOSITION):
        assert (state, LotEvent.REOPEN) not in TRANSITIONS
