"""``secretome method`` (versioned analysis methods) and ``secretome analysis`` (analysis runs), plus
``secretome lot verify`` (every computed result of a lot recomputed from its raw files)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from secretome.cli.common import (
    EXIT_CHECK_FAILED,
    JSON_OPTION,
    BadInput,
    acting_user,
    console,
    emit,
    refusals,
    setup_django,
)

method_app = typer.Typer(
    help="Analysis methods: versioned, QA-approved engine settings.", no_args_is_help=True
)
analysis_app = typer.Typer(
    help="Analysis runs: stored instrument files through an approved method to lot results.",
    no_args_is_help=True,
)

REASON = typer.Option(..., "--reason", help="Why (audit trail).")
AS = typer.Option(None, "--as", help="The acting user.")
PASSWORD_STDIN = typer.Option(False, "--password-stdin", help="Read the password from stdin.")


def _settings_file(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BadInput(f"--settings: {path}: cannot be read ({exc.strerror})") from None
    except json.JSONDecodeError as exc:
        raise BadInput(f"--settings: {path} line {exc.lineno}: not JSON ({exc.msg})") from None
    if not isinstance(loaded, dict):
        raise BadInput(f"--settings: {path}: expected a JSON object of engine settings")
    return loaded


def _pairs(names: list[str], reasons: list[str], option: str) -> dict[str, str]:
    if len(names) != len(reasons):
        raise BadInput(
            f"{option}: each {option} needs its own --because (got {len(names)} and {len(reasons)})"
        )
    return dict(zip(names, reasons, strict=True))


def _sample_map(entries: list[str]) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for entry in entries:
        sample, sep, lot = entry.partition("=")
        if not sep or not sample.strip() or not lot.strip():
            raise BadInput(f"--sample: {entry!r} is not SAMPLE=LOT")
        mapping[sample.strip()] = lot.strip()
    return mapping


# --- methods ----------------------------------------------------------------------------------------


@method_app.command("add")
def method_add(
    code: str = typer.Argument(..., help="Method code, e.g. VEGF-ELISA (a new version when it exists)."),
    kind: str = typer.Option(..., "--kind", help="Method kind: standard-curve, relative-potency, nta, ..."),
    title: str = typer.Option("", "--title", help="Title shown on results and certificates."),
    settings: Path | None = typer.Option(None, "--settings", help="JSON file of engine settings."),
    attributes: list[str] = typer.Option(..., "--attribute", help="Specification attribute code it reports."),
    unit: str = typer.Option("", "--unit", help="Reporting unit."),
    normalisation: str = typer.Option(
        "per_ml", "--normalisation", help="none, per_ml, per_million_cells_per_24h or per_ug_protein."
    ),
    layout: str | None = typer.Option(None, "--layout", help="Plate layout NAME or NAME@VERSION."),
    summary: str = typer.Option("", "--summary", help="What changes in this version."),
    reason: str = REASON,
    acting: str | None = AS,
    password_stdin: bool = PASSWORD_STDIN,
    as_json: bool = JSON_OPTION,
) -> None:
    """Draft a new analysis method version (analyst, reviewer, qa); QA approves it."""
    setup_django()
    from secretome.services import analyses

    user = acting_user(acting, password_stdin=password_stdin)
    with refusals():
        method = analyses.draft_method(
            user,
            reason,
            code=code,
            title=title,
            kind=kind,
            settings=_settings_file(settings),
            attributes=attributes,
            reporting_unit=unit,
            normalisation=normalisation,
            layout=layout,
            change_summary=summary,
        )
        payload = analyses.method_dict(method)
    emit(
        payload, as_json, lambda p: console.print(f"method {p['code']}@{p['version']} drafted ({p['kind']})")
    )


@method_app.command("approve")
def method_approve(
    reference: str = typer.Argument(..., help="CODE@VERSION of the draft."),
    reason: str = REASON,
    acting: str | None = AS,
    password_stdin: bool = PASSWORD_STDIN,
    expect: str | None = typer.Option(None, "--expect", help="SHA-256 of the method content you reviewed."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Approve a draft method version with your electronic signature (qa)."""
    setup_django()
    from secretome.cli.lot_release import _signer
    from secretome.services import analyses

    user, password = _signer(acting, password_stdin)
    with refusals():
        method = analyses.approve_method(user, reason, reference, password, expected_sha256=expect)
        payload = analyses.method_dict(method)
    emit(payload, as_json, lambda p: console.print(f"method {p['code']}@{p['version']} approved"))


@method_app.command("list")
def method_list(
    all_versions: bool = typer.Option(False, "--all", help="Include superseded versions."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List analysis methods (approved and draft versions)."""
    setup_django()
    from secretome.services import analyses

    payload = [analyses.method_dict(m) for m in analyses.list_methods(all_versions)]

    def render(rows: list[dict[str, Any]]) -> None:
        table = Table("method", "kind", "status", "reports", "unit", "normalisation")
        for m in rows:
            table.add_row(
                f"{m['code']}@{m['version']}",
                m["kind"],
                m["status"],
                ", ".join(m["attributes"]),
                m["reporting_unit"],
                m["normalisation"],
            )
        console.print(table)

    emit(payload, as_json, render)


@method_app.command("show")
def method_show(
    reference: str = typer.Argument(..., help="CODE (approved version) or CODE@VERSION."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Show one method version with its settings and content hash."""
    setup_django()
    from secretome.services import analyses

    with refusals():
        payload = analyses.method_dict(analyses.get_method(reference, approved_only=False))

    def render(p: dict[str, Any]) -> None:
        console.print(f"[bold]{p['code']}@{p['version']}[/bold] {p['title']} ({p['kind']}, {p['status']})")
        console.print(f"reports: {', '.join(p['attributes'])}  unit: {p['reporting_unit'] or '-'}")
        console.print(f"normalisation: {p['normalisation']}  layout: {p['layout'] or '-'}")
        console.print(f"content SHA-256: {p['content_sha256']}", highlight=False)
        console.print_json(json.dumps(p["settings"]))

    emit(payload, as_json, render)


# --- runs -------------------------------------------------------------------------------------------


def _render_run(p: dict[str, Any]) -> None:
    console.print(f"[bold]{p['number']}[/bold] {p['method']} ({p['kind']}): {p['status']}")
    for item in p["inputs"]:
        console.print(f"input: import #{item['import']} sha256 {item['sha256']}", highlight=False)
    table = Table("lot", "attribute", "value", "unit", "flags")
    for r in p["reportables"]:
        value = (
            "-"
            if r["value"] is None
            else f"{r['qualifier'] if r['qualifier'] != '=' else ''}{r['value']:.6g}"
        )
        table.add_row(r["lot"], r["attribute"], value, r["unit"], "; ".join(r["flags"]))
    console.print(table)
    for flag in p["flags"]:
        console.print(f"flag: {flag}", highlight=False)
    for decision in p["decision_log"]:
        console.print(f"{decision['action']} {decision['target']}: {decision['reason']}", highlight=False)


@analysis_app.command("run")
def run(
    imports: list[str] = typer.Argument(..., help="Instrument imports: ids or raw-file SHA-256s."),
    method: str = typer.Option(..., "--method", help="Method CODE (approved version) or CODE@VERSION."),
    lot: str | None = typer.Option(None, "--lot", help="The lot the run reports for."),
    exclude: list[str] = typer.Option([], "--exclude", help="Well to leave out (WELL or IMPORT:WELL)."),
    because: list[str] = typer.Option([], "--because", help="Why, one per --exclude."),
    samples: list[str] = typer.Option(
        [], "--sample", help="SAMPLE=LOT for samples not named like their lot."
    ),
    reason: str = typer.Option("analysis", "--reason", help="Why (audit trail)."),
    acting: str | None = AS,
    password_stdin: bool = PASSWORD_STDIN,
    as_json: bool = JSON_OPTION,
) -> None:
    """Analyse stored instrument imports with an approved method; the run is stored as a draft."""
    setup_django()
    from secretome.services import analyses

    user = acting_user(acting, password_stdin=password_stdin)
    with refusals():
        stored = analyses.analyse(
            user,
            reason,
            imports,
            method,
            lot,
            exclude=_pairs(exclude, because, "--exclude"),
            sample_lots=_sample_map(samples),
        )
        payload = analyses.run_dict(stored, with_result=False)
    emit(payload, as_json, _render_run)


@analysis_app.command("exclude")
def exclude_well(
    run_number: str = typer.Argument(..., help="The draft run."),
    wells: list[str] = typer.Argument(..., help="Wells to leave out (WELL or IMPORT:WELL)."),
    because: str = typer.Option(..., "--because", help="Why they are left out."),
    reason: str = typer.Option("re-analysis", "--reason", help="Why (audit trail)."),
    acting: str | None = AS,
    password_stdin: bool = PASSWORD_STDIN,
    as_json: bool = JSON_OPTION,
) -> None:
    """Re-analyse a draft run without some wells: a new draft run that supersedes it."""
    setup_django()
    from secretome.services import analyses

    user = acting_user(acting, password_stdin=password_stdin)
    with refusals():
        stored = analyses.reanalyse(user, reason, run_number, exclude={w: because for w in wells})
        payload = analyses.run_dict(stored, with_result=False)
    emit(payload, as_json, _render_run)


@analysis_app.command("show")
def show(
    run_number: str = typer.Argument(..., help="Run number, e.g. AR-2026-0001."),
    full: bool = typer.Option(False, "--full", help="Include the engine's complete result."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Show a run: method, inputs with SHA-256, decisions, reported values, flags."""
    setup_django()
    from secretome.services import analyses

    with refusals():
        payload = analyses.run_dict(analyses.get_run(run_number), with_result=full)
    emit(payload, as_json, _render_run)


@analysis_app.command("list")
def list_runs(
    lot: str | None = typer.Option(None, "--lot", help="Only runs that report for this lot."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List analysis runs, newest first."""
    setup_django()
    from secretome.services import analyses

    payload = [analyses.run_dict(r, with_result=False) for r in analyses.list_runs(lot)]

    def render(rows: list[dict[str, Any]]) -> None:
        table = Table("run", "method", "status", "lots", "by", "at")
        for r in rows:
            table.add_row(
                r["number"], r["method"], r["status"], ", ".join(r["lots"]), r["created_by"], r["created_at"]
            )
        console.print(table)

    emit(payload, as_json, render)


@analysis_app.command("accept")
def accept(
    run_number: str = typer.Argument(..., help="The draft run to accept."),
    reason: str = typer.Option("analysis accepted", "--reason", help="Why (audit trail)."),
    acting: str | None = AS,
    password_stdin: bool = PASSWORD_STDIN,
    as_json: bool = JSON_OPTION,
) -> None:
    """Accept a draft run: its values become the lots' results, each linked to the run and raw file."""
    setup_django()
    from secretome.services import analyses

    user = acting_user(acting, password_stdin=password_stdin)
    with refusals():
        results = analyses.accept_run(user, reason, run_number)
        payload = {
            "run": run_number,
            "results": [
                {
                    "result": r.pk,
                    "lot": r.lot.number,
                    "attribute": r.attribute.code,
                    "value": r.value,
                    "qualifier": r.qualifier,
                }
                for r in results
            ],
        }
    emit(
        payload,
        as_json,
        lambda p: console.print(f"{p['run']} accepted: {len(p['results'])} result(s) recorded"),
    )


@analysis_app.command("return")
def send_back(
    run_number: str = typer.Argument(..., help="The run to send back."),
    reason: str = REASON,
    acting: str | None = AS,
    password_stdin: bool = PASSWORD_STDIN,
    as_json: bool = JSON_OPTION,
) -> None:
    """Send a run back to the analyst (reviewer, qa); results of an accepted run are invalidated."""
    setup_django()
    from secretome.services import analyses

    user = acting_user(acting, password_stdin=password_stdin)
    with refusals():
        stored = analyses.return_run(user, reason, run_number)
        payload = analyses.run_dict(stored, with_result=False)
    emit(payload, as_json, _render_run)


@analysis_app.command("verify")
def verify(
    run_number: str = typer.Argument(..., help="The run to recompute."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Recompute a run from its stored raw files and compare every stored number; exit 1 on any difference."""
    setup_django()
    from secretome.services import analyses

    with refusals():
        payload = analyses.verify_run(run_number).to_dict()

    def render(p: dict[str, Any]) -> None:
        verdict = "[green]recomputed: every number matches[/green]" if p["match"] else "[red]MISMATCH[/red]"
        console.print(f"{p['run']} ({p['method']}): {verdict}")
        for problem in p["problems"]:
            console.print(f"problem: {problem}", highlight=False)
        for m in p["mismatches"]:
            console.print(f"differs: {m['path']}: {m['stored']!r} -> {m['recomputed']!r}", highlight=False)

    emit(payload, as_json, render)
    if not payload["match"]:
        raise typer.Exit(EXIT_CHECK_FAILED)


def lot_verify(
    lot: str = typer.Argument(..., help="Lot number."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Recompute every computed result of a lot from its raw files; exit 1 when any does not match."""
    setup_django()
    from secretome.services import analyses

    with refusals():
        report = analyses.verify_lot(lot)
        payload = report.to_dict()

    def render(p: dict[str, Any]) -> None:
        table = Table("attribute", "result", "run", "stored", "recomputed", "match")
        for r in p["results"]:
            table.add_row(
                r["attribute"],
                str(r["result"]),
                r["analysis_run"] or "-",
                r["stored"],
                "-" if r["recomputed"] is None else f"{r['recomputed']:.10g}",
                "yes" if r["match"] else f"NO: {r['problem']}",
            )
        console.print(table)
        console.print(f"{p['lot']}: {p['verified']} verified, {p['failed']} failed")

    emit(payload, as_json, render)
    if report.failed:
        raise typer.Exit(EXIT_CHECK_FAILED)


def register(app: typer.Typer, lot_app: typer.Typer) -> None:
    """Attach ``method``, ``analysis`` and ``lot verify`` to the command line."""
    app.add_typer(method_app, name="method")
    app.add_typer(analysis_app, name="analysis")
    lot_app.command("verify")(lot_verify)
