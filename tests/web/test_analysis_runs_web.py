"""The analysis run pages and API: the reviewer's run page, excluding a well in place, accepting, the API."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from secretome.services import analyses
from tests.integration.release_support import PASSWORD, approved_specification, make_lot
from tests.integration.test_analysis_runs import computed_attributes, import_plate

pytestmark = pytest.mark.django_db


def _token(client: Any, url: str) -> str:
    page = client.get(url)
    match = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.content)
    assert match is not None, page.content[:300]
    return match.group(1).decode()


@pytest.fixture(autouse=True)
def data_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SECRETOME_HOME", str(tmp_path))
    return tmp_path


@pytest.fixture(name="run")
def run_fixture(analyst: Any, qa_user: Any) -> Any:
    approved_specification(qa_user, computed_attributes())
    lot = make_lot(analyst)
    analyses.draft_method(
        analyst, "m", code="IDO-RP", title="IDO", kind="relative-potency", settings={}, attributes=["potency"]
    )
    analyses.approve_method(qa_user, "approve", "IDO-RP@1", PASSWORD)
    record = import_plate(analyst, {lot.number: 0.8})
    return analyses.analyse(analyst, "potency", [record.pk], "IDO-RP")


def test_the_run_page_shows_plots_values_and_inputs(client_for: Any, analyst: Any, run: Any) -> None:
    page = client_for(analyst).get(f"/analyses/{run.number}/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "<svg" in text and run.inputs.get().raw_sha256 in text
    assert json.loads(run.reportables_json)[0]["lot"] in text


def test_excluding_a_well_in_place_answers_htmx_with_the_new_run(
    client_for: Any, analyst: Any, run: Any
) -> None:
    client = client_for(analyst)
    answer = client.post(
        f"/analyses/{run.number}/exclude/",
        {"well": "B4", "because": "pipetting error"},
        HTTP_HX_REQUEST="true",
        HTTP_X_CSRFTOKEN=_token(client, f"/analyses/{run.number}/"),
    )
    assert answer.status_code == 204
    run.refresh_from_db()
    assert run.status == "superseded"
    assert answer["HX-Redirect"] == f"/analyses/{run.superseded_by.number}/"


def test_accepting_from_the_page_links_the_result_on_the_qc_page(
    client_for: Any, analyst: Any, run: Any
) -> None:
    client = client_for(analyst)
    client.post(
        f"/analyses/{run.number}/accept/", HTTP_X_CSRFTOKEN=_token(client, f"/analyses/{run.number}/")
    )
    lot = json.loads(run.reportables_json)[0]["lot"]
    page = client.get(f"/release/lots/{lot}/").content.decode()
    assert f"/analyses/{run.number}/" in page


def test_the_api_lists_runs_and_recomputes_a_lot(client_for: Any, analyst: Any, run: Any) -> None:
    client = client_for(analyst)
    runs = client.get("/api/analyses/runs").json()
    assert [r["number"] for r in runs] == [run.number]
    client.post(
        f"/api/analyses/runs/{run.number}/accept",
        {"reason": "ok"},
        content_type="application/json",
        HTTP_X_CSRFTOKEN=_token(client, f"/analyses/{run.number}/"),
    )
    lot = json.loads(run.reportables_json)[0]["lot"]
    verified = client.get(f"/api/analyses/lots/{lot}/verify").json()
    assert (verified["verified"], verified["failed"]) == (1, 0)
    assert client.get("/api/imports/").json()[0]["sha256"] == run.inputs.get().raw_sha256
