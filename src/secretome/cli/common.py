"""What every command shares: Django set-up, acting-user authentication, output and exit codes.

Exit codes: 0 success, 1 a check failed, 2 bad input (one line on stderr, never a traceback).
"""

from __future__ import annotations

import getpass
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console

from secretome.config import NotInitialisedError

console = Console()
err_console = Console(stderr=True)

T = TypeVar("T")

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_BAD_INPUT = 2

JSON_OPTION = typer.Option(False, "--json", help="Print machine-readable JSON instead of a table.")


class BadInput(Exception):
    """Input the command cannot use; the message is shown as one line and the exit code is 2."""


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    """Print one line on stderr and exit with ``code``."""
    err_console.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def setup_django() -> None:
    """Load the Django settings and apps once; exits 2 when the data directory is not initialised."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "secretome.web.settings")
    import django
    from django.apps import apps

    if apps.ready:
        return
    try:
        django.setup()
    except NotInitialisedError as exc:
        fail(str(exc))


@contextmanager
def refusals() -> Iterator[None]:
    """Turn a refused use case or bad input into one line and exit code 2."""
    from secretome.services.errors import ServiceError

    try:
        yield
    except (ServiceError, BadInput, ValueError) as exc:
        fail(str(exc))


def read_password(prompt: str, from_stdin: bool, confirm: bool = False) -> str:
    """A password from standard input (one line) or an interactive prompt."""
    if from_stdin:
        line = sys.stdin.readline().rstrip("\n")
        if not line:
            fail("--password-stdin: standard input held no password")
        return line
    env = os.environ.get("SECRETOME_PASSWORD")
    if env and not confirm:
        return env
    if not sys.stdin.isatty():
        fail("no terminal to prompt for a password; use --password-stdin")
    first = getpass.getpass(f"{prompt}: ")
    if confirm and getpass.getpass(f"{prompt} (again): ") != first:
        fail("the two passwords differ")
    return first


def acting_user(username: str | None, *, password_stdin: bool = False, allow_expired: bool = False) -> Any:
    """Authenticate the user a command acts as (``--as``): the password comes from a prompt,
    ``--password-stdin`` or ``SECRETOME_PASSWORD``. Failed attempts count towards the account lockout and are
    audited; an expired password is refused unless ``allow_expired`` (for setting a new one)."""
    from django.contrib.auth import authenticate

    from secretome.services.accounts import COMMAND_LINE, local_request, password_expired

    name = username or os.environ.get("SECRETOME_USER")
    if not name:
        fail("--as: name the user this command acts as (or set SECRETOME_USER)")
    password = read_password(f"password for {name}", password_stdin)
    user = authenticate(local_request(COMMAND_LINE), username=name, password=password)
    if user is None:
        fail(f"--as: wrong username or password for {name!r}, or the account is locked")
    if not allow_expired and password_expired(user):
        fail(
            f"--as: the password of {name} has expired (21 CFR 11.300(b)); "
            f"set a new one with: secretome user password --as {name}"
        )
    return user


def emit(payload: Any, as_json: bool, render: Callable[[Any], None]) -> None:
    """Print ``payload`` as JSON, or through ``render`` for people."""
    if as_json:
        sys.stdout.write(json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n")
    else:
        render(payload)
