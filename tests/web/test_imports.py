"""The import pages: preview without storing, confirm, idempotent re-import, raw download, access."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from secretome.db.imports.models import InstrumentImport, RawFile
from tests.unit.instruments.samples import sample_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _data_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SECRETOME_HOME", str(tmp_path))
    return tmp_path


def _csrf(client: Client, url: str = "/imports/") -> str:
    page = client.get(url)
    assert page.status_code == 200
    return (
        str(page.cookies["csrftoken"].value)
        if "csrftoken" in page.cookies
        else str(client.cookies["csrftoken"].value)
    )


def _upload(relative: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(relative.split("/")[-1], sample_bytes(relative))


def _preview(client: Client, relative: str) -> Any:
    """Post a sample file to the preview, as the htmx form does."""
    return client.post(
        "/imports/preview/",
        {"file": _upload(relative), "reason": "preview"},
        HTTP_X_CSRFTOKEN=_csrf(client),
        HTTP_HX_REQUEST="true",
    )


def _figure(html: str) -> dict[str, Any]:
    match = re.search(r'<script type="application/json" id="figure-data">(.*?)</script>', html, re.S)
    assert match, "the page carries a figure"
    figure: dict[str, Any] = json.loads(match.group(1))
    return figure


def test_the_import_page_shows_the_form_and_the_nav_link(
    analyst: Any, client_for: Callable[..., Client]
) -> None:
    client = client_for(analyst)
    page = client.get("/imports/")
    assert page.status_code == 200
    assert b'href="/imports/"' in page.content
    assert b"plotly-4.1.1.min.js" in page.content


def test_preview_of_a_plate_file_shows_a_heat_map_and_stores_nothing(
    analyst: Any, client_for: Callable[..., Client]
) -> None:
    client = client_for(analyst)
    response = _preview(client, "plate_reader/BioTek_Gen5_3.12_abs_stdcurve_singleplate.txt")
    assert response.status_code == 200
    html = response.content.decode()
    assert "gen5" in html and "Confirm import" in html
    figure = _figure(html)
    assert figure["data"][0]["type"] == "heatmap"
    assert figure["data"][0]["z"][0][0] == 3.337  # Gen5 Results block, well A1
    assert RawFile.objects.count() == 0


def test_preview_of_an_fcs_file_lists_channels_and_draws_a_density(
    analyst: Any, client_for: Callable[..., Client]
) -> None:
    client = client_for(analyst)
    response = _preview(client, "fcs/BD_Fortessa_FCS3.0_PBS_Specimen_001_A1_A01.fcs")
    html = response.content.decode()
    assert "FSC-A" in html and "$PnN" in html
    figure = _figure(html)
    assert [trace["type"] for trace in figure["data"]] == ["histogram2d", "histogram2d"]
    # Both panels on the logicle scale (0-1), the second on the first two fluorescence channels.
    assert "logicle" in figure["layout"]["xaxis"]["title"]["text"]
    assert figure["layout"]["xaxis2"]["title"]["text"].startswith("FITC-A")
    values = [v for trace in figure["data"] for v in trace["x"] + trace["y"]]
    assert min(values) > -0.5 and max(values) <= 1.0


def test_preview_of_an_nta_file_draws_the_size_distribution(
    analyst: Any, client_for: Callable[..., Client]
) -> None:
    client = client_for(analyst)
    response = _preview(client, "nta/NanoSight_NTA3.4_ExperimentSummary_beads2.csv")
    figure = _figure(response.content.decode())
    assert figure["data"][0]["type"] == "scatter"
    assert figure["layout"]["title"]["text"] == "Size distribution"


def test_preview_of_an_unreadable_file_names_the_file(
    analyst: Any, client_for: Callable[..., Client]
) -> None:
    client = client_for(analyst)
    response = _preview(client, "fcs/Cytek_Aurora_FCS3.1_header_only_truncated.fcs")
    assert response.status_code == 422
    assert "Cytek_Aurora_FCS3.1_header_only_truncated.fcs (byte 3931): truncated" in response.content.decode()


def test_import_confirms_stores_and_the_raw_file_downloads_byte_for_byte(
    analyst: Any, client_for: Callable[..., Client]
) -> None:
    client = client_for(analyst)
    token = _csrf(client)
    relative = "cell_counter/Beckman_ViCell_BLU_example01.csv"
    response = client.post(
        "/imports/new/", {"file": _upload(relative), "reason": "P2 count"}, HTTP_X_CSRFTOKEN=token
    )
    assert response.status_code == 302
    record = InstrumentImport.objects.get()
    assert response["Location"] == f"/imports/{record.pk}/"
    detail = client.get(response["Location"])
    assert detail.status_code == 200
    assert record.raw_file.sha256 in detail.content.decode()
    raw = client.get(f"/imports/{record.pk}/raw/")
    assert raw.status_code == 200
    assert raw.content == sample_bytes(relative)
    assert raw["X-Content-SHA256"] == hashlib.sha256(sample_bytes(relative)).hexdigest()
    assert "Beckman_ViCell_BLU_example01.csv" in raw["Content-Disposition"]
    again = client.post(
        "/imports/new/", {"file": _upload(relative), "reason": "again"}, HTTP_X_CSRFTOKEN=token
    )
    assert again["Location"] == f"/imports/{record.pk}/"
    assert InstrumentImport.objects.count() == 1


def test_uploading_a_file_whose_raw_copy_was_lost_puts_it_back_and_says_so(
    analyst: Any, client_for: Callable[..., Client], _data_directory: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from secretome.services import imports

    monkeypatch.setattr(imports, "DATABASE_LIMIT_BYTES", 16)  # kept in the data directory
    client = client_for(analyst)
    token = _csrf(client)
    relative = "cell_counter/Beckman_ViCell_BLU_example01.csv"
    client.post("/imports/new/", {"file": _upload(relative), "reason": "P2 count"}, HTTP_X_CSRFTOKEN=token)
    digest = hashlib.sha256(sample_bytes(relative)).hexdigest()
    path = _data_directory / "raw" / digest[:2] / digest
    path.unlink()
    again = client.post(
        "/imports/new/", {"file": _upload(relative), "reason": "restore"}, HTTP_X_CSRFTOKEN=token, follow=True
    )
    assert "its missing raw file was put back" in again.content.decode()
    assert path.read_bytes() == sample_bytes(relative)


def test_an_import_that_fails_shows_the_reason_and_stores_nothing(
    analyst: Any, client_for: Callable[..., Client]
) -> None:
    client = client_for(analyst)
    token = _csrf(client)
    upload = SimpleUploadedFile("notes.txt", b"not an instrument file\n")
    response = client.post("/imports/new/", {"file": upload, "reason": "x"}, HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 422
    assert "notes.txt: not a supported instrument file" in response.content.decode()
    assert RawFile.objects.count() == 0


def test_posting_without_the_csrf_token_is_refused(analyst: Any, client_for: Callable[..., Client]) -> None:
    client = client_for(analyst)
    response = client.post(
        "/imports/new/", {"file": _upload("cell_counter/Beckman_ViCell_BLU_example01.csv")}
    )
    assert response.status_code == 403
    assert RawFile.objects.count() == 0


def test_an_admin_without_a_lab_role_cannot_import(
    admin_user: Any, client_for: Callable[..., Client]
) -> None:
    assert client_for(admin_user).get("/imports/").status_code == 403


def test_an_unknown_import_is_404(analyst: Any, client_for: Callable[..., Client]) -> None:
    client = client_for(analyst)
    assert client.get("/imports/999/").status_code == 404
    assert client.get("/imports/999/raw/").status_code == 404


def _post_preview(client: Client, name: str, content: bytes) -> Any:
    return client.post(
        "/imports/preview/",
        {"file": SimpleUploadedFile(name, content), "reason": "preview"},
        HTTP_X_CSRFTOKEN=_csrf(client),
        HTTP_HX_REQUEST="true",
    )


def test_a_2_mb_csv_of_a_million_columns_is_refused_without_echoing_it(
    analyst: Any, client_for: Callable[..., Client]
) -> None:
    client = client_for(analyst)
    content = b"Sample ID,Viable (x10^6) cells/mL" + b"," * 1_000_000 + b"\r\n"
    content += b"SECRETCELL,1.0\r\n" * 62_500
    assert len(content) >= 2_000_000
    response = _post_preview(client, "wide.csv", content)
    assert response.status_code == 422
    body = response.content.decode()
    assert "wide.csv (line 1): a line of 1,000,002 columns; the limit is 4,096" in body
    assert "SECRETCELL" not in body
    assert len(body) < 5_000
    assert not RawFile.objects.exists()


def test_an_import_posted_past_the_preview_is_read_under_the_same_limits(
    analyst: Any, client_for: Callable[..., Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECRETOME_MAX_FILE_BYTES", "1000")
    client = client_for(analyst)
    response = client.post(
        "/imports/new/",
        {"file": _upload("nta/NanoSight_NTA3.4_ExperimentSummary_beads2.csv"), "reason": "import"},
        HTTP_X_CSRFTOKEN=_csrf(client),
    )
    assert response.status_code == 422
    assert "the limit is 1,000" in response.content.decode()
    assert not InstrumentImport.objects.exists()


def test_a_preview_when_every_reader_is_busy_answers_503(
    analyst: Any, client_for: Callable[..., Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    from secretome.services import bounded

    monkeypatch.setenv("SECRETOME_PREVIEW_WORKERS", "1")
    client = client_for(analyst)
    slots = bounded._slots_for(1)
    assert slots.acquire(blocking=False)
    try:
        response = _preview(client, "nta/NanoSight_NTA3.4_ExperimentSummary_beads2.csv")
    finally:
        slots.release()
    assert response.status_code == 503
    assert "try again" in response.content.decode()
