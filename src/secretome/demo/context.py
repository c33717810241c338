"""What the demo steps share: the data directory, the demo users and the summary being built."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

#: The password of every demo account. Demo data only: never use it on a real site.
DEMO_PASSWORD = "demo-Secretome-2026"

#: One demo user per role: username -> (role, printed name).
DEMO_USERS = {
    "ana": ("analyst", "Ana Analyst (demo)"),
    "rey": ("reviewer", "Rey Reviewer (demo)"),
    "quinn": ("qa", "Quinn QA (demo)"),
    "adam": ("admin", "Adam Admin (demo)"),
}


@dataclass
class DemoContext:
    """State shared by the demo steps."""

    home: Path
    console: Console
    quiet: bool
    users: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    lines: list[Any] = field(default_factory=list)
    #: Printed after every line: the demo ends with the lot disposition table.
    closing: Any = None

    @classmethod
    def initialise(cls, home: Path, console: Console | None) -> DemoContext:
        from secretome.config import ensure_secret_key

        ensure_secret_key(home)
        os.environ["SECRETOME_HOME"] = str(home)
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "secretome.web.settings")
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", interactive=False, verbosity=0)
        from secretome.services.audit import SYSTEM_ACTOR
        from secretome.services.users import ensure_roles

        ensure_roles(SYSTEM_ACTOR, "demo: initialise role groups")
        return cls(home=home, console=console or Console(quiet=True), quiet=console is None)

    def say(self, line: Any) -> None:
        """Add a line (text or a rich renderable) to the printed summary."""
        self.lines.append(line)

    def close_with(self, renderable: Any) -> None:
        """Print ``renderable`` last, after every line of the summary."""
        self.closing = renderable

    def print_summary(self) -> None:
        self.console.rule("Secretome demo")
        for line in self.lines:
            self.console.print(line, highlight=False)
        if self.closing is not None:
            self.console.print(self.closing)
