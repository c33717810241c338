"""``secretome user``: accounts and roles."""

from __future__ import annotations

import os
from typing import Any

import typer
from rich.table import Table

from secretome.cli.common import (
    JSON_OPTION,
    acting_user,
    console,
    emit,
    fail,
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
    from secretome.services import accounts, users

    locked = {lock.username for lock in accounts.active_lockouts()}
    rows = []
    for u in users.all_users():
        expires = accounts.password_expires_at(u)
        rows.append(
            {
                "username": u.get_username(),
                "full_name": users.full_name(u),
                "roles": sorted(r.value for r in users.roles_of(u)) if u.is_active else [],
                "active": u.is_active,
                "locked": u.get_username() in locked,
                "password_expired": accounts.password_expired(u),
                "password_expires_at": None
                if expires is None
                else expires.isoformat().replace("+00:00", "Z"),
            }
        )

    def render(payload: list[dict[str, Any]]) -> None:
        table = Table("username", "full name", "roles", "active", "locked", "password expires")
        for row in payload:
            expiry = "expired" if row["password_expired"] else (row["password_expires_at"] or "never")[:10]
            table.add_row(
                row["username"],
                row["full_name"],
                ", ".join(row["roles"]),
                "yes" if row["active"] else "no",
                "LOCKED" if row["locked"] else "",
                expiry,
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


@app.command("unlock")
def unlock(
    username: str,
    reason: str = typer.Option(..., "--reason", help="Why the lockout ends early (audit trail)."),
    acting: str | None = typer.Option(None, "--as", help="Admin ending the lockout."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the admin's password from stdin."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """End the lockout of an account after repeated failed passwords (every address), with a reason."""
    setup_django()
    from secretome.services import accounts

    with refusals():
        ended = accounts.unlock_user(acting_user(acting, password_stdin=password_stdin), reason, username)
    emit(
        {"username": username, "unlocked": [lock.to_dict() for lock in ended]},
        as_json,
        lambda p: console.print(
            f"unlocked {p['username']} (" + ", ".join(lock["address"] for lock in p["unlocked"]) + ")",
            markup=False,
        ),
    )


@app.command("password")
def password(
    username: str | None = typer.Argument(
        None, help="Whose password; another user's is reset by an admin to one they must change."
    ),
    acting: str | None = typer.Option(None, "--as", help="Who acts: the account holder, or an admin."),
    reason: str = typer.Option("password change", "--reason", help="Why (audit trail)."),
    password_stdin: bool = typer.Option(
        False,
        "--password-stdin",
        help="Read two lines from stdin: the current (or admin's) password, then the new one.",
    ),
) -> None:
    """Set a new password: your own (also once it has expired), or as an admin a temporary one for someone else."""
    setup_django()
    from secretome.services import accounts, users

    name = acting or os.environ.get("SECRETOME_USER")
    if not name:
        fail("--as: name the user this command acts as (or set SECRETOME_USER)")
    with refusals():
        if username is None or username == name:
            current = read_password(f"current password for {name}", password_stdin)
            new = read_password(f"new password for {name}", password_stdin, confirm=not password_stdin)
            expires = accounts.change_password(users.get_user(name), reason, current, new)
            console.print(
                f"password of {name} changed"
                + ("" if expires is None else f"; it expires {expires:%Y-%m-%d}")
            )
            return
        admin = acting_user(name, password_stdin=password_stdin)
        new = read_password(f"temporary password for {username}", password_stdin, confirm=not password_stdin)
        accounts.reset_password(admin, reason, username, new)
    console.print(f"password of {username} reset; {username} must set a new one at the next login")


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
