"""A result links to the instrument import (and so the raw file) its value comes from."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from secretome.db.core.models import AuditEvent
from secretome.db.quality.models import Result
from secretome.services import certificates, imports, release
from secretome.services.errors import NotFound, ServiceError
from tests.integration.raw_data_support import (  # noqa: F401 (fixtures)
    PLATE,
    data_directory_fixture,
    lot_fixture,
    plate_fixture,
)
from tests.integration.release_support import PASSWORD, approved_specification, conforming_results, make_lot
from tests.unit.instruments.samples import sample_bytes

pytestmark = pytest.mark.django_db


def _written() -> tuple[int, int]:
    return Result.objects.count(), AuditEvent.objects.count()


def test_a_result_linked_by_sha256_shows_the_raw_file_on_the_lot_status(
    lot: Any, plate: Any, analyst: Any
) -> None:
    sha256 = plate.raw_file.sha256
    result = release.add_result(
        analyst, "ELISA", lot.number, "vegf", "1520", source="import", instrument_import=sha256
    )
    assert result.instrument_import == plate
    row = next(r for r in release.lot_status(lot)["attributes"] if r["attribute"] == "vegf")
    assert row["result"]["instrument_import"] == {
        "import": plate.pk,
        "file_name": "vegf_plate.csv",
        "sha256": sha256,
    }


def test_a_result_linked_by_import_id_carries_the_link_in_its_audit_event(
    lot: Any, plate: Any, analyst: Any
) -> None:
    result = release.add_result(analyst, "ELISA", lot.number, "vegf", "1520", instrument_import=str(plate.pk))
    event = AuditEvent.objects.filter(action="add result", object_id=lot.number).latest("sequence")
    assert event.after["id"] == result.pk
    assert event.after["instrument_import"]["import"] == plate.pk
    assert event.after["instrument_import"]["sha256"] == plate.raw_file.sha256


def test_the_link_is_part_of_the_signed_qc_record(lot: Any, plate: Any, analyst: Any) -> None:
    release.add_result(analyst, "ELISA", lot.number, "vegf", "1520", instrument_import=plate)
    [vegf] = [r for r in release.qc_record(lot)["results"] if r["attribute"] == "vegf"]
    assert vegf["instrument_import"]["sha256"] == plate.raw_file.sha256


def test_a_result_without_a_link_keeps_its_record_as_before(lot: Any, analyst: Any) -> None:
    result = release.add_result(analyst, "QC", lot.number, "cd73", "98.6", raw_file="notebook p. 12")
    assert result.instrument_import is None
    assert "instrument_import" not in result.to_dict()
    assert result.to_dict()["raw_file"] == "notebook p. 12"


@pytest.mark.parametrize("reference", ["999999", "ab" * 32])
def test_an_unknown_import_is_refused_naming_the_field_and_nothing_is_written(
    lot: Any, plate: Any, analyst: Any, reference: str
) -> None:
    before = _written()
    with pytest.raises(NotFound, match=r"^instrument_import: "):
        release.add_result(analyst, "ELISA", lot.number, "vegf", "1520", instrument_import=reference)
    assert _written() == before


def test_a_reference_that_is_neither_an_id_nor_a_sha256_is_refused(lot: Any, analyst: Any) -> None:
    before = _written()
    with pytest.raises(ServiceError, match=r"^instrument_import: "):
        release.add_result(analyst, "ELISA", lot.number, "vegf", "1520", instrument_import="plate1.csv")
    assert _written() == before


def test_an_import_that_belongs_to_another_lot_is_refused(lot: Any, analyst: Any) -> None:
    other = make_lot(analyst)
    record = imports.import_file(analyst, "plate", "plate.csv", sample_bytes(PLATE), lot=other.number)
    before = _written()
    with pytest.raises(ServiceError, match=f"^instrument_import: .*belongs to lot {other.number}"):
        release.add_result(analyst, "ELISA", lot.number, "vegf", "1520", instrument_import=record.pk)
    assert _written() == before


def test_the_certificate_names_the_raw_file_with_its_sha256(
    lot: Any, plate: Any, analyst: Any, reviewer: Any, qa_user: Any
) -> None:
    conforming_results(analyst, lot.number)
    release.add_result(analyst, "ELISA", lot.number, "vegf", "1520", instrument_import=plate.pk)
    release.transition(analyst, "submit", lot.number, "submit for review")
    release.sign_lot(
        reviewer,
        "review",
        lot.number,
        "reviewed",
        PASSWORD,
        expected_sha256=release.qc_record_sha256(release.get_lot(lot.number)),
    )
    release.sign_lot(
        qa_user,
        "release",
        lot.number,
        "released",
        PASSWORD,
        expected_sha256=release.qc_record_sha256(release.get_lot(lot.number)),
    )
    certificate = certificates.issue_certificate(qa_user, "CoA", lot.number)
    pdf = certificates.certificate_pdf(certificate)
    embedded = json.loads(certificates.embedded_json(pdf) or "null")
    by_code = {a["code"]: a for a in embedded["attributes"]}
    assert by_code["vegf"]["raw_data"] == {
        "import": plate.pk,
        "file_name": "vegf_plate.csv",
        "sha256": plate.raw_file.sha256,
    }
    assert by_code["cd73"]["raw_data"] is None
    html = certificates.render_html(embedded, [], for_pdf=True)
    assert "vegf_plate.csv" in html and plate.raw_file.sha256[:12] in html
    assert certificates.verify_certificate(pdf)["current"] is True


@pytest.mark.django_db(transaction=True)
def test_result_add_takes_the_import_by_sha256_and_lot_status_shows_it(
    run_cli: Callable[..., Any], qa_user: Any, analyst: Any
) -> None:
    approved_specification(qa_user)
    lot = make_lot(analyst)
    record = imports.import_file(analyst, "plate", "vegf_plate.csv", sample_bytes(PLATE))

    def add(reference: str) -> Any:
        return run_cli(
            "result",
            "add",
            lot.number,
            "vegf",
            "1520",
            "--import",
            reference,
            "--reason",
            "ELISA",
            "--as",
            "ana",
            "--password-stdin",
            "--json",
            input=PASSWORD + "\n",
        )

    refused = add("0" * 64)
    assert refused.exit_code == 2
    assert refused.stderr.strip().count("\n") == 0 and "instrument_import" in refused.stderr
    added = add(record.raw_file.sha256)
    assert added.exit_code == 0, added.output
    assert json.loads(added.stdout)["instrument_import"]["import"] == record.pk
    shown = run_cli("lot", "status", lot.number)
    assert shown.exit_code == 0
    assert f"raw data of vegf: vegf_plate.csv (import #{record.pk}" in " ".join(shown.stdout.split())
