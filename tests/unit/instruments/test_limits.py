"""Size, line-length and column limits are checked on the bytes before any reader runs, and refusals never
carry the file's content."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from secretome.instruments.detect import read
from secretome.instruments.limits import InputLimits, check_input
from secretome.instruments.model import MAX_PROBLEM_CHARS, ReaderError
from tests.unit.instruments.samples import every_sample, sample_bytes


def test_a_2_mb_csv_with_one_line_of_a_million_columns_is_refused_before_parsing() -> None:
    # Looks like a Vi-CELL BLU export, so detection would hand it to the converter.
    header = b"Sample ID,Viable (x10^6) cells/mL," + b"," * 1_000_000 + b"\r\n"
    content = header + b"S1,1.0\r\n" * 100_000
    assert len(content) > 1_800_000
    with pytest.raises(ReaderError) as caught:
        read(content, "wide.csv")
    message = str(caught.value)
    assert message == "wide.csv (line 1): a line of 1,000,003 columns; the limit is 4,096"


def test_an_overlong_line_is_refused_naming_its_line_and_the_limit() -> None:
    content = b"Sample ID,x\r\n" + b"A" * 2_000_000 + b"\r\n"
    with pytest.raises(ReaderError) as caught:
        read(content, "long.csv")
    assert str(caught.value) == "long.csv (line 2): a line of 2,000,001 bytes; the limit is 1,048,576"


def test_a_file_over_the_size_limit_is_refused_whatever_it_holds() -> None:
    limits = InputLimits(max_file_bytes=1000)
    with pytest.raises(ReaderError, match="the file has 1,001 bytes; the limit is 1,000"):
        check_input(b"x" * 1001, "big.csv", limits)


def test_utf16_lines_and_columns_are_counted_in_the_file_encoding() -> None:
    line = "a," * 50 + "\n"
    content = ("\ufeff" + line * 3).encode("utf-16-le")
    check_input(content, "ok.txt", InputLimits(max_columns=51))
    with pytest.raises(ReaderError, match="a line of 51 columns; the limit is 50"):
        check_input(content, "wide.txt", InputLimits(max_columns=50))


def test_binary_containers_are_only_checked_for_size() -> None:
    fcs = sample_bytes("fcs/Sysmex_CyFlow_Cube8_FCS3.0.fcs")
    check_input(fcs, "cube.fcs", InputLimits(max_line_bytes=10, max_columns=2))


def test_every_real_sample_is_within_the_default_limits() -> None:
    for path in every_sample():
        check_input(path.read_bytes(), path.name)


@pytest.mark.parametrize("name", ["max_file_bytes", "max_line_bytes", "max_columns"])
def test_a_limit_that_is_not_positive_is_refused_naming_it(name: str) -> None:
    with pytest.raises(ValueError, match=f"^{name}: "):
        InputLimits(**{name: 0})


@settings(max_examples=50, deadline=None)
@given(secret=st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=20, max_size=60))
def test_a_refusal_never_quotes_the_file(secret: str) -> None:
    content = f"Sample ID,Viable (x10^6) cells/mL\r\n{secret},{secret}\r\n".encode() * 3
    with pytest.raises(ReaderError) as caught:
        read(content, "quoted.csv")
    assert secret not in str(caught.value)


def test_a_problem_text_is_cut_to_one_line_of_bounded_length() -> None:
    error = ReaderError("f.csv", "word\n" * 10_000)
    assert "\n" not in str(error)
    assert len(error.problem) == MAX_PROBLEM_CHARS


@pytest.mark.parametrize("newline", [b"\n", b"\r\n"])
def test_the_refused_line_is_numbered_as_an_editor_numbers_it(newline: bytes) -> None:
    lines = [b"a,b,c"] * 4 + [b"x" * 5000] + [b"d,e"] * 3
    limits = InputLimits(max_line_bytes=4096)
    with pytest.raises(ReaderError) as caught:
        check_input(newline.join(lines), "n.csv", limits)
    assert caught.value.line == 5
    # The last line without a line end is checked too.
    with pytest.raises(ReaderError) as last:
        check_input(newline.join([b"a,b"] * 3 + [b"y" * 5000]), "n.csv", limits)
    assert last.value.line == 4
