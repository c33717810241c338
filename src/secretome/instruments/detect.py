"""Format detection from content, and the one entry point that reads any supported file.

The format is recognised from the bytes (never from the file name); ``format=`` overrides detection. An
unknown file gets a :class:`~secretome.instruments.model.ReaderError` listing the supported formats.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from secretome.instruments import (
    assay_tables,
    cell_counters,
    flow,
    multiplex,
    nta,
    plate_readers,
    qpcr,
    zetaview,
)
from secretome.instruments.formats import FileFormat, head_text
from secretome.instruments.limits import DEFAULT_LIMITS, InputLimits, check_input
from secretome.instruments.model import NUL, InstrumentReading, ReaderError
from secretome.instruments.model import without_nul as without_nul_text

#: Every supported format, in detection order.
FORMATS: tuple[FileFormat, ...] = (
    *cell_counters.FORMATS,
    *plate_readers.FORMATS,
    *multiplex.FORMATS,
    *qpcr.FORMATS,
    *flow.FORMATS,
    *nta.FORMATS,
    *zetaview.FORMATS,
    # Last: generic CSV tables recognised by their column names.
    *assay_tables.FORMATS,
)

#: The largest file accepted (bytes) unless the caller passes other limits.
MAX_FILE_BYTES = DEFAULT_LIMITS.max_file_bytes


def supported_formats() -> list[FileFormat]:
    """The formats in detection order."""
    return list(FORMATS)


def format_names() -> list[str]:
    return [f.name for f in FORMATS]


def get_format(name: str) -> FileFormat:
    """The format called ``name``; ``ValueError`` naming the choices otherwise."""
    for candidate in FORMATS:
        if candidate.name == name.strip().lower():
            return candidate
    raise ValueError(f"format: unknown format {name!r}; supported: {', '.join(format_names())}")


def detect(content: bytes, filename: str) -> FileFormat:
    """The format of ``content``, recognised from its bytes."""
    if not content:
        raise ReaderError(filename, "the file is empty")
    head = head_text(content)
    for candidate in FORMATS:
        try:
            if candidate.sniff(head, content):
                return candidate
        except Exception:  # a sniffer that trips on odd bytes simply does not match
            continue
    raise ReaderError(
        filename, "not a supported instrument file; supported formats: " + ", ".join(format_names())
    )


def read(
    content: bytes, filename: str, format: str | None = None, limits: InputLimits = DEFAULT_LIMITS
) -> InstrumentReading:
    """Read ``content`` (the file's bytes) with the detected format, or ``format`` when given.

    The size, line lengths and column counts are checked against ``limits`` before any reader runs.
    """
    check_input(content, filename, limits)
    chosen = get_format(format) if format else detect(content, filename)
    return without_nul(chosen.read(content, filename))


_TEXT_FIELDS = ("instrument", "serial_number", "software", "software_version")


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return without_nul_text(value)
    if isinstance(value, dict):
        return {_clean(key): _clean(member) for key, member in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_clean(member) for member in value)
    return value


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(_holds_nul(key) or _holds_nul(member) for key, member in value.items())
    if isinstance(value, list | tuple):
        return any(_holds_nul(member) for member in value)
    return False


def without_nul(reading: InstrumentReading) -> InstrumentReading:
    """``reading`` with no NUL character in its text: trailing ones dropped as padding, others shown as U+FFFD.

    A binary format (FCS keywords, BIFF cells) can carry NUL in its text, which means nothing to the lab and
    which PostgreSQL cannot store; the raw file keeps its bytes, and the reading says what it changed.
    """
    texts: list[Any] = [getattr(reading, name) for name in _TEXT_FIELDS]
    texts += [dict(reading.run_metadata), reading.warnings]
    texts += [
        (m.quantity, m.unit, m.sample, m.well, m.plate, m.analyte, m.flags) for m in reading.measurements
    ]
    if not _holds_nul(texts):
        return reading
    return dataclasses.replace(
        reading,
        measurements=tuple(
            dataclasses.replace(
                m,
                quantity=_clean(m.quantity),
                unit=_clean(m.unit),
                sample=_clean(m.sample),
                well=_clean(m.well),
                plate=_clean(m.plate),
                analyte=_clean(m.analyte),
                flags=_clean(m.flags),
            )
            for m in reading.measurements
        ),
        run_metadata=_clean(dict(reading.run_metadata)),
        warnings=(
            *_clean(reading.warnings),
            "NUL characters in the file's text: trailing ones dropped as padding, others shown as U+FFFD "
            "(the stored raw file keeps its bytes)",
        ),
        **{name: _clean(getattr(reading, name)) for name in _TEXT_FIELDS},
    )
