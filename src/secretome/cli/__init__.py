"""The ``secretome`` command line: thin commands over the service layer.

Every command has ``--help``; every command that reports takes ``--json``. Exit codes: 0 success,
1 a failed check, 2 bad input with a one-line message.
"""

from __future__ import annotations

import os
import sys

import typer

from secretome import __version__
from secretome.cli import (
    analysis,
    analyze,
    analyze_assays,  # noqa: F401  (registers analyze ido, suppression, angiogenesis, wound, panel)
    analyze_curve,  # noqa: F401  (registers analyze curve)
    analyze_expression,  # noqa: F401  (registers analyze nta, analyze qpcr)
    analyze_potency,  # noqa: F401  (registers analyze potency, analyze combine)
    analyze_proliferation,  # noqa: F401  (registers analyze proliferation)
    audit,
    coa,
    culture,
    flow,
    instruments,
    lot,
    lot_ev,  # noqa: F401  (registers lot misev)
    lot_genealogy,  # noqa: F401  (registers lot trace, lot list)
    lot_release,  # noqa: F401  (registers lot status, sign, step)
    quality,
    site,
    trend,
    users,
)
from secretome.cli.common import JSON_OPTION, console, emit, fail, setup_django

app = typer.Typer(
    name="secretome",
    help="Secretome: MSC conditioned medium from donor to signed certificate.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(users.app, name="user")
app.add_typer(audit.app, name="audit")
app.add_typer(analyze.app, name="analyze")
app.add_typer(lot.app, name="lot")
app.add_typer(flow.app, name="flow")


@app.command("init")
def init(as_json: bool = JSON_OPTION) -> None:
    """Create the data directory ($SECRETOME_HOME), its secret key and the database schema."""
    from secretome.config import data_directory, ensure_secret_key

    home = data_directory()
    created_key = ensure_secret_key(home)
    setup_django()
    from django.core.management import call_command

    from secretome.services.audit import SYSTEM_ACTOR
    from secretome.services.users import ensure_roles

    call_command("migrate", interactive=False, verbosity=0)
    roles = ensure_roles(SYSTEM_ACTOR, "secretome init: role groups")
    from django.conf import settings

    payload = {
        "data_directory": str(home),
        "secret_key_created": created_key,
        "database": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1],
        "roles_created": roles,
    }
    emit(payload, as_json, lambda p: console.print(f"initialised {p['data_directory']} ({p['database']})"))


@app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
    workers: int = typer.Option(2, "--workers", min=1, help="gunicorn worker processes."),
) -> None:
    """Serve the web app with gunicorn (static files by whitenoise, from the package)."""
    setup_django()
    args = [
        sys.executable,
        "-m",
        "gunicorn",
        "secretome.web.wsgi:application",
        "--bind",
        f"{host}:{port}",
        "--workers",
        str(workers),
        "--access-logfile",
        "-",
    ]
    os.execv(sys.executable, args)


@app.command("demo")
def demo(as_json: bool = JSON_OPTION) -> None:
    """Build a fresh demo data directory and carry example lots through the system."""
    from secretome.config import data_directory

    home = data_directory()
    if home.exists() and any(home.iterdir()):
        fail(f"{home} is not empty; the demo builds a fresh data directory (make demo uses ./demo)")
    from secretome.demo import run

    summary = run(home, console=console if not as_json else None)
    if as_json:
        emit(summary, True, lambda p: None)


@app.command("version")
def version() -> None:
    """Print the version."""
    console.print(__version__)


site.register(app)

# The record-keeping groups come after the site commands in --help.
culture.register(app)
instruments.register(app)
analysis.register(app, lot.app)
app.add_typer(coa.app, name="coa")
app.add_typer(quality.spec_app, name="spec")
app.add_typer(quality.result_app, name="result")
app.add_typer(trend.app, name="trend")


def main() -> None:
    """Console-script entry point."""
    app()


__all__ = ["app", "main"]
