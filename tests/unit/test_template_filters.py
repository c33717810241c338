"""Numbers on pages are printed to significant digits, as on certificates."""

from __future__ import annotations

import pytest

from secretome.web.templatetags.lab import significant


@pytest.mark.parametrize(
    "value,expected",
    [
        (5910000000000.0, "5.91 × 10¹²"),
        (66700000000.0, "6.67 × 10¹⁰"),
        (113.456, "113.5"),
        (0.00012345, "0.0001234"),
        (None, "—"),
        ("n/a", "n/a"),
        (float("nan"), "nan"),
    ],
)
def test_significant_prints_four_significant_digits(value: object, expected: str) -> None:
    assert significant(value) == expected
