"""Make the figures of docs/secretome-panels.md and docs/potency-assays.md from the demo's simulated assay
files, analysed by the method kinds (run from the repository root):

.venv/bin/python docs/figures/make_assay_figures.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from secretome.demo import assay_files as demo
from secretome.instruments.detect import read
from secretome.methods.base import Decisions, LotContext, MethodInput, RunContext
from secretome.methods.registry import get_kind

HERE = Path(__file__).resolve().parent


def analyse(kind: str, plate: demo.PlateFile, settings: dict, lots: list[str], layout: bool = True):
    reading = read(plate.content, plate.filename)
    inp = MethodInput(1, "0" * 64, plate.filename, reading, plate.layout if layout else None, plate.content)
    k = get_kind(kind)
    context = RunContext(lots={lot: LotContext(lot) for lot in lots})
    return k.analyse([inp], k.check_settings(settings), Decisions(excluded={"1:C4": "bubble in the well"}), context)


def main() -> None:
    rng = np.random.default_rng(2026)
    lots = {"MSC-CM-001": 1800.0, "MSC-CM-002": 3400.0, "MSC-CM-003": 700.0, "MSC-CM-004": 15.0}
    vegf = analyse("standard-curve", demo.gen5_vegf_elisa(lots, rng), demo.vegf_elisa_settings(), list(lots))
    (HERE / "panel_vegf_curve.svg").write_text(vegf.plots[0][1])
    panel_lots = {
        "MSC-CM-001": {"HGF": 2400.0, "IL-6": 25000.0, "IL-8": 6000.0},
        "MSC-CM-002": {"HGF": 900.0, "IL-6": 8000.0, "MCP-1": 9000.0},
        "MSC-CM-003": {"HGF": 1500.0, "TIMP-1": 30000.0},
    }
    panel = analyse("standard-curve", demo.xponent_panel(panel_lots, rng), demo.panel_settings(), list(panel_lots), False)
    (HERE / "panel_heatmap.svg").write_text(panel.plots[-1][1])
    ido = analyse("ido-activity", demo.gen5_ido_kynurenine({"MSC-CM-001": 1.1, "MSC-CM-002": 0.4}, rng), demo.ido_settings(), ["MSC-CM-001", "MSC-CM-002"])
    (HERE / "potency_ido.svg").write_text(ido.plots[0][1])
    tubes = analyse("angiogenesis", demo.angiogenesis_table({"MSC-CM-001": 85.0, "MSC-CM-002": 60.0}, rng), demo.angiogenesis_settings(), ["MSC-CM-001", "MSC-CM-002"], False)
    (HERE / "potency_angiogenesis.svg").write_text(tubes.plots[0][1])
    wound = analyse("wound-healing", demo.scratch_table({"MSC-CM-001": 140.0, "MSC-CM-002": 105.0}, rng), demo.wound_settings(), ["MSC-CM-001", "MSC-CM-002"], False)
    (HERE / "potency_wound.svg").write_text(wound.plots[0][1])


if __name__ == "__main__":
    main()
