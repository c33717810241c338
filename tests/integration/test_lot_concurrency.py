"""Two people acting on one lot at the same moment: the lot row lock lets exactly one through.

On PostgreSQL two transactions run side by side; without ``SELECT ... FOR UPDATE`` on the lot both read
"QA disposition" and both write (a lot released and rejected at once). The guards are slowed down here so
that the two transactions overlap every time. SQLite serialises writers (IMMEDIATE transactions), so these
tests run on PostgreSQL only.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connections

from secretome.db.core.models import AuditEvent
from secretome.db.quality.models import Signature
from secretome.services import audit, release
from secretome.services.errors import GuardFailed
from secretome.services.release import lots as lot_service
from tests.integration.release_support import PASSWORD, lot_in_qc_review, sign

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _slow_guards(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hold each transaction between reading the lot's state and writing, so that two of them overlap."""
    facts = lot_service.lot_facts

    def slow(lot: Any) -> Any:
        answer = facts(lot)
        time.sleep(0.5)
        return answer

    monkeypatch.setattr(lot_service, "lot_facts", slow)


def _at_once(*calls: Callable[[], Any]) -> list[Any]:
    """Run ``calls`` in threads that start together; each answer is the return value or the exception."""
    start = threading.Barrier(len(calls))
    answers: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            start.wait()
            answers[index] = call()
        except Exception as exc:  # the refusal is the answer under test
            answers[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return answers


def test_release_and_reject_signed_at_once_let_exactly_one_through(
    qa_user: Any, analyst: Any, reviewer: Any, make_user: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    second_qa = make_user("qiana", "qa", "Qiana QA")
    lot = lot_in_qc_review(qa_user, analyst)
    sign(reviewer, lot.number, "reviewed")
    shown = release.qc_record_sha256(release.get_lot(lot.number))
    _slow_guards(monkeypatch)

    answers = _at_once(
        lambda: release.sign_lot(qa_user, "release", lot.number, "released", PASSWORD, expected_sha256=shown),
        lambda: release.sign_lot(
            second_qa, "reject", lot.number, "rejected", PASSWORD, expected_sha256=shown
        ),
    )

    refused = [a for a in answers if isinstance(a, Exception)]
    assert len(refused) == 1, answers
    assert isinstance(refused[0], GuardFailed)
    assert "a lot in 'released' cannot reject" in str(refused[0]) or (
        "a lot in 'rejected' cannot release" in str(refused[0])
    )
    dispositions = Signature.objects.filter(record_id=lot.number, meaning__in=["released", "rejected"])
    assert dispositions.count() == 1
    assert release.state_of(release.get_lot(lot.number)).value == dispositions.get().meaning
    assert audit.verify().intact


def test_the_same_step_taken_twice_at_once_happens_once(
    qa_user: Any, analyst: Any, reviewer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    lot = lot_in_qc_review(qa_user, analyst)
    sign(reviewer, lot.number, "reviewed")
    _slow_guards(monkeypatch)

    answers = _at_once(
        lambda: release.transition(reviewer, "recheck", lot.number, "return to testing"),
        lambda: release.transition(qa_user, "recheck", lot.number, "return to testing"),
    )

    assert sorted(type(a).__name__ for a in answers) == ["GuardFailed", "LotState"], answers
    refused = next(a for a in answers if isinstance(a, GuardFailed))
    assert "a lot in 'QC testing' cannot return to testing" in str(refused)
    steps = AuditEvent.objects.filter(object_id=lot.number, action="return to testing")
    assert steps.count() == 1
    assert release.lot_status(release.get_lot(lot.number))["record_version"] == 2
