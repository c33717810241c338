"""Conditioning runs, CM lots and their processing steps; passage compliance and the genealogy trace."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from secretome.db.genealogy.models import (
    ConditioningRun,
    Deviation,
    DeviationKind,
    Lot,
    Passage,
    ProcessingStep,
    ProcessRecipe,
    StepKind,
    StorageCondition,
)
from secretome.domain import genealogy as rules
from secretome.domain import growth
from secretome.services.audit import record_event
from secretome.services.errors import GuardFailed, ServiceError
from secretome.services.genealogy._common import (
    acting_user_record,
    bank_by_code,
    deviation_by_number,
    donor_by_din,
    iso,
    lot_by_number,
    maybe_percent,
    maybe_positive,
    operator_for,
    passage_by_id,
    percent,
    positive,
    recipe_by_code,
    require_lab,
    run_by_id,
    snapshot,
    username,
    utc,
)
from secretome.services.genealogy._culture import (
    current_observations,
    growth_of,
    lineage,
    lineages,
    passage_dict,
    senescence_of,
)
from secretome.services.genealogy._donors import donor_dict, refuse_ineligible
from secretome.services.genealogy._recipes import (
    create_deviation,
    deviation_dict,
    limit_in_force,
    passage_limit,
    passage_policies,
    recipe_dict,
    senescence_rules,
)
from secretome.services.record_lock import (
    flag_late_entry,
    late_entries_of,
    lock_lot_row,
    refuse_if_locked,
)
from secretome.services.users import Actor

RUN_FIELDS = [
    "product",
    "started_at",
    "confluence_percent",
    "viable_cells_at_start",
    "medium",
    "medium_lot",
    "volume_ml",
    "planned_hours",
    "o2_percent",
    "priming_agent",
    "priming_ng_per_ml",
    "priming_hours",
    "operator",
]
LOT_FIELDS = [
    "number",
    "tissue_source",
    "product",
    "collected_at",
    "viable_cells_at_collection",
    "viability_at_collection_percent",
    "harvest_volume_ml",
    "storage",
    "storage_location",
]
STEP_FIELDS = [
    "sequence",
    "kind",
    "performed_at",
    "volume_in_ml",
    "volume_out_ml",
    "g_force",
    "minutes",
    "pore_size_um",
    "mwco_kda",
    "cryoprotectant",
    "consumable_lot",
    "note",
]


def passage_verdict(
    passage: Passage,
    product: str,
    curve: growth.GrowthCurve | None = None,
    limit: rules.PassageLimit | None = None,
) -> rules.PassageVerdict:
    """Are the cells of ``passage`` within the passage restriction of their tissue source and product?

    ``curve`` is the lineage's growth and ``limit`` the restriction in force when the caller has them
    already (it saves walking the lineage and reading the policies again).
    """
    curve = curve or growth_of(lineage(passage))
    limit = limit or passage_limit(passage.donor.tissue_source, product)
    return rules.check_passage(limit, passage.number, curve.cpd, curve.cpd_complete)


def recipe_departures(
    recipe: ProcessRecipe, *, medium: str, o2_percent: float, planned_hours: float
) -> list[str]:
    """Where a conditioning run departs from its recipe."""
    departures = []
    if medium.strip().lower() != recipe.conditioning_medium.lower():
        departures.append(f"medium {medium.strip()!r} instead of {recipe.conditioning_medium!r}")
    if abs(o2_percent - recipe.o2_percent) > 0.5:
        departures.append(f"O2 {o2_percent:g} % instead of {recipe.o2_percent:g} %")
    if abs(planned_hours - recipe.conditioning_hours) > 0.5:
        departures.append(f"{planned_hours:g} h instead of {recipe.conditioning_hours:g} h")
    return departures


@transaction.atomic
def start_conditioning_run(
    actor: Actor,
    reason: str,
    *,
    passage_id: int,
    recipe: str,
    started_at: dt.datetime,
    confluence_percent: float,
    viable_cells_at_start: float,
    medium: str,
    medium_lot: str,
    volume_ml: float,
    planned_hours: float,
    o2_percent: float,
    recipe_version: int | None = None,
    product: str = "MSC-CM",
    priming_agent: str = "",
    priming_ng_per_ml: float | None = None,
    priming_hours: float | None = None,
    deviation: str | None = None,
    operator: str | None = None,
) -> ConditioningRun:
    """Start serum-free conditioning of a passage's culture.

    Refused when the donor is not eligible, and when the cells are over the passage restriction unless
    ``deviation`` names a QA-approved over-passage deviation for this passage, not used by another run;
    that deviation is then linked to the run and carried by its lot. A departure from the recipe's
    conditioning medium, O2 or duration raises an open recipe deviation on the run.
    """
    require_lab(actor)
    user = acting_user_record(actor)
    passage = passage_by_id(passage_id)
    refuse_ineligible(passage.donor, "conditioning", require_eligible=True)
    started_at = utc("started_at", started_at)
    if started_at < passage.seeded_at:
        raise ServiceError("started_at: before the passage was seeded")
    if passage.harvested_at is not None:
        raise GuardFailed(
            f"passage #{passage.pk} (P{passage.number}) was harvested; condition the culture seeded from it"
        )
    followed = recipe_by_code(recipe, recipe_version)
    product = product.strip() or "MSC-CM"
    verdict = passage_verdict(passage, product)
    covering: Deviation | None = None
    if deviation is not None:
        covering = deviation_by_number(deviation)
        if covering.kind != DeviationKind.OVER_PASSAGE or covering.passage_id != passage.pk:
            raise ServiceError(
                f"deviation {covering.number} does not cover over-passage use of passage #{passage.pk}"
            )
        if not covering.approved:
            raise GuardFailed(
                f"deviation {covering.number} is not approved by QA ({covering.decision or 'open'})"
            )
        if covering.conditioning_run_id is not None:
            raise GuardFailed(
                f"deviation {covering.number} already covers conditioning run #{covering.conditioning_run_id}"
            )
    if not verdict.within_limit and covering is None:
        raise GuardFailed(
            f"passage #{passage.pk}: {'; '.join(verdict.reasons)} ({passage.donor.tissue_source}, {product}); "
            "conditioning needs a QA-approved over-passage deviation"
        )
    if not medium_lot.strip():
        raise ServiceError("medium_lot: record the conditioning medium lot")
    if priming_agent.strip() and (priming_ng_per_ml is None or priming_hours is None):
        raise ServiceError("priming: give the priming agent's concentration (ng/mL) and time (h)")
    run = ConditioningRun.objects.create(
        passage=passage,
        recipe=followed,
        product=product,
        started_at=started_at,
        confluence_percent=percent("confluence_percent", confluence_percent),
        viable_cells_at_start=positive("viable_cells_at_start", viable_cells_at_start),
        medium=medium.strip(),
        medium_lot=medium_lot.strip(),
        volume_ml=positive("volume_ml", volume_ml),
        planned_hours=positive("planned_hours", planned_hours),
        o2_percent=percent("o2_percent", o2_percent),
        priming_agent=priming_agent.strip(),
        priming_ng_per_ml=maybe_positive("priming_ng_per_ml", priming_ng_per_ml),
        priming_hours=maybe_positive("priming_hours", priming_hours),
        operator=operator_for(user, operator),
        recorded_at=timezone.now(),
        recorded_by=user,
    )
    after = run_dict(run)
    after["passage_verdict"] = verdict.to_dict()
    record_event(actor, "create", "conditioning_run", run.pk, reason, None, after)
    flag_late_entry(
        user,
        record_type="conditioning_run",
        record_id=run.pk,
        action="start conditioning",
        field="started_at",
        occurred_at=started_at,
    )
    if covering is not None:
        before = deviation_dict(covering)
        covering.conditioning_run = run
        covering.save(update_fields=["conditioning_run"])
        record_event(actor, "link", "deviation", covering.number, reason, before, deviation_dict(covering))
    departures = recipe_departures(
        followed, medium=medium, o2_percent=o2_percent, planned_hours=planned_hours
    )
    if departures:
        create_deviation(
            actor,
            reason,
            user=user,
            kind=DeviationKind.RECIPE,
            description=f"Conditioning run #{run.pk} departs from {followed}: " + "; ".join(departures),
            passage=passage,
            run=run,
        )
    return run


def run_dict(run: ConditioningRun) -> dict[str, Any]:
    values = snapshot(run, RUN_FIELDS)
    values.update(id=run.pk, passage=run.passage_id, recipe=str(run.recipe))
    return values


def _next_lot_number(tissue_source: str, year: int) -> str:
    prefix = rules.lot_number_prefix(tissue_source, year)
    existing = list(Lot.objects.filter(number__startswith=prefix).values_list("number", flat=True))
    return rules.lot_number(tissue_source, year, rules.next_sequence(existing, prefix))


@transaction.atomic
def record_lot(
    actor: Actor,
    reason: str,
    *,
    run_id: int,
    collected_at: dt.datetime,
    viable_cells_at_collection: float,
    harvest_volume_ml: float,
    storage: str,
    viability_at_collection_percent: float | None = None,
    storage_location: str = "",
) -> Lot:
    """Collect a conditioning run's medium as a CM lot with a generated, unique number."""
    require_lab(actor)
    user = acting_user_record(actor)
    run = run_by_id(run_id)
    if Lot.objects.filter(conditioning_run=run).exists():
        raise ServiceError(f"conditioning run #{run.pk} already yielded lot {run.lot.number}")
    collected_at = utc("collected_at", collected_at)
    if collected_at <= run.started_at:
        raise ServiceError("collected_at: must be after the run started")
    if storage not in StorageCondition.values:
        raise ServiceError(f"storage: {storage!r} is not one of {', '.join(StorageCondition.values)}")
    donor = run.passage.donor
    lot = Lot.objects.create(
        number=_next_lot_number(donor.tissue_source, collected_at.year),
        conditioning_run=run,
        donor=donor,
        tissue_source=donor.tissue_source,
        product=run.product,
        collected_at=collected_at,
        viable_cells_at_collection=positive("viable_cells_at_collection", viable_cells_at_collection),
        viability_at_collection_percent=maybe_percent(
            "viability_at_collection_percent", viability_at_collection_percent
        ),
        harvest_volume_ml=positive("harvest_volume_ml", harvest_volume_ml),
        storage=storage,
        storage_location=storage_location.strip(),
        created_at=timezone.now(),
        created_by=user,
    )
    after = snapshot(lot, LOT_FIELDS)
    after.update(conditioning_run=run.pk, din=donor.din)
    record_event(actor, "create", "lot", lot.number, reason, None, after)
    flag_late_entry(
        user,
        record_type="lot",
        record_id=lot.number,
        action="record lot",
        field="collected_at",
        occurred_at=collected_at,
        lot=lot,
    )
    return lot


@transaction.atomic
def add_processing_step(
    actor: Actor,
    reason: str,
    *,
    lot: str,
    kind: str,
    performed_at: dt.datetime,
    volume_in_ml: float,
    volume_out_ml: float,
    g_force: float | None = None,
    minutes: float | None = None,
    pore_size_um: float | None = None,
    mwco_kda: float | None = None,
    cryoprotectant: str = "",
    consumable_lot: str = "",
    note: str = "",
) -> ProcessingStep:
    """Append the next downstream processing step of a lot (clarification, filtration, ultrafiltration, ...)."""
    require_lab(actor)
    user = acting_user_record(actor)
    record = lot_by_number(lot)
    refuse_if_locked(lock_lot_row(record.number), "add processing step")
    if kind not in StepKind.values:
        raise ServiceError(f"kind: {kind!r} is not one of {', '.join(StepKind.values)}")
    performed_at = utc("performed_at", performed_at)
    if performed_at < record.collected_at:
        raise ServiceError("performed_at: before the lot was collected")
    if kind == StepKind.ULTRAFILTRATION and mwco_kda is None:
        raise ServiceError("mwco_kda: ultrafiltration needs the membrane's molecular-weight cut-off")
    if kind == StepKind.FILTRATION and pore_size_um is None:
        raise ServiceError("pore_size_um: filtration needs the pore size (e.g. 0.22)")
    volume_in = positive("volume_in_ml", volume_in_ml) or 0.0
    volume_out = positive("volume_out_ml", volume_out_ml) or 0.0
    if volume_out > volume_in and kind != StepKind.LYOPHILIZATION:
        raise ServiceError("volume_out_ml: more than went in")
    last = ProcessingStep.objects.filter(lot=record).order_by("-sequence").first()
    step = ProcessingStep.objects.create(
        lot=record,
        sequence=1 if last is None else last.sequence + 1,
        kind=kind,
        performed_at=performed_at,
        volume_in_ml=volume_in,
        volume_out_ml=volume_out,
        g_force=maybe_positive("g_force", g_force),
        minutes=maybe_positive("minutes", minutes),
        pore_size_um=maybe_positive("pore_size_um", pore_size_um),
        mwco_kda=maybe_positive("mwco_kda", mwco_kda),
        cryoprotectant=cryoprotectant.strip(),
        consumable_lot=consumable_lot.strip(),
        note=note.strip(),
        recorded_at=timezone.now(),
        recorded_by=user,
    )
    record_event(
        actor,
        "create",
        "processing_step",
        f"{record.number}/{step.sequence}",
        reason,
        None,
        snapshot(step, STEP_FIELDS),
    )
    flag_late_entry(
        user,
        record_type="processing_step",
        record_id=f"{record.number}/{step.sequence}",
        action="add processing step",
        field="performed_at",
        occurred_at=performed_at,
        lot=record,
    )
    return step


def dose_bases_of(lot: Lot) -> growth.DoseBases:
    """Cell-equivalents per mL and cell-hours, scaled by the lot's ultrafiltration steps."""
    run = lot.conditioning_run
    hours = (lot.collected_at - run.started_at).total_seconds() / 3600
    steps = [
        (s.volume_in_ml, s.volume_out_ml)
        for s in lot.processing_steps.order_by("sequence")
        if s.kind == StepKind.ULTRAFILTRATION
    ]
    return growth.dose_bases(lot.viable_cells_at_collection, hours, lot.harvest_volume_ml, steps)


@dataclass(frozen=True)
class PassageCompliance:
    """The answer to "was this lot made from over-passage cells, and is there an approved deviation?"."""

    lot: str
    over_limit: bool
    verdict: rules.PassageVerdict
    approved_deviations: tuple[str, ...]

    @property
    def compliant(self) -> bool:
        """Within the limit, or over it with a QA-approved over-passage deviation for the run."""
        return not self.over_limit or bool(self.approved_deviations)

    def to_dict(self) -> dict[str, Any]:
        return {
            "lot": self.lot,
            "over_limit": self.over_limit,
            "compliant": self.compliant,
            "approved_deviations": list(self.approved_deviations),
            "verdict": self.verdict.to_dict(),
        }


def passage_compliance(lot: Lot | str, curve: growth.GrowthCurve | None = None) -> PassageCompliance:
    """Whether a lot was made from cells over the passage restriction, and which approved deviations cover it.

    Judged against the policy in force now, so a tightened policy shows up on lots not yet released.
    """
    record = lot_by_number(lot) if isinstance(lot, str) else lot
    run = record.conditioning_run
    covering = Deviation.objects.filter(conditioning_run=run, kind=DeviationKind.OVER_PASSAGE)
    return _compliance(record, passage_verdict(run.passage, run.product, curve), covering)


def _compliance(lot: Lot, verdict: rules.PassageVerdict, covering: Iterable[Deviation]) -> PassageCompliance:
    """Compliance from the verdict and the run's over-passage deviations (approved ones count, by number)."""
    approved = tuple(sorted(d.number for d in covering if d.approved))
    return PassageCompliance(lot.number, not verdict.within_limit, verdict, approved)


def trace(lot: Lot | str) -> dict[str, Any]:
    """The whole chain of a lot: donor and eligibility, banks and vials, every passage with PD, CPD, PDT and
    senescence flags, the conditioning run and recipe, processing, dose bases, deviations and compliance."""
    record = lot_by_number(lot) if isinstance(lot, str) else lot
    run = record.conditioning_run
    chain = lineage(run.passage)
    curve = growth_of(chain)
    report = senescence_of(chain, curve)
    passages = []
    vials = []
    late_passages = {int(k): v for k, v in late_entries_of("passage", [p.pk for p in chain]).items()}
    for passage, derived in zip(chain, curve.passages, strict=True):
        values = passage_dict(passage)
        values.update(derived.to_dict())
        values["senescence_flags"] = [f.to_dict() for f in report.flags_for(passage.number)]
        values["banks"] = [b.code for b in passage.banks.order_by("code")]
        if passage.pk in late_passages:
            values["late_entry"] = late_passages[passage.pk]
        passages.append(values)
        if passage.source_vial is not None:
            vial = passage.source_vial
            vials.append(
                {
                    "label": vial.label,
                    "bank": vial.bank.code,
                    "bank_kind": vial.bank.kind,
                    "passage_number": vial.passage_number,
                    "cpd_at_freezing": vial.cpd_at_freezing,
                    "cpd_complete": vial.cpd_complete,
                    "thawed_for_passage": passage.pk,
                }
            )
    passage_ids = [p.pk for p in chain]
    deviations = Deviation.objects.filter(conditioning_run=run) | Deviation.objects.filter(
        passage_id__in=passage_ids
    )
    steps = [snapshot(s, STEP_FIELDS) for s in record.processing_steps.order_by("sequence")]
    late_steps = late_entries_of("processing_step", [f"{record.number}/{s['sequence']}" for s in steps])
    for step in steps:
        flag = late_steps.get(f"{record.number}/{step['sequence']}")
        if flag is not None:
            step["late_entry"] = flag
    lot_values = snapshot(record, LOT_FIELDS)
    lot_values["created_by"] = username(record.created_by)
    run_values = run_dict(run)
    run_values["recipe"] = recipe_dict(run.recipe)
    run_values["cells_at_start_per_ml"] = run.viable_cells_at_start / run.volume_ml
    return {
        "lot": lot_values,
        "donor": donor_dict(record.donor),
        "vials": vials,
        "passages": passages,
        "growth": {"cpd": curve.cpd, "cpd_complete": curve.cpd_complete},
        "senescence": {"rules": _rules_dict(), **report.to_dict()},
        "conditioning_run": run_values,
        "processing_steps": steps,
        "dose_bases": dose_bases_of(record).to_dict(),
        "deviations": [deviation_dict(d) for d in deviations.distinct().order_by("number")],
        "passage_compliance": passage_compliance(record, curve).to_dict(),
        "flags": sorted({f.rule for f in report.flags}),
        "traced_at": iso(timezone.now()),
    }


def _rules_dict() -> dict[str, Any]:
    return senescence_rules().to_dict()


def lots(*, din: str | None = None, bank: str | None = None) -> list[Lot]:
    """Lots, newest number last; made from a donor, or from cells that passed through a bank."""
    query = Lot.objects.select_related("donor", "conditioning_run__passage", "created_by").order_by("number")
    if din:
        query = query.filter(donor=donor_by_din(din))
    if bank:
        source = bank_by_code(bank)
        made_from_donor = list(query.filter(donor=source.donor))
        chains = lineages([lot.conditioning_run.passage for lot in made_from_donor])
        # Only lots whose lineage passed through a vial of this bank, not lots from sibling cultures.
        return [
            lot
            for lot, chain in zip(made_from_donor, chains, strict=True)
            if any(p.source_vial is not None and p.source_vial.bank_id == source.pk for p in chain)
        ]
    return list(query)


def lot_summary(lot: Lot) -> dict[str, Any]:
    """One row of a lot list: number, source, donor, passage, flags."""
    return lot_summaries([lot])[0]


def lot_summaries(lots: Sequence[Lot]) -> list[dict[str, Any]]:
    """:func:`lot_summary` of each lot, in the same number of queries however many lots there are.

    The facts the rows rest on are read once for all of them (the lineages, the current senescence
    observations, the senescence rules, the passage policies and the runs' over-passage deviations); the
    growth, senescence flags and passage verdict are then derived per lot by the same rules as the trace.
    Give lots loaded with their donor and run's passage (as :func:`lots` does).
    """
    if not lots:
        return []
    runs = [lot.conditioning_run for lot in lots]
    chains = lineages([run.passage for run in runs])
    observations = current_observations(p.pk for chain in chains for p in chain)
    thresholds = senescence_rules()
    policies = passage_policies()
    covering: dict[int | None, list[Deviation]] = defaultdict(list)
    for deviation in Deviation.objects.filter(
        conditioning_run_id__in=[run.pk for run in runs], kind=DeviationKind.OVER_PASSAGE
    ):
        covering[deviation.conditioning_run_id].append(deviation)
    rows = []
    for lot, run, chain in zip(lots, runs, chains, strict=True):
        curve = growth_of(chain)
        report = senescence_of(chain, curve, observations=observations, thresholds=thresholds)
        cells = chain[-1]
        limit = limit_in_force(policies, cells.donor.tissue_source, run.product)
        compliance = _compliance(lot, passage_verdict(cells, run.product, curve, limit), covering[run.pk])
        flags = sorted({f.rule for f in report.flags})
        if compliance.over_limit:
            flags.append("over-passage (deviation " + ", ".join(compliance.approved_deviations) + ")")
        rows.append(
            {
                "number": lot.number,
                "tissue_source": lot.tissue_source,
                "din": lot.donor.din,
                "passage": cells.number,
                "product": lot.product,
                "collected_at": iso(lot.collected_at),
                "harvest_volume_ml": lot.harvest_volume_ml,
                "flags": flags,
            }
        )
    return rows


def runs() -> list[ConditioningRun]:
    return list(
        ConditioningRun.objects.select_related("passage__donor", "recipe").order_by("started_at", "pk")
    )


__all__ = ["PassageCompliance"]
