"""``secretome inspect``, ``secretome import`` and ``secretome layout``: instrument files and plate layouts.

``inspect`` reads a file without writing anything (and needs no data directory); ``import`` stores it
through :mod:`secretome.services.imports`. A file that cannot be read gives one line naming the file (and
the line or byte where it applies) and exit code 2.
"""

from __future__ import annotations

import csv
import hashlib
import io
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from secretome.cli.common import JSON_OPTION, acting_user, console, emit, fail, refusals, setup_django

layout_app = typer.Typer(help="Plate layout templates (96 and 384 wells), versioned.", no_args_is_help=True)

FORMAT_OPTION = typer.Option(
    None, "--format", help="Format name to use instead of detecting it from the content."
)


def _read_file(path: Path) -> bytes:
    from secretome.services.bounded import input_limits

    try:
        # The size limit is checked before the bytes are read, so an oversized file never fills memory.
        size, limit = path.stat().st_size, input_limits().max_file_bytes
        if size > limit:
            fail(f"{path}: the file has {size:,} bytes; the limit is {limit:,} (SECRETOME_MAX_FILE_BYTES)")
        return path.read_bytes()
    except ValueError as exc:  # a malformed limit setting
        fail(str(exc))
    except FileNotFoundError:
        fail(f"{path}: no such file")
    except IsADirectoryError:
        fail(f"{path}: is a directory, not a file")
    except OSError as exc:
        fail(f"{path}: cannot be read ({exc.strerror})")


def inspect(
    path: Path = typer.Argument(..., help="The instrument file to read."),
    file_format: str | None = FORMAT_OPTION,
    values: bool = typer.Option(
        False, "--values", help="Add the tidy measurements (sample, well, value...)."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Read an instrument file without storing anything: format, instrument, run metadata, samples, counts."""
    from secretome.instruments.detect import read
    from secretome.instruments.model import ReaderError

    content = _read_file(path)
    try:
        reading = read(content, path.name, file_format)
    except (ReaderError, ValueError) as exc:
        fail(str(exc))
    payload = reading.summary() | {"sha256": hashlib.sha256(content).hexdigest(), "size": len(content)}
    if values:
        payload["values"] = [m.to_dict() for m in reading.measurements]

    def render(p: dict[str, Any]) -> None:
        table = Table("", "", show_header=False)
        for key in (
            "filename",
            "format",
            "family",
            "instrument",
            "serial_number",
            "software",
            "software_version",
            "reader",
        ):
            table.add_row(key.replace("_", " "), str(p[key]))
        counts = p["counts"]
        table.add_row("measurements", str(counts["measurements"]))
        table.add_row(
            "samples",
            f"{counts['samples']}: {', '.join(p['samples'][:8])}{' ...' if counts['samples'] > 8 else ''}",
        )
        table.add_row(
            "analytes / channels", ", ".join(p["analytes"][:12]) + (" ..." if len(p["analytes"]) > 12 else "")
        )
        table.add_row("quantities", ", ".join(p["quantities"]))
        if counts["events"]:
            table.add_row("events", f"{counts['events']:,} in {counts['data_sets']} data set(s)")
        for warning in p["warnings"]:
            table.add_row("warning", warning)
        console.print(table)

    emit(payload, as_json, render)


def import_command(
    path: Path = typer.Argument(..., help="The instrument file to import."),
    file_format: str | None = FORMAT_OPTION,
    layout: str | None = typer.Option(
        None, "--layout", help="Plate layout: NAME (latest version) or NAME@VERSION."
    ),
    lot: str | None = typer.Option(None, "--lot", help="Lot number the data belong to."),
    reason: str = typer.Option(
        "instrument data import", "--reason", help="Why the file is imported (audit trail)."
    ),
    acting: str | None = typer.Option(None, "--as", help="User importing the file."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from stdin."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Import an instrument file: keep the raw file, store its measurements. The same file again changes nothing."""
    content = _read_file(path)
    setup_django()
    from secretome.services import imports

    with refusals():
        user = acting_user(acting, password_stdin=password_stdin)
        outcome = imports.import_file_outcome(user, reason, path.name, content, file_format, layout, lot)
    record = outcome.record
    payload = {
        "import_id": record.pk,
        "created": outcome.created,
        "restored_file": outcome.restored_file,
        "filename": record.filename,
        "sha256": record.raw_file.sha256,
        "stored_in": record.raw_file.stored_in,
        "format": record.format,
        "family": record.family,
        "reader": record.reader,
        "reader_version": record.reader_version,
        "instrument": record.instrument,
        "measurements": record.measurements.count(),
        "layout": str(record.layout) if record.layout else None,
        "lot": record.lot.number if record.lot else None,
        "imported_by": record.imported_by.get_username(),
        "imported_at": record.imported_at.isoformat(),
        "warnings": record.warnings,
    }

    def render(p: dict[str, Any]) -> None:
        if p["created"]:
            console.print(
                f"imported {p['filename']} as import #{p['import_id']}: {p['format']}, {p['measurements']} measurements"
            )
        elif p["restored_file"]:
            console.print(
                f"{p['filename']} was imported before (import #{p['import_id']}); "
                "its missing raw file was put back in the data directory"
            )
        else:
            console.print(f"{p['filename']} was imported before (import #{p['import_id']}); nothing changed")

    emit(payload, as_json, render)


@layout_app.command("add")
def layout_add(
    path: Path = typer.Argument(..., help="CSV with columns well, role, name, level."),
    name: str = typer.Option(..., "--name", help="Layout name; a new version is made when it exists."),
    plate_format: int = typer.Option(96, "--plate-format", help="96 or 384."),
    unit: str = typer.Option("", "--unit", help="Unit of the standard concentrations."),
    reason: str = typer.Option("plate layout", "--reason", help="Why the layout is saved (audit trail)."),
    acting: str | None = typer.Option(None, "--as", help="User saving the layout."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from stdin."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Save a plate layout from a CSV template (roles: standard, blank, qc, reference, test, unknown, excluded)."""
    content = _read_file(path)
    from secretome.domain.plate_layout import PlateLayout

    try:
        rows = list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))
        layout = PlateLayout.from_rows(name, plate_format, rows, unit=unit)
    except (ValueError, UnicodeDecodeError) as exc:
        fail(f"{path}: {exc}")
    setup_django()
    from secretome.services import imports

    with refusals():
        user = acting_user(acting, password_stdin=password_stdin)
        record = imports.save_layout(user, reason, layout)
    payload = {
        "name": record.name,
        "version": record.version,
        "plate_format": record.plate_format,
        "wells": len(layout.wells),
    }
    emit(
        payload,
        as_json,
        lambda p: console.print(f"saved layout {p['name']} v{p['version']} ({p['wells']} wells)"),
    )


@layout_app.command("list")
def layout_list(as_json: bool = JSON_OPTION) -> None:
    """List plate layouts and their versions."""
    setup_django()
    from secretome.services import imports

    rows = [
        {
            "name": r.name,
            "version": r.version,
            "plate_format": r.plate_format,
            "created_at": r.created_at.isoformat(),
        }
        for r in imports.list_layouts()
    ]

    def render(payload: list[dict[str, Any]]) -> None:
        table = Table("name", "version", "plate", "created")
        for row in payload:
            table.add_row(row["name"], str(row["version"]), str(row["plate_format"]), row["created_at"])
        console.print(table)

    emit(rows, as_json, render)


def register(app: typer.Typer) -> None:
    """Attach ``inspect``, ``import`` and the ``layout`` group to the top-level command line."""
    app.command("inspect")(inspect)
    app.command("import")(import_command)
    app.add_typer(layout_app, name="layout")
