"""An analyst drops a real NanoSight NTA export on the instrument data page, reads the preview with its drawn
size distribution, confirms the import, and learns that the same file a second time stores nothing new."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.support import log_in, screenshots

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"
SAMPLE = SAMPLES / "nta" / "NanoSight_NTA3.4_ExperimentSummary_beads2.csv"


@pytest.fixture(autouse=True)
def _data_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # Raw files are kept under the data directory; the live server runs in this process, so it sees this one.
    monkeypatch.setenv("SECRETOME_HOME", str(tmp_path))
    return tmp_path


def _row(scope: Any, label: str) -> str:
    """The value cell of the summary row headed ``label``."""
    return str(scope.locator(f"xpath=.//tr[th[normalize-space()='{label}']]/td").inner_text())


def _preview(page: Any, base: str) -> Any:
    """Open the import page, choose the sample file and ask for the preview (an htmx swap into #preview)."""
    page.goto(f"{base}/imports/")
    page.set_input_files("#id_file", str(SAMPLE))
    page.click("button:has-text('Preview')")
    page.wait_for_selector("#preview h2")
    return page.locator("#preview")


def test_an_analyst_previews_an_nta_file_confirms_it_and_a_second_import_stores_nothing_new(
    live_server: Any, analyst: Any, page: Any
) -> None:
    from secretome.db.imports.models import InstrumentImport

    base = live_server.url
    log_in(page, base, "ana")

    preview = _preview(page, base)
    assert preview.locator("h2").inner_text() == f"Preview: {SAMPLE.name}"
    # What the file itself says: its header names the software build, its name the instrument.
    assert _row(preview, "Format").endswith("(nta)")
    assert "NanoSight" in _row(preview, "Instrument")
    assert "NTA 3.4 Build 3.4.003" in _row(preview, "Software")
    # Plotly drew the size distribution (its SVG exists only once the figure is rendered).
    page.wait_for_selector("#preview #figure .main-svg")
    assert "Size distribution" in preview.locator("#figure").inner_text()
    assert InstrumentImport.objects.count() == 0, "a preview stores nothing"
    page.screenshot(path=str(screenshots() / "import_preview.png"), full_page=True)

    page.click("text=Confirm import")
    page.wait_for_url(f"{base}/imports/*/")
    stored = InstrumentImport.objects.get()
    assert page.locator("h1").inner_text() == f"Import #{stored.pk}: {SAMPLE.name}"
    assert "UTC by ana" in _row(page, "Imported")
    page.wait_for_selector("#figure .main-svg")
    page.screenshot(path=str(screenshots() / "import_detail.png"), full_page=True)

    preview = _preview(page, base)
    assert f"imported before as import #{stored.pk}" in preview.locator(".warn").first.inner_text()
    page.click("text=Confirm import")
    page.wait_for_url(f"{base}/imports/{stored.pk}/")
    assert "This file was imported before; nothing changed." in page.locator(".messages").inner_text()
    assert InstrumentImport.objects.count() == 1
