"""Every real sample file either reads, with its format recognised from the content, or is refused with a
message naming the file."""

from __future__ import annotations

import contextlib
import csv
import io
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from secretome.instruments.detect import detect, read, supported_formats
from secretome.instruments.model import ReaderError
from tests.unit.instruments.samples import every_sample, sample_bytes

#: Files that must be refused, with the words the message must hold: each is damaged, and the message says how.
REFUSED = {
    # Only the HEADER and TEXT of a 20,000-event file survive.
    "Cytek_Aurora_FCS3.1_header_only_truncated.fcs": "truncated",
    # Its DATA segment went through a UTF-8 decoder: the event bytes became U+FFFD sequences.
    "Stratedigm_S1400EXi_FCS3.0_data_offset_discrepancy.fcs": "U+FFFD replacement sequences",
    # Hand-edited upstream: the Viability column was deleted.
    "Beckman_ViCell_XR_2.04_example02_EDITED_missing_viability.xls": "Viability (%)",
}

EXPECTED_FORMAT = {
    "cell_counter": {"cell_counter"},
    "plate_reader": {"plate_reader"},
    "luminex": {"multiplex"},
    "qpcr": {"qpcr"},
    "fcs": {"flow"},
    "nta": {"nta"},
}


@pytest.mark.parametrize("path", every_sample(), ids=lambda p: p.name)
def test_each_sample_reads_in_its_family_or_is_refused_naming_the_file(path: Path) -> None:
    content = path.read_bytes()
    if path.name in REFUSED:
        with pytest.raises(ReaderError) as caught:
            read(content, path.name)
        assert str(caught.value).startswith(path.name)
        assert REFUSED[path.name] in str(caught.value)
        return
    reading = read(content, path.name)
    assert reading.family in EXPECTED_FORMAT[path.parent.name]
    assert reading.measurements, "a readable file gives measurements"
    assert reading.reader and reading.reader_version
    summary = reading.summary()
    assert summary["counts"]["measurements"] == len(reading.measurements)


def test_an_unknown_file_is_refused_with_the_list_of_supported_formats() -> None:
    with pytest.raises(ReaderError) as caught:
        detect(b"hello, world\n", "hello.csv")
    message = str(caught.value)
    assert message.startswith("hello.csv: ")
    for known in supported_formats():
        assert known.name in message


def test_an_empty_file_is_refused() -> None:
    with pytest.raises(ReaderError, match="empty"):
        read(b"", "empty.csv")


def test_format_override_reads_with_the_named_reader_and_refuses_a_mismatch() -> None:
    rdml = next(p for p in every_sample() if p.suffix == ".rdml")
    assert read(rdml.read_bytes(), rdml.name, format="rdml").format == "rdml"
    with pytest.raises(ReaderError):
        read(rdml.read_bytes(), rdml.name, format="nanosight-nta")
    with pytest.raises(ValueError, match="format: unknown format 'nope'"):
        read(rdml.read_bytes(), rdml.name, format="nope")


def test_every_shared_sample_data_file_is_in_the_test_data() -> None:
    # 55 instrument files: 12 cell counter, 13 FCS/LMD, 9 multiplex, 2 NTA, 9 plate reader, 9 qPCR (the
    # Gating-ML / FlowJo files of the shared set are not instrument exports and were not copied).
    counts: dict[str, int] = {}
    for path in every_sample():
        counts[path.parent.name] = counts.get(path.parent.name, 0) + 1
    assert counts == {"cell_counter": 13, "fcs": 13, "luminex": 9, "nta": 2, "plate_reader": 9, "qpcr": 9}


MUTATED = {
    name: sample_bytes(name)
    for name in (
        "cell_counter/Beckman_ViCell_BLU_example01.csv",
        "plate_reader/BMG_PHERAstar_MARS_ABS_384_QC.csv",
    )
}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(sorted(MUTATED)),
    position=st.integers(min_value=0, max_value=1300),
    replacement=st.binary(min_size=1, max_size=6),
)
def test_mutated_exports_read_through_allotropy_raise_only_the_reader_error(
    name: str, position: int, replacement: bytes
) -> None:
    original = MUTATED[name]
    mutated = original[:position] + replacement + original[position + len(replacement) :]
    with contextlib.suppress(ReaderError):
        read(mutated, "mutated.csv")


#: Exports whose every line has the same number of fields: a cut inside the last line is refused.
RECTANGULAR = [
    "cell_counter/Roche_Cedex_HiRes_example_1.csv",
    "cell_counter/Revvity_Nexcelom_Matrix_AOPI_export.csv",
    "qpcr/BioRad_CFX_Maestro_Quantification_Cq_Results.csv",
    "plate_reader/BMG_PHERAstar_MARS_ABS_384_QC.csv",
]


@pytest.mark.parametrize("name", RECTANGULAR)
def test_a_rectangular_export_cut_inside_its_last_line_is_refused(name: str) -> None:
    content = sample_bytes(name).rstrip(b"\r\n")
    last_line = content.rfind(b"\n") + 1
    cut = content[: last_line + (len(content) - last_line) // 2]
    with pytest.raises(ReaderError) as caught:
        read(cut, name.split("/")[-1])
    # Cut inside a quoted field, the converter itself refuses the open quote; otherwise the field count.
    if "EOF inside string" not in str(caught.value):
        assert "the file was cut or damaged" in str(caught.value)
        assert caught.value.line == cut.count(b"\n") + 1


def test_a_mars_plate_grid_missing_its_last_rows_is_refused() -> None:
    content = sample_bytes("plate_reader/BMG_PHERAstar_MARS_ABS_384_QC.csv")
    lines = content.split(b"\r\n")
    grid_end = max(i for i, line in enumerate(lines) if line.startswith(b"P,"))
    shortened = b"\r\n".join(lines[: grid_end - 1] + lines[grid_end + 1 :])
    with pytest.raises(ReaderError, match="rows ABCDEFGHIJKLMN, not A to P"):
        read(shortened, "mars.csv")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(RECTANGULAR), fraction=st.floats(min_value=0.3, max_value=0.999))
def test_a_rectangular_export_cut_anywhere_is_refused_or_keeps_whole_rows(name: str, fraction: float) -> None:
    content = sample_bytes(name)
    cut = content[: int(len(content) * fraction)]
    try:
        reading = read(cut, "cut.csv")
    except ReaderError:
        return
    # Read only when every line left has all its fields: the cut fell on a line end, or inside the last
    # field of the last line (which no format here can tell from a complete file without a line end).
    text = cut.decode("utf-8-sig", errors="replace")
    widths = {len(row) for row in csv.reader(io.StringIO(text, newline="")) if row}
    assert len(widths) == 1
    assert reading.measurements


@pytest.mark.parametrize(
    "name",
    [
        "qpcr/AB_QS7Flex_standard_curve_results_only.txt",
        "qpcr/AB_ViiA7_ddCt_SYBR_results_example01.txt",
        "qpcr/AB_QS7Flex_standard_curve_example04.txt",
    ],
)
def test_a_quantstudio_export_cut_inside_its_last_row_is_refused(name: str) -> None:
    content = sample_bytes(name)
    # Keep the well number and a few cells of the last table row (a line that starts with a well number).
    last_row = max(m.start() + 1 for m in re.finditer(rb"\n\d+\t", content))
    cut = content[: last_row + 12]
    with pytest.raises(ReaderError, match="the file was cut") as caught:
        read(cut, "qs.txt")
    assert caught.value.line == cut.count(b"\n") + 1


def test_an_intelliflex_export_without_its_signature_block_is_read_with_a_warning() -> None:
    content = sample_bytes("luminex/INTELLIFLEX_v2.2_export.csv")
    complete = read(content, "iflx.csv")
    assert complete.warnings == ()
    cut = content[: content.index(b"--DOCUMENT SIGNATURE--")]
    reading = read(cut, "iflx.csv")
    assert any("no --DOCUMENT SIGNATURE-- block" in w for w in reading.warnings)
    with pytest.raises(ReaderError, match="the file was cut or damaged"):
        read(cut.rstrip(b"\r\n")[:-40], "iflx.csv")


@pytest.mark.parametrize(
    "name",
    [
        "plate_reader/BioTek_Gen5_3.12_abs_stdcurve_singleplate.txt",
        "plate_reader/BioTek_Gen5_Cytation5_AlphaLISA_384_4PL_stdcurve.txt",
        "plate_reader/BioTek_Gen5_Lowry_linear_stdcurve_grid_layout.txt",
    ],
)
def test_a_gen5_export_whose_last_plate_grid_lost_rows_is_refused(name: str) -> None:
    content = sample_bytes(name)
    lines = content.split(b"\n")
    grid = max(i for i, line in enumerate(lines) if line.startswith(b"\t1\t2\t3\t"))
    # Keep the header and the first two rows (with their continuation rows) of the last grid.
    second = next(i for i in range(grid + 2, len(lines)) if lines[i][:2] == b"B\t")
    cut = b"\n".join(lines[: second + 1]) + b"\n"
    with pytest.raises(ReaderError, match=r"has rows AB, not A to [HP]: the file was cut") as caught:
        read(cut, "gen5.txt")
    assert caught.value.line == grid + 1


def test_a_mars_export_whose_header_lines_differ_in_width_is_read_whole() -> None:
    # Some MARS writers pad their header lines differently from the grid; only the grids carry values.
    content = sample_bytes("plate_reader/BMG_PHERAstar_MARS_ABS_384_QC.csv")
    first_line_end = content.index(b"\r\n")
    padded = content[:first_line_end] + b",," + content[first_line_end:]
    assert read(padded, "mars.csv").measurements == read(content, "mars.csv").measurements


def test_a_softmax_export_missing_blocks_it_declares_is_refused() -> None:
    content = sample_bytes("plate_reader/SoftMaxPro_abs450_endpoint_example01_UTF16.txt")
    text = content.decode("utf-16")
    assert text.startswith("##BLOCKS= 4")
    cut = text[: text.rindex("~End")].encode("utf-16")
    with pytest.raises(ReaderError, match=r"##BLOCKS= 4 but only 3 blocks end with ~End: the file was cut"):
        read(cut, "softmax.txt")
