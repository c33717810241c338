"""``secretome doctor``: committed imports without their file, partial writes and files without a record."""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from secretome.db.core.models import AuditEvent
from secretome.services import doctor, imports
from secretome.services.errors import Forbidden, ServiceError
from tests.conftest import PASSWORD
from tests.unit.instruments.samples import sample_bytes

pytestmark = pytest.mark.django_db(transaction=True)

BLU = "cell_counter/Beckman_ViCell_BLU_example01.csv"
CEDEX = "cell_counter/Roche_Cedex_HiRes_example_1.csv"


@pytest.fixture(autouse=True)
def _data_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SECRETOME_HOME", str(tmp_path))
    monkeypatch.setattr(imports, "DATABASE_LIMIT_BYTES", 16)  # every file in the data directory
    return tmp_path


def _path_of(content: bytes, home: Path) -> Path:
    digest = hashlib.sha256(content).hexdigest()
    return home / "raw" / digest[:2] / digest


def _codes(report: doctor.DoctorReport) -> list[str]:
    return [p.code for p in report.problems]


def test_a_store_that_matches_its_records_is_healthy(analyst: Any) -> None:
    imports.import_file(analyst, "counts", "blu.csv", sample_bytes(BLU))
    report = doctor.examine(grace_seconds=0)
    assert report.healthy and report.records_checked == 1 and report.files_scanned == 1


def test_a_committed_import_without_its_file_is_reported_and_reimporting_the_bytes_puts_it_back(
    analyst: Any, _data_directory: Path
) -> None:
    content = sample_bytes(BLU)
    record = imports.import_file(analyst, "counts", "blu.csv", content)
    path = _path_of(content, _data_directory)
    path.unlink()  # what a crash between commit and write did before files were written first
    report = doctor.examine(grace_seconds=0)
    assert _codes(report) == ["missing"] and not report.healthy
    assert "import the same bytes again" in report.problems[0].message
    again = imports.import_file_outcome(analyst, "put the evidence back", "blu.csv", content)
    assert (again.record.pk, again.created, again.restored_file) == (record.pk, False, True)
    assert path.read_bytes() == content
    event = AuditEvent.objects.get(action="restore_raw_file")
    assert (event.object_id, event.before["file"], event.reason) == (
        str(record.pk),
        "missing",
        "put the evidence back",
    )
    assert doctor.examine(grace_seconds=0).healthy
    third = imports.import_file_outcome(analyst, "again", "blu.csv", content)
    assert (third.created, third.restored_file) == (False, False)  # nothing to restore: nothing changes


def test_an_altered_file_is_reported_and_reimporting_the_bytes_replaces_it(
    analyst: Any, _data_directory: Path
) -> None:
    content = sample_bytes(BLU)
    imports.import_file(analyst, "counts", "blu.csv", content)
    path = _path_of(content, _data_directory)
    path.chmod(0o644)
    path.write_bytes(content.replace(b"CLB001", b"CLB999"))
    assert _codes(doctor.examine(grace_seconds=0)) == ["altered"]
    assert imports.import_file_outcome(analyst, "restore", "blu.csv", content).restored_file
    assert path.read_bytes() == content


def test_a_file_with_no_record_and_a_partial_write_are_reported_then_removed_with_an_audit_event(
    analyst: Any, qa_user: Any, _data_directory: Path
) -> None:
    imports.import_file(analyst, "counts", "blu.csv", sample_bytes(BLU))
    orphan = _path_of(sample_bytes(CEDEX), _data_directory)  # an import that was rolled back
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(sample_bytes(CEDEX))
    partial = _data_directory / "raw" / "ab" / ".incoming-x1y2"
    partial.parent.mkdir(parents=True, exist_ok=True)
    partial.write_bytes(b"half a fi")
    report = doctor.examine(grace_seconds=0)
    assert sorted(_codes(report)) == ["no_record", "partial_write"] and not report.healthy
    repaired = doctor.examine(repair=True, actor=qa_user, reason="orphans after a power cut", grace_seconds=0)
    assert repaired.healthy and all(p.repaired for p in repaired.problems) and len(repaired.problems) == 2
    assert not orphan.exists() and not partial.exists()
    event = AuditEvent.objects.get(action="repair", object_type="raw_store")
    assert event.reason == "orphans after a power cut"
    assert sorted(f["code"] for f in event.before["files"]) == ["no_record", "partial_write"]
    assert doctor.examine(grace_seconds=0).healthy


def test_a_checkpoint_write_cut_short_is_a_partial_write_too(qa_user: Any) -> None:
    from secretome.services.audit import checkpoint_path

    leftover = checkpoint_path().parent / ".incoming-abc123"
    leftover.write_bytes(b'{"sequence": 4')
    assert _codes(doctor.examine(grace_seconds=0)) == ["partial_write"]
    assert doctor.examine(repair=True, actor=qa_user, reason="tidy", grace_seconds=0).healthy
    assert not leftover.exists()


def test_young_files_are_left_alone_as_an_import_may_be_committing(
    analyst: Any, qa_user: Any, _data_directory: Path
) -> None:
    orphan = _path_of(b"in flight", _data_directory)
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"in flight")
    report = doctor.examine(repair=True, actor=qa_user, reason="tidy", grace_seconds=900)
    assert report.healthy and report.skipped_recent == 1 and orphan.exists()
    old = time.time() - 1000
    os.utime(orphan, (old, old))
    assert _codes(doctor.examine(grace_seconds=900)) == ["no_record"]


def test_only_admin_or_qa_may_repair_and_repair_needs_a_reason(analyst: Any, qa_user: Any) -> None:
    with pytest.raises(Forbidden):
        doctor.examine(repair=True, actor=analyst, reason="tidy")
    with pytest.raises(ServiceError, match="reason"):
        doctor.examine(repair=True, actor=qa_user, reason=" ")
    with pytest.raises(ServiceError, match="user"):
        doctor.examine(repair=True, reason="tidy")


def test_a_rolled_back_import_leaves_a_file_the_doctor_names_and_removes(
    analyst: Any, qa_user: Any, _data_directory: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def power_cut(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the process died before the commit")

    monkeypatch.setattr(imports, "record_event", power_cut)
    with pytest.raises(RuntimeError):
        imports.import_file(analyst, "counts", "blu.csv", sample_bytes(BLU))
    monkeypatch.undo()
    monkeypatch.setenv("SECRETOME_HOME", str(_data_directory))
    assert _codes(doctor.examine(grace_seconds=0)) == ["no_record"]
    assert doctor.examine(repair=True, actor=qa_user, reason="rolled back", grace_seconds=0).healthy


def test_doctor_on_the_command_line_reports_in_json_and_repairs_as_a_named_user(
    run_cli: Callable[..., Any], analyst: Any, qa_user: Any, _data_directory: Path
) -> None:
    orphan = _path_of(b"left behind", _data_directory)
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"left behind")
    found = run_cli("doctor", "--grace-seconds", "0", "--json")
    assert found.exit_code == 1
    assert [p["code"] for p in json.loads(found.stdout)["problems"]] == ["no_record"]
    human = run_cli("doctor", "--grace-seconds", "0")
    assert human.exit_code == 1 and "no_record" in human.stdout
    repaired = run_cli(
        "doctor",
        "--grace-seconds",
        "0",
        "--repair",
        "--as",
        "quinn",
        "--password-stdin",
        "--reason",
        "tidy",
        input=f"{PASSWORD}\n",
    )
    assert repaired.exit_code == 0, repaired.output
    assert not orphan.exists()
    assert run_cli("doctor", "--json").exit_code == 0
