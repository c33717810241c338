"""Plate-reader, multiplex and qPCR files read through allotropy, checked against the files themselves.

Expected values are parsed from the sample files in the test (csv / text / openpyxl), or, where a layout is
hard to parse, copied from the file line named in the comment.
"""

from __future__ import annotations

import csv
import io
import math
import re

import openpyxl
import pytest

from secretome.instruments.detect import read
from tests.unit.instruments.samples import sample_bytes


def _grid(lines: list[str], header_index: int) -> dict[str, str]:
    """Well -> cell of a plate grid whose column header row is ``lines[header_index]``."""
    columns = [c.strip() for c in lines[header_index].split(",")[1:]]
    cells: dict[str, str] = {}
    for line in lines[header_index + 1 :]:
        parts = line.split(",")
        if not re.fullmatch(r"[A-P]", parts[0].strip()):
            break
        for column, cell in zip(columns, parts[1:], strict=False):
            if column and cell.strip():
                cells[f"{parts[0].strip()}{int(column)}"] = cell.strip()
    return cells


def test_bmg_mars_gives_each_well_of_the_raw_data_grid() -> None:
    content = sample_bytes("plate_reader/BMG_PHERAstar_MARS_ABS_384_QC.csv")
    lines = content.decode().splitlines()
    grid = _grid(lines, next(i for i, line in enumerate(lines) if line.startswith(",1,2,3")))
    reading = read(content, "mars.csv")
    assert reading.format == "bmg-mars"
    values = {m.well: m.value for m in reading.measurements if m.quantity == "absorbance"}
    assert set(values) == set(grid)
    for well in ("A1", "C1", "A24"):
        assert values[well] == pytest.approx(float(grid[well]))


def test_envision_gives_both_plates_results_grids() -> None:
    content = sample_bytes("plate_reader/PerkinElmer_EnVision_A450_example.csv")
    lines = content.decode().splitlines()
    headers = [i for i, line in enumerate(lines) if line.startswith(",01,02,03")]
    reading = read(content, "envision.csv")
    assert reading.format == "envision"
    for header, plate in zip(headers[:2], ("1", "2"), strict=True):
        grid = _grid(lines, header)
        rows = [m for m in reading.measurements if m.quantity == "absorbance" and m.plate.endswith(plate)]
        by_well = {m.well: m.value for m in rows}
        for well in ("A1", "A4", "H12"):
            assert by_well[well] == pytest.approx(float(grid[well]))


def test_gen5_gives_raw_absorbance_blank_corrected_values_and_concentrations() -> None:
    content = sample_bytes("plate_reader/BioTek_Gen5_3.12_abs_stdcurve_singleplate.txt")
    reading = read(content, "gen5.txt")
    assert reading.format == "gen5"
    assert reading.software_version == "3.12.08"  # line 3
    # Results block, row A: raw 3.337, blank-corrected 3.336, [Concentration] 1980.423 in well A1.
    assert reading.values("absorbance", well="A1") == [3.337]
    assert reading.values("Blank 630nmAbsRead:630", well="A1") == [3.336]
    assert reading.values("[Concentration]", well="A1") == [1980.423]
    assert reading.values("absorbance", well="B4") == [0.999]
    assert {m.sample for m in reading.measurements if m.well == "A1"} == {"STD1"}
    assert len(reading.values("absorbance")) == 96


def test_softmax_pro_utf16_gives_both_plates() -> None:
    content = sample_bytes("plate_reader/SoftMaxPro_abs450_endpoint_example01_UTF16.txt")
    text = content.decode("utf-16")
    first_row = text.splitlines()[3].split("\t")
    reading = read(content, "smp.txt")
    assert reading.format == "softmax-pro"
    plate1 = {
        m.well: m.value for m in reading.measurements if m.quantity == "absorbance" and m.plate == "Plate01"
    }
    assert plate1["A1"] == pytest.approx(float(first_row[2]))
    assert plate1["A4"] == pytest.approx(float(first_row[5]))
    assert len({m.plate for m in reading.measurements if m.quantity == "absorbance"}) == 2


def test_magellan_workbook_gives_label1_of_each_well() -> None:
    content = sample_bytes("plate_reader/Tecan_Magellan_SLA01P01_ELISA.xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(content), read_only=True).worksheets[0]
    rows = {
        str(r[0]): r
        for r in sheet.iter_rows(values_only=True)
        if r and r[0] and re.fullmatch(r"[A-P]\d+", str(r[0]))
    }
    reading = read(content, "magellan.xlsx")
    assert reading.format == "magellan"
    values: dict[str, list[float]] = {}
    for m in reading.measurements:
        if m.quantity == "absorbance":
            values.setdefault(m.well, []).append(m.value)
    for well in ("A1", "A2", "P24"):
        expected = float(str(rows[well][1]))
        assert any(v == pytest.approx(expected) for v in values[well])


def _xponent_table(text: str, data_type: str) -> list[dict[str, str]]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.replace('"', "") == f"DataType:,{data_type}")
    block = []
    for line in lines[start + 1 :]:
        if not line.strip() or line.replace('"', "").startswith("DataType:"):
            break
        block.append(line)
    return list(csv.DictReader(io.StringIO("\n".join(block))))


def test_xponent_magpix_median_fluorescence_and_bead_count_match_the_median_table() -> None:
    content = sample_bytes("luminex/xPONENT4.2_MAGPIX_Chul_IgG3_1.csv")
    table = _xponent_table(content.decode("utf-8"), "Median")
    reading = read(content, "chul.csv")
    assert reading.format == "xponent"
    assert reading.instrument == "MAGPIX"
    assert reading.serial_number == "MAGPX15265701"
    for row in table[:3]:
        well = re.search(r",([A-P]\d+)\)", row["Location"]).group(1)  # type: ignore[union-attr]
        for analyte in ("AMA1", "HRPII", "PfGarp"):
            assert reading.values("median fluorescence", well=well, analyte=analyte) == [float(row[analyte])]
            assert reading.values("median fluorescence", well=well, analyte=analyte)
        assert {m.sample for m in reading.measurements if m.well == well} == {row["Sample"]}


def test_xponent_nan_cells_stay_missing_and_are_flagged() -> None:
    content = sample_bytes("luminex/xPONENT4.3_FlexMAP3D_XX055101_2025.csv")
    table = _xponent_table(content.decode("utf-8"), "Median")
    assert table[0]["gp350"] == "NaN"
    reading = read(content, "flexmap.csv")
    (value,) = [
        m
        for m in reading.measurements
        if m.quantity == "median fluorescence" and m.well == "A1" and m.analyte == "gp350"
    ]
    assert math.isnan(value.value)
    assert any("NaN" in flag for flag in value.flags)
    assert reading.software_version == "4.3.309.1"


def test_intelliflex_export_reads_well_and_serial() -> None:
    content = sample_bytes("luminex/INTELLIFLEX_v2.2_export.csv")
    rows = list(csv.DictReader(io.StringIO(content.decode("utf-8"))))
    reading = read(content, "intelliflex.csv")
    assert reading.format == "intelliflex"
    assert reading.serial_number == rows[0]["SERIAL NUMBER"]
    wells = {m.well for m in reading.measurements}
    assert rows[0]["WELL LOCATION"] in wells


def test_bioplex_xml_gives_median_of_the_first_bead_region() -> None:
    content = sample_bytes("luminex/BioPlexManager_example_01.xml")
    first_median = float(re.search(rb"<Median>([\d.]+)</Median>", content).group(1))  # type: ignore[union-attr]
    reading = read(content, "bioplex.xml")
    assert reading.format == "bioplex"
    assert first_median in reading.values("median fluorescence")


def _quantstudio_results(text: str) -> list[dict[str, str]]:
    lines = text.splitlines()
    start = lines.index("[Results]")
    block = []
    for line in lines[start + 1 :]:
        if not line.strip() or line.startswith("["):
            break
        block.append(line)
    return list(csv.DictReader(io.StringIO("\n".join(block)), delimiter="\t"))


@pytest.mark.parametrize(
    "name",
    ["AB_ViiA7_ddCt_SYBR_results_example01.txt", "AB_QS7Flex_standard_curve_example04.txt"],
)
def test_quantstudio_text_ct_per_well_matches_the_results_section(name: str) -> None:
    content = sample_bytes(f"qpcr/{name}")
    results = _quantstudio_results(content.decode("utf-8"))
    reading = read(content, name)
    assert reading.format == "quantstudio"
    checked = 0
    for row in results[:6]:
        ct = row.get("CT") or row.get("Cт") or ""
        if not re.fullmatch(r"[\d.]+", ct):
            continue
        values = reading.values("cycle threshold", well=row["Well Position"], analyte=row["Target Name"])
        assert values == [pytest.approx(float(ct))]
        checked += 1
    assert checked >= 3


def test_quantstudio_design_and_analysis_workbook_gives_cq_per_well() -> None:
    content = sample_bytes("qpcr/AB_QS7Pro_DesignAnalysis_primary_example18.xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(content), read_only=True).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    header_index = next(i for i, r in enumerate(rows) if r and "Well Position" in [str(c) for c in r])
    header = [str(c) for c in rows[header_index]]
    position, cq = header.index("Well Position"), header.index("Cq")
    reading = read(content, "qs7pro.xlsx")
    assert reading.format == "quantstudio-design-analysis"
    checked = 0
    for row in rows[header_index + 1 : header_index + 8]:
        if isinstance(row[cq], int | float):
            expected = float(str(row[cq]))
            assert any(
                v == pytest.approx(expected)
                for v in reading.values("cycle threshold", well=str(row[position]))
            )
            checked += 1
    assert checked >= 3


def test_cfx_maestro_gives_one_cq_per_well_and_fluor() -> None:
    content = sample_bytes("qpcr/BioRad_CFX_Maestro_Quantification_Cq_Results.csv")
    rows = list(csv.DictReader(io.StringIO(content.decode("utf-8"))))
    reading = read(content, "cfx.csv")
    assert reading.format == "cfx-maestro"
    for row in rows[:4]:
        well = re.sub(r"^([A-P])0*", r"\1", row["Well"])
        assert reading.values("cycle threshold", well=well, analyte=row["Fluor"]) == [float(row["Cq"])]


def test_rdml_cq_values_and_no_amplification_flags() -> None:
    import zipfile
    from xml.etree import ElementTree

    content = sample_bytes("qpcr/RDML_optical_calibrators_OC_3.rdml")
    xml = zipfile.ZipFile(io.BytesIO(content)).read("rdml_data.xml")
    ns = {"r": "http://www.rdml.org"}
    cqs = [float(e.text or "nan") for e in ElementTree.fromstring(xml).findall(".//r:react/r:data/r:cq", ns)]
    reading = read(content, "oc3.rdml")
    assert reading.format == "rdml"
    assert reading.run_metadata["rdml version"] == "1.4"
    ct = [m for m in reading.measurements if m.quantity == "cycle threshold"]
    assert len(ct) == len(cqs)
    for measured, written in zip(ct, cqs, strict=True):
        if written < 0:
            assert math.isnan(measured.value)
            assert "no Cq (no amplification)" in measured.flags
        else:
            assert measured.value == pytest.approx(written)
    # React id 1 on a 16 x 24 plate is A1, id 25 is B1.
    assert ct[0].well == "A1"


def test_rdml_melting_curves_are_kept_as_series() -> None:
    reading = read(sample_bytes("qpcr/RDML_test_mca_1_raw_data.rdml"), "mca.rdml")
    assert reading.run_metadata["rdml version"] == "1.3"
    assert any(name.startswith("melting ") for name in reading.series)
    assert reading.warnings


def _quantstudio_workbook(text: str) -> bytes:
    """The QuantStudio Excel layout built from a real text export: one sheet per section, each opening with
    the run's key/value rows and a blank row (no licensed Excel export was available)."""
    lines = text.splitlines()
    header = [
        tuple(p.strip() for p in line[2:].partition(" = ")[::2]) for line in lines if line.startswith("* ")
    ]
    sections: dict[str, list[list[str]]] = {}
    current = ""
    for line in lines:
        match = re.match(r"^\[(.+)\]", line)
        if match:
            current = match.group(1)
            sections[current] = []
        elif current and line.strip():
            sections[current].append(line.split("\t"))
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)  # type: ignore[arg-type]
    for name, rows in sections.items():
        sheet = workbook.create_sheet(name[:31])
        for key, value in header:
            sheet.append([key, value])
        sheet.append([])
        for row in rows:
            sheet.append([float(c) if re.fullmatch(r"-?\d+(\.\d+)?", c) else (c or None) for c in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_quantstudio_workbook_is_recognised_and_gives_the_same_ct_as_the_text_export() -> None:
    text = sample_bytes("qpcr/AB_QS7Flex_standard_curve_example04.txt").decode("utf-8")
    results = _quantstudio_results(text)
    reading = read(_quantstudio_workbook(text), "qs7flex.xlsx")
    assert reading.format == "quantstudio-xlsx"
    checked = 0
    for row in results[:6]:
        if re.fullmatch(r"[\d.]+", row.get("CT", "")):
            values = reading.values("cycle threshold", well=row["Well Position"], analyte=row["Target Name"])
            assert values == [pytest.approx(float(row["CT"]))]
            checked += 1
    assert checked >= 3
