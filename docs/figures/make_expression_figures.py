"""Make the figures of docs/extracellular-vesicles.md and docs/gene-expression.md from the demo's files
(run from the repository root):

.venv/bin/python docs/figures/make_expression_figures.py
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from secretome.analysis.ev import NtaAnalyzer
from secretome.analysis.qpcr import CqWell, RelativeExpression, fit_efficiency, panel_trend
from secretome.demo.expression_files import (
    CALIBRATOR,
    REFERENCE_GENES,
    ev_truth,
    expression_truth,
    nta_experiment_summary,
    quantstudio_results,
)
from secretome.instruments.detect import read

HERE = Path(__file__).resolve().parent
WHEN = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)


def nta_distribution() -> None:
    """Size distribution of a demo lot's CM: mean of five videos, the band between them, D-values."""
    rng = np.random.default_rng(21)
    reading = read(nta_experiment_summary(ev_truth(rng, "CM-2026-001"), rng, WHEN), "summary.csv")
    videos = list(reading.run_metadata["videos"])
    centres = [x for x, _ in reading.series[f"size distribution {videos[0]}"]]
    result = NtaAnalyzer().fit(
        videos,
        [reading.values("concentration", well=v)[0] for v in videos],
        bin_centres=centres,
        distributions=[[y for _, y in reading.series[f"size distribution {v}"]] for v in videos],
    )
    result.plot().savefig(HERE / "nta_size_distribution.png", dpi=110)


def senescence_panel() -> None:
    """CDKN2A and CDKN1A of one cell line's producer cells at passages 3-8, against passage and CPD."""
    rng = np.random.default_rng(5)
    passages = [(f"CM-2026-0{p:02d}", p, 6.1 + 3.0 * (p - 2)) for p in range(3, 9)]
    truth = expression_truth(rng, passages)
    reading = read(quantstudio_results(truth, rng, WHEN), "panel.txt")
    wells = [
        CqWell(m.well, m.sample, m.analyte, m.value)
        for m in reading.measurements
        if m.quantity == "cycle threshold"
    ]
    result = RelativeExpression(REFERENCE_GENES, CALIBRATOR, no_rt={}).fit(wells)
    passage = {s.name: float(s.passage) for s in truth.samples} | {CALIBRATOR: 2.0}
    cpd = {s.name: s.cpd for s in truth.samples} | {CALIBRATOR: 6.1}
    trend = panel_trend(result, ["CDKN2A", "CDKN1A"], passage, cpd, title="senescence genes", alert_fold=2.0)
    trend.plot().savefig(HERE / "qpcr_senescence_panel.png", dpi=110)


def standard_curve() -> None:
    """A five-point tenfold dilution series in triplicate at 97 % efficiency."""
    rng = np.random.default_rng(9)
    quantity = np.repeat(10.0 ** np.arange(2, 7), 3)
    cq = 38.5 - np.log(quantity) / np.log(1.97) + rng.normal(0, 0.1, quantity.size)
    fit_efficiency(quantity, cq, "GAPDH").plot().savefig(HERE / "qpcr_standard_curve.png", dpi=110)


if __name__ == "__main__":
    nta_distribution()
    senescence_panel()
    standard_curve()
