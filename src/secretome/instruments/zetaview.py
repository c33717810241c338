"""Particle Metrix ZetaView NTA size-distribution text export (``*_size_488.txt``, ZetaView software 8.x).

No maintained library reads it and no licensed sample file was found, so this reader follows the format as
the instrument writes it and as published analysis tools parse it: tab-separated ``Key:<TAB>value`` lines
(several pairs may share a line: ``Number of Traces:``, ``Average Number of Particles:`` and ``Dilution::``
do), decimal commas or points depending on the PC's locale, Latin-1 text (``µs``); a ``Results`` block
with the software's medians (``Median Number (D50):``); then ``Size Distribution`` and a table
``Size / nm | Number | Concentration / cm-3 | Volume / nm^3 | Area / nm^2`` in linear bins, ended by a
separator row of ``-1.000E+0`` values after which a logarithmically binned copy follows (not read).

The table's concentration is that of the measured suspension (before the dilution factor). The reader
returns the NanoSight reader's quantities for one "video" (a ZetaView file is one measurement over its
positions, named by its recorded video file), so one NTA method reads both instruments, pooling ZetaView
files of a lot as it pools NanoSight videos: ``concentration`` (particles/mL, times the dilution
factor), ``mean size``, ``mode size``, ``size SD``, ``D10``/``D50``/``D90`` (number-weighted, from the
linear table, linear interpolation within bins), ``particles per frame``, ``valid tracks`` and
``dilution factor``; the size distribution (particles/mL per bin, diluted back) as the series
``size distribution <video>``. The file's own D50 is compared with the one computed from its table: a
table that disagrees with its header is damaged.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator

import numpy as np

from secretome.instruments.formats import FileFormat
from secretome.instruments.model import InstrumentReading, Measurement, ReaderError

FAMILY = "nta"
ZETAVIEW_READER_VERSION = "1.0"
TABLE_HEADER = ("Size / nm", "Number", "Concentration / cm-3")
_NUMBER = re.compile(r"^[-+]?(\d+([.,]\d*)?|[.,]\d+)([eE][-+]?\d+)?$")


def _value(text: str) -> float:
    """A ZetaView number: decimal comma or point, exponent allowed; NaN for anything else."""
    cleaned = text.strip()
    if not _NUMBER.match(cleaned):
        return math.nan
    return float(cleaned.replace(",", "."))


def _pairs(line: str) -> Iterator[tuple[str, str]]:
    """The ``Key:`` / value pairs of one header line (``A:\\t1\\t(note)\\tB:\\t2`` gives A and B)."""
    cells = line.split("\t")
    index = 0
    while index < len(cells):
        cell = cells[index].strip()
        if cell.endswith(":") and len(cell) > 1:
            value = cells[index + 1].strip() if index + 1 < len(cells) else ""
            yield cell.rstrip(":").strip(), value
            index += 2
        else:
            index += 1


def _percentile(edges: np.ndarray, counts: np.ndarray, fraction: float) -> float:
    cumulative = np.concatenate([[0.0], np.cumsum(counts)]) / counts.sum()
    return float(np.interp(fraction, cumulative, edges))


def read_zetaview(content: bytes, filename: str) -> InstrumentReading:
    """Read a ZetaView size-distribution text export."""
    text = content.decode("latin-1")
    if "\x00" in text:
        raise ReaderError(filename, "holds NUL bytes; not a text export")
    lines = text.splitlines()
    fields: dict[str, str] = {}
    table_line = None
    for number, line in enumerate(lines, start=1):
        if line.split("\t")[:3] == list(TABLE_HEADER):
            table_line = number
            break
        for key, value in _pairs(line):
            fields.setdefault(key, value)
    if table_line is None:
        raise ReaderError(
            filename, "no 'Size / nm<TAB>Number<TAB>Concentration / cm-3' table; is the export complete?"
        )
    sizes: list[float] = []
    counts: list[float] = []
    concentrations: list[float] = []
    columns = len(lines[table_line - 1].split("\t"))
    ended = False
    for number, line in enumerate(lines[table_line:], start=table_line + 1):
        cells = line.split("\t")
        if not line.strip():
            ended = True
            break
        values = [_value(c) for c in cells]
        if values[0] == -1.0:  # the separator before the logarithmic table
            ended = True
            break
        if len(cells) < columns or any(math.isnan(v) for v in values[:columns]):
            raise ReaderError(
                filename,
                f"a size-distribution row with {len(cells)} cells or an unreadable number",
                line=number,
            )
        sizes.append(values[0])
        counts.append(values[1])
        concentrations.append(values[2])
    if not sizes:
        raise ReaderError(filename, "the size-distribution table has no rows", line=table_line + 1)
    warnings = []
    if not ended:
        warnings.append("the size-distribution table runs to the end of the file: the file may have been cut")
    size = np.asarray(sizes)
    count = np.asarray(counts)
    per_bin = np.asarray(concentrations)
    steps = np.diff(size)
    width = float(np.median(steps)) if len(size) > 1 else 1.0
    # Sizes are printed with four significant digits (1,002E+3 for 1002.5 nm): allow that rounding.
    expected = size[0] + width * np.arange(len(size))
    if len(size) > 1 and (np.any(steps <= 0) or np.any(np.abs(size - expected) > 1e-3 * expected + 1e-9)):
        raise ReaderError(filename, "the size bins are not evenly spaced and increasing", line=table_line + 1)
    size = expected
    if np.any(count < 0) or np.any(per_bin < 0):
        raise ReaderError(filename, "negative counts in the size-distribution table", line=table_line + 1)
    if count.sum() <= 0:
        raise ReaderError(filename, "the size-distribution table counts no particle")
    edges = np.concatenate([size - width / 2, [size[-1] + width / 2]])
    dilution = _value(fields.get("Dilution", "")) if fields.get("Dilution") else 1.0
    if math.isnan(dilution) or dilution <= 0:
        raise ReaderError(
            filename, f"dilution factor {fields.get('Dilution', '')[:20]!r} is not a positive number"
        )
    mean = float(np.sum(count * size) / count.sum())
    spread = float(np.sqrt(np.sum(count * (size - mean) ** 2) / count.sum()))
    d50 = _percentile(edges, count, 0.5)
    reported = _value(fields.get("Median Number (D50)", ""))
    if not math.isnan(reported) and abs(reported - d50) > width:
        warnings.append(
            f"the file reports a median (D50) of {reported:.1f} nm but its table gives {d50:.1f} nm: "
            "the table or the header was changed"
        )
    sample = fields.get("Sample") or fields.get("Experiment") or ""
    summary: list[tuple[str, float, str]] = [
        ("concentration", float(per_bin.sum()) * dilution, "particles/mL"),
        ("mean size", mean, "nm"),
        ("mode size", float(size[int(np.argmax(count))]), "nm"),
        ("size SD", spread, "nm"),
        ("D10", _percentile(edges, count, 0.1), "nm"),
        ("D50", d50, "nm"),
        ("D90", _percentile(edges, count, 0.9), "nm"),
        ("dilution factor", dilution, ""),
    ]
    particles = _value(fields.get("Average Number of Particles", ""))
    if not math.isnan(particles):
        summary.append(("particles per frame", particles, "particles/frame"))
    traces = _value(fields.get("Number of Traces", ""))
    if not math.isnan(traces):
        summary.append(("valid tracks", traces, "tracks"))
    flags: tuple[str, ...] = ()
    for key in ("Cell Check Result", "Particle Drift Check Result"):
        result = fields.get(key, "")
        if result and result not in ("Good", "Very Good", "OK"):
            flags = (*flags, f"{key}: {result}")
    video = _video_label(fields, filename)
    measurements = tuple(Measurement(q, v, u, sample, video, "", "", flags) for q, v, u in summary)
    if flags:
        warnings.append(f"the instrument's checks are not good ({'; '.join(flags)})")
    metadata: dict[str, object] = {
        label: fields[key]
        for key, label in (
            ("Operator", "operator"),
            ("Experiment", "experiment"),
            ("SOP", "SOP"),
            ("Date", "date"),
            ("Time", "time"),
            ("Electrolyte", "electrolyte"),
            ("Temperature", "temperature (C)"),
            ("Laser Wavelength nm", "laser wavelength (nm)"),
            ("Cell S/N", "cell serial number"),
            ("Original File", "video"),
        )
        if fields.get(key)
    }
    metadata["bins"] = len(size)
    metadata["bin width (nm)"] = width
    metadata["counted particles"] = float(count.sum())
    software = fields.get("Software", "")
    version = re.search(r"version\s+([^)]+)", software)
    return InstrumentReading(
        filename=filename,
        format="zetaview",
        family=FAMILY,
        reader="secretome.instruments.zetaview.read_zetaview",
        reader_version=ZETAVIEW_READER_VERSION,
        instrument="Particle Metrix ZetaView",
        serial_number=fields.get("ZetaView S/N", ""),
        software="ZetaView",
        software_version=version.group(1).strip() if version else fields.get("Analyze", ""),
        run_metadata=metadata,
        measurements=measurements,
        warnings=tuple(warnings),
        series={
            f"size distribution {video}": tuple(
                (float(s), float(c) * dilution) for s, c in zip(size, per_bin, strict=True)
            )
        },
    )


def _video_label(fields: dict[str, str], filename: str) -> str:
    """The measurement's name, as NanoSight names a video: the recorded video file's stem (unique per
    measurement), else the experiment, else the file name."""
    original = fields.get("Original File", "").replace("\\", "/").rsplit("/", 1)[-1]
    stem = original.rsplit(".", 1)[0] if "." in original else original
    return stem or fields.get("Experiment", "") or filename


def _is_zetaview(head: str, content: bytes) -> bool:
    return "ZetaView S/N:" in head or ("Original File:" in head and "Software:\tZetaView" in head)


FORMATS = (
    FileFormat(
        "zetaview",
        FAMILY,
        "Particle Metrix ZetaView",
        "ZetaView 8.x size-distribution text export, own reader",
        _is_zetaview,
        read_zetaview,
    ),
)
