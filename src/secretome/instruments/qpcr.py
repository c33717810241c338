"""qPCR result files.

Applied Biosystems QuantStudio / ViiA 7 text and Excel exports, QuantStudio Design & Analysis Excel
exports and Bio-Rad CFX Maestro Cq-results CSV are read with allotropy. RDML 1.1-1.4 (the MIQE-endorsed
open XML format) has no maintained Python reader that handles 1.4 (rdmlpython's PyPI release refuses it),
so :func:`read_rdml` is written here: it reads the zip's ``rdml_data.xml`` with the standard library's
expat-based ElementTree (which refuses entity-expansion bombs) and returns one ``cycle threshold`` row per
reaction and target, with the amplification and melting curves as series.
"""

from __future__ import annotations

import io
import math
import zipfile
import zlib
from typing import Any
from xml.etree import ElementTree

from secretome.instruments.asm import allotropy_format
from secretome.instruments.formats import (
    FileFormat,
    is_zip,
    rectangular,
    sectioned_tables,
    with_checks,
    xlsx_head,
    zip_members,
)
from secretome.instruments.model import InstrumentReading, Measurement, ReaderError, number

FAMILY = "qpcr"
RDML_READER_VERSION = "1.0"
_NS = "{http://www.rdml.org}"
#: Largest ``rdml_data.xml`` read (uncompressed); guards against zip bombs.
MAX_RDML_BYTES = 200 * 1024 * 1024


def _quantstudio_text(head: str, content: bytes) -> bool:
    return head.lstrip().startswith("* ") and (
        "Block Type" in head or "Chemistry" in head or "Experiment Type" in head
    )


def _design_analysis(head: str, content: bytes) -> bool:
    text = xlsx_head(content, rows=12)
    return text.startswith("File Name\t") and "Instrument Type" in text and "Block Type" in text


def _quantstudio_xlsx(head: str, content: bytes) -> bool:
    """The classic QuantStudio / ViiA 7 workbook: every sheet opens with the run's key/value rows."""
    text = xlsx_head(content, rows=12)
    keys = {line.split("\t", 1)[0].removeprefix("* ").strip() for line in text.splitlines()}
    return not text.startswith("File Name\t") and bool(keys & {"Block Type", "Chemistry", "Experiment Type"})


def _cfx(head: str, content: bytes) -> bool:
    first = head.lstrip("\ufeff").split("\n", 1)[0]
    return ",Well,Fluor,Target,Content,Sample" in first or first.startswith(
        "Well,Fluor,Target,Content,Sample"
    )


def _rdml(head: str, content: bytes) -> bool:
    return (is_zip(content) and "rdml_data.xml" in zip_members(content)) or "<rdml" in head[:500]


def _well(react_id: str, rows: int, columns: int, row_label: str, column_label: str) -> str:
    try:
        index = int(react_id) - 1
    except ValueError:
        return react_id
    if columns <= 0 or index < 0:
        return react_id
    row, column = divmod(index, columns)
    if rows and row >= rows:
        return react_id
    row_text = chr(ord("A") + row) if row_label == "ABC" and row < 26 else str(row + 1)
    column_text = chr(ord("A") + column) if column_label == "ABC" and column < 26 else str(column + 1)
    return f"{row_text}{column_text}"


def _text(element: ElementTree.Element | None, tag: str) -> str:
    if element is None:
        return ""
    child = element.find(_NS + tag)
    return (child.text or "").strip() if child is not None else ""


def _rdml_xml(content: bytes, filename: str) -> bytes:
    if not is_zip(content):
        return content
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = archive.namelist()
            member = (
                "rdml_data.xml"
                if "rdml_data.xml" in names
                else next((n for n in names if n.endswith(".xml")), None)
            )
            if member is None:
                raise ReaderError(filename, "the RDML zip holds no rdml_data.xml")
            if archive.getinfo(member).file_size > MAX_RDML_BYTES:
                raise ReaderError(filename, f"{member} is larger than {MAX_RDML_BYTES} bytes")
            return archive.read(member)
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        zlib.error,
        EOFError,
        OSError,
        ValueError,
        KeyError,
        NotImplementedError,
    ) as exc:
        raise ReaderError(filename, f"not a readable RDML zip: {exc}") from None
    except RuntimeError as exc:  # encrypted members
        raise ReaderError(filename, f"not a readable RDML zip: {exc}") from None


def read_rdml(content: bytes, filename: str) -> InstrumentReading:
    """Read an RDML file (zipped or plain XML), versions 1.1 to 1.4."""
    xml = _rdml_xml(content, filename)
    try:
        root = ElementTree.fromstring(xml)
    except ElementTree.ParseError as exc:
        line = exc.position[0] if exc.position else None
        raise ReaderError(filename, f"not well-formed RDML XML: {exc.msg}", line=line) from None
    except (ValueError, RecursionError) as exc:
        raise ReaderError(filename, f"not readable RDML XML: {exc}") from None
    if root.tag not in (_NS + "rdml", "rdml"):
        raise ReaderError(filename, f"the XML root is <{root.tag}>, not <rdml>")
    rdml_version = root.get("version", "")
    sample_types = {s.get("id", ""): _text(s, "type") for s in root.iter(_NS + "sample")}
    measurements: list[Measurement] = []
    series: dict[str, tuple[tuple[float, float], ...]] = {}
    warnings: list[str] = []
    runs = 0
    instrument = ""
    run_date = ""
    for run in root.iter(_NS + "run"):
        runs += 1
        instrument = instrument or _text(run, "instrument")
        run_date = run_date or _text(run, "runDate")
        pcr_format = run.find(_NS + "pcrFormat")
        rows = int(number(_text(pcr_format, "rows")) or 0) if _text(pcr_format, "rows") else 0
        columns = int(number(_text(pcr_format, "columns")) or 0) if _text(pcr_format, "columns") else 0
        row_label = _text(pcr_format, "rowLabel")
        column_label = _text(pcr_format, "columnLabel")
        for react in run.iter(_NS + "react"):
            well = _well(react.get("id", ""), rows, columns, row_label, column_label)
            sample_element = react.find(_NS + "sample")
            sample = sample_element.get("id", "") if sample_element is not None else ""
            for data in react.iter(_NS + "data"):
                target_element = data.find(_NS + "tar")
                target = target_element.get("id", "") if target_element is not None else ""
                cq_text = _text(data, "cq")
                cq = number(cq_text) if cq_text else math.nan
                flags: list[str] = []
                if sample_types.get(sample):
                    flags.append(f"sample type {sample_types[sample]}")
                if not math.isnan(cq) and cq < 0:
                    # RDML writes -1 for "no amplification".
                    flags.append("no Cq (no amplification)")
                    cq = math.nan
                elif not cq_text:
                    flags.append("no Cq in file")
                measurements.append(
                    Measurement("cycle threshold", cq, "cycles", sample, well, "", target, tuple(flags))
                )
                copies = _text(data, "Ncopy") or _text(data, "N0")
                if copies and number(copies) >= 0:
                    measurements.append(
                        Measurement("starting copies", number(copies), "copies", sample, well, "", target)
                    )
                curve = tuple(
                    (number(_text(p, "cyc")), number(_text(p, "fluor"))) for p in data.iter(_NS + "adp")
                )
                if curve:
                    series[f"amplification {well} {target}"] = curve
                melt = tuple(
                    (number(_text(p, "tmp")), number(_text(p, "fluor"))) for p in data.iter(_NS + "mdp")
                )
                if melt:
                    series[f"melting {well} {target}"] = melt
    if runs == 0:
        warnings.append("the RDML file holds no run")
    if measurements and all(math.isnan(m.value) for m in measurements if m.quantity == "cycle threshold"):
        warnings.append("no reaction has a Cq value; the curves are raw data only")
    metadata: dict[str, Any] = {
        "rdml version": rdml_version,
        "runs": runs,
        "reactions": len({(m.well, m.analyte) for m in measurements}),
        "date made": _text(root, "dateMade"),
        "targets": sorted({t.get("id", "") for t in root.iter(_NS + "target")}),
    }
    if run_date:
        metadata["run date"] = run_date
    return InstrumentReading(
        filename=filename,
        format="rdml",
        family=FAMILY,
        reader="secretome.instruments.qpcr.read_rdml",
        reader_version=RDML_READER_VERSION,
        instrument=instrument,
        software="RDML",
        software_version=rdml_version,
        run_metadata={k: v for k, v in metadata.items() if v not in ("", [], None)},
        measurements=tuple(measurements),
        warnings=tuple(warnings),
        series=series,
    )


FORMATS: tuple[FileFormat, ...] = (
    with_checks(
        allotropy_format(
            "quantstudio",
            FAMILY,
            "Applied Biosystems QuantStudio / ViiA 7",
            "text export (QuantStudio 7 Flex, ViiA 7)",
            _quantstudio_text,
            "APPBIO_QUANTSTUDIO",
        ),
        sectioned_tables,
    ),
    allotropy_format(
        "quantstudio-xlsx",
        FAMILY,
        "Applied Biosystems QuantStudio / ViiA 7",
        "Excel export",
        _quantstudio_xlsx,
        "APPBIO_QUANTSTUDIO",
    ),
    allotropy_format(
        "quantstudio-design-analysis",
        FAMILY,
        "Applied Biosystems QuantStudio Design & Analysis",
        "2.x Excel export",
        _design_analysis,
        "APPBIO_QUANTSTUDIO_DESIGNANDANALYSIS",
    ),
    with_checks(
        allotropy_format(
            "cfx-maestro", FAMILY, "Bio-Rad CFX Maestro", "Quantification Cq Results CSV", _cfx, "CFXMAESTRO"
        ),
        rectangular,
    ),
    FileFormat("rdml", FAMILY, "RDML consortium", "RDML 1.1-1.4 (zip or XML), own reader", _rdml, read_rdml),
)
