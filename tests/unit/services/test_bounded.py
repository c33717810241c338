"""Uploaded files are read in a separate process with time, memory and concurrency limits."""

from __future__ import annotations

import time

import pytest

from secretome.instruments.detect import read
from secretome.instruments.limits import InputLimits
from secretome.instruments.model import InstrumentReading
from secretome.services import bounded
from tests.unit.instruments.samples import sample_bytes


def never_returns(
    content: bytes, filename: str, format: str | None, limits: InputLimits
) -> InstrumentReading:
    """A reader that loops, as a hostile file could make a parser do."""
    while True:
        time.sleep(0.05)


def test_a_real_file_read_in_the_bounded_process_equals_the_direct_reading() -> None:
    content = sample_bytes("nta/NanoSight_NTA3.4_ExperimentSummary_beads2.csv")
    reading = bounded.read_bounded(content, "nta.csv")
    assert reading.format == "nanosight-nta"
    assert reading.measurements == read(content, "nta.csv").measurements


def test_a_read_that_does_not_end_is_killed_at_the_time_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRETOME_PREVIEW_SECONDS", "1")
    started = time.monotonic()
    with pytest.raises(bounded.ReadRefused, match=r"^loop\.csv: reading it took longer than 1 s; refused$"):
        bounded.read_bounded(b"x", "loop.csv", reader=never_returns)
    assert time.monotonic() - started < 30


def test_a_read_beyond_the_memory_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRETOME_PREVIEW_MEMORY_MB", "64")
    content = sample_bytes("fcs/BD_LSRII_FCS3.0_14colour_comp_example.fcs")
    with pytest.raises(bounded.ReadRefused, match="memory"):
        bounded.read_bounded(content, "lsr.fcs")


def test_a_refusal_in_the_child_comes_back_as_its_one_line_message() -> None:
    with pytest.raises(bounded.ReadRefused, match=r"^hello\.csv: not a supported instrument file"):
        bounded.read_bounded(b"hello, world\n", "hello.csv")


def test_the_input_limits_come_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRETOME_MAX_COLUMNS", "10")
    monkeypatch.setenv("SECRETOME_MAX_FILE_BYTES", "100")
    assert bounded.input_limits() == InputLimits(
        max_file_bytes=100, max_line_bytes=1024 * 1024, max_columns=10
    )
    with pytest.raises(bounded.ReadRefused, match="the file has 101 bytes; the limit is 100"):
        bounded.read_bounded(b"x" * 101, "big.csv")
    monkeypatch.setenv("SECRETOME_MAX_COLUMNS", "ten")
    with pytest.raises(ValueError, match=r"^SECRETOME_MAX_COLUMNS: 'ten' is not a whole number$"):
        bounded.input_limits()


def test_more_reads_than_workers_are_refused_as_busy_not_queued(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRETOME_PREVIEW_WORKERS", "1")
    slots = bounded._slots_for(1)
    assert slots.acquire(blocking=False)
    try:
        with pytest.raises(bounded.ReadBusy):
            bounded.read_bounded(b"x", "second.csv")
    finally:
        slots.release()
