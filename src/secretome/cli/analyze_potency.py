"""``secretome analyze potency`` and ``secretome analyze combine``: relative potency from CSV files.

Both read a CSV file, analyse it with :mod:`secretome.analysis.potency` and write nothing to the database.
Exit codes: 0 the assay is valid, 1 it is not (the report says why), 2 bad input.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from secretome.analysis.potency import (
    AssayEstimate,
    CombinationResult,
    EquivalenceMargins,
    ParallelCurveAssay,
    ParallelCurveResult,
    ParallelLineAssay,
    ParallelLineResult,
    PotencyEstimate,
    SimilarityAssessment,
    SlopeRatioAssay,
    SlopeRatioResult,
    SuitabilityCriteria,
    SuitabilityReport,
    ValidityTest,
    combine_assays,
)
from secretome.analysis.potency.combination import METHOD_CHOICES
from secretome.cli.analyze import app
from secretome.cli.common import EXIT_CHECK_FAILED, JSON_OPTION, BadInput, console, emit, refusals

MODELS = ("4pl", "5pl", "parallel-line", "slope-ratio")
TRANSFORMS = ("none", "ln", "log10", "sqrt", "square")


def _read_csv(path: Path, required: Sequence[str]) -> list[dict[str, str]]:
    """Rows of a CSV file with the ``required`` columns (names compared without case and blanks)."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            fields = [(f or "").strip().lower() for f in reader.fieldnames or []]
            rows = [
                {(k or "").strip().lower(): (v or "").strip() for k, v in row.items() if k is not None}
                for row in reader
            ]
    except OSError as exc:
        raise BadInput(f"{path}: cannot read the file ({exc.strerror or exc})") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise BadInput(f"{path}: not a readable CSV file ({exc})") from None
    missing = [c for c in required if c not in fields]
    if missing:
        raise BadInput(
            f"{path}: missing column(s) {', '.join(missing)} (found: {', '.join(fields) or 'none'})"
        )
    if not rows:
        raise BadInput(f"{path}: no data rows")
    return rows


def _number(value: str, column: str, line: int) -> float:
    try:
        number = float(value)
    except ValueError:
        raise BadInput(f"line {line}: {column} {value!r} is not a number") from None
    if not math.isfinite(number):
        raise BadInput(f"line {line}: {column} must be a finite number")
    return number


def _read_margins(path: Path | None) -> tuple[EquivalenceMargins | None, SuitabilityCriteria | None]:
    """Equivalence margins (and optionally suitability criteria under ``suitability``) from a JSON file."""
    if path is None:
        return None, None
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BadInput(f"--margins {path}: cannot read the file ({exc.strerror or exc})") from None
    except json.JSONDecodeError as exc:
        raise BadInput(f"--margins {path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
    if not isinstance(content, Mapping):
        raise BadInput(f"--margins {path}: expected a JSON object")
    content = dict(content)
    suitability = content.pop("suitability", None)
    try:
        margins = EquivalenceMargins.from_mapping(content)
        criteria = SuitabilityCriteria.from_mapping(suitability) if suitability is not None else None
    except (ValueError, TypeError) as exc:
        raise BadInput(f"--margins {path}: {exc}") from None
    return margins, criteria


def _interval(low: float | None, high: float | None) -> list[float | None]:
    return [low, high]


def _validity_entry(test: ValidityTest) -> dict[str, Any]:
    return {
        "name": test.name,
        "statistic": test.statistic,
        "df": list(test.df),
        "p_value": test.p_value,
        "verdict": test.verdict,
        "decides": test.decides,
    }


def _similarity_entry(assessment: SimilarityAssessment, margins: EquivalenceMargins | None) -> dict[str, Any]:
    return {
        "method": assessment.method,
        "decided_by": assessment.reason,
        "statistics": [
            {
                "name": t.name,
                "statistic": t.statistic,
                "df": list(t.df),
                "p_value": t.p_value,
                "passed": t.passed,
            }
            for t in assessment.difference_tests
        ],
        "intervals": [
            {
                "parameter": c.parameter,
                "estimate": c.estimate,
                "ci": _interval(c.ci.low, c.ci.high),
                "ci_level": c.ci.level,
                "margin": None if c.margin is None else list(c.margin),
                "passed": c.passed,
            }
            for c in assessment.equivalence
        ],
        "margins": None if margins is None else margins.to_dict(),
        "passed": assessment.passed,
    }


def _suitability_entry(report: SuitabilityReport | None) -> dict[str, Any] | None:
    if report is None:
        return None
    return {
        "status": report.status,
        "reasons": list(report.reasons),
        "checks": [c.to_dict() for c in report.checks],
    }


def _potency_entry(estimate: PotencyEstimate, model: str) -> dict[str, Any]:
    alternative = estimate.alternative_ci
    return {
        "preparation": estimate.preparation,
        "model": model,
        "relative_potency": estimate.relative_potency,
        "ci": _interval(estimate.ci.low, estimate.ci.high),
        "ci_level": estimate.ci.level,
        "ci_method": estimate.ci.method,
        "alternative_ci": None
        if alternative is None
        else {"ci": _interval(alternative.low, alternative.high), "method": alternative.method},
    }


def _report(
    result: ParallelLineResult | SlopeRatioResult | ParallelCurveResult,
    model: str,
    margins: EquivalenceMargins,
) -> dict[str, Any]:
    """The JSON contract: one entry per test preparation; with one test its keys also at the top level."""
    entries = []
    if isinstance(result, ParallelCurveResult):
        validity: list[dict[str, Any]] = [
            {
                "name": f"parallelism ({t.name})",
                "statistic": t.statistic,
                "df": list(t.df),
                "p_value": t.p_value,
                "verdict": "passed" if t.passed else "failed",
                "decides": result.similarity[0].method == "f-test",
            }
            for t in result.parallelism
        ]
        validity.append(
            {
                "name": "convergence",
                "statistic": None,
                "df": [],
                "p_value": None,
                "verdict": "passed" if result.converged else "failed",
                "decides": True,
            }
        )
        assay_level_ok = result.converged
        for estimate, assessment in zip(result.potencies, result.similarity, strict=True):
            scoped = result.suitability.for_scope(estimate.preparation)
            entries.append(
                {
                    **_potency_entry(estimate, model),
                    "similarity": _similarity_entry(assessment, margins),
                    "validity": validity,
                    "suitability": _suitability_entry(scoped),
                    "assay_valid": assay_level_ok and scoped.status != "invalid",
                }
            )
        suitability = _suitability_entry(result.suitability)
    elif isinstance(result, ParallelLineResult):
        validity = [_validity_entry(t) for t in result.validity]
        assay_level_ok = all(t.passed for t in result.validity if t.decides)
        for estimate, assessment in zip(result.potencies, result.similarity, strict=True):
            entries.append(
                {
                    **_potency_entry(estimate, model),
                    "similarity": _similarity_entry(assessment, margins),
                    "validity": validity,
                    "suitability": None,
                    "assay_valid": assay_level_ok and assessment.passed,
                }
            )
        suitability = None
    else:
        validity = [_validity_entry(t) for t in result.validity]
        shape_tests = [t for t in result.validity if t.name in ("blanks", "intersection")]
        similar = all(t.passed for t in shape_tests)
        for estimate in result.potencies:
            entries.append(
                {
                    **_potency_entry(estimate, model),
                    "similarity": {
                        "method": "f-test",
                        "decided_by": "slope-ratio validity tests: blanks and intersection",
                        "statistics": [
                            {
                                "name": t.name,
                                "statistic": t.statistic,
                                "df": list(t.df),
                                "p_value": t.p_value,
                                "passed": t.passed,
                            }
                            for t in shape_tests
                        ],
                        "intervals": [],
                        "margins": None,
                        "passed": similar,
                    },
                    "validity": validity,
                    "suitability": None,
                    "assay_valid": result.valid,
                }
            )
        suitability = None
    report: dict[str, Any] = {
        "model": model,
        "reference": result.reference,
        "tests": list(result.tests),
        "results": entries,
        "validity": validity,
        "suitability": suitability,
        "assay_valid": all(e["assay_valid"] for e in entries),
    }
    if isinstance(result, ParallelLineResult):
        report["design"] = result.design
        report["anova"] = [line.to_dict() for line in result.anova]
    elif isinstance(result, SlopeRatioResult):
        report["anova"] = [line.to_dict() for line in result.anova]
    if len(entries) == 1:
        report.update({k: v for k, v in entries[0].items() if k not in ("validity",)})
    return report


def _save_plot(result: ParallelLineResult | SlopeRatioResult | ParallelCurveResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if isinstance(result, SlopeRatioResult):
        figure, axis = plt.subplots(figsize=(6, 4))
        result.plot(axis)
    else:
        figure, (top, bottom) = plt.subplots(2, 1, figsize=(6, 7), height_ratios=(2, 1))
        result.plot(top)
        result.plot_residuals(bottom)
    figure.tight_layout()
    try:
        figure.savefig(path, dpi=120)
    except OSError as exc:
        raise BadInput(f"--plot {path}: cannot write the file ({exc.strerror or exc})") from None
    finally:
        plt.close(figure)


def _render(report: dict[str, Any]) -> None:
    table = Table(title=f"Relative potency ({report['model']}) against {report['reference']}")
    for column in ("preparation", "RP", "CI", "similar", "valid"):
        table.add_column(column)
    for entry in report["results"]:
        low, high = entry["ci"]
        ci = "unbounded" if low is None or high is None else f"{low:.4g} - {high:.4g}"
        table.add_row(
            entry["preparation"],
            f"{entry['relative_potency']:.4g}",
            f"{ci} ({entry['ci_level']:.0%})",
            "yes" if entry["similarity"]["passed"] else "no",
            "yes" if entry["assay_valid"] else "no",
        )
    console.print(table)
    for test in report["validity"]:
        if test["verdict"] == "failed" and test["decides"]:
            console.print(f"validity: {test['name']} failed (p = {test['p_value']:.3g})")
    if report["suitability"] is not None:
        for reason in report["suitability"]["reasons"]:
            console.print(f"suitability: {reason}")


@app.command("potency")
def potency(
    file: Path = typer.Argument(
        ..., help="CSV with preparation,dose,response (optional replicate, block, row, column)."
    ),
    reference: str = typer.Option(..., "--reference", help="Name of the reference preparation in the file."),
    model: str = typer.Option("4pl", "--model", help="4pl, 5pl, parallel-line or slope-ratio."),
    similarity: str | None = typer.Option(
        None,
        "--similarity",
        help="equivalence or f-test (default: equivalence for curves, f-test for lines).",
    ),
    margins_file: Path | None = typer.Option(
        None, "--margins", help="JSON file with equivalence margins (and optionally 'suitability' criteria)."
    ),
    transform: str = typer.Option("none", "--transform", help="Response transformation for linear models."),
    control: str | None = typer.Option(None, "--control", help="Assay-control preparation (curve models)."),
    plot: Path | None = typer.Option(
        None, "--plot", help="Write the fit and residual plot to this PNG file."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Relative potency of every test preparation against the reference, with similarity and validity."""
    with refusals():
        if model not in MODELS:
            raise BadInput(f"--model must be one of {', '.join(MODELS)}, not {model!r}")
        if similarity is not None and similarity not in ("equivalence", "f-test"):
            raise BadInput(f"--similarity must be equivalence or f-test, not {similarity!r}")
        if transform not in TRANSFORMS:
            raise BadInput(f"--transform must be one of {', '.join(TRANSFORMS)}, not {transform!r}")
        if model in ("4pl", "5pl") and transform != "none":
            raise BadInput("--transform applies to the parallel-line and slope-ratio models only")
        margins, criteria = _read_margins(margins_file)
        rows = _read_csv(file, ("preparation", "dose", "response"))
        preparation = [r["preparation"] for r in rows]
        if any(not p for p in preparation):
            raise BadInput("preparation: a row has no preparation name")
        dose = [_number(r["dose"], "dose", i) for i, r in enumerate(rows, start=2)]
        response = [_number(r["response"], "response", i) for i, r in enumerate(rows, start=2)]
        result: ParallelLineResult | SlopeRatioResult | ParallelCurveResult
        if model in ("4pl", "5pl"):
            result = ParallelCurveAssay(
                reference,
                model=model,
                similarity=similarity or "equivalence",  # type: ignore[arg-type]
                margins=margins,
                suitability=criteria,
                control=control,
            ).fit(preparation, dose, response)
        elif model == "parallel-line":
            design = {k: [r[k] for r in rows] for k in ("block", "row", "column") if k in rows[0]}
            result = ParallelLineAssay(
                reference,
                transform=transform,
                similarity=similarity or "f-test",  # type: ignore[arg-type]
                margins=margins,
            ).fit(preparation, dose, response, **design)
        else:
            result = SlopeRatioAssay(reference, transform=transform).fit(preparation, dose, response)
        report = _report(result, model, margins or EquivalenceMargins())
        if plot is not None:
            _save_plot(result, plot)
    emit(report, as_json, _render)
    if not report["assay_valid"]:
        raise typer.Exit(EXIT_CHECK_FAILED)


def _combination_report(result: CombinationResult) -> dict[str, Any]:
    return {
        "relative_potency": result.relative_potency,
        "ci": _interval(result.ci.low, result.ci.high),
        "ci_level": result.ci.level,
        "method": result.method,
        "reason": result.reason,
        "homogeneity": {
            "statistic": result.homogeneity.statistic,
            "df": result.homogeneity.df,
            "p_value": result.homogeneity.p_value,
            "homogeneous": result.homogeneity.homogeneous,
        },
        "log_potency": result.log_potency,
        "standard_error": result.standard_error,
        "assays": [{**a.to_dict(), "weight": w} for a, w in zip(result.assays, result.weights, strict=True)],
    }


@app.command("combine")
def combine(
    file: Path = typer.Argument(
        ..., help="CSV with assay,relative_potency,ci_low,ci_high[,df] or assay,log_potency,se,df."
    ),
    method: str = typer.Option("auto", "--method", help="auto, weighted, semi-weighted or unweighted."),
    ci_level: float = typer.Option(
        0.95, "--ci-level", help="Confidence level of the assays' and combined limits."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Combine independent assays of one preparation (Ph. Eur. 5.3 section 6)."""
    with refusals():
        if method not in METHOD_CHOICES:
            raise BadInput(f"--method must be one of {', '.join(METHOD_CHOICES)}, not {method!r}")
        rows = _read_csv(file, ("assay",))
        columns = set(rows[0])
        estimates = []
        for line, row in enumerate(rows, start=2):
            df_text = row.get("df", "")
            df = int(_number(df_text, "df", line)) if df_text else None
            if {"relative_potency", "ci_low", "ci_high"} <= columns:
                estimates.append(
                    AssayEstimate.from_interval(
                        row["assay"],
                        _number(row["relative_potency"], "relative_potency", line),
                        _number(row["ci_low"], "ci_low", line),
                        _number(row["ci_high"], "ci_high", line),
                        df=df,
                        ci_level=ci_level,
                    )
                )
            elif {"log_potency", "se"} <= columns:
                estimates.append(
                    AssayEstimate(
                        row["assay"],
                        _number(row["log_potency"], "log_potency", line),
                        _number(row["se"], "se", line),
                        df,
                    )
                )
            else:
                raise BadInput(
                    f"{file}: give columns assay,relative_potency,ci_low,ci_high or assay,log_potency,se,df"
                )
        result = combine_assays(estimates, method=method, ci_level=ci_level)
        report = _combination_report(result)

    def render(payload: dict[str, Any]) -> None:
        low, high = payload["ci"]
        console.print(
            f"combined relative potency {payload['relative_potency']:.4g} ({low:.4g} - {high:.4g}, "
            f"{payload['ci_level']:.0%}), {payload['method']}: {payload['reason']}"
        )

    emit(report, as_json, render)
