"""FCS and LMD files: events equal flowio's own reading, keywords, spillover, offset quirks, refusals."""

from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path
from typing import Any

import flowio
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from secretome.instruments.flow import read_fcs, read_fcs_data_sets
from secretome.instruments.model import ReaderError
from tests.unit.instruments.samples import SAMPLES, sample_bytes

#: The sample whose DATA segment went through a UTF-8 decoder (U+FFFD sequences where event bytes were).
TEXT_CONVERTED = "Stratedigm_S1400EXi_FCS3.0_data_offset_discrepancy.fcs"
FCS_FILES = sorted(
    p
    for p in (SAMPLES / "fcs").iterdir()
    if p.suffix in (".fcs", ".lmd") and "truncated" not in p.name and p.name != TEXT_CONVERTED
)


def _flowio_events(path: Path) -> list[np.ndarray]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            sets = [flowio.FlowData(str(path), ignore_offset_error=True, ignore_offset_discrepancy=True)]
        except flowio.exceptions.MultipleDataSetsError:
            sets = flowio.read_multiple_data_sets(
                str(path), ignore_offset_error=True, ignore_offset_discrepancy=True
            )
    return [np.asarray(s.events, dtype=np.float64).reshape(-1, s.channel_count) for s in sets]


@pytest.mark.parametrize("path", FCS_FILES, ids=lambda p: p.name)
def test_events_equal_what_flowio_reads_from_the_same_file(path: Path) -> None:
    ours = read_fcs_data_sets(path.read_bytes(), path.name)
    theirs = _flowio_events(path)
    assert len(ours) == len(theirs)
    for data_set, expected in zip(ours, theirs, strict=True):
        assert data_set.events.shape == expected.shape
        np.testing.assert_array_equal(data_set.events.astype(np.float64), expected)


def test_two_data_sets_chained_by_nextdata_are_both_read() -> None:
    reading = read_fcs(sample_bytes("fcs/Beckman_CytomicsFC500_multi_dataset.lmd"), "fc500.lmd")
    assert reading.run_metadata["data sets"] == 2
    assert reading.values("event count") == [18110.0, 18110.0]
    assert [e.event_count for e in reading.events] == [18110, 18110]


def test_channel_medians_are_the_medians_of_the_events() -> None:
    path = SAMPLES / "fcs" / "BD_Fortessa_FCS3.0_PBS_Specimen_001_A1_A01.fcs"
    (expected,) = _flowio_events(path)
    reading = read_fcs(path.read_bytes(), path.name)
    medians = [m.value for m in reading.measurements if m.quantity == "median"]
    np.testing.assert_allclose(medians, np.median(expected, axis=0))
    assert reading.instrument == "LSRII"
    assert reading.values("event count") == [11585.0]


def test_spillover_compensation_inverts_the_spillover_matrix() -> None:
    data_set = read_fcs_data_sets(
        sample_bytes("fcs/BD_Fortessa_FCS3.0_PBS_Specimen_001_A1_A01.fcs"), "f.fcs"
    )[0]
    assert data_set.spillover is not None
    names, matrix = data_set.spillover
    assert not np.allclose(matrix, np.eye(len(names)))  # a real compensation matrix
    compensated = data_set.compensated()
    columns = [data_set.channels.index(n) for n in names]
    # compensated @ spillover gives back the measured (spilled) values
    np.testing.assert_allclose(
        compensated[:, columns] @ matrix, data_set.events[:, columns], rtol=1e-6, atol=1e-3
    )


def test_big_endian_integer_data_with_bit_mask_are_masked_to_pnr() -> None:
    data_set = read_fcs_data_sets(sample_bytes("fcs/BD_FACSCalibur_HTS_FCS2.0_Sample_Well_A02.fcs"), "c.fcs")[
        0
    ]
    assert data_set.keywords["byteord"] == "4,3,2,1"
    assert data_set.events.dtype == np.uint16
    assert int(data_set.events.max()) < 1024  # $PnR = 1024


def test_mixed_integer_widths_are_read_per_channel() -> None:
    data_set = read_fcs_data_sets(sample_bytes("fcs/Sysmex_CyFlow_Cube8_FCS3.0.fcs"), "cube.fcs")[0]
    widths = {data_set.keywords[f"p{i}b"] for i in range(1, len(data_set.channels) + 1)}
    assert widths == {"8", "16", "32"}
    assert data_set.events.shape == (725, 10)


def test_header_and_text_offsets_that_disagree_are_resolved_and_reported() -> None:
    # FCS 3.x: TEXT's $BEGINDATA is authoritative. Point the HEADER's DATA start 100 bytes too early.
    content = sample_bytes("fcs/BD_Fortessa_FCS3.0_PBS_Specimen_001_A1_A01.fcs")
    start = int(content[26:34])
    moved = content[:26] + f"{start - 100:>8}".encode() + content[34:]
    reading = read_fcs(moved, "moved.fcs")
    assert any("disagree on the DATA offsets" in w for w in reading.warnings)
    expected = read_fcs_data_sets(content, "f.fcs")[0].events
    np.testing.assert_array_equal(reading.events[0].events, expected)


def test_the_sample_whose_data_went_through_a_text_decoder_is_refused() -> None:
    with pytest.raises(ReaderError, match="U\\+FFFD replacement sequences") as caught:
        read_fcs(sample_bytes(f"fcs/{TEXT_CONVERTED}"), "s.fcs")
    assert caught.value.offset == 6081


@pytest.mark.parametrize(
    "conversion,words",
    [
        (lambda b: b.decode("utf-8", errors="replace").encode("utf-8"), "U+FFFD"),
        (lambda b: b.decode("latin-1").encode("utf-8"), "Latin-1-to-UTF-8"),
        (lambda b: b.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"), "line ends were converted"),
    ],
    ids=["utf8-replace", "latin1-to-utf8", "lf-to-crlf"],
)
@pytest.mark.parametrize("path", FCS_FILES[:6], ids=lambda p: p.name)
def test_an_fcs_file_re_encoded_as_text_is_refused_not_read_with_wrong_values(
    path: Path, conversion: Any, words: str
) -> None:
    content = path.read_bytes()
    converted = conversion(content)
    assert converted != content
    with pytest.raises(ReaderError) as caught:
        read_fcs(converted, path.name)
    assert words in str(caught.value)


def test_enddata_one_byte_too_far_is_tolerated_and_reported() -> None:
    reading = read_fcs(sample_bytes("fcs/MACSQuant_FCS3.1_EY_2013-07-19_PBS_Well_A1.001.fcs"), "m.fcs")
    assert any("one byte past" in w for w in reading.warnings)
    assert reading.values("event count") == [10000.0]


def test_duplicate_channel_names_are_numbered_and_reported() -> None:
    # The sample named "Duplicate_Names" repeats no $PnN in this copy, so repeat one (same length).
    content = sample_bytes("fcs/MACSQuant_FCS3.1_SG_2014-09-26_Duplicate_Names.fcs")
    assert content.count(b"P9N/FL7-H/") == 1
    reading = read_fcs(content.replace(b"P9N/FL7-H/", b"P9N/FL7-A/"), "d.fcs")
    channels = [m.analyte for m in reading.measurements if m.quantity == "median"]
    assert len(channels) == len(set(channels))
    assert any("channel names repeat" in w for w in reading.warnings)


def test_a_mac_roman_creator_keyword_does_not_stop_the_read() -> None:
    reading = read_fcs(sample_bytes("fcs/BD_FACSCalibur_HTS_FCS2.0_Sample_Well_A02.fcs"), "c.fcs")
    assert reading.software.startswith("CellQuest Pro")


def test_the_truncated_file_is_refused_naming_file_byte_and_announced_size() -> None:
    with pytest.raises(ReaderError) as caught:
        read_fcs(sample_bytes("fcs/Cytek_Aurora_FCS3.1_header_only_truncated.fcs"), "aurora.fcs")
    message = str(caught.value)
    assert message.startswith("aurora.fcs (byte 3931): truncated")
    assert "2,165,911" in message


def test_a_file_cut_inside_the_data_segment_is_refused_as_truncated() -> None:
    content = sample_bytes("fcs/BD_FACSAriaIII_FCS3.0_index_sorted.fcs")
    with pytest.raises(ReaderError, match="truncated"):
        read_fcs(content[: len(content) // 2], "cut.fcs")


def test_a_file_written_by_flowio_reads_back_the_same_events() -> None:
    rng = np.random.default_rng(7)
    events = rng.normal(1000, 200, size=(500, 4)).astype(np.float32)
    handle = io.BytesIO()
    flowio.create_fcs(handle, events.flatten(), ["FSC-A", "SSC-A", "CD73", "CD90"])
    (data_set,) = read_fcs_data_sets(handle.getvalue(), "written.fcs")
    np.testing.assert_array_equal(data_set.events, events)
    assert data_set.channels == ("FSC-A", "SSC-A", "CD73", "CD90")


SMALL = sample_bytes("fcs/Sysmex_CyFlow_Cube8_FCS3.0.fcs")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    position=st.integers(min_value=0, max_value=len(SMALL) - 1),
    replacement=st.binary(min_size=1, max_size=8),
    cut=st.integers(min_value=0, max_value=len(SMALL)),
)
def test_mutated_fcs_bytes_raise_only_the_reader_error(position: int, replacement: bytes, cut: int) -> None:
    mutated = (SMALL[:position] + replacement + SMALL[position + len(replacement) :])[: max(cut, 6)]
    with contextlib.suppress(ReaderError):
        read_fcs(mutated, "mutated.fcs")


@settings(max_examples=100, deadline=None)
@given(tail=st.binary(max_size=400), version=st.sampled_from([b"FCS2.0", b"FCS3.0", b"FCS3.1"]))
def test_arbitrary_bytes_after_an_fcs_signature_raise_only_the_reader_error(
    tail: bytes, version: bytes
) -> None:
    with contextlib.suppress(ReaderError):
        read_fcs(version + tail, "noise.fcs")


@pytest.mark.parametrize(
    "name",
    [
        "BD_FACSCalibur_HTS_FCS2.0_Sample_Well_A02.fcs",
        "BD_Fortessa_FCS3.0_PBS_Specimen_001_A1_A01.fcs",
        "Beckman_Navios_FCS2.0_bitmask.lmd",
        "BD_Accuri_C6Plus_FCS3.1_B01_KC-A-W---91-US.fcs",
    ],
)
def test_scaled_values_equal_flowio_preprocessing(name: str) -> None:
    path = SAMPLES / "fcs" / name
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = flowio.FlowData(
            str(path), ignore_offset_error=True, ignore_offset_discrepancy=True
        ).as_array()
    (data_set,) = read_fcs_data_sets(path.read_bytes(), name)
    np.testing.assert_allclose(data_set.scaled(), expected, rtol=1e-12)
