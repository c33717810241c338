"""Files that survive a crash: written to a temporary file, synced, renamed into place, directory synced.

A reader never sees a half-written file under its final name, and once :func:`write_atomically` returns
the bytes and the name are on disk even if the machine loses power the next moment.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

#: Prefix of the temporary files :func:`write_atomically` writes; a file with it is a partial write.
TEMPORARY_PREFIX = ".incoming-"


def sync_directory(directory: Path) -> None:
    """Flush a directory's entries (a rename or a new file in it) to disk."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(target: Path, content: bytes, mode: int = 0o600) -> None:
    """Write ``content`` to ``target`` so that a crash leaves either the old file or the whole new one."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=TEMPORARY_PREFIX)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    sync_directory(target.parent)
