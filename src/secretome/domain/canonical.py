"""Canonical JSON and SHA-256 digests: the one way Secretome turns a record into bytes it can hash or sign."""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import math
import uuid
from collections.abc import Mapping, Sequence
from typing import Any


def _normalise(value: Any) -> Any:
    """Turn a value into plain JSON types, deterministically."""
    if value is None or isinstance(value, bool | str | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"canonical JSON cannot hold the non-finite number {value!r}")
        # repr() is the shortest string that round-trips, so the same float always hashes the same.
        return value
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: Secretome stores UTC times only")
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _normalise(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        return [_normalise(v) for v in value]
    if hasattr(value, "item"):  # numpy scalars
        return _normalise(value.item())
    raise TypeError(f"cannot put {type(value).__name__} into canonical JSON")


def canonical_json(value: Any) -> str:
    """Serialise ``value`` as canonical JSON: sorted keys, no spaces, UTF-8, UTC ``Z`` times."""
    return json.dumps(_normalise(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_hex(text: str | bytes) -> str:
    """SHA-256 of ``text`` (UTF-8 when a string) as lowercase hex."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()


def digest(value: Any) -> str:
    """SHA-256 of the canonical JSON of ``value``."""
    return sha256_hex(canonical_json(value))
