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


def release_panel() -> list[AttributeSpec]:
    """The demo specification: ISCT identity, safety, quality, secretome, EVs, potency, culture history."""
    flow = "Flow cytometry, producer cells at conditioning (FMO-gated)"
    identity = [
        AttributeSpec(code, name, flow, "%", _at_least("95", 1), category="identity")
        for code, name in [("cd73", "CD73 positive"), ("cd90", "CD90 positive"), ("cd105", "CD105 positive")]
    ] + [
        AttributeSpec(code, name, flow, "%", _at_most("2", 1), category="identity")
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
        AttributeSpec(
            "vegf",
            "VEGF-A",
            "Sandwich ELISA, 4PL standard curve",
            "pg/mL",
            Criterion(CriterionKind.REPORT_ONLY, rule=ReportingRule(significant_digits=3)),
            category="secretome",
            release_test=False,
        ),
        AttributeSpec(
            "ev-concentration",
            "EV particle concentration",
            "Nanoparticle tracking analysis",
            "particles/mL",
            Criterion(CriterionKind.AT_LEAST, lower=D("1E9"), rule=ReportingRule(significant_digits=2)),
            category="extracellular vesicles",
        ),
        AttributeSpec(
            "ev-size",
            "EV modal size",
            "Nanoparticle tracking analysis",
            "nm",
            Criterion(CriterionKind.RANGE, lower=D(50), upper=D(200), rule=ReportingRule(decimals=0)),
            category="extracellular vesicles",
        ),
        AttributeSpec(
            "potency",
            "Relative potency (IDO activity)",
            "Kynurenine, 4PL parallel-curve vs reference lot",
            "%",
            Criterion(CriterionKind.RANGE, lower=D(70), upper=D(143), rule=ReportingRule(decimals=0)),
            category="potency",
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


# --- analyses ---------------------------------------------------------------------------------------


def _elisa(rng: np.random.Generator, true_pg_ml: float) -> tuple[float, dict[str, Any]]:
    """Fit a VEGF ELISA standard curve and back-calculate one sample (2-fold dilution)."""
    from secretome.analysis import CurveFitter
    from secretome.analysis.logistic import five_pl_inverse, four_pl

    standards = np.array([15.6, 31.25, 62.5, 125, 250, 500, 1000, 2000])
    dose = np.repeat(standards, 2)
    od = four_pl(dose, 0.06, 2.9, 420.0, 1.15) * (1 + rng.normal(0, 0.025, dose.size))
    fit = CurveFitter("4pl", "1/y^2").fit(dose, od)
    p = fit.parameters
    sample_od = float(four_pl(true_pg_ml / 2, 0.06, 2.9, 420.0, 1.15)) * (1 + rng.normal(0, 0.02))
    measured = 2 * float(five_pl_inverse(sample_od, p["bottom"], p["top"], p["inflection"], p["hill"], 1.0))
    grid = np.geomspace(standards.min(), standards.max(), 80)
    plot = {
        "title": f"VEGF-A ELISA standard curve (4PL, EC50 {p['inflection']:.0f} pg/mL)",
        "x_label": "VEGF-A (pg/mL)",
        "y_label": "OD 450-570 nm",
        "log_x": True,
        "series": [
            {"label": "standards", "x": dose.tolist(), "y": od.tolist(), "style": "points"},
            {"label": "4PL fit", "x": grid.tolist(), "y": fit.predict(grid).tolist(), "style": "line"},
            {"label": "sample (1:2)", "x": [measured / 2], "y": [sample_od], "style": "points"},
        ],
    }
    return measured, {"fit": fit.to_dict(), "plots": [plot]}


def _elisa_from_plate(record: Any) -> tuple[float, dict[str, Any]]:
    """VEGF-A of the test conditioned medium read off the imported ELISA plate: a 4PL fitted to the plate's
    standards, the 1:2 test wells (layout level 0.5 of neat medium) back-calculated and multiplied by 2."""
    from secretome.analysis import CurveFitter
    from secretome.services import imports

    tables = imports.tables_for_import(record, "absorbance")
    standards = tables.standards
    fit = CurveFitter("4pl", "1/y^2").fit(standards.concentration, standards.response)
    potency = tables.potency
    wells = [
        i
        for i, (name, level) in enumerate(zip(potency.preparation, potency.dose, strict=True))
        if name == "TEST" and level == 0.5
    ]
    responses = potency.response[wells]
    sample = fit.back_calculate(responses, sample="TEST", dilution=2.0)
    if sample.concentration is None:
        raise SystemExit(f"demo: the test wells of {record.filename} cannot be read off its standard curve")
    grid = np.geomspace(standards.concentration.min(), standards.concentration.max(), 80)
    plot = {
        "title": f"VEGF-A ELISA standard curve (4PL, EC50 {fit.parameters['inflection']:.0f} pg/mL)",
        "x_label": "VEGF-A (pg/mL)",
        "y_label": "OD 450 nm",
        "log_x": True,
        "series": [
            {
                "label": "standards",
                "x": standards.concentration.tolist(),
                "y": standards.response.tolist(),
                "style": "points",
            },
            {"label": "4PL fit", "x": grid.tolist(), "y": fit.predict(grid).tolist(), "style": "line"},
            {
                "label": "sample (1:2)",
                "x": [sample.concentration / 2] * len(wells),
                "y": responses.tolist(),
                "style": "points",
            },
        ],
    }
    return sample.concentration, {"fit": fit.to_dict(), "sample": sample.to_dict(), "plots": [plot]}


def _potency(rng: np.random.Generator, true_rp: float) -> tuple[Reading, dict[str, Any]]:
    """Relative potency of the lot against the reference lot, 4PL parallel-curve, Fieller 95 % limits."""
    from secretome.analysis.logistic import four_pl
    from secretome.analysis.potency import ParallelCurveAssay

    doses = np.array([1.25, 2.5, 5, 10, 20, 40, 80.0])  # % v/v conditioned medium
    preparation, dose, response = [], [], []
    for name, rp in (("reference", 1.0), ("lot", true_rp)):
        for d in doses:
            for _ in range(3):
                preparation.append(name)
                dose.append(d)
                response.append(float(four_pl(d * rp, 2.0, 48.0, 10.0, 1.3)) + rng.normal(0, 0.9))
    result = ParallelCurveAssay("reference", model="4pl").fit(preparation, dose, response)
    estimate = result.potency("lot")
    low, high = estimate.ci.low, estimate.ci.high
    percent = D(f"{100 * estimate.relative_potency:.1f}")
    interval = None
    if low is not None and high is not None:
        interval = (D(f"{100 * low:.1f}"), D(f"{100 * high:.1f}"))
    x = np.asarray(dose)
    labels = np.asarray(preparation)
    grid = np.geomspace(doses.min(), doses.max(), 80)
    series: list[dict[str, Any]] = []
    for name in ("reference", "lot"):
        mask = labels == name
        series.append({"label": name, "x": x[mask].tolist(), "y": np.asarray(response)[mask].tolist()})
        series.append(
            {"label": None, "x": grid.tolist(), "y": result.predict(name, grid).tolist(), "style": "line"}
        )
    plot = {
        "title": f"Relative potency {percent} % (parallel 4PL)",
        "x_label": "conditioned medium (% v/v)",
        "y_label": "kynurenine (µM)",
        "log_x": True,
        "series": series,
    }
    summary = {
        "relative_potency": estimate.relative_potency,
        "ci": [low, high],
        "valid": result.valid,
        "suitability": result.suitability.status,
    }
    return Reading(percent, interval=interval), {"potency": summary, "plots": [plot]}


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


def _imported(ctx: DemoContext, lot: Any) -> dict[str, Any]:
    """The import step's records that hold this lot's QC data: its identity panel (an FCS file imported for
    the lot) and the ELISA plate read alongside it. Empty for other lots, or when the step did not run."""
    from secretome.db.imports.models import InstrumentImport

    hashes = ctx.summary.get("imports", {}).get("raw_files", {})
    records = {
        role: InstrumentImport.objects.select_related("raw_file", "lot").get(raw_file__sha256=sha256)
        for role, sha256 in hashes.items()
        if role in ("elisa_plate", "identity_panel")
    }
    panel = records.get("identity_panel")
    return records if panel is not None and panel.lot_id == lot.pk else {}


def _panel_markers(record: Any) -> set[str]:
    """Attribute codes of the markers an FCS panel measured (channel "CD73-PE" -> "cd73")."""
    return {channel.rsplit("-", 1)[0].lower() for channel in record.metadata.get("channels", [])}


def _results(ctx: DemoContext, lot: Any, rng: np.random.Generator, potency_rp: float) -> dict[str, Any]:
    from secretome.services import release
    from secretome.services.genealogy import trace

    ana = ctx.users["ana"]
    imported = _imported(ctx, lot)
    panel = imported.get("identity_panel")
    measured = _panel_markers(panel) if panel is not None else set()
    chain = trace(lot)
    passage = lot.conditioning_run.passage.number
    tested = lot.collected_at + dt.timedelta(days=2)
    manual = [
        ("cd73", f"{rng.uniform(97, 99.8):.1f}"),
        ("cd90", f"{rng.uniform(97, 99.8):.1f}"),
        ("cd105", f"{rng.uniform(95.5, 99):.1f}"),
        ("cd34", f"{rng.uniform(0.1, 1.2):.1f}"),
        ("cd45", f"{rng.uniform(0.1, 1.0):.1f}"),
        ("cd14", f"{rng.uniform(0.1, 0.9):.1f}"),
        ("cd19", f"{rng.uniform(0.1, 0.6):.1f}"),
        ("hla-dr", f"{rng.uniform(0.2, 1.4):.1f}"),
        ("sterility", "no growth"),
        ("mycoplasma", "not detected"),
        ("endotoxin", "< 0.50"),
        ("appearance", "complies"),
        ("ph", f"{rng.uniform(7.15, 7.45):.2f}"),
        ("osmolality", f"{rng.uniform(285, 320):.0f}"),
        ("protein", f"{rng.uniform(140, 320):.0f}"),
        ("ev-concentration", f"{rng.uniform(2, 9):.1f}e9"),
        ("ev-size", f"{rng.uniform(95, 140):.0f}"),
    ]
    for code, text in manual:
        # Identity percentages are gated from the imported panel: the result names its FCS file.
        release.add_result(
            ana,
            "demo: QC result",
            lot.number,
            code,
            text,
            tested_at=tested,
            instrument_import=panel if code in measured else None,
        )
    release.add_result(
        ana,
        "demo: from the genealogy record",
        lot.number,
        "passage",
        Reading(D(passage)),
        source="analysis",
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
        source="analysis",
        comment=", ".join(flags),
        tested_at=tested,
    )
    plate = imported.get("elisa_plate")
    if plate is not None:
        vegf, elisa = _elisa_from_plate(plate)
    else:
        vegf, elisa = _elisa(rng, float(rng.uniform(900, 2600)))
    release.add_result(
        ana,
        "demo: ELISA plate fitted",
        lot.number,
        "vegf",
        Reading(D(f"{vegf:.4g}")),
        source="analysis",
        raw_file="" if plate is not None else f"elisa-{lot.number}.csv",
        instrument_import=plate,
        analysis=elisa,
        tested_at=tested,
    )
    reading, potency = _potency(rng, potency_rp)
    release.add_result(
        ana,
        "demo: potency assay fitted",
        lot.number,
        "potency",
        reading,
        source="analysis",
        raw_file=f"ido-{lot.number}.csv",
        analysis=potency,
        tested_at=tested,
    )
    assert reading.value is not None
    return {"potency": format_number(ReportingRule(decimals=0).apply(reading.value))}


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
    _specifications(ctx, lots)
    rng = np.random.default_rng(20260301)
    out = ctx.home / "coa"
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    # The second lot's potency assay comes out low: an OOS that the investigation confirms.
    for index, lot in enumerate(lots):
        rp = 0.46 if index == 1 else float(rng.uniform(0.85, 1.2))
        shown = _results(ctx, lot, rng, rp)
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
