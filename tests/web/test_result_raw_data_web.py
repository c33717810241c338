"""The lot QC page links each result to its raw file; the genealogy lot page shows the lot's signatures."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from secretome.services import release
from tests.integration.raw_data_support import (  # noqa: F401 (fixtures)
    PLATE,
    data_directory_fixture,
    lot_fixture,
    plate_fixture,
)
from tests.integration.release_support import PASSWORD, conforming_results
from tests.unit.instruments.samples import sample_bytes
from tests.web.test_release_web import _csrf

pytestmark = pytest.mark.django_db


def test_the_qc_page_shows_the_raw_file_and_links_its_download(
    lot: Any, plate: Any, analyst: Any, reviewer: Any, client_for: Callable[..., Client]
) -> None:
    release.add_result(analyst, "ELISA", lot.number, "vegf", "1520", instrument_import=plate.pk)
    client = client_for(reviewer)
    html = client.get(f"/release/lots/{lot.number}/").content.decode()
    assert "vegf_plate.csv" in html and plate.raw_file.sha256[:12] in html
    download = f"/imports/{plate.pk}/raw/"
    assert f'href="{download}"' in html
    raw = client.get(download)
    assert raw.status_code == 200
    assert raw.content == sample_bytes(PLATE)


def test_the_result_form_links_an_import_by_sha256(
    lot: Any, plate: Any, analyst: Any, client_for: Callable[..., Client]
) -> None:
    client = client_for(analyst)
    url = f"/release/lots/{lot.number}/"
    form = {
        "csrfmiddlewaretoken": _csrf(client, url),
        "attribute": "vegf",
        "value": "1520",
        "instrument_import": plate.raw_file.sha256,
        "reason": "ELISA",
    }
    client.post(url + "result/", form)
    [result] = lot.quality_results.all()
    assert result.instrument_import_id == plate.pk
    form["csrfmiddlewaretoken"] = _csrf(client, url)
    form["attribute"], form["instrument_import"] = "cd73", "424242"
    html = client.post(url + "result/", form, follow=True).content.decode()
    assert "instrument_import: no instrument import" in html
    assert lot.quality_results.count() == 1


def test_the_api_records_a_result_with_its_import(lot: Any, plate: Any, analyst: Any) -> None:
    from secretome.services.users import create_api_token

    headers = {"Authorization": f"Bearer {create_api_token(analyst, 'script', 'ci')}"}
    answer = Client().post(
        f"/api/release/lots/{lot.number}/results",
        {"attribute": "vegf", "value": "1520", "reason": "ELISA", "instrument_import": str(plate.pk)},
        content_type="application/json",
        headers=headers,
    )
    assert answer.status_code == 201, answer.content
    status = Client().get(f"/api/release/lots/{lot.number}", headers=headers).json()
    row = next(r for r in status["attributes"] if r["attribute"] == "vegf")
    assert row["result"]["instrument_import"]["sha256"] == plate.raw_file.sha256
    refused = Client().post(
        f"/api/release/lots/{lot.number}/results",
        {"attribute": "cd73", "value": "98", "reason": "x", "instrument_import": "f" * 64},
        content_type="application/json",
        headers=headers,
    )
    assert refused.status_code == 404 and "instrument_import" in refused.json()["detail"]


def test_the_genealogy_lot_page_shows_the_signatures_with_their_state(
    lot: Any, analyst: Any, reviewer: Any, qa_user: Any, client_for: Callable[..., Client]
) -> None:
    conforming_results(analyst, lot.number)
    release.transition(analyst, "submit", lot.number, "submit for review")
    release.sign_lot(
        reviewer,
        "review",
        lot.number,
        "reviewed",
        PASSWORD,
        expected_sha256=release.qc_record_sha256(release.get_lot(lot.number)),
    )
    [signature] = release.lot_signatures(lot)
    html = client_for(analyst).get(f"/lots/{lot.number}/").content.decode()
    shown_at = signature["signed_at"].strftime("%Y-%m-%d %H:%M:%S")
    for expected in ["<h2>Signatures</h2>", "reviewed", "Rey Reviewer", shown_at, 'class="ok">valid']:
        assert expected in html, expected
    # Returning the lot to testing voids the review: the lot page says so, with the reason.
    release.transition(qa_user, "recount CD73", lot.number, "return to testing")
    html = client_for(analyst).get(f"/lots/{lot.number}/").content.decode()
    assert 'class="bad">voided' in html and "recount CD73" in html


def test_a_lot_without_signatures_says_so_on_its_genealogy_page(
    lot: Any, analyst: Any, client_for: Callable[..., Client]
) -> None:
    html = client_for(analyst).get(f"/lots/{lot.number}/").content.decode()
    assert "No signatures." in html
