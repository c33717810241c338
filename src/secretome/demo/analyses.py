"""Demo: every computed result comes from a vendor-format file, imported and analysed through the services.

The demo writes the files an instrument would have written (a BMG MARS potency plate, NanoSight NTA
ExperimentSummary exports) into ``instrument-files/`` of the data directory, imports them through the import
service, analyses them with QA-approved analysis methods and accepts the runs, so that every computed result
of a lot names an accepted run whose raw file is in the store, and ``secretome lot verify`` recomputes it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from secretome.demo.context import DEMO_PASSWORD, DemoContext

#: Method codes of the demo.
POTENCY_METHOD = "IDO-RP"
EV_METHOD = "EV-NTA"
QPCR_METHOD = "MSC-EXPRESSION"
IDENTITY_METHOD = "ISCT-FLOW"


def files_directory(ctx: DemoContext) -> Path:
    path = ctx.home / "instrument-files"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _write(ctx: DemoContext, name: str, content: bytes) -> Path:
    path = files_directory(ctx) / name
    path.write_bytes(content)
    ctx.summary.setdefault("generated_files", []).append(path.name)
    return path


def approve_methods(ctx: DemoContext) -> None:
    """The analyst drafts the demo's analysis methods; QA approves each with a signature."""
    from secretome.demo.expression_files import nta_method_settings
    from secretome.services import analyses

    ana, quinn = ctx.users["ana"], ctx.users["quinn"]
    drafts = [
        dict(
            code=POTENCY_METHOD,
            title="IDO activity (kynurenine, 490 nm), parallel 4PL vs reference standard",
            kind="relative-potency",
            settings={
                "reference": "REF",
                "model": "4pl",
                "similarity": "equivalence",
                "attribute": "potency",
                # the assay control on every plate (instrument_files.DEMO_POTENCY_CONTROL): charted, not a lot
                "control_preparations": ["CTRL"],
            },
            attributes=["potency"],
            reporting_unit="%",
            normalisation="none",
        ),
        dict(
            code=EV_METHOD,
            title="EV particle concentration and modal size, NanoSight NTA",
            kind="nta",
            settings=nta_method_settings(),
            attributes=["ev-concentration", "ev-size"],
            reporting_unit="particles/mL",
            normalisation="per_ml",
        ),
    ]
    from secretome.demo.assay_files import demo_methods
    from secretome.demo.expression_files import qpcr_method_settings

    drafts += [method.draft_arguments() for method in demo_methods()]
    drafts.append(
        dict(
            code=QPCR_METHOD,
            title="Producer-cell gene expression (QuantStudio), Livak fold change vs MCB P2",
            kind="qpcr",
            settings=qpcr_method_settings(),
            attributes=list(qpcr_method_settings()["attributes"]),
            reporting_unit="fold",
            normalisation="none",
        )
    )
    from secretome.demo.flow_files import identity_method_settings

    drafts.append(
        dict(
            code=IDENTITY_METHOD,
            title="ISCT identity panel, FMO-gated flow cytometry of the producer cells",
            kind="flow-identity",
            settings=identity_method_settings(),
            attributes=["cd73", "cd90", "cd105", "cd34", "cd45", "cd14", "cd19", "hla-dr"],
            reporting_unit="%",
            normalisation="none",
        )
    )
    from secretome.demo import cfse_files

    drafts.append(cfse_files.method_draft())  # CFSE T-cell suppression (t-cell-suppression-flow)
    for draft in drafts:
        method = analyses.draft_method(ana, "demo: analysis method", **draft)  # type: ignore[arg-type]
        analyses.approve_method(
            quinn,
            "demo: method validated for release testing",
            f"{method.code}@{method.version}",
            DEMO_PASSWORD,
        )
    codes = ", ".join(str(d["code"]) for d in drafts)
    ctx.say(f"Analysis methods approved by QA (signed): {codes}")


def _chunks(lots: Sequence[Any], size: int) -> list[list[Any]]:
    return [list(lots[i : i + size]) for i in range(0, len(lots), size)]


def analyse_potency(ctx: DemoContext, lots: Sequence[Any], potencies: dict[str, float]) -> None:
    """Potency plates (reference standard and up to three lots each) read as MARS exports, analysed and accepted."""
    from secretome.demo.instrument_files import DEMO_POTENCY_CONTROL, potency_plate
    from secretome.services import analyses, imports

    ana = ctx.users["ana"]
    rng = np.random.default_rng(20260305)
    for number, group in enumerate(_chunks(lots, 3), start=1):
        truth = {lot.number: potencies[lot.number] for lot in group}
        content, layout = potency_plate(rng, truth, f"IDO-{number:02d}", control=DEMO_POTENCY_CONTROL)
        path = _write(ctx, f"ido-potency-plate-{number:02d}.csv", content)
        layout_record = imports.save_layout(ana, "demo: potency plate layout", layout)
        record = imports.import_file(
            ana,
            "demo: potency plate read",
            path.name,
            content,
            layout=f"{layout_record.name}@{layout_record.version}",
        )
        run = analyses.analyse(
            ana, "demo: relative potency of the lots on the plate", [record.pk], POTENCY_METHOD
        )
        analyses.accept_run(ana, "demo: potency analysis checked", run.number)
        ctx.say(f"Potency plate {path.name} -> import #{record.pk} -> run {run.number} accepted")


def analyse_ev(ctx: DemoContext, lots: Sequence[Any]) -> None:
    """One NanoSight NTA export per lot, analysed for EV concentration and modal size and accepted."""
    from secretome.demo.expression_files import ev_truth, nta_experiment_summary
    from secretome.services import analyses, imports

    ana = ctx.users["ana"]
    rng = np.random.default_rng(20260306)
    for lot in lots:
        truth = ev_truth(rng, lot.number)
        captured = (lot.collected_at + dt.timedelta(days=1)).replace(tzinfo=None)
        content = nta_experiment_summary(truth, rng, captured)
        path = _write(ctx, f"nta-{lot.number}-ExperimentSummary.csv", content)
        record = imports.import_file(ana, "demo: NTA of the lot's CM", path.name, content, lot=lot.number)
        run = analyses.analyse(ana, "demo: EV particle analysis", [record.pk], EV_METHOD, lot.number)
        analyses.accept_run(ana, "demo: NTA analysis checked", run.number)
    ctx.say(f"NTA exports: {len(lots)} analysed for EV concentration and size (runs accepted)")


def _import_and_accept(ctx: DemoContext, code: str, plate: Any, with_layout: bool, title: str) -> None:
    from secretome.services import analyses, imports

    ana = ctx.users["ana"]
    path = _write(ctx, plate.filename, plate.content)
    layout = None
    if with_layout:
        saved = imports.save_layout(ana, f"demo: {title} plate layout", plate.layout)
        layout = f"{saved.name}@{saved.version}"
    record = imports.import_file(ana, f"demo: {title}", path.name, plate.content, layout=layout)
    run = analyses.analyse(ana, f"demo: {title}", [record.pk], code)
    results = analyses.accept_run(ana, f"demo: {title} checked", run.number)
    ctx.say(f"{title}: {path.name} -> import #{record.pk} -> run {run.number}, {len(results)} results")


def analyse_secretome_and_assays(ctx: DemoContext, lots: Sequence[Any], potencies: dict[str, float]) -> None:
    """The secretome (VEGF-A ELISA, a Luminex five-plex) and the functional potency assays (IDO activity,
    T-cell suppression, tube formation, scratch closure), each file holding every lot, in the vendor's format."""
    from secretome.demo import assay_files as files
    from secretome.demo.history import lot_truth

    rng = np.random.default_rng(20260307)
    # The CM's activity scales its secreted factors and its functional readouts alike.
    strength = {lot.number: potencies[lot.number] for lot in lots}
    # VEGF-A follows the production history's model: the tissue source's level, the conditioning medium
    # lot's effect (the story's lots were made after the medium change) and the lot's own scatter.
    vegf = {
        lot.number: lot_truth(
            rng, lot.tissue_source, lot.conditioning_run.medium_lot, strength=strength[lot.number]
        ).vegf
        for lot in lots
    }
    panel = {
        n: {a: typical * float(rng.uniform(0.7, 1.3)) * s for a, typical in files.PANEL_TYPICAL.items()}
        for n, s in strength.items()
    }
    plates = {
        "VEGF-ELISA": (files.gen5_vegf_elisa(vegf, rng), True, "VEGF-A ELISA"),
        "SECRETOME-5PLEX": (files.xponent_panel(panel, rng), False, "secretome five-plex"),
        "IDO-ACTIVITY": (
            files.gen5_ido_kynurenine({n: 0.8 * s for n, s in strength.items()}, rng),
            True,
            "IDO activity",
        ),
        "TCELL-SUPPRESSION": (files.gen5_t_cell_suppression(strength, rng), True, "T-cell suppression"),
        "ANGIOGENESIS": (
            files.angiogenesis_table({n: 80.0 * s for n, s in strength.items()}, rng),
            False,
            "tube formation",
        ),
        "WOUND-HEALING": (
            files.scratch_table({n: 100.0 + 30.0 * s for n, s in strength.items()}, rng),
            False,
            "scratch closure",
        ),
    }
    for code, (plate, with_layout, title) in plates.items():
        _import_and_accept(ctx, code, plate, with_layout, title)
    from secretome.services import controls

    charted = controls.method_controls("TCELL-SUPPRESSION")
    ctx.say(
        "Assay controls of TCELL-SUPPRESSION, charted run after run: "
        + ", ".join(f"{c['control']} {c['quantity']}" for c in charted)
        + " (`secretome trend controls TCELL-SUPPRESSION --control stimulated`)"
    )


def analyse_expression(ctx: DemoContext, lots: Sequence[Any]) -> None:
    """One QuantStudio plate with the producer cells of every lot against the master-bank calibrator."""
    from secretome.demo.expression_files import demo_expression_files
    from secretome.services import analyses, imports
    from secretome.services.genealogy import trace

    ana = ctx.users["ana"]
    producers = []
    for lot in lots:
        passage = lot.conditioning_run.passage
        cpd = trace(lot)["growth"]["cpd"] or 0.0
        producers.append((lot.number, passage.number, float(cpd)))
    made = demo_expression_files(
        np.random.default_rng(20260308), producers, dt.datetime(2026, 3, 9, 10, 0, tzinfo=dt.UTC)
    )
    for name, content in made.qpcr.items():
        path = _write(ctx, name, content)
        record = imports.import_file(ana, "demo: producer-cell qPCR", path.name, content)
        run = analyses.analyse(ana, "demo: gene expression of the producer cells", [record.pk], QPCR_METHOD)
        results = analyses.accept_run(ana, "demo: qPCR analysis checked", run.number)
        ctx.say(f"qPCR {path.name} -> import #{record.pk} -> run {run.number}, {len(results)} results")


def analyse_identity(ctx: DemoContext, lots: Sequence[Any], cd105_fails: set[str]) -> None:
    """Each lot's producer cells stained for the ISCT panel: four FCS 3.1 tubes (stained and FMO controls),
    imported for the lot and gated in one run."""
    from secretome.demo.flow_files import identity_panel_files
    from secretome.services import analyses, imports

    ana = ctx.users["ana"]
    for seed, lot in enumerate(lots, start=101):
        tubes = identity_panel_files(lot.number, seed, cd105_fails=lot.number in cd105_fails)
        records = []
        for name, content in tubes.items():
            path = _write(ctx, name, content)
            records.append(
                imports.import_file(ana, "demo: ISCT panel tube", path.name, content, lot=lot.number).pk
            )
        run = analyses.analyse(ana, "demo: ISCT identity panel gated", records, IDENTITY_METHOD, lot.number)
        analyses.accept_run(ana, "demo: gating checked", run.number)
    ctx.say(
        f"Flow cytometry: {len(lots)} ISCT panels ({4 * len(lots)} FCS files) gated through accepted runs"
    )


def verify_lots(ctx: DemoContext, lots: Sequence[Any]) -> None:
    """Recompute every computed result of every lot from its raw files (what ``secretome lot verify`` does)."""
    from secretome.services import analyses

    verified = failed = 0
    shared: dict[int, Any] = {}  # a plate's run is recomputed once for all its lots
    for lot in lots:
        report = analyses.verify_lot(lot.number, runs=shared)
        verified += report.verified
        failed += report.failed
        if report.failed:
            raise SystemExit(f"demo: lot {lot.number} does not recompute: {'; '.join(report.failures())}")
    ctx.say(f"Recompute check: {verified} computed results recomputed from their raw files, {failed} failed")
    ctx.say(
        f"Instrument files written by the demo: {files_directory(ctx)} ({len(ctx.summary.get('generated_files', []))} files)"
    )
