"""Demo step of the release: specifications, QC results, investigations, review, release and certificates.

Every lot the genealogy step made is carried to a decision. The ELISA standard curve is fitted by
:class:`secretome.analysis.CurveFitter`, relative potency by the parallel-curve assay of
:mod:`secretome.analysis.potency`; sterility, mycoplasma, appearance and the other outside tests are entered by
hand. One lot gets an out-of-specification potency that a phase I investigation confirms, and is rejected;
a lot made from over-passage cells without an approved deviation is refused release by the guard.
"""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from typing import Any

import numpy as np
from rich import box
from rich.console import Console
from rich.table import Table

from secretome.demo.context import DEMO_PASSWORD, DemoContext
from secretome.domain.specification import (
    AttributeSpec,
    Criterion,
    CriterionKind,
    EndotoxinLimit,
    Reading,
    ReportingRule,
    format_number,
)

D = Decimal

#: Dose of the demo product: 10 mL infused over one hour into a 70 kg adult (USP <85> worked example).
ENDOTOXIN = EndotoxinLimit("intravenous", D(10), infusion_hours=D(1), body_weight_kg=D(70))

TISSUE_NAMES = {"UC-WJ": "WJ-MSC", "BM": "BM-MSC", "AT": "AT-MSC", "OTHER": "MSC"}


def _at_least(limit: str, decimals: int) -> Criterion:
    return Criterion(CriterionKind.AT_LEAST, lower=D(limit), rule=ReportingRule(decimals=decimals))


def _at_most(limit: str, decimals: int) -> Criterion:
    return Criterion(CriterionKind.AT_MOST, upper=D(limit), rule=ReportingRule(decimals=decimals))


def secretome_and_assay_attributes() -> list[AttributeSpec]:
    """Report-only attributes computed by the demo's analysis methods: the secretome (VEGF-A, the Luminex
    panel), the functional potency assays and the producer cells' gene expression."""
    from secretome.demo.assay_files import demo_attributes

    fold = Criterion(CriterionKind.REPORT_ONLY, rule=ReportingRule(significant_digits=3))
    expression = [
        AttributeSpec(
            code,
            name,
            "RT-qPCR, Livak 2^-ddCq vs MCB P2, GAPDH/ACTB/B2M",
            "fold",
            fold,
            category="producer cells",
            release_test=False,
            analysis_kind="qpcr",
        )
        for code, name in [
            ("cdkn2a-fold", "CDKN2A (p16) expression"),
            ("cdkn1a-fold", "CDKN1A (p21) expression"),
            ("pou5f1-fold", "POU5F1 (OCT4) expression"),
        ]
    ]
    from secretome.demo.cfse_files import attributes as cfse_attributes

    return [*demo_attributes(), *expression, *cfse_attributes()]  # CFSE: t_cell_suppression_cfse


#: The EV marker panel of the QC laboratory's Western blot (MISEV2023: two transmembrane tetraspanins and a
#: cytosolic marker expected, cellular and lipoprotein contaminants expected absent).
EV_MARKERS = {
    "ev-cd9": ("CD9", "detected"),
    "ev-cd63": ("CD63", "detected"),
    "ev-cd81": ("CD81", "detected"),
    "ev-tsg101": ("TSG101", "detected"),
    "ev-calnexin": ("calnexin", "not detected"),
    "ev-apoa1": ("ApoA1", "not detected"),
}


def ev_marker_attributes() -> list[AttributeSpec]:
    """Report-only EV marker attributes (a marker expected absent must be not detected)."""
    return [
        AttributeSpec(
            code,
            f"EV marker {marker}",
            "Western blot of the EV fraction",
            "",
            Criterion(
                CriterionKind.NOT_DETECTED if expected == "not detected" else CriterionKind.REPORT_ONLY
            ),
            category="extracellular vesicles",
            release_test=False,
        )
        for code, (marker, expected) in EV_MARKERS.items()
    ]


def release_panel() -> list[AttributeSpec]:
    """The demo specification: ISCT identity, safety, quality, secretome, EVs, potency, culture history."""
    flow = "Flow cytometry, producer cells at conditioning (FMO-gated)"
    identity = [
        AttributeSpec(
            code, name, flow, "%", _at_least("95", 1), category="identity", analysis_kind="flow-identity"
        )
        for code, name in [("cd73", "CD73 positive"), ("cd90", "CD90 positive"), ("cd105", "CD105 positive")]
    ] + [
        AttributeSpec(
            code, name, flow, "%", _at_most("2", 1), category="identity", analysis_kind="flow-identity"
        )
        for code, name in [
            ("cd34", "CD34 positive"),
            ("cd45", "CD45 positive"),
            ("cd14", "CD14/CD11b positive"),
            ("cd19", "CD19/CD79a positive"),
            ("hla-dr", "HLA-DR positive"),
        ]
    ]
    return [
        *identity,
        AttributeSpec(
            "sterility",
            "Sterility",
            "Ph. Eur. 2.6.27, automated culture, 14 d",
            "",
            Criterion(CriterionKind.COMPLIES),
            category="safety",
            note="no growth in aerobic and anaerobic bottles",
        ),
        AttributeSpec(
            "mycoplasma",
            "Mycoplasma",
            "Ph. Eur. 2.6.7 NAT",
            "",
            Criterion(CriterionKind.NOT_DETECTED),
            category="safety",
        ),
        AttributeSpec(
            "endotoxin",
            "Bacterial endotoxin",
            "Ph. Eur. 2.6.14 kinetic chromogenic LAL",
            "EU/mL",
            ENDOTOXIN.criterion(decimals=1),
            category="safety",
            note=ENDOTOXIN.describe(),
        ),
        AttributeSpec(
            "appearance",
            "Appearance",
            "Visual, black and white background",
            "",
            Criterion(CriterionKind.COMPLIES),
            category="quality",
            note="clear to slightly opalescent, colourless to pale yellow, no visible particles",
        ),
        AttributeSpec(
            "ph",
            "pH",
            "Ph. Eur. 2.2.3 potentiometry",
            "",
            Criterion(CriterionKind.RANGE, lower=D("7.0"), upper=D("7.6"), rule=ReportingRule(decimals=1)),
            category="quality",
        ),
        AttributeSpec(
            "osmolality",
            "Osmolality",
            "Ph. Eur. 2.2.35 freezing point",
            "mOsm/kg",
            Criterion(CriterionKind.RANGE, lower=D(270), upper=D(340), rule=ReportingRule(decimals=0)),
            category="quality",
        ),
        AttributeSpec(
            "protein",
            "Total protein",
            "BCA",
            "µg/mL",
            Criterion(
                CriterionKind.RANGE, lower=D(50), upper=D(500), rule=ReportingRule(significant_digits=3)
            ),
            category="quality",
        ),
        *secretome_and_assay_attributes(),
        AttributeSpec(
            "ev-concentration",
            "EV particle concentration",
            "Nanoparticle tracking analysis",
            "particles/mL",
            Criterion(CriterionKind.AT_LEAST, lower=D("1E9"), rule=ReportingRule(significant_digits=2)),
            category="extracellular vesicles",
            analysis_kind="nta",
        ),
        AttributeSpec(
            "ev-size",
            "EV modal size",
            "Nanoparticle tracking analysis",
            "nm",
            Criterion(CriterionKind.RANGE, lower=D(50), upper=D(200), rule=ReportingRule(decimals=0)),
            category="extracellular vesicles",
            analysis_kind="nta",
        ),
        *ev_marker_attributes(),
        AttributeSpec(
            "potency",
            "Relative potency (IDO activity)",
            "Kynurenine, 4PL parallel-curve vs reference lot",
            "%",
            Criterion(CriterionKind.RANGE, lower=D(70), upper=D(143), rule=ReportingRule(decimals=0)),
            category="potency",
            analysis_kind="relative-potency",
        ),
        AttributeSpec(
            "passage",
            "Passage at conditioning",
            "Genealogy record",
            "",
            Criterion(CriterionKind.REPORT_ONLY, rule=ReportingRule(decimals=0)),
            category="culture history",
            note="the passage limit of the tissue source is a release guard of its own",
        ),
        AttributeSpec(
            "senescence",
            "Senescence flags",
            "Genealogy record (SA-β-gal, PDT, morphology)",
            "",
            Criterion(CriterionKind.COMPLIES),
            category="culture history",
        ),
    ]


# --- the lots ---------------------------------------------------------------------------------------


def _specifications(ctx: DemoContext, lots: list[Any]) -> None:
    from secretome.services import release

    qa = ctx.users["quinn"]
    for product in sorted({lot.product for lot in lots}):
        sources = sorted(
            {TISSUE_NAMES.get(lot.tissue_source, "MSC") for lot in lots if lot.product == product}
        )
        # One product per tissue source would state it in the name (ISCT 2019); the demo's lots share one
        # product code, so the name says "MSC" and each certificate states the lot's tissue source.
        label = sources[0] if len(sources) == 1 else "MSC"
        name = f"{label} conditioned medium, serum-free, 10x concentrated"
        release.create_product(qa, "demo: product", code=product, name=name)
        spec = release.draft_specification(qa, "demo: release specification", product, release_panel())
        release.approve_specification(
            qa,
            "demo: specification approved for release testing",
            product,
            spec.version,
            DEMO_PASSWORD,
            expected_sha256=release.specification_sha256(spec),
        )
    ctx.say(f"Specifications approved by QA (signed): {', '.join(sorted({lot.product for lot in lots}))}")


def _outside_report(lot: Any, rng: np.random.Generator) -> tuple[dict[str, str], bytes]:
    """The QC laboratory's report of the tests the demo does not model as instrument files (compendial safety
    tests, pH, osmolality, BCA protein, the EV marker blot): the values, and the report as a document the manual
    results attach."""
    values = {
        "sterility": "no growth",
        "mycoplasma": "not detected",
        "endotoxin": "< 0.50",
        "appearance": "complies",
        "ph": f"{rng.uniform(7.15, 7.45):.2f}",
        "osmolality": f"{rng.uniform(285, 320):.0f}",
        "protein": f"{rng.uniform(140, 320):.0f}",
        **{code: expected for code, (_, expected) in EV_MARKERS.items()},
    }
    lines = [
        f"QC laboratory report for lot {lot.number}",
        "Safety: Ph. Eur. 2.6.27 sterility, 2.6.7 mycoplasma NAT, 2.6.14 LAL",
        "Quality: pH meter, freezing-point osmometer, BCA protein",
        "EV markers: Western blot of the EV fraction (CD9, CD63, CD81, TSG101; calnexin, ApoA1)",
        "",
        *(f"{code}\t{value}" for code, value in values.items()),
    ]
    return values, ("\n".join(lines) + "\n").encode("utf-8")


def _results(ctx: DemoContext, lot: Any, rng: np.random.Generator) -> None:
    """The lot's manual results, each attaching the stored report it is transcribed from, and the culture
    history read from the genealogy record."""
    from secretome.services import release
    from secretome.services.genealogy import trace

    ana = ctx.users["ana"]
    chain = trace(lot)
    passage = lot.conditioning_run.passage.number
    tested = lot.collected_at + dt.timedelta(days=2)
    values, report = _outside_report(lot, rng)
    name = f"qc-report-{lot.number}.txt"
    for code, text in values.items():
        release.add_result(
            ana,
            "demo: transcribed from the QC laboratory report",
            lot.number,
            code,
            text,
            tested_at=tested,
            raw_file=name,
            document=(name, report),
            comment="flow cytometry facility report; not gated in Secretome"
            if code.startswith(("cd", "hla"))
            else "",
        )
    release.add_result(
        ana,
        "demo: from the genealogy record",
        lot.number,
        "passage",
        Reading(D(passage)),
        raw_file=f"secretome lot trace {lot.number}",
        tested_at=tested,
    )
    flags = chain["flags"]
    release.add_result(
        ana,
        "demo: from the genealogy record",
        lot.number,
        "senescence",
        "complies" if not flags else "does not comply",
        raw_file=f"secretome lot trace {lot.number}",
        comment=", ".join(flags),
        tested_at=tested,
    )


def _potency_shown(lot: Any) -> str:
    """The lot's relative potency as reported (rounded as the specification rounds it)."""
    from secretome.services.release.lots import current_results

    result = current_results(lot).get("potency")
    if result is None or not result.value:
        return "-"
    return format_number(ReportingRule(decimals=0).apply(D(result.value)))


def _decide(ctx: DemoContext, lot: Any) -> tuple[str, str]:
    """Review and disposition with signatures. Returns (verdict, why)."""
    from secretome.db.quality.models import Investigation
    from secretome.services import release
    from secretome.services.errors import GuardFailed

    ana, rey, quinn = ctx.users["ana"], ctx.users["rey"], ctx.users["quinn"]
    why = ""
    for investigation in Investigation.objects.filter(lot=lot, status="open"):
        release.close_investigation(
            rey,
            "demo: phase I investigation",
            investigation.number,
            outcome="OOS confirmed",
            conclusion=(
                "No assignable laboratory cause: system suitability met, reference within its limits, "
                "calculations and dilutions verified. OOS confirmed."
                if investigation.result.attribute.code == "potency"
                else "No assignable laboratory cause: the record was checked against its source. Confirmed."
            ),
            password=DEMO_PASSWORD,
        )
        why = f"OOS {investigation.result.attribute.code} confirmed ({investigation.number})"
    release.transition(ana, "demo: all results entered", lot.number, "submit for review")
    release.sign_lot(
        rey,
        "demo: QC data reviewed",
        lot.number,
        "reviewed",
        DEMO_PASSWORD,
        expected_sha256=release.qc_record_sha256(lot),
    )
    try:
        release.sign_lot(
            quinn,
            "demo: all release tests comply",
            lot.number,
            "released",
            DEMO_PASSWORD,
            expected_sha256=release.qc_record_sha256(lot),
        )
        return "released", ""
    except GuardFailed as refused:
        passage = lot.conditioning_run.passage.number
        over = f"P{passage} over the passage limit, no approved deviation"
        why = why or (
            over if "over-passage" in str(refused) else str(refused).removeprefix("cannot release: ")
        )
        ctx.say(f"Release of {lot.number} refused: {refused}")
    release.sign_lot(
        quinn,
        f"demo: {why}",
        lot.number,
        "rejected",
        DEMO_PASSWORD,
        expected_sha256=release.qc_record_sha256(lot),
    )
    return "rejected", why


def release_lots(ctx: DemoContext) -> None:
    """Carry every lot from production to a signed decision and write certificates to demo/coa/."""
    from secretome.db.genealogy.models import Lot
    from secretome.services import certificates

    lots = list(Lot.objects.select_related("conditioning_run__passage", "donor").order_by("number"))
    if not lots:
        ctx.say("Release: no lots to test (the genealogy step makes them)")
        return
    from secretome.demo import analyses, cfse_files

    _specifications(ctx, lots)
    rng = np.random.default_rng(20260301)
    out = ctx.home / "coa"
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    # The second lot's conditioned medium is weak: an OOS potency that the investigation confirms.
    potencies = {
        lot.number: 0.46 if index == 1 else float(rng.uniform(0.85, 1.2)) for index, lot in enumerate(lots)
    }
    for lot in lots:
        _results(ctx, lot, rng)
    analyses.approve_methods(ctx)
    analyses.analyse_potency(ctx, lots, potencies)
    analyses.analyse_ev(ctx, lots)
    # The adipose lot's producer cells have lost part of their CD105: identity fails on that marker.
    analyses.analyse_identity(ctx, lots, {lot.number for lot in lots if lot.tissue_source == "AT"})
    analyses.analyse_secretome_and_assays(ctx, lots, potencies)
    cfse_files.analyse_suppression(ctx, lots, potencies)  # CFSE T-cell suppression of two lots
    analyses.analyse_expression(ctx, lots)
    analyses.verify_lots(ctx, lots)
    for lot in lots:
        shown = {"potency": _potency_shown(lot)}
        verdict, why = _decide(ctx, lot)
        if verdict == "released":
            certificate = certificates.issue_certificate(
                ctx.users["quinn"], "demo: certificate of analysis", lot.number
            )
            (out / certificate.file_name).write_bytes(certificates.certificate_pdf(certificate))
        rows.append(
            {
                "lot": lot.number,
                "tissue_source": lot.tissue_source,
                "passage": f"P{lot.conditioning_run.passage.number}",
                "potency": shown["potency"],
                "verdict": verdict,
                "why": why,
            }
        )
    ctx.summary["release"] = rows
    _verify_certificates(ctx, out)
    ctx.say(f"Certificates of analysis: {sum(r['verdict'] == 'released' for r in rows)} written to {out}")
    ctx.close_with(disposition_table(rows))


def disposition_table(rows: list[dict[str, str]]) -> str:
    """The closing table of the demo: lot, tissue source, passage, potency, verdict."""
    table = Table(title="Lot disposition", box=box.SIMPLE_HEAD)
    for column in ("lot", "tissue source", "passage", "potency (%)", "verdict"):
        table.add_column(column)
    for row in rows:
        verdict = row["verdict"] + (f": {row['why']}" if row["why"] else "")
        table.add_row(row["lot"], row["tissue_source"], row["passage"], row["potency"], verdict)
    buffer = io.StringIO()
    Console(file=buffer, width=80, color_system=None).print(table)
    return buffer.getvalue().rstrip()


def _verify_certificates(ctx: DemoContext, out: Any) -> None:
    """Each certificate verifies as genuine and current; a copy with one byte changed does not."""
    from secretome.services import certificates

    checked = 0
    for path in sorted(out.glob("*.pdf")):
        pdf = path.read_bytes()
        verdict = certificates.verify_certificate(pdf)
        if not (verdict["genuine"] and verdict["current"]):
            raise SystemExit(f"demo: {path.name} does not verify: {verdict['reasons']}")
        middle = len(pdf) // 2
        altered = pdf[:middle] + bytes([pdf[middle] ^ 0x01]) + pdf[middle + 1 :]
        if certificates.verify_certificate(altered)["genuine"]:
            raise SystemExit(f"demo: a one-byte change to {path.name} went unnoticed")
        checked += 1
    ctx.say(f"Certificates verified: {checked} genuine and current; a one-byte change to each is rejected")
