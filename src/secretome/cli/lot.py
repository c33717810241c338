"""``secretome lot``: conditioned-medium lots, their genealogy and their release.

Genealogy commands live in ``lot_genealogy``, release commands in ``lot_release``; they register
themselves on :data:`app`.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Conditioned-medium lots: genealogy, status, review and release.", no_args_is_help=True
)
