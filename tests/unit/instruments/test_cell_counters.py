"""Cell-counter exports read through allotropy, checked against values read from the files themselves."""

from __future__ import annotations

import csv
import io
import math

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from secretome.instruments.detect import read
from secretome.instruments.model import ReaderError
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


def test_vi_cell_blu_with_every_field_quoted_reads_each_row() -> None:
    content = sample_bytes("cell_counter/Beckman_ViCell_BLU_example02_quoted.csv")
    rows = list(csv.DictReader(io.StringIO(content.decode("utf-8"))))
    reading = read(content, "quoted.csv")
    assert reading.format == "vi-cell-blu"
    for row in rows:
        assert reading.values("viability", sample=row["Sample ID"]) == [float(row["Viability (%)"])]


def test_vi_cell_xr_legacy_xls_gives_every_sample_row_of_the_biff_sheet() -> None:
    import xlrd

    content = sample_bytes("cell_counter/Beckman_ViCell_XR_2.04_example02.xls")
    sheet = xlrd.open_workbook(file_contents=content).sheet_by_index(0)
    # The header spans two rows: names, then units ("Viability" over "(%)").
    header = [f"{a} {b}".strip() for a, b in zip(sheet.row_values(3), sheet.row_values(4), strict=True)]
    viability = header.index("Viability (%)")
    density = header.index("Viable cells /ml (x10^6)")
    rows = [sheet.row_values(i) for i in range(sheet.nrows) if str(sheet.cell_value(i, 0)).startswith("CLB")]
    reading = read(content, "xr204.xls")
    assert reading.format == "vi-cell-xr-xls"
    assert len(rows) == 204
    assert len(reading.values("viability")) == 204
    for row in rows[::50]:
        assert reading.values("viability", sample=row[0]) == [pytest.approx(float(row[viability]))]
        assert reading.values("viable cell density", sample=row[0]) == [pytest.approx(float(row[density]))]


def test_the_edited_xls_without_its_viability_column_is_refused_naming_the_column() -> None:
    content = sample_bytes("cell_counter/Beckman_ViCell_XR_2.04_example02_EDITED_missing_viability.xls")
    with pytest.raises(ReaderError, match=r"Viability \(%\)"):
        read(content, "edited.xls")


def _nc202_fields(content: bytes) -> dict[str, str]:
    return {
        k.strip(): v.strip() for k, _, v in (line.partition(":\t") for line in content.decode().splitlines())
    }


def test_nc202_key_value_export_gives_densities_and_viability_as_written() -> None:
    content = sample_bytes("cell_counter/ChemoMetec_NC202_Via2Cassette_tab_keyvalue.csv")
    fields = _nc202_fields(content)
    reading = read(content, "nc202.csv")
    assert reading.format == "nc202"
    assert reading.values("viability") == [float(fields["Viability (%)"])]
    # allotropy reports densities in 10^6 cells/mL; the file writes cells/mL.
    assert reading.values("viable cell density") == [pytest.approx(float(fields["Live (cells/ml)"]) / 1e6)]
    assert reading.values("total cell density") == [pytest.approx(float(fields["Total (cells/ml)"]) / 1e6)]
    assert reading.warnings == ()


def test_an_nc202_export_whose_counts_disagree_is_read_with_a_warning_naming_them() -> None:
    content = sample_bytes("cell_counter/ChemoMetec_NC202_Via2Cassette_tab_keyvalue.csv")
    damaged = content.replace(b"Live (cells/ml):\t9.28E+05", b"Live (cells/ml):\t3.28E+05")
    reading = read(damaged, "nc202.csv")
    assert any("live + dead" in w for w in reading.warnings)
    assert any("viability 83 %" in w for w in reading.warnings)


def test_revvity_matrix_gives_one_viability_per_well() -> None:
    content = sample_bytes("cell_counter/Revvity_Nexcelom_Matrix_AOPI_export.csv")
    rows = list(csv.DictReader(io.StringIO(content.decode("utf-8"))))
    reading = read(content, "matrix.csv")
    assert reading.format == "revvity-matrix"
    for row in rows:
        assert reading.values("viability", sample=row["Well Name"]) == [float(row["Viability"].rstrip("%"))]


BLU = sample_bytes("cell_counter/Beckman_ViCell_BLU_example01.csv")


def test_a_vi_cell_blu_file_cut_inside_a_row_is_refused_not_imported_in_part() -> None:
    # Cut in the sixth sample's row: the converter alone imported 45 of the 88 values.
    with pytest.raises(ReaderError, match="cut or damaged") as caught:
        read(BLU[:1299], "cut.csv")
    assert caught.value.line == 6


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cut=st.integers(min_value=400, max_value=len(BLU) - 1))
def test_a_vi_cell_blu_file_cut_anywhere_is_refused_warned_about_or_ends_on_a_whole_row(cut: int) -> None:
    content = BLU[:cut]
    try:
        reading = read(content, "cut.csv")
    except ReaderError:
        return
    rows = [line for line in content.decode("utf-8").splitlines()[1:] if line.strip()]
    if reading.warnings:
        return
    # Silent only when the cut fell on a line end: every row that is there was read whole.
    assert content.endswith((b"\n", b"\r"))
    assert len(reading.values("viability")) == len(rows)
    assert all(not math.isnan(v) for v in reading.values("viability"))
