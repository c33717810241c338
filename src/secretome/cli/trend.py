"""``secretome trend``: control charts, capability, tolerance factors and comparability, on CSV files (so the
numbers can be checked outside the database) and on the lots in the database.

Files: ``chart`` and ``capability`` read ``lot_index,lot_id,value`` (lot_index 1, 2, ... in order);
``compare`` reads ``lot_id`` then one column per analyte, values used as given. Bad input exits 2 with one
line naming the file, row and column. A rule firing or a lot flagged is reported, not an error: it is a
signal for QA review (exit 0).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from secretome.analysis.trending import Capability, HotellingT2, IMRChart, LeveyJennings, tolerance_factor
from secretome.cli.common import (
    JSON_OPTION,
    BadInput,
    acting_user,
    console,
    emit,
    fail,
    refusals,
    setup_django,
)

app = typer.Typer(
    help="Batch-to-batch variability: control charts, capability, tolerance limits, comparability.",
    no_args_is_help=True,
)


def _rows(path: Path, required: tuple[str, ...]) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"{path}: cannot read the file ({exc.__class__.__name__})") from None
    if not text.strip():
        raise BadInput(f"{path}, row 1: the file is empty; expected the columns {','.join(required)}")
    reader = csv.reader(text.splitlines())
    header = [h.strip() for h in next(reader)]
    for column in required:
        if column not in header:
            raise BadInput(f"{path}, row 1, column '{column}': missing from the header")
    rows = []
    for number, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            raise BadInput(f"{path}, row {number}: {len(cells)} cells for {len(header)} columns")
        rows.append((number, {h: c.strip() for h, c in zip(header, cells, strict=True)}))
    if not rows:
        raise BadInput(f"{path}, row 2: the file has a header but no data rows")
    return header, rows


def _number(path: Path, row: int, column: str, text: str) -> float:
    if text == "":
        raise BadInput(f"{path}, row {row}, column '{column}': missing value")
    try:
        value = float(text)
    except ValueError:
        raise BadInput(f"{path}, row {row}, column '{column}': {text!r} is not a number") from None
    if not math.isfinite(value):
        raise BadInput(f"{path}, row {row}, column '{column}': {text!r} is not a finite number")
    return value


def read_series(path: Path) -> tuple[list[str], list[float]]:
    """Lot ids and values of a ``lot_index,lot_id,value`` file, checked to be lots 1, 2, ... in order."""
    _, rows = _rows(path, ("lot_index", "lot_id", "value"))
    ids, values = [], []
    for expected, (row, record) in enumerate(rows, start=1):
        index = record["lot_index"]
        if not (index.isdigit() and int(index) == expected):
            raise BadInput(
                f"{path}, row {row}, column 'lot_index': expected {expected} (lots 1, 2, ... in order)"
            )
        if not record["lot_id"]:
            raise BadInput(f"{path}, row {row}, column 'lot_id': missing lot id")
        ids.append(record["lot_id"])
        values.append(_number(path, row, "value", record["value"]))
    return ids, values


def read_table(path: Path) -> tuple[list[str], list[str], list[list[float]]]:
    """Analytes, lot ids and values of a ``lot_id,ANALYTE,...`` file."""
    header, rows = _rows(path, ("lot_id",))
    if header[0] != "lot_id":
        raise BadInput(f"{path}, row 1, column '{header[0]}': the first column must be lot_id")
    analytes = header[1:]
    if not analytes:
        raise BadInput(f"{path}, row 1: no analyte columns after lot_id")
    ids, table = [], []
    for row, record in rows:
        ids.append(record["lot_id"])
        table.append([_number(path, row, a, record[a]) for a in analytes])
    return analytes, ids, table


def _fmt(value: Any) -> str:
    return "-" if value is None else f"{value:.5g}"


def _render_chart(payload: dict[str, Any]) -> None:
    i, mr = payload["individuals"], payload["moving_range"]
    console.print(
        f"{payload['kind']} chart of {payload['n']} lots, limits from lots 1-{payload['baseline_n']}: "
        f"CL {_fmt(i['centre_line'])}, sigma {_fmt(i['sigma'])}, LCL {_fmt(i['lcl'])}, UCL {_fmt(i['ucl'])}"
    )
    if mr["mr_bar"] is not None:
        console.print(
            f"MRbar {_fmt(mr['mr_bar'])}, MR UCL {_fmt(mr['ucl'])}, above: {mr['flagged_lots'] or 'none'}"
        )
    table = Table(title="run rules (lot indices from 1)")
    table.add_column("rule")
    table.add_column("lots")
    for family, key in (("Nelson", "nelson"), ("Western Electric", "western_electric")):
        for rule, lots in payload[key].items():
            table.add_row(f"{family} {rule}", ", ".join(map(str, lots)) or "-")
    console.print(table)


@app.command("chart")
def chart(
    file: Path = typer.Argument(..., help="CSV with lot_index,lot_id,value."),
    baseline: int = typer.Option(..., "--baseline", help="Lots whose values set the limits (the first N)."),
    log10: bool = typer.Option(False, "--log10", help="Chart log10 of the values (concentrations)."),
    levey_jennings: bool = typer.Option(
        False, "--levey-jennings", help="Levey-Jennings limits (baseline mean and SD) for an assay control."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """I-MR (or Levey-Jennings) chart with Nelson 1-8 and Western Electric 1-4 on every lot."""
    with refusals():
        ids, values = read_series(file)
        if baseline > len(values):
            raise BadInput(f"--baseline: {baseline} exceeds the {len(values)} lots in {file}")
        model = LeveyJennings(baseline, log10=log10) if levey_jennings else IMRChart(baseline, log10=log10)
        payload = model.fit(values, ids).to_dict()
    emit(payload, as_json, _render_chart)


def _render_capability(payload: dict[str, Any]) -> None:
    console.print(
        f"n {payload['n']}, mean {_fmt(payload['mean'])}, sigma within {_fmt(payload['sigma_within'])}, "
        f"SD overall {_fmt(payload['sd_overall'])}"
    )
    table = Table(title="capability (95 % intervals)")
    for column in ("index", "estimate", "interval", "one-sided lower bound"):
        table.add_column(column)
    for key in ("Cp", "Cpk", "Pp", "Ppk"):
        entry = payload[key]
        interval = (
            "-"
            if entry["ci95_lower"] is None
            else f"{_fmt(entry['ci95_lower'])} to {_fmt(entry['ci95_upper'])}"
        )
        table.add_row(key, _fmt(entry["estimate"]), interval, _fmt(entry.get("lower_bound_95_one_sided")))
    for key in ("Cpl", "Cpu", "Ppl", "Ppu"):
        table.add_row(key, _fmt(payload[key]), "", "")
    console.print(table)
    ppm = payload["ppm"]
    console.print(
        f"expected ppm beyond the limits: {_fmt(ppm['within']['total'])} (within), "
        f"{_fmt(ppm['overall']['total'])} (overall); observed {_fmt(ppm['observed']['total'])}"
    )


@app.command("capability")
def capability(
    file: Path = typer.Argument(..., help="CSV with lot_index,lot_id,value."),
    lsl: float | None = typer.Option(None, "--lsl", help="Lower specification limit."),
    usl: float | None = typer.Option(None, "--usl", help="Upper specification limit."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Cp, Cpk, Pp, Ppk with Bissell and chi-square 95 % intervals and expected ppm, over all lots."""
    with refusals():
        if lsl is None and usl is None:
            raise BadInput("--lsl/--usl: give at least one specification limit")
        _, values = read_series(file)
        payload = Capability(lsl, usl).fit(values).to_dict()
    emit(payload, as_json, _render_capability)


@app.command("tolerance")
def tolerance(
    n: int = typer.Option(..., "--n", help="Number of lots."),
    coverage: float = typer.Option(
        ..., "--coverage", help="Proportion of the population covered, e.g. 0.99."
    ),
    confidence: float = typer.Option(..., "--confidence", help="Confidence, e.g. 0.95."),
    sides: int = typer.Option(2, "--sides", help="1 or 2."),
    method: str = typer.Option("exact", "--method", help="exact (Odeh-Owen / non-central t) or howe."),
    as_json: bool = JSON_OPTION,
) -> None:
    """The normal tolerance factor k for mean +/- k s."""
    with refusals():
        k = tolerance_factor(n, coverage, confidence, sides=sides, method=method)
    label = (
        "Howe's approximation (NIST e-Handbook form)"
        if method == "howe"
        else ("exact, non-central t" if sides == 1 else "exact, Odeh-Owen integral")
    )
    payload = {
        "n": n,
        "coverage": coverage,
        "confidence": confidence,
        "sides": sides,
        "method": label,
        "k": k,
    }
    emit(payload, as_json, lambda p: console.print(f"k = {p['k']:.6f} ({p['method']})"))


def _render_compare(payload: dict[str, Any]) -> None:
    console.print(
        f"Hotelling T^2 against {payload['n_reference']} reference lots, {payload['p']} analytes: "
        f"UCL {_fmt(payload['ucl'])} (alpha {payload['alpha']}); MYT term UCL {_fmt(payload['myt_ucl'])}"
    )
    table = Table()
    for column in ("lot", "T^2", "flagged", "analytes responsible"):
        table.add_column(column)
    for lot in payload["lots"]:
        table.add_row(
            lot["lot_id"],
            _fmt(lot["t2"]),
            "YES" if lot["flagged"] else "no",
            ", ".join(lot["analytes_responsible"]) or "-",
        )
    console.print(table)


@app.command("compare")
def compare(
    reference: Path = typer.Argument(
        ..., help="CSV of the reference lots: lot_id, then one column per analyte."
    ),
    new: Path = typer.Argument(..., help="CSV of the lots to compare, same columns."),
    alpha: float = typer.Option(0.05, "--alpha", help="False-signal probability per lot."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Hotelling T^2 of each new lot against the reference lots, MYT terms and PCA on the correlation matrix."""
    with refusals():
        analytes, ref_ids, ref_values = read_table(reference)
        new_analytes, new_ids, new_values = read_table(new)
        if new_analytes != analytes:
            raise BadInput(f"{new}, row 1: the analyte columns differ from those of {reference}")
        payload = HotellingT2(alpha).fit(ref_values, new_values, analytes, ref_ids, new_ids).to_dict()
    emit(payload, as_json, _render_compare)


@app.command("attribute")
def attribute(
    code: str = typer.Argument(..., help="Attribute code of the specification, e.g. RP or IL6."),
    product: str | None = typer.Option(None, "--product", help="Product code (default: every product)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Chart, rules and capability of one attribute over the lots in the database, in lot order."""
    setup_django()
    from secretome.services import trending

    with refusals():
        payload = trending.attribute_trend(code, product)
    emit(payload, as_json, _render_attribute)


def _render_attribute(payload: dict[str, Any]) -> None:
    console.print(
        f"{payload['attribute']} ({payload['unit'] or 'no unit'}), {payload['n']} lots"
        + (f" of {payload['product']}" if payload["product"] else "")
    )
    if payload["chart"] is None:
        console.print(payload["note"], markup=False)
        return
    _render_chart(payload["chart"])
    limits = payload["limits"]
    console.print(
        f"limits: {limits['origin']} (baseline of {limits['baseline_n']} lots)"
        + (
            f", approved by {limits['approved_by']} at {limits['approved_at']}"
            if limits.get("approved_by")
            else ""
        )
    )
    for signal in payload["signals"]:
        console.print(f"signal: lot {signal['lot_id']}: {', '.join(signal['rules'])}", markup=False)
    if payload["capability"] is not None:
        _render_capability(payload["capability"])


CONTROL_OPTION = typer.Option(..., "--control", help="The control's name on the plate (QC-high, CTRL).")
ANALYTE_OPTION = typer.Option(None, "--analyte", help="The analyte (needed when the control has several).")
QUANTITY_OPTION = typer.Option(
    None,
    "--quantity",
    help="recovery (QC default), concentration, relative potency, response, stimulation index, "
    "inhibition, percent of positive control, IDO activity, kynurenine, closure (see docs/trending.md).",
)


@app.command("controls")
def controls(
    method: str = typer.Argument(..., help="Analysis method code, e.g. VEGF-ELISA or IDO-RP."),
    control: str = CONTROL_OPTION,
    analyte: str | None = ANALYTE_OPTION,
    baseline: int | None = typer.Option(
        None, "--baseline", help="Limits from the first N runs instead of the approved ones."
    ),
    quantity: str | None = QUANTITY_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Levey-Jennings chart of an assay control over the accepted runs of a method, with the run rules."""
    setup_django()
    from secretome.services import controls as assay_controls

    with refusals():
        payload = assay_controls.control_chart(method, control, analyte, baseline, quantity)
    emit(payload, as_json, _render_controls)


def _render_controls(payload: dict[str, Any]) -> None:
    unit = f" {payload['unit']}" if payload["unit"] else ""
    console.print(
        f"{payload['method']} control {payload['control']}, {payload['analyte']}, {payload['quantity']}"
        f"{unit}: {payload['n']} runs",
        markup=False,
    )
    chart = payload["chart"]
    if chart is None:
        console.print(payload["note"], markup=False)
        return
    limits = payload["limits"]
    console.print(
        f"limits: {limits['origin']} ({limits['baseline_n']} runs from {limits['first_run']}"
        + (
            f", approved by {limits['approved_by']} at {limits['approved_at']}"
            if limits.get("approved_by")
            else ""
        )
        + f"): mean {_fmt(chart['mean'])}, SD {_fmt(chart['sd'])}",
        markup=False,
    )
    table = Table(title="runs")
    for column in ("#", "run", "analysed", "value", "z", "rules"):
        table.add_column(column)
    for point, observation in zip(chart["points"], payload["observations"], strict=True):
        table.add_row(
            str(point["index"]),
            point["id"],
            (observation["analysed_at"] or "")[:16],
            _fmt(point["value"]),
            f"{point['z']:+.2f}",
            ", ".join(point["rules"]) or "-",
        )
    console.print(table)
    for signal in payload["signals"]:
        console.print(f"signal: {signal['id']}: {', '.join(signal['rules'])}", markup=False)


@app.command("approve-controls")
def approve_controls(
    method: str = typer.Argument(..., help="Analysis method code."),
    control: str = CONTROL_OPTION,
    baseline: int = typer.Option(
        ..., "--baseline", help="Consecutive runs whose mean and SD become the limits."
    ),
    first_run: str | None = typer.Option(
        None, "--first-run", help="The baseline's first run (default: the first)."
    ),
    analyte: str | None = ANALYTE_OPTION,
    quantity: str | None = QUANTITY_OPTION,
    reason: str = typer.Option(..., "--reason", help="Why (audit trail)."),
    acting: str | None = typer.Option(None, "--as", help="The acting user (QA)."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from stdin."),
    as_json: bool = JSON_OPTION,
) -> None:
    """QA approves (or re-baselines) an assay control's Levey-Jennings limits; earlier limits stay on record."""
    setup_django()
    from secretome.services import controls as assay_controls

    user = acting_user(acting, password_stdin=password_stdin)
    with refusals():
        limits = assay_controls.approve_control_limits(
            user,
            reason,
            method,
            control,
            analyte=analyte,
            quantity=quantity,
            first_run=first_run,
            baseline_n=baseline,
        )
    payload = {
        "id": limits.pk,
        "method": limits.method,
        "control": limits.control,
        "analyte": limits.analyte,
        "quantity": limits.quantity,
        "first_run": limits.first_run,
        "baseline_n": limits.baseline_n,
        "mean": limits.mean,
        "sd": limits.sd,
        "supersedes": limits.supersedes_id,
    }
    emit(
        payload,
        as_json,
        lambda p: console.print(
            f"limits approved for {p['control']} {p['analyte']}: mean {_fmt(p['mean'])}, SD {_fmt(p['sd'])} "
            f"({p['baseline_n']} runs from {p['first_run']})",
            markup=False,
        ),
    )


__all__ = ["app", "fail"]
