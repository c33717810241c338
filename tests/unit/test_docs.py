"""Every CLI command and every setting is documented (as datasette's tests/test_docs.py does)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main

from secretome.cli import app
from secretome.config import SETTINGS

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _commands(group: Any, prefix: str = "secretome") -> Iterator[tuple[str, Any]]:
    # Duck-typed: Typer's groups need not be click.Group subclasses.
    for name, command in group.commands.items():
        path = f"{prefix} {name}"
        yield path, command
        if getattr(command, "commands", None):
            yield from _commands(command, path)


COMMANDS = sorted(_commands(typer.main.get_command(app)), key=lambda c: c[0])


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS])
def test_every_cli_command_is_documented(path: str) -> None:
    assert f"`{path}" in (DOCS / "cli.md").read_text(), f"{path} is missing from docs/cli.md"


@pytest.mark.parametrize("path,command", COMMANDS)
def test_every_cli_command_has_help(path: str, command: Any) -> None:
    assert (command.help or "").strip(), f"{path} has no help text"


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_every_setting_is_documented(name: str) -> None:
    assert f"`{name}`" in (DOCS / "settings.md").read_text(), f"{name} is missing from docs/settings.md"
