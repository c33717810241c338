"""Reading an uploaded instrument file in a separate, bounded process, so a hostile file cannot take the site down.

A web preview (and a web import) hands the bytes to a child process forked from a small server process that
has the readers loaded. The child gets an address-space limit (``SECRETOME_PREVIEW_MEMORY_MB``) and the
parent a deadline (``SECRETOME_PREVIEW_SECONDS``): a reader that loops or allocates without end is killed
and the upload refused with a one-line message. At most ``SECRETOME_PREVIEW_WORKERS`` such reads run at
once; one more is refused as busy rather than queued, so the web workers stay free for everyone else.

This module imports no Django: the child processes import it and stay small.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from secretome import config
from secretome.instruments import detect
from secretome.instruments.limits import InputLimits
from secretome.instruments.model import InstrumentReading, ReaderError

#: Modules the fork server imports once, so each child starts with the readers loaded.
PRELOAD = [
    "secretome.instruments.detect",
    "secretome.services.bounded",
    "allotropy.parser_factory",
    "allotropy.to_allotrope",
]

#: What a child runs: ``reader(content, filename, format, limits) -> InstrumentReading``.
Reader = Callable[[bytes, str, "str | None", InputLimits], InstrumentReading]

_lock = threading.Lock()
_slots: threading.BoundedSemaphore | None = None
_slot_count = 0


class ReadRefused(ValueError):
    """The file was not read: its problem, or the limit it hit. The message is one line naming the file."""


class ReadBusy(RuntimeError):
    """Every bounded reader is busy; the caller should try again in a moment."""


def input_limits() -> InputLimits:
    """The input limits of the settings (``SECRETOME_MAX_FILE_BYTES``, ``_MAX_LINE_BYTES``, ``_MAX_COLUMNS``)."""
    defaults = InputLimits()
    return InputLimits(
        max_file_bytes=config.integer("SECRETOME_MAX_FILE_BYTES", defaults.max_file_bytes),
        max_line_bytes=config.integer("SECRETOME_MAX_LINE_BYTES", defaults.max_line_bytes),
        max_columns=config.integer("SECRETOME_MAX_COLUMNS", defaults.max_columns),
    )


def _slots_for(count: int) -> threading.BoundedSemaphore:
    global _slots, _slot_count
    with _lock:
        if _slots is None or _slot_count != count:
            _slots, _slot_count = threading.BoundedSemaphore(count), count
        return _slots


def _context() -> Any:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return context


def _read_in_child(
    channel: Connection,
    reader: Reader,
    content: bytes,
    filename: str,
    format: str | None,
    limits: InputLimits,
    memory: int,
) -> None:
    import resource

    try:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        reading = reader(content, filename, format, limits)
        channel.send(("read", reading))
    except (ReaderError, ValueError) as exc:
        channel.send(("refused", str(exc)))
    except MemoryError:
        channel.send(("refused", f"{filename[:120]}: reading it needs more memory than a preview may use"))
    except Exception as exc:  # any other failure of a reader on these bytes is the file's
        channel.send(("refused", f"{filename[:120]}: cannot be read ({type(exc).__name__})"))
    finally:
        channel.close()


def read_bounded(
    content: bytes, filename: str, format: str | None = None, *, reader: Reader = detect.read
) -> InstrumentReading:
    """Read ``content`` in a child process under the time, memory and concurrency limits of the settings.

    ``reader`` is :func:`secretome.instruments.detect.read`; another module-level function may stand in
    for it (tests give one that never returns).

    Raises
    ------
    ReadRefused
        The file cannot be read, or its reading hit the time or memory limit.
    ReadBusy
        As many bounded reads as ``SECRETOME_PREVIEW_WORKERS`` allows are running.
    """
    limits = input_limits()
    seconds = config.integer("SECRETOME_PREVIEW_SECONDS", 60)
    memory = config.integer("SECRETOME_PREVIEW_MEMORY_MB", 4096) * 1024 * 1024
    slots = _slots_for(config.integer("SECRETOME_PREVIEW_WORKERS", 2))
    name = filename[:120]
    # The size is checked here too, so an oversized upload is never copied into a child.
    if len(content) > limits.max_file_bytes:
        raise ReadRefused(
            f"{name}: the file has {len(content):,} bytes; the limit is {limits.max_file_bytes:,}"
        )
    if not slots.acquire(blocking=False):
        raise ReadBusy("other uploads are being read; try again in a moment")
    try:
        context = _context()
        receiver, sender = context.Pipe(duplex=False)
        process = context.Process(
            target=_read_in_child,
            args=(sender, reader, content, filename, format, limits, memory),
            daemon=True,
        )
        process.start()
        sender.close()
        try:
            if not receiver.poll(seconds):
                raise ReadRefused(f"{name}: reading it took longer than {seconds} s; refused")
            try:
                outcome, payload = receiver.recv()
            except (EOFError, OSError):
                raise ReadRefused(
                    f"{name}: the reader stopped (memory limit of {memory // 2**20} MiB or a crash); refused"
                ) from None
        finally:
            receiver.close()
            if process.is_alive():
                process.kill()
            process.join(5)
    finally:
        slots.release()
    if outcome != "read":
        raise ReadRefused(str(payload))
    if not isinstance(payload, InstrumentReading):
        raise ReadRefused(f"{name}: the reader returned no reading")
    return payload
