"""NanoSight NTA ExperimentSummary files (own reader): values checked against the CSV, and property tests."""

from __future__ import annotations

import contextlib
import csv
import io
import math
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from secretome.instruments.detect import read
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


#: The measurement's name: the stem of the video file it recorded ("Original File:").
VIDEO = "20261120_0001_EV_lotA_size_488"
ZETAVIEW = (
    Path(__file__).resolve().parents[2] / "data" / "zetaview" / "ZetaView_8.05_size_488_constructed.txt"
).read_bytes()


def _zetaview_table(content: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sizes, counts and concentrations of the linear table, parsed here independently of the reader."""
    lines = content.decode("latin-1").splitlines()
    start = lines.index("Size / nm\tNumber\tConcentration / cm-3\tVolume / nm^3\tArea / nm^2") + 1
    rows = []
    for line in lines[start:]:
        cells = [float(c.replace(",", ".")) for c in line.split("\t")]
        if cells[0] == -1:
            break
        rows.append(cells)
    table = np.array(rows)
    return table[:, 0], table[:, 1], table[:, 2]


def test_zetaview_export_gives_the_number_weighted_statistics_of_its_table() -> None:
    sizes, counts, concentrations = _zetaview_table(ZETAVIEW)
    reading = read(ZETAVIEW, "zv.txt")
    assert reading.format == "zetaview"
    assert reading.warnings == ()
    assert reading.samples == ["MSC-CM EV prep A"]
    mean = float(np.sum(sizes * counts) / counts.sum())
    sd = math.sqrt(float(np.sum(counts * (sizes - mean) ** 2) / counts.sum()))

    # Percentiles of the cumulative count, linear within 5 nm bins: found here by walking the bins.
    def percentile(fraction: float) -> float:
        target, running = fraction * counts.sum(), 0.0
        for size, count in zip(sizes, counts, strict=True):
            if running + count >= target and count > 0:
                return float(size - 2.5 + 5.0 * (target - running) / count)
            running += count
        raise AssertionError("unreachable")

    assert reading.values("concentration", well=VIDEO) == [pytest.approx(concentrations.sum() * 2000)]
    assert reading.values("mean size", well=VIDEO) == [pytest.approx(mean, rel=1e-12)]
    assert reading.values("size SD", well=VIDEO) == [pytest.approx(sd, rel=1e-12)]
    assert reading.values("mode size", well=VIDEO) == [sizes[int(np.argmax(counts))]]
    for name, fraction in (("D10", 0.1), ("D50", 0.5), ("D90", 0.9)):
        assert reading.values(name, well=VIDEO) == [pytest.approx(percentile(fraction), rel=1e-12)]
    assert reading.values("D50", well=VIDEO) == [pytest.approx(104.98, abs=1e-6)]  # the header's D50
    assert reading.values("dilution factor") == [2000.0]
    assert reading.values("particles per frame") == [212.4]
    assert reading.values("valid tracks") == [counts.sum()]
    series = reading.series[f"size distribution {VIDEO}"]
    assert len(series) == 200 and series[0][0] == 2.5


def test_zetaview_and_nanosight_readings_share_their_quantities_units_and_layout() -> None:
    # An NTA method takes the rows of each video (well) and its "size distribution <video>" series; a
    # ZetaView file is one such video, named by the video file it recorded.
    zetaview = read(ZETAVIEW, "zv.txt")
    nanosight = read_nta(sample_bytes(FILES[1]), "ns.csv")
    units = {m.quantity: m.unit for m in nanosight.measurements}
    video = nanosight.run_metadata["videos"][0]
    per_video = {m.quantity for m in nanosight.measurements if m.well == video}
    assert per_video >= {"concentration", "mean size", "mode size", "D10", "D50", "D90"}
    assert {m.well for m in zetaview.measurements} == {VIDEO}
    for measurement in zetaview.measurements:
        if measurement.quantity != "dilution factor":
            assert units[measurement.quantity] == measurement.unit, measurement.quantity
    assert set(zetaview.series) == {f"size distribution {VIDEO}"}
    assert f"size distribution {video}" in nanosight.series


def test_a_zetaview_table_that_disagrees_with_its_reported_median_is_named() -> None:
    damaged = ZETAVIEW.replace(b"Median Number (D50):\t104,980000", b"Median Number (D50):\t140,980000")
    reading = read(damaged, "zv.txt")
    assert any(
        "reports a median (D50) of 141.0 nm but its table gives 105.0 nm" in w for w in reading.warnings
    )


def test_a_zetaview_file_cut_inside_its_table_is_refused_or_warned_about() -> None:
    cut = ZETAVIEW[: ZETAVIEW.index(b"5,025E+2")]
    reading = read(cut, "zv.txt")
    assert any("may have been cut" in w for w in reading.warnings)
    with pytest.raises(ReaderError, match="unreadable number"):
        read(ZETAVIEW[: ZETAVIEW.index(b"5,025E+2") + 12], "zv.txt")


def test_a_zetaview_file_with_a_bad_check_result_flags_its_values() -> None:
    reading = read(
        ZETAVIEW.replace(b"Particle Drift Check Result:\tGood", b"Particle Drift Check Result:\ttoo high"),
        "z",
    )
    assert all("Particle Drift Check Result: too high" in m.flags for m in reading.measurements)
    assert any("checks are not good" in w for w in reading.warnings)


@settings(max_examples=60, deadline=None)
@given(
    position=st.integers(min_value=0, max_value=len(ZETAVIEW) - 1),
    replacement=st.binary(min_size=1, max_size=4),
)
def test_mutated_zetaview_bytes_raise_only_the_reader_error(position: int, replacement: bytes) -> None:
    mutated = ZETAVIEW[:position] + replacement + ZETAVIEW[position + len(replacement) :]
    with contextlib.suppress(ReaderError):
        read(mutated, "zv.txt")


@pytest.mark.parametrize("relative", FILES)
def test_a_nanosight_file_cut_short_is_refused_for_the_tables_it_declares(relative: str) -> None:
    content = sample_bytes(relative)
    for marker, words in (
        (b"\n99,", "ends at 98"),
        (b"Percentile,", "no percentile table"),
        (b"[Size Data]", "holds none"),
    ):
        with pytest.raises(ReaderError, match=words):
            read_nta(content[: content.index(marker) + 1], "cut.csv")


@settings(max_examples=40, deadline=None)
@given(cut=st.integers(min_value=3000, max_value=len(sample_bytes(FILES[0])) - 10))
def test_a_nanosight_file_cut_anywhere_past_its_results_is_refused_or_warned_about(cut: int) -> None:
    try:
        reading = read_nta(sample_bytes(FILES[0])[:cut], "cut.csv")
    except ReaderError:
        return
    # Cut before [Data Included]: nothing is declared, and the missing distribution is named.
    assert "the file holds no size distribution table" in reading.warnings
