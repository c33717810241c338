"""Read models the pages share. Later contexts add their rows here (lots come from the genealogy)."""

from __future__ import annotations

from typing import Any


def lot_rows() -> list[dict[str, Any]]:
    """One row per conditioned-medium lot for the home page; empty until lots exist."""
    return []
