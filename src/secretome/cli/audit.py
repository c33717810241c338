"""``secretome audit``: read and verify the audit trail."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from secretome.cli.common import (
    EXIT_CHECK_FAILED,
    JSON_OPTION,
    acting_user,
    console,
    emit,
    fail,
    refusals,
    setup_django,
)

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


def _query(
    since: str | None,
    until: str | None,
    action: str | None,
    actor: str | None,
    record: str | None,
    object_type: str | None,
    object_id: str | None,
) -> Any:
    from secretome.services import audit_review

    return audit_review.AuditQuery(
        since=audit_review.parse_moment(since, "--since"),
        until=audit_review.parse_moment(until, "--until", end=True),
        action=action or "",
        actor=actor or "",
        record=record or "",
        object_type=object_type or "",
        object_id=object_id or "",
    )


SINCE = typer.Option(None, "--since", help="From this UTC date (2026-03-01) or ISO time, inclusive.")
UNTIL = typer.Option(None, "--until", help="To this UTC date (the whole day) or ISO time, exclusive.")
ACTION = typer.Option(None, "--action", help="Only this action (create, sign, login failed, unlock, ...).")
ACTOR = typer.Option(None, "--actor", help="Only events by this user.")
RECORD = typer.Option(
    None, "--record", help="Records whose id contains this (or TYPE:ID), with their child records."
)
OBJECT_TYPE = typer.Option(None, "--object-type", help="Only events on this kind of record (exact).")
OBJECT_ID = typer.Option(None, "--object-id", help="Only events on this record id (exact).")


@app.command("log")
def log(
    since: str | None = SINCE,
    until: str | None = UNTIL,
    action: str | None = ACTION,
    actor: str | None = ACTOR,
    record: str | None = RECORD,
    object_type: str | None = OBJECT_TYPE,
    object_id: str | None = OBJECT_ID,
    limit: int | None = typer.Option(None, "--limit", min=1, help="Only the newest N events."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List audit events, oldest first, filtered; --json gives each event whole with its before/after diff."""
    setup_django()
    from secretome.services import audit_review

    with refusals():
        query = _query(since, until, action, actor, record, object_type, object_id)
    selected = audit_review.search(query)
    chosen = list(selected) if limit is None else list(selected.reverse()[:limit])[::-1]
    rows = [audit_review.event_dict(e) for e in chosen]

    def render(payload: list[dict[str, Any]]) -> None:
        table = Table("#", "time (UTC)", "actor", "action", "record", "reason", "changed")
        for r in payload:
            changed = [d["path"] or "(value)" for d in r["diff"] if d["change"] != "same"]
            table.add_row(
                str(r["sequence"]),
                r["occurred_at"],
                r["actor"],
                r["action"],
                f"{r['object_type']}:{r['object_id']}",
                r["reason"],
                ", ".join(changed),
            )
        console.print(table)

    emit(rows, as_json, render)


@app.command("export")
def export(
    output: Path = typer.Argument(..., help="File to write: .csv or .pdf (the format follows the suffix)."),
    since: str | None = SINCE,
    until: str | None = UNTIL,
    action: str | None = ACTION,
    actor: str | None = ACTOR,
    record: str | None = RECORD,
    object_type: str | None = OBJECT_TYPE,
    object_id: str | None = OBJECT_ID,
    acting: str | None = typer.Option(None, "--as", help="The reviewer exporting (named in the PDF)."),
) -> None:
    """Export the filtered trail as CSV (any number of events) or PDF (with the chain verdict and diffs)."""
    setup_django()
    from django.utils import timezone

    from secretome.services import audit_review

    suffix = output.suffix.lower()
    if suffix not in (".csv", ".pdf"):
        fail(f"{output}: the file name must end in .csv or .pdf")
    with refusals():
        query = _query(since, until, action, actor, record, object_type, object_id)
        if suffix == ".csv":
            with output.open("w", encoding="utf-8", newline="") as handle:
                handle.writelines(audit_review.csv_lines(query))
        else:
            reviewer = acting_user(acting)
            output.write_bytes(
                audit_review.render_pdf(query, exported_by=reviewer.get_username(), now=timezone.now())
            )
    console.print(f"wrote {output}", markup=False)
