"""``secretome user``: accounts and roles."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from secretome.cli.common import (
    JSON_OPTION,
    acting_user,
    console,
    emit,
    read_password,
    refusals,
    setup_django,
)

app = typer.Typer(help="Manage user accounts: one person, one account, one role.", no_args_is_help=True)


@app.command("add")
def add(
    username: str = typer.Argument(..., help="Login name; never reused."),
    role: str = typer.Option(..., "--role", help="analyst, reviewer, qa or admin."),
    full_name: str = typer.Option(..., "--full-name", help="Printed name shown on signatures."),
    reason: str = typer.Option("new account", "--reason", help="Why the account is created (audit trail)."),
    acting: str | None = typer.Option(
        None, "--as", help="Admin creating the account (not needed for the first)."
    ),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the new password from stdin."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Add a user with one role. The first admin can be created without --as."""
    setup_django()
    from secretome.services import users
    from secretome.services.audit import SYSTEM_ACTOR

    actor: Any = SYSTEM_ACTOR
    with refusals():
        if acting is not None or users.admins_exist():
            actor = acting_user(acting, password_stdin=password_stdin)
        password = read_password(f"password for {username}", password_stdin, confirm=not password_stdin)
        users.add_user(actor, reason, username=username, full_name=full_name, role=role, password=password)
    emit(
        {"username": username, "role": role, "full_name": full_name},
        as_json,
        lambda p: console.print(f"added {p['username']} ({p['role']})"),
    )


@app.command("list")
def list_users(as_json: bool = JSON_OPTION) -> None:
    """List accounts with their roles and whether they are active."""
    setup_django()
    from secretome.services import users

    rows = [
        {
            "username": u.get_username(),
            "full_name": users.full_name(u),
            "roles": sorted(r.value for r in users.roles_of(u)) if u.is_active else [],
            "active": u.is_active,
        }
        for u in users.all_users()
    ]

    def render(payload: list[dict[str, Any]]) -> None:
        table = Table("username", "full name", "roles", "active")
        for row in payload:
            table.add_row(
                row["username"], row["full_name"], ", ".join(row["roles"]), "yes" if row["active"] else "no"
            )
        console.print(table)

    emit(rows, as_json, render)


@app.command("deactivate")
def deactivate(
    username: str,
    reason: str = typer.Option(..., "--reason", help="Why the account is deactivated."),
    acting: str | None = typer.Option(None, "--as", help="Admin deactivating the account."),
) -> None:
    """Deactivate an account (accounts are never deleted)."""
    setup_django()
    from secretome.services import users

    with refusals():
        users.deactivate_user(acting_user(acting), reason, username)
    console.print(f"deactivated {username}")


@app.command("token")
def token(
    name: str = typer.Option("script", "--name", help="A label for the token."),
    acting: str | None = typer.Option(None, "--as", help="The user the token acts as."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Create a personal API token (shown once; only its hash is stored)."""
    setup_django()
    from secretome.services import users

    with refusals():
        user = acting_user(acting)
        value = users.create_api_token(user, "API token created from the command line", name)
    emit({"token": value, "name": name}, as_json, lambda p: console.print(p["token"]))
