"""``secretome audit``: read and verify the audit trail."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from secretome.cli.common import EXIT_CHECK_FAILED, JSON_OPTION, console, emit, refusals, setup_django

app = typer.Typer(help="Read and verify the append-only audit trail.", no_args_is_help=True)


@app.command("verify")
def verify(as_json: bool = JSON_OPTION) -> None:
    """Recompute the keyed hash chain and check its end against the signed checkpoint.

    Exit 1 naming each finding (event_rewritten, truncated, restored_from_older_backup, ...).
    """
    setup_django()
    from secretome.services import audit

    with refusals():
        report = audit.verify()

    def render(payload: dict[str, Any]) -> None:
        checkpoint = payload["checkpoint"]
        anchor = "no checkpoint" if checkpoint is None else f"checkpoint at sequence {checkpoint['sequence']}"
        if payload["intact"]:
            console.print(f"audit chain intact: {payload['events_checked']} events ({anchor})")
            return
        brk = payload["first_break"]
        if brk is not None:
            console.print(
                f"audit chain BROKEN at event id {brk['event_id']} (sequence {brk['sequence']}): {brk['problem']}",
                markup=False,
            )
        for finding in payload["findings"]:
            if brk is None or finding["code"] != brk["code"]:
                console.print(f"audit trail {finding['code']}: {finding['message']}", markup=False)

    emit(report.to_dict(), as_json, render)
    if not report.intact:
        raise typer.Exit(EXIT_CHECK_FAILED)


@app.command("log")
def log(
    object_type: str | None = typer.Option(None, "--object-type", help="Only events on this kind of record."),
    object_id: str | None = typer.Option(None, "--object-id", help="Only events on this record."),
    actor: str | None = typer.Option(None, "--actor", help="Only events by this user."),
    limit: int | None = typer.Option(None, "--limit", min=1, help="Only the newest N events."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List audit events, oldest first."""
    setup_django()
    from secretome.services import audit

    rows = [e.to_dict() for e in audit.events(object_type, object_id, actor, limit)]

    def render(payload: list[dict[str, Any]]) -> None:
        table = Table("#", "time (UTC)", "actor", "action", "record", "reason")
        for r in payload:
            table.add_row(
                str(r["sequence"]),
                r["occurred_at"],
                r["actor"],
                r["action"],
                f"{r['object_type']}:{r['object_id']}",
                r["reason"],
            )
        console.print(table)

    emit(rows, as_json, render)
