"""``secretome analyze ido|suppression|angiogenesis|wound|panel``: potency assays and secretome panels from
CSV files. Nothing is written to the database.

Every command reads one or two CSV files, names the file, row and column of anything unusable (exit 2), and
prints a table or, with ``--json``, the computation's complete ``to_dict()``. Exit 1 when a check of the
assay fails (a standard curve that did not converge, a potency assay that is not valid).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from secretome.analysis.assays import (
    analyse_ido,
    analyse_suppression,
    analyse_tube_formation,
    analyse_wound_healing,
)
from secretome.analysis.assays.angiogenesis import BASELINES
from secretome.analysis.panels import BELOW_LLOQ_RULES, panel_heatmap
from secretome.cli.analyze import app
from secretome.cli.analyze_curve import CurveInputError, _number, _records
from secretome.cli.common import EXIT_CHECK_FAILED, JSON_OPTION, console, emit, fail


def _fmt(value: Any) -> str:
    return "-" if value is None else f"{value:.5g}"


def _table(title: str, columns: list[str], rows: list[list[str]]) -> None:
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    console.print(table)


def _ratio_text(ratio: dict[str, Any] | None) -> str:
    if ratio is None:
        return "-"
    bounds = (
        f" ({_fmt(ratio['low'])} to {_fmt(ratio['high'])})" if ratio["low"] is not None else " (unbounded)"
    )
    return _fmt(ratio["value"]) + bounds


# -- IDO ----------------------------------------------------------------------------------------------------
@app.command("ido")
def ido(
    standards: Path = typer.Argument(..., help="CSV with concentration,response (kynurenine in uM)."),
    samples: Path = typer.Argument(..., help="CSV with sample,response[,dilution]."),
    volume_ml: float = typer.Option(..., "--volume-ml", help="Supernatant volume of the culture (mL)."),
    cells: float = typer.Option(..., "--cells", help="Cells in the culture."),
    hours: float = typer.Option(..., "--hours", help="Hours of culture."),
    model: str = typer.Option("linear", "--model", help="Standard curve: linear, 4pl or 5pl."),
    below_lloq: str = typer.Option(
        "lloq", "--below-lloq", help=f"Below LLOQ: {', '.join(BELOW_LLOQ_RULES)}."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """IDO activity (nmol kynurenine per 10^6 cells per h) from a kynurenine standard curve."""
    if model not in ("linear", "4pl", "5pl"):
        fail(f"--model: {model!r} is not one of linear, 4pl, 5pl")
    if below_lloq not in BELOW_LLOQ_RULES:
        fail(f"--below-lloq: {below_lloq!r} is not one of {', '.join(BELOW_LLOQ_RULES)}")
    for option, value in (("--volume-ml", volume_ml), ("--cells", cells), ("--hours", hours)):
        if not (math.isfinite(value) and value > 0):
            fail(f"{option}: must be a positive number")
    try:
        concentration: list[float] = []
        response: list[float] = []
        for row, record in _records(standards, ("concentration", "response")):
            value = _number(standards, row, "concentration", record.get("concentration", ""))
            if value < 0:
                raise CurveInputError(
                    f"{standards}, row {row}, column 'concentration': negative concentration"
                )
            concentration.append(value)
            response.append(_number(standards, row, "response", record.get("response", "")))
        readings: dict[str, dict[float, list[float]]] = {}
        for row, record in _records(samples, ("sample", "response")):
            if not record.get("sample"):
                raise CurveInputError(f"{samples}, row {row}, column 'sample': missing sample name")
            dilution = (
                _number(samples, row, "dilution", record["dilution"]) if record.get("dilution") else 1.0
            )
            if dilution < 1:
                raise CurveInputError(f"{samples}, row {row}, column 'dilution': must be at least 1")
            readings.setdefault(record["sample"], {}).setdefault(dilution, []).append(
                _number(samples, row, "response", record.get("response", ""))
            )
        try:
            result = analyse_ido(
                concentration,
                response,
                {s: sorted(d.items()) for s, d in readings.items()},
                volume_ml=volume_ml,
                cells=cells,
                hours=hours,
                model=model,
                below_lloq=below_lloq,
            )
        except ValueError as exc:
            raise CurveInputError(f"{standards}: {exc}") from None
    except CurveInputError as exc:
        fail(str(exc))
    payload = {"file": str(standards), "samples_file": str(samples), **result.to_dict()}

    def render(p: dict[str, Any]) -> None:
        curve = p["curve"]
        console.print(
            f"kynurenine curve: {curve['model']}, LLOQ {_fmt(curve['lloq'])} uM, ULOQ {_fmt(curve['uloq'])} uM"
        )
        rows = []
        for name, sample in p["samples"].items():
            k, a = sample["kynurenine_um"], sample["activity"]
            q = "" if a["qualifier"] == "=" else a["qualifier"] + " "
            rows.append([name, q + _fmt(k["value"]), q + _fmt(a["value"]), ", ".join(a["flags"]) or "-"])
        _table("IDO activity", ["sample", "kynurenine (uM)", p["activity_unit"], "flags"], rows)

    emit(payload, as_json, render)
    if not result.curve.converged:
        raise typer.Exit(EXIT_CHECK_FAILED)


# -- T-cell suppression ---------------------------------------------------------------------------------------
@app.command("suppression")
def suppression(
    file: Path = typer.Argument(..., help="CSV with preparation,dose,readout (controls without a dose)."),
    reference: str | None = typer.Option(None, "--reference", help="Reference preparation, for RP."),
    report_dose: float | None = typer.Option(
        None, "--report-dose", help="Dose (% v/v) to report % inhibition at."
    ),
    stimulated: str = typer.Option("stimulated", "--stimulated", help="Name of the stimulated control."),
    unstimulated: str = typer.Option(
        "unstimulated", "--unstimulated", help="Name of the unstimulated control."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """T-cell suppression: % inhibition, IC50 per preparation and RP against a reference."""
    try:
        stim: list[float] = []
        unstim: list[float] = []
        preparations: dict[str, tuple[list[float], list[float]]] = {}
        for row, record in _records(file, ("preparation", "dose", "readout")):
            name = record.get("preparation", "")
            if not name:
                raise CurveInputError(f"{file}, row {row}, column 'preparation': missing name")
            readout = _number(file, row, "readout", record.get("readout", ""))
            if name == stimulated:
                stim.append(readout)
            elif name == unstimulated:
                unstim.append(readout)
            else:
                dose = _number(file, row, "dose", record.get("dose", ""))
                if dose <= 0:
                    raise CurveInputError(f"{file}, row {row}, column 'dose': must be positive")
                doses, values = preparations.setdefault(name, ([], []))
                doses.append(dose)
                values.append(readout)
        if not stim or not unstim:
            raise CurveInputError(
                f"{file}, column 'preparation': needs rows of {stimulated!r} and {unstimulated!r}"
            )
        try:
            result = analyse_suppression(
                stim, unstim, preparations, reference=reference, report_dose=report_dose
            )
        except ValueError as exc:
            raise CurveInputError(f"{file}: {exc}") from None
    except CurveInputError as exc:
        fail(str(exc))
    payload = {"file": str(file), **result.to_dict()}

    def render(p: dict[str, Any]) -> None:
        console.print(f"stimulation index {_fmt(p['stimulation_index'])}")
        rows = []
        for name, prep in p["preparations"].items():
            rp = "-"
            if p["potency"] is not None and name != reference:
                estimate = next(e for e in p["potency"]["potencies"] if e["preparation"] == name)
                rp = _fmt(estimate["relative_potency"])
            rows.append(
                [name, _fmt(prep["ic50"]), _fmt(prep["inhibition_at"]), rp, ", ".join(prep["flags"]) or "-"]
            )
        _table(
            "T-cell suppression", ["preparation", "IC50 (% v/v)", "% inhibition at dose", "RP", "flags"], rows
        )

    emit(payload, as_json, render)
    if result.potency is not None and not result.potency.valid:
        raise typer.Exit(EXIT_CHECK_FAILED)


# -- angiogenesis ------------------------------------------------------------------------------------------------
def _tube_groups(file: Path, metric: str) -> dict[str, list[float]]:
    from secretome.instruments.detect import read
    from secretome.instruments.model import ReaderError

    try:
        content = file.read_bytes()
    except OSError as exc:
        raise CurveInputError(f"{file}: cannot read the file ({exc.__class__.__name__})") from None
    head = content[:2000].decode("utf-8", errors="replace").lower().replace(" ", "")
    if "nbjunctions" in head:
        try:
            reading = read(content, file.name, format="imagej-angiogenesis")
        except ReaderError as exc:
            raise CurveInputError(str(exc)) from None
        groups: dict[str, list[float]] = {}
        for m in reading.measurements:
            if m.quantity == metric and math.isfinite(m.value):
                groups.setdefault(m.sample, []).append(m.value)
        if not groups:
            raise CurveInputError(f"{file}: no {metric!r} values in the table")
        return groups
    groups = {}
    for row, record in _records(file, ("group", "value")):
        if not record.get("group"):
            raise CurveInputError(f"{file}, row {row}, column 'group': missing group name")
        groups.setdefault(record["group"], []).append(_number(file, row, "value", record.get("value", "")))
    return groups


@app.command("angiogenesis")
def angiogenesis(
    file: Path = typer.Argument(..., help="Angiogenesis Analyzer table, or CSV with group,value."),
    positive: str = typer.Option("VEGF", "--positive", help="Group of the positive (VEGF) control."),
    negative: str | None = typer.Option(None, "--negative", help="Group of the basal-medium control."),
    reference: str | None = typer.Option(None, "--reference", help="Reference lot's group, for RP."),
    baseline: str = typer.Option("none", "--baseline", help=f"Baseline: {', '.join(BASELINES)}."),
    metric: str = typer.Option("total tube length", "--metric", help="Analyzer metric (with a table)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Tube formation: % of the VEGF control, fold over basal and RP, with Fieller limits."""
    if baseline not in BASELINES:
        fail(f"--baseline: {baseline!r} is not one of {', '.join(BASELINES)}")
    try:
        groups = _tube_groups(file, metric)
        try:
            result = analyse_tube_formation(
                groups,
                positive=positive,
                negative=negative,
                reference=reference,
                baseline=baseline,
                metric=metric,
            )
        except ValueError as exc:
            option = str(exc).split(":", 1)[0]
            raise CurveInputError(f"{file}: --{option}{str(exc)[len(option) :]}") from None
    except CurveInputError as exc:
        fail(str(exc))
    payload = {"file": str(file), **result.to_dict()}

    def render(p: dict[str, Any]) -> None:
        rows = [
            [
                name,
                _fmt(g["mean"]),
                _fmt(g["cv"]),
                _ratio_text(g["percent_of_positive"]),
                _ratio_text(g["relative_potency"]),
            ]
            for name, g in p["groups"].items()
        ]
        _table(
            f"Tube formation: {p['metric']}", ["group", "mean", "CV %", f"% of {p['positive']}", "RP"], rows
        )

    emit(payload, as_json, render)


# -- wound healing ------------------------------------------------------------------------------------------------
@app.command("wound")
def wound(
    file: Path = typer.Argument(..., help="CSV with well,sample,time (h),area."),
    control: str = typer.Option("control", "--control", help="Sample name of the control medium."),
    at_hours: float = typer.Option(24.0, "--at-hours", help="Time of the reported closure (h)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Scratch wound healing: closure at a fixed time and closure rate, relative to control medium."""
    from secretome.instruments.assay_tables import hours_of
    from secretome.instruments.detect import read
    from secretome.instruments.model import ReaderError

    try:
        try:
            content = file.read_bytes()
            reading = read(content, file.name, format="scratch-area")
        except OSError as exc:
            raise CurveInputError(f"{file}: cannot read the file ({exc.__class__.__name__})") from None
        except ReaderError as exc:
            raise CurveInputError(str(exc)) from None
        series: dict[str, tuple[str, list[float], list[float]]] = {}
        for m in reading.measurements:
            _, times, areas = series.setdefault(m.well or m.sample, (m.sample, [], []))
            times.append(hours_of(m.analyte))
            areas.append(m.value)
        try:
            result = analyse_wound_healing(series, control=control, at_hours=at_hours)
        except ValueError as exc:
            option = str(exc).split(":", 1)[0].replace("_", "-")
            raise CurveInputError(f"{file}: --{option}{str(exc)[len(option) :]}") from None
    except CurveInputError as exc:
        fail(str(exc))
    payload = {"file": str(file), **result.to_dict()}

    def render(p: dict[str, Any]) -> None:
        rows = [
            [
                name,
                _fmt(g["mean_closure_at"]),
                _fmt(g["mean_rate"]),
                _ratio_text(g["relative_closure"]),
                _ratio_text(g["relative_rate"]),
            ]
            for name, g in p["groups"].items()
        ]
        _table(
            f"Wound closure at {p['at_hours']:g} h",
            [
                "sample",
                "closure %",
                "rate %/h",
                f"closure, % of {p['control']}",
                f"rate, % of {p['control']}",
            ],
            rows,
        )

    emit(payload, as_json, render)


# -- secretome panel heat-map -----------------------------------------------------------------------------------------
@app.command("panel")
def panel(
    file: Path = typer.Argument(..., help="CSV with lot,analyte,value[,qualifier]."),
    svg: Path | None = typer.Option(None, "--svg", help="Write the heat-map as SVG here."),
    unit: str = typer.Option("", "--unit", help="Unit of the values, for the colour bar."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Secretome panels of one or more lots as a log-scale heat-map with the analytes clustered."""
    try:
        panels: dict[str, dict[str, float | None]] = {}
        qualifiers: dict[str, dict[str, str]] = {}
        for row, record in _records(file, ("lot", "analyte", "value")):
            lot, analyte = record.get("lot", ""), record.get("analyte", "")
            if not lot or not analyte:
                raise CurveInputError(
                    f"{file}, row {row}, column '{'lot' if not lot else 'analyte'}': missing name"
                )
            value = _number(file, row, "value", record.get("value", ""))
            if value <= 0:
                raise CurveInputError(f"{file}, row {row}, column 'value': must be positive for a log scale")
            qualifier = record.get("qualifier") or "="
            if qualifier not in ("=", "<", ">"):
                raise CurveInputError(
                    f"{file}, row {row}, column 'qualifier': {qualifier!r} is not =, < or >"
                )
            panels.setdefault(lot, {})[analyte] = value
            qualifiers.setdefault(lot, {})[analyte] = qualifier
        heatmap = panel_heatmap(panels, qualifiers, unit=unit)
        if svg is not None:
            from secretome.methods.kinds._plots import svg as svg_text

            try:
                svg.write_text(svg_text(heatmap.plot()))
            except OSError as exc:
                raise CurveInputError(f"--svg: cannot write {svg} ({exc.__class__.__name__})") from None
    except CurveInputError as exc:
        fail(str(exc))
    payload = {"file": str(file), **heatmap.to_dict()}

    def render(p: dict[str, Any]) -> None:
        rows = []
        for i, lot in enumerate(p["lots"]):
            cells = []
            for j, _ in enumerate(p["analytes"]):
                value = p["log10"][i][j]
                mark = p["qualifiers"][i][j]
                cells.append(
                    "-" if value is None else ("" if mark == "=" else mark + " ") + f"{10**value:.4g}"
                )
            rows.append([lot, *cells])
        _table("Secretome panel (analytes in cluster order)", ["lot", *p["analytes"]], rows)

    emit(payload, as_json, render)
