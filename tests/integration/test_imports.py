"""Importing instrument files: evidence kept, idempotent, all or nothing."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from secretome.db.core.models import AuditEvent
from secretome.db.imports.models import InstrumentImport, InstrumentMeasurement, RawFile
from secretome.services import doctor, imports
from secretome.services.errors import Forbidden, ServiceError
from tests.unit.instruments.samples import sample_bytes

pytestmark = pytest.mark.django_db

BLU = "cell_counter/Beckman_ViCell_BLU_example01.csv"


@pytest.fixture(autouse=True)
def _data_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SECRETOME_HOME", str(tmp_path))
    return tmp_path


def _raw_files(home: Path) -> list[Path]:
    return [p for p in (home / "raw").rglob("*") if p.is_file()]


def test_import_stores_raw_file_import_measurements_and_one_audit_event(analyst: Any) -> None:
    content = sample_bytes(BLU)
    record = imports.import_file(analyst, "culture counts", "blu.csv", content)
    assert record.format == "vi-cell-blu"
    assert record.imported_by == analyst
    assert record.reader.startswith("allotropy/")
    assert record.reader_version
    assert record.raw_file.sha256 == hashlib.sha256(content).hexdigest()
    assert imports.raw_content(record.raw_file) == content
    viable = record.measurements.get(quantity="viable cell density", sample="CLB001")
    assert viable.value == 0.75
    assert viable.unit == "10^6 cells/mL"
    assert record.measurements.filter(quantity="viability").count() == 10
    event = AuditEvent.objects.get(object_type="instrument_import", object_id=str(record.pk))
    assert event.after["sha256"] == record.raw_file.sha256
    assert event.reason == "culture counts"


def test_importing_the_same_bytes_again_returns_the_first_import_and_changes_nothing(analyst: Any) -> None:
    content = sample_bytes(BLU)
    first = imports.import_file(analyst, "counts", "blu.csv", content)
    counts = (
        RawFile.objects.count(),
        InstrumentImport.objects.count(),
        InstrumentMeasurement.objects.count(),
    )
    events = AuditEvent.objects.count()
    again = imports.import_file_outcome(analyst, "counts again", "renamed.csv", content)
    assert again.record.pk == first.pk
    assert again.created is False
    assert (
        RawFile.objects.count(),
        InstrumentImport.objects.count(),
        InstrumentMeasurement.objects.count(),
    ) == counts
    assert AuditEvent.objects.count() == events


def test_an_unreadable_file_is_refused_naming_the_file_and_stores_nothing(
    analyst: Any, _data_directory: Path
) -> None:
    with pytest.raises(
        ServiceError, match=r"^notes\.txt: not a supported instrument file; supported formats: "
    ):
        imports.import_file(analyst, "counts", "notes.txt", b"just some notes\n")
    assert RawFile.objects.count() == InstrumentImport.objects.count() == 0
    assert _raw_files(_data_directory) == []


def test_a_failure_after_the_rows_were_written_rolls_back_every_row_and_leaves_only_an_orphan_file(
    analyst: Any,
    _data_directory: Path,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    monkeypatch.setattr(imports, "DATABASE_LIMIT_BYTES", 16)  # force the data-directory path

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("disk full while writing the audit event")

    monkeypatch.setattr(imports, "record_event", broken)
    events = AuditEvent.objects.count()
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        imports.import_file(analyst, "counts", "blu.csv", sample_bytes(BLU))
    assert (
        RawFile.objects.count()
        == InstrumentImport.objects.count()
        == InstrumentMeasurement.objects.count()
        == 0
    )
    assert AuditEvent.objects.count() == events
    # The evidence is written before the commit, so a rollback leaves a file that no record names: the
    # doctor reports it (and removes it on request), it never stands for an import.
    (orphan,) = _raw_files(_data_directory)
    assert orphan.name == hashlib.sha256(sample_bytes(BLU)).hexdigest()
    report = doctor.examine(grace_seconds=0)
    assert [(p.code, p.sha256) for p in report.problems] == [("no_record", orphan.name)]


def test_a_large_file_is_on_disk_under_its_hash_before_the_import_commits(
    analyst: Any,
    _data_directory: Path,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    monkeypatch.setattr(imports, "DATABASE_LIMIT_BYTES", 16)
    content = sample_bytes(BLU)
    digest = hashlib.sha256(content).hexdigest()
    path = _data_directory / "raw" / digest[:2] / digest
    with django_capture_on_commit_callbacks(execute=False):
        record = imports.import_file(analyst, "counts", "blu.csv", content)
        assert path.read_bytes() == content  # on disk, synced, before the commit
        assert oct(path.stat().st_mode & 0o777) == "0o444"
    assert record.raw_file.stored_in == "directory"
    assert record.raw_file.content is None
    assert imports.raw_content(record.raw_file) == content
    assert [p.name for p in path.parent.iterdir()] == [digest]  # no temporary file left


def test_an_altered_stored_copy_is_detected_on_read(
    analyst: Any,
    _data_directory: Path,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    monkeypatch.setattr(imports, "DATABASE_LIMIT_BYTES", 16)
    with django_capture_on_commit_callbacks(execute=True):
        record = imports.import_file(analyst, "counts", "blu.csv", sample_bytes(BLU))
    path = _data_directory / "raw" / record.raw_file.sha256[:2] / record.raw_file.sha256
    path.chmod(0o644)
    path.write_bytes(b"tampered")
    with pytest.raises(ServiceError, match="does not match its SHA-256"):
        imports.raw_content(record.raw_file)


def test_a_reviewer_may_import_but_an_admin_may_not(admin_user: Any, reviewer: Any) -> None:
    assert imports.import_file(reviewer, "counts", "blu.csv", sample_bytes(BLU)).pk
    with pytest.raises(Forbidden):
        imports.import_file(
            admin_user, "counts", "xr.txt", sample_bytes("cell_counter/Beckman_ViCell_XR_2.06_example07.txt")
        )


def test_an_import_needs_a_reason(analyst: Any) -> None:
    with pytest.raises(ServiceError, match="reason"):
        imports.import_file(analyst, "  ", "blu.csv", sample_bytes(BLU))


def test_inspect_reads_without_writing(analyst: Any) -> None:
    reading = imports.inspect_file(
        "xr.txt", sample_bytes("cell_counter/Beckman_ViCell_XR_2.06_example07.txt")
    )
    assert reading.format == "vi-cell-xr"
    assert RawFile.objects.count() == 0


def test_a_versioned_layout_gives_each_imported_well_its_role_and_the_potency_tables(analyst: Any) -> None:
    from secretome.domain.plate_layout import PlateLayout, WellAssignment, WellRole

    wells = {f"A{c}": WellAssignment(WellRole.STANDARD, "STD", 2000.0) for c in (1, 2, 3)}
    wells |= {f"H{c}": WellAssignment(WellRole.BLANK) for c in (1, 2, 3)}
    first = imports.save_layout(analyst, "BCA layout", PlateLayout("BCA", 96, wells))
    wells["H3"] = WellAssignment(WellRole.EXCLUDED)
    second = imports.save_layout(analyst, "H3 unusable", PlateLayout("BCA", 96, wells))
    assert (first.version, second.version) == (1, 2)
    assert second.previous_version == first
    assert imports.get_layout("BCA") == second
    assert imports.get_layout("BCA@1") == first
    with pytest.raises(ServiceError, match="already has exactly this definition"):
        imports.save_layout(analyst, "again", PlateLayout("BCA", 96, wells))
    record = imports.import_file(
        analyst,
        "BCA plate",
        "gen5.txt",
        sample_bytes("plate_reader/BioTek_Gen5_3.12_abs_stdcurve_singleplate.txt"),
        layout="BCA",
    )
    assert record.layout == second
    a1 = record.measurements.get(quantity="absorbance", well="A1")
    assert (a1.role, a1.level) == ("standard", 2000.0)
    tables = imports.tables_for_import(record, "absorbance")
    assert tables.standards.wells == ("A1", "A2", "A3")
    assert list(tables.standards.response) == [3.337, 3.394, 3.378]  # Gen5 Results block, row A
    assert tables.excluded_wells == ("H3",)


def test_an_import_links_to_a_lot_by_number_and_an_unknown_lot_is_refused(analyst: Any) -> None:
    with pytest.raises(ServiceError, match="lot: 'NO-SUCH-LOT' does not exist"):
        imports.import_file(analyst, "counts", "blu.csv", sample_bytes(BLU), lot="NO-SUCH-LOT")
    assert InstrumentImport.objects.count() == 0


def test_an_import_linked_to_a_lot_is_listed_with_that_lot(analyst: Any, qa_user: Any) -> None:
    from tests.integration.test_genealogy_services import (
        Lab,
        approved_recipe,
        collect,
        condition,
        eligible_donor,
        grow,
        isolate,
    )

    lab = Lab(analyst, qa_user)
    approved_recipe(lab)
    passage = grow(lab, isolate(lab, eligible_donor(lab)), 2)
    lot = collect(lab, condition(lab, passage))
    record = imports.import_file(
        analyst,
        "CM particle count",
        "nta.csv",
        sample_bytes("nta/NanoSight_NTA3.4_ExperimentSummary_beads2.csv"),
        lot=lot.number,
    )
    assert record.lot == lot
    assert imports.imports_for_lot(lot.number) == [record]
    event = AuditEvent.objects.get(object_type="instrument_import", object_id=str(record.pk))
    assert event.after["lot"] == lot.number


def test_two_imports_of_the_same_bytes_at_once_refuse_the_second_cleanly(analyst: Any) -> None:
    from django.utils import timezone

    content = sample_bytes(BLU)
    # What the other transaction has written but not yet finished: the raw file without its import.
    RawFile.objects.create(
        sha256=hashlib.sha256(content).hexdigest(),
        size=len(content),
        original_name="blu.csv",
        content=content,
        stored_in="database",
        received_at=timezone.now(),
        received_by=analyst,
    )
    with pytest.raises(ServiceError, match="being imported at this moment"):
        imports.import_file(analyst, "counts", "blu.csv", content)
    assert InstrumentImport.objects.count() == 0


def test_metadata_without_a_finite_value_is_stored_as_null(analyst: Any) -> None:
    content = sample_bytes("nta/NanoSight_NTA3.4_ExperimentSummary_beads2.csv")
    first_bin = content.index(b"\n0.5,") + 1
    # A single size bin (no bin width), with the percentile table the file declares kept whole.
    one_bin = content[: content.index(b"\n", first_bin) + 1] + content[content.index(b"\nPercentile,") + 1 :]
    record = imports.import_file(analyst, "EV count", "one-bin.csv", one_bin)
    assert record.metadata["bins"] == 1
    assert record.metadata["bin width (nm)"] is None
