"""The figures of the CFSE section of docs/potency-assays.md, from the demo's simulated suppression experiment:
``python docs/figures/make_proliferation_figures.py``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from secretome.analysis.assays.proliferation import ProliferationModel
from secretome.analysis.assays.tcell import analyse_suppression
from secretome.demo.cfse_files import cfse_method_settings, suppression_files, true_inhibition
from secretome.instruments.flow import read_fcs
from secretome.instruments.gating_ml import parse_gating_ml
from secretome.methods import Decisions, LotContext, MethodInput, RunContext, get_kind
from secretome.methods.kinds._plots import quiet_log_axis
from secretome.methods.kinds.t_cell_suppression_flow import _tubes

HERE = Path(__file__).resolve().parent
LOTS = {"CM-2026-001": 1.0, "CM-2026-002": 0.5}


def main() -> None:
    files = suppression_files(LOTS, seed=5)
    inputs = [
        MethodInput(i, "", name, read_fcs(content, name), content=content)
        for i, (name, content) in enumerate(sorted(files.items()), start=1)
    ]
    kind = get_kind("t-cell-suppression-flow")
    context = RunContext(lots={lot: LotContext(lot) for lot in LOTS})
    outcome = kind.analyse(inputs, cfse_method_settings(), Decisions(), context)
    # Two tubes' fits side by side (stimulated, and the reference lot at 25 % CM), then the dose-response.
    model = ProliferationModel()
    figure = Figure(figsize=(10.0, 3.4))
    figure.subplots_adjust(left=0.06, right=0.99, bottom=0.16, top=0.88, wspace=0.28)
    axes = figure.subplots(1, 3)
    settings = kind.check_settings(cfse_method_settings())
    strategy = parse_gating_ml(settings["strategy"])
    values = {
        tube.name: tube.values
        for item in inputs
        for tube in _tubes(item, settings, strategy, Decisions(), {})
        if tube.name in ("stimulated", "REF 25 %")
    }
    for ax, name in zip(axes[:2], ("stimulated", "REF 25 %"), strict=True):
        fit = model.fit(values[name], outcome.result["undivided"], "CFSE (FITC-A)")
        fit.plot(ax=ax, title=name)
    result = analyse_suppression(
        outcome.result["stimulated"],
        outcome.result["unstimulated"],
        {
            name: (prep["dose"], _readouts(outcome.result, name))
            for name, prep in outcome.result["preparations"].items()
        },
        reference="REF",
        report_dose=25.0,
    )
    result.plot(ax=axes[2])
    quiet_log_axis(axes[2])
    axes[2].set_ylabel("% inhibition of % divided")
    figure.savefig(HERE / "potency_cfse.svg", metadata={"Date": None})
    summary = {
        name: {
            "inhibition_at_25": round(prep["inhibition_at"], 2),
            "truth_at_25": round(true_inhibition(25.0, 1.0 if name == "REF" else LOTS[name]), 2),
            "ic50": None if prep["ic50"] is None else round(prep["ic50"], 2),
        }
        for name, prep in outcome.result["preparations"].items()
    }
    summary["relative_potency"] = {
        p["preparation"]: round(p["relative_potency"], 3) for p in outcome.result["potency"]["potencies"]
    }
    print(json.dumps(summary, indent=1))


def _readouts(result: Mapping[str, Any], name: str) -> list[float]:
    """The readout (% divided) of each tube of a preparation, in dose order as the result lists them."""
    return [t["readout"] for t in result["tubes"] if t["sample"] == name and t["dose"] is not None]


if __name__ == "__main__":
    main()
