"""What the assay kinds share: settings checks that name the setting, lots from sample names, JSON values."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from secretome.methods.base import RunContext


def complete(
    settings: Mapping[str, Any], defaults: Mapping[str, Any], required: Sequence[str], kind: str
) -> dict[str, Any]:
    """Settings over defaults; unknown settings and missing required ones are refused by name."""
    unknown = sorted(set(settings) - set(defaults) - set(required))
    if unknown:
        raise ValueError(f"{unknown[0]}: not a setting of the {kind} kind")
    checked = {**defaults, **settings}
    for name in required:
        value = checked.get(name)
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{name}: required (the specification attribute code this method reports)")
    return checked


def choice(settings: Mapping[str, Any], name: str, choices: Sequence[str]) -> str:
    value = settings[name]
    if value not in choices:
        raise ValueError(f"{name}: {value!r} is not one of {', '.join(choices)}")
    return str(value)


def positive(settings: Mapping[str, Any], name: str, *, optional: bool = False) -> float | None:
    value = settings[name]
    if value is None and optional:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ValueError(f"{name}: must be a positive number, not {value!r}")
    return float(value)


def text(settings: Mapping[str, Any], name: str, *, optional: bool = False) -> str | None:
    value = settings[name]
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name}: must be a non-empty name")
    return value


def lot_for(sample: str, candidates: Sequence[str], context: RunContext) -> str | None:
    """The lot ``sample`` reports for; the run's default lot when it is the only candidate sample."""
    lot = context.lot_of(sample)
    if lot is None and context.default_lot is not None and list(candidates) == [sample]:
        return context.default_lot
    return lot


def json_ready(value: Any) -> Any:
    """Non-finite floats to None and numpy scalars to Python, recursively."""
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, Mapping):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    return value
