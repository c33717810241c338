"""``secretome lot status``, ``secretome lot sign`` and ``secretome lot step``: a lot's QC record and its
disposition. Registered on :data:`secretome.cli.lot.app` when imported."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from secretome.cli.common import JSON_OPTION, console, emit, fail, read_password, refusals, setup_django
from secretome.cli.lot import app


def _signer(username: str | None, password_stdin: bool) -> tuple[Any, str]:
    """The signing user and the password they typed now; the service checks it (and counts failures).

    A signature takes the password typed at the prompt or given on stdin, never one from the environment
    (21 CFR 11.200: the signer enters the password component at signing).
    """
    import getpass
    import os
    import sys

    from secretome.services.users import get_user

    name = username or os.environ.get("SECRETOME_USER")
    if not name:
        fail("--as: name the user who signs (or set SECRETOME_USER)")
    with refusals():
        user = get_user(name)
    if password_stdin:
        return user, read_password(f"password for {name}", True)
    if not sys.stdin.isatty():
        fail("signing asks for your password: run in a terminal or use --password-stdin")
    return user, getpass.getpass(f"password for {name} (signature): ")


def render_status(payload: dict[str, Any]) -> None:
    console.print(
        f"[bold]{payload['lot']}[/bold] ({payload['product']}, {payload['tissue_source']}): "
        f"[bold]{payload['state']}[/bold], specification {payload['specification'] or '-'}, "
        f"QC record v{payload['record_version']} {payload['record_sha256'][:16]}…"
    )
    table = Table("attribute", "criterion", "result", "verdict", "reason")
    for row in payload["attributes"]:
        table.add_row(row["name"], row["criterion"], row["reported"] or "—", row["verdict"], row["reason"])
    if payload["attributes"]:
        console.print(table)
    for row in payload["attributes"]:
        raw = (row["result"] or {}).get("instrument_import")
        if raw:
            console.print(
                f"raw data of {row['attribute']}: {raw['file_name']} "
                f"(import #{raw['import']}, SHA-256 {raw['sha256'][:16]}…)",
                highlight=False,
            )
    for investigation in payload["investigations"]:
        console.print(
            f"investigation {investigation['number']} ({investigation['attribute']}): {investigation['status']}"
            + (f", {investigation['outcome']}" if investigation["outcome"] else "")
        )
    for signature in payload["signatures"]:
        console.print(f"signature: {signature['manifestation']} [{signature['state']}]", highlight=False)
    for step in payload["next_steps"]:
        blocked = "; ".join(step["blocked_by"])
        console.print(f"next: {step['event']}" + (f" (blocked: {blocked})" if blocked else ""))


@app.command("status")
def status(lot: str = typer.Argument(..., help="Lot number."), as_json: bool = JSON_OPTION) -> None:
    """Show a lot's lifecycle state, every result with its verdict, investigations and signatures."""
    setup_django()
    from secretome.services import release

    with refusals():
        payload = release.lot_status(release.get_lot(lot))
    emit(payload, as_json, render_status)


@app.command("sign")
def sign(
    lot: str = typer.Argument(..., help="Lot number."),
    meaning: str = typer.Option(..., "--meaning", help="reviewed, released or rejected."),
    reason: str = typer.Option(..., "--reason", help="Why you sign (audit trail)."),
    acting: str | None = typer.Option(None, "--as", help="The user who signs; the password is asked again."),
    expect: str = typer.Option(
        ...,
        "--expect",
        help="The QC record SHA-256 you reviewed (from lot status); required, refused if the record changed.",
    ),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from stdin."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Sign a lot electronically (21 CFR Part 11): review, release or reject it."""
    setup_django()
    from secretome.services import release

    user, password = _signer(acting, password_stdin)
    with refusals():
        state = release.sign_lot(user, reason, lot, meaning, password, expected_sha256=expect)
    emit(
        {"lot": lot, "meaning": meaning, "state": state.value},
        as_json,
        lambda p: console.print(f"{p['lot']}: signed as {p['meaning']}; now {p['state']}"),
    )


@app.command("reopen")
def reopen(
    lot: str = typer.Argument(..., help="Lot number of a released, rejected or quarantined lot."),
    deviation: str = typer.Option(
        ..., "--deviation", help="The QA-approved deviation of this lot that reopens its record."
    ),
    reason: str = typer.Option(..., "--reason", help="Why the record is reopened (audit trail)."),
    acting: str | None = typer.Option(None, "--as", help="The QA user."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from stdin."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Reopen a disposed lot's record under an approved deviation: its signatures are voided, a new record
    version starts and the lot returns to QC testing."""
    setup_django()
    from secretome.cli.common import acting_user
    from secretome.services import release

    user = acting_user(acting, password_stdin=password_stdin)
    with refusals():
        state = release.reopen_lot(user, reason, lot, deviation)
        version = release.lot_status(release.get_lot(lot))["record_version"]
    emit(
        {"lot": lot, "deviation": deviation, "state": state.value, "record_version": version},
        as_json,
        lambda p: console.print(
            f"{p['lot']}: reopened under {p['deviation']}; signatures voided; "
            f"record version {p['record_version']}; now {p['state']}"
        ),
    )


@app.command("step")
def step(
    lot: str = typer.Argument(..., help="Lot number."),
    event: str = typer.Argument(
        ...,
        help="start testing, submit for review, return to testing, quarantine, resume disposition or "
        "restore release.",
    ),
    reason: str = typer.Option(..., "--reason", help="Why (audit trail)."),
    acting: str | None = typer.Option(None, "--as", help="The acting user."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from stdin."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Move a lot one unsigned step through its lifecycle."""
    setup_django()
    from secretome.cli.common import acting_user
    from secretome.services import release

    user = acting_user(acting, password_stdin=password_stdin)
    with refusals():
        state = release.transition(user, reason, lot, event)
    emit(
        {"lot": lot, "event": event, "state": state.value},
        as_json,
        lambda p: console.print(f"{p['lot']}: {p['event']}; now {p['state']}"),
    )
