"""Passages, harvests, cell banks and vial inventory, senescence observations; the lineage of a passage."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from secretome.db.genealogy.models import (
    BankKind,
    CellBank,
    Morphology,
    Passage,
    SenescenceObservation,
    Vial,
    VialAction,
    VialTransaction,
)
from secretome.domain import genealogy as rules
from secretome.domain import growth
from secretome.services.audit import record_event
from secretome.services.errors import GuardFailed, ServiceError
from secretome.services.genealogy._common import (
    acting_user_record,
    donor_by_din,
    iso,
    maybe_percent,
    maybe_positive,
    operator_for,
    passage_by_id,
    past_date,
    positive,
    recipe_by_code,
    require_lab,
    snapshot,
    utc,
    vial_by_label,
)
from secretome.services.genealogy._donors import refuse_ineligible
from secretome.services.genealogy._recipes import senescence_rules
from secretome.services.record_lock import flag_late_entry, refuse_if_passage_locked
from secretome.services.users import Actor

PASSAGE_FIELDS = [
    "number",
    "vessel",
    "growth_area_cm2",
    "cells_seeded",
    "seeded_at",
    "cells_harvested",
    "viability_percent",
    "harvested_at",
    "medium_lot",
    "supplement_lot",
    "operator",
]


def passage_dict(passage: Passage) -> dict[str, Any]:
    values = snapshot(passage, PASSAGE_FIELDS)
    values.update(
        id=passage.pk,
        din=passage.donor.din,
        parent=passage.parent_id,
        source_vial=passage.source_vial.label if passage.source_vial is not None else None,
        recipe=str(passage.recipe),
        harvest_counts=None
        if passage.harvest_counts_id is None
        else {
            "instrument_import": passage.harvest_counts_id,
            "sample": passage.harvest_counts_sample,
            "suspension_ml": passage.harvest_suspension_ml,
        },
    )
    return values


@transaction.atomic
def record_passage(
    actor: Actor,
    reason: str,
    *,
    recipe: str,
    vessel: str,
    growth_area_cm2: float,
    seeded_at: dt.datetime,
    medium_lot: str,
    cells_seeded: float | None = None,
    din: str | None = None,
    parent_id: int | None = None,
    vial: str | None = None,
    recipe_version: int | None = None,
    supplement_lot: str = "",
    operator: str | None = None,
    cells_harvested: float | None = None,
    viability_percent: float | None = None,
    harvested_at: dt.datetime | None = None,
) -> Passage:
    """Seed a passage. Origin: isolation (``din``, P0), the harvest of ``parent_id`` (its number + 1) or a
    thawed ``vial`` (its passage + 1; the thaw is recorded in the same transaction). The harvest may be
    given now or later with :func:`record_harvest`."""
    require_lab(actor)
    user = acting_user_record(actor)
    origins = [o for o in (din, parent_id, vial) if o is not None]
    if len(origins) != 1:
        raise ServiceError("origin: give exactly one of din (isolation, P0), parent passage or vial")
    seeded_at = utc("seeded_at", seeded_at)
    parent = source_vial = None
    if din is not None:
        # A P0 from a tissue digest or explant may have no seeded count: its PD is then not determined.
        donor, number = donor_by_din(din), 0
    elif parent_id is not None:
        parent = passage_by_id(parent_id)
        donor, number = parent.donor, parent.number + 1
        if parent.cells_harvested is None or parent.harvested_at is None:
            raise GuardFailed(
                f"passage #{parent.pk} (P{parent.number}) has no harvest recorded; record it first"
            )
        if seeded_at < parent.harvested_at:
            raise ServiceError(f"seeded_at: before the harvest of passage #{parent.pk}")
    else:
        source_vial = vial_by_label(vial or "")
        donor, number = source_vial.bank.donor, source_vial.passage_number + 1
    refuse_ineligible(donor, "culture")
    if din is None and cells_seeded is None:
        raise ServiceError("cells_seeded: required for a passage seeded from counted cells")
    if not medium_lot.strip():
        raise ServiceError("medium_lot: record the medium lot")
    passage = Passage.objects.create(
        donor=donor,
        number=number,
        parent=parent,
        source_vial=None,
        recipe=recipe_by_code(recipe, recipe_version),
        vessel=vessel.strip() or "unspecified",
        growth_area_cm2=positive("growth_area_cm2", growth_area_cm2),
        cells_seeded=maybe_positive("cells_seeded", cells_seeded),
        seeded_at=seeded_at,
        medium_lot=medium_lot.strip(),
        supplement_lot=supplement_lot.strip(),
        operator=operator_for(user, operator),
        recorded_at=timezone.now(),
        recorded_by=user,
    )
    if source_vial is not None:
        _leave_stock(
            actor, reason, user, source_vial, VialAction.THAW, seeded_at, f"seeded passage #{passage.pk}"
        )
        passage.source_vial = source_vial
        passage.save(update_fields=["source_vial"])
    record_event(actor, "create", "passage", passage.pk, reason, None, passage_dict(passage))
    flag_late_entry(
        user,
        record_type="passage",
        record_id=passage.pk,
        action="seed passage",
        field="seeded_at",
        occurred_at=seeded_at,
    )
    if cells_harvested is not None or harvested_at is not None:
        _harvest(actor, reason, passage, cells_harvested, viability_percent, harvested_at)
    return passage


@transaction.atomic
def record_harvest(
    actor: Actor,
    reason: str,
    *,
    passage_id: int,
    cells_harvested: float,
    harvested_at: dt.datetime,
    viability_percent: float | None = None,
) -> Passage:
    """Record the harvest of a passage, once (a correction would be a new record, not an overwrite)."""
    require_lab(actor)
    acting_user_record(actor)
    return _harvest(
        actor, reason, passage_by_id(passage_id), cells_harvested, viability_percent, harvested_at
    )


def _harvest(
    actor: Actor,
    reason: str,
    passage: Passage,
    cells_harvested: float | None,
    viability_percent: float | None,
    harvested_at: dt.datetime | None,
) -> Passage:
    refuse_if_passage_locked(passage, "record harvest")
    if passage.harvested_at is not None:
        raise ServiceError(f"passage #{passage.pk} already has its harvest recorded")
    if harvested_at is None:
        raise ServiceError("harvested_at: required with a harvest count")
    harvested_at = utc("harvested_at", harvested_at)
    if harvested_at <= passage.seeded_at:
        raise ServiceError(f"harvested_at: must be after seeding ({iso(passage.seeded_at)})")
    if passage.conditioning_runs.exists():
        raise GuardFailed(f"passage #{passage.pk} was conditioned; its cells are accounted for by the lot")
    before = passage_dict(passage)
    passage.cells_harvested = positive("cells_harvested", cells_harvested)
    passage.viability_percent = maybe_percent("viability_percent", viability_percent)
    passage.harvested_at = harvested_at
    passage.save(update_fields=["cells_harvested", "viability_percent", "harvested_at"])
    record_event(actor, "harvest", "passage", passage.pk, reason, before, passage_dict(passage))
    if isinstance(actor, User):
        flag_late_entry(
            actor,
            record_type="passage",
            record_id=passage.pk,
            action="record harvest",
            field="harvested_at",
            occurred_at=harvested_at,
        )
    return passage


#: Units a cell counter reports viable density in, and their factor to cells/mL.
DENSITY_UNITS = {"10^6 cells/mL": 1e6, "cells/mL": 1.0}


@transaction.atomic
def record_harvest_from_counter(
    actor: Actor,
    reason: str,
    *,
    passage_id: int,
    filename: str,
    content: bytes,
    harvested_at: dt.datetime,
    suspension_volume_ml: float,
    sample: str | None = None,
) -> Passage:
    """Record a harvest from a cell-counter export (Vi-CELL BLU/XR, NucleoCounter, Cedex HiRes).

    The file is imported (raw bytes kept, read through allotropy) and linked to the passage; viable cells
    harvested = viable cell density of ``sample`` x ``suspension_volume_ml``. One transaction: a file that
    cannot be read, a missing sample or a refused harvest writes nothing.
    """
    from secretome.services import imports

    require_lab(actor)
    acting_user_record(actor)
    passage = passage_by_id(passage_id)
    volume = positive("suspension_volume_ml", suspension_volume_ml)
    record = imports.import_file(actor, reason, filename, content)
    if record.family != "cell_counter":
        raise ServiceError(f"{filename}: a {record.format} file is not a cell-counter export")
    rows = list(
        record.measurements.filter(quantity__in=["viable cell density", "viability"]).order_by("ordinal")
    )
    samples = list(dict.fromkeys(r.sample for r in rows if r.quantity == "viable cell density"))
    if sample is None:
        if len(samples) != 1:
            raise ServiceError(
                f"sample: {filename} holds {len(samples)} samples ({', '.join(samples)}); name one"
            )
        sample = samples[0]
    density = next((r for r in rows if r.sample == sample and r.quantity == "viable cell density"), None)
    if density is None or density.value is None:
        raise ServiceError(f"sample: {filename} has no viable cell density for {sample!r}")
    if density.unit not in DENSITY_UNITS:
        raise ServiceError(f"{filename}: viable cell density in unknown unit {density.unit!r}")
    viability = next((r.value for r in rows if r.sample == sample and r.quantity == "viability"), None)
    viable_cells = density.value * DENSITY_UNITS[density.unit] * volume
    _harvest(actor, reason, passage, viable_cells, viability, harvested_at)
    passage.harvest_counts = record
    passage.harvest_counts_sample = sample
    passage.harvest_suspension_ml = volume
    passage.save(update_fields=["harvest_counts", "harvest_counts_sample", "harvest_suspension_ml"])
    record_event(
        actor,
        "link_counts",
        "passage",
        passage.pk,
        reason,
        None,
        {"instrument_import": record.pk, "filename": filename, "sample": sample, "suspension_ml": volume},
    )
    return passage


#: What a passage of a lineage brings along: the walk needs the vial's bank, the answers the donor and recipe.
LINEAGE_RELATED = ("donor", "recipe", "source_vial__bank")


def _ancestor_id(passage: Passage) -> int | None:
    """The passage the cells of ``passage`` came from: its parent, or the passage its thawed vial was banked
    from; None at isolation."""
    if passage.parent_id is not None:
        return int(passage.parent_id)
    if passage.source_vial_id is not None:
        return int(passage.source_vial.bank.source_passage_id)  # type: ignore[union-attr]
    return None


def _walk(end: Passage, fetch: Callable[[int], Passage]) -> list[Passage]:
    chain = [end]
    ancestor = _ancestor_id(end)
    while ancestor is not None:
        current = fetch(ancestor)
        chain.append(current)
        ancestor = _ancestor_id(current)
    chain.reverse()
    return chain


def _fetch_passage(pk: int) -> Passage:
    return Passage.objects.select_related(*LINEAGE_RELATED).get(pk=pk)


def lineage(passage: Passage) -> list[Passage]:
    """Every passage from isolation to ``passage``, oldest first, across banks and thaws."""
    return _walk(passage, _fetch_passage)


def lineages(ends: Sequence[Passage]) -> list[list[Passage]]:
    """:func:`lineage` of each of ``ends``, in one query however many there are.

    A lineage stays within one donor, so every passage of the donors involved is loaded once and the walks
    run in memory (a passage outside them, which consistent records never have, is fetched on its own).
    """
    if not ends:
        return []
    known = {
        p.pk: p
        for p in Passage.objects.select_related(*LINEAGE_RELATED).filter(
            donor_id__in={end.donor_id for end in ends}
        )
    }

    def fetch(pk: int) -> Passage:
        return known[pk] if pk in known else _fetch_passage(pk)

    return [_walk(known.get(end.pk, end), fetch) for end in ends]


def growth_of(chain: list[Passage]) -> growth.GrowthCurve:
    """Derived growth of a lineage."""
    return growth.growth_curve(
        [
            growth.PassageCounts(
                number=p.number,
                growth_area_cm2=p.growth_area_cm2,
                seeded_at=p.seeded_at,
                cells_seeded=p.cells_seeded,
                cells_harvested=p.cells_harvested,
                harvested_at=p.harvested_at,
            )
            for p in chain
        ]
    )


def senescence_of(
    chain: list[Passage],
    curve: growth.GrowthCurve | None = None,
    *,
    observations: Mapping[int, SenescenceObservation] | None = None,
    thresholds: rules.SenescenceRules | None = None,
) -> rules.SenescenceReport:
    """Senescence flags over a lineage under the rules in force.

    ``observations`` (current observation by passage id, see :func:`current_observations`) and
    ``thresholds`` are given by callers that judge many lineages and loaded them once.
    """
    if observations is None:
        observations = current_observations([p.pk for p in chain])
    markers: dict[int, rules.SenescenceMarkers] = {}
    for passage in chain:
        observation = observations.get(passage.pk)
        if observation is not None:
            markers[passage.number] = rules.SenescenceMarkers(
                observation.sa_beta_gal_percent,
                observation.morphology,
                observation.p16_fold,
                observation.p21_fold,
            )
    return rules.evaluate_senescence(thresholds or senescence_rules(), curve or growth_of(chain), markers)


def current_observations(passage_ids: Iterable[int]) -> dict[int, SenescenceObservation]:
    """The current (not superseded) senescence observation of each passage, latest observed first wins;
    passages without one are left out. One query."""
    current: dict[int, SenescenceObservation] = {}
    for observation in SenescenceObservation.objects.filter(
        passage_id__in=set(passage_ids), superseded_by__isnull=True
    ).order_by("-observed_on", "-pk"):
        current.setdefault(observation.passage_id, observation)
    return current


@transaction.atomic
def record_senescence(
    actor: Actor,
    reason: str,
    *,
    passage_id: int,
    observed_on: dt.date,
    sa_beta_gal_percent: float | None = None,
    cells_counted: int | None = None,
    morphology: str = "",
    p16_fold: float | None = None,
    p21_fold: float | None = None,
    supersedes: int | None = None,
) -> SenescenceObservation:
    """Record senescence markers of a passage; a correction names the observation it supersedes."""
    require_lab(actor)
    user = acting_user_record(actor)
    passage = passage_by_id(passage_id)
    refuse_if_passage_locked(passage, "record senescence")
    past_date("observed_on", observed_on)
    if morphology and morphology not in Morphology.values:
        raise ServiceError(f"morphology: {morphology!r} is not one of {', '.join(Morphology.values)}")
    if sa_beta_gal_percent is not None and cells_counted is not None and cells_counted < 200:
        raise ServiceError("cells_counted: count at least 200 cells for SA-β-gal")
    previous = None
    if supersedes is not None:
        previous = SenescenceObservation.objects.filter(pk=supersedes, passage=passage).first()
        if previous is None or SenescenceObservation.objects.filter(supersedes=previous).exists():
            raise ServiceError(f"supersedes: observation #{supersedes} of this passage is not current")
    observation = SenescenceObservation.objects.create(
        passage=passage,
        observed_on=observed_on,
        sa_beta_gal_percent=maybe_percent("sa_beta_gal_percent", sa_beta_gal_percent),
        cells_counted=cells_counted,
        morphology=morphology,
        p16_fold=maybe_positive("p16_fold", p16_fold),
        p21_fold=maybe_positive("p21_fold", p21_fold),
        supersedes=previous,
        recorded_at=timezone.now(),
        recorded_by=user,
    )
    fields = ["observed_on", "sa_beta_gal_percent", "cells_counted", "morphology", "p16_fold", "p21_fold"]
    record_event(
        actor,
        "create",
        "senescence_observation",
        observation.pk,
        reason,
        None if previous is None else snapshot(previous, fields),
        {"passage": passage.pk, **snapshot(observation, fields)},
    )
    flag_late_entry(
        user,
        record_type="senescence_observation",
        record_id=observation.pk,
        action="record senescence",
        field="observed_on",
        occurred_at=observed_on,
    )
    return observation


def vial_dict(vial: Vial) -> dict[str, Any]:
    last = VialTransaction.objects.filter(vial=vial).order_by("-occurred_at", "-pk").first()
    return {
        "label": vial.label,
        "bank": vial.bank.code,
        "passage_number": vial.passage_number,
        "cpd_at_freezing": vial.cpd_at_freezing,
        "cpd_complete": vial.cpd_complete,
        "viable_cells": vial.viable_cells,
        "location": vial.location,
        "state": "in stock" if last is None else last.action,
        "left_stock_at": None if last is None else iso(last.occurred_at),
    }


def bank_dict(bank: CellBank) -> dict[str, Any]:
    values = snapshot(bank, ["code", "kind", "frozen_at", "cryoprotectant"])
    values["din"] = bank.donor.din
    values["source_passage"] = bank.source_passage_id
    vials = [vial_dict(v) for v in bank.vials.order_by("label")]
    values["vials_in_stock"] = sum(1 for v in vials if v["state"] == "in stock")
    values["vials"] = vials
    return values


@transaction.atomic
def bank_cells(
    actor: Actor,
    reason: str,
    *,
    passage_id: int,
    kind: str,
    vials: int,
    cells_per_vial: float,
    location: str,
    frozen_at: dt.datetime,
    cryoprotectant: str = "",
) -> CellBank:
    """Freeze a passage's harvest as a master or working cell bank of ``vials`` vials, each labelled with
    passage and CPD at freezing."""
    require_lab(actor)
    user = acting_user_record(actor)
    if kind not in BankKind.values:
        raise ServiceError(f"kind: {kind!r} is not one of {', '.join(BankKind.values)}")
    passage = passage_by_id(passage_id)
    refuse_if_passage_locked(passage, "bank cells")
    refuse_ineligible(passage.donor, "banking")
    if passage.cells_harvested is None or passage.harvested_at is None:
        raise GuardFailed(f"passage #{passage.pk} has no harvest recorded; bank harvested cells")
    if not 1 <= vials <= 1000:
        raise ServiceError(f"vials: between 1 and 1000, got {vials}")
    per_vial = positive("cells_per_vial", cells_per_vial) or 0.0
    if per_vial * vials > passage.cells_harvested * 1.0001:
        raise ServiceError(
            f"cells_per_vial: {vials} x {per_vial:.3g} exceeds the {passage.cells_harvested:.3g} cells harvested"
        )
    frozen_at = utc("frozen_at", frozen_at)
    if frozen_at < passage.harvested_at:
        raise ServiceError("frozen_at: before the harvest")
    if not location.strip():
        raise ServiceError("location: say where the vials are stored (freezer, rack, box)")
    curve = growth_of(lineage(passage))
    count = CellBank.objects.filter(donor=passage.donor, kind=kind).count()
    bank = CellBank.objects.create(
        code=f"{kind}-{passage.donor.din}-{count + 1:02d}",
        kind=kind,
        donor=passage.donor,
        source_passage=passage,
        frozen_at=frozen_at,
        cryoprotectant=cryoprotectant.strip(),
        created_at=timezone.now(),
        created_by=user,
    )
    Vial.objects.bulk_create(
        Vial(
            bank=bank,
            label=f"{bank.code}-{index:03d}",
            passage_number=passage.number,
            cpd_at_freezing=curve.cpd,
            cpd_complete=curve.cpd_complete,
            viable_cells=per_vial,
            location=location.strip(),
        )
        for index in range(1, vials + 1)
    )
    record_event(actor, "create", "cell_bank", bank.code, reason, None, bank_dict(bank))
    return bank


def _leave_stock(
    actor: Actor, reason: str, user: Any, vial: Vial, action: str, when: dt.datetime, note: str
) -> VialTransaction:
    if VialTransaction.objects.filter(vial=vial).exists():
        raise GuardFailed(f"vial {vial.label} is no longer in stock; a vial is used once")
    before = vial_dict(vial)
    try:
        with transaction.atomic():
            entry = VialTransaction.objects.create(
                vial=vial, action=action, occurred_at=when, note=note, recorded_by=user
            )
    except IntegrityError:
        # Two users reached for the same vial at once: the database constraint let one through.
        raise GuardFailed(f"vial {vial.label} is no longer in stock; a vial is used once") from None
    record_event(actor, action, "vial", vial.label, reason, before, vial_dict(vial))
    return entry


@transaction.atomic
def discard_vial(
    actor: Actor, reason: str, *, label: str, when: dt.datetime | None = None, note: str = ""
) -> VialTransaction:
    """Discard a vial from the inventory (audited; the vial cannot be used afterwards)."""
    require_lab(actor)
    user = acting_user_record(actor)
    vial = vial_by_label(label)
    return _leave_stock(
        actor, reason, user, vial, VialAction.DISCARD, utc("when", when or timezone.now()), note
    )


def banks(din: str | None = None) -> list[CellBank]:
    query = CellBank.objects.select_related("donor").order_by("code")
    if din:
        query = query.filter(donor=donor_by_din(din))
    return list(query)


def passages(din: str | None = None) -> list[Passage]:
    query = Passage.objects.select_related("donor", "recipe", "source_vial").order_by(
        "donor__din", "seeded_at", "pk"
    )
    if din:
        query = query.filter(donor=donor_by_din(din))
    return list(query)
