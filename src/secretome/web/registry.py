"""Read models the pages share. Later contexts add their rows here (lots come from the genealogy)."""

from __future__ import annotations

from typing import Any


def lot_rows() -> list[dict[str, Any]]:
    """One row per conditioned-medium lot for the home page: number, tissue source, donor DIN, passage,
    status, flags (senescence, over-passage) and the lot page.

    The genealogy facts and the lifecycle states are read for all lots at once, so the page costs the same
    number of queries however many lots there are.
    """
    from django.urls import reverse

    from secretome.services import genealogy
    from secretome.services.release.states import states_of

    lots = genealogy.lots()
    states = states_of(lots)
    return [
        {
            "number": summary["number"],
            "tissue_source": summary["tissue_source"],
            "donor": summary["din"],
            "passage": f"P{summary['passage']}",
            "status": states[lot.number].value,
            "flags": summary["flags"],
            "url": reverse("genealogy_lot", args=[lot.number]),
        }
        for lot, summary in zip(lots, genealogy.lot_summaries(lots), strict=True)
    ]
