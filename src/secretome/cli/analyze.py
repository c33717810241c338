"""``secretome analyze``: curve fits, relative potency and combination of assays, straight from CSV files.

The commands live in ``analyze_curve`` (dose-response) and ``analyze_potency`` (relative potency); they
register themselves on :data:`app`.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Analyse assay data from CSV files: standard curves, relative potency.", no_args_is_help=True
)
