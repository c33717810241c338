"""``secretome doctor``: the raw-file store of the data directory checked against the import records.

Raw files larger than the database limit are written (synced, renamed into place) before their import
commits, so a crash or a rollback can leave a file that no record names, never a committed record without
its file. What the doctor can still find, by code:

``missing``
    A committed import whose file is gone from the data directory. Importing the same bytes again puts
    the file back (the import answers that it restored it).
``altered``
    A stored file (in the data directory or the database) whose bytes no longer match their SHA-256.
``partial_write``
    A temporary file left by a write that never finished (in the raw store, or beside the audit
    checkpoint). ``--repair`` removes it.
``no_record``
    A file in the raw store that no import names: an import rolled back or killed before its commit.
    ``--repair`` removes it.

Files younger than the grace period are left alone: they may belong to an import committing right now.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db import transaction

from secretome.db.imports.models import RawFile
from secretome.domain.roles import Role
from secretome.services import imports
from secretome.services.audit import checkpoint_path, record_event, require_reason
from secretome.services.durable import TEMPORARY_PREFIX
from secretome.services.errors import ServiceError
from secretome.services.users import require_role

Actor = User | AnonymousUser | str

MISSING = "missing"
ALTERED = "altered"
PARTIAL_WRITE = "partial_write"
NO_RECORD = "no_record"

#: Problems ``repair`` removes; the others need the original bytes (re-import them) or an investigation.
REPAIRABLE = frozenset({PARTIAL_WRITE, NO_RECORD})

#: Default age, in seconds, below which a file may belong to an import still in progress.
DEFAULT_GRACE_SECONDS = 900

#: Roles that may remove files from the raw store.
REPAIR_ROLES = (Role.ADMIN, Role.QA)


@dataclass(frozen=True)
class StoreProblem:
    """One thing wrong with the raw-file store."""

    code: str
    path: str
    sha256: str
    message: str
    repaired: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "path": self.path,
            "sha256": self.sha256,
            "message": self.message,
            "repaired": self.repaired,
        }


@dataclass(frozen=True)
class DoctorReport:
    """What the doctor found (and, with repair, removed)."""

    records_checked: int
    files_scanned: int
    skipped_recent: int
    problems: tuple[StoreProblem, ...]

    @property
    def healthy(self) -> bool:
        """True when nothing is left to act on: every problem found was repaired."""
        return all(p.repaired for p in self.problems)

    def to_dict(self) -> dict[str, Any]:
        return {
            "healthy": self.healthy,
            "records_checked": self.records_checked,
            "files_scanned": self.files_scanned,
            "skipped_recent": self.skipped_recent,
            "problems": [p.to_dict() for p in self.problems],
        }


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(imports.raw_directory().parent))
    except ValueError:
        return str(path)


def check_records() -> tuple[int, list[StoreProblem]]:
    """Every raw file record against its bytes: (records checked, missing or altered ones)."""
    problems: list[StoreProblem] = []
    checked = 0
    for raw in RawFile.objects.order_by("pk").iterator(chunk_size=200):
        checked += 1
        if raw.stored_in == "database":
            if imports.sha256_of(bytes(raw.content or b"")) != raw.sha256:
                problems.append(
                    StoreProblem(
                        ALTERED,
                        f"database:raw_file/{raw.pk}",
                        raw.sha256,
                        f"{raw.original_name}: the bytes kept in the database do not match their SHA-256",
                    )
                )
            continue
        state = imports.raw_file_state(raw.sha256)
        if state == "intact":
            continue
        path = _relative(imports.raw_path(raw.sha256))
        if state == "missing":
            message = (
                f"{raw.original_name}: committed import without its raw file; import the same bytes "
                "again to put it back"
            )
        else:
            message = f"{raw.original_name}: the raw file's bytes do not match the SHA-256 of its record"
        problems.append(StoreProblem(state, path, raw.sha256, message))
    return checked, problems


def _store_files() -> Iterator[Path]:
    root = imports.raw_directory()
    if root.is_dir():
        for path in sorted(root.rglob("*")):
            if path.is_file() or path.is_symlink():
                yield path
    # A checkpoint write cut short leaves its temporary file beside the checkpoint.
    yield from sorted(checkpoint_path().parent.glob(TEMPORARY_PREFIX + "*"))


def _unrecorded(grace_seconds: float, now: float) -> tuple[int, int, list[tuple[StoreProblem, Path]]]:
    """Files in the raw store that no record names, and partial writes: (scanned, skipped, problems)."""
    recorded = set(RawFile.objects.filter(stored_in="directory").values_list("sha256", flat=True))
    scanned = skipped = 0
    found: list[tuple[StoreProblem, Path]] = []
    for path in _store_files():
        scanned += 1
        try:
            age = now - path.lstat().st_mtime
        except FileNotFoundError:
            continue  # renamed or removed while we looked
        if age < grace_seconds:
            skipped += 1
            continue
        relative = _relative(path)
        if path.name.startswith(TEMPORARY_PREFIX):
            problem = StoreProblem(
                PARTIAL_WRITE, relative, "", f"{relative}: a temporary file left by an unfinished write"
            )
        elif path.name in recorded and path == imports.raw_path(path.name):
            continue
        else:
            problem = StoreProblem(
                NO_RECORD,
                relative,
                path.name,
                f"{relative}: no import record names this file (an import rolled back or killed before its commit)",
            )
        found.append((problem, path))
    return scanned, skipped, found


def examine(
    *,
    repair: bool = False,
    actor: Actor | None = None,
    reason: str = "",
    grace_seconds: float = DEFAULT_GRACE_SECONDS,
    now: float | None = None,
) -> DoctorReport:
    """Check the raw-file store against the import records; with ``repair``, remove what can be removed.

    Parameters
    ----------
    repair
        Remove partial writes and files no record names (as ``actor``, for ``reason``, audited).
    actor, reason
        Who repairs and why; needed only with ``repair`` (admin or qa role).
    grace_seconds
        Files younger than this are skipped: they may belong to an import that is committing now.
    now
        The current time as a Unix timestamp (default: the clock).
    """
    if grace_seconds < 0:
        raise ValueError("grace_seconds: must be zero or more")
    if repair:
        if actor is None:
            raise ServiceError("repair: name the user who repairs the raw store")
        require_role(actor, *REPAIR_ROLES)
        reason = require_reason(reason)
    checked, problems = check_records()
    scanned, skipped, unrecorded = _unrecorded(grace_seconds, time.time() if now is None else now)
    if repair and unrecorded and actor is not None:
        unrecorded = _remove(actor, reason, unrecorded)
    return DoctorReport(checked, scanned, skipped, tuple(problems + [p for p, _ in unrecorded]))


@transaction.atomic
def _remove(
    actor: Actor, reason: str, unrecorded: list[tuple[StoreProblem, Path]]
) -> list[tuple[StoreProblem, Path]]:
    # The audit event comes first, in the same transaction: a removal the trail does not show never happens.
    record_event(
        actor,
        "repair",
        "raw_store",
        "raw",
        reason,
        {"files": [p.to_dict() for p, _ in unrecorded]},
        {"removed": len(unrecorded)},
    )
    removed = []
    for problem, path in unrecorded:
        path.unlink(missing_ok=True)
        removed.append((replace(problem, repaired=True), path))
    return removed
