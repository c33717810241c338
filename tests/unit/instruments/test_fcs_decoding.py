"""FCS scale decoding, one rule per test, on small FCS files built here byte by byte."""

from __future__ import annotations

import numpy as np
import pytest

from secretome.instruments.flow import read_fcs, read_fcs_data_sets


def fcs(
    columns: list[tuple[str, int, list[int] | list[float]]], keywords: dict[str, str], datatype: str = "I"
) -> bytes:
    """An FCS 3.1 file: ``columns`` are (name, bits, values); integers big-endian, per-channel widths."""
    count = len(columns[0][2])
    text = {"$BYTEORD": "4,3,2,1", "$DATATYPE": datatype, "$MODE": "L", "$NEXTDATA": "0"}
    text |= {"$PAR": str(len(columns)), "$TOT": str(count)}
    for index, (name, bits, _) in enumerate(columns, start=1):
        text |= {f"$P{index}N": name, f"$P{index}B": str(bits), f"$P{index}E": "0,0", f"$P{index}R": "1024"}
    text |= keywords
    rows = []
    for event in range(count):
        for _, bits, values in columns:
            kind = {"I": "u", "F": "f", "D": "f"}[datatype]
            rows.append(np.array(values[event], dtype=f">{kind}{bits // 8}").tobytes())
    data = b"".join(rows)
    begin = end = 0
    for _ in range(4):
        text["$BEGINDATA"], text["$ENDDATA"] = str(begin), str(end)
        segment = ("|" + "".join(f"{k}|{v}|" for k, v in text.items())).encode("latin-1")
        begin, end = 58 + len(segment), 58 + len(segment) + len(data) - 1
    header = b"FCS3.1    " + b"".join(f"{v:>8}".encode() for v in (58, 57 + len(segment), 0, 0, 0, 0))
    return header + segment + data


def scaled(content: bytes) -> np.ndarray:
    (data_set,) = read_fcs_data_sets(content, "built.fcs")
    return data_set.scaled()


def test_integer_values_are_masked_to_ceil_log2_of_pnr_bits() -> None:
    # $PnR = 1000 -> ceil(log2 1000) = 10 bits: 0xFC00 set above them is not part of the value.
    content = fcs([("FL1-H", 16, [0xFC00 | 5, 1023, 0xFFFF])], {"$P1R": "1000"})
    assert scaled(content)[:, 0].tolist() == [5.0, 1023.0, 1023.0]


def test_mixed_integer_widths_are_masked_per_channel() -> None:
    content = fcs(
        [("FSC-H", 8, [255, 17]), ("FL1-H", 16, [0xFFFF, 300]), ("Time", 32, [0xFFFFFFFF, 70000])],
        {"$P1R": "128", "$P2R": "1024", "$P3R": "65536"},
    )
    np.testing.assert_array_equal(scaled(content), [[127.0, 1023.0, 65535.0], [17.0, 300.0, 4464.0]])


def test_log_amplified_channels_are_decoded_as_ten_to_the_f1_x_over_pnr_times_f2() -> None:
    content = fcs([("FL1-H", 16, [0, 256, 1023])], {"$P1E": "4,0.5", "$P1R": "1024"})
    expected = [10 ** (4 * x / 1024) * 0.5 for x in (0, 256, 1023)]
    np.testing.assert_allclose(scaled(content)[:, 0], expected, rtol=1e-15)


def test_a_log_zero_of_zero_is_read_as_one() -> None:
    content = fcs([("FL1-H", 16, [512])], {"$P1E": "4,0"})
    assert scaled(content)[0, 0] == pytest.approx(10 ** (4 * 512 / 1024), rel=1e-15)


def test_linear_channels_are_divided_by_their_gain_and_log_channels_are_not() -> None:
    content = fcs(
        [("FSC-H", 16, [367, 734]), ("FL1-H", 16, [256, 256])],
        {"$P1G": "3.67", "$P2E": "4,1", "$P2G": "2"},
    )
    values = scaled(content)
    np.testing.assert_allclose(values[:, 0], [100.0, 200.0], rtol=1e-15)
    np.testing.assert_allclose(values[:, 1], [10.0, 10.0], rtol=1e-15)


def test_float_data_are_taken_as_stored() -> None:
    content = fcs([("FSC-A", 32, [1.5, -2.25]), ("FL1-A", 32, [1e6, 0.125])], {"$P1R": "262144"}, "F")
    np.testing.assert_array_equal(scaled(content), [[1.5, 1e6], [-2.25, 0.125]])


def test_time_is_multiplied_by_timestep() -> None:
    content = fcs([("Time", 16, [0, 100, 1000])], {"$TIMESTEP": "0.01"})
    np.testing.assert_allclose(scaled(content)[:, 0], [0.0, 1.0, 10.0])


def test_a_junk_timestep_is_ignored_with_a_warning_not_an_error() -> None:
    content = fcs([("Time", 16, [0, 100]), ("FL1-H", 16, [5, 6])], {"$TIMESTEP": "n/a"})
    np.testing.assert_array_equal(scaled(content)[:, 0], [0.0, 100.0])
    reading = read_fcs(content, "junk.fcs")
    assert any("$TIMESTEP='n/a' is not a number" in warning for warning in reading.warnings)


def test_dimension_names_are_pnn() -> None:
    content = fcs([("CD73 PE-A", 16, [1]), ("FSC-A", 16, [2])], {"$P1S": "CD73"})
    (data_set,) = read_fcs_data_sets(content, "names.fcs")
    assert data_set.channels == ("CD73 PE-A", "FSC-A")
