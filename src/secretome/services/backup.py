"""Backing up and restoring a site: the database, the audit checkpoint, the raw store and certificates.

A backup is a directory::

    manifest.json            format, time, database vendor, audit head, SHA-256 of every other file
    audit_checkpoint.json    the signed checkpoint, copied BEFORE the database so it is never ahead of it
    database.sqlite3         SQLite online backup API (a consistent copy of a live database), or
    database.pgdump          pg_dump custom format (PostgreSQL)
    files/raw/...            the raw store, copied AFTER the database so every committed file is in it
    files/certificates/...
    keys/                    the secret and audit keys, only with ``include_keys``

:func:`restore` checks the manifest, loads the database and the files, puts the backup's checkpoint in
place, verifies the audit chain and every raw file's SHA-256, and records the restore in the audit trail.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import DatabaseError, connection, connections, transaction
from django.utils import timezone

from secretome import __version__
from secretome.config import AUDIT_CHECKPOINT_FILE, AUDIT_KEY_FILE, SECRET_KEY_FILE, data_directory
from secretome.db.core.models import AuditEvent
from secretome.services import audit, doctor
from secretome.services.backup_files import (
    FORMAT,
    FORMAT_VERSION,
    KEY_FILES,
    KEYS_DIRECTORY,
    MANIFEST,
    BackupDamaged,
    file_sha256,
    read_manifest,
)
from secretome.services.durable import TEMPORARY_PREFIX, sync_directory, write_atomically
from secretome.services.errors import ServiceError

DATABASE_FILES = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
FILES_DIRECTORY = "files"

# Never copied as site files: the database (backed up through its own API), the keys (only on request),
# the checkpoint (copied first, on its own), lock files and the served static files.
_NOT_SITE_FILES = {
    SECRET_KEY_FILE,
    AUDIT_KEY_FILE,
    AUDIT_CHECKPOINT_FILE,
    ".audit_checkpoint.lock",
    "static",
}


@dataclass(frozen=True)
class BackupOutcome:
    """What a backup wrote."""

    destination: Path
    database: str
    files: int
    size: int
    audit_sequence: int
    include_keys: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "destination": str(self.destination),
            "database": self.database,
            "files": self.files,
            "bytes": self.size,
            "audit_sequence": self.audit_sequence,
            "include_keys": self.include_keys,
        }


@dataclass(frozen=True)
class RestoreOutcome:
    """What a restore put back, and what verifying the restored site found."""

    source: Path
    database: str
    files_restored: int
    keys_installed: tuple[str, ...]
    audit: dict[str, Any]
    raw_files: dict[str, Any]

    @property
    def intact(self) -> bool:
        return bool(self.audit["intact"]) and not self.raw_files["problems"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "intact": self.intact,
            "source": str(self.source),
            "database": self.database,
            "files_restored": self.files_restored,
            "keys_installed": list(self.keys_installed),
            "audit": self.audit,
            "raw_files": self.raw_files,
        }


# --- the database -----------------------------------------------------------------------------------


def _vendor() -> str:
    if connection.vendor not in DATABASE_FILES:
        raise ServiceError(f"backup: the {connection.vendor} database is not supported (sqlite, postgresql)")
    return connection.vendor


def _postgres_environment() -> dict[str, str]:
    # The password goes through the environment, never the command line other users can read.
    settings = connection.settings_dict
    environment = dict(os.environ)
    for variable, key in (
        ("PGHOST", "HOST"),
        ("PGPORT", "PORT"),
        ("PGUSER", "USER"),
        ("PGPASSWORD", "PASSWORD"),
        ("PGDATABASE", "NAME"),
    ):
        if settings.get(key):
            environment[variable] = str(settings[key])
    return environment


def _run_client(program: str, *arguments: str) -> None:
    executable = shutil.which(program)
    if executable is None:
        raise ServiceError(f"{program}: not found; install the PostgreSQL client tools (postgresql-client)")
    completed = subprocess.run(
        [executable, *arguments], env=_postgres_environment(), capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        first = (completed.stderr.strip().splitlines() or ["no message"])[0][:300]
        raise ServiceError(f"{program} failed (exit {completed.returncode}): {first}")


def snapshot_database(target: Path) -> str:
    """Write a consistent copy of the live database to ``target``; return the vendor."""
    vendor = _vendor()
    if transaction.get_connection().in_atomic_block:
        raise RuntimeError("snapshot_database must run outside a transaction")
    if vendor == "sqlite":
        connection.ensure_connection()
        copy = sqlite3.connect(target)
        try:
            connection.connection.backup(copy)
        finally:
            copy.close()
    else:
        _run_client("pg_dump", "--format=custom", "--no-owner", "--no-privileges", f"--file={target}")
    with target.open("rb") as handle:
        os.fsync(handle.fileno())
    return vendor


def load_database(source: Path, vendor: str) -> None:
    """Replace the live database's contents with the copy in ``source`` (made by :func:`snapshot_database`)."""
    if vendor != _vendor():
        raise ServiceError(
            f"restore: the backup holds a {vendor} database; this site uses {connection.vendor}"
        )
    if transaction.get_connection().in_atomic_block:
        raise RuntimeError("load_database must run outside a transaction")
    if vendor == "sqlite":
        connection.ensure_connection()
        copy = sqlite3.connect(source)
        try:
            copy.backup(connection.connection)
        finally:
            copy.close()
    else:
        connections.close_all()  # pg_restore --clean drops the tables this process may hold locks on
        _run_client(
            "pg_restore",
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            f"--dbname={connection.settings_dict['NAME']}",
            str(source),
        )


# --- files ------------------------------------------------------------------------------------------


def _site_files(home: Path, exclude: Path) -> list[Path]:
    """The files of the data directory that a backup copies as they are."""
    database = Path(connection.settings_dict["NAME"]).name if connection.vendor == "sqlite" else None
    found = []
    for path in sorted(home.rglob("*")):
        relative = path.relative_to(home)
        if relative.parts[0] in _NOT_SITE_FILES or not path.is_file() or path.is_symlink():
            continue
        if path.name.startswith(TEMPORARY_PREFIX) or path.is_relative_to(exclude):
            continue
        if database is not None and relative.parts[0].startswith(database):
            continue  # the database file, its WAL and shared memory
        found.append(path)
    return found


def _copy_durably(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    with target.open("rb") as handle:
        os.fsync(handle.fileno())


def _empty_destination(destination: Path) -> Path:
    destination = destination.expanduser().resolve()
    if destination.exists() and (not destination.is_dir() or any(destination.iterdir())):
        raise ServiceError(f"{destination}: the backup destination must be a new or empty directory")
    destination.mkdir(parents=True, exist_ok=True)
    return destination


def backup(destination: Path, *, include_keys: bool = False) -> BackupOutcome:
    """Back the site up into ``destination`` (a new or empty directory).

    Parameters
    ----------
    destination
        The directory to write; refused when it exists and is not empty.
    include_keys
        Also copy the secret key and the audit key. Without them the backup can only be restored into a
        data directory that still holds the site's keys.
    """
    home = data_directory()
    destination = _empty_destination(destination)
    # The checkpoint first: events committed after this copy only put the database ahead of it.
    checkpoint = audit.checkpoint_path()
    if checkpoint.exists():
        _copy_durably(checkpoint, destination / AUDIT_CHECKPOINT_FILE)
    # Read before the snapshot, so the database copy holds at least this much of the chain.
    head = AuditEvent.objects.order_by("-sequence").values_list("sequence", flat=True).first() or 0
    vendor = snapshot_database(destination / DATABASE_FILES[_vendor()])
    # The files after the database: every committed record's file was on disk before its commit.
    for path in _site_files(home, destination):
        _copy_durably(path, destination / FILES_DIRECTORY / path.relative_to(home))
    if include_keys:
        # The keys the running site loaded: they live beside its checkpoint.
        key_home = audit.checkpoint_path().parent
        for name in KEY_FILES:
            if (key_home / name).is_file():
                _copy_durably(key_home / name, destination / KEYS_DIRECTORY / name)
    files = {
        str(path.relative_to(destination)): file_sha256(path)
        for path in sorted(destination.rglob("*"))
        if path.is_file()
    }
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "secretome_version": __version__,
        "created_at": timezone.now().isoformat().replace("+00:00", "Z"),
        "database": vendor,
        "audit_sequence_at_least": head,
        "include_keys": include_keys,
        "files": files,
    }
    write_atomically(destination / MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode("utf-8"), 0o600)
    size = sum((destination / relative).stat().st_size for relative in files)
    return BackupOutcome(destination, vendor, len(files), size, head, include_keys)


def _holds_audit_events() -> int:
    try:
        return AuditEvent.objects.count()
    except DatabaseError:
        return 0  # no schema yet: a fresh database


def restore(
    source: Path, reason: str, *, force: bool = False, keys_installed: tuple[str, ...] = ()
) -> RestoreOutcome:
    """Restore the backup in ``source`` into this site, then verify what was restored.

    Parameters
    ----------
    source
        A directory written by :func:`backup`; every file is checked against the manifest first.
    reason
        Why the site is restored (audit trail).
    force
        Replace a database that already holds audit events.
    keys_installed
        The key files the caller copied from the backup before loading the settings (reported only).
    """
    reason = audit.require_reason(reason)
    source = source.expanduser().resolve()
    try:
        manifest = read_manifest(source)
    except BackupDamaged as exc:
        raise ServiceError(str(exc)) from None
    vendor = str(manifest["database"])
    database_file = source / DATABASE_FILES.get(vendor, "")
    if vendor not in DATABASE_FILES or not database_file.is_file():
        raise ServiceError(f"{source / MANIFEST}: no database file for {vendor!r}")
    existing = _holds_audit_events()
    if existing and not force:
        raise ServiceError(
            f"restore: this site's database already holds {existing} audit events; --force replaces it"
        )
    replaced = audit.read_checkpoint() if audit.checkpoint_path().exists() else None
    load_database(database_file, vendor)
    home = data_directory()
    restored = 0
    files_root = source / FILES_DIRECTORY
    for relative in sorted(manifest["files"]):
        if not relative.startswith(FILES_DIRECTORY + "/"):
            continue
        target = home / Path(relative).relative_to(FILES_DIRECTORY)
        member = files_root / Path(relative).relative_to(FILES_DIRECTORY)
        if target.is_file() and file_sha256(target) == manifest["files"][relative]:
            continue
        mode = 0o444 if target.relative_to(home).parts[0] == "raw" else 0o644
        if target.exists():
            target.chmod(0o600)
        write_atomically(target, member.read_bytes(), mode)
        restored += 1
    if (source / AUDIT_CHECKPOINT_FILE).is_file():
        write_atomically(audit.checkpoint_path(), (source / AUDIT_CHECKPOINT_FILE).read_bytes(), 0o600)
    else:
        audit.checkpoint_path().unlink(missing_ok=True)
        sync_directory(audit.checkpoint_path().parent)
    report = audit.verify()
    checked, problems = doctor.check_records()
    with transaction.atomic():
        audit.record_event(
            audit.SYSTEM_ACTOR,
            "restore",
            "site",
            "database",
            reason,
            None if replaced is None else {"checkpoint": replaced.to_dict()},
            {
                "backup_created_at": manifest.get("created_at"),
                "database": vendor,
                "events_restored": report.events_checked,
                "audit_intact": report.intact,
                "raw_file_problems": len(problems),
            },
        )
    return RestoreOutcome(
        source,
        vendor,
        restored,
        tuple(keys_installed),
        report.to_dict(),
        {"records_checked": checked, "problems": [p.to_dict() for p in problems]},
    )
