"""Read models the pages share. Later contexts add their rows here (lots come from the genealogy)."""

from __future__ import annotations

from typing import Any


def lot_rows() -> list[dict[str, Any]]:
    """One row per conditioned-medium lot for the home page: number, tissue source, donor DIN, passage,
    status, flags (senescence, over-passage) and the lot page."""
    from django.urls import reverse

    from secretome.services import genealogy
    from secretome.services.release import state_of

    rows = []
    for lot in genealogy.lots():
        summary = genealogy.lot_summary(lot)
        rows.append(
            {
                "number": summary["number"],
                "tissue_source": summary["tissue_source"],
                "donor": summary["din"],
                "passage": f"P{summary['passage']}",
                "status": state_of(lot).value,
                "flags": summary["flags"],
                "url": reverse("genealogy_lot", args=[lot.number]),
            }
        )
    return rows
