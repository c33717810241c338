"""``secretome coa``: build and verify certificates of analysis."""

from __future__ import annotations

from pathlib import Path

import typer

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

app = typer.Typer(
    help="Certificates of analysis: build (PDF/A-3b with embedded JSON) and verify.", no_args_is_help=True
)


@app.command("build")
def build(
    lot: str = typer.Argument(..., help="Lot number of a released lot."),
    out: Path | None = typer.Option(None, "--out", help="Also write the PDF here (file or directory)."),
    reason: str = typer.Option("certificate of analysis", "--reason", help="Why (audit trail)."),
    acting: str | None = typer.Option(None, "--as", help="The QA user issuing the certificate."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from stdin."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Issue a certificate of analysis for a released lot and write its PDF."""
    setup_django()
    from secretome.services import certificates

    user = acting_user(acting, password_stdin=password_stdin)
    with refusals():
        certificate = certificates.issue_certificate(user, reason, lot)
        pdf = certificates.certificate_pdf(certificate)
    payload = certificates.certificate_dict(certificate)
    path = certificates.certificates_directory() / certificate.file_name
    if out is not None:
        path = out / certificate.file_name if out.is_dir() else out
        try:
            path.write_bytes(pdf)
        except OSError as exc:
            fail(f"--out: cannot write {path}: {exc.strerror}")
    payload["path"] = str(path)
    emit(payload, as_json, lambda p: console.print(f"{p['certificate']} written to {p['path']}"))


@app.command("verify")
def verify(
    file: Path = typer.Argument(..., help="A certificate PDF."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Check a certificate PDF against the database: genuine (unchanged) and current. Exit 1 if not."""
    setup_django()
    from secretome.services import certificates

    try:
        pdf = file.read_bytes()
    except OSError as exc:
        fail(f"{file}: {exc.strerror or exc}")
    with refusals():
        verdict = certificates.verify_certificate(pdf)

    def render(p: dict[str, object]) -> None:
        if p["genuine"] and p["current"]:
            console.print(f"{p['certificate']} of lot {p['lot']}: genuine and current")
        else:
            if not p["genuine"]:
                word = "NOT genuine"
            elif p.get("standing") == "suspended":
                word = "genuine but suspended"
            else:
                word = "genuine but NOT current"
            console.print(f"{file.name}: {word}: " + "; ".join(p["reasons"]), highlight=False)  # type: ignore[arg-type]

    emit(verdict, as_json, render)
    if not (verdict["genuine"] and verdict["current"]):
        raise typer.Exit(EXIT_CHECK_FAILED)
