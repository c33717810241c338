"""Instrument imports: read a vendor file, keep the raw bytes as evidence, store its tidy measurements.

``inspect_file`` reads without writing. ``import_file`` is one transaction: the raw file (content-addressed
by SHA-256), the import record, its measurements and the audit event are stored together or not at all.
Importing the same bytes again returns the existing import and changes nothing, except that it puts
back the raw file when the data directory has lost it. Files up to :data:`DATABASE_LIMIT_BYTES` are kept
in the database; larger ones in the data directory under ``raw/<aa>/<sha256>``, written (temporary file,
fsync, atomic rename, directory fsync) BEFORE the transaction commits: a crash can leave a file with no
record (``secretome doctor`` finds and removes it), never a committed record without its evidence.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db import IntegrityError, transaction
from django.utils import timezone

from secretome.config import data_directory
from secretome.db.genealogy.models import Lot
from secretome.db.imports.models import InstrumentImport, InstrumentMeasurement, PlateLayout, RawFile
from secretome.domain import plate_layout as layouts
from secretome.domain.canonical import canonical_json
from secretome.domain.roles import Role
from secretome.instruments import detect
from secretome.instruments.model import InstrumentReading, ReaderError
from secretome.services import bounded as bounded_reads
from secretome.services.audit import record_event, require_reason
from secretome.services.durable import write_atomically
from secretome.services.errors import NotFound, ServiceError
from secretome.services.users import require_role

Actor = User | AnonymousUser | str

#: Raw files up to this size are kept in the database; larger ones in the data directory.
DATABASE_LIMIT_BYTES = 256 * 1024

#: Roles that may import instrument files and define plate layouts.
IMPORT_ROLES = (Role.ANALYST, Role.REVIEWER, Role.QA)


class ImportRefused(ServiceError):
    """The file cannot be read; the message names the file (and line or byte where it applies)."""


class ImportBusy(ServiceError):
    """Every bounded reader is busy with other uploads; try again in a moment."""


@dataclass(frozen=True)
class ImportOutcome:
    """The import record, and whether this call created it (False: the same bytes were imported before).

    ``restored_file`` is True when the bytes were imported before and this call put back their raw file,
    which the data directory had lost.
    """

    record: InstrumentImport
    created: bool
    restored_file: bool = False


def sha256_of(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def raw_directory() -> Path:
    """Where raw files larger than :data:`DATABASE_LIMIT_BYTES` live."""
    return data_directory() / "raw"


def raw_path(sha256: str) -> Path:
    """Where the raw file with this SHA-256 lives when it is kept in the data directory."""
    return raw_directory() / sha256[:2] / sha256


def inspect_file(
    filename: str, content: bytes, format: str | None = None, *, bounded: bool = False
) -> InstrumentReading:
    """Read ``content`` without storing anything; :class:`ImportRefused` when it cannot be read.

    The input limits of the settings are checked before any reader runs. ``bounded`` reads in a separate
    process under the preview time and memory limits (:mod:`secretome.services.bounded`): what the web
    does with uploads; :class:`ImportBusy` when every such reader is in use.
    """
    try:
        if bounded:
            return bounded_reads.read_bounded(content, filename, format)
        return detect.read(content, filename, format, bounded_reads.input_limits())
    except bounded_reads.ReadBusy as exc:
        raise ImportBusy(str(exc)) from None
    except (ReaderError, bounded_reads.ReadRefused) as exc:
        raise ImportRefused(str(exc)) from None
    except ValueError as exc:  # an unknown --format, a bad limit setting
        raise ImportRefused(str(exc)) from None


def find_import(content: bytes) -> InstrumentImport | None:
    """The import of exactly these bytes, if there is one."""
    return InstrumentImport.objects.filter(raw_file__sha256=sha256_of(content)).first()


def _lot(lot: Lot | str | None) -> Lot | None:
    if lot is None or isinstance(lot, Lot):
        return lot
    found = Lot.objects.filter(number=lot.strip()).first()
    if found is None:
        raise NotFound(f"lot: {lot!r} does not exist")
    return found


def raw_file_state(sha256: str) -> str:
    """``intact``, ``missing`` or ``altered``: the raw file in the data directory against its hash."""
    try:
        content = raw_path(sha256).read_bytes()
    except FileNotFoundError:
        return "missing"
    return "intact" if sha256_of(content) == sha256 else "altered"


def _write_raw(sha256: str, content: bytes) -> None:
    """Write the bytes under their hash, durably (temporary file, fsync, atomic rename, directory fsync)."""
    if raw_file_state(sha256) == "intact":
        return
    write_atomically(raw_path(sha256), content, 0o444)


def _restore_raw(actor: Actor, reason: str, existing: InstrumentImport, content: bytes) -> bool:
    """Put back the raw file of an earlier import when the data directory lost it (same bytes, same hash)."""
    raw = existing.raw_file
    if raw.stored_in != "directory":
        return False
    state = raw_file_state(raw.sha256)
    if state == "intact":
        return False
    _write_raw(raw.sha256, content)
    record_event(
        actor,
        "restore_raw_file",
        "instrument_import",
        existing.pk,
        reason,
        {"sha256": raw.sha256, "file": state},
        {"sha256": raw.sha256, "file": "intact", "size": len(content)},
    )
    return True


def raw_content(raw_file: RawFile) -> bytes:
    """The stored bytes of ``raw_file``, checked against its SHA-256."""
    if raw_file.stored_in == "database":
        content = bytes(raw_file.content or b"")
    else:
        path = raw_path(raw_file.sha256)
        try:
            content = path.read_bytes()
        except FileNotFoundError:
            raise ServiceError(f"raw file {raw_file.sha256} is missing from the data directory") from None
    if sha256_of(content) != raw_file.sha256:
        raise ServiceError(
            f"raw file {raw_file.sha256} does not match its SHA-256: the stored copy was altered"
        )
    return content


def _measurement_rows(
    record: InstrumentImport, reading: InstrumentReading, layout: layouts.PlateLayout | None
) -> list[InstrumentMeasurement]:
    rows = []
    for ordinal, measurement in enumerate(reading.measurements):
        assignment = None
        if layout is not None and measurement.well:
            try:
                assignment = layout.role_of(measurement.well)
            except ValueError:
                assignment = None
        rows.append(
            InstrumentMeasurement(
                instrument_import=record,
                ordinal=ordinal,
                quantity=measurement.quantity[:120],
                value=None
                if math.isnan(measurement.value) or math.isinf(measurement.value)
                else measurement.value,
                unit=measurement.unit[:60],
                sample=measurement.sample[:200],
                well=measurement.well[:60],
                plate=measurement.plate[:120],
                analyte=measurement.analyte[:200],
                flags=list(measurement.flags),
                role=assignment.role.value if assignment else "",
                preparation=assignment.name[:120] if assignment else "",
                level=assignment.level if assignment else None,
            )
        )
    return rows


def _json_safe(value: Any) -> Any:
    """Plain JSON values for the import record: non-finite numbers become null, other objects text."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, str | int | bool):
        return value
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return str(value)


def import_file_outcome(
    actor: Actor,
    reason: str,
    filename: str,
    content: bytes,
    format: str | None = None,
    layout: PlateLayout | str | None = None,
    lot: Lot | str | None = None,
    *,
    bounded: bool = False,
) -> ImportOutcome:
    """Like :func:`import_file`, also saying whether the import is new.

    ``bounded`` reads the file in a separate process under the preview limits (web uploads), before the
    transaction opens, so a slow file never holds the database.
    """
    require_role(actor, *IMPORT_ROLES)
    reading = None
    if bounded and find_import(content) is None:
        reading = inspect_file(filename, content, format, bounded=True)
    return _store_import(actor, reason, filename, content, format, layout, lot, reading)


@transaction.atomic
def _store_import(
    actor: Actor,
    reason: str,
    filename: str,
    content: bytes,
    format: str | None,
    layout: PlateLayout | str | None,
    lot: Lot | str | None,
    reading: InstrumentReading | None,
) -> ImportOutcome:
    require_role(actor, *IMPORT_ROLES)
    reason = require_reason(reason)
    sha256 = sha256_of(content)
    existing = InstrumentImport.objects.select_related("raw_file").filter(raw_file__sha256=sha256).first()
    if existing is not None:
        return ImportOutcome(existing, False, _restore_raw(actor, reason, existing, content))
    layout_record = get_layout(layout) if isinstance(layout, str) else layout
    lot_record = _lot(lot)
    if reading is None:
        reading = inspect_file(filename, content, format)
    layout_definition = layout_of(layout_record) if layout_record is not None else None
    now = timezone.now()
    user = actor if isinstance(actor, User) else None
    if user is None:
        raise ServiceError("imports are made by a user account")
    in_database = len(content) <= DATABASE_LIMIT_BYTES
    try:
        # A savepoint: two people importing the same bytes at once meet on the unique SHA-256.
        with transaction.atomic():
            raw = RawFile.objects.create(
                sha256=sha256,
                size=len(content),
                original_name=filename[:255],
                content=content if in_database else None,
                stored_in="database" if in_database else "directory",
                received_at=now,
                received_by=user,
            )
    except IntegrityError:
        raise ServiceError(f"{filename}: the same file is being imported at this moment; try again") from None
    if not in_database:
        # Before the commit: once the import record is committed its evidence is already on disk. A crash or
        # rollback from here on leaves a file without a record, which `secretome doctor` reports and removes.
        _write_raw(sha256, content)
    summary = _json_safe(reading.summary())
    record = InstrumentImport.objects.create(
        raw_file=raw,
        filename=filename[:255],
        format=reading.format,
        family=reading.family,
        reader=reading.reader[:120],
        reader_version=reading.reader_version[:40],
        instrument=reading.instrument[:200],
        serial_number=reading.serial_number[:120],
        software=reading.software[:120],
        software_version=reading.software_version[:120],
        metadata=_json_safe(dict(reading.run_metadata)),
        warnings=list(reading.warnings),
        summary=summary,
        layout=layout_record,
        lot=lot_record,
        reason=reason,
        imported_at=now,
        imported_by=user,
    )
    InstrumentMeasurement.objects.bulk_create(
        _measurement_rows(record, reading, layout_definition), batch_size=2000
    )
    record_event(
        actor,
        "import",
        "instrument_import",
        record.pk,
        reason,
        None,
        {
            "filename": record.filename,
            "sha256": sha256,
            "size": len(content),
            "stored_in": raw.stored_in,
            "format": record.format,
            "reader": record.reader,
            "reader_version": record.reader_version,
            "measurements": len(reading.measurements),
            "layout": str(layout_record) if layout_record else None,
            "lot": lot_record.number if lot_record else None,
        },
    )
    return ImportOutcome(record, True)


@transaction.atomic
def import_file(
    actor: Actor,
    reason: str,
    filename: str,
    content: bytes,
    format: str | None = None,
    layout: PlateLayout | str | None = None,
    lot: Lot | str | None = None,
) -> InstrumentImport:
    """Import one instrument file and return its import record (the existing one for bytes seen before).

    Parameters
    ----------
    actor, reason
        Who imports, and why (audit trail).
    filename
        The file's name as received (kept for people; the format comes from the content).
    content
        The file's bytes, stored unchanged.
    format
        A format name from :func:`secretome.instruments.detect.format_names` to override detection.
    layout
        A plate layout record, or its name (latest version) or ``name@version``.
    lot
        The lot (or lot number) the data belong to.
    """
    return import_file_outcome(actor, reason, filename, content, format, layout, lot).record


def get_import(pk: int | str) -> InstrumentImport:
    try:
        return InstrumentImport.objects.select_related("raw_file", "layout", "lot", "imported_by").get(
            pk=int(pk)
        )
    except (InstrumentImport.DoesNotExist, ValueError):
        raise NotFound(f"instrument import {pk!r} does not exist") from None


def list_imports(limit: int = 200) -> list[InstrumentImport]:
    return list(InstrumentImport.objects.select_related("raw_file", "lot", "imported_by")[:limit])


def imports_for_lot(lot: Lot | str) -> list[InstrumentImport]:
    found = _lot(lot)
    return list(InstrumentImport.objects.filter(lot=found).order_by("imported_at", "pk"))


def reading_of(record: InstrumentImport) -> InstrumentReading:
    """Read the stored raw file again with the import's format (for previews and event data)."""
    return inspect_file(record.filename, raw_content(record.raw_file), record.format)


# --- plate layouts -------------------------------------------------------------------------------


def layout_of(record: PlateLayout) -> layouts.PlateLayout:
    """The pure layout a record stores."""
    return layouts.PlateLayout.from_dict(json.loads(record.definition_json))


def get_layout(reference: str) -> PlateLayout:
    """A layout by ``name`` (its latest version) or ``name@version``."""
    name, _, version = reference.strip().partition("@")
    query = PlateLayout.objects.filter(name=name)
    if version:
        try:
            found = query.filter(version=int(version)).first()
        except ValueError:
            raise ServiceError(f"layout: {reference!r}: the version after @ must be a number") from None
    else:
        found = query.order_by("-version").first()
    if found is None:
        raise NotFound(f"layout: {reference!r} does not exist")
    return found


def list_layouts() -> list[PlateLayout]:
    return list(PlateLayout.objects.all())


@transaction.atomic
def save_layout(actor: Actor, reason: str, layout: layouts.PlateLayout) -> PlateLayout:
    """Store ``layout`` as the next version of its name (version 1 for a new name)."""
    require_role(actor, *IMPORT_ROLES)
    reason = require_reason(reason)
    if not isinstance(actor, User):
        raise ServiceError("layouts are saved by a user account")
    previous = PlateLayout.objects.filter(name=layout.name).order_by("-version").first()
    definition = canonical_json(layout.to_dict())
    if previous is not None and previous.definition_json == definition:
        raise ServiceError(f"layout: {layout.name} v{previous.version} already has exactly this definition")
    record = PlateLayout.objects.create(
        name=layout.name,
        version=1 if previous is None else previous.version + 1,
        plate_format=layout.plate_format,
        description=layout.description,
        definition_json=definition,
        previous_version=previous,
        created_at=timezone.now(),
        created_by=actor,
    )
    record_event(
        actor,
        "create",
        "plate_layout",
        f"{record.name}@{record.version}",
        reason,
        None,
        {
            "name": record.name,
            "version": record.version,
            "plate_format": record.plate_format,
            "wells": len(layout.wells),
        },
    )
    return record


def tables_for_import(
    record: InstrumentImport, quantity: str | None = None, layout: PlateLayout | None = None
) -> layouts.LayoutTables:
    """The dose-response and potency tables of an import: its layout (or ``layout``) over one quantity.

    ``quantity`` defaults to the first quantity in the file (``absorbance`` for a plate reader).
    """
    layout_record = layout or record.layout
    if layout_record is None:
        raise ServiceError(f"import #{record.pk} has no plate layout; name one")
    rows = record.measurements.all()
    chosen = quantity or (rows.first().quantity if rows.exists() else "")  # type: ignore[union-attr]
    responses: dict[str, float] = {}
    for row in rows.filter(quantity=chosen).order_by("ordinal"):
        if row.well and row.well not in responses:
            responses[row.well] = math.nan if row.value is None else row.value
    return layouts.layout_tables(layout_of(layout_record), responses)


def store_document(actor: Actor, filename: str, content: bytes) -> RawFile:
    """Keep a document behind a manual result (a sterility report, a certificate of a reagent) exactly as
    received, content-addressed like instrument files; the same bytes are stored once. Call inside the use
    case's transaction."""
    user = actor if isinstance(actor, User) else None
    if user is None:
        raise ServiceError("documents are stored by a user account")
    if not content:
        raise ServiceError(f"document: {filename} is empty")
    sha256 = sha256_of(content)
    existing = RawFile.objects.filter(sha256=sha256).first()
    if existing is not None:
        return existing
    in_database = len(content) <= DATABASE_LIMIT_BYTES
    raw = RawFile.objects.create(
        sha256=sha256,
        size=len(content),
        original_name=filename[:255],
        content=content if in_database else None,
        stored_in="database" if in_database else "directory",
        received_at=timezone.now(),
        received_by=user,
    )
    if not in_database:
        # Before the commit, as for imports: a committed record never lacks its file (doctor finds strays).
        _write_raw(sha256, content)
    return raw
