"""Where Secretome keeps its data, and how it finds its settings.

Every setting is read from the environment so that one installed package serves a laptop demo and a
multi-user PostgreSQL site alike. The settings are documented in ``docs/settings.md`` (a test keeps the
two in step).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

#: Environment variables Secretome reads, with what each one does. ``docs/settings.md`` documents each.
SETTINGS: dict[str, str] = {
    "SECRETOME_HOME": "Data directory (database, secret and audit keys, audit checkpoint, raw files, certificates). Default ~/.secretome.",
    "DATABASE_URL": "PostgreSQL URL (postgres://user:password@host:port/name); SQLite in the data directory when unset.",
    "SECRETOME_DEBUG": "1 turns on Django debug pages. Never on a production site.",
    "SECRETOME_ALLOWED_HOSTS": "Comma-separated host names the web app answers to. Default localhost,127.0.0.1.",
    "SECRETOME_SECURE_COOKIES": "0 sends session and CSRF cookies over plain HTTP to hosts other than localhost. Default 1.",
    "SECRETOME_SESSION_IDLE_MINUTES": "Minutes of inactivity after which a web session ends. Default 30.",
    "SECRETOME_SIGNING_LOCKOUT": "Failed password attempts (login or signing) before an account is locked from that address. Default 5.",
    "SECRETOME_LOCKOUT_COOLOFF_MINUTES": "Minutes after the last failed attempt before a lockout ends by itself. Default 30.",
    "SECRETOME_PASSWORD_MAX_AGE_DAYS": "Days a password stays valid before a new one must be set (21 CFR 11.300(b)); 0 turns expiry off. Default 90.",
    "SECRETOME_MAX_FILE_BYTES": "Largest instrument file read or imported, in bytes. Default 536870912 (512 MiB).",
    "SECRETOME_MAX_LINE_BYTES": "Longest line of a text instrument file, in bytes, checked before parsing. Default 1048576.",
    "SECRETOME_MAX_COLUMNS": "Most fields on one line of a text instrument file, checked before parsing. Default 4096.",
    "SECRETOME_PREVIEW_SECONDS": "Time limit of one web preview of an uploaded file (a separate process). Default 60.",
    "SECRETOME_PREVIEW_MEMORY_MB": "Address-space limit of one web preview process, in MiB. Default 4096.",
    "SECRETOME_PREVIEW_WORKERS": "Web previews running at once; more are refused with 'busy'. Default 2.",
    "SECRETOME_LATE_ENTRY_HOURS": "Hours after an event beyond which its entry is flagged as a late entry. Default 72.",
}

SECRET_KEY_FILE = "secret_key"

#: The key of the audit chain's HMAC and of its checkpoint: beside the secret key, never in the database.
AUDIT_KEY_FILE = "audit_key"

#: The signed head of the audit chain, rewritten after every commit that wrote audit events.
AUDIT_CHECKPOINT_FILE = "audit_checkpoint.json"


class NotInitialisedError(RuntimeError):
    """The data directory has not been initialised with ``secretome init``."""


def data_directory() -> Path:
    """Return the data directory: ``$SECRETOME_HOME`` or ``~/.secretome``, as an absolute path."""
    raw = os.environ.get("SECRETOME_HOME")
    return (Path(raw) if raw else Path.home() / ".secretome").expanduser().resolve()


def read_secret_key(home: Path) -> str:
    """Read the secret key kept in ``home``; raise :class:`NotInitialisedError` when it is missing."""
    path = home / SECRET_KEY_FILE
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise NotInitialisedError(
            f"{home} is not a Secretome data directory (no {SECRET_KEY_FILE}); run `secretome init` first"
        ) from None


def read_audit_key(home: Path) -> bytes:
    """Read the audit chain's HMAC key kept in ``home``; :class:`NotInitialisedError` when it is missing."""
    path = home / AUDIT_KEY_FILE
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise NotInitialisedError(
            f"{home} has no audit key ({AUDIT_KEY_FILE}); run `secretome init`, or restore the key "
            "from the site's key backup"
        ) from None
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise NotInitialisedError(f"{path}: the audit key is not hexadecimal") from None
    if len(key) < 32:
        raise NotInitialisedError(f"{path}: the audit key is shorter than 32 bytes")
    return key


def _create_owner_only(path: Path, text: str) -> bool:
    """Write ``text`` to a new owner-readable file; False when the file already exists."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    return True


def ensure_secret_key(home: Path) -> bool:
    """Create the data directory, its secret key and its audit key if missing.

    Return True when the secret key was created. Both keys are owner-only: the secret key signs sessions
    and CSRF tokens, the audit key the audit chain and its checkpoint.
    """
    home.mkdir(parents=True, exist_ok=True)
    (home / "static").mkdir(exist_ok=True)
    _create_owner_only(home / AUDIT_KEY_FILE, secrets.token_hex(32))
    return _create_owner_only(home / SECRET_KEY_FILE, secrets.token_urlsafe(50))


def integer(name: str, default: int) -> int:
    """Read a positive whole-number environment setting; ``ValueError`` naming the setting otherwise."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name}: {raw[:40]!r} is not a whole number") from None
    if value <= 0:
        raise ValueError(f"{name}: must be a positive number, not {value}")
    return value


def flag(name: str, default: bool) -> bool:
    """Read a boolean environment setting ("1"/"0", "true"/"false")."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}
