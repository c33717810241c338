"""A process that signs lots until it is killed, for the kill -9 signing test.

``setup`` initialises the data directory in ``$SECRETOME_HOME`` (and ``DATABASE_URL`` when set) with users,
an approved specification and lots in QC review; ``sign`` signs them as reviewed one after another until the
parent kills it; ``check`` prints, as JSON, every committed signature lacking its "sign" audit event and every
lot whose state disagrees with its signatures.
"""

from __future__ import annotations

import json
import sys

from tests.integration.release_support import PASSWORD

LOTS = 40


def _setup() -> None:
    import secretome.api as stm

    stm.open_site(create=True)
    from secretome.services import users
    from secretome.services.audit import SYSTEM_ACTOR
    from tests.integration.release_support import approved_specification, conforming_results, make_lot

    admin = users.add_user(
        SYSTEM_ACTOR, "crash test", username="root-admin", full_name="Root", role="admin", password=PASSWORD
    )
    qa = users.add_user(
        admin, "crash test", username="quinn", full_name="Quinn", role="qa", password=PASSWORD
    )
    analyst = users.add_user(
        admin, "crash test", username="ana", full_name="Ana", role="analyst", password=PASSWORD
    )
    users.add_user(admin, "crash test", username="rev", full_name="Rev", role="reviewer", password=PASSWORD)
    from secretome.services import release

    approved_specification(qa)
    for _ in range(LOTS):
        lot = make_lot(analyst)
        conforming_results(analyst, lot.number)
        release.transition(analyst, "submit", lot.number, "submit for review")


def _sign_until_killed() -> None:
    import secretome.api as stm

    stm.open_site()
    from django.contrib.auth.models import User

    from secretome.db.genealogy.models import Lot
    from secretome.services import release
    from secretome.services.errors import ServiceError

    reviewer = User.objects.get(username="rev")
    print("ready", flush=True)
    for lot in Lot.objects.order_by("number"):
        shown = release.qc_record_sha256(lot)
        try:
            release.sign_lot(reviewer, "crash test", lot.number, "reviewed", PASSWORD, expected_sha256=shown)
        except ServiceError:
            continue  # signed in an earlier round
        print(lot.number, flush=True)


def _check() -> None:
    import secretome.api as stm

    stm.open_site()
    from secretome.db.core.models import AuditEvent
    from secretome.db.quality.models import Signature
    from secretome.services import release

    unevidenced = [
        f"{s.record_type}:{s.record_id}"
        for s in Signature.objects.all()
        if not AuditEvent.objects.filter(
            action="sign", object_type=s.record_type, object_id=s.record_id
        ).exists()
    ]
    signed = {s.record_id for s in Signature.objects.filter(voided_at__isnull=True)}
    # One event per signature, no more: an event whose signature rolled back would be just as wrong.
    if AuditEvent.objects.filter(action="sign").count() != Signature.objects.count():
        unevidenced.append("sign events and signatures differ in number")
    disagreeing = []
    from secretome.db.genealogy.models import Lot

    for lot in Lot.objects.all():
        # A reviewed signature and the move to QA disposition commit together, or neither does.
        if (release.state_of(lot) == "QA disposition") != (lot.number in signed):
            disagreeing.append(lot.number)
    print(json.dumps({"signatures": len(signed), "unevidenced": unevidenced, "disagreeing": disagreeing}))


if __name__ == "__main__":
    {"setup": _setup, "sign": _sign_until_killed, "check": _check}[sys.argv[1]]()
