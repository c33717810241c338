"""``secretome analyze proliferation``: dye-dilution generations and indices of one FCS file (or a CSV of
intensities). Nothing is written to the database.

Bad input (an unreadable FCS file, a channel the file lacks, a CSV cell that is not a number, a gating strategy
that does not parse) gives one line naming the file (and row and column) and exit code 2; a fit that did not
converge exits 1.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import typer
from rich.table import Table

from secretome.analysis.assays.proliferation import ProliferationModel, brightest_peak
from secretome.cli.analyze import app
from secretome.cli.analyze_curve import CurveInputError, _number, _records
from secretome.cli.common import EXIT_CHECK_FAILED, JSON_OPTION, console, emit, fail

#: Words in a channel's $PnS (or $PnN) that name a dye-dilution dye, for when --channel is not given.
DYE_WORDS = ("cfse", "celltrace", "ctv", "cfda", "cell trace")


def _fcs_intensities(
    path: Path, channel: str | None, gating: Path | None, population: str | None, compensation: str
) -> tuple[np.ndarray[Any, np.dtype[np.float64]], str, dict[str, Any]]:
    """The dye channel's values of the (gated) events of the file's first data set."""
    from secretome.analysis.flow.gating import Dimension
    from secretome.instruments.flow import read_fcs_data_sets
    from secretome.instruments.gating_ml import parse_gating_ml
    from secretome.instruments.model import ReaderError

    try:
        content = path.read_bytes()
    except OSError as exc:
        fail(f"{path}: cannot read the file ({exc.strerror or exc.__class__.__name__})")
    try:
        data_set = read_fcs_data_sets(content, str(path))[0]
    except ReaderError as exc:
        fail(str(exc))
    if channel is None:
        found = [
            name
            for name, label in zip(data_set.channels, data_set.labels, strict=True)
            if any(word in f"{name} {label}".lower() for word in DYE_WORDS)
        ]
        if len(found) != 1:
            fail(f"{path}: --channel: name the dye's detector (channels: {', '.join(data_set.channels)})")
        channel = found[0]
    elif channel not in data_set.channels:
        if channel not in data_set.labels:
            fail(
                f"{path}: --channel {channel!r} is neither a $PnN nor a $PnS of the file "
                f"(channels: {', '.join(data_set.channels)})"
            )
        channel = data_set.channels[data_set.labels.index(channel)]
    index = data_set.channels.index(channel)
    gated: dict[str, Any] = {"total": data_set.event_count, "population": None}
    if gating is None:
        # Only the dye's column is scaled: no float64 copy of the whole tube.
        column = np.array(data_set.events[:, index], dtype=np.float64)
        return data_set.scaling()[index].apply(column), channel, gated
    try:
        strategy = parse_gating_ml(gating.read_bytes())
    except OSError as exc:
        fail(f"{gating}: cannot read the file ({exc.strerror or exc.__class__.__name__})")
    except ValueError as exc:
        fail(f"{gating}: {exc}")
    populations = [node for node, _, _ in strategy.nodes()]
    population = population or populations[-1]
    if population not in populations:
        fail(
            f"{gating}: --population {population!r} is not a gate of the strategy ({', '.join(populations)})"
        )
    try:
        # The events as stored, as the t-cell-suppression-flow kind gates them: the dye's values in the
        # population are kept block by block while gating.
        result = data_set.gate(strategy, reads=[(population, Dimension(channel, compensation))])
    except (ValueError, KeyError) as exc:
        fail(f"{path}: {exc}")
    (values,) = result.values
    gated.update(
        population=population,
        count=result.count(population).count,
        warnings=list(dict.fromkeys((*result.warnings, *result.value_warnings))),
    )
    return values, channel, gated


def _csv_intensities(path: Path, column: str) -> np.ndarray[Any, np.dtype[np.float64]]:
    values = []
    try:
        for row, record in _records(path, (column,)):
            values.append(_number(path, row, column, record.get(column, "")))
    except CurveInputError as exc:
        fail(str(exc))
    return np.asarray(values, dtype=np.float64)


@app.command("proliferation")
def proliferation(
    source: Path = typer.Argument(..., help="An FCS file, or a CSV with one column of dye intensities."),
    channel: str = typer.Option(
        "", "--channel", help="The dye's detector ($PnN or $PnS), or the CSV column (default 'intensity')."
    ),
    undivided: float = typer.Option(
        0.0, "--undivided", help="Undivided peak intensity (default: the brightest peak of the file)."
    ),
    max_generations: int = typer.Option(8, "--max-generations", help="Highest generation modelled."),
    peak_tolerance: float = typer.Option(
        0.3, "--peak-tolerance", help="How far (log2) the fit may move the undivided peak; 0 fixes it."
    ),
    gating: Path | None = typer.Option(
        None, "--gating", help="Gating-ML 2.0 strategy selecting the responder cells (FCS only)."
    ),
    population: str = typer.Option("", "--population", help="Gate of the strategy (default: its last)."),
    compensation: str = typer.Option(
        "FCS", "--compensation", help="Compensation of the dye channel with --gating: FCS or uncompensated."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Fit generation peaks (spaced by halving) to SOURCE; print cells per generation and the indices."""
    is_csv = source.suffix.lower() in (".csv", ".txt")
    gated: dict[str, Any] = {}
    if is_csv:
        if gating is not None:
            fail(f"{source}: --gating applies to FCS files, not to a CSV of intensities")
        name = channel or "intensity"
        values = _csv_intensities(source, name.lower())
    else:
        values, name, gated = _fcs_intensities(
            source, channel or None, gating, population or None, compensation
        )
    if undivided < 0 or not math.isfinite(undivided):
        fail(f"--undivided: must be a positive intensity, got {undivided!r}")
    try:
        model = ProliferationModel(max_generations, peak_tolerance)
        position = undivided if undivided > 0 else brightest_peak(values)
        result = model.fit(values, position, name)
    except ValueError as exc:
        fail(f"{source}: {exc}")
    payload = {
        "file": str(source),
        "channel": name,
        "undivided_source": "--undivided" if undivided > 0 else "brightest peak",
        "gating": gated,
        **result.to_dict(),
    }

    def render(p: dict[str, Any]) -> None:
        table = Table(title=f"{p['file']}: {p['events']} events, {p['channel']}")
        for column in ("generation", "peak intensity", "cells", "original cells"):
            table.add_column(column, justify="right")
        for g, (cells, original) in enumerate(zip(p["cells"], p["original"], strict=True)):
            table.add_row(str(g), f"{p['peak_intensity'] / 2**g:.0f}", f"{cells:.1f}", f"{original:.1f}")
        console.print(table)
        for label, key in (
            ("% divided", "percent_divided"),
            ("division index", "division_index"),
            ("proliferation index", "proliferation_index"),
            ("expansion index", "expansion_index"),
            ("replication index", "replication_index"),
            ("peak CV (%)", "peak_cv_percent"),
        ):
            value = p[key]
            console.print(f"{label}: {'-' if value is None else f'{value:.3f}'}", markup=False)
        for flag in p["flags"]:
            console.print(f"flag: {flag}", markup=False)

    emit(payload, as_json, render)
    if not result.converged:
        raise typer.Exit(EXIT_CHECK_FAILED)
