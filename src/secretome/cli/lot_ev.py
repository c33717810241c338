"""``secretome lot misev``: a lot's MISEV2023 reporting checklist. Registered on :data:`secretome.cli.lot.app`
when imported."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from secretome.cli.common import JSON_OPTION, console, emit, refusals, setup_django
from secretome.cli.lot import app


def render_misev(payload: dict[str, Any]) -> None:
    console.print(
        f"[bold]{payload['lot']}[/bold] MISEV2023 checklist: {payload['completeness']:.0f} % complete, "
        f"{payload['answered']} of {payload['required']} required items answered",
        highlight=False,
    )
    if not payload["has_ev_data"]:
        console.print("the lot has no EV data (no accepted NTA run, no ev-* result)")
    table = Table("item", "answer", "source")
    for item in payload["items"]:
        if item["answered"]:
            source = ", ".join(s["label"] for s in item["sources"])
            table.add_row(item["code"], item["answer"], source)
        else:
            note = "missing" if item["required"] else "missing (recommended)"
            table.add_row(item["code"], note + (f": {item['note']}" if item["note"] else ""), "")
    console.print(table)


@app.command("misev")
def misev(lot: str = typer.Argument(..., help="Lot number."), as_json: bool = JSON_OPTION) -> None:
    """Show a lot's MISEV2023 checklist: completeness, each answer with its record, and what is missing."""
    setup_django()
    from secretome.services.ev import lot_misev_report

    with refusals():
        payload = lot_misev_report(lot).to_dict()
    emit(payload, as_json, render_misev)
