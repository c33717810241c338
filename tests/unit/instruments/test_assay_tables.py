"""Readers of assay result tables: Angiogenesis Analyzer (ImageJ), HPLC peak tables, scratch wound areas."""

from __future__ import annotations

import math

import pytest

from secretome.instruments.assay_tables import hours_of
from secretome.instruments.detect import detect, read
from secretome.instruments.model import ReaderError

ANGIOGENESIS_TSV = (
    "Image Name\tAnalysed area\tNb extrem.\tNb nodes\tNb Junctions\tNb master junction\tNb master segments\t"
    "Tot. master segments lenght\tNb meshes\tTot.meshes area\tNb peaces\tNb segments\tNb branches\t"
    "Nb isol. seg.\tTot. lenght\tTot. branching lenght\tTot. segments lenght\tTot. branches lenght\t"
    "Tot. isol. branches lenght\tBranching interval\tMesh index\tMean Mesh Size\n"
    "B3_VEGF_1.tif\t1310720\t40\t420\t131\t70\t98\t7800\t48\t249600\t12\t170\t59\t9\t12512\t11640\t8880\t2750\t"
    "870\t95.5\t0.19\t5200\n"
    "B4_basal_1.tif\t1310720\t22\t140\t44\t20\t28\t2600\t15\t78000\t9\t57\t20\t4\t4188\t3895\t2973\t921\t293\t"
    "95.2\t0.06\t5100\n"
)


def test_an_angiogenesis_analyzer_table_with_its_original_spellings_is_read_per_image() -> None:
    content = ANGIOGENESIS_TSV.encode()
    assert detect(content, "stats.xls").name == "imagej-angiogenesis"
    reading = read(content, "stats.xls")
    assert reading.family == "image_analysis"
    assert reading.values("total tube length", sample="B3_VEGF") == [12512.0]
    assert reading.values("junctions", sample="B4_basal", well="B4") == [44.0]
    assert reading.values("meshes", sample="B3_VEGF") == [48.0]
    assert {m.well for m in reading.measurements} == {"B3", "B4"}


def test_an_image_name_without_a_well_is_the_row_label_and_its_sample_drops_the_replicate() -> None:
    from secretome.instruments.assay_tables import image_sample

    assert image_sample("MSC-CM-001_2") == "MSC-CM-001"
    assert image_sample("VEGF (3)") == "VEGF"
    assert image_sample("basal_rep1") == "basal"
    assert image_sample("MSC-CM-001") == "MSC-CM-001"
    content = ANGIOGENESIS_TSV.replace("B3_VEGF_1.tif", "VEGF_1.tif").encode()
    reading = read(content, "stats.xls")
    assert reading.values("total tube length", sample="VEGF", well="VEGF_1") == [12512.0]


def test_an_angiogenesis_table_with_a_word_for_a_number_names_the_line() -> None:
    bad = ANGIOGENESIS_TSV.replace("\t12512\t", "\tn/a-ish\t")
    with pytest.raises(ReaderError, match=r"\(line 2\).*Tot\. lenght"):
        read(bad.encode(), "stats.xls")


HPLC = (
    "Sample Name,Vial,Peak Name,Retention Time,Area,Amount\n"
    "Kyn std 10,1,Kynurenine,4.12,15230,10\n"
    "Kyn std 10,1,Tryptophan,6.80,81200,\n"
    "MSC-CM-001,5,Kynurenine,4.11,31880,\n"
)


def test_an_hplc_peak_table_gives_areas_per_sample_and_peak() -> None:
    reading = read(HPLC.encode(), "peaks.csv")
    assert reading.format == "hplc-peak-table"
    assert reading.values("peak area", sample="MSC-CM-001", analyte="Kynurenine") == [31880.0]
    assert reading.values("retention time", sample="Kyn std 10", analyte="Tryptophan") == [6.8]
    assert reading.values("amount", sample="Kyn std 10") == [10.0]


SCRATCH = "Well,Sample,Time (h),Area (um^2)\nA1,control,0,1200000\nA1,control,12,930000\n"


def test_a_scratch_area_table_puts_the_time_point_in_the_analyte() -> None:
    reading = read(SCRATCH.encode(), "scratch.csv")
    assert reading.format == "scratch-area"
    assert [(m.analyte, m.value, m.unit) for m in reading.measurements] == [
        ("0 h", 1200000.0, "um^2"),
        ("12 h", 930000.0, "um^2"),
    ]
    assert hours_of("12 h") == 12.0
    assert math.isnan(hours_of("450 nm"))


def test_a_scratch_table_with_a_negative_area_names_the_line() -> None:
    with pytest.raises(ReaderError, match=r"\(line 3\)"):
        read((SCRATCH + "A1,control,24,-5\n").replace("930000", "-1").encode(), "scratch.csv")
