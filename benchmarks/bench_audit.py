"""The audit trail's anchoring cost: a committed event with its signed checkpoint, and verifying the chain.

Builds a throw-away SQLite site and reports, in the same run:

* one transaction writing one audit event, committed, with the checkpoint written after the commit
  (HMAC signature, temporary file, fsync, rename, directory fsync) against the same transaction with the
  checkpoint left out (the baseline), and their ratio;
* ``audit.verify()`` over ``EVENTS`` events (keyed hashes and the checkpoint comparison), per event.

Run: ``make benchmark`` or ``.venv/bin/python -m benchmarks audit`` (``EVENTS=2000`` for a shorter run).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

ROUNDS = 200


def main() -> None:
    events = int(os.environ.get("EVENTS", "5000"))
    with tempfile.TemporaryDirectory() as home:
        os.environ.pop("DATABASE_URL", None)
        from secretome.demo.context import DemoContext

        DemoContext.initialise(Path(home), None)
        from django.db import transaction

        from secretome.services import audit

        def commit_one(index: int) -> None:
            with transaction.atomic():
                audit.record_event(
                    audit.SYSTEM_ACTOR, "create", "lot", f"L{index}", "benchmark", None, {"i": index}
                )

        def timed(rounds: int, start: int) -> float:
            begin = time.perf_counter()
            for index in range(start, start + rounds):
                commit_one(index)
            return (time.perf_counter() - begin) / rounds * 1000

        anchored = timed(ROUNDS, 0)
        original = audit._checkpoint_on_commit
        audit._checkpoint_on_commit = lambda: None
        try:
            baseline = timed(ROUNDS, ROUNDS)
        finally:
            audit._checkpoint_on_commit = original
        commit_one(2 * ROUNDS)  # the checkpoint catches up with the baseline's events
        print(f"commit of one event without checkpoint (baseline): {baseline:6.2f} ms")
        print(
            f"commit of one event with signed checkpoint:        {anchored:6.2f} ms ({anchored / baseline:.2f}x)"
        )

        with transaction.atomic():
            for index in range(max(0, events - len(audit.events()))):
                audit.record_event(
                    audit.SYSTEM_ACTOR, "create", "lot", f"B{index}", "benchmark", None, {"i": index}
                )
        begin = time.perf_counter()
        report = audit.verify()
        seconds = time.perf_counter() - begin
        assert report.intact, report.to_dict()
        print(
            f"audit verify over {report.events_checked} events: {seconds * 1000:7.1f} ms "
            f"({seconds / report.events_checked * 1e6:.1f} us per event)"
        )
