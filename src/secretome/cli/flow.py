"""``secretome flow``: gate an FCS file with a Gating-ML 2.0 strategy; compute an ISCT identity panel.

Both read files only (no data directory, nothing stored). Bad input (XML that is not Gating-ML, a gate
naming a channel the file lacks, a compensation the strategy does not define, an unreadable FCS file) gives
one line naming the file and exit code 2; ``flow identity`` exits 1 when the panel does not comply.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from secretome.cli.common import EXIT_CHECK_FAILED, JSON_OPTION, console, emit, fail

app = typer.Typer(help="Flow cytometry: gating strategies and the ISCT identity panel.", no_args_is_help=True)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        fail(f"{path}: cannot read the file ({exc.strerror or exc.__class__.__name__})")


def _strategy(path: Path, sample: str | None = None) -> Any:
    """A Gating-ML 2.0 strategy, or the gating tree of one sample of a FlowJo 10 workspace (.wsp)."""
    from secretome.instruments.flowjo_wsp import parse_flowjo_workspace
    from secretome.instruments.gating_ml import parse_gating_ml

    content = _read(path)
    try:
        if path.suffix.lower() == ".wsp" or b"<Workspace" in content[:4096]:
            return parse_flowjo_workspace(content, sample)
        return parse_gating_ml(content)
    except ValueError as exc:
        fail(f"{path}: {exc}")


def _percent(value: float | None) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.2f}"


@app.command("gate")
def gate(
    fcs_file: Path = typer.Argument(..., help="The FCS (or LMD) file."),
    gating: Path = typer.Option(
        ..., "--gating", help="Gating-ML 2.0 strategy (XML), or a FlowJo 10 workspace (.wsp)."
    ),
    sample: str = typer.Option(
        "", "--sample", help="Workspace sample whose gating tree to use (default: first)."
    ),
    data_set: int = typer.Option(1, "--data-set", min=1, help="Which data set of a multi-data-set file."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Gate FCS_FILE with the strategy: count, % of parent and % of total of every population."""
    from secretome.instruments.flow import read_fcs_data_sets
    from secretome.instruments.model import ReaderError

    strategy = _strategy(gating, sample or None)
    try:
        data_sets = read_fcs_data_sets(_read(fcs_file), str(fcs_file))
    except ReaderError as exc:
        fail(str(exc))
    if data_set > len(data_sets):
        fail(f"{fcs_file}: --data-set {data_set}, but the file holds {len(data_sets)} data set(s)")
    chosen = data_sets[data_set - 1]
    try:
        # The events as stored with their scales: only the columns and events the gates read are scaled.
        result = chosen.gate(strategy)
    except ValueError as exc:
        fail(f"{fcs_file}: {exc}")
    payload = {
        "file": str(fcs_file),
        "gating": str(gating),
        "data_set": data_set,
        **result.to_dict(),
        "warnings": [*chosen.warnings, *result.warnings],
    }
    if len(data_sets) > 1:
        payload["warnings"].append(f"the file holds {len(data_sets)} data sets; gated data set {data_set}")

    def render(p: dict[str, Any]) -> None:
        table = Table(title=f"{p['file']}: {p['total']} events, compensation {p['compensation']}")
        for column in ("population", "parent", "count", "% of parent", "% of total"):
            table.add_column(column, justify="right" if column[0] in "c%" else "left")
        for row in p["gates"]:
            depth = row["path"].count("/") - 1
            table.add_row(
                "  " * depth + row["id"],
                row["parent"],
                str(row["count"]),
                _percent(row["percent_of_parent"]),
                _percent(row["percent_of_total"]),
            )
        console.print(table)
        for warning in p["warnings"]:
            console.print(f"warning: {warning}", markup=False)

    emit(payload, as_json, render)


@app.command("identity")
def identity(
    fcs_files: list[Path] = typer.Argument(..., help="The tubes: stained and control FCS files of one lot."),
    gating: Path = typer.Option(..., "--gating", help="Gating-ML 2.0 strategy (XML)."),
    panel: Path = typer.Option(
        ...,
        "--panel",
        help="JSON: {markers: {code: {channel, tube, control, marker}}, population?, criteria?, compensation?}.",
    ),
    percentile: float | None = typer.Option(None, "--percentile", help="Control percentile (default 99.5)."),
    lot: str = typer.Option("", "--lot", help="Lot the tubes report for (default: their $SRC)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """ISCT identity panel of FCS files: % positive per marker against its control tube, and the verdict."""
    from secretome.instruments.flow import read_fcs
    from secretome.instruments.model import ReaderError
    from secretome.methods import Decisions, MethodInput, RunContext, get_kind

    strategy_text = _read(gating).decode("utf-8", errors="replace")
    _strategy(gating)
    try:
        settings = json.loads(_read(panel))
    except json.JSONDecodeError as exc:
        fail(f"{panel}, line {exc.lineno}: not JSON ({exc.msg})")
    if not isinstance(settings, dict):
        fail(f"{panel}: expected a JSON object with 'markers'")
    settings["strategy"] = strategy_text
    if percentile is not None:
        settings["percentile"] = percentile
    kind = get_kind("flow-identity")
    try:
        settings = kind.check_settings(settings)
    except ValueError as exc:
        fail(f"{panel}: {exc}")
    inputs = []
    for number, path in enumerate(fcs_files, start=1):
        content = _read(path)
        try:
            reading = read_fcs(content, str(path))
        except ReaderError as exc:
            fail(str(exc))
        inputs.append(MethodInput(number, "", str(path), reading, content=content))
    # Without --lot each tube reports for its own $SRC (the specimen), so one call can hold several lots.
    samples = {m.sample for i in inputs for m in i.reading.measurements if m.sample}
    mapping = dict.fromkeys(samples, lot) if lot else {sample: sample for sample in samples}
    context = RunContext(sample_lots=mapping, default_lot=lot or None)
    try:
        outcome = kind.analyse(inputs, settings, Decisions(), context)
    except ValueError as exc:
        fail(str(exc))
    payload = {
        "lots": outcome.result["lots"],
        "flags": list(outcome.flags),
        "files": [str(p) for p in fcs_files],
    }
    complies = all(result["verdict"] == "complies" for result in payload["lots"].values())
    payload["verdict"] = "complies" if complies else "does not comply"

    def render(p: dict[str, Any]) -> None:
        for lot_number, result in p["lots"].items():
            table = Table(title=f"lot {lot_number}: {result['verdict']} (population {result['population']})")
            for column in (
                "marker",
                "channel",
                "% positive",
                "criterion",
                "threshold",
                "control %",
                "events",
                "verdict",
            ):
                table.add_column(column)
            for marker in result["markers"]:
                table.add_row(
                    marker["marker"],
                    marker["channel"],
                    _percent(marker["percent_positive"]),
                    marker["criterion"],
                    f"{marker['threshold']:.1f}" if marker["threshold"] is not None else "-",
                    _percent(marker["control_percent_positive"]),
                    str(marker["events"]),
                    marker["verdict"],
                )
            console.print(table)
        for flag in p["flags"]:
            console.print(f"flag: {flag}", markup=False)

    emit(payload, as_json, render)
    if not complies:
        raise typer.Exit(EXIT_CHECK_FAILED)
