"""FCS 3.1 files of a CFSE T-cell suppression experiment, for the demo's ``t-cell-suppression-flow`` runs.

CFSE-labelled PBMC stimulated with PHA for four days, alone (``stimulated``), unstimulated, or with dilutions
of each lot's CM and of the reference lot: one tube per condition, acquired on a FACSCanto II. The tubes name
their condition in their keywords, as the acquisition software writes them: ``$SRC`` the specimen (a lot
number, ``REF``, ``stimulated`` or ``unstimulated``), ``TUBE NAME`` and a ``CM DOSE`` keyword (% v/v).

The model behind the events: a fraction of the original lymphocytes responds (``RESPONDING_STIMULATED``
stimulated, ``RESPONDING_UNSTIMULATED`` unstimulated) and every responder divides 1 to 6 times
(``DIVISIONS``); CM inhibits the response, so a dose ``d`` of a lot with relative potency ``RP`` leaves a
responding fraction ``p_unstim + (p_stim - p_unstim)(1 - h/100)`` with
``h = 2 + 90 / (1 + (REFERENCE_IC50 / (RP d))^1.3)``, the % inhibition of % divided cells the analysis should
find (:func:`true_inhibition`). A generation-g cell carries ``CFSE_UNDIVIDED x 2^-g`` of dye with a
log-normal spread, plus autofluorescence and detector noise. Monocytes, debris and dead cells are in every
tube, so the numbers only come out right through :func:`cfse_method_settings`' gating strategy. Pure: the
bytes depend only on the arguments (seeded generator).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from secretome.demo.flow_files import fcs_bytes

CHANNELS = (
    ("FSC-A", ""),
    ("FSC-H", ""),
    ("SSC-A", ""),
    ("FITC-A", "CFSE"),
    ("APC-Cy7-A", "Live/Dead NIR"),
    ("Time", ""),
)
#: CM doses (% v/v) of each preparation.
DOSES = (1.5625, 3.125, 6.25, 12.5, 25.0, 50.0)
REFERENCE = "REF"
REFERENCE_IC50 = 10.0
RESPONDING_STIMULATED, RESPONDING_UNSTIMULATED = 0.72, 0.04
#: How many times a responding original cell divided (1 to 6 times).
DIVISIONS = np.array([0.10, 0.20, 0.28, 0.24, 0.13, 0.05])
CFSE_UNDIVIDED = 42000.0
DOSE_KEYWORD = "CM DOSE"
_TOP = 262144
_LIVE_LIMIT = 3000.0  # viability dye: live cells near 300, dead cells near 25,000


def true_inhibition(dose: float, relative_potency: float = 1.0) -> float:
    """The % inhibition of % divided cells the model puts into a tube (``h`` of the module docstring)."""
    ratio = REFERENCE_IC50 / (relative_potency * dose)
    return 2.0 + 90.0 / (1.0 + math.pow(ratio, 1.3))


def responding_fraction(inhibition: float | None) -> float:
    """Original lymphocytes that divided: stimulated, lowered by ``inhibition`` %; None = unstimulated."""
    if inhibition is None:
        return RESPONDING_UNSTIMULATED
    return RESPONDING_UNSTIMULATED + (RESPONDING_STIMULATED - RESPONDING_UNSTIMULATED) * (
        1.0 - inhibition / 100.0
    )


def generation_fractions(responding: float) -> np.ndarray:
    """Fraction of the FINAL lymphocytes in each generation 0..6 when ``responding`` of the original divided."""
    original = np.concatenate([[1.0 - responding], responding * DIVISIONS])
    cells = original * 2.0 ** np.arange(original.size)
    fractions: np.ndarray = cells / cells.sum()
    return fractions


def _tube_events(rng: np.random.Generator, responding: float, events: int) -> np.ndarray:
    """Measured signals of one tube, one row per event, columns as CHANNELS."""
    kinds = rng.choice(4, size=events, p=[0.07, 0.06, 0.10, 0.77])  # debris, dead, monocyte, lymphocyte
    debris, dead, monocyte, lymphocyte = (kinds == k for k in range(4))
    values = np.zeros((events, len(CHANNELS)))
    fsc = rng.normal(62000, 9000, events)
    ssc = rng.lognormal(math.log(18000), 0.25, events)
    fsc[monocyte] = rng.normal(105000, 15000, monocyte.sum())
    ssc[monocyte] = rng.lognormal(math.log(60000), 0.25, monocyte.sum())
    fsc[debris] = rng.uniform(2000, 25000, debris.sum())
    ssc[debris] = rng.lognormal(math.log(6000), 0.8, debris.sum())
    fsc[dead] *= 0.8
    generation = np.zeros(events, dtype=int)
    generation[lymphocyte] = rng.choice(7, size=lymphocyte.sum(), p=generation_fractions(responding))
    # Blasts of later generations are no larger: FSC does not follow division.
    cfse = CFSE_UNDIVIDED * 2.0 ** (-generation + rng.normal(0.0, 0.22, events))
    cfse[debris] = rng.lognormal(math.log(800), 1.0, debris.sum())
    cfse += rng.lognormal(math.log(120), 0.4, events)  # autofluorescence
    viability = rng.lognormal(math.log(300), 0.35, events)
    viability[dead] = rng.lognormal(math.log(25000), 0.4, dead.sum())
    viability[debris] = rng.lognormal(math.log(4000), 1.0, debris.sum())
    values[:, 0] = fsc + rng.normal(0, 300, events)
    values[:, 1] = fsc * rng.normal(0.82, 0.03, events)
    values[:, 2] = ssc + rng.normal(0, 300, events)
    values[:, 3] = cfse + rng.normal(0, 40, events)
    values[:, 4] = viability + rng.normal(0, 40, events)
    values[:, 5] = np.sort(rng.uniform(0, 3000, events))
    values[:, :5] = np.clip(values[:, :5], -_TOP / 2, _TOP - 1)
    values[:, :3] = np.clip(values[:, :3], 0, _TOP - 1)
    return values.astype("<f4")


def suppression_files(
    lots: Mapping[str, float],
    seed: int,
    *,
    events: int = 10000,
    replicates: int = 2,
    date: str = "09-MAR-2026",
) -> dict[str, bytes]:
    """The FCS files of one suppression experiment, by file name.

    Parameters
    ----------
    lots
        Lot number -> true relative potency against the reference lot (which runs at RP 1).
    seed
        Seed of the NumPy generator: the same arguments give the same bytes.
    events
        Events per tube ($TOT).
    replicates
        Tubes of each control (stimulated, unstimulated).
    date
        ``$DATE`` of acquisition.
    """
    if events < 500:
        raise ValueError(f"events: at least 500 per tube, got {events}")
    if replicates < 1:
        raise ValueError(f"replicates: at least 1, got {replicates}")
    if REFERENCE in lots or "stimulated" in lots or "unstimulated" in lots:
        raise ValueError(f"lots: {REFERENCE}, stimulated and unstimulated name the other tubes")
    rng = np.random.default_rng(seed)
    conditions: list[tuple[str, float | None, float | None]] = []  # sample, dose, inhibition
    for _ in range(replicates):
        conditions.append(("unstimulated", None, None))
        conditions.append(("stimulated", None, 0.0))
    for sample, potency in [(REFERENCE, 1.0), *sorted(lots.items())]:
        for level in DOSES:
            conditions.append((sample, level, true_inhibition(level, potency)))
    files: dict[str, bytes] = {}
    for number, (sample, dose, inhibition) in enumerate(conditions, start=1):
        tube = sample if dose is None else f"{sample} {dose:g} %"
        name = f"cfse_{number:02d}_{tube.replace(' %', 'pct').replace(' ', '_')}.fcs"
        keywords = {
            "$CYT": "FACSCanto II",
            "$CYTSN": "V96300123",
            "$DATE": date,
            "$BTIM": f"{11 + number // 30:02d}:{(2 * number) % 60:02d}:00",
            "$SRC": sample,
            "$FIL": name,
            "TUBE NAME": tube,
            "EXPERIMENT NAME": "CFSE suppression",
            "$TIMESTEP": "0.01",
            "CREATOR": "Secretome demo",
        }
        if dose is not None:
            keywords[DOSE_KEYWORD] = f"{dose:g}"
        responding = (
            responding_fraction(None) if sample == "unstimulated" else responding_fraction(inhibition)
        )
        files[name] = fcs_bytes(_tube_events(rng, responding, events), keywords, CHANNELS)
    return files


def _gating_ml() -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<gating:Gating-ML xmlns:gating="http://www.isac-net.org/std/Gating-ML/v2.0/gating"
    xmlns:transforms="http://www.isac-net.org/std/Gating-ML/v2.0/transformations"
    xmlns:data-type="http://www.isac-net.org/std/Gating-ML/v2.0/datatypes">
  <gating:PolygonGate gating:id="Lymphocytes">
    <gating:dimension gating:compensation-ref="uncompensated"><data-type:fcs-dimension data-type:name="FSC-A" /></gating:dimension>
    <gating:dimension gating:compensation-ref="uncompensated"><data-type:fcs-dimension data-type:name="SSC-A" /></gating:dimension>
    <gating:vertex><gating:coordinate data-type:value="30000" /><gating:coordinate data-type:value="8000" /></gating:vertex>
    <gating:vertex><gating:coordinate data-type:value="90000" /><gating:coordinate data-type:value="8000" /></gating:vertex>
    <gating:vertex><gating:coordinate data-type:value="90000" /><gating:coordinate data-type:value="34000" /></gating:vertex>
    <gating:vertex><gating:coordinate data-type:value="30000" /><gating:coordinate data-type:value="34000" /></gating:vertex>
  </gating:PolygonGate>
  <gating:PolygonGate gating:id="Singlets" gating:parent_id="Lymphocytes">
    <gating:dimension gating:compensation-ref="uncompensated"><data-type:fcs-dimension data-type:name="FSC-A" /></gating:dimension>
    <gating:dimension gating:compensation-ref="uncompensated"><data-type:fcs-dimension data-type:name="FSC-H" /></gating:dimension>
    <gating:vertex><gating:coordinate data-type:value="20000" /><gating:coordinate data-type:value="14000" /></gating:vertex>
    <gating:vertex><gating:coordinate data-type:value="262144" /><gating:coordinate data-type:value="190000" /></gating:vertex>
    <gating:vertex><gating:coordinate data-type:value="262144" /><gating:coordinate data-type:value="240000" /></gating:vertex>
    <gating:vertex><gating:coordinate data-type:value="20000" /><gating:coordinate data-type:value="19000" /></gating:vertex>
  </gating:PolygonGate>
  <gating:RectangleGate gating:id="Live" gating:parent_id="Singlets">
    <gating:dimension gating:compensation-ref="uncompensated" gating:max="{_LIVE_LIMIT:g}">
      <data-type:fcs-dimension data-type:name="APC-Cy7-A" />
    </gating:dimension>
  </gating:RectangleGate>
</gating:Gating-ML>
"""


def cfse_method_settings(attribute: str = "t_cell_suppression_cfse") -> dict[str, Any]:
    """Settings of the demo's ``t-cell-suppression-flow`` method for :func:`suppression_files`: live single
    lymphocytes, CFSE on FITC-A, % divided, % inhibition at 25 % v/v CM."""
    return {
        "attribute": attribute,
        "strategy": _gating_ml(),
        "population": "Live",
        "channel": "FITC-A",
        "compensation": "uncompensated",
        "readout": "percent_divided",
        "undivided": "unstimulated",
        "max_generations": 8,
        "reference": REFERENCE,
        "dose_keyword": DOSE_KEYWORD,
        "report": "inhibition",
        "report_dose": 25.0,
    }


# ---------------------------------------------------------------------------------------------------------
# The demo's method, specification attribute and accepted run for these files
# ---------------------------------------------------------------------------------------------------------
METHOD = "TCELL-CFSE"
ATTRIBUTE = "t_cell_suppression_cfse"


def method_draft() -> dict[str, Any]:
    """The demo's ``t-cell-suppression-flow`` method, in the words ``services.analyses.draft_method`` takes."""
    return {
        "code": METHOD,
        "title": "T-cell suppression by CFSE dilution (PHA-stimulated PBMC, live lymphocytes), % inhibition at 25 % CM",
        "kind": "t-cell-suppression-flow",
        "settings": cfse_method_settings(ATTRIBUTE),
        "attributes": [ATTRIBUTE],
        "reporting_unit": "%",
        "normalisation": "none",
    }


def attributes() -> list[Any]:
    """The report-only specification attribute the demo's CFSE runs report."""
    from secretome.domain.specification import AttributeSpec, Criterion, CriterionKind, ReportingRule

    return [
        AttributeSpec(
            ATTRIBUTE,
            "T-cell suppression at 25 % CM (CFSE)",
            "PBMC proliferation by CFSE dilution, % divided",
            "%",
            Criterion(CriterionKind.REPORT_ONLY, rule=ReportingRule(significant_digits=3)),
            category="potency",
            release_test=False,
            analysis_kind="t-cell-suppression-flow",
        )
    ]


def analyse_suppression(ctx: Any, lots: Any, potencies: Mapping[str, float], count: int = 2) -> None:
    """One CFSE suppression experiment with the first ``count`` lots beside the reference lot: every tube
    imported (the lots' tubes for their lot), analysed in one run through the approved method and accepted."""
    from secretome.demo.analyses import _write
    from secretome.services import analyses, imports

    ana = ctx.users["ana"]
    chosen = list(lots)[:count]
    if not chosen:
        return
    files = suppression_files({lot.number: potencies[lot.number] for lot in chosen}, seed=20260309)
    numbers = {lot.number for lot in chosen}
    records = []
    for name, content in files.items():
        path = _write(ctx, name, content)
        sample = read_source(content)
        records.append(
            imports.import_file(
                ana,
                "demo: CFSE suppression tube",
                path.name,
                content,
                lot=sample if sample in numbers else None,
            ).pk
        )
    run = analyses.analyse(ana, "demo: CFSE T-cell suppression", records, METHOD)
    results = analyses.accept_run(ana, "demo: CFSE gating and generation fits checked", run.number)
    ctx.say(f"CFSE suppression: {len(files)} FCS tubes -> run {run.number} accepted, {len(results)} results")


def read_source(content: bytes) -> str:
    """``$SRC`` of an FCS file written by :func:`suppression_files`."""
    from secretome.instruments.flow import read_fcs_data_sets

    return (read_fcs_data_sets(content, "tube.fcs")[0].keywords.get("src") or "").strip()
