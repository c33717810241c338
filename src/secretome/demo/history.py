"""Demo step of the production history: a year of lots of the product before the lots of the release story,
tested through accepted analysis runs, and the trend that catches a process drift.

Twenty-six lots of conditioned medium, one every two weeks through 2025, from three Wharton's-jelly
donors (each thawed from its working cell bank, several lots per donor, so that the donor mixed model has
something to separate) and two bone-marrow donors (a second tissue source for the factor comparison). Every
lot is tested as a real laboratory batches it: three lots to an IDO potency plate beside the reference
standard, a VEGF-A ELISA plate per quarter and the secretome five-plex twice a year; every number the trend
shows is computed by an accepted run from the stored vendor file.

The files are simulated from a model of the true values (:func:`lot_truth`): donor and lot scatter around a
tissue source's typical secretion, and a conditioning-medium lot change. From medium lot
:data:`REFORMULATED_FROM` on, the conditioned medium carries about 30 % less VEGF-A (:data:`VEGF_DRIFT`);
potency and the other analytes do not move. QA approves control limits from the lots before the change, and
the run rules flag the later lots (Nelson 2: nine in a row below the centre line), which the demo checks on
the computed values.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from secretome.demo.context import DemoContext

#: The product of every demo lot (the conditioning runs' default product code).
PRODUCT = "MSC-CM"
#: Collection of the first history lot; one lot every :data:`LOT_INTERVAL_DAYS` after it.
HISTORY_START = dt.datetime(2025, 1, 6, 11, 0, tzinfo=dt.UTC)
LOT_INTERVAL_DAYS = 14
HISTORY_LOTS = 26
#: Lots conditioned in the earlier medium lots; QA approves the control limits from these.
BASELINE_N = 16
#: Conditioning-medium lots from the supplier's reformulated basal medium, first to last.
REFORMULATED_FROM = "SFM-2508"
REFORMULATED = ("SFM-2508", "SFM-2511", "SFM-2602")
#: Factor on VEGF-A secretion in conditioned medium made in a reformulated medium lot.
VEGF_DRIFT = 0.70
#: Typical VEGF-A (pg/mL) of serum-free 48 h CM per tissue source, the level the lots scatter around.
VEGF_TYPICAL = {"UC-WJ": 1800.0, "BM": 1500.0, "AT": 2100.0}
#: Typical relative potency (IDO activity) per tissue source.
POTENCY_TYPICAL = {"UC-WJ": 1.0, "BM": 0.95, "AT": 1.0}
#: Scatter (SD of the natural log) between donors and between lots of one donor.
DONOR_SD, LOT_SD = 0.06, 0.06
#: The history's donors: key -> (tissue source, donation date). Cells are banked before the first lot.
DONORS = {
    "WJ-A": ("UC-WJ", dt.date(2024, 11, 4)),
    "BM-A": ("BM", dt.date(2024, 11, 11)),
    "WJ-B": ("UC-WJ", dt.date(2025, 3, 3)),
    "BM-B": ("BM", dt.date(2025, 6, 2)),
    "WJ-C": ("UC-WJ", dt.date(2025, 7, 7)),
}
#: Days from donation until the donor's working cells can be thawed for a lot (explant, banks, expansion).
BANKED_AFTER_DAYS = 50
#: Lots (counted from 0) made from bone-marrow cells; the others come from the Wharton's-jelly donors.
BM_LOTS = {4: "BM-A", 11: "BM-A", 18: "BM-B", 23: "BM-B"}
#: Lots on one plate: potency (beside the reference standard), VEGF-A ELISA, five-plex.
POTENCY_PER_PLATE, ELISA_PER_PLATE, PANEL_PER_PLATE = 3, 7, 13
#: The run rule the drift is expected to fire, checked on the computed values.
EXPECTED_RULE = "nelson 2"
TREND_ATTRIBUTE = "vegf"
SEED = 20250120


@dataclass(frozen=True)
class PlannedLot:
    """One history lot as planned: its place in production, donor and conditioning medium lot."""

    index: int
    donor: str
    tissue_source: str
    collected_at: dt.datetime
    medium_lot: str

    @property
    def thawed_at(self) -> dt.datetime:
        """Thaw of the working-bank vial: three days' growth, then 48 h of conditioning."""
        return self.collected_at - dt.timedelta(days=5)


def medium_lot(collected_at: dt.datetime, index: int) -> str:
    """The conditioning-medium lot in use: a new lot each quarter, the reformulated one from lot
    :data:`BASELINE_N` + 1 on."""
    if index >= BASELINE_N:
        return "SFM-2508" if collected_at < dt.datetime(2025, 11, 1, tzinfo=dt.UTC) else "SFM-2511"
    return "SFM-2501" if collected_at < dt.datetime(2025, 5, 1, tzinfo=dt.UTC) else "SFM-2505"


def plan(count: int = HISTORY_LOTS, start: dt.datetime = HISTORY_START) -> list[PlannedLot]:
    """The history's lots in production order: bone-marrow lots at :data:`BM_LOTS`, the others from the
    banked Wharton's-jelly donors in turn (the one whose last lot is oldest; a new donor first)."""
    if count < 1:
        raise ValueError(f"count: at least one lot, not {count}")
    last: dict[str, int] = dict.fromkeys(DONORS, -1)
    lots = []
    for index in range(count):
        collected = start + dt.timedelta(days=LOT_INTERVAL_DAYS * index)
        donor = BM_LOTS.get(index)
        if donor is None:
            ready = [
                key
                for key, (source, donated) in DONORS.items()
                if source == "UC-WJ"
                and donated + dt.timedelta(days=BANKED_AFTER_DAYS)
                <= (collected - dt.timedelta(days=5)).date()
            ]
            donor = min(ready, key=lambda key: (last[key], key))
        last[donor] = index
        lots.append(PlannedLot(index, donor, DONORS[donor][0], collected, medium_lot(collected, index)))
    return lots


@dataclass(frozen=True)
class LotTruth:
    """What the simulated instruments read for a lot: VEGF-A and the five-plex (pg/mL), relative potency."""

    vegf: float
    potency: float
    panel: dict[str, float]


def medium_factor(medium: str) -> float:
    """The conditioning medium's effect on VEGF-A secretion."""
    return VEGF_DRIFT if medium in REFORMULATED else 1.0


def donor_effects(rng: np.random.Generator, donors: Sequence[str]) -> dict[str, dict[str, float]]:
    """Per donor, a multiplicative effect on each readout (log-normal, SD :data:`DONOR_SD`)."""
    from secretome.demo.assay_files import PANEL_TYPICAL

    readouts = ["vegf", "potency", *PANEL_TYPICAL]
    return {
        donor: {name: float(math.exp(rng.normal(0.0, DONOR_SD))) for name in readouts} for donor in donors
    }


def lot_truth(
    rng: np.random.Generator,
    tissue_source: str,
    medium: str,
    donor_effect: dict[str, float] | None = None,
    strength: float = 1.0,
) -> LotTruth:
    """The true values of one lot: the tissue source's typical level times the donor's effect, the
    conditioning medium's effect on VEGF-A and the lot's own scatter (log-normal, SD :data:`LOT_SD`).
    ``strength`` (a weak lot's activity, 1 for a normal one) scales the secreted factors as in the release
    story."""
    from secretome.demo.assay_files import PANEL_TYPICAL

    effect = donor_effect or {}

    def scatter() -> float:
        return float(math.exp(rng.normal(0.0, LOT_SD)))

    secreted = min(1.0, strength + 0.3)
    vegf = (
        VEGF_TYPICAL.get(tissue_source, VEGF_TYPICAL["UC-WJ"])
        * medium_factor(medium)
        * effect.get("vegf", 1.0)
        * secreted
        * scatter()
    )
    potency = POTENCY_TYPICAL.get(tissue_source, 1.0) * effect.get("potency", 1.0) * strength * scatter()
    panel = {
        analyte: typical * effect.get(analyte, 1.0) * secreted * scatter()
        for analyte, typical in PANEL_TYPICAL.items()
    }
    return LotTruth(vegf, potency, panel)


# --- through the services ----------------------------------------------------------------------------


def _make_lots(ctx: DemoContext, planned: Sequence[PlannedLot]) -> list[Any]:
    """Donors registered and screened, cells banked, one working-bank vial thawed per lot, conditioned in
    the medium lot of its time, collected and processed."""
    from secretome.demo.genealogy import SOURCES, _donor, _Lineage

    lineages: dict[str, _Lineage] = {}
    working: dict[str, Any] = {}
    thawed: dict[str, int] = {}
    lots = []
    for lot in planned:
        if lot.donor not in lineages:
            source, donated = DONORS[lot.donor]
            lineage = _Lineage(ctx, _donor(ctx, source, donated), *SOURCES[source])
            isolated = dt.datetime.combine(donated + dt.timedelta(days=2), dt.time(9), tzinfo=dt.UTC)
            p1 = lineage.seed(
                parent=lineage.isolate(isolated), when=isolated + dt.timedelta(days=10, hours=1)
            )
            master = lineage.bank(lineage.grow(p1, 2), "MCB", 10)
            if source == "BM":
                # Bone marrow is conditioned at P3, straight from the master bank (as in the release story).
                working[lot.donor] = master
            else:
                thaw = master.frozen_at + dt.timedelta(days=5)
                working[lot.donor] = lineage.bank(lineage.grow(lineage.thaw(master, 0, thaw), 4), "WCB", 15)
            lineages[lot.donor] = lineage
            thawed[lot.donor] = 0
        lineage = lineages[lot.donor]
        passage = lineage.thaw(working[lot.donor], thawed[lot.donor], lot.thawed_at)
        thawed[lot.donor] += 1
        run = lineage.condition(passage, medium_lot=lot.medium_lot)
        lots.append(lineage.lot(run))
    return lots


def _layout(ctx: DemoContext, layout: Any, reason: str) -> str:
    from secretome.db.imports.models import PlateLayout
    from secretome.services import imports
    from secretome.services.errors import ServiceError

    try:
        saved = imports.save_layout(ctx.users["ana"], reason, layout)
    except ServiceError:
        # The same layout saved before (same lots on the same wells): use that version.
        saved = PlateLayout.objects.filter(name=layout.name).order_by("-version")[0]
    return f"{saved.name}@{saved.version}"


def _analyse(
    ctx: DemoContext, code: str, filename: str, content: bytes, layout: str | None, title: str
) -> tuple[str, int]:
    from secretome.demo.analyses import _write
    from secretome.services import analyses, imports

    ana = ctx.users["ana"]
    path = _write(ctx, filename, content)
    record = imports.import_file(ana, f"demo: {title}", path.name, content, layout=layout)
    run = analyses.analyse(ana, f"demo: {title}", [record.pk], code)
    results = analyses.accept_run(ana, f"demo: {title} checked", run.number)
    return run.number, len(results)


def _chunks(items: Sequence[Any], size: int) -> list[list[Any]]:
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def history_truths(planned: Sequence[PlannedLot]) -> list[LotTruth]:
    """The true values of the planned lots, from the demo's fixed seed (donor effects drawn first)."""
    rng = np.random.default_rng(SEED)
    effects = donor_effects(rng, list(DONORS))
    return [lot_truth(rng, p.tissue_source, p.medium_lot, effects[p.donor]) for p in planned]


def potency_plates(truths: dict[str, LotTruth]) -> list[tuple[bytes, Any]]:
    """MARS exports of the IDO potency plates (three lots beside the reference standard and the assay
    control, which the control chart of the method follows), in lot order."""
    from secretome.demo.instrument_files import DEMO_POTENCY_CONTROL, potency_plate

    rng = np.random.default_rng(SEED + 1)
    return [
        potency_plate(
            rng,
            {lot: truths[lot].potency for lot in group},
            f"IDO-H{number:02d}",
            control=DEMO_POTENCY_CONTROL,
        )
        for number, group in enumerate(_chunks(list(truths), POTENCY_PER_PLATE), start=1)
    ]


def vegf_plates(truths: dict[str, LotTruth]) -> list[Any]:
    """Gen5 exports of the VEGF-A ELISA plates (:data:`ELISA_PER_PLATE` lots each), in lot order."""
    from secretome.demo.assay_files import gen5_vegf_elisa

    rng = np.random.default_rng(SEED + 2)
    return [
        gen5_vegf_elisa({lot: truths[lot].vegf for lot in group}, rng)
        for group in _chunks(list(truths), ELISA_PER_PLATE)
    ]


def panel_plates(truths: dict[str, LotTruth]) -> list[Any]:
    """xPONENT exports of the five-plex plates (:data:`PANEL_PER_PLATE` lots each), in lot order."""
    from secretome.demo.assay_files import xponent_panel

    rng = np.random.default_rng(SEED + 3)
    return [
        xponent_panel({lot: truths[lot].panel for lot in group}, rng)
        for group in _chunks(list(truths), PANEL_PER_PLATE)
    ]


def vegf_from_files(lots: Sequence[str]) -> dict[str, float]:
    """VEGF-A (pg/mL) of the history's lots, named ``lots`` in production order, computed by the approved
    method's kind from the demo's own ELISA files, without the database: what the demo's runs report, for
    the documentation's figure and the tests."""
    from secretome.demo.assay_files import vegf_elisa_settings
    from secretome.instruments.detect import read
    from secretome.methods.base import Decisions, LotContext, MethodInput, RunContext
    from secretome.methods.registry import get_kind

    kind = get_kind("standard-curve")
    settings = kind.check_settings(vegf_elisa_settings())
    truths = dict(zip(lots, history_truths(plan(len(lots))), strict=True))
    values: dict[str, float] = {}
    for number, plate in enumerate(vegf_plates(truths), start=1):
        inp = MethodInput(
            number, "", plate.filename, read(plate.content, plate.filename), plate.layout, plate.content
        )
        group = sorted(
            {a.name for a in plate.layout.wells.values() if a.name in truths}, key=list(lots).index
        )
        context = RunContext(lots={lot: LotContext(lot) for lot in group})
        for reportable in kind.analyse([inp], settings, Decisions(), context).reportables:
            if reportable.value is not None and reportable.qualifier == "=":
                values[reportable.lot] = float(reportable.value)
    return {lot: values[lot] for lot in lots if lot in values}


def _test_lots(ctx: DemoContext, truths: dict[str, LotTruth]) -> dict[str, int]:
    """Potency plates, VEGF-A ELISA plates and five-plex plates of the lots, batched in production order,
    each analysed by the approved method and accepted. Returns the runs per assay."""
    from secretome.demo.analyses import POTENCY_METHOD

    runs = {"potency": 0, "VEGF-A ELISA": 0, "five-plex": 0}
    for number, (content, layout) in enumerate(potency_plates(truths), start=1):
        name = _layout(ctx, layout, "demo: potency plate layout")
        _analyse(ctx, POTENCY_METHOD, f"ido-potency-history-{number:02d}.csv", content, name, "potency plate")
        runs["potency"] += 1
    for number, plate in enumerate(vegf_plates(truths), start=1):
        name = _layout(ctx, plate.layout, "demo: VEGF-A ELISA plate layout")
        _analyse(
            ctx,
            "VEGF-ELISA",
            f"vegf-elisa-history-{number:02d}-gen5.txt",
            plate.content,
            name,
            "VEGF-A ELISA",
        )
        runs["VEGF-A ELISA"] += 1
    for number, plate in enumerate(panel_plates(truths), start=1):
        _analyse(
            ctx,
            "SECRETOME-5PLEX",
            f"secretome-panel-history-{number:02d}-xponent.csv",
            plate.content,
            None,
            "secretome five-plex",
        )
        runs["five-plex"] += 1
    return runs


def _approve_limits(ctx: DemoContext, first_lot: str) -> list[str]:
    """QA approves I-MR limits of potency and VEGF-A from the lots made before the medium change."""
    from secretome.services import trending

    approved = []
    for code in ("potency", TREND_ATTRIBUTE):
        trending.approve_limits(
            ctx.users["quinn"],
            f"demo: limits from the {BASELINE_N} lots conditioned before medium lot {REFORMULATED_FROM}",
            PRODUCT,
            code,
            first_lot=first_lot,
            baseline_n=BASELINE_N,
        )
        approved.append(code)
    return approved


def build(ctx: DemoContext, count: int = HISTORY_LOTS) -> None:
    """Make, test and trend the production history; check that the drift is flagged on computed values."""
    from secretome.services import analyses, trending

    planned = plan(count)
    lots = _make_lots(ctx, planned)
    truths = dict(zip([lot.number for lot in lots], history_truths(planned), strict=True))
    runs = _test_lots(ctx, truths)
    verified = 0
    shared: dict[int, Any] = {}  # a plate's run is recomputed once for all its lots
    for lot in lots:
        report = analyses.verify_lot(lot.number, runs=shared)
        if report.failed:
            raise SystemExit(f"demo: lot {lot.number} does not recompute: {'; '.join(report.failures())}")
        verified += report.verified
    changed = next(
        (lot for lot, p in zip(lots, planned, strict=True) if p.medium_lot == REFORMULATED_FROM), None
    )
    history: dict[str, Any] = {
        "lots": [lot.number for lot in lots],
        "donors": {p.donor: p.tissue_source for p in planned},
        "runs": runs,
        "medium_change": None
        if changed is None
        else {"lot": changed.number, "medium_lot": REFORMULATED_FROM},
    }
    ctx.summary["history"] = history
    ctx.say(
        f"Production history: {len(lots)} lots of {PRODUCT} ({lots[0].number} .. {lots[-1].number}), "
        f"{len(history['donors'])} donors; "
        + ", ".join(f"{n} {assay} runs" for assay, n in runs.items())
        + f" accepted; {verified} computed results recomputed from their raw files"
    )
    if len(lots) < BASELINE_N:
        return
    history["limits"] = _approve_limits(ctx, lots[0].number)
    trend = trending.attribute_trend(TREND_ATTRIBUTE, PRODUCT)
    flagged = [s["lot_id"] for s in trend["signals"] if EXPECTED_RULE in s["rules"]]
    history["trend"] = {
        "attribute": TREND_ATTRIBUTE,
        "rule": EXPECTED_RULE,
        "flagged": flagged,
        "signals": trend["signals"],
        "command": f"secretome trend attribute {TREND_ATTRIBUTE} --product {PRODUCT}",
        "page": f"/trending/{PRODUCT}/{TREND_ATTRIBUTE}/",
    }
    after = {lot.number for lot, p in zip(lots, planned, strict=True) if p.medium_lot in REFORMULATED}
    if not flagged or not set(flagged) & after:
        raise SystemExit(
            f"demo: {EXPECTED_RULE} does not flag the {TREND_ATTRIBUTE} drift after medium lot "
            f"{REFORMULATED_FROM} (signals: {trend['signals']})"
        )
    warned = trending.lot_signals(lots[[lot.number for lot in lots].index(flagged[0])])
    if not any(s["attribute"] == TREND_ATTRIBUTE for s in warned):
        raise SystemExit(f"demo: the lot page of {flagged[0]} shows no out-of-trend warning")
    ctx.say(
        f"Control limits approved by QA ({', '.join(history['limits'])}) from the first {BASELINE_N} lots; "
        f"from {history['medium_change']['lot']} on the CM was conditioned in medium lot {REFORMULATED_FROM}"
    )
    ctx.say(
        f"Trend: VEGF-A ({TREND_ATTRIBUTE}) {EXPECTED_RULE} (nine in a row on one side of the centre line) "
        f"flags {', '.join(flagged)}; see `{history['trend']['command']}` or "
        f"http://127.0.0.1:8000{history['trend']['page']} (the lot page of {flagged[0]} shows the warning)"
    )
