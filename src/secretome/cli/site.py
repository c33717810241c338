"""Site care: ``secretome doctor``, ``secretome backup`` and ``secretome restore``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from secretome.cli.common import (
    EXIT_CHECK_FAILED,
    JSON_OPTION,
    acting_user,
    console,
    emit,
    fail,
    refusals,
    setup_django,
)


def doctor(
    repair: bool = typer.Option(
        False, "--repair", help="Remove partial writes and raw files no import names (audited; needs --as)."
    ),
    grace_seconds: float = typer.Option(
        900,
        "--grace-seconds",
        min=0,
        help="Leave files younger than this alone (an import may be committing).",
    ),
    reason: str = typer.Option(
        "raw store repair", "--reason", help="Why the store is repaired (audit trail)."
    ),
    acting: str | None = typer.Option(
        None, "--as", help="User who repairs (admin or qa); only with --repair."
    ),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from stdin."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Check every raw file against its import record; exit 1 while anything is left to act on."""
    setup_django()
    from secretome.services import doctor as service

    with refusals():
        user = acting_user(acting, password_stdin=password_stdin) if repair else None
        report = service.examine(repair=repair, actor=user, reason=reason, grace_seconds=grace_seconds)

    def render(payload: dict[str, Any]) -> None:
        console.print(
            f"raw store: {payload['records_checked']} records checked, {payload['files_scanned']} files scanned"
            + (f", {payload['skipped_recent']} too recent to judge" if payload["skipped_recent"] else ""),
            markup=False,
        )
        for problem in payload["problems"]:
            state = "removed" if problem["repaired"] else "found"
            console.print(f"{problem['code']} ({state}): {problem['message']}", markup=False)
        if payload["healthy"]:
            console.print("healthy")

    emit(report.to_dict(), as_json, render)
    if not report.healthy:
        raise typer.Exit(EXIT_CHECK_FAILED)


def backup(
    destination: Path = typer.Argument(..., help="A new or empty directory for the backup."),
    include_keys: bool = typer.Option(
        False,
        "--include-keys",
        help="Also copy the secret key and the audit key (guard the backup like them).",
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Back up the database, the audit checkpoint, the raw store and certificates, with a SHA-256 manifest."""
    setup_django()
    from secretome.services import backup as service

    with refusals():
        outcome = service.backup(destination, include_keys=include_keys)

    def render(p: dict[str, Any]) -> None:
        keys = "with keys" if p["include_keys"] else "without keys"
        console.print(
            f"backup written to {p['destination']}: {p['database']} database, {p['files']} files, "
            f"{p['bytes']} bytes, audit sequence {p['audit_sequence']} ({keys})",
            markup=False,
        )

    emit(outcome.to_dict(), as_json, render)


def restore(
    source: Path = typer.Argument(..., help="A directory written by `secretome backup`."),
    reason: str = typer.Option(..., "--reason", help="Why the site is restored (audit trail)."),
    force: bool = typer.Option(False, "--force", help="Replace a database that already holds audit events."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Restore a backup into $SECRETOME_HOME, then verify the audit chain and every raw file's SHA-256."""
    from secretome.config import data_directory
    from secretome.services.backup_files import BackupDamaged, install_keys, read_manifest

    try:
        read_manifest(source)
        # The keys before the settings: the site cannot load without them.
        installed = install_keys(source, data_directory())
    except (BackupDamaged, ValueError, OSError) as exc:
        fail(str(exc))
    setup_django()
    from secretome.services import backup as service

    with refusals():
        outcome = service.restore(source, reason, force=force, keys_installed=tuple(installed))

    def render(p: dict[str, Any]) -> None:
        audit = p["audit"]
        console.print(
            f"restored {p['database']} database and {p['files_restored']} files from {p['source']}",
            markup=False,
        )
        state = "intact" if audit["intact"] else "BROKEN"
        console.print(f"audit chain {state}: {audit['events_checked']} events", markup=False)
        for finding in audit["findings"]:
            console.print(f"audit trail {finding['code']}: {finding['message']}", markup=False)
        raw = p["raw_files"]
        console.print(f"raw files: {raw['records_checked']} checked, {len(raw['problems'])} problems")
        for problem in raw["problems"]:
            console.print(f"{problem['code']}: {problem['message']}", markup=False)

    emit(outcome.to_dict(), as_json, render)
    if not outcome.intact:
        raise typer.Exit(EXIT_CHECK_FAILED)


def register(app: typer.Typer) -> None:
    """Add the site-care commands to ``app``."""
    app.command("doctor")(doctor)
    app.command("backup")(backup)
    app.command("restore")(restore)
