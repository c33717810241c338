"""Culture records from the command line: donors, recipes, passages, banks and vials, policies,
deviations and conditioning runs. Thin commands over :mod:`secretome.services.genealogy`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from secretome.cli.common import JSON_OPTION, BadInput, acting_user, console, emit, refusals, setup_django

AS_OPTION = typer.Option(None, "--as", help="The user recording this (or SECRETOME_USER).")
REASON_OPTION = typer.Option("recorded from the command line", "--reason", help="Why (audit trail).")

donor_app = typer.Typer(
    help="Donors: ISBT 128 DIN, tissue source, screening and eligibility.", no_args_is_help=True
)
recipe_app = typer.Typer(
    help="Process recipes: versioned culture and conditioning conditions.", no_args_is_help=True
)
passage_app = typer.Typer(help="Passages: seeding, harvest and senescence markers.", no_args_is_help=True)
bank_app = typer.Typer(help="Master and working cell banks and their vials.", no_args_is_help=True)
policy_app = typer.Typer(help="Passage restriction and senescence alert rules.", no_args_is_help=True)
deviation_app = typer.Typer(help="Deviations from policy or recipe, and QA decisions.", no_args_is_help=True)
run_app = typer.Typer(help="Conditioning runs, their CM lots and processing steps.", no_args_is_help=True)

GROUPS = {
    "donor": donor_app,
    "recipe": recipe_app,
    "passage": passage_app,
    "bank": bank_app,
    "policy": policy_app,
    "deviation": deviation_app,
    "run": run_app,
}


def register(app: typer.Typer) -> None:
    """Add the culture-record groups to the top-level command."""
    for name, group in GROUPS.items():
        app.add_typer(group, name=name)


def parse_time(value: str | None, name: str = "time") -> dt.datetime | None:
    """An ISO 8601 time; without a zone it is taken as UTC (Secretome stores UTC)."""
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise BadInput(f"{name}: {value!r} is not an ISO 8601 time like 2026-03-01T09:00Z") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def require_time(value: str, name: str) -> dt.datetime:
    parsed = parse_time(value, name)
    assert parsed is not None
    return parsed


def parse_day(value: str | None, name: str = "date") -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise BadInput(f"{name}: {value!r} is not a date like 2026-03-01") from None


def require_day(value: str, name: str) -> dt.date:
    parsed = parse_day(value, name)
    assert parsed is not None
    return parsed


def _write(
    acting: str | None, as_json: bool, action: Callable[[Any], Any], render: Callable[[Any], None]
) -> None:
    """Authenticate, run one use case, print its answer."""
    setup_django()
    with refusals():
        payload = action(acting_user(acting))
    emit(payload, as_json, render)


def _say(template: str) -> Callable[[Any], None]:
    return lambda payload: console.print(template.format(**payload), highlight=False)


def _table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    table = Table(*columns)
    for row in rows:
        table.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in columns))
    console.print(table)


# --- donors -------------------------------------------------------------------------------------------


@donor_app.command("add")
def donor_add(
    tissue_source: str = typer.Option(..., "--source", help="BM, AT, UC-WJ or OTHER."),
    collected_on: str = typer.Option(..., "--collected-on", help="Collection date, YYYY-MM-DD."),
    din: str | None = typer.Option(None, "--din", help="Scanned or typed DIN (with or without check)."),
    facility: str | None = typer.Option(None, "--facility", help="Facility code to generate the next DIN."),
    consent_date: str | None = typer.Option(None, "--consent-date", help="Date consent was obtained."),
    acting: str | None = AS_OPTION,
    reason: str = REASON_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Register a donation by DIN (validated) or generate the next DIN for a facility."""

    def action(user: Any) -> Any:
        from secretome.services import genealogy as g

        donor = g.register_donor(
            user,
            reason,
            tissue_source=tissue_source,
            collected_on=require_day(collected_on, "collected_on"),
            consent_obtained=consent_date is not None,
            consent_date=parse_day(consent_date, "consent_date"),
            din=din,
            facility=facility,
        )
        return g.donor_dict(donor)

    _write(acting, as_json, action, _say("registered donor {din} {check_character} ({tissue_source})"))


@donor_app.command("screen")
def donor_screen(
    din: str = typer.Argument(..., help="Donor DIN."),
    marker: str = typer.Option(..., "--marker", help="HIV-1/2, HBV, HCV, syphilis or HTLV-I/II."),
    outcome: str = typer.Option(..., "--outcome", help="negative, positive or indeterminate."),
    method: str = typer.Option(..., "--method", help="Assay, e.g. NAT or CMIA."),
    tested_on: str = typer.Option(..., "--tested-on", help="Test date, YYYY-MM-DD."),
    supersedes: int | None = typer.Option(None, "--supersedes", help="Id of the result this corrects."),
    acting: str | None = AS_OPTION,
    reason: str = REASON_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Record an infectious-disease screening result of a donor."""

    def action(user: Any) -> Any:
        from secretome.services import genealogy as g

        screening = g.record_screening(
            user,
            reason,
            din=din,
            marker=marker,
            method=method,
            outcome=outcome,
            tested_on=require_day(tested_on, "tested_on"),
            supersedes=supersedes,
        )
        return g.screening_dict(screening)

    _write(acting, as_json, action, _say("recorded {marker} {outcome} for {din} (#{id})"))


@donor_app.command("eligibility")
def donor_eligibility(
    din: str = typer.Argument(..., help="Donor DIN."),
    decision: str = typer.Option(..., "--decision", help="eligible or ineligible."),
    rationale: str = typer.Option(..., "--rationale", help="What the determination rests on."),
    acting: str | None = AS_OPTION,
    reason: str = REASON_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """QA: determine donor eligibility (eligible needs consent and every marker negative)."""

    def action(user: Any) -> Any:
        from secretome.services import genealogy as g

        donor = g.determine_eligibility(user, reason, din=din, decision=decision, rationale=rationale).donor
        return {"din": donor.din, **g.eligibility(donor)}

    _write(acting, as_json, action, _say("{din}: {status}"))


@donor_app.command("list")
def donor_list(as_json: bool = JSON_OPTION) -> None:
    """List donors with tissue source and eligibility."""
    setup_django()
    from secretome.services import genealogy as g

    rows = [g.donor_dict(d) for d in g.donors()]
    for row in rows:
        row["status"] = row["eligibility"]["status"]
    emit(
        rows,
        as_json,
        lambda r: _table(r, ["din", "check_character", "tissue_source", "collected_on", "status"]),
    )


# --- recipes ------------------------------------------------------------------------------------------


@recipe_app.command("add")
def recipe_add(
    code: str = typer.Argument(..., help="Recipe code; a new version if it exists."),
    title: str = typer.Option(..., "--title", help="What the recipe is for."),
    basal_medium: str = typer.Option(..., "--basal-medium", help="e.g. alpha-MEM."),
    supplement: str = typer.Option(..., "--supplement", help="FBS, hPL or serum-free."),
    supplement_percent: float = typer.Option(..., "--supplement-percent", help="% v/v (0 for serum-free)."),
    o2_percent: float = typer.Option(21.0, "--o2", help="O2 set-point, %."),
    seeding_density: float = typer.Option(..., "--seeding-density", help="Target cells/cm² at seeding."),
    harvest_confluence: float = typer.Option(80.0, "--harvest-confluence", help="Target confluence, %."),
    conditioning_medium: str = typer.Option(..., "--conditioning-medium", help="Serum-free medium."),
    conditioning_hours: float = typer.Option(48.0, "--conditioning-hours", help="Conditioning time, h."),
    priming: str = typer.Option("", "--priming", help="Priming agents, e.g. 'IFN-g 25 ng/mL 24 h'."),
    acting: str | None = AS_OPTION,
    reason: str = REASON_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Write a recipe (or its next version); QA approves it before use."""

    def action(user: Any) -> Any:
        from secretome.services import genealogy as g

        recipe = g.create_recipe(
            user,
            reason,
            code=code,
            title=title,
            basal_medium=basal_medium,
            supplement=supplement,
            supplement_percent=supplement_percent,
            o2_percent=o2_percent,
            seeding_density_per_cm2=seeding_density,
            harvest_confluence_percent=harvest_confluence,
            conditioning_medium=conditioning_medium,
            conditioning_hours=conditioning_hours,
            priming_agents=priming,
        )
        return g.recipe_dict(recipe)

    _write(acting, as_json, action, _say("recipe {code} v{version} written; awaiting QA approval"))


@recipe_app.command("approve")
def recipe_approve(
    code: str = typer.Argument(..., help="Recipe code."),
    version: int = typer.Option(..., "--version", help="Version to approve."),
    acting: str | None = AS_OPTION,
    reason: str = REASON_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """QA: approve a recipe version (not one's own)."""

    def action(user: Any) -> Any:
        from secretome.services import genealogy as g

        return g.recipe_dict(g.approve_recipe(user, reason, code=code, version=version))

    _write(acting, as_json, action, _say("recipe {code} v{version} approved by {approved_by}"))


@recipe_app.command("list")
def recipe_list(as_json: bool = JSON_OPTION) -> None:
    """List recipe versions and their approval."""
    setup_django()
    from secretome.services import genealogy as g

    rows = [g.recipe_dict(r) for r in g.recipes()]
    emit(
        rows,
        as_json,
        lambda r: _table(r, ["code", "version", "title", "supplement", "o2_percent", "approved_by"]),
    )


# --- passages -----------------------------------------------------------------------------------------


@passage_app.command("add")
def passage_add(
    recipe: str = typer.Option(..., "--recipe", help="Recipe code (latest approved version)."),
    seeded_at: str = typer.Option(..., "--seeded-at", help="Seeding time, ISO 8601 (UTC)."),
    growth_area: float = typer.Option(..., "--area", help="Growth area, cm²."),
    medium_lot: str = typer.Option(..., "--medium-lot", help="Medium lot."),
    din: str | None = typer.Option(None, "--din", help="Isolation (P0) from this donor."),
    parent: int | None = typer.Option(None, "--from-passage", help="Seeded from this passage's harvest."),
    vial: str | None = typer.Option(None, "--from-vial", help="Seeded from this thawed vial."),
    cells_seeded: float | None = typer.Option(None, "--seeded", help="Viable cells seeded."),
    vessel: str = typer.Option("", "--vessel", help="e.g. '2 x T175'."),
    supplement_lot: str = typer.Option("", "--supplement-lot", help="Supplement lot."),
    operator: str | None = typer.Option(None, "--operator", help="Username of the operator (default: --as)."),
    harvested: float | None = typer.Option(None, "--harvested", help="Viable cells harvested."),
    harvested_at: str | None = typer.Option(None, "--harvested-at", help="Harvest time, ISO 8601."),
    viability: float | None = typer.Option(None, "--viability", help="Viability at harvest, %."),
    acting: str | None = AS_OPTION,
    reason: str = REASON_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Record a passage: isolation (--din), from a passage (--from-passage) or a vial (--from-vial)."""

    def action(user: Any) -> Any:
        from secretome.services import genealogy as g

        passage = g.record_passage(
            user,
            reason,
            recipe=recipe,
            vessel=vessel,
            growth_area_cm2=growth_area,
            seeded_at=require_time(seeded_at, "seeded_at"),
            medium_lot=medium_lot,
            cells_seeded=cells_seeded,
            din=din,
            parent_id=parent,
            vial=vial,
            supplement_lot=supplement_lot,
            operator=operator,
            cells_harvested=harvested,
            viability_percent=viability,
            harvested_at=parse_time(harvested_at, "harvested_at"),
        )
        return g.passage_dict(passage)

    _write(acting, as_json, action, _say("passage #{id}: P{number} of {din}"))


@passage_app.command("harvest")
def passage_harvest(
    passage_id: int = typer.Argument(..., help="Passage id."),
    harvested_at: str = typer.Option(..., "--harvested-at", help="Harvest time, ISO 8601."),
    harvested: float | None = typer.Option(None, "--harvested", help="Viable cells harvested."),
    viability: float | None = typer.Option(None, "--viability", help="Viability, %."),
    counter_file: Path | None = typer.Option(
        None, "--counter-file", help="Cell-counter export to read instead."
    ),
    volume_ml: float | None = typer.Option(None, "--volume", help="Suspension volume counted, mL."),
    sample: str | None = typer.Option(None, "--sample", help="Sample in the counter file."),
    acting: str | None = AS_OPTION,
    reason: str = REASON_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Record a passage's harvest (once): a count, or a cell-counter file x suspension volume."""

    def action(user: Any) -> Any:
        from secretome.services import genealogy as g

        when = require_time(harvested_at, "harvested_at")
        if counter_file is not None:
            if volume_ml is None:
                raise BadInput("--volume: the suspension volume the counter's density is multiplied by")
            try:
                content = counter_file.read_bytes()
            except OSError as exc:
                raise BadInput(f"--counter-file: cannot read {counter_file}: {exc.strerror}") from None
            passage = g.record_harvest_from_counter(
                user, reason, passage_id=passage_id, filename=counter_file.name, content=content,
                harvested_at=when, suspension_volume_ml=volume_ml, sample=sample,
            )  # fmt: skip
        else:
            if harvested is None:
                raise BadInput("--harvested: give the viable cells harvested, or --counter-file")
            passage = g.record_harvest(
                user, reason, passage_id=passage_id, cells_harvested=harvested, harvested_at=when,
                viability_percent=viability,
            )  # fmt: skip
        return g.passage_dict(passage)

    _write(acting, as_json, action, _say("passage #{id} harvested: {cells_harvested:.3g} viable cells"))


@passage_app.command("senescence")
def passage_senescence(
    passage_id: int = typer.Argument(..., help="Passage id."),
    observed_on: str = typer.Option(..., "--observed-on", help="Date, YYYY-MM-DD."),
    sa_beta_gal: float | None = typer.Option(None, "--sa-beta-gal", help="SA-β-gal % positive."),
    cells_counted: int | None = typer.Option(None, "--cells-counted", help="Cells counted (>= 200)."),
    morphology: str = typer.Option("", "--morphology", help="spindle, mixed or enlarged."),
    p16: float | None = typer.Option(None, "--p16", help="p16 fold change vs reference."),
    p21: float | None = typer.Option(None, "--p21", help="p21 fold change vs reference."),
    supersedes: int | None = typer.Option(None, "--supersedes", help="Observation this corrects."),
    acting: str | None = AS_OPTION,
    reason: str = REASON_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Record senescence markers of a passage."""

    def action(user: Any) -> Any:
        from secretome.services import genealogy as g

        observation = g.record_senescence(
            user,
            reason,
            passage_id=passage_id,
            observed_on=require_day(observed_on, "observed_on"),
            sa_beta_gal_percent=sa_beta_gal,
            cells_counted=cells_counted,
            morphology=morphology,
            p16_fold=p16,
            p21_fold=p21,
            supersedes=supersedes,
        )
        return {"id": observation.pk, "passage": passage_id}

    _write(acting, as_json, action, _say("senescence observation #{id} on passage #{passage}"))


@passage_app.command("list")
def passage_list(
    din: str | None = typer.Option(None, "--donor", help="Only this donor's passages."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List passages with derived PD, CPD and PDT."""
    setup_django()
    from secretome.services import genealogy as g

    with refusals():
        rows = []
        for passage in g.passages(din):
            chain = g.lineage(passage)
            row = g.passage_dict(passage)
            row.update(g.growth_of(chain).passages[-1].to_dict())
            rows.append(row)
    emit(
        rows,
        as_json,
        lambda r: _table(r, ["id", "din", "number", "seeded_at", "population_doublings", "cumulative_pd"]),
    )


# --- banks and vials ----------------------------------------------------------------------------------


@bank_app.command("add")
def bank_add(
    passage_id: int = typer.Argument(..., help="Harvested passage to freeze."),
    kind: str = typer.Option(..., "--kind", help="MCB or WCB."),
    vials: int = typer.Option(..., "--vials", help="Number of vials."),
    cells_per_vial: float = typer.Option(..., "--cells-per-vial", help="Viable cells per vial."),
    location: str = typer.Option(..., "--location", help="Freezer, rack, box."),
    frozen_at: str = typer.Option(..., "--frozen-at", help="Freezing time, ISO 8601."),
    cryoprotectant: str = typer.Option("", "--cryoprotectant", help="e.g. 10 % DMSO."),
    acting: str | None = AS_OPTION,
    reason: str = REASON_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Freeze a harvest as a cell bank; each vial carries passage and CPD."""

    def action(user: Any) -> Any:
        from secretome.services import genealogy as g

        bank = g.bank_cells(
            user,
            reason,
            passage_id=passage_id,
            kind=kind,
            vials=vials,
            cells_per_vial=cells_per_vial,
            location=location,
            frozen_at=require_time(frozen_at, "frozen_at"),
            cryoprotectant=cryoprotectant,
        )
        return g.bank_dict(bank)

    _write(acting, as_json, action, _say("bank {code}: {vials_in_stock} vials in stock"))


@bank_app.command("list")
def bank_list(
    din: str | None = typer.Option(None, "--donor", help="Only this donor's banks."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List cell banks with vials in stock."""
    setup_django()
    from secretome.services import genealogy as g

    with refusals():
        rows = [g.bank_dict(b) for b in g.banks(din)]
    emit(rows, as_json, lambda r: _table(r, ["code", "kind", "din", "frozen_at", "vials_in_stock"]))


@bank_app.command("discard")
def bank_discard(
    label: str = typer.Argument(..., help="Vial label."),
    note: str = typer.Option("", "--note", help="Why, briefly."),
    acting: str | None = AS_OPTION,
    reason: str = REASON_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Discard a vial from the inventory (it can never be used afterwards)."""

    def action(user: Any) -> Any:
        from secretome.services import genealogy as g

        return g.vial_dict(g.discard_vial(user, reason, label=label, note=note).vial)

    _write(acting, as_json, action, _say("vial {label}: {state}"))


# --- policies ------------------------------------------------------------------------------------------


@policy_app.command("passage")
def policy_passage(
    tissue_source: str = typer.Option(..., "--source", help="BM, AT, UC-WJ or OTHER."),
    max_passage: int = typer.Option(..., "--max-passage", help="Highest passage allowed."),
    rationale: str = typer.Option(..., "--rationale", help="What the limit rests on."),
    product: str = typer.Option("", "--product", help="Only for this product (default: all)."),
    max_cpd: float | None = typer.Option(None, "--max-cpd", help="Optional CPD ceiling."),
    acting: str | None = AS_OPTION,
    reason: str = REASON_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """QA: set the passage restriction of a tissue source (and product)."""

    def action(user: Any) -> Any:
        from secretome.services import genealogy as g

        g.set_passage_policy(
            user,
            reason,
            tissue_source=tissue_source,
            max_passage=max_passage,
            rationale=rationale,
            product=product,
            max_cpd=max_cpd,
        )
        limit = g.passage_limit(tissue_source.upper(), product)
        return {"tissue_source": tissue_source.upper(), "product": product, **limit.to_dict()}

    _write(acting, as_json, action, _say("{tissue_source} {product}: max P{max_passage}, CPD {max_cpd}"))


@policy_app.command("senescence")
def policy_senescence(
    rationale: str = typer.Option(..., "--rationale", help="What the thresholds rest on."),
    sa_beta_gal: float = typer.Option(20.0, "--sa-beta-gal", help="Alert above this SA-β-gal %."),
    pdt_fold: float = typer.Option(2.0, "--pdt-fold", help="Alert when PDT exceeds this x baseline."),
    baseline_passages: int = typer.Option(3, "--baseline-passages", help="Early passages in the baseline."),
    pd_min: float = typer.Option(1.0, "--pd-min", help="Alert when PD per passage is under this."),
    p16_p21_fold: float = typer.Option(2.0, "--p16-p21-fold", help="Alert at this p16/p21 fold change."),
    acting: str | None = AS_OPTION,
    reason: str = REASON_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """QA: set the senescence alert rules."""

    def action(user: Any) -> Any:
        from secretome.services import genealogy as g

        g.set_senescence_rules(
            user,
            reason,
            rationale=rationale,
            sa_beta_gal_max_percent=sa_beta_gal,
            pdt_max_fold_over_baseline=pdt_fold,
            baseline_passages=baseline_passages,
            pd_min_per_passage=pd_min,
            p16_p21_max_fold=p16_p21_fold,
        )
        return g.senescence_rules().to_dict()

    _write(acting, as_json, action, _say("senescence rules set: SA-β-gal > {sa_beta_gal_max_percent} %"))


@policy_app.command("show")
def policy_show(as_json: bool = JSON_OPTION) -> None:
    """Show the passage limits and senescence rules in force."""
    setup_django()
    from secretome.services import genealogy as g

    payload = {
        "passage_limits": {s: g.passage_limit(s).to_dict() for s in ("BM", "AT", "UC-WJ", "OTHER")},
        "senescence_rules": g.senescence_rules().to_dict(),
    }

    def render(p: dict[str, Any]) -> None:
        for source, limit in p["passage_limits"].items():
            console.print(
                f"{source}: max P{limit['max_passage']}, CPD ceiling {limit['max_cpd']} ({limit['source']})"
            )
        console.print(f"senescence: {p['senescence_rules']}", highlight=False)

    emit(payload, as_json, render)


# --- deviations ---------------------------------------------------------------------------------------


@deviation_app.command("raise")
def deviation_raise(
    kind: str = typer.Option(..., "--kind", help="over-passage, recipe or other."),
    description: str = typer.Option(..., "--description", help="What departs from what."),
    passage_id: int | None = typer.Option(None, "--passage", help="Passage whose cells it covers."),
    lot: str | None = typer.Option(
        None, "--lot", help="Lot it concerns; once approved it can reopen the lot's record (lot reopen)."
    ),
    acting: str | None = AS_OPTION,
    reason: str = REASON_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Raise a deviation (QA decides it)."""

    def action(user: Any) -> Any:
        from secretome.services import genealogy as g

        deviation = g.raise_deviation(
            user, reason, kind=kind, description=description, passage_id=passage_id, lot=lot
        )
        return g.deviation_dict(deviation)

    _write(acting, as_json, action, _say("deviation {number} raised ({kind}); awaiting QA"))


@deviation_app.command("decide")
def deviation_decide(
    number: str = typer.Argument(..., help="Deviation number, e.g. DEV-2026-0001."),
    decision: str = typer.Option(..., "--decision", help="approved or rejected."),
    note: str = typer.Option(..., "--note", help="The basis of the decision."),
    acting: str | None = AS_OPTION,
    reason: str = REASON_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """QA: approve or reject a deviation (not one's own)."""

    def action(user: Any) -> Any:
        from secretome.services import genealogy as g

        return g.deviation_dict(g.decide_deviation(user, reason, number=number, decision=decision, note=note))

    _write(acting, as_json, action, _say("deviation {number}: {decision}"))


@deviation_app.command("list")
def deviation_list(
    open_only: bool = typer.Option(False, "--open", help="Only deviations awaiting a decision."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List deviations and their decisions."""
    setup_django()
    from secretome.services import genealogy as g

    rows = [g.deviation_dict(d) for d in g.deviations(open_only)]
    emit(rows, as_json, lambda r: _table(r, ["number", "kind", "passage", "conditioning_run", "decision"]))


# --- conditioning runs and lots -----------------------------------------------------------------------


@run_app.command("start")
def run_start(
    passage_id: int = typer.Argument(..., help="Passage whose culture is conditioned."),
    recipe: str = typer.Option(..., "--recipe", help="Recipe code (latest approved version)."),
    started_at: str = typer.Option(..., "--started-at", help="Start time, ISO 8601."),
    confluence: float = typer.Option(..., "--confluence", help="Confluence at start, %."),
    viable_cells: float = typer.Option(..., "--viable-cells", help="Viable cells at start."),
    medium: str = typer.Option(..., "--medium", help="Serum-free conditioning medium."),
    medium_lot: str = typer.Option(..., "--medium-lot", help="Medium lot."),
    volume_ml: float = typer.Option(..., "--volume", help="Medium volume, mL."),
    hours: float = typer.Option(48.0, "--hours", help="Planned duration, h."),
    o2_percent: float = typer.Option(21.0, "--o2", help="O2 set-point, %."),
    product: str = typer.Option("MSC-CM", "--product", help="Product the lot is for."),
    priming_agent: str = typer.Option("", "--priming-agent", help="e.g. IFN-g."),
    priming_ng_per_ml: float | None = typer.Option(
        None, "--priming-ng-per-ml", help="Priming concentration."
    ),
    priming_hours: float | None = typer.Option(None, "--priming-hours", help="Priming time, h."),
    deviation: str | None = typer.Option(None, "--deviation", help="Approved over-passage deviation."),
    operator: str | None = typer.Option(None, "--operator", help="Username of the operator."),
    acting: str | None = AS_OPTION,
    reason: str = REASON_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Start conditioning; refused over the passage limit without an approved deviation."""

    def action(user: Any) -> Any:
        from secretome.services import genealogy as g

        run = g.start_conditioning_run(
            user,
            reason,
            passage_id=passage_id,
            recipe=recipe,
            started_at=require_time(started_at, "started_at"),
            confluence_percent=confluence,
            viable_cells_at_start=viable_cells,
            medium=medium,
            medium_lot=medium_lot,
            volume_ml=volume_ml,
            planned_hours=hours,
            o2_percent=o2_percent,
            product=product,
            priming_agent=priming_agent,
            priming_ng_per_ml=priming_ng_per_ml,
            priming_hours=priming_hours,
            deviation=deviation,
            operator=operator,
        )
        return g.run_dict(run)

    _write(acting, as_json, action, _say("conditioning run #{id} started from passage #{passage}"))


@run_app.command("collect")
def run_collect(
    run_id: int = typer.Argument(..., help="Conditioning run id."),
    collected_at: str = typer.Option(..., "--collected-at", help="Collection time, ISO 8601."),
    viable_cells: float = typer.Option(..., "--viable-cells", help="Viable cells at collection."),
    volume_ml: float = typer.Option(..., "--volume", help="CM harvested, mL."),
    storage: str = typer.Option("-80C", "--storage", help="-80C, 2-8C or lyophilized."),
    viability: float | None = typer.Option(None, "--viability", help="Viability at collection, %."),
    location: str = typer.Option("", "--location", help="Storage location."),
    acting: str | None = AS_OPTION,
    reason: str = REASON_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Collect a run's conditioned medium as a lot (the number is generated)."""

    def action(user: Any) -> Any:
        from secretome.services import genealogy as g

        lot = g.record_lot(
            user,
            reason,
            run_id=run_id,
            collected_at=require_time(collected_at, "collected_at"),
            viable_cells_at_collection=viable_cells,
            harvest_volume_ml=volume_ml,
            storage=storage,
            viability_at_collection_percent=viability,
            storage_location=location,
        )
        return g.lot_summary(lot)

    _write(acting, as_json, action, _say("lot {number} collected ({harvest_volume_ml} mL)"))


@run_app.command("process")
def run_process(
    lot: str = typer.Argument(..., help="Lot number."),
    kind: str = typer.Option(
        ..., "--kind", help="clarification, filtration, ultrafiltration, lyophilization."
    ),
    performed_at: str = typer.Option(..., "--performed-at", help="Time, ISO 8601."),
    volume_in: float = typer.Option(..., "--volume-in", help="Volume in, mL."),
    volume_out: float = typer.Option(..., "--volume-out", help="Volume out, mL."),
    g_force: float | None = typer.Option(None, "--g-force", help="Centrifugation, x g."),
    minutes: float | None = typer.Option(None, "--minutes", help="Duration, min."),
    pore_size: float | None = typer.Option(None, "--pore-size", help="Filter pore size, µm."),
    mwco: float | None = typer.Option(None, "--mwco", help="Ultrafiltration cut-off, kDa."),
    cryoprotectant: str = typer.Option("", "--cryoprotectant", help="Lyophilization excipient."),
    consumable_lot: str = typer.Option("", "--consumable-lot", help="Filter or cassette lot."),
    acting: str | None = AS_OPTION,
    reason: str = REASON_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Record the next processing step of a lot."""

    def action(user: Any) -> Any:
        from secretome.services import genealogy as g

        step = g.add_processing_step(
            user,
            reason,
            lot=lot,
            kind=kind,
            performed_at=require_time(performed_at, "performed_at"),
            volume_in_ml=volume_in,
            volume_out_ml=volume_out,
            g_force=g_force,
            minutes=minutes,
            pore_size_um=pore_size,
            mwco_kda=mwco,
            cryoprotectant=cryoprotectant,
            consumable_lot=consumable_lot,
        )
        return {"lot": lot, "sequence": step.sequence, "kind": step.kind}

    _write(acting, as_json, action, _say("{lot} step {sequence}: {kind}"))


@run_app.command("list")
def run_list(as_json: bool = JSON_OPTION) -> None:
    """List conditioning runs."""
    setup_django()
    from secretome.services import genealogy as g

    rows = [g.run_dict(r) for r in g.runs()]
    emit(
        rows,
        as_json,
        lambda r: _table(r, ["id", "passage", "recipe", "started_at", "planned_hours", "product"]),
    )
