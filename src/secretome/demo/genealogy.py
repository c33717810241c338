"""Demo step of the genealogy: three donors (Wharton's jelly, bone marrow, adipose), their banks and
passages with growth that slows with age, several CM lots, and one refused attempt to condition P9
Wharton's-jelly cells."""

from __future__ import annotations

import datetime as dt
from typing import Any

from secretome.demo.context import DemoContext

START = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
FACILITY = "W0001"
MARKERS = ["HIV-1/2", "HBV", "HCV", "syphilis", "HTLV-I/II"]
PASSAGE_DAYS = 4.0

#: Per tissue source: recipe, early-passage doubling time (h) and how much slower each passage grows.
SOURCES = {
    "UC-WJ": ("WJ-HPL", 26.0, 1.12),
    "BM": ("BM-HPL", 36.0, 1.15),
    "AT": ("AT-HPL", 32.0, 1.13),
}


class _Lineage:
    """Grows one donor's cells passage by passage through the services, as the lab would record them."""

    def __init__(self, ctx: DemoContext, donor: Any, recipe: str, pdt: float, slowing: float) -> None:
        self.ctx, self.donor, self.recipe, self.pdt, self.slowing = ctx, donor, recipe, pdt, slowing
        self.analyst = ctx.users["ana"]

    def doubling_time(self, number: int) -> float:
        return self.pdt * self.slowing**number

    def isolate(self, when: dt.datetime) -> Any:
        from secretome.services import genealogy as g

        passage = g.record_passage(
            self.analyst,
            "demo: primary culture",
            din=self.donor.din,
            recipe=self.recipe,
            vessel="T25 explant",
            growth_area_cm2=25,
            seeded_at=when,
            medium_lot="MED-2601",
            supplement_lot="HPL-2601",
        )
        return self._count(passage, 2.5e6, 94.0, when + dt.timedelta(days=10), "demo: P0 harvest")

    def seed(self, *, parent: Any = None, vial: Any = None, when: dt.datetime, vessels: int = 4) -> Any:
        """Seed at 3,000 cells/cm²: ``vessels`` T175 flasks from a harvest, or as many cm² as a vial fills."""
        from secretome.services import genealogy as g

        cells = vial.viable_cells if vial is not None else 3000 * 175.0 * vessels
        area = cells / 3000
        return g.record_passage(
            self.analyst,
            "demo: passage",
            parent_id=None if parent is None else parent.pk,
            vial=None if vial is None else vial.label,
            recipe=self.recipe,
            vessel=f"{area / 175:g} x T175",
            growth_area_cm2=area,
            cells_seeded=cells,
            seeded_at=when,
            medium_lot="MED-2601",
            supplement_lot="HPL-2601",
        )

    def harvest(self, passage: Any) -> Any:

        hours = PASSAGE_DAYS * 24
        cells = passage.cells_seeded * 2 ** (hours / self.doubling_time(passage.number))
        return self._count(
            passage,
            cells,
            95.0 - passage.number,
            passage.seeded_at + dt.timedelta(hours=hours),
            "demo: harvest",
        )

    def _count(
        self, passage: Any, viable_cells: float, viability: float, when: dt.datetime, reason: str
    ) -> Any:
        """The harvest as the lab records it: the cell suspension counted on the Vi-CELL BLU, the export
        imported and linked to the passage, viable cells = viable density x suspension volume."""
        from secretome.demo.instrument_files import CellCount, vi_cell_blu_csv
        from secretome.services import genealogy as g

        volume = 10.0 if viable_cells < 5e7 else 50.0
        total_density = viable_cells / volume / 1e6 / (viability / 100)
        sample = f"{self.donor.din[-6:]}-P{passage.number}"
        stamp = when.strftime("%-m/%-d/%Y %H:%M:%S")
        content = vi_cell_blu_csv([CellCount(sample, total_density, viability, stamp)])
        name = f"vicell-{sample}-{when:%Y%m%d}.csv"
        files = self.ctx.home / "instrument-files"
        files.mkdir(parents=True, exist_ok=True)
        (files / name).write_bytes(content)
        self.ctx.summary.setdefault("generated_files", []).append(name)
        return g.record_harvest_from_counter(
            self.analyst,
            reason,
            passage_id=passage.pk,
            filename=name,
            content=content,
            harvested_at=when,
            suspension_volume_ml=volume,
        )

    def grow(self, passage: Any, up_to: int) -> Any:
        """Harvest and re-seed until the culture is at passage ``up_to`` (seeded, not harvested)."""
        while passage.number < up_to:
            harvested = self.harvest(passage)
            passage = self.seed(parent=harvested, when=harvested.harvested_at + dt.timedelta(hours=1))
        return passage

    def bank(self, passage: Any, kind: str, vials: int) -> Any:
        from secretome.services import genealogy as g

        harvested = self.harvest(passage)
        return g.bank_cells(
            self.analyst,
            f"demo: {kind}",
            passage_id=harvested.pk,
            kind=kind,
            vials=vials,
            cells_per_vial=5.25e5,
            location=f"LN2 tank 1, rack {kind}",
            frozen_at=harvested.harvested_at + dt.timedelta(hours=2),
            cryoprotectant="10 % DMSO",
        )

    def thaw(self, bank: Any, index: int, when: dt.datetime) -> Any:
        return self.seed(vial=bank.vials.order_by("label")[index], when=when)

    def condition(self, passage: Any, **extra: Any) -> Any:
        from secretome.services import genealogy as g

        started = passage.seeded_at + dt.timedelta(days=3)
        cells = passage.cells_seeded * 2 ** (72 / self.doubling_time(passage.number))
        values: dict[str, Any] = dict(
            passage_id=passage.pk,
            recipe=self.recipe,
            started_at=started,
            confluence_percent=85,
            viable_cells_at_start=cells,
            medium="DMEM/F12 phenol-red-free",
            medium_lot="SFM-2602",
            volume_ml=0.15 * passage.growth_area_cm2,
            planned_hours=48,
            o2_percent=21,
        )
        values.update(extra)
        return g.start_conditioning_run(self.analyst, "demo: conditioning", **values)

    def lot(self, run: Any, concentrate: bool = True) -> Any:
        from secretome.services import genealogy as g

        collected = run.started_at + dt.timedelta(hours=run.planned_hours)
        lot = g.record_lot(
            self.analyst,
            "demo: CM collected",
            run_id=run.pk,
            collected_at=collected,
            viable_cells_at_collection=run.viable_cells_at_start * 1.05,
            viability_at_collection_percent=91,
            harvest_volume_ml=run.volume_ml * 0.97,
            storage="-80C",
            storage_location="Freezer F2, shelf 1",
        )
        volume = lot.harvest_volume_ml
        when = collected + dt.timedelta(hours=1)
        g.add_processing_step(
            self.analyst,
            "demo: clarification",
            lot=lot.number,
            kind="clarification",
            performed_at=when,
            volume_in_ml=volume,
            volume_out_ml=volume * 0.98,
            g_force=2000,
            minutes=15,
        )
        g.add_processing_step(
            self.analyst,
            "demo: sterile filtration",
            lot=lot.number,
            kind="filtration",
            performed_at=when,
            volume_in_ml=volume * 0.98,
            volume_out_ml=volume * 0.96,
            pore_size_um=0.22,
            consumable_lot="PES-022-7",
        )
        if concentrate:
            g.add_processing_step(
                self.analyst,
                "demo: ultrafiltration",
                lot=lot.number,
                kind="ultrafiltration",
                performed_at=when,
                volume_in_ml=volume * 0.96,
                volume_out_ml=volume * 0.096,
                mwco_kda=3,
                consumable_lot="UF3K-11",
            )
        return lot


def _donor(ctx: DemoContext, source: str, collected_on: dt.date) -> Any:
    from secretome.services import genealogy as g

    analyst, qa = ctx.users["ana"], ctx.users["quinn"]
    donor = g.register_donor(
        analyst,
        "demo: donation received",
        tissue_source=source,
        collected_on=collected_on,
        consent_obtained=True,
        consent_date=collected_on - dt.timedelta(days=2),
        facility=FACILITY,
    )
    for marker in MARKERS:
        g.record_screening(
            analyst,
            "demo: donor screening",
            din=donor.din,
            marker=marker,
            method="NAT and serology",
            outcome="negative",
            tested_on=collected_on,
        )
    g.determine_eligibility(
        qa,
        "demo: donor eligibility",
        din=donor.din,
        decision="eligible",
        rationale="Consent on file; all five markers non-reactive",
    )
    return donor


def _recipes(ctx: DemoContext) -> None:
    from secretome.services import genealogy as g

    for source, (code, _, _) in SOURCES.items():
        g.create_recipe(
            ctx.users["ana"],
            "demo: process recipe",
            code=code,
            title=f"{source} MSC in 5 % hPL, 48 h serum-free CM",
            basal_medium="alpha-MEM",
            supplement="hPL",
            supplement_percent=5,
            o2_percent=21,
            seeding_density_per_cm2=3000,
            harvest_confluence_percent=80,
            conditioning_medium="DMEM/F12 phenol-red-free",
            conditioning_hours=48,
        )
        g.approve_recipe(ctx.users["quinn"], "demo: recipe approved", code=code, version=1)


def build(ctx: DemoContext) -> None:
    """Donors, banks, passages, lots and the refused over-passage run."""
    from secretome.services import genealogy as g
    from secretome.services.errors import GuardFailed

    _recipes(ctx)
    lineages = {
        source: _Lineage(ctx, _donor(ctx, source, START.date() - dt.timedelta(days=3)), *SOURCES[source])
        for source in SOURCES
    }
    lots = []

    # Wharton's jelly: P0 explant -> P2 master bank -> P4 working bank -> two lots at P5; a long culture to P9.
    wj = lineages["UC-WJ"]
    p2 = wj.grow(wj.seed(parent=wj.isolate(START), when=START + dt.timedelta(days=10, hours=1)), 2)
    mcb = wj.bank(p2, "MCB", 20)
    p4 = wj.grow(wj.thaw(mcb, 0, START + dt.timedelta(days=40)), 4)
    wcb = wj.bank(p4, "WCB", 15)
    for index in range(2):
        p5 = wj.thaw(wcb, index, START + dt.timedelta(days=60 + 7 * index))
        lots.append(wj.lot(wj.condition(p5)))
    g.discard_vial(ctx.users["ana"], "demo: vial found cracked", label=wcb.vials.order_by("label")[2].label)
    old = wj.grow(wj.thaw(wcb, 3, START + dt.timedelta(days=75)), 9)
    try:
        wj.condition(old)
        refused = "not refused"
    except GuardFailed as exc:
        refused = str(exc)
    ctx.summary["refused_conditioning"] = {
        "passage": old.pk,
        "passage_number": old.number,
        "refusal": refused,
    }

    # Bone marrow: P0 -> P2 master bank -> lot at P3, SA-beta-gal checked and low.
    bm = lineages["BM"]
    bm_mcb = bm.bank(
        bm.grow(bm.seed(parent=bm.isolate(START), when=START + dt.timedelta(days=10, hours=1)), 2), "MCB", 10
    )
    bm_p3 = bm.thaw(bm_mcb, 0, START + dt.timedelta(days=45))
    g.record_senescence(
        ctx.users["ana"],
        "demo: senescence check",
        passage_id=bm_p3.pk,
        observed_on=(START + dt.timedelta(days=48)).date(),
        sa_beta_gal_percent=6,
        cells_counted=300,
        morphology="spindle",
    )
    lots.append(bm.lot(bm.condition(bm_p3)))

    # Adipose: straight culture to P4, IFN-γ primed, SA-beta-gal over the alert limit: the lot carries the flag.
    at = lineages["AT"]
    at_p4 = at.grow(at.seed(parent=at.isolate(START), when=START + dt.timedelta(days=10, hours=1)), 4)
    g.record_senescence(
        ctx.users["ana"],
        "demo: senescence check",
        passage_id=at_p4.pk,
        observed_on=(START + dt.timedelta(days=30)).date(),
        sa_beta_gal_percent=24,
        cells_counted=250,
        morphology="mixed",
        p16_fold=1.6,
        p21_fold=1.4,
    )
    lots.append(
        at.lot(
            at.condition(at_p4, priming_agent="IFN-γ", priming_ng_per_ml=25, priming_hours=24),
            concentrate=False,
        )
    )

    rows = g.lot_summaries(lots)
    ctx.summary["lots"] = [row["number"] for row in rows]
    ctx.summary["donors"] = {source: lineage.donor.din for source, lineage in lineages.items()}
    for row in rows:
        flags = f" flags: {', '.join(row['flags'])}" if row["flags"] else ""
        ctx.say(f"Lot {row['number']}: {row['tissue_source']} donor {row['din']}, P{row['passage']}{flags}")
    ctx.say(f"Refused: conditioning P{old.number} Wharton's jelly cells (passage #{old.pk}): {refused}")
