"""Builders the release tests share: a minimal donor-to-lot chain written straight to the genealogy tables
(the genealogy services have their own tests), and a product with an approved specification."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.utils import timezone

from secretome.domain.specification import AttributeSpec, Criterion, CriterionKind, ReportingRule

PASSWORD = "correct-horse-battery"
PRODUCT = "WJ-CM-10X"

D = Decimal


def release_attributes() -> list[AttributeSpec]:
    """A small release panel: identity, safety, potency, and one report-only characterisation test."""
    return [
        AttributeSpec(
            "cd73",
            "CD73 positive",
            "Flow cytometry",
            "%",
            Criterion(CriterionKind.AT_LEAST, lower=D(95), rule=ReportingRule(decimals=1)),
            category="identity",
        ),
        AttributeSpec(
            "sterility",
            "Sterility",
            "Ph. Eur. 2.6.27",
            "",
            Criterion(CriterionKind.COMPLIES),
            category="safety",
        ),
        AttributeSpec(
            "endotoxin",
            "Bacterial endotoxin",
            "Ph. Eur. 2.6.14 kinetic chromogenic",
            "EU/mL",
            Criterion(CriterionKind.AT_MOST, upper=D(35), rule=ReportingRule(decimals=1)),
            category="safety",
        ),
        AttributeSpec(
            "potency",
            "Relative potency",
            "IDO kynurenine, parallel-line",
            "%",
            Criterion(CriterionKind.RANGE, lower=D(70), upper=D(143), rule=ReportingRule(decimals=0)),
            category="potency",
        ),
        AttributeSpec(
            "vegf",
            "VEGF-A",
            "ELISA",
            "pg/mL",
            Criterion(CriterionKind.REPORT_ONLY),
            category="secretome",
            release_test=False,
        ),
    ]


def approved_specification(qa: Any, attributes: list[AttributeSpec] | None = None) -> Any:
    from secretome.services import release

    release.create_product(qa, "test product", code=PRODUCT, name="WJ-MSC conditioned medium, 10x")
    spec = release.draft_specification(qa, "test spec", PRODUCT, attributes or release_attributes())
    return release.approve_specification(
        qa,
        "approve test spec",
        PRODUCT,
        spec.version,
        PASSWORD,
        expected_sha256=release.specification_sha256(spec),
    )


_counter = {"n": 0}


def make_lot(operator: Any, passage_number: int = 4, product: str = PRODUCT, tissue: str = "UC-WJ") -> Any:
    """A lot at the end of a one-passage chain, written directly (genealogy services are tested elsewhere)."""
    from secretome.db.genealogy.models import ConditioningRun, Donor, Lot, Passage, ProcessRecipe

    _counter["n"] += 1
    n = _counter["n"]
    now = timezone.now()
    donor = Donor.objects.create(
        din=f"G1234{26:02d}{n:06d}",
        check_character="H",
        tissue_source=tissue,
        collected_on=dt.date(2026, 1, 5),
        consent_obtained=True,
        created_at=now,
        created_by=operator,
    )
    recipe = ProcessRecipe.objects.filter(code="R").first() or ProcessRecipe.objects.create(
        code="R",
        version=1,
        title="recipe",
        basal_medium="aMEM",
        supplement="hPL",
        supplement_percent=5,
        o2_percent=21,
        seeding_density_per_cm2=3000,
        harvest_confluence_percent=80,
        conditioning_medium="aMEM serum-free",
        conditioning_hours=48,
        created_at=now,
        created_by=operator,
    )
    passage = Passage.objects.create(
        donor=donor,
        number=passage_number,
        recipe=recipe,
        vessel="T175",
        growth_area_cm2=175,
        cells_seeded=5e5,
        seeded_at=now - dt.timedelta(days=5),
        cells_harvested=4e6,
        harvested_at=now,
        medium_lot="M1",
        operator=operator,
        recorded_at=now,
        recorded_by=operator,
    )
    run = ConditioningRun.objects.create(
        passage=passage,
        recipe=recipe,
        product=product,
        started_at=now - dt.timedelta(days=2),
        confluence_percent=80,
        viable_cells_at_start=4e6,
        medium="aMEM serum-free",
        medium_lot="M2",
        volume_ml=20,
        planned_hours=48,
        o2_percent=21,
        operator=operator,
        recorded_at=now,
        recorded_by=operator,
    )
    return Lot.objects.create(
        number=f"CM-WJ-26-{n:04d}",
        conditioning_run=run,
        donor=donor,
        tissue_source=tissue,
        product=product,
        collected_at=now,
        viable_cells_at_collection=4e6,
        harvest_volume_ml=20,
        storage="-80C",
        created_at=now,
        created_by=operator,
    )


def conforming_results(analyst: Any, lot_number: str, potency: str = "104") -> None:
    """Every release result of the test panel; all conform unless ``potency`` is set out of 70-143 %."""
    from secretome.services import release

    for code, text in [
        ("cd73", "98.6"),
        ("sterility", "no growth"),
        ("endotoxin", "< 0.5"),
        ("potency", potency),
    ]:
        release.add_result(analyst, "QC result", lot_number, code, text)


def lot_in_qc_review(qa: Any, analyst: Any) -> Any:
    """A lot with an approved specification and conforming results, submitted for review by ``analyst``."""
    from secretome.services import release

    approved_specification(qa)
    lot = make_lot(analyst)
    conforming_results(analyst, lot.number)
    release.transition(analyst, "submit", lot.number, "submit for review")
    return lot


def sign(user: Any, lot_number: str, meaning: str, reason: str = "signed in test") -> Any:
    """Sign the lot as ``user`` against the QC record hash it has now (as the sign dialog shows it)."""
    from secretome.services import release

    shown = release.qc_record_sha256(release.get_lot(lot_number))
    return release.sign_lot(user, reason, lot_number, meaning, PASSWORD, expected_sha256=shown)


def released_lot(qa: Any, analyst: Any, reviewer: Any) -> Any:
    """A lot reviewed by ``reviewer`` and released by ``qa``, with conforming results by ``analyst``."""
    lot = lot_in_qc_review(qa, analyst)
    sign(reviewer, lot.number, "reviewed")
    sign(qa, lot.number, "released")
    return lot
