"""Format detection from content, and the one entry point that reads any supported file.

The format is recognised from the bytes (never from the file name); ``format=`` overrides detection. An
unknown file gets a :class:`~secretome.instruments.model.ReaderError` listing the supported formats.
"""

from __future__ import annotations

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
from secretome.instruments.model import InstrumentReading, ReaderError

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
    return chosen.read(content, filename)
