"""``secretome lot trace`` and ``secretome lot list``: a lot's genealogy and the lots of a donor or bank."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from secretome.cli.common import JSON_OPTION, console, emit, refusals, setup_django
from secretome.cli.lot import app


@app.command("trace")
def trace(
    lot: str = typer.Argument(..., help="Lot number, e.g. CM-WJ-2026-0001."), as_json: bool = JSON_OPTION
) -> None:
    """The whole chain of a lot: donor, bank and vial, passages, run, recipe, deviations."""
    setup_django()
    from secretome.services import genealogy as g

    with refusals():
        payload = g.trace(lot)

    def render(p: dict[str, Any]) -> None:
        donor, lot_values = p["donor"], p["lot"]
        console.print(
            f"[bold]{lot_values['number']}[/] {lot_values['product']} from donor {donor['din']} "
            f"({donor['tissue_source']}, {donor['eligibility']['status']})"
        )
        for vial in p["vials"]:
            console.print(
                f"  vial {vial['label']} (P{vial['passage_number']}, CPD {vial['cpd_at_freezing']:.2f})"
            )
        table = Table("passage", "seeded", "PD", "CPD", "PDT (h)", "flags")
        for row in p["passages"]:
            table.add_row(
                f"P{row['number']}",
                row["seeded_at"][:10],
                "n.d." if row["population_doublings"] is None else f"{row['population_doublings']:.2f}",
                f"{row['cumulative_pd']:.2f}" + ("" if row["cpd_complete"] else "*"),
                "" if row["doubling_time_hours"] is None else f"{row['doubling_time_hours']:.1f}",
                ", ".join(f["rule"] for f in row["senescence_flags"]),
            )
        console.print(table)
        run = p["conditioning_run"]
        console.print(f"  run #{run['id']} recipe {run['recipe']['code']} v{run['recipe']['version']}")
        for deviation in p["deviations"]:
            console.print(
                f"  deviation {deviation['number']} ({deviation['kind']}): {deviation['decision'] or 'open'}"
            )
        if not p["growth"]["cpd_complete"]:
            console.print("  * CPD is a lower bound: the P0 contribution was not determined")

    emit(payload, as_json, render)


@app.command("list")
def list_lots(
    din: str | None = typer.Option(None, "--donor", help="Only lots made from this donor (DIN)."),
    bank: str | None = typer.Option(None, "--bank", help="Only lots made from vials of this cell bank."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List lots, or the lots made from a donor or a bank."""
    setup_django()
    from secretome.services import genealogy as g

    with refusals():
        rows = g.lot_summaries(g.lots(din=din, bank=bank))

    def render(payload: list[dict[str, Any]]) -> None:
        table = Table("lot", "source", "donor", "passage", "flags")
        for row in payload:
            table.add_row(
                row["number"], row["tissue_source"], row["din"], f"P{row['passage']}", ", ".join(row["flags"])
            )
        console.print(table)

    emit(rows, as_json, render)
