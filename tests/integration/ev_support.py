"""Builders for lots with EV data: a specification with protein, NTA and marker attributes, an accepted NTA
run made from a NanoSight export through the import and analysis services, and marker results."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import numpy as np
from django.utils import timezone

from secretome.demo.expression_files import EvTruth, ev_truth, nta_experiment_summary, nta_method_settings
from secretome.domain.specification import AttributeSpec, Criterion, CriterionKind, ReportingRule
from tests.integration.release_support import PASSWORD, release_attributes

NTA_METHOD = "EV-NTA"
#: The marker panel of the test specification: tetraspanins present, calnexin and ApoA1 absent.
MARKER_FINDINGS = {
    "ev-cd9": "detected",
    "ev-cd63": "detected",
    "ev-cd81": "detected",
    "ev-calnexin": "not detected",
    "ev-apoa1": "not detected",
}


def ev_attributes() -> list[AttributeSpec]:
    """The release test panel with total protein, NTA concentration and size, and the EV marker panel."""
    attributes = release_attributes()
    attributes += [
        AttributeSpec(
            "protein",
            "Total protein",
            "BCA",
            "µg/mL",
            Criterion(CriterionKind.REPORT_ONLY, rule=ReportingRule(significant_digits=3)),
            category="quality",
            release_test=False,
        ),
        AttributeSpec(
            "ev-concentration",
            "EV particle concentration",
            "Nanoparticle tracking analysis",
            "particles/mL",
            Criterion(CriterionKind.AT_LEAST, lower=Decimal("1E9"), rule=ReportingRule(significant_digits=2)),
            category="extracellular vesicles",
            analysis_kind="nta",
            release_test=False,
        ),
        AttributeSpec(
            "ev-size",
            "EV modal size",
            "Nanoparticle tracking analysis",
            "nm",
            Criterion(
                CriterionKind.RANGE, lower=Decimal(50), upper=Decimal(200), rule=ReportingRule(decimals=0)
            ),
            category="extracellular vesicles",
            analysis_kind="nta",
            release_test=False,
        ),
    ]
    for code, finding in MARKER_FINDINGS.items():
        marker = code.removeprefix("ev-").upper()
        kind = CriterionKind.NOT_DETECTED if finding == "not detected" else CriterionKind.REPORT_ONLY
        attributes.append(
            AttributeSpec(
                code,
                f"EV marker {marker}",
                "Western blot",
                "",
                Criterion(kind),
                category="extracellular vesicles",
                release_test=False,
            )
        )
    return attributes


def approve_nta_method(analyst: Any, qa: Any) -> Any:
    from secretome.services import analyses

    analyses.draft_method(
        analyst,
        "NTA method",
        code=NTA_METHOD,
        title="EV particle concentration and modal size, NanoSight NTA",
        kind="nta",
        settings=nta_method_settings(),
        attributes=["ev-concentration", "ev-size"],
        reporting_unit="particles/mL",
        normalisation="per_ml",
    )
    return analyses.approve_method(qa, "approve", f"{NTA_METHOD}@1", PASSWORD)


def accepted_nta_run(analyst: Any, lot_number: str, seed: int = 11) -> tuple[Any, EvTruth]:
    """A NanoSight export of the lot's CM, imported, analysed with the approved NTA method and accepted."""
    from secretome.services import analyses, imports

    rng = np.random.default_rng(seed)
    truth = ev_truth(rng, lot_number)
    content = nta_experiment_summary(truth, rng, dt.datetime(2026, 3, 4, 10, 30, tzinfo=dt.UTC))
    record = imports.import_file(
        analyst, "NTA of the lot's CM", f"nta-{lot_number}.csv", content, lot=lot_number
    )
    run = analyses.analyse(analyst, "EV particle analysis", [record.pk], NTA_METHOD, lot_number)
    analyses.accept_run(analyst, "NTA checked", run.number)
    run.refresh_from_db()
    return run, truth


def add_markers(analyst: Any, lot_number: str, findings: dict[str, str] | None = None) -> None:
    from secretome.services import release

    for code, finding in (findings or MARKER_FINDINGS).items():
        release.add_result(analyst, "marker blot", lot_number, code, finding)


def add_harvest_and_processing(lot: Any, operator: Any) -> None:
    """Viability at harvest, a clarification spin, a sterile filtration and an ultrafiltration, written
    straight to the genealogy tables (the genealogy services have their own tests)."""
    from secretome.db.genealogy.models import ProcessingStep

    lot.viability_at_collection_percent = 92.0
    lot.save(update_fields=["viability_at_collection_percent"])
    now = timezone.now()
    common = dict(lot=lot, performed_at=now, recorded_at=now, recorded_by=operator)
    ProcessingStep.objects.create(
        sequence=1,
        kind="clarification",
        volume_in_ml=20,
        volume_out_ml=20,
        g_force=2000,
        minutes=10,
        **common,
    )
    ProcessingStep.objects.create(
        sequence=2, kind="filtration", volume_in_ml=20, volume_out_ml=20, pore_size_um=0.22, **common
    )
    ProcessingStep.objects.create(
        sequence=3, kind="ultrafiltration", volume_in_ml=20, volume_out_ml=2, mwco_kda=10, **common
    )
