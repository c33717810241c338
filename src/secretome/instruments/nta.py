"""Malvern Panalytical NanoSight NTA "Experiment Summary" CSV (NTA 3.2 and 3.4).

No maintained library reads this export, so this module does. The file is a sequence of ``[Section]``
blocks with one column per video, followed by the size-distribution table (``Bin centre (nm)``, one
concentration column per video, average and standard error) and a percentile table. The reader returns,
per video and for the average: concentration (particles/mL, already multiplied by the recorded dilution
factor), mean, mode, SD, D10/D50/D90 sizes (nm), particles per frame and track counts, each flagged with
the software's concentration warnings for that video; the size distributions are returned as series.
Anything it cannot read raises :class:`~secretome.instruments.model.ReaderError` with the line number.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator

from secretome.instruments.formats import FileFormat
from secretome.instruments.model import InstrumentReading, Measurement, ReaderError, number

FAMILY = "nta"
NTA_READER_VERSION = "1.0"
SIGNATURE = "NTA Experiment Summary File"

#: Row labels of ``[Results]`` and ``[Size Data]`` that become measurements: label -> (quantity, unit).
RESULT_ROWS: dict[str, tuple[str, str]] = {
    "Concentration (Particles / ml)": ("concentration", "particles/mL"),
    "Particles per frame": ("particles per frame", "particles/frame"),
    "Centres per frame": ("centres per frame", "centres/frame"),
    "Completed tracks": ("completed tracks", "tracks"),
    "Dilution factor (concentrations adjusted for this factor)": ("dilution factor", ""),
}
SIZE_ROWS: dict[str, tuple[str, str]] = {
    "Mean": ("mean size", "nm"),
    "Mode": ("mode size", "nm"),
    "SD": ("size SD", "nm"),
    "D10": ("D10", "nm"),
    "D50": ("D50", "nm"),
    "D90": ("D90", "nm"),
    "Valid Tracks": ("valid tracks", "tracks"),
}
_WARNING_SECTIONS = ("Concentration Warnings", "Information")
_HARMLESS = {"", "OK", "No", "Yes"}


def _rows(content: bytes, filename: str) -> Iterator[tuple[int, list[str]]]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = content.decode("latin-1")
    if "\x00" in text:
        raise ReaderError(
            filename, "holds NUL bytes; not a text export", line=text[: text.index("\x00")].count("\n") + 1
        )
    reader = csv.reader(text.splitlines())
    try:
        for line, row in enumerate(reader, start=1):
            yield line, [cell.strip() for cell in row]
    except csv.Error as exc:
        raise ReaderError(filename, f"malformed CSV: {exc}", line=reader.line_num) from None


def _is_number(text: str) -> bool:
    return not math.isnan(number(text)) if text else False


def read_nta(content: bytes, filename: str) -> InstrumentReading:
    """Read a NanoSight ExperimentSummary CSV."""
    rows = list(_rows(content, filename))
    if not rows or not rows[0][1] or rows[0][1][0] != SIGNATURE:
        raise ReaderError(
            filename, f"not an NTA Experiment Summary (line 1 must start with {SIGNATURE!r})", line=1
        )
    created = rows[1][1][0] if len(rows) > 1 and rows[1][1] else ""
    # "Created with NTA 3.4 Build 3.4.003": the software is NTA, the version what follows its name.
    software_version = created.removeprefix("Created with").strip().removeprefix("NTA").strip()
    details: dict[str, str] = {}
    videos: list[str] = []
    section = ""
    results_columns: list[str] = []
    size_columns: list[str] = []
    values: dict[tuple[str, str], float] = {}
    units: dict[str, str] = {}
    video_flags: dict[str, list[str]] = {}
    conditions: dict[str, list[str]] = {}
    distribution: list[list[float]] = []
    distribution_header: list[str] = []
    percentiles: list[list[float]] = []
    included: list[str] = []
    mode = ""
    for _line, row in rows[2:]:
        first = row[0] if row else ""
        rest = row[1:]
        if first.startswith("[") and first.endswith("]"):
            section = first[1:-1]
            mode = ""
            if section == "Results":
                results_columns = rest
            continue
        if mode == "bins":
            if _is_number(first):
                distribution.append([number(c) for c in row])
                continue
            mode = ""
        if mode == "percentiles":
            if _is_number(first):
                percentiles.append([number(c) for c in row])
                continue
            mode = ""
        if first == "Bin centre (nm)":
            mode = "bins"
            distribution_header = rest
            continue
        if first == "Percentile":
            mode = "percentiles"
            continue
        if section == "Experiment Details":
            if first in ("Filename:", "Filename"):
                videos = [c for c in rest if c]
            elif first:
                details[first] = rest[0] if rest else ""
        elif section == "Data Included" and first:
            included.append(first)
        elif section in ("Conditions", "Settings") and first:
            conditions[first] = rest[: len(videos)] if videos else rest
        elif section == "Results" and first in RESULT_ROWS:
            quantity, unit = RESULT_ROWS[first]
            units[quantity] = unit
            for column, cell in _columns(rest, videos, results_columns):
                values[(quantity, column)] = number(cell)
        elif section in _WARNING_SECTIONS and first and videos:
            for video, cell in zip(videos, rest, strict=False):
                if cell not in _HARMLESS:
                    video_flags.setdefault(video, []).append(f"{first}: {cell}")
        elif section == "Size Data":
            if first == "Filename":
                size_columns = rest
                videos = videos or [c for c in rest if c and c not in ("Average", "Standard Error")]
            elif first in SIZE_ROWS:
                quantity, unit = SIZE_ROWS[first]
                units[quantity] = unit
                for column, cell in _columns(rest, videos, size_columns):
                    values[(quantity, column)] = number(cell)
            elif first in ("Analysis Method", "Weighting"):
                details[first] = rest[0] if rest else ""
    if not any(q == "concentration" for q, _ in values):
        raise ReaderError(filename, "no [Results] concentration row; is the export complete?")
    _check_declared_tables(filename, included, distribution, percentiles)
    sample = (
        details.get("Sample Name") or details.get("Sample Description") or details.get("Experiment Name", "")
    )
    measurements = []
    for (quantity, column), value in values.items():
        if quantity == "dilution factor" and math.isnan(value):
            continue  # "Not recorded"
        flags = tuple(video_flags.get(column, ()))
        name, where = (
            (f"{quantity} standard error", "average") if column == "standard error" else (quantity, column)
        )
        measurements.append(Measurement(name, value, units.get(quantity, ""), sample, where, "", "", flags))
    series: dict[str, tuple[tuple[float, float], ...]] = {}
    labels = _distribution_labels(distribution_header, videos)
    for index, label in enumerate(labels, start=1):
        points = tuple(
            (row[0], row[index]) for row in distribution if len(row) > index and not math.isnan(row[index])
        )
        if points:
            series[f"size distribution {label}"] = points
    warnings = []
    if not distribution:
        warnings.append("the file holds no size distribution table")
    if video_flags:
        warnings.append(f"{len(video_flags)} video(s) carry NTA warnings (see the flags)")
    metadata: dict[str, object] = {k: v for k, v in details.items() if v}
    metadata["videos"] = videos
    for key in ("Temperature/C", "Viscosity/cP", "Camera Level", "Detection Threshold", "Frame rate/fps"):
        if key in conditions:
            metadata[key] = conditions[key]
    if distribution:
        metadata["bins"] = len(distribution)
        metadata["bin width (nm)"] = (
            distribution[1][0] - distribution[0][0] if len(distribution) > 1 else math.nan
        )
    if percentiles:
        metadata["percentile rows"] = len(percentiles)
    return InstrumentReading(
        filename=filename,
        format="nanosight-nta",
        family=FAMILY,
        reader="secretome.instruments.nta.read_nta",
        reader_version=NTA_READER_VERSION,
        instrument="Malvern Panalytical NanoSight",
        software="NTA",
        software_version=software_version,
        run_metadata=metadata,
        measurements=tuple(measurements),
        warnings=tuple(warnings),
        series=series,
    )


def _check_declared_tables(
    filename: str, included: list[str], distribution: list[list[float]], percentiles: list[list[float]]
) -> None:
    """Refuse a file that lacks, or holds only part of, the tables its ``[Data Included]`` section declares.

    The tables come last, so a file cut short loses them first: the percentile table runs 0 to 100.
    """
    declared = " ".join(included).lower()
    if "size distribution" in declared and not distribution:
        raise ReaderError(
            filename, "[Data Included] declares a size distribution but the file holds none: it was cut"
        )
    if "with percentiles" in declared:
        last = percentiles[-1][0] if percentiles else None
        filled = [sum(1 for v in row if not math.isnan(v)) for row in percentiles]
        if last == 100 and filled[-1] < filled[0]:
            raise ReaderError(
                filename, f"the last percentile row has {filled[-1]} of {filled[0]} values: the file was cut"
            )
        if last != 100:
            where = "no percentile table" if last is None else f"a percentile table that ends at {last:g}"
            raise ReaderError(
                filename, f"[Data Included] declares percentiles 0-100 but the file has {where}: it was cut"
            )


def _columns(cells: list[str], videos: list[str], header: list[str]) -> Iterator[tuple[str, str]]:
    """(column name, cell) for each video, then the average and standard error where the header names them."""
    yield from zip(videos, cells, strict=False)
    for name, label in (("Average", "average"), ("Standard Error", "standard error")):
        if name in header:
            index = header.index(name)
            if index < len(cells) and cells[index]:
                yield label, cells[index]


def _distribution_labels(header: list[str], videos: list[str]) -> list[str]:
    labels = list(videos)
    extra = header[len(videos) :]
    for name in extra:
        if not name:
            continue
        lowered = name.lower()
        labels.append("average" if "average" in lowered else "standard error" if "error" in lowered else name)
    if len(extra) >= 2 and not any(extra):
        labels += ["average", "standard error"]
    return labels


def _is_nta(head: str, content: bytes) -> bool:
    return head.lstrip("\ufeff").startswith(SIGNATURE)


FORMATS = (
    FileFormat(
        "nanosight-nta",
        FAMILY,
        "Malvern Panalytical NanoSight",
        "NTA 3.2 and 3.4 ExperimentSummary CSV, own reader",
        _is_nta,
        read_nta,
    ),
)
