"""kill -9 while signing lots never leaves a signature without its audit event (SQLite and PostgreSQL).

Each round starts a signing process, kills it at a random moment, then checks in fresh processes that every
committed signature has its "sign" event and the lot state agrees with it, that ``secretome audit verify``
passes (keyed chain and checkpoint) and that ``secretome doctor`` finds nothing lost (at most the temporary
file of a checkpoint write the kill interrupted). Bounded: fixed rounds.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.integration.test_import_crash import ROOT, SECRETOME, _run, site

__all__ = ["site"]

ROUNDS = 4


def test_kill_9_while_signing_never_leaves_a_signature_without_its_audit_event(site: dict[str, str]) -> None:
    support = [sys.executable, "-m", "tests.integration.sign_crash_support"]
    setup = _run([*support, "setup"], site)
    assert setup.returncode == 0, setup.stderr
    rng = random.Random(20261205)
    for _ in range(ROUNDS):
        worker = subprocess.Popen(
            [*support, "sign"],
            env=site,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert worker.stdout is not None
        assert worker.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 1.5))
        worker.send_signal(signal.SIGKILL)
        worker.communicate(timeout=30)
        checked = _run([*support, "check"], site)
        assert checked.returncode == 0, checked.stderr
        report = json.loads(checked.stdout)
        assert report["unevidenced"] == [] and report["disagreeing"] == [], report
        verified = _run([*SECRETOME, "audit", "verify", "--json"], site)
        assert verified.returncode == 0, verified.stdout + verified.stderr
        doctor = _run([*SECRETOME, "doctor", "--grace-seconds", "0", "--json"], site)
        assert doctor.returncode in (0, 1), doctor.stderr
        # A kill during the atomic write of the audit checkpoint may leave its temporary file (reported as a
        # partial write, removed by `doctor --repair`); anything else would be a loss.
        problems = json.loads(doctor.stdout)["problems"]
        assert [p for p in problems if p["code"] != "partial_write"] == [], problems
    assert report["signatures"] > 0, "no round got as far as a signature: the test proved nothing"
    assert Path(site["SECRETOME_HOME"]).exists()
