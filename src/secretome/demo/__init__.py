"""The demo: a fresh data directory carried through the system, step by step, every write audited.

Each step is a function ``step(context) -> None`` in a module of this package; ``STEPS`` runs them in
order: foundation, genealogy, instrument imports, release, the production history and its trend, and last the audit-chain check.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console

from secretome.demo.context import DemoContext


def _steps() -> list[tuple[str, Callable[[DemoContext], None]]]:
    from secretome.demo import foundation, genealogy, history, imports, release

    return [
        ("users and roles", foundation.create_users),
        ("audited actions", foundation.audited_actions),
        ("donors, passages and lots", genealogy.build),
        ("instrument data imports", imports.import_files),
        ("specifications, QC, review, release, certificates", release.release_lots),
        ("production history and trend", history.build),
        # Last, so that the check covers every event the demo wrote.
        ("audit chain", foundation.verify_chain),
    ]


def run(home: Path, console: Console | None = None) -> dict[str, Any]:
    """Initialise ``home`` and run every demo step; return the summary."""
    context = DemoContext.initialise(home, console)
    steps = _steps()
    from rich.progress import Progress

    with Progress(console=context.console, transient=True, disable=console is None) as progress:
        task = progress.add_task("demo", total=len(steps))
        for title, step in steps:
            progress.update(task, description=title)
            step(context)
            progress.advance(task)
    context.print_summary()
    return context.summary
