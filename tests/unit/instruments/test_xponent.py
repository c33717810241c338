"""xPONENT batch CSV: the CRC footer and the table structure are checked, damage is refused or named, and the
files allotropy refuses are read by the tolerant table reader with the same quantities."""

from __future__ import annotations

import csv
import io
import math
import re
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from secretome.instruments.detect import read
from secretome.instruments.model import ReaderError
from secretome.instruments.xponent import crc_check, read_xponent_tables
from tests.unit.instruments.samples import sample_bytes

FLEXMAP = sample_bytes("luminex/xPONENT4.3_FlexMAP3D_XX055101_2025.csv")
DRLUMI = sample_bytes("luminex/xPONENT3.1_LX200_drLumi_S1_with_stdcurve_results.csv")


def _table(text: str, data_type: str) -> list[dict[str, str]]:
    lines = text.splitlines()
    start = next(
        i for i, line in enumerate(lines) if line.replace('"', "").startswith(f"DataType:,{data_type},")
    )
    block = []
    for line in lines[start + 1 :]:
        if not line.strip(",\r") or line.replace('"', "").startswith("DataType:"):
            break
        block.append(line)
    return list(csv.DictReader(io.StringIO("\n".join(block))))


def test_an_untouched_export_passes_its_crc_and_reads_without_warnings() -> None:
    footer = FLEXMAP.rfind(b"-- CRC --")
    declared = re.search(rb"CRC32: ([0-9A-F]{8})", FLEXMAP[footer:]).group(1).decode()  # type: ignore[union-attr]
    assert f"{zlib.crc32(FLEXMAP[:footer]):08X}" == declared  # the footer covers every byte before it
    assert crc_check(FLEXMAP) == (declared, declared)
    reading = read(FLEXMAP, "flexmap.csv")
    assert reading.warnings == ()
    assert reading.run_metadata["crc32 verified"] is True
    assert len(reading.measurements) == 960


def test_a_flipped_byte_in_a_value_is_named_by_the_crc_check() -> None:
    position = FLEXMAP.index(b'"24(1,H3)","Unknown24","') + len(b'"24(1,H3)","Unknown24","')
    damaged = FLEXMAP[:position] + bytes([FLEXMAP[position] ^ 0x01]) + FLEXMAP[position + 1 :]
    reading = read(damaged, "flexmap.csv")
    assert any(w.startswith("CRC32 mismatch") for w in reading.warnings)
    assert reading.run_metadata["crc32 verified"] is False


def test_a_flipped_byte_in_a_location_is_refused_where_the_converter_dropped_the_well() -> None:
    # "24(1,H3)" -> "24(1,H2)"... is still well-formed; flip the parenthesis: the converter silently
    # dropped this well's 3 values (957 of 960).
    position = FLEXMAP.index(b'"24(1,H3)"') + 3
    damaged = FLEXMAP[:position] + bytes([FLEXMAP[position] ^ 0x02]) + FLEXMAP[position + 1 :]
    with pytest.raises(ReaderError, match="Location") as caught:
        read(damaged, "flexmap.csv")
    assert caught.value.line is not None


def test_a_well_missing_from_one_table_is_named() -> None:
    lines = FLEXMAP.split(b"\r\n")
    count_start = lines.index(b'"DataType:","Count"')
    del lines[count_start + 5]
    reading = read(b"\r\n".join(lines), "flexmap.csv")
    assert any("table 'Count' lists 95 wells but 'Median' lists 96" in w for w in reading.warnings)


def test_a_file_cut_before_its_last_wells_is_refused_or_warned_about() -> None:
    cut = FLEXMAP[: FLEXMAP.index(b'"50(1,B7)"')]
    try:
        reading = read(cut, "cut.csv")
    except ReaderError:
        return
    assert any("no '-- CRC --' footer" in w for w in reading.warnings)
    assert any("declares 96 samples but the Median table holds only 49 wells" in w for w in reading.warnings)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(position=st.integers(min_value=0, max_value=len(FLEXMAP) - 200), bit=st.integers(0, 7))
def test_a_flipped_bit_anywhere_is_refused_or_warned_about_never_silent(position: int, bit: int) -> None:
    damaged = FLEXMAP[:position] + bytes([FLEXMAP[position] ^ (1 << bit)]) + FLEXMAP[position + 1 :]
    try:
        reading = read(damaged, "flipped.csv")
    except ReaderError:
        return
    assert reading.warnings, "a changed byte must be named, not imported silently"


def test_the_xponent_31_file_allotropy_refuses_is_read_by_the_table_reader_and_says_so() -> None:
    reading = read(DRLUMI, "drlumi.csv")
    assert reading.format == "xponent"
    assert reading.reader == "secretome.instruments.xponent.read_xponent_tables"
    assert "allotropy refused this file" in reading.warnings[0]
    assert reading.instrument == "LX100/LX200"
    assert reading.software_version == "3.1.871.0"
    assert reading.serial_number == "drLumi1234567890"
    # The file's damage is named too: it was re-saved with a locale that changed decimal points.
    assert any(w.startswith("CRC32 mismatch") for w in reading.warnings)
    text = DRLUMI.decode("utf-8")
    for data_type, quantity in (
        ("Median", "median fluorescence"),
        ("Net MFI", "Net MFI"),
        ("Result", "Result"),
    ):
        for row in _table(text, data_type)[:4]:
            well = re.search(r",([A-P]\d+)\)", row["Location"]).group(1)  # type: ignore[union-attr]
            for analyte in ("FGF", "IL6", "VEGF", "HGF", "IL8"):
                (value,) = [
                    m
                    for m in reading.measurements
                    if m.quantity == quantity and m.well == well and m.analyte == analyte
                ]
                cell = row[analyte]
                try:
                    assert value.value == pytest.approx(float(cell), nan_ok=True)
                except ValueError:  # "< 0.105", "NaN": missing, with the file's words kept
                    assert math.isnan(value.value)
                    assert value.flags == (f"reported as {cell!r}",)
    assert {m.unit for m in reading.measurements if m.quantity == "Result"} == {"pg/mL"}
    assert len(reading.wells) == 96
    assert len(reading.samples) == 91


def test_the_table_reader_gives_the_same_values_as_allotropy_where_both_read() -> None:
    content = sample_bytes("luminex/xPONENT3.1_LX200_New_Batch_6.csv")
    converter = read(content, "batch6.csv")
    ours = read_xponent_tables(content, "batch6.csv")
    assert converter.reader.startswith("allotropy")

    def keyed(reading: object, quantity: str) -> dict[tuple[str, str], float]:
        return {
            (m.well, m.analyte): m.value
            for m in reading.measurements  # type: ignore[attr-defined]
            if m.quantity == quantity
        }

    for quantity in ("median fluorescence", "Net MFI", "assay bead count"):
        assert keyed(ours, quantity) == keyed(converter, quantity)
