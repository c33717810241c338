"""The MISEV2023 panel of the lot QC page and the checklist in the lot API."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from secretome.services import release
from tests.integration.ev_support import accepted_nta_run, add_markers, approve_nta_method, ev_attributes
from tests.integration.release_support import approved_specification, make_lot

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True, name="data_directory")
def data_directory_fixture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SECRETOME_HOME", str(tmp_path))
    return tmp_path


@pytest.fixture(name="ev_lot")
def ev_lot_fixture(analyst: Any, qa_user: Any) -> Any:
    approved_specification(qa_user, ev_attributes())
    approve_nta_method(analyst, qa_user)
    return make_lot(analyst)


def test_the_qc_page_shows_the_checklist_linking_to_the_nta_run_and_the_results(
    ev_lot: Any, analyst: Any, reviewer: Any, client_for: Callable[..., Client]
) -> None:
    protein = release.add_result(analyst, "BCA", ev_lot.number, "protein", "120")
    run, _ = accepted_nta_run(analyst, ev_lot.number)
    add_markers(analyst, ev_lot.number)
    page = client_for(reviewer).get(f"/release/lots/{ev_lot.number}/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "MISEV2023 checklist" in text
    # 11 of 17 (see tests/integration/test_ev_misev.py): 64.7 % shown rounded.
    assert '<strong class="warn">65 %</strong>' in text and "11 of 17 required items" in text
    assert f'href="/analyses/{run.number}/"' in text
    # The protein answer links to its result's row on the same page.
    assert f'href="#result-{protein.pk}"' in text and f'id="result-{protein.pk}"' in text
    assert f'href="/lots/{ev_lot.number}/"' in text
    assert "not how it was held" in text


def test_the_qc_page_of_a_lot_without_ev_data_has_no_checklist(
    ev_lot: Any, analyst: Any, reviewer: Any, client_for: Callable[..., Client]
) -> None:
    release.add_result(analyst, "BCA", ev_lot.number, "protein", "120")
    page = client_for(reviewer).get(f"/release/lots/{ev_lot.number}/")
    assert page.status_code == 200 and b"MISEV2023" not in page.content


def test_the_lot_api_includes_the_checklist(ev_lot: Any, analyst: Any, reviewer: Any) -> None:
    from secretome.services.users import create_api_token

    headers = {"Authorization": f"Bearer {create_api_token(reviewer, 'script', 'ci')}"}
    url = f"/api/release/lots/{ev_lot.number}"
    assert Client().get(url, headers=headers).json()["misev"] is None
    run, _ = accepted_nta_run(analyst, ev_lot.number)
    misev = Client().get(url, headers=headers).json()["misev"]
    assert misev["nta_run"] == run.number and misev["answered"] == 7 and misev["required"] == 17
