"""ISBT 128 Donation Identification Numbers (Data Structure 001) and their ISO/IEC 7064 MOD 37-2 check.

A DIN is 13 characters: the 5-character Facility Identification Number (a letter A-N, P-Z or a digit 1-9,
then four digits), a 2-digit nominal year and a 6-digit sequence number. Two flag characters may follow
("00" when unused, 60-96 when they encode the check value) and, printed next to the barcode for keyboard
entry, one eye-readable check character. ICCBBA's code tables are licensed and not bundled here; only the
public structure and check algorithm are implemented.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: ISO/IEC 7064 MOD 37-2 character set: 0-9 -> 0-9, A-Z -> 10-35, '*' -> 36.
MOD37_CHARACTERS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*"

_DIN = re.compile(r"^(?P<fin>[A-NP-Z1-9]\d{4})(?P<year>\d{2})(?P<sequence>\d{6})$")
_FLAG_CHECK_OFFSET = 60


def check_value(din13: str) -> int:
    """The ISO/IEC 7064 MOD 37-2 check value (0-36) of a 13-character DIN.

    Parameters
    ----------
    din13
        Facility, year and sequence, without the leading ``=``, the flags or a check character.

    Returns
    -------
    int
        The value whose character, appended, makes the weighted sum congruent to 1 modulo 37.
    """
    total = 0
    for character in din13.upper():
        index = MOD37_CHARACTERS.find(character)
        if index < 0:
            raise ValueError(f"din: {character!r} is not an ISO/IEC 7064 MOD 37-2 character")
        # Horner's form of sum(value * 2**position-from-the-right), reduced as it goes.
        total = ((total + index) * 2) % 37
    return (38 - total) % 37


def check_character(din13: str) -> str:
    """The eye-readable MOD 37-2 check character of a 13-character DIN (``G123498654321`` -> ``H``)."""
    return MOD37_CHARACTERS[check_value(din13)]


@dataclass(frozen=True)
class Din:
    """A validated Donation Identification Number."""

    facility: str
    year: str
    sequence: int
    flags: str = "00"

    @property
    def code(self) -> str:
        """The 13-character identifier that follows the product through every container."""
        return f"{self.facility}{self.year}{self.sequence:06d}"

    @property
    def check(self) -> str:
        """The eye-readable check character."""
        return check_character(self.code)

    @property
    def eye_readable(self) -> str:
        """The printed form: facility, year, sequence, flags and the boxed check character."""
        return f"{self.facility} {self.year} {self.sequence:06d} {self.flags} {self.check}"

    def to_dict(self) -> dict[str, object]:
        return {
            "din": self.code,
            "facility": self.facility,
            "year": self.year,
            "sequence": self.sequence,
            "flags": self.flags,
            "check_character": self.check,
        }


def parse_din(text: str) -> Din:
    """Parse and validate a DIN as typed or scanned.

    Accepts the 13 characters alone, followed by the two flag characters and/or the check character, with
    or without the leading ``=`` data identifier and spaces (``=G12349865432100``, ``G1234 98 654321 H``).

    Raises
    ------
    ValueError
        Naming ``din`` and what is wrong: structure, a check character that does not match (a typing
        error), or flags 60-96 that encode a different check value.
    """
    cleaned = re.sub(r"\s+", "", text or "").upper()
    if cleaned.startswith("="):
        cleaned = cleaned[1:]
    if len(cleaned) < 13:
        raise ValueError(f"din: {text!r} is too short; a DIN has 13 characters (facility, year, sequence)")
    body, rest = cleaned[:13], cleaned[13:]
    match = _DIN.match(body)
    if match is None:
        raise ValueError(
            f"din: {body!r} is not a DIN: expected a facility code (A-N, P-Z or 1-9, then 4 digits), "
            "a 2-digit year and a 6-digit sequence"
        )
    flags, typed_check = "00", None
    if len(rest) == 1:
        typed_check = rest
    elif len(rest) == 2:
        flags = rest
    elif len(rest) == 3:
        flags, typed_check = rest[:2], rest[2]
    elif rest:
        raise ValueError(
            f"din: {text!r} has {len(rest)} characters after the DIN; expected flags and/or check"
        )
    if not flags.isdigit():
        raise ValueError(f"din: flag characters {flags!r} must be two digits")
    din = Din(match["fin"], match["year"], int(match["sequence"]), flags)
    if typed_check is not None and typed_check != din.check:
        raise ValueError(
            f"din: check character {typed_check!r} does not match {din.code} (expected {din.check})"
        )
    flag_value = int(flags)
    encodes_check = _FLAG_CHECK_OFFSET <= flag_value <= _FLAG_CHECK_OFFSET + 36
    if encodes_check and flag_value - _FLAG_CHECK_OFFSET != check_value(din.code):
        raise ValueError(f"din: flags {flags} encode a check value that does not match {din.code}")
    return din


def generate_din(facility: str, year: int, sequence: int, *, encode_check_in_flags: bool = False) -> Din:
    """A new DIN for a donation.

    Parameters
    ----------
    facility
        The 5-character Facility Identification Number ICCBBA assigned to the site.
    year
        The nominal year (four digits or two).
    sequence
        1-999999, unique within the facility and year (the caller keeps the counter).
    encode_check_in_flags
        Put 60 + check value into the flag characters, as some label formats do.
    """
    facility = facility.strip().upper()
    if not re.fullmatch(r"[A-NP-Z1-9]\d{4}", facility):
        raise ValueError(f"facility: {facility!r} is not a Facility Identification Number (e.g. G1234)")
    if not 0 <= year <= 9999:
        raise ValueError(f"year: {year} is not a year")
    if not 1 <= sequence <= 999_999:
        raise ValueError(f"sequence: {sequence} is outside 1-999999")
    din = Din(facility, f"{year % 100:02d}", sequence)
    if encode_check_in_flags:
        din = Din(din.facility, din.year, din.sequence, f"{_FLAG_CHECK_OFFSET + check_value(din.code)}")
    return din
