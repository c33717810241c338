"""``secretome spec`` (products and specifications) and ``secretome result`` (results and investigations)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from secretome.cli.common import (
    JSON_OPTION,
    BadInput,
    acting_user,
    console,
    emit,
    refusals,
    setup_django,
)

spec_app = typer.Typer(help="Products and their versioned, QA-approved specifications.", no_args_is_help=True)
result_app = typer.Typer(
    help="QC results of lots, and out-of-specification investigations.", no_args_is_help=True
)

REASON = typer.Option(..., "--reason", help="Why (audit trail).")
AS = typer.Option(None, "--as", help="The acting user.")
PASSWORD_STDIN = typer.Option(False, "--password-stdin", help="Read the password from stdin.")


@spec_app.command("product")
def product(
    code: str = typer.Argument(..., help="Product code, as lots name it (e.g. MSC-CM)."),
    name: str = typer.Option(..., "--name", help="Product name, with tissue source and presentation."),
    reason: str = REASON,
    acting: str | None = AS,
    password_stdin: bool = PASSWORD_STDIN,
    as_json: bool = JSON_OPTION,
) -> None:
    """Create a product (qa, admin)."""
    setup_django()
    from secretome.services import release
    from secretome.services.release.specifications import product_dict

    user = acting_user(acting, password_stdin=password_stdin)
    with refusals():
        created = release.create_product(user, reason, code=code, name=name)
    emit(product_dict(created), as_json, lambda p: console.print(f"product {p['code']} created"))


@spec_app.command("draft")
def draft(
    product_code: str = typer.Argument(..., help="Product code."),
    attributes: Path | None = typer.Option(
        None, "--attributes", help="JSON list of attributes; without it the latest version is copied."
    ),
    summary: str = typer.Option("", "--summary", help="What changes in this version."),
    reason: str = REASON,
    acting: str | None = AS,
    password_stdin: bool = PASSWORD_STDIN,
    as_json: bool = JSON_OPTION,
) -> None:
    """Start a new draft version of a product's specification (qa, admin)."""
    setup_django()
    from secretome.domain.specification import AttributeSpec
    from secretome.services import release

    user = acting_user(acting, password_stdin=password_stdin)
    with refusals():
        parsed = None
        if attributes is not None:
            try:
                parsed = [
                    AttributeSpec.from_dict(a) for a in json.loads(attributes.read_text(encoding="utf-8"))
                ]
            except (OSError, KeyError, TypeError, json.JSONDecodeError) as exc:
                raise BadInput(f"--attributes: {attributes}: {exc}") from None
        spec = release.draft_specification(user, reason, product_code, parsed, change_summary=summary)
        payload = release.specification_dict(spec)
    emit(payload, as_json, lambda p: console.print(f"{p['product']} v{p['version']} drafted ({p['status']})"))


@spec_app.command("approve")
def approve(
    product_code: str = typer.Argument(..., help="Product code."),
    version: int = typer.Argument(..., help="Draft version to approve."),
    reason: str = REASON,
    acting: str | None = AS,
    expect: str = typer.Option(
        ...,
        "--expect",
        help="The record SHA-256 of the draft you reviewed (spec show --version N); required.",
    ),
    password_stdin: bool = PASSWORD_STDIN,
    as_json: bool = JSON_OPTION,
) -> None:
    """Approve a draft specification with your electronic signature (qa)."""
    setup_django()
    from secretome.cli.lot_release import _signer
    from secretome.services import release

    user, password = _signer(acting, password_stdin)
    with refusals():
        spec = release.approve_specification(
            user, reason, product_code, version, password, expected_sha256=expect
        )
        payload = release.specification_dict(spec)
    emit(payload, as_json, lambda p: console.print(f"{p['product']} v{p['version']} approved"))


@spec_app.command("show")
def show(
    product_code: str = typer.Argument(..., help="Product code."),
    version: int | None = typer.Option(None, "--version", help="Version (default: the approved one)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Show a specification version with every attribute, criterion and signature."""
    setup_django()
    from secretome.services import release

    with refusals():
        payload = release.specification_dict(release.get_specification(product_code, version))

    def render(p: dict[str, Any]) -> None:
        console.print(f"[bold]{p['product']} v{p['version']}[/bold] ({p['status']}) {p['product_name']}")
        console.print(f"record SHA-256 {p['record_sha256']}", highlight=False)
        table = Table("code", "attribute", "method", "criterion", "release")
        for a in p["attributes"]:
            table.add_row(
                a["code"],
                a["name"],
                a["method"],
                p["criteria"][a["code"]],
                "yes" if a["release_test"] else "no",
            )
        console.print(table)
        for s in p["signatures"]:
            console.print(f"signature: {s['manifestation']} [{s['state']}]", highlight=False)

    emit(payload, as_json, render)


@spec_app.command("list")
def list_specs(as_json: bool = JSON_OPTION) -> None:
    """List every product's specification versions."""
    setup_django()
    from secretome.services.release.specifications import specifications

    rows = [
        {"product": s.product.code, "version": s.version, "status": s.status, "approved_at": s.approved_at}
        for s in specifications()
    ]

    def render(payload: list[dict[str, Any]]) -> None:
        table = Table("product", "version", "status", "approved at (UTC)")
        for r in payload:
            table.add_row(r["product"], str(r["version"]), r["status"], str(r["approved_at"] or "—"))
        console.print(table)

    emit(rows, as_json, render)


@result_app.command("add")
def add(
    lot: str = typer.Argument(..., help="Lot number."),
    attribute: str = typer.Argument(..., help="Attribute code of the lot's specification (e.g. ph)."),
    value: str = typer.Argument(
        ..., help="7.32, '< 0.50' (below LLOQ), '> 200', or a finding ('no growth')."
    ),
    method: str | None = typer.Option(
        None, "--method", help="Method, when it differs from the specification's."
    ),
    raw_file: str = typer.Option("", "--raw-file", help="Raw file reference (text) when it is no import."),
    instrument_import: str | None = typer.Option(
        None, "--import", help="Instrument import the value comes from: import id or raw file SHA-256."
    ),
    retest_of: int | None = typer.Option(
        None, "--retest-of", help="Result id this retest repeats (invalidated)."
    ),
    reason: str = REASON,
    acting: str | None = AS,
    password_stdin: bool = PASSWORD_STDIN,
    as_json: bool = JSON_OPTION,
) -> None:
    """Record a result; an out-of-specification release result opens an investigation."""
    setup_django()
    from secretome.services import release

    user = acting_user(acting, password_stdin=password_stdin)
    with refusals():
        result = release.add_result(
            user,
            reason,
            lot,
            attribute,
            value,
            method=method,
            raw_file=raw_file,
            instrument_import=instrument_import,
            retest_of=retest_of,
        )
        row = next(
            r for r in release.lot_status(release.get_lot(lot))["attributes"] if r["attribute"] == attribute
        )
    payload = {
        "id": result.pk,
        "lot": lot,
        "attribute": attribute,
        "verdict": row["verdict"],
        "reason": row["reason"],
        "instrument_import": result.raw_data(),
    }
    emit(
        payload,
        as_json,
        lambda p: console.print(f"result #{p['id']} {p['attribute']}: {p['verdict']} ({p['reason']})"),
    )


@result_app.command("close-investigation")
def close_investigation(
    number: str = typer.Argument(..., help="Investigation number (INV-...)."),
    outcome: str = typer.Option(
        ..., "--outcome", help="'assignable cause' (result invalidated) or 'OOS confirmed'."
    ),
    conclusion: str = typer.Option(..., "--conclusion", help="The written conclusion you sign."),
    reason: str = REASON,
    acting: str | None = AS,
    password_stdin: bool = PASSWORD_STDIN,
    as_json: bool = JSON_OPTION,
) -> None:
    """Close a phase I OOS investigation with a signed conclusion (reviewer, qa)."""
    setup_django()
    from secretome.cli.lot_release import _signer
    from secretome.services import release
    from secretome.services.release.lots import investigation_dict

    user, password = _signer(acting, password_stdin)
    with refusals():
        closed = release.close_investigation(
            user, reason, number, outcome=outcome, conclusion=conclusion, password=password
        )
    emit(
        investigation_dict(closed), as_json, lambda p: console.print(f"{p['number']} closed: {p['outcome']}")
    )


__all__ = ["result_app", "spec_app"]
