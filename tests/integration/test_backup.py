"""``secretome backup`` and ``secretome restore``: database, raw store and checkpoint, verified after restore.

In-process on the test database (SQLite, and PostgreSQL with DATABASE_URL), and once end to end between
two data directories in fresh processes.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, transaction

from secretome.config import AUDIT_KEY_FILE, SECRET_KEY_FILE
from secretome.db.core import triggers
from secretome.db.core.models import AuditEvent
from secretome.db.imports.models import InstrumentImport
from secretome.services import audit, backup, imports
from secretome.services.audit import SYSTEM_ACTOR, record_event
from secretome.services.backup_files import install_keys
from secretome.services.errors import ServiceError
from tests.unit.instruments.samples import sample_bytes

pytestmark = pytest.mark.django_db(transaction=True)

BLU = "cell_counter/Beckman_ViCell_BLU_example01.csv"
CEDEX = "cell_counter/Roche_Cedex_HiRes_example_1.csv"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _data_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("SECRETOME_HOME", str(home))
    monkeypatch.setattr(imports, "DATABASE_LIMIT_BYTES", 16)  # the raw store gets every file
    return home


@pytest.fixture
def restorable() -> Any:
    """Restoring replaces the database; its triggers come back with it and go again before the next test."""
    yield
    triggers.remove(connection)
    triggers.install(connection)


def _raw(content: bytes, home: Path) -> Path:
    digest = hashlib.sha256(content).hexdigest()
    return home / "raw" / digest[:2] / digest


def test_a_backup_restored_after_later_changes_brings_back_the_database_files_and_checkpoint(
    analyst: Any, _data_directory: Path, tmp_path: Path, restorable: Any
) -> None:
    first = imports.import_file(analyst, "counts", "blu.csv", sample_bytes(BLU))
    outcome = backup.backup(tmp_path / "backup")
    assert outcome.database == connection.vendor and outcome.files >= 3
    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text())
    assert f"files/raw/{first.raw_file.sha256[:2]}/{first.raw_file.sha256}" in manifest["files"]
    assert not (tmp_path / "backup" / "keys").exists()  # no keys without --include-keys
    events_at_backup = AuditEvent.objects.count()
    imports.import_file(analyst, "later", "cedex.csv", sample_bytes(CEDEX))
    _raw(sample_bytes(BLU), _data_directory).unlink()  # the disk lost a file too

    with pytest.raises(ServiceError, match="--force"):
        backup.restore(tmp_path / "backup", "disk failure")
    restored = backup.restore(tmp_path / "backup", "disk failure", force=True)

    assert restored.intact, restored.to_dict()
    assert restored.audit["events_checked"] == events_at_backup
    assert restored.raw_files == {"records_checked": 1, "problems": []}
    assert list(InstrumentImport.objects.values_list("filename", flat=True)) == ["blu.csv"]
    assert _raw(sample_bytes(BLU), _data_directory).read_bytes() == sample_bytes(BLU)
    last = AuditEvent.objects.order_by("-sequence").first()
    assert last is not None and (last.action, last.reason) == ("restore", "disk failure")
    assert last.before["checkpoint"]["sequence"] > events_at_backup  # the head that was given up
    assert audit.verify().intact  # the restore event continues the restored chain and its checkpoint


def test_a_damaged_backup_is_refused_naming_the_file_before_anything_is_replaced(
    analyst: Any, tmp_path: Path
) -> None:
    record = imports.import_file(analyst, "counts", "blu.csv", sample_bytes(BLU))
    backup.backup(tmp_path / "backup")
    copy = tmp_path / "backup" / "files" / "raw" / record.raw_file.sha256[:2] / record.raw_file.sha256
    damaged = bytearray(copy.read_bytes())
    damaged[100] ^= 0x01
    copy.write_bytes(bytes(damaged))
    events = AuditEvent.objects.count()
    with pytest.raises(ServiceError, match=rf"{record.raw_file.sha256}: does not match its SHA-256"):
        backup.restore(tmp_path / "backup", "test", force=True)
    assert AuditEvent.objects.count() == events


def test_restore_reports_a_raw_file_that_does_not_match_its_record(
    analyst: Any, _data_directory: Path, tmp_path: Path, restorable: Any
) -> None:
    imports.import_file(analyst, "counts", "blu.csv", sample_bytes(BLU))
    path = _raw(sample_bytes(BLU), _data_directory)
    path.chmod(0o644)
    path.write_bytes(b"altered before the backup was taken")
    backup.backup(tmp_path / "backup")
    restored = backup.restore(tmp_path / "backup", "test", force=True)
    assert not restored.intact
    assert [p["code"] for p in restored.raw_files["problems"]] == ["altered"]


def test_the_keys_are_copied_only_on_request(analyst: Any, tmp_path: Path) -> None:
    backup.backup(tmp_path / "with", include_keys=True)
    keys = tmp_path / "with" / "keys"
    assert sorted(p.name for p in keys.iterdir()) == sorted([SECRET_KEY_FILE, AUDIT_KEY_FILE])
    assert (keys / AUDIT_KEY_FILE).read_text().strip() == audit.audit_key().hex()


def test_keys_from_a_backup_fill_an_empty_data_directory_but_never_replace_another_audit_key(
    tmp_path: Path,
) -> None:
    source = tmp_path / "backup"
    (source / "keys").mkdir(parents=True)
    (source / "keys" / AUDIT_KEY_FILE).write_text("ab" * 32)
    (source / "keys" / SECRET_KEY_FILE).write_text("secret")
    fresh = tmp_path / "fresh"
    assert sorted(install_keys(source, fresh)) == sorted([AUDIT_KEY_FILE, SECRET_KEY_FILE])
    assert (fresh / AUDIT_KEY_FILE).stat().st_mode & 0o777 == 0o600
    assert install_keys(source, fresh) == []
    (source / "keys" / AUDIT_KEY_FILE).write_text("cd" * 32)
    with pytest.raises(ValueError, match="different audit key"):
        install_keys(source, fresh)


def test_backup_refuses_a_destination_that_is_not_empty(analyst: Any, tmp_path: Path) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "something").write_text("x")
    with pytest.raises(ServiceError, match="new or empty directory"):
        backup.backup(tmp_path / "full")


def test_backup_and_restore_on_the_command_line(
    run_cli: Callable[..., Any], analyst: Any, tmp_path: Path, restorable: Any
) -> None:
    with transaction.atomic():
        record_event(SYSTEM_ACTOR, "create", "lot", "L1", "test")
    made = run_cli("backup", str(tmp_path / "b"), "--json")
    assert made.exit_code == 0, made.output
    assert json.loads(made.stdout)["include_keys"] is False
    refused = run_cli("restore", str(tmp_path / "b"), "--reason", "drill")
    assert refused.exit_code == 2 and "--force" in refused.stderr
    restored = run_cli("restore", str(tmp_path / "b"), "--reason", "drill", "--force", "--json")
    assert restored.exit_code == 0, restored.output
    payload = json.loads(restored.stdout)
    assert payload["intact"] is True and payload["audit"]["findings"] == []
    missing = run_cli("restore", str(tmp_path / "nothing"), "--reason", "drill")
    assert missing.exit_code == 2 and "manifest" in missing.stderr


def test_a_site_moves_to_a_new_data_directory_with_its_keys_end_to_end(tmp_path: Path) -> None:
    """Two data directories, fresh processes, SQLite: init, import, backup --include-keys, restore, verify."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DJANGO_SETTINGS_MODULE"}}
    cli = [sys.executable, "-c", "from secretome.cli import main; main()"]

    def run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(args) if args[0] == sys.executable else [*cli, *args],
            env={**env, "SECRETOME_HOME": str(home)},
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )

    old, new = tmp_path / "old", tmp_path / "new"
    assert run(old, sys.executable, "-m", "tests.integration.crash_support", "setup").returncode == 0
    made = run(old, "backup", str(tmp_path / "b"), "--include-keys", "--json")
    assert made.returncode == 0, made.stderr
    restored = run(new, "restore", str(tmp_path / "b"), "--reason", "move to new server", "--json")
    assert restored.returncode == 0, restored.stdout + restored.stderr
    payload = json.loads(restored.stdout)
    assert payload["intact"] and sorted(payload["keys_installed"]) == sorted(
        [AUDIT_KEY_FILE, SECRET_KEY_FILE]
    )
    assert (new / AUDIT_KEY_FILE).read_bytes() == (old / AUDIT_KEY_FILE).read_bytes()
    verified = run(new, "audit", "verify", "--json")
    assert verified.returncode == 0 and json.loads(verified.stdout)["intact"]
    not_a_backup = run(tmp_path / "third", "restore", str(tmp_path / "b" / "missing"), "--reason", "x")
    assert not_a_backup.returncode == 2
