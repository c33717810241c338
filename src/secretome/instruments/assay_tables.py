"""Result tables of potency assays that no instrument library reads: the Angiogenesis Analyzer for ImageJ
(tube formation), HPLC peak tables (kynurenine for IDO activity) and scratch wound-area tables.

- ``imagej-angiogenesis``: the "Stat Results Table" of Gilles Carpentier's Angiogenesis Analyzer, saved from
  ImageJ as CSV or tab-separated text (``.xls``), with its original column names (``Tot. lenght``,
  ``Nb Junctions``, ``Nb meshes`` ...; the later spellings ``Tot. length``, ``Nb extremities`` too). One row
  per image. The sample is the image name without its extension and replicate suffix (``MSC-CM-001_2.tif``
  -> ``MSC-CM-001``; ``_2``, ``_rep2``, `` (2)``), so that samples named like lots are found; the well is a
  well name in the image name (``B3_...``) or else the image name itself.
- ``hplc-peak-table``: a chromatography data system's peak table as CSV (Empower, Chromeleon, OpenLab
  exports): sample name, peak (component) name, area, and retention time or amount when present.
- ``scratch-area``: wound (scratch) areas over time as CSV, one row per well and image: well, sample,
  time (h) and area, as the MRI Wound Healing Tool or a CellProfiler pipeline gives them after a join.
  The time point goes into the measurement's ``analyte`` (``"12 h"``).

Each reader raises :class:`~secretome.instruments.model.ReaderError` with the line for anything it cannot read.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Callable, Iterator, Sequence

from secretome.instruments.formats import FileFormat
from secretome.instruments.model import InstrumentReading, Measurement, ReaderError, number

READER_VERSION = "1.0"

#: Angiogenesis Analyzer columns (lower case, without spaces) -> (quantity, unit).
ANGIOGENESIS_COLUMNS: dict[str, tuple[str, str]] = {
    "tot.lenght": ("total tube length", "pixels"),
    "tot.length": ("total tube length", "pixels"),
    "nbjunctions": ("junctions", ""),
    "nbmeshes": ("meshes", ""),
    "tot.meshesarea": ("total mesh area", "pixels^2"),
    "nbmastersegments": ("master segments", ""),
    "nbmasterjunction": ("master junctions", ""),
    "nbmasterjunctions": ("master junctions", ""),
    "nbsegments": ("segments", ""),
    "nbbranches": ("branches", ""),
    "nbnodes": ("nodes", ""),
    "nbextrem.": ("extremities", ""),
    "nbextremities": ("extremities", ""),
    "tot.branchinglenght": ("total branching length", "pixels"),
    "tot.branchinglength": ("total branching length", "pixels"),
    "tot.segmentslenght": ("total segments length", "pixels"),
    "tot.segmentslength": ("total segments length", "pixels"),
    "meshindex": ("mesh index", ""),
    "meanmeshsize": ("mean mesh size", "pixels^2"),
    "analysedarea": ("analysed area", "pixels^2"),
}
_IMAGE_COLUMNS = ("imagename", "label", "image", "slice")
_REPLICATE = re.compile(r"^(.*?)(?:[_ ](?:rep|r)?\d+| \(\d+\))$", re.IGNORECASE)
_WELL_IN_NAME = re.compile(r"(?:^|[_\-\s])([A-Pa-p])0?(1[0-9]|2[0-4]|[1-9])(?=$|[_\-\s.])")


def _key(text: str) -> str:
    return re.sub(r"\s+", "", text.strip().lower())


def _text(content: bytes, filename: str) -> str:
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = content.decode("utf-16")
    else:
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = content.decode("latin-1")
    if "\x00" in text:
        raise ReaderError(filename, "holds NUL bytes; not a text table")
    return text


def _delimiter(line: str) -> str:
    return "\t" if line.count("\t") > line.count(",") else ","


def _table(
    content: bytes, filename: str, is_header: Callable[[list[str]], bool]
) -> Iterator[tuple[int, list[str], list[str]]]:
    """(line number, header, row) for every data row after the first line ``is_header`` accepts."""
    lines = _text(content, filename).splitlines()
    header: list[str] | None = None
    start = 0
    for index, line in enumerate(lines[:50]):
        cells = [c.strip() for c in next(csv.reader([line], delimiter=_delimiter(line)), [])]
        if is_header([_key(c) for c in cells]):
            header, start = cells, index
            break
    if header is None:
        raise ReaderError(filename, "no table header found in the first 50 lines")
    delimiter = _delimiter(lines[start])
    reader = csv.reader(lines[start + 1 :], delimiter=delimiter)
    try:
        for offset, row in enumerate(reader, start=start + 2):
            cells = [c.strip() for c in row]
            if any(cells):
                yield offset, header, cells
    except csv.Error as exc:
        raise ReaderError(filename, f"malformed table: {exc}", line=start + 1 + reader.line_num) from None


def _column(header: Sequence[str], names: Sequence[str]) -> int | None:
    keys = [_key(h) for h in header]
    for name in names:
        if name in keys:
            return keys.index(name)
    return None


def _well_of(name: str) -> str:
    match = _WELL_IN_NAME.search(name)
    return f"{match.group(1).upper()}{int(match.group(2))}" if match else ""


def image_sample(image: str) -> str:
    """The sample an image shows: its name without a replicate suffix (``MSC-CM-001_2`` -> ``MSC-CM-001``)."""
    match = _REPLICATE.match(image)
    return match.group(1) if match and match.group(1) else image


def _stem(name: str) -> str:
    return re.sub(r"\.(tif|tiff|png|jpg|jpeg|nd2|czi)$", "", name.strip(), flags=re.IGNORECASE)


# -- Angiogenesis Analyzer -----------------------------------------------------------------------------------
def _is_angiogenesis_header(keys: list[str]) -> bool:
    return "nbjunctions" in keys and ("tot.lenght" in keys or "tot.length" in keys)


def _sniff_angiogenesis(head: str, content: bytes) -> bool:
    lowered = head.lower().replace(" ", "")
    return "nbjunctions" in lowered and ("tot.lenght" in lowered or "tot.length" in lowered)


def read_angiogenesis(content: bytes, filename: str) -> InstrumentReading:
    """One row per image: every known Angiogenesis Analyzer column becomes a measurement of that image."""
    measurements: list[Measurement] = []
    for line, header, row in _table(content, filename, _is_angiogenesis_header):
        image_at = _column(header, _IMAGE_COLUMNS)
        if image_at is None:
            # ImageJ's own CSV puts the row number first and the image name second, the name unlabelled.
            image_at = 1 if len(header) > 1 and not header[0].strip() else 0
        if image_at >= len(row) or not row[image_at]:
            raise ReaderError(filename, "a row has no image name", line=line)
        image = _stem(row[image_at])
        found = False
        for index, title in enumerate(header):
            spec = ANGIOGENESIS_COLUMNS.get(_key(title))
            if spec is None or index >= len(row):
                continue
            value = number(row[index])
            if row[index] and math.isnan(value):
                raise ReaderError(filename, f"{title!r} holds {row[index]!r}, not a number", line=line)
            measurements.append(
                Measurement(spec[0], value, spec[1], image_sample(image), _well_of(image) or image)
            )
            found = True
        if not found:
            raise ReaderError(filename, "a row holds none of the Angiogenesis Analyzer columns", line=line)
    if not measurements:
        raise ReaderError(filename, "the table has no rows")
    return InstrumentReading(
        filename=filename,
        format="imagej-angiogenesis",
        family="image_analysis",
        reader="secretome.assay_tables",
        reader_version=READER_VERSION,
        software="ImageJ Angiogenesis Analyzer",
        measurements=tuple(measurements),
    )


# -- HPLC peak tables ------------------------------------------------------------------------------------------
_SAMPLE_COLUMNS = ("samplename", "sample", "sampleid", "injectionname")
_PEAK_COLUMNS = ("peakname", "componentname", "component", "name", "peak")
_AREA_COLUMNS = ("area", "peakarea", "area(mau*min)", "area[mau*min]", "area(µv*sec)", "area(uv*sec)")


def _is_hplc_header(keys: list[str]) -> bool:
    return (
        any(k in keys for k in _SAMPLE_COLUMNS)
        and any(k in keys for k in _PEAK_COLUMNS)
        and any(k in keys or k.startswith("area") for k in _AREA_COLUMNS)
    )


def _sniff_hplc(head: str, content: bytes) -> bool:
    for line in head.splitlines()[:30]:
        cells = [_key(c) for c in next(csv.reader([line], delimiter=_delimiter(line)), [])]
        if _is_hplc_header(cells) and any(k.startswith("area") for k in cells):
            return True
    return False


def read_hplc(content: bytes, filename: str) -> InstrumentReading:
    """Peak area (and retention time and amount when exported) per sample and peak."""
    measurements: list[Measurement] = []
    for line, header, row in _table(content, filename, _is_hplc_header):
        sample_at = _column(header, _SAMPLE_COLUMNS)
        peak_at = _column(header, _PEAK_COLUMNS)
        keys = [_key(h) for h in header]
        area_at = next(i for i, k in enumerate(keys) if k.startswith("area"))
        assert sample_at is not None and peak_at is not None
        if max(sample_at, peak_at, area_at) >= len(row):
            raise ReaderError(filename, "a row is shorter than the header", line=line)
        sample, peak = row[sample_at], row[peak_at]
        area = number(row[area_at])
        if row[area_at] and math.isnan(area):
            raise ReaderError(filename, f"the area {row[area_at]!r} is not a number", line=line)
        unit = header[area_at][len("area") :].strip(" ()[]") if len(header[area_at]) > 4 else ""
        vial_at = _column(header, ("vial", "injection", "inj", "position", "well"))
        well = row[vial_at] if vial_at is not None and vial_at < len(row) else ""
        measurements.append(Measurement("peak area", area, unit, sample, well, "", peak))
        for names, quantity, quantity_unit in (
            (("rt", "retentiontime", "rettime", "rt(min)", "retentiontime(min)"), "retention time", "min"),
            (("amount",), "amount", ""),
        ):
            at = _column(header, names)
            if at is not None and at < len(row) and row[at]:
                measurements.append(
                    Measurement(quantity, number(row[at]), quantity_unit, sample, well, "", peak)
                )
    if not measurements:
        raise ReaderError(filename, "the peak table has no rows")
    return InstrumentReading(
        filename=filename,
        format="hplc-peak-table",
        family="chromatography",
        reader="secretome.assay_tables",
        reader_version=READER_VERSION,
        measurements=tuple(measurements),
    )


# -- scratch wound areas ----------------------------------------------------------------------------------------
_TIME_COLUMNS = ("time(h)", "time_h", "hours", "time[h]", "timepoint(h)", "time")
_WOUND_COLUMNS = ("area", "woundarea", "scratcharea", "gaparea")


def _area_column(keys: Sequence[str]) -> int | None:
    for i, key in enumerate(keys):
        bare = key.split("(")[0].split("[")[0]
        if bare in _WOUND_COLUMNS:
            return i
    return None


def _is_scratch_header(keys: list[str]) -> bool:
    return (
        any(k in keys for k in _TIME_COLUMNS)
        and _area_column(keys) is not None
        and ("well" in keys or "sample" in keys)
        and not _is_hplc_header(keys)
    )


def _sniff_scratch(head: str, content: bytes) -> bool:
    line = head.lstrip("\ufeff").splitlines()[0] if head.strip() else ""
    cells = [_key(c) for c in next(csv.reader([line], delimiter=_delimiter(line)), [])]
    return _is_scratch_header(cells)


def read_scratch(content: bytes, filename: str) -> InstrumentReading:
    """Wound area per well and time point (analyte ``"<t> h"``)."""
    measurements: list[Measurement] = []
    for line, header, row in _table(content, filename, _is_scratch_header):
        keys = [_key(h) for h in header]
        time_at = _column(header, _TIME_COLUMNS)
        area_at = _area_column(keys)
        well_at = _column(header, ("well",))
        sample_at = _column(header, ("sample", "group", "condition"))
        assert time_at is not None and area_at is not None
        if max(time_at, area_at) >= len(row):
            raise ReaderError(filename, "a row is shorter than the header", line=line)
        hours, area = number(row[time_at]), number(row[area_at])
        if math.isnan(hours) or hours < 0:
            raise ReaderError(filename, f"the time {row[time_at]!r} is not a number of hours", line=line)
        if math.isnan(area) or area < 0:
            raise ReaderError(filename, f"the area {row[area_at]!r} is not a non-negative number", line=line)
        well = row[well_at] if well_at is not None and well_at < len(row) else ""
        sample = row[sample_at] if sample_at is not None and sample_at < len(row) else well
        unit_match = re.search(r"[(\[](.+)[)\]]", header[area_at])
        measurements.append(
            Measurement(
                "wound area",
                area,
                unit_match.group(1) if unit_match else "",
                sample,
                well,
                "",
                f"{hours:g} h",
            )
        )
    if not measurements:
        raise ReaderError(filename, "the table has no rows")
    return InstrumentReading(
        filename=filename,
        format="scratch-area",
        family="image_analysis",
        reader="secretome.assay_tables",
        reader_version=READER_VERSION,
        measurements=tuple(measurements),
    )


def hours_of(analyte: str) -> float:
    """The time of a scratch-area measurement from its analyte (``"12 h"`` -> 12.0); NaN otherwise."""
    match = re.fullmatch(r"\s*([0-9.eE+-]+)\s*h\s*", analyte)
    return float(match.group(1)) if match else math.nan


FORMATS = (
    FileFormat(
        "imagej-angiogenesis",
        "image_analysis",
        "ImageJ Angiogenesis Analyzer",
        "Stat Results Table saved as CSV or tab-separated text",
        _sniff_angiogenesis,
        read_angiogenesis,
    ),
    FileFormat(
        "hplc-peak-table",
        "chromatography",
        "HPLC chromatography data system",
        "peak table CSV (sample, peak name, area; retention time, amount)",
        _sniff_hplc,
        read_hplc,
    ),
    FileFormat(
        "scratch-area",
        "image_analysis",
        "Scratch wound-area table",
        "CSV: well, sample, time (h), area (MRI Wound Healing Tool or CellProfiler, joined)",
        _sniff_scratch,
        read_scratch,
    ),
)
