"""Readers backed by ``allotropy``: vendor file -> Allotrope Simple Model (ASM) JSON -> tidy measurements.

allotropy (Benchling's maintained Allotrope converters) parses the plate-reader, multiplex, qPCR and
cell-counter exports; this module only maps its ASM output to :class:`~secretome.instruments.model.Measurement`
rows. The mapping is generic over the ASM techniques: every ``measurement document`` gives its sample, well,
plate and analyte context; its quantities (``{"value", "unit"}`` fields that are not settings), those of its
processed-data documents and its analyte statistics become rows; ``calculated data`` documents are tied back
to their measurement through their data-source identifiers.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Callable, Iterator, Mapping
from importlib.metadata import version
from typing import Any, TypeGuard

from secretome.instruments.formats import FileFormat
from secretome.instruments.model import InstrumentReading, Measurement, ReaderError, number

ALLOTROPY_VERSION = version("allotropy")
#: The longest part of a converter's exception text repeated in a refusal.
CONVERTER_MESSAGE_CHARS = 200

_SUFFIXES = re.compile(r"\s*\((cell counter|qPCR)\)$")
_MISSING_WORDS = {"nan", "n/a", "na", "undetermined", "value not provided in instrument file"}
_METADATA_KEYS = (
    "measurement time",
    "analyst",
    "experiment type",
    "container type",
    "analytical method identifier",
    "experimental data identifier",
    "method version",
    "well volume",
    "plate well count",
)


def _quantity_name(key: str) -> str:
    name = _SUFFIXES.sub("", key)
    return "cycle threshold" if name == "cycle threshold result" else name


def _is_quantity(value: object) -> TypeGuard[dict[str, Any]]:
    return isinstance(value, dict) and "value" in value and "unit" in value


def _first_list(node: Mapping[str, Any], aggregate: str, document: str) -> list[Any]:
    inner = node.get(aggregate)
    if isinstance(inner, dict):
        docs = inner.get(document)
        if isinstance(docs, list):
            return docs
    return []


def _walk_measurements(node: Any, context: dict[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """Every measurement document with the scalar context of the documents above it."""
    if isinstance(node, list):
        for child in node:
            yield from _walk_measurements(child, context)
        return
    if not isinstance(node, dict):
        return
    here = dict(context)
    for key in _METADATA_KEYS:
        if key in node and key not in here:
            raw = node[key]
            here[key] = raw["value"] if _is_quantity(raw) else raw
    for key, child in node.items():
        if key == "measurement document" and isinstance(child, list):
            for doc in child:
                if isinstance(doc, dict):
                    yield doc, here
        elif isinstance(child, dict | list) and key not in ("calculated data aggregate document",):
            yield from _walk_measurements(child, here)


_WELL = re.compile(r"^([A-Pa-p])0*(\d{1,2})$")


def _text(value: object) -> str:
    """A string field, with the converters' placeholders ("N/A") as empty."""
    text = "" if value is None else str(value).strip()
    return "" if text in ("N/A", "n/a", "NaN") else text


def _well_name(text: str) -> str:
    """``"A01"`` -> ``"A1"`` so that wells match across formats and plate layouts; other labels unchanged."""
    match = _WELL.match(text)
    return f"{match.group(1).upper()}{int(match.group(2))}" if match else text


def _reporter(doc: Mapping[str, Any]) -> str:
    for control in _first_list(doc, "device control aggregate document", "device control document"):
        if isinstance(control, dict) and _text(control.get("reporter dye setting")):
            return _text(control.get("reporter dye setting"))
    return ""


def _wavelength(doc: Mapping[str, Any]) -> str:
    for control in _first_list(doc, "device control aggregate document", "device control document"):
        for key in ("detector wavelength setting", "excitation wavelength setting"):
            setting = control.get(key) if isinstance(control, dict) else None
            if _is_quantity(setting):
                value = number(setting["value"])
                if not math.isnan(value):
                    return f"{value:g} {setting['unit']}"
    return ""


def _flags(doc: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(feature, message) pairs from the document's error aggregate."""
    found = []
    for error in _first_list(doc, "error aggregate document", "error document"):
        if isinstance(error, dict):
            found.append((str(error.get("error feature", "")), str(error.get("error", ""))))
    return found


def _missing_features(errors: list[tuple[str, str]]) -> set[str]:
    return {feature for feature, message in errors if feature and message.strip().lower() in _MISSING_WORDS}


def _rows_of(doc: Mapping[str, Any], context: Mapping[str, Any]) -> Iterator[tuple[str, Measurement]]:
    """(identifier, measurement) for each value of one measurement document."""
    sample_doc = doc.get("sample document") or {}
    sample = str(sample_doc.get("sample identifier", "") or "")
    places = [_text(sample_doc.get("well location identifier")), _text(sample_doc.get("location identifier"))]
    # QuantStudio gives the well number as location and the well name as well location: prefer a name.
    well = next((_well_name(p) for p in places if _WELL.match(p)), next((p for p in places if p), ""))
    plate = str(sample_doc.get("well plate identifier", "") or "")
    identifier = str(doc.get("measurement identifier", ""))
    base_analyte = _text(doc.get("target DNA description")) or _reporter(doc) or _wavelength(doc)
    errors = _flags(doc)
    gone = _missing_features(errors)

    def flags_for(analyte: str, quantity: str) -> tuple[str, ...]:
        picked = []
        for feature, message in errors:
            if not feature or feature.startswith(analyte) or feature == quantity:
                picked.append(f"{feature}: {message}" if feature else message)
        return tuple(picked)

    def make(key: str, raw: Mapping[str, Any], analyte: str, feature: str = "") -> Measurement:
        quantity = _quantity_name(key)
        # allotropy writes a placeholder number where the file said NaN, and names it in an error.
        missing = (feature or f"{analyte} <{key}>") in gone or key in gone
        return Measurement(
            quantity=quantity,
            value=math.nan if missing else number(raw.get("value")),
            unit=str(raw.get("unit", "")),
            sample=sample,
            well=well,
            plate=plate,
            analyte=analyte,
            flags=flags_for(analyte, quantity) if analyte else flags_for("\0", quantity),
        )

    for key, raw in doc.items():
        if _is_quantity(raw) and not key.endswith("setting"):
            yield identifier, make(key, raw, base_analyte)
    processed_docs = [
        p
        for p in _first_list(doc, "processed data aggregate document", "processed data document")
        if isinstance(p, dict)
    ]
    for processed in processed_docs:
        for key, raw in processed.items():
            if _is_quantity(raw) and not key.endswith("setting"):
                yield identifier, make(key, raw, base_analyte)
    # allotropy leaves the Cq out of a well the software called "Undetermined"; the well still ran, and a
    # no-template control or a replicate without amplification is a result, so it becomes a NaN row.
    undetermined = not any(key.startswith("cycle threshold result") for p in processed_docs for key in p)
    if processed_docs and "target DNA description" in doc and undetermined:
        yield (
            identifier,
            Measurement(
                "cycle threshold",
                math.nan,
                "(unitless)",
                sample,
                well,
                plate,
                base_analyte,
                ("Undetermined",),
            ),
        )
    for analyte_doc in _first_list(doc, "analyte aggregate document", "analyte document"):
        if not isinstance(analyte_doc, dict):
            continue
        analyte = str(analyte_doc.get("analyte name", "") or analyte_doc.get("assay bead identifier", ""))
        analyte_id = str(analyte_doc.get("analyte identifier", identifier))
        for key, raw in analyte_doc.items():
            if _is_quantity(raw):
                yield analyte_id, make(key, raw, analyte)
        for stats in _first_list(analyte_doc, "statistics aggregate document", "statistics document"):
            feature = str(stats.get("statistical feature", "value"))
            for dim in _first_list(
                stats, "statistic dimension aggregate document", "statistic dimension document"
            ):
                raw = dim.get("statistical value") if isinstance(dim, dict) else None
                if _is_quantity(raw):
                    role = str(raw.get("has statistic datum role", "")).removesuffix(" role")
                    name = f"{role} {feature}".strip()
                    yield analyte_id, make(name, raw, analyte, f"{analyte} <{role} role>")


def _calculated(
    root: Mapping[str, Any], index: Mapping[str, Measurement], missing: Mapping[str, set[str]]
) -> Iterator[Measurement]:
    for calc in _first_list(root, "calculated data aggregate document", "calculated data document"):
        if not isinstance(calc, dict) or not _is_quantity(calc.get("calculated result")):
            continue
        sources = _first_list(calc, "data source aggregate document", "data source document")
        source_id = next(
            (s["data source identifier"] for s in sources if s.get("data source identifier") in index), None
        )
        source = index[source_id] if source_id is not None else None
        raw = calc["calculated result"]
        name = str(calc.get("calculated data name", "calculated"))
        gone = source is not None and f"{source.analyte} <{name}>" in missing.get(str(source_id), set())
        yield Measurement(
            quantity=name,
            value=math.nan if gone else number(raw.get("value")),
            unit=str(raw.get("unit", "")),
            sample=source.sample if source else "",
            well=source.well if source else "",
            plate=source.plate if source else "",
            analyte=source.analyte if source else "",
        )


def _scalar(value: Any) -> Any:
    if _is_quantity(value):
        return f"{value['value']} {value['unit']}".strip()
    return value if isinstance(value, str | int | float) else None


def asm_to_reading(asm: Mapping[str, Any], *, filename: str, format: str, family: str) -> InstrumentReading:
    """Map one ASM document (as allotropy returns it) to an :class:`InstrumentReading`."""
    root = next((v for k, v in asm.items() if k.endswith("aggregate document") and isinstance(v, dict)), None)
    if root is None:
        raise ReaderError(filename, "the converter returned no aggregate document")
    data_system = root.get("data system document") or {}
    device = root.get("device system document") or {}
    measurements: list[Measurement] = []
    index: dict[str, Measurement] = {}
    missing: dict[str, set[str]] = {}
    run: dict[str, Any] = {}
    for doc, context in _walk_measurements(root, {}):
        for key, value in context.items():
            run.setdefault(key, _scalar(value))
        if "measurement time" in doc:
            run.setdefault("measurement time", doc["measurement time"])
        gone = _missing_features(_flags(doc))
        for identifier, row in _rows_of(doc, context):
            measurements.append(row)
            index.setdefault(identifier, row)
            missing.setdefault(identifier, set()).update(gone)
    measurements.extend(_calculated(root, index, missing))
    for key in ("product manufacturer", "brand name", "device identifier", "asset management identifier"):
        if device.get(key) not in (None, "", "N/A"):
            run[key] = device[key]
    warnings = []
    if not measurements:
        warnings.append("the file holds no measured values")
    return InstrumentReading(
        filename=filename,
        format=format,
        family=family,
        reader=f"allotropy/{data_system.get('ASM converter name', 'allotropy')}",
        reader_version=str(data_system.get("ASM converter version", ALLOTROPY_VERSION)),
        instrument=str(device.get("model number", "") or ""),
        serial_number=str(device.get("equipment serial number", "") or ""),
        software=str(data_system.get("software name", "") or ""),
        software_version=str(data_system.get("software version", "") or ""),
        run_metadata={k: v for k, v in run.items() if v not in (None, "")},
        measurements=tuple(measurements),
        warnings=tuple(warnings),
    )


def _encoding(content: bytes) -> str | None:
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    if content.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    return None


def _name_for(filename: str, content: bytes, extensions: list[str]) -> str:
    """``filename`` with an extension allotropy accepts for the parser chosen from the content."""
    stem, _, extension = filename.rpartition(".")
    if stem and extension.lower() in extensions:
        return filename
    spreadsheet = content[:4] == b"PK\x03\x04" or content[:4] == b"\xd0\xcf\x11\xe0"
    wanted = [e for e in extensions if (e in ("xlsx", "xls")) == spreadsheet] or extensions
    return f"{stem or filename}.{wanted[0]}"


def read_with_allotropy(
    content: bytes, filename: str, *, vendor: str, format: str, family: str
) -> InstrumentReading:
    """Convert ``content`` with allotropy's parser for ``vendor`` and map the ASM to tidy measurements."""
    from allotropy.parser_factory import Vendor
    from allotropy.to_allotrope import allotrope_from_io

    parser = Vendor[vendor]
    try:
        # allotropy reads the bytes as the given encoding (it defaults to UTF-8 and trips on a UTF-16 BOM),
        # and picks its reader by extension: the content decides the format here, so the name must follow.
        asm = allotrope_from_io(
            io.BytesIO(content),
            _name_for(filename, content, parser.supported_extensions),
            parser,
            encoding=_encoding(content),
        )
    except Exception as exc:  # a third-party parser on untrusted bytes: any failure is the file's fault
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        # The converter's words may quote the file; keep the gist only.
        if len(message) > CONVERTER_MESSAGE_CHARS:
            message = message[: CONVERTER_MESSAGE_CHARS - 1] + "\u2026"
        raise ReaderError(filename, f"not a readable {format} file: {message}") from None
    return asm_to_reading(asm, filename=filename, format=format, family=family)


def allotropy_format(
    name: str,
    family: str,
    vendor: str,
    description: str,
    sniff: Callable[[str, bytes], bool],
    allotropy_vendor: str,
) -> FileFormat:
    """A :class:`FileFormat` whose reader is allotropy's parser for ``allotropy_vendor``."""

    def read(content: bytes, filename: str) -> InstrumentReading:
        return read_with_allotropy(content, filename, vendor=allotropy_vendor, format=name, family=family)

    return FileFormat(name, family, vendor, f"{description} (allotropy {allotropy_vendor})", sniff, read)
