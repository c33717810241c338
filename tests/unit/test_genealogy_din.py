"""ISBT 128 DIN parsing and the ISO/IEC 7064 MOD 37-2 check character."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from secretome.domain.din import MOD37_CHARACTERS, check_character, check_value, generate_din, parse_din


def _weighted_sum(text: str) -> int:
    """The standard's explicit form: each value weighted by 2**n, n counted from the right starting at 1."""
    return sum(MOD37_CHARACTERS.index(c) * 2 ** (len(text) - i) for i, c in enumerate(text))


def test_published_example_gives_check_character_h_and_flags_77() -> None:
    # JPAC Red Book Annex 2: G123498654321 -> weighted sum 148,354 -> mod 37 = 21 -> 38 - 21 = 17 -> "H".
    assert _weighted_sum("G123498654321") == 148_354
    assert check_value("G123498654321") == 17
    assert check_character("G123498654321") == "H"
    assert generate_din("G1234", 1998, 654321, encode_check_in_flags=True).flags == "77"


fins = st.from_regex(r"[A-NP-Z1-9][0-9]{4}", fullmatch=True)


@given(fins, st.integers(0, 99), st.integers(1, 999_999))
def test_check_character_satisfies_the_mod37_validation_rule(fin: str, year: int, sequence: int) -> None:
    din = generate_din(fin, year, sequence)
    # Validation rule of the standard: sum(value * 2**n) + value(check) == 1 (mod 37).
    assert (_weighted_sum(din.code) + MOD37_CHARACTERS.index(din.check)) % 37 == 1


def test_parse_accepts_barcode_and_eye_readable_forms() -> None:
    for text in ("G123498654321", "=G12349865432100", "G1234 98 654321 H", "g123498654321 77h"):
        din = parse_din(text)
        assert din.code == "G123498654321"
        assert din.check == "H"
    assert parse_din("G123498654321 77").flags == "77"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("G123498654321 K", "check character 'K' does not match"),
        ("G12349865432178", "encode a check value that does not match"),
        ("O123498654321", "is not a DIN"),
        ("01234 98 654321", "is not a DIN"),
        ("G12349865432", "too short"),
        ("G123498654321XYZW", "characters after the DIN"),
    ],
)
def test_parse_refuses_typing_errors_naming_the_din(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=r"^din:") as excinfo:
        parse_din(text)
    assert message in str(excinfo.value)


def test_a_single_transposition_is_caught_by_the_check_character() -> None:
    assert check_character("G123498654312") != "H"


def test_generate_refuses_bad_facility_and_sequence() -> None:
    with pytest.raises(ValueError, match="facility"):
        generate_din("O1234", 2026, 1)
    with pytest.raises(ValueError, match="sequence"):
        generate_din("G1234", 2026, 0)
    assert generate_din("W0001", 2026, 42).code == "W000126000042"
