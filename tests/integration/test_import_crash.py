"""kill -9 during imports never leaves a committed import without its raw file (SQLite and PostgreSQL).

Each round starts an importing process, kills it at a random moment, and asks ``secretome doctor`` and
``secretome audit verify`` (fresh processes) about what is on disk. Bounded: a fixed number of rounds.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ROUNDS = 5
SECRETOME = [sys.executable, "-c", "from secretome.cli import main; main()"]


def _run(args: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def site(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE"}}
    env["SECRETOME_HOME"] = str(tmp_path / "home")
    if request.param == "sqlite":
        yield env
        return
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        pytest.skip("PostgreSQL runs when DATABASE_URL is set (make test, CI)")
    import psycopg

    name = f"secretome_crash_{uuid.uuid4().hex[:10]}"
    base, _, _ = url.rpartition("/")
    maintenance = f"{base}/postgres"  # the named database may not exist: pytest makes test_<name>
    with psycopg.connect(maintenance, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    env["DATABASE_URL"] = f"{base}/{name}"
    try:
        yield env
    finally:
        with psycopg.connect(maintenance, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_kill_9_during_imports_never_leaves_a_committed_import_without_its_file(site: dict[str, str]) -> None:
    setup = _run([sys.executable, "-m", "tests.integration.crash_support", "setup"], site)
    assert setup.returncode == 0, setup.stderr
    rng = random.Random(20261205)
    imported_before_kill: list[int] = []
    for _ in range(ROUNDS):
        worker = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.crash_support", "import"],
            env=site,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert worker.stdout is not None
        assert worker.stdout.readline().strip() == "ready"  # past start-up, about to import
        # Somewhere in the imports, at a different moment each round.
        time.sleep(rng.uniform(0.0, 2.5))
        worker.send_signal(signal.SIGKILL)
        out, _ = worker.communicate(timeout=30)
        imported_before_kill.append(len(out.splitlines()))
        checked = _run([*SECRETOME, "doctor", "--grace-seconds", "0", "--json"], site)
        assert checked.returncode in (0, 1), checked.stderr
        report = json.loads(checked.stdout)
        lost = [p for p in report["problems"] if p["code"] in {"missing", "altered"}]
        assert lost == [], lost
        verified = _run([*SECRETOME, "audit", "verify", "--json"], site)
        assert verified.returncode == 0, verified.stdout + verified.stderr
    assert report["records_checked"] > 0, "no round got as far as an import: the test proved nothing"
