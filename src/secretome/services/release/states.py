"""Lifecycle states of many lots at once, for lot lists: one query however many lots."""

from __future__ import annotations

from collections.abc import Iterable

from secretome.db.genealogy.models import Lot
from secretome.db.quality.models import LotDisposition
from secretome.domain.lot_lifecycle import LotState


def states_of(lots: Iterable[Lot]) -> dict[str, LotState]:
    """Lot number -> lifecycle state, the answer :func:`secretome.services.release.state_of` gives for each:
    the state of the lot's disposition, or in production while testing has not started (no disposition)."""
    wanted = list(lots)
    recorded = dict(
        LotDisposition.objects.filter(lot__in=[lot.pk for lot in wanted]).values_list("lot_id", "state")
    )
    return {
        lot.number: LotState(recorded[lot.pk]) if lot.pk in recorded else LotState.IN_PRODUCTION
        for lot in wanted
    }
