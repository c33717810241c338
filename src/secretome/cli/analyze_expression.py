"""``secretome analyze nta`` and ``secretome analyze qpcr``: EV particles and gene expression from files.

Both commands run the same method kinds an analysis run uses (:mod:`secretome.methods.kinds.nta` and
``.qpcr``) on files read from disk, and write nothing to the database.

``nta`` reads an NTA export (NanoSight ExperimentSummary CSV). ``qpcr`` reads either a tidy CSV with the
columns ``sample,target,cq`` (and optionally ``well``; an empty or ``Undetermined`` Cq is a well that did
not amplify) or any qPCR export the instrument readers know (QuantStudio / ViiA 7, CFX Maestro, RDML).
Bad input exits 2 with one line naming the file, row and column; a failed check exits 1 (``nta``: the
between-video CV above its limit or too few videos; ``qpcr``: an NTC or no-RT control failed).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from secretome.cli.analyze import app
from secretome.cli.common import EXIT_CHECK_FAILED, JSON_OPTION, console, emit, fail
from secretome.instruments.detect import read
from secretome.instruments.model import InstrumentReading, Measurement, ReaderError
from secretome.methods import Decisions, KindOutcome, LotContext, MethodInput, RunContext, get_kind

_UNDETERMINED = {"", "undetermined", "n/a", "na", "nan", "no ct", "-"}


class ExpressionInputError(Exception):
    """Unusable input; the message names the file, row and column."""


def _bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ExpressionInputError(f"{path}: cannot read the file ({exc.__class__.__name__})") from None


def _instrument_file(path: Path, family: str) -> InstrumentReading:
    try:
        reading = read(_bytes(path), path.name)
    except ReaderError as exc:
        raise ExpressionInputError(str(exc)) from None
    except ValueError as exc:
        raise ExpressionInputError(f"{path}: {exc}") from None
    if reading.family != family:
        raise ExpressionInputError(f"{path}: a {reading.format} file ({reading.family}), not {family}")
    return reading


def read_cq_csv(path: Path) -> InstrumentReading:
    """A tidy ``sample,target,cq[,well]`` CSV as a qPCR reading (one ``cycle threshold`` row per line)."""
    try:
        text = _bytes(path).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ExpressionInputError(f"{path}, row 1: not UTF-8 text") from None
    reader = csv.DictReader(text.splitlines())
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    for column in ("sample", "target", "cq"):
        if column not in header:
            raise ExpressionInputError(f"{path}, row 1, column '{column}': missing from the header")
    reader.fieldnames = header
    rows: list[Measurement] = []
    for number, record in enumerate(reader, start=2):
        cells = {k: (v or "").strip() for k, v in record.items() if isinstance(k, str) and isinstance(v, str)}
        if not any(cells.values()):
            continue
        for column in ("sample", "target"):
            if not cells.get(column):
                raise ExpressionInputError(f"{path}, row {number}, column '{column}': missing value")
        raw = cells.get("cq", "")
        flags: tuple[str, ...]
        if raw.lower() in _UNDETERMINED:
            cq, flags = math.nan, ("Undetermined",)
        else:
            try:
                cq, flags = float(raw), ()
            except ValueError:
                raise ExpressionInputError(
                    f"{path}, row {number}, column 'cq': {raw!r} is not a number"
                ) from None
            if not (math.isfinite(cq) and 0 < cq < 100):
                raise ExpressionInputError(
                    f"{path}, row {number}, column 'cq': {raw!r} is not a cycle number"
                )
        well = cells.get("well") or f"row{number}"
        rows.append(
            Measurement("cycle threshold", cq, "cycles", cells["sample"], well, "", cells["target"], flags)
        )
    if not rows:
        raise ExpressionInputError(f"{path}, row 2: the file has a header but no data rows")
    return InstrumentReading(
        filename=path.name,
        format="cq-csv",
        family="qpcr",
        reader="secretome.cli.analyze_expression.read_cq_csv",
        reader_version="1.0",
        measurements=tuple(rows),
    )


def _qpcr_reading(path: Path) -> InstrumentReading:
    head = _bytes(path)[:4096].decode("utf-8-sig", errors="replace")
    first = head.splitlines()[0].lower() if head.strip() else ""
    columns = {c.strip() for c in first.split(",")}
    if {"sample", "target"} <= columns or "cq" in columns:
        return read_cq_csv(path)
    if not head.strip():
        raise ExpressionInputError(f"{path}, row 1: the file is empty; expected sample,target,cq")
    return _instrument_file(path, "qpcr")


def _pairs(option: str, values: list[str]) -> dict[str, float]:
    found: dict[str, float] = {}
    for text in values:
        name, sep, number = text.rpartition("=")
        try:
            if not sep or not name:
                raise ValueError
            found[name] = float(number)
        except ValueError:
            fail(f"{option}: {text!r} is not NAME=NUMBER")
    return found


def _write_plot(path: Path, outcome: KindOutcome, title_prefix: str = "") -> None:
    svg = next((s for t, s in outcome.plots if t.startswith(title_prefix)), None)
    if svg is None:
        return
    try:
        path.write_text(svg, encoding="utf-8")
    except OSError as exc:
        fail(f"--plot: cannot write {path} ({exc.__class__.__name__})")


def _fmt(value: Any, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}g}"


@app.command("nta")
def nta(
    file: Path = typer.Argument(..., help="NTA export (NanoSight ExperimentSummary CSV)."),
    dilution: float | None = typer.Option(
        None, "--dilution", help="Dilution to apply instead of the one the file recorded."
    ),
    size_statistic: str = typer.Option("mode", "--size-statistic", help="Reported size: mode, d50 or mean."),
    protein: float | None = typer.Option(
        None, "--protein", help="Total protein (ug/mL), for particles per ug."
    ),
    exclude: list[str] = typer.Option([], "--exclude", help="Leave out a video (by name); repeatable."),
    cv_limit: float = typer.Option(20.0, "--cv-limit", help="Between-video CV (%) that fails the check."),
    min_videos: int = typer.Option(3, "--min-videos", help="Fewest videos a result may rest on."),
    plot: Path | None = typer.Option(None, "--plot", help="Write the size-distribution SVG here."),
    as_json: bool = JSON_OPTION,
) -> None:
    """EV particle concentration, size statistics and CV from an NTA export."""
    settings: dict[str, Any] = {
        "size_statistic": size_statistic,
        "cv_limit": cv_limit,
        "min_videos": min_videos,
        "purity_attribute": "particles-per-ug" if protein is not None else None,
    }
    if dilution is not None:
        settings.update(dilution_source="setting", dilution=dilution)
    kind = get_kind("nta")
    try:
        checked = kind.check_settings(settings)
    except ValueError as exc:
        option = str(exc).split(":", 1)[0].replace("_", "-")
        fail(f"--{option}: {str(exc).split(':', 1)[-1].strip()}")
    try:
        reading = _instrument_file(file, "nta")
    except ExpressionInputError as exc:
        fail(str(exc))
    sample = reading.samples[0] if reading.samples else file.stem
    videos = [m.well for m in reading.measurements if m.quantity == "concentration"]
    for name in exclude:
        if name not in videos:
            fail(
                f"--exclude: {name!r} is not a video of {file} (videos: {', '.join(v for v in videos if v != 'average')})"
            )
    decisions = Decisions(excluded={f"0:{name}": "excluded on the command line" for name in exclude})
    context = RunContext(lots={sample: LotContext(sample, protein_ug_per_ml=protein)}, default_lot=sample)
    try:
        outcome = kind.analyse([MethodInput(0, "", file.name, reading)], checked, decisions, context)
    except ValueError as exc:
        fail(f"{file}: {exc}")
    result = dict(outcome.result["lots"][sample])
    payload = {
        "file": str(file),
        "sample": sample,
        **result,
        "reported_size": result["size"].get(size_statistic),
    }
    if plot is not None:
        _write_plot(plot, outcome)

    def render(_: Any) -> None:
        table = Table(title=f"NTA: {sample} ({len(result['videos'])} videos)")
        table.add_column("quantity")
        table.add_column("value")
        table.add_row("concentration (particles/mL)", _fmt(result["concentration"]))
        table.add_row("between-video CV (%)", _fmt(result["concentration_cv"], 3))
        for name, value in result["size"].items():
            table.add_row(f"{name} (nm)", _fmt(value))
        table.add_row("span", _fmt(result["span"], 3))
        if result["particles_per_ug"] is not None:
            table.add_row("particles per ug protein", _fmt(result["particles_per_ug"]))
        console.print(table)
        console.print(f"flags: {', '.join(result['flags']) or 'none'}", markup=False)

    emit(payload, as_json, render)
    if result["flags"]:
        raise typer.Exit(EXIT_CHECK_FAILED)


@app.command("qpcr")
def qpcr(
    files: list[Path] = typer.Argument(..., help="Cq CSV (sample,target,cq[,well]) or qPCR exports."),
    reference: list[str] = typer.Option(..., "--reference", help="Reference gene; repeat for several."),
    calibrator: str = typer.Option(..., "--calibrator", help="Sample the fold changes are relative to."),
    method: str = typer.Option("livak", "--method", help="livak (2^-ddCq) or pfaffl (efficiency-corrected)."),
    efficiency: list[str] = typer.Option([], "--efficiency", help="GENE=PERCENT amplification efficiency."),
    standard: list[str] = typer.Option([], "--standard", help="SAMPLE=QUANTITY of a standard-curve sample."),
    ntc: list[str] = typer.Option(["NTC"], "--ntc", help="Name of a no-template-control sample."),
    no_rt_suffix: str = typer.Option(
        " noRT", "--no-rt-suffix", help="Suffix naming a sample's no-RT control."
    ),
    sd_limit: float = typer.Option(0.3, "--sd-limit", help="Replicate Cq SD (cycles) that is flagged."),
    plot: Path | None = typer.Option(None, "--plot", help="Write the fold-change SVG here."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Relative expression (Livak or Pfaffl) with efficiency, geNorm M and the NTC/no-RT checks."""
    settings: dict[str, Any] = {
        "reference_genes": reference,
        "calibrator": calibrator,
        "method": method,
        "efficiencies": _pairs("--efficiency", efficiency),
        "standards": _pairs("--standard", standard),
        "ntc_samples": ntc,
        "no_rt_suffix": no_rt_suffix,
        "sd_limit": sd_limit,
    }
    kind = get_kind("qpcr")
    try:
        checked = kind.check_settings(settings)
    except ValueError as exc:
        option = {"reference_genes": "reference", "efficiencies": "efficiency", "standards": "standard"}
        key = str(exc).split(":", 1)[0]
        fail(f"--{option.get(key, key).replace('_', '-')}: {str(exc).split(':', 1)[-1].strip()}")
    inputs = []
    try:
        for index, path in enumerate(files, start=1):
            inputs.append(MethodInput(index, "", path.name, _qpcr_reading(path)))
    except ExpressionInputError as exc:
        fail(str(exc))
    try:
        outcome = kind.analyse(inputs, checked, Decisions(), RunContext())
    except ValueError as exc:
        fail(f"{', '.join(str(f) for f in files)}: {exc}")
    expression = outcome.result["expression"]
    payload = {
        "files": [str(f) for f in files],
        **expression,
        "standard_curves": outcome.result["standard_curves"],
        "passage": outcome.result["passage"],
        "cpd": outcome.result["cpd"],
        "flags": list(outcome.flags),
    }
    if plot is not None:
        _write_plot(plot, outcome, "Relative expression")

    def render(_: Any) -> None:
        table = Table(title=f"{method.capitalize()} relative expression vs {calibrator}")
        for column in ("sample", "target", "Cq", "SD", "dCq", "ddCq", "fold", "range"):
            table.add_column(column)
        for row in expression["rows"]:
            table.add_row(
                row["sample"],
                row["target"],
                _fmt(row["cq"]),
                _fmt(row["cq_sd"], 2),
                _fmt(row["delta_cq"]),
                _fmt(row["delta_delta_cq"], 3),
                _fmt(row["fold"], 3),
                f"{_fmt(row['fold_low'], 3)}-{_fmt(row['fold_high'], 3)}",
            )
        console.print(table)
        if expression["genorm_m"]:
            console.print(
                "geNorm M: " + ", ".join(f"{g} {m:.3f}" for g, m in expression["genorm_m"].items()),
                markup=False,
            )
        for name, curve in outcome.result["standard_curves"].items():
            console.print(
                f"standard curve {name}: slope {_fmt(curve['slope'])}, efficiency "
                f"{_fmt(100 * curve['efficiency'] if curve['efficiency'] is not None else None)} %, "
                f"R^2 {_fmt(curve['r_squared'])}",
                markup=False,
            )
        failed = [c for c in expression["controls"] if not c["passed"]]
        console.print(
            f"controls: {len(expression['controls']) - len(failed)} of {len(expression['controls'])} passed",
            markup=False,
        )
        console.print(f"flags: {'; '.join(outcome.flags) or 'none'}", markup=False)

    emit(payload, as_json, render)
    if not expression["controls_passed"]:
        raise typer.Exit(EXIT_CHECK_FAILED)
