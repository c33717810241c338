"""NanoSight NTA ExperimentSummary files (own reader): values checked against the CSV, and property tests."""

from __future__ import annotations

import contextlib
import csv
import io
import math
import zipfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from secretome.instruments.model import ReaderError
from secretome.instruments.nta import read_nta
from secretome.instruments.qpcr import read_rdml
from tests.unit.instruments.samples import sample_bytes

FILES = [
    "nta/NanoSight_NTA3.2_ExperimentSummary_beads.csv",
    "nta/NanoSight_NTA3.4_ExperimentSummary_beads2.csv",
]


def _rows(relative: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(sample_bytes(relative).decode("utf-8"))))


def _row(rows: list[list[str]], label: str, after: str = "") -> list[str]:
    start = next(i for i, r in enumerate(rows) if r and r[0] == after) if after else 0
    return next(r for r in rows[start:] if r and r[0] == label)


@pytest.mark.parametrize("relative", FILES)
def test_concentration_per_video_and_average_match_the_results_section(relative: str) -> None:
    rows = _rows(relative)
    videos = [c for c in _row(rows, "Filename:")[1:] if c]
    concentration = _row(rows, "Concentration (Particles / ml)")
    results_header = _row(rows, "[Results]")
    reading = read_nta(sample_bytes(relative), relative.split("/")[-1])
    assert reading.format == "nanosight-nta"
    for index, video in enumerate(videos, start=1):
        assert reading.values("concentration", well=video) == [float(concentration[index])]
        assert reading.values("concentration", well=video)[0] > 1e8
    average = concentration[results_header.index("Average")]
    assert reading.values("concentration", well="average") == [float(average)]
    error = concentration[results_header.index("Standard Error")]
    assert reading.values("concentration standard error", well="average") == [float(error)]


@pytest.mark.parametrize("relative", FILES)
def test_size_percentiles_and_mode_match_the_size_data_section(relative: str) -> None:
    rows = _rows(relative)
    header = _row(rows, "Filename", after="[Size Data]")
    reading = read_nta(sample_bytes(relative), "nta.csv")
    for label, quantity in (
        ("D10", "D10"),
        ("D50", "D50"),
        ("D90", "D90"),
        ("Mode", "mode size"),
        ("Mean", "mean size"),
    ):
        row = _row(rows, label, after="[Size Data]")
        assert reading.values(quantity, well=header[1]) == [float(row[1])]
        assert reading.values(quantity, well="average") == [float(row[header.index("Average")])]
    assert {m.unit for m in reading.measurements if m.quantity == "D50"} == {"nm"}


@pytest.mark.parametrize("relative", FILES)
def test_size_distribution_series_has_one_point_per_bin(relative: str) -> None:
    rows = _rows(relative)
    start = next(i for i, r in enumerate(rows) if r and r[0] == "Bin centre (nm)")
    bins = []
    for r in rows[start + 1 :]:
        try:
            bins.append(float(r[0]))
        except (ValueError, IndexError):
            break
    reading = read_nta(sample_bytes(relative), "nta.csv")
    average = reading.series["size distribution average"]
    assert [x for x, _ in average] == bins
    assert reading.run_metadata["bins"] == len(bins)


def test_nta_34_reads_software_version_sample_and_vibration_warnings() -> None:
    reading = read_nta(sample_bytes(FILES[1]), "beads2.csv")
    assert reading.software_version == "3.4 Build 3.4.003"
    assert reading.samples == ["100nmbeads"]
    flagged = [m for m in reading.measurements if m.well == "stdv34_00" and m.quantity == "concentration"]
    assert any("vibration" in flag.lower() for flag in flagged[0].flags)


def test_a_file_without_the_signature_is_refused_at_line_1() -> None:
    with pytest.raises(ReaderError, match=r"^x\.csv \(line 1\): not an NTA Experiment Summary"):
        read_nta(b"Something else,\n", "x.csv")


def test_a_summary_cut_before_its_results_is_refused() -> None:
    content = sample_bytes(FILES[0])
    with pytest.raises(ReaderError, match="no \\[Results\\] concentration row"):
        read_nta(content[: content.index(b"[Results]")], "cut.csv")


NTA = sample_bytes(FILES[1])


@settings(max_examples=150, deadline=None)
@given(
    position=st.integers(min_value=0, max_value=len(NTA) - 1),
    replacement=st.binary(min_size=1, max_size=12),
    cut=st.integers(min_value=0, max_value=len(NTA)),
)
def test_mutated_nta_bytes_raise_only_the_reader_error(position: int, replacement: bytes, cut: int) -> None:
    mutated = (NTA[:position] + replacement + NTA[position + len(replacement) :])[:cut]
    try:
        reading = read_nta(mutated, "mutated.csv")
    except ReaderError:
        return
    assert all(isinstance(m.value, float) for m in reading.measurements)


@settings(max_examples=100, deadline=None)
@given(text=st.text(max_size=300))
def test_arbitrary_text_after_the_nta_signature_raises_only_the_reader_error(text: str) -> None:
    with contextlib.suppress(ReaderError):
        read_nta(("NTA Experiment Summary File,\n" + text).encode("utf-8"), "noise.csv")


RDML = sample_bytes("qpcr/RDML_optical_calibrators_OC_3.rdml")
RDML_XML = zipfile.ZipFile(io.BytesIO(RDML)).read("rdml_data.xml")


@settings(max_examples=150, deadline=None)
@given(
    position=st.integers(min_value=0, max_value=len(RDML_XML) - 1),
    replacement=st.binary(min_size=1, max_size=12),
    zipped=st.booleans(),
)
def test_mutated_rdml_raises_only_the_reader_error(position: int, replacement: bytes, zipped: bool) -> None:
    xml = RDML_XML[:position] + replacement + RDML_XML[position + len(replacement) :]
    content = xml
    if zipped:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("rdml_data.xml", xml)
        content = buffer.getvalue()
    try:
        reading = read_rdml(content, "mutated.rdml")
    except ReaderError:
        return
    assert all(
        math.isnan(m.value) or m.value >= 0 for m in reading.measurements if m.quantity == "cycle threshold"
    )


@settings(max_examples=80, deadline=None)
@given(
    position=st.integers(min_value=0, max_value=len(RDML) - 1), replacement=st.binary(min_size=1, max_size=8)
)
def test_a_damaged_rdml_zip_raises_only_the_reader_error(position: int, replacement: bytes) -> None:
    with contextlib.suppress(ReaderError):
        read_rdml(RDML[:position] + replacement + RDML[position + len(replacement) :], "damaged.rdml")
