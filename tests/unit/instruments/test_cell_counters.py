"""Cell-counter exports read through allotropy, checked against values read from the files themselves."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest

from secretome.instruments.detect import read
from tests.unit.instruments.samples import sample_bytes


def test_vi_cell_blu_gives_density_viability_and_counts_per_sample_as_in_the_csv() -> None:
    content = sample_bytes("cell_counter/Beckman_ViCell_BLU_example01.csv")
    reading = read(content, "Beckman_ViCell_BLU_example01.csv")
    rows = list(csv.DictReader(io.StringIO(content.decode("utf-8"))))
    assert reading.format == "vi-cell-blu"
    assert reading.family == "cell_counter"
    assert reading.samples == sorted(r["Sample ID"] for r in rows)
    for row in rows[:3]:
        sample = row["Sample ID"]
        assert reading.values("viable cell density", sample=sample) == [float(row["Viable (x10^6) cells/mL"])]
        assert reading.values("total cell density", sample=sample) == [float(row["Total (x10^6) cells/mL"])]
        assert reading.values("viability", sample=sample) == [float(row["Viability (%)"])]
        assert reading.values("total cell count", sample=sample) == [float(row["Cell count"])]


def test_vi_cell_blu_saved_as_utf16_reads_like_the_utf8_export() -> None:
    utf16 = read(sample_bytes("cell_counter/Beckman_ViCell_BLU_example01_utf16.csv"), "blu16.csv")
    text = sample_bytes("cell_counter/Beckman_ViCell_BLU_example01_utf16.csv").decode("utf-16")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert utf16.format == "vi-cell-blu"
    for row in rows:
        assert utf16.values("viability", sample=row["Sample ID"]) == [float(row["Viability (%)"])]


def test_a_file_is_recognised_from_its_content_whatever_its_name() -> None:
    reading = read(sample_bytes("cell_counter/Beckman_ViCell_BLU_example01.csv"), "upload-without-extension")
    assert reading.format == "vi-cell-blu"
    assert len(reading.measurements) > 0


def test_vi_cell_xr_text_report_gives_its_results_block() -> None:
    content = sample_bytes("cell_counter/Beckman_ViCell_XR_2.06_example07.txt")
    fields = dict(
        (k.strip(), v.strip())
        for k, _, v in (line.partition(" : ") for line in content.decode().splitlines())
    )
    reading = read(content, "xr.txt")
    assert reading.format == "vi-cell-xr"
    sample = fields["Sample ID"]
    assert reading.values("viability", sample=sample) == [float(fields["Viability (%)"])]
    assert reading.values("viable cell density", sample=sample) == [
        float(fields["Total viable cells / ml (x 10^6)"])
    ]
    assert reading.values("total cell count", sample=sample) == [float(fields["Total cells"])]
    assert reading.software_version.startswith("2.06")


def test_vi_cell_xr_workbook_gives_one_viability_per_sample_row() -> None:
    content = sample_bytes("cell_counter/Beckman_ViCell_XR_2.06_example04.xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(content), read_only=True).worksheets[0]
    rows = [r for r in sheet.iter_rows(values_only=True)]
    header = [str(c) for c in rows[4]]
    column = header.index("Viability")
    data = [r for r in rows[6:] if r[0]]
    reading = read(content, "xr.xlsx")
    assert reading.format == "vi-cell-xr-xlsx"
    first = str(data[0][0])
    assert reading.values("viability", sample=first) == [pytest.approx(float(str(data[0][column])))]


def test_nucleocounter_nc200_gives_viability_and_live_cell_density() -> None:
    content = sample_bytes("cell_counter/ChemoMetec_NucleoView_NC200_example01.csv")
    fields = {}
    for line in content.decode().splitlines():
        parts = line.split(";")
        if len(parts) >= 2:
            fields[parts[0].strip()] = parts[1].strip()
    reading = read(content, "nc200.csv")
    assert reading.format == "nucleoview-nc200"
    assert reading.values("viability") == [float(fields["Viability (%)"])]
    live = float(fields["Live (cells/ml)"])
    (density,) = reading.values("viable cell density")
    # NucleoView writes cells/mL; the ASM unit is 10^6 cells/mL.
    assert density == pytest.approx(live / 1e6)


def test_cedex_hires_gives_one_row_of_values_per_sample() -> None:
    content = sample_bytes("cell_counter/Roche_Cedex_HiRes_example_1.csv")
    rows = list(csv.DictReader(io.StringIO(content.decode("utf-8"))))
    reading = read(content, "cedex.csv")
    assert reading.format == "cedex-hires"
    assert len(reading.values("viability")) == len(rows)
    assert reading.values("viability")[0] == pytest.approx(float(rows[0]["Viability"]))
