"""``secretome analyze curve``: fit standard curves from a CSV file and back-calculate unknowns.

Standards: columns ``dose,response`` and optionally ``replicate``, ``curve`` (several curves in one file) and
``weight`` (for ``--weights user``). Unknowns: ``sample,response`` and optionally ``curve``, ``replicate``,
``dilution``. An empty response cell is a missing well and is skipped; anything else unusable is bad input:
one line naming the file, row and column, exit code 2. Exit code 1 when a fit did not converge.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from secretome.analysis import CurveFit, CurveFitter
from secretome.analysis.doseresponse import MODEL_CHOICES
from secretome.analysis.weighting import WEIGHTINGS
from secretome.cli.analyze import app
from secretome.cli.common import EXIT_CHECK_FAILED, JSON_OPTION, console, emit, fail

REPORTED = ("bottom", "top", "inflection", "hill", "asymmetry", "ec50")


class CurveInputError(Exception):
    """Unusable input; the message names the file, row and column."""


@dataclass
class _Rows:
    """Values of one curve (or one sample) read from a CSV file, with the file rows they came from."""

    rows: list[int] = field(default_factory=list)
    dose: list[float] = field(default_factory=list)
    response: list[float] = field(default_factory=list)
    weight: list[float] = field(default_factory=list)
    dilution: list[float] = field(default_factory=list)

    def span(self) -> str:
        return f"row {self.rows[0]}" if len(self.rows) == 1 else f"rows {self.rows[0]}-{self.rows[-1]}"


def _records(path: Path, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise CurveInputError(f"{path}: cannot read the file ({exc.__class__.__name__})") from None
    if not text.strip():
        raise CurveInputError(f"{path}, row 1: the file is empty; expected the columns {','.join(required)}")
    reader = csv.DictReader(text.splitlines())
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    for column in required:
        if column not in header:
            raise CurveInputError(f"{path}, row 1, column '{column}': missing from the header")
    reader.fieldnames = header
    count = 0
    for number, record in enumerate(reader, start=2):
        if not any((v or "").strip() for v in record.values() if isinstance(v, str)):
            continue
        count += 1
        yield (
            number,
            {k: (v or "").strip() for k, v in record.items() if isinstance(k, str) and isinstance(v, str)},
        )
    if count == 0:
        raise CurveInputError(f"{path}, row 2: the file has a header but no data rows")


def _number(path: Path, row: int, column: str, text: str) -> float:
    if text == "":
        raise CurveInputError(f"{path}, row {row}, column '{column}': missing value")
    try:
        value = float(text)
    except ValueError:
        raise CurveInputError(f"{path}, row {row}, column '{column}': {text!r} is not a number") from None
    if not math.isfinite(value):
        raise CurveInputError(f"{path}, row {row}, column '{column}': {text!r} is not a finite number")
    return value


def read_standards(path: Path, user_weights: bool) -> dict[str, _Rows]:
    """Standards by curve name (``""`` when the file has no ``curve`` column)."""
    curves: dict[str, _Rows] = {}
    for row, record in _records(path, ("dose", "response")):
        dose = _number(path, row, "dose", record.get("dose", ""))
        if dose < 0:
            raise CurveInputError(f"{path}, row {row}, column 'dose': negative dose {dose:g}")
        if record.get("response", "") == "":
            continue  # a missing well
        response = _number(path, row, "response", record["response"])
        curve = curves.setdefault(record.get("curve", ""), _Rows())
        curve.rows.append(row)
        curve.dose.append(dose)
        curve.response.append(response)
        if user_weights:
            weight = _number(path, row, "weight", record.get("weight", ""))
            if weight <= 0:
                raise CurveInputError(f"{path}, row {row}, column 'weight': weights must be positive")
            curve.weight.append(weight)
    return curves


def read_unknowns(path: Path) -> dict[tuple[str, str], _Rows]:
    """Unknowns by (curve, sample), in file order."""
    samples: dict[tuple[str, str], _Rows] = {}
    for row, record in _records(path, ("sample", "response")):
        sample = record.get("sample", "")
        if not sample:
            raise CurveInputError(f"{path}, row {row}, column 'sample': missing sample name")
        response = _number(path, row, "response", record.get("response", ""))
        dilution = _number(path, row, "dilution", record["dilution"]) if record.get("dilution", "") else 1.0
        if dilution <= 0:
            raise CurveInputError(f"{path}, row {row}, column 'dilution': dilution factor must be positive")
        group = samples.setdefault((record.get("curve", ""), sample), _Rows())
        if group.dilution and group.dilution[0] != dilution:
            raise CurveInputError(
                f"{path}, row {row}, column 'dilution': differs from the sample's earlier rows"
            )
        group.rows.append(row)
        group.response.append(response)
        group.dilution.append(dilution)
    return samples


def _fit_one(path: Path, name: str, rows: _Rows, fitter: CurveFitter) -> CurveFit:
    where = f"{path}, {rows.span()}" + (f" (curve {name!r})" if name else "")
    if len(set(rows.response)) == 1:
        raise CurveInputError(
            f"{where}, column 'response': all responses are equal; a constant defines no curve"
        )
    models = ("4pl", "5pl") if fitter.model == "auto" else (fitter.model,)
    needed = max({"4pl": 4, "5pl": 5, "linear": 2, "log-linear": 2}[m] for m in models)
    distinct = len(set(rows.dose))
    if distinct < needed:
        raise CurveInputError(
            f"{where}, column 'dose': {distinct} distinct doses, fewer than the {needed} parameters of the {fitter.model}"
        )
    try:
        return fitter.fit(rows.dose, rows.response, rows.weight or None)
    except ValueError as exc:
        column = str(exc).split(":", 1)[0]
        raise CurveInputError(f"{where}, column '{column}': {str(exc).split(':', 1)[-1].strip()}") from None


def curve_payload(name: str, fit: CurveFit, unknowns: list[dict[str, Any]]) -> dict[str, Any]:
    """The per-curve JSON contract of ``secretome analyze curve``."""
    full = fit.to_dict()
    keys = REPORTED if fit.ec50 is not None else tuple(fit.parameter_names)
    return {
        "curve": name,
        "model": fit.model,
        "weighting": fit.weighting,
        "parameters": {k: full["parameters"][k] for k in keys},
        "standard_errors": {k: full["standard_errors"][k] for k in keys},
        "confidence_intervals": {k: full["confidence_intervals"][k] for k in keys},
        "confidence": fit.confidence,
        "rss": full["rss"],
        "residual_se": full["residual_se"],
        "df": fit.df,
        "n": fit.n,
        "converged": fit.converged,
        "status": fit.status,
        "flags": list(fit.flags),
        "outliers": list(fit.outliers),
        "goodness": full["goodness"],
        "selection": full["selection"],
        "standards": full["standards"],
        "lloq": full["lloq"],
        "uloq": full["uloq"],
        "unknowns": unknowns,
    }


def _render(payload: dict[str, Any]) -> None:
    for curve in payload["curves"]:
        title = f"{curve['model'].upper()} fit" + (f" of curve {curve['curve']}" if curve["curve"] else "")
        table = Table(title=title)
        for column in ("parameter", "estimate", "SE", f"{round(100 * curve['confidence'])} % CI"):
            table.add_column(column)
        for key, value in curve["parameters"].items():
            low, high = curve["confidence_intervals"][key]
            table.add_row(
                key, _fmt(value), _fmt(curve["standard_errors"][key]), f"{_fmt(low)} to {_fmt(high)}"
            )
        console.print(table)
        console.print(
            f"RSS {_fmt(curve['rss'])}, residual SE {_fmt(curve['residual_se'])}, df {curve['df']}, "
            f"converged {'yes' if curve['converged'] else 'NO'}; LLOQ {_fmt(curve['lloq'])}, ULOQ {_fmt(curve['uloq'])}"
        )
        if curve["selection"]:
            console.print(curve["selection"]["reason"], markup=False)
        console.print(f"flags: {', '.join(curve['flags']) or 'none'}", markup=False)
        if curve["unknowns"]:
            samples = Table(title="unknowns")
            for column in ("sample", "concentration", "SE", "CI", "CV %", "flags"):
                samples.add_column(column)
            for u in curve["unknowns"]:
                ci = u["ci"]
                samples.add_row(
                    u["sample"],
                    _fmt(u["concentration"]),
                    _fmt(u["se"]),
                    f"{_fmt(ci[0])} to {_fmt(ci[1])}" if ci else "-",
                    _fmt(u["cv"]),
                    ", ".join(u["flags"]) or "-",
                )
            console.print(samples)


def _fmt(value: Any) -> str:
    return "-" if value is None else f"{value:.5g}"


def _plot(path: Path, fits: list[tuple[str, CurveFit]]) -> None:
    from matplotlib.figure import Figure

    if len(fits) == 1:
        figure = fits[0][1].plot()
    else:
        columns = min(3, len(fits))
        rows = math.ceil(len(fits) / columns)
        figure = Figure(figsize=(5 * columns, 4 * rows), layout="constrained")
        axes = figure.subplots(rows, columns, squeeze=False).ravel()
        for ax, (name, fit) in zip(axes, fits, strict=False):
            fit.plot(ax)
            ax.set_title(f"curve {name}: {ax.get_title()}", fontsize=9)
        for ax in axes[len(fits) :]:
            ax.set_visible(False)
    try:
        figure.savefig(path, dpi=120)
    except (OSError, ValueError) as exc:
        raise CurveInputError(f"--plot: cannot write {path} ({exc})") from None


@app.command("curve")
def curve(
    standards: Path = typer.Argument(..., help="CSV with dose,response[,replicate][,curve][,weight]."),
    model: str = typer.Option("4pl", "--model", help=f"Model: {', '.join(MODEL_CHOICES)}."),
    weights: str = typer.Option("none", "--weights", help=f"Weighting: {', '.join(WEIGHTINGS)}."),
    unknowns: Path | None = typer.Option(
        None, "--unknowns", help="CSV with sample,response[,curve][,replicate][,dilution]."
    ),
    plot: Path | None = typer.Option(None, "--plot", help="Write a PNG of the fitted curve(s) here."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Fit 4PL/5PL (or linear) standard curves from a CSV file and back-calculate unknowns."""
    if model.lower() not in MODEL_CHOICES:
        fail(f"--model: {model!r} is not one of {', '.join(MODEL_CHOICES)}")
    if weights not in WEIGHTINGS:
        fail(f"--weights: {weights!r} is not one of {', '.join(WEIGHTINGS)}")
    fitter = CurveFitter(model, weights)
    try:
        curves = read_standards(standards, weights == "user")
        samples = read_unknowns(unknowns) if unknowns is not None else {}
        fits = [(name, _fit_one(standards, name, rows, fitter)) for name, rows in curves.items()]
        names = {name for name, _ in fits}
        if len(fits) == 1:
            # One curve: samples without a curve column belong to it.
            samples = {((c or name), s): rows for (c, s), rows in samples.items() for name in names}
        for (curve_name, sample), rows in samples.items():
            if curve_name not in names:
                where = f"{unknowns}, row {rows.rows[0]}, column 'curve'"
                raise CurveInputError(
                    f"{where}: sample {sample!r} names no curve of the standards"
                    if curve_name
                    else f"{where}: the standards hold several curves; say which one each sample belongs to"
                )
        payload_curves = []
        for name, fit in fits:
            results = [
                fit.back_calculate(rows.response, sample=sample, dilution=rows.dilution[0]).to_dict()
                for (curve_name, sample), rows in samples.items()
                if curve_name == name
            ]
            payload_curves.append(curve_payload(name, fit, results))
        if plot is not None:
            _plot(plot, fits)
    except CurveInputError as exc:
        fail(str(exc))
    emit({"file": str(standards), "curves": payload_curves}, as_json, _render)
    if not all(fit.converged for _, fit in fits):
        raise typer.Exit(EXIT_CHECK_FAILED)
