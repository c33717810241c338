"""The difference between an audit event's before and after values, field by field, with nothing left out.

Nested objects and lists are walked down to their leaves, each named by its path (``attributes[2].lower``), so a
reviewer sees every value that changed, appeared or went, next to every value that stayed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from secretome.domain.canonical import canonical_json


class Change(StrEnum):
    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"
    SAME = "same"


@dataclass(frozen=True)
class DiffRow:
    """One leaf: its path, its value before and after (canonical JSON text, or None when absent), the change."""

    path: str
    before: str | None
    after: str | None
    change: Change

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "before": self.before, "after": self.after, "change": self.change.value}


_ABSENT = object()


def _leaves(value: Any, path: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict) and value:
        for key in sorted(value, key=str):
            _leaves(value[key], f"{path}.{key}" if path else str(key), out)
    elif isinstance(value, list) and value:
        for index, item in enumerate(value):
            _leaves(item, f"{path}[{index}]", out)
    else:
        out[path] = value


def value_diff(before: Any, after: Any) -> list[DiffRow]:
    """Every leaf of ``before`` and ``after``, in path order, with how it changed.

    ``None`` on either side (an event that created or removed a record) makes every leaf of the other side
    added or removed. A value that is not an object (a number, a string) is one leaf with an empty path.
    """
    old: dict[str, Any] = {}
    new: dict[str, Any] = {}
    if before is not None:
        _leaves(before, "", old)
    if after is not None:
        _leaves(after, "", new)
    rows = []
    for path in sorted(old.keys() | new.keys()):
        was, now = old.get(path, _ABSENT), new.get(path, _ABSENT)
        if was is _ABSENT:
            change = Change.ADDED
        elif now is _ABSENT:
            change = Change.REMOVED
        elif canonical_json(was) == canonical_json(now):
            change = Change.SAME
        else:
            change = Change.CHANGED
        rows.append(
            DiffRow(
                path=path,
                before=None if was is _ABSENT else canonical_json(was),
                after=None if now is _ABSENT else canonical_json(now),
                change=change,
            )
        )
    return rows
