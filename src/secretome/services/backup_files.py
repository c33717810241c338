"""The files of a backup directory: its manifest, and the keys it may carry. No Django here.

``secretome restore`` needs the keys in the data directory before it can load the site's settings, so
checking a backup and installing its keys must work before Django is set up.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from secretome.config import AUDIT_KEY_FILE, SECRET_KEY_FILE
from secretome.services.durable import sync_directory

MANIFEST = "manifest.json"
FORMAT = "secretome-backup"
FORMAT_VERSION = 1
KEYS_DIRECTORY = "keys"
KEY_FILES = (SECRET_KEY_FILE, AUDIT_KEY_FILE)


class BackupDamaged(ValueError):
    """The backup directory is not a complete, unaltered Secretome backup; the message names the file."""


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(source: Path) -> dict[str, Any]:
    """The manifest of the backup in ``source``, after checking every file it lists against its SHA-256."""
    path = source / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupDamaged(f"{path}: no manifest; {source} is not a Secretome backup") from None
    except ValueError as exc:
        raise BackupDamaged(f"{path}: not readable JSON ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupDamaged(f"{path}: format is not {FORMAT!r}")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise BackupDamaged(
            f"{path}: format_version {manifest.get('format_version')!r} is not {FORMAT_VERSION}"
        )
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise BackupDamaged(f"{path}: field 'files' is missing")
    root = source.resolve()
    for relative, expected in files.items():
        member = (source / relative).resolve()
        if not member.is_relative_to(root):
            raise BackupDamaged(f"{path}: {relative!r} points outside the backup")
        if not member.is_file():
            raise BackupDamaged(f"{source / relative}: listed in the manifest but missing")
        if file_sha256(member) != expected:
            raise BackupDamaged(f"{source / relative}: does not match its SHA-256 in the manifest")
    return manifest


def install_keys(source: Path, home: Path) -> list[str]:
    """Copy the backup's keys into ``home`` where it has none; return the names installed.

    A different audit key already in ``home`` is refused (:class:`ValueError`): the restored chain would
    not verify under it. A different secret key is kept: it only signs sessions and CSRF tokens.
    """
    installed = []
    home.mkdir(parents=True, exist_ok=True)
    for name in KEY_FILES:
        carried = source / KEYS_DIRECTORY / name
        if not carried.is_file():
            continue
        target = home / name
        if target.exists():
            if name == AUDIT_KEY_FILE and target.read_bytes().strip() != carried.read_bytes().strip():
                raise ValueError(
                    f"{target}: the data directory holds a different audit key than the backup; "
                    "restore into a data directory without one"
                )
            continue
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(carried.read_bytes())
            handle.flush()
            os.fsync(handle.fileno())
        installed.append(name)
    if installed:
        sync_directory(home)
    return installed
