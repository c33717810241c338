"""Genealogy use cases against the database: eligibility, passage restriction, banks, lots and the trace."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

import pytest

from secretome.db.core.models import AuditEvent
from secretome.db.genealogy.models import ConditioningRun, Lot, Passage
from secretome.services import genealogy as g
from secretome.services.errors import Forbidden, GuardFailed, NotFound, ServiceError

T0 = dt.datetime(2026, 2, 2, 8, 0, tzinfo=dt.UTC)
MARKERS = ["HIV-1/2", "HBV", "HCV", "syphilis", "HTLV-I/II"]


@dataclass
class Lab:
    analyst: Any
    qa: Any


def eligible_donor(lab: Lab, source: str = "UC-WJ", din: str | None = None) -> Any:
    donor = g.register_donor(
        lab.analyst,
        "donation received",
        tissue_source=source,
        collected_on=dt.date(2026, 1, 30),
        consent_obtained=True,
        consent_date=dt.date(2026, 1, 28),
        din=din,
        facility=None if din else "W0001",
    )
    for marker in MARKERS:
        g.record_screening(
            lab.analyst,
            "screening",
            din=donor.din,
            marker=marker,
            method="NAT",
            outcome="negative",
            tested_on=dt.date(2026, 1, 31),
        )
    g.determine_eligibility(
        lab.qa, "screening complete", din=donor.din, decision="eligible", rationale="all negative"
    )
    return donor


def approved_recipe(lab: Lab, code: str = "WJ-HPL") -> Any:
    g.create_recipe(
        lab.analyst,
        "new recipe",
        code=code,
        title="WJ-MSC in hPL, 48 h serum-free",
        basal_medium="alpha-MEM",
        supplement="hPL",
        supplement_percent=5,
        o2_percent=21,
        seeding_density_per_cm2=3000,
        harvest_confluence_percent=80,
        conditioning_medium="DMEM/F12 phenol-red-free",
        conditioning_hours=48,
    )
    return g.approve_recipe(lab.qa, "approved for use", code=code, version=1)


def grow(lab: Lab, start: Passage, passages: int, pdt_hours: float = 30.0, days: float = 4.0) -> Passage:
    """Harvest ``start`` and seed ``passages`` further passages, each growing with ``pdt_hours``."""
    current = start
    for _ in range(passages):
        harvested_at = current.seeded_at + dt.timedelta(days=days)
        if current.harvested_at is None:
            seeded = current.cells_seeded or 5e5
            g.record_harvest(
                lab.analyst,
                "harvest",
                passage_id=current.pk,
                harvested_at=harvested_at,
                cells_harvested=seeded * 2 ** (days * 24 / pdt_hours),
                viability_percent=95,
            )
        current = g.record_passage(
            lab.analyst,
            "passage",
            parent_id=current.pk,
            recipe="WJ-HPL",
            vessel="T175",
            growth_area_cm2=175,
            cells_seeded=5e5,
            seeded_at=harvested_at + dt.timedelta(hours=1),
            medium_lot="M-1",
        )
    return current


def isolate(lab: Lab, donor: Any, cells_seeded: float | None = None) -> Passage:
    return g.record_passage(
        lab.analyst,
        "isolation",
        din=donor.din,
        recipe="WJ-HPL",
        vessel="T25 explant",
        growth_area_cm2=25,
        cells_seeded=cells_seeded,
        seeded_at=T0,
        medium_lot="M-1",
    )


def condition(lab: Lab, passage: Passage, deviation: str | None = None, **changes: Any) -> ConditioningRun:
    values: dict[str, Any] = dict(
        passage_id=passage.pk,
        recipe="WJ-HPL",
        started_at=passage.seeded_at + dt.timedelta(days=3),
        confluence_percent=85,
        viable_cells_at_start=1.2e7,
        medium="DMEM/F12 phenol-red-free",
        medium_lot="SF-7",
        volume_ml=30,
        planned_hours=48,
        o2_percent=21,
        deviation=deviation,
    )
    values.update(changes)
    return g.start_conditioning_run(lab.analyst, "conditioning", **values)


def collect(lab: Lab, run: ConditioningRun) -> Lot:
    return g.record_lot(
        lab.analyst,
        "harvest of CM",
        run_id=run.pk,
        collected_at=run.started_at + dt.timedelta(hours=48),
        viable_cells_at_collection=1.3e7,
        viability_at_collection_percent=92,
        harvest_volume_ml=30,
        storage="-80C",
    )


def harvest(lab: Lab, passage: Passage, cells: float) -> None:
    """Record the harvest of ``passage`` four days after seeding."""
    g.record_harvest(
        lab.analyst,
        "harvest",
        passage_id=passage.pk,
        harvested_at=passage.seeded_at + dt.timedelta(days=4),
        cells_harvested=cells,
        viability_percent=96,
    )


def bank(lab: Lab, passage: Passage, vials: int) -> Any:
    """Freeze the harvest of ``passage`` (harvested four days after seeding) as a master cell bank."""
    return g.bank_cells(
        lab.analyst,
        "MCB",
        passage_id=passage.pk,
        kind="MCB",
        vials=vials,
        cells_per_vial=1e6,
        location="LN2 tank 1 rack A",
        frozen_at=passage.seeded_at + dt.timedelta(days=4, hours=2),
    )


def thaw(lab: Lab, vial: str, seeded_at: dt.datetime) -> Passage:
    """Seed the next passage from a banked vial."""
    return g.record_passage(
        lab.analyst,
        "thaw",
        vial=vial,
        recipe="WJ-HPL",
        vessel="T175",
        growth_area_cm2=175,
        cells_seeded=8e5,
        seeded_at=seeded_at,
        medium_lot="M-2",
    )


@pytest.fixture
def lab(analyst: Any, qa_user: Any) -> Lab:
    lab = Lab(analyst, qa_user)
    approved_recipe(lab)
    return lab


def test_a_lot_traces_back_to_its_donor_through_bank_vial_and_passages(lab: Lab) -> None:
    donor = eligible_donor(lab)
    p0 = isolate(lab, donor)  # explant: P0 seeded count unknown
    p2 = grow(lab, p0, 2)
    harvest(lab, p2, 2e7)
    mcb = bank(lab, p2, 10)
    vial = mcb.vials.order_by("label").first()
    assert vial is not None and vial.passage_number == 2
    assert not vial.cpd_complete  # P0 unknown: the label says CPD is a lower bound
    p3 = thaw(lab, vial.label, T0 + dt.timedelta(days=60))
    assert p3.number == 3
    lot = collect(lab, condition(lab, p3))
    assert lot.number == "CM-WJ-2026-0001"

    chain = g.trace(lot.number)
    assert chain["donor"]["din"] == donor.din
    assert chain["donor"]["eligibility"]["status"] == "eligible"
    assert [p["number"] for p in chain["passages"]] == [0, 1, 2, 3]
    assert chain["passages"][0]["population_doublings"] is None
    assert chain["passages"][1]["population_doublings"] == pytest.approx(4 * 24 / 30)
    assert chain["passages"][2]["population_doublings"] == pytest.approx(math.log2(2e7 / 5e5))
    assert chain["passages"][1]["doubling_time_hours"] == pytest.approx(30.0)
    assert chain["vials"][0]["label"] == vial.label
    assert chain["growth"]["cpd_complete"] is False
    assert chain["conditioning_run"]["recipe"]["code"] == "WJ-HPL"
    assert chain["dose_bases"]["cell_equivalents_per_ml"] == pytest.approx(1.3e7 / 30)
    assert chain["passage_compliance"]["compliant"] is True
    assert [x.number for x in g.lots(din=donor.din)] == [lot.number]
    assert [x.number for x in g.lots(bank=mcb.code)] == [lot.number]


def test_conditioning_over_the_passage_limit_is_refused_until_qa_approves_a_deviation(lab: Lab) -> None:
    donor = eligible_donor(lab)
    p9 = grow(lab, isolate(lab, donor, cells_seeded=1e5), 9)
    assert p9.number == 9
    events_before = AuditEvent.objects.count()
    with pytest.raises(GuardFailed, match="P9 is over the maximum passage P8"):
        condition(lab, p9)
    assert ConditioningRun.objects.count() == 0
    assert AuditEvent.objects.count() == events_before

    deviation = g.raise_deviation(
        lab.analyst,
        "over-passage request",
        kind="over-passage",
        description="Condition P9 cells for a comparability study",
        passage_id=p9.pk,
    )
    with pytest.raises(GuardFailed, match="not approved"):
        condition(lab, p9, deviation=deviation.number)
    with pytest.raises(Forbidden):
        g.decide_deviation(lab.analyst, "self", number=deviation.number, decision="approved", note="ok")
    g.decide_deviation(
        lab.qa,
        "QA review",
        number=deviation.number,
        decision="approved",
        note="research lot, not for clinical release",
    )
    run = condition(lab, p9, deviation=deviation.number)
    lot = collect(lab, run)

    chain = g.trace(lot)
    assert [d["number"] for d in chain["deviations"]] == [deviation.number]
    compliance = g.passage_compliance(lot)
    assert compliance.over_limit and compliance.compliant
    assert compliance.approved_deviations == (deviation.number,)
    # The deviation covers one run only.
    with pytest.raises(GuardFailed, match="already covers"):
        condition(lab, p9, deviation=deviation.number)


def test_a_stricter_policy_for_the_product_applies_and_a_cpd_ceiling_too(lab: Lab) -> None:
    donor = eligible_donor(lab)
    p3 = grow(lab, isolate(lab, donor, cells_seeded=1e5), 3)
    g.set_passage_policy(
        lab.qa,
        "stricter",
        tissue_source="UC-WJ",
        product="MSC-CM",
        max_passage=2,
        rationale="clinical product",
    )
    with pytest.raises(GuardFailed, match="P3 is over the maximum passage P2"):
        condition(lab, p3)
    assert g.passage_limit("UC-WJ", "research CM").max_passage == 8
    g.set_passage_policy(
        lab.qa,
        "cpd",
        tissue_source="UC-WJ",
        product="research CM",
        max_passage=8,
        max_cpd=5.0,
        rationale="CPD ceiling",
    )
    with pytest.raises(GuardFailed, match=r"CPD .* over the ceiling 5"):
        condition(lab, p3, product="research CM")


def test_a_vial_is_used_once_and_a_discarded_vial_cannot_be_thawed(lab: Lab) -> None:
    donor = eligible_donor(lab)
    p1 = grow(lab, isolate(lab, donor, cells_seeded=1e5), 1)
    g.record_harvest(
        lab.analyst,
        "harvest",
        passage_id=p1.pk,
        harvested_at=p1.seeded_at + dt.timedelta(days=4),
        cells_harvested=1e7,
    )
    bank = g.bank_cells(
        lab.analyst,
        "bank",
        passage_id=p1.pk,
        kind="MCB",
        vials=2,
        cells_per_vial=1e6,
        location="tank 1",
        frozen_at=p1.seeded_at + dt.timedelta(days=5),
    )
    first, second = [v.label for v in bank.vials.order_by("label")]
    seed = dict(
        recipe="WJ-HPL",
        vessel="T175",
        growth_area_cm2=175,
        cells_seeded=8e5,
        seeded_at=T0 + dt.timedelta(days=40),
        medium_lot="M-2",
    )
    g.record_passage(lab.analyst, "thaw", vial=first, **seed)  # type: ignore[arg-type]
    with pytest.raises(GuardFailed, match="used once"):
        g.record_passage(lab.analyst, "thaw again", vial=first, **seed)  # type: ignore[arg-type]
    g.discard_vial(lab.analyst, "temperature excursion", label=second)
    with pytest.raises(GuardFailed, match="no longer in stock"):
        g.record_passage(lab.analyst, "thaw discarded", vial=second, **seed)  # type: ignore[arg-type]
    assert [v["state"] for v in g.bank_dict(bank)["vials"]] == ["thaw", "discard"]
    with pytest.raises(ServiceError, match="exceeds"):
        g.bank_cells(
            lab.analyst,
            "too many",
            passage_id=p1.pk,
            kind="WCB",
            vials=20,
            cells_per_vial=1e6,
            location="tank 1",
            frozen_at=p1.seeded_at + dt.timedelta(days=5),
        )


def test_an_ineligible_donor_goes_no_further_and_a_pending_one_cannot_be_conditioned(lab: Lab) -> None:
    pending = g.register_donor(
        lab.analyst,
        "donation",
        tissue_source="BM",
        collected_on=dt.date(2026, 1, 3),
        consent_obtained=True,
        consent_date=dt.date(2026, 1, 2),
        facility="W0001",
    )
    p1 = grow(lab, isolate(lab, pending, cells_seeded=1e5), 1)  # culture in quarantine is allowed
    with pytest.raises(GuardFailed, match="not determined eligible"):
        condition(lab, p1)
    with pytest.raises(GuardFailed, match="no HIV-1/2 result"):
        g.determine_eligibility(lab.qa, "early", din=pending.din, decision="eligible", rationale="-")
    g.record_screening(
        lab.analyst,
        "screen",
        din=pending.din,
        marker="HBV",
        method="CMIA",
        outcome="positive",
        tested_on=dt.date(2026, 1, 4),
    )
    g.determine_eligibility(
        lab.qa, "HBV reactive", din=pending.din, decision="ineligible", rationale="HBsAg reactive"
    )
    with pytest.raises(GuardFailed, match="ineligible"):
        grow(lab, p1, 1)


def test_din_is_validated_generated_and_unique(lab: Lab) -> None:
    donor = eligible_donor(lab, din="G1234 26 000001")
    assert donor.din == "G123426000001"
    with pytest.raises(ServiceError, match="already registered"):
        eligible_donor(lab, din="G123426000001")
    with pytest.raises(ServiceError, match="check character"):
        g.register_donor(
            lab.analyst,
            "typo",
            tissue_source="AT",
            collected_on=dt.date(2026, 1, 1),
            consent_obtained=False,
            din="G123426000002 A",
        )
    first = g.register_donor(
        lab.analyst,
        "x",
        tissue_source="AT",
        collected_on=dt.date(2026, 1, 1),
        consent_obtained=False,
        facility="W0001",
    )
    second = g.register_donor(
        lab.analyst,
        "x",
        tissue_source="AT",
        collected_on=dt.date(2026, 1, 1),
        consent_obtained=False,
        facility="W0001",
    )
    assert (first.din, second.din) == ("W000126000001", "W000126000002")
    with pytest.raises(NotFound):
        g.donor_by_din("W000126000099")


def test_recipes_need_qa_approval_by_someone_other_than_the_author(lab: Lab) -> None:
    g.create_recipe(
        lab.qa,
        "v1",
        code="BM-FBS",
        title="BM in FBS",
        basal_medium="DMEM-LG",
        supplement="FBS",
        supplement_percent=10,
        o2_percent=5,
        seeding_density_per_cm2=2000,
        harvest_confluence_percent=80,
        conditioning_medium="DMEM-LG",
        conditioning_hours=48,
    )
    with pytest.raises(Forbidden, match="author"):
        g.approve_recipe(lab.qa, "self", code="BM-FBS", version=1)
    donor = eligible_donor(lab, source="BM")
    with pytest.raises(NotFound, match="no approved version"):
        g.record_passage(
            lab.analyst,
            "x",
            din=donor.din,
            recipe="BM-FBS",
            vessel="T75",
            growth_area_cm2=75,
            seeded_at=T0,
            medium_lot="M",
        )
    g.create_recipe(
        lab.analyst,
        "v2",
        code="WJ-HPL",
        title="WJ, hypoxic",
        basal_medium="alpha-MEM",
        supplement="hPL",
        supplement_percent=5,
        o2_percent=5,
        seeding_density_per_cm2=3000,
        harvest_confluence_percent=80,
        conditioning_medium="DMEM/F12 phenol-red-free",
        conditioning_hours=48,
    )
    assert g.recipe_by_code("WJ-HPL").version == 1  # v2 is not approved yet


def test_a_departure_from_the_recipe_raises_a_deviation_carried_by_the_lot(lab: Lab) -> None:
    donor = eligible_donor(lab)
    p2 = grow(lab, isolate(lab, donor, cells_seeded=1e5), 2)
    lot = collect(lab, condition(lab, p2, o2_percent=2, planned_hours=72))
    deviations = g.trace(lot)["deviations"]
    assert len(deviations) == 1 and deviations[0]["kind"] == "recipe"
    assert "O2 2 % instead of 21 %" in deviations[0]["description"]
    assert deviations[0]["approved"] is False


def test_senescence_flags_carry_onto_the_lot(lab: Lab) -> None:
    donor = eligible_donor(lab)
    p1 = grow(lab, isolate(lab, donor, cells_seeded=1e5), 1, pdt_hours=30)
    p4 = grow(lab, p1, 3, pdt_hours=30)
    p5 = grow(lab, p4, 1, pdt_hours=120)  # P4 slowed to 4x the baseline, PD 0.8
    g.record_senescence(
        lab.analyst,
        "SA-beta-gal",
        passage_id=p5.pk,
        observed_on=dt.date(2026, 3, 1),
        sa_beta_gal_percent=31,
        cells_counted=250,
        morphology="enlarged",
    )
    chain = g.trace(collect(lab, condition(lab, p5)))
    flags_by_passage = {p["number"]: {f["rule"] for f in p["senescence_flags"]} for p in chain["passages"]}
    assert flags_by_passage[4] == {"pdt_over_baseline", "pd_per_passage"}
    assert flags_by_passage[5] == {"sa_beta_gal", "morphology"}
    assert not flags_by_passage[1]
    assert {"sa_beta_gal", "pdt_over_baseline"} <= set(chain["flags"])
    assert "sa_beta_gal" in g.lot_summary(Lot.objects.get())["flags"]


def test_processing_steps_give_the_concentration_factor_and_a_run_yields_one_lot(lab: Lab) -> None:
    donor = eligible_donor(lab)
    run = condition(lab, grow(lab, isolate(lab, donor, cells_seeded=1e5), 2))
    lot = collect(lab, run)
    with pytest.raises(ServiceError, match="already yielded"):
        collect(lab, run)
    when = lot.collected_at + dt.timedelta(hours=1)
    g.add_processing_step(
        lab.analyst,
        "spin",
        lot=lot.number,
        kind="clarification",
        performed_at=when,
        volume_in_ml=30,
        volume_out_ml=29,
        g_force=2000,
        minutes=15,
    )
    g.add_processing_step(
        lab.analyst,
        "filter",
        lot=lot.number,
        kind="filtration",
        performed_at=when,
        volume_in_ml=29,
        volume_out_ml=28.5,
        pore_size_um=0.22,
        consumable_lot="F-1",
    )
    with pytest.raises(ServiceError, match="mwco_kda"):
        g.add_processing_step(
            lab.analyst,
            "uf",
            lot=lot.number,
            kind="ultrafiltration",
            performed_at=when,
            volume_in_ml=28.5,
            volume_out_ml=2.85,
        )
    g.add_processing_step(
        lab.analyst,
        "uf",
        lot=lot.number,
        kind="ultrafiltration",
        performed_at=when,
        volume_in_ml=28.5,
        volume_out_ml=2.85,
        mwco_kda=3,
    )
    bases = g.trace(lot.number)["dose_bases"]
    assert bases["concentration_factor"] == pytest.approx(10)
    assert bases["cell_equivalents_per_ml"] == pytest.approx(1.3e7 / 30 * 10)
    assert [s["sequence"] for s in g.trace(lot.number)["processing_steps"]] == [1, 2, 3]


def test_every_write_leaves_an_audit_event_and_roles_are_enforced(lab: Lab, reviewer: Any) -> None:
    donor = eligible_donor(lab)
    assert AuditEvent.objects.filter(object_type="donor", object_id=donor.din).count() == 2
    assert AuditEvent.objects.filter(object_type="donor_screening").count() == 5
    with pytest.raises(Forbidden):
        g.register_donor(
            reviewer,
            "x",
            tissue_source="AT",
            collected_on=dt.date(2026, 1, 1),
            consent_obtained=False,
            facility="W0001",
        )
    with pytest.raises(Forbidden):
        g.set_passage_policy(lab.analyst, "x", tissue_source="AT", max_passage=9, rationale="x")
