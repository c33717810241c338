"""The figures of docs/flow.md, from the demo's simulated ISCT panel: ``python docs/figures/make_flow_figures.py``."""

from __future__ import annotations

import json
from pathlib import Path

from secretome.analysis.flow.plots import plot_gates
from secretome.demo.flow_files import identity_method_settings, identity_panel_files
from secretome.instruments.flow import read_fcs
from secretome.methods import Decisions, MethodInput, RunContext
from secretome.methods.kinds.flow_identity import FLOW_IDENTITY, _tubes

HERE = Path(__file__).resolve().parent


def main() -> None:
    files = identity_panel_files("CM-2026-007", seed=11, cd105_fails=True)
    settings = FLOW_IDENTITY.check_settings(identity_method_settings())
    strategy, panel = FLOW_IDENTITY.panel(settings)
    inputs = [
        MethodInput(i, "", name, read_fcs(content, name), content=content)
        for i, (name, content) in enumerate(sorted(files.items()), start=1)
    ]
    tubes = {tube.name: tube for item in inputs for tube, _ in _tubes(item)}
    result = panel.fit(tubes)
    tube = tubes["MSC positive cocktail"]
    figure = plot_gates(
        strategy,
        result.tubes[tube.name],
        tube.events,
        tube.channels,
        tube.spillover,
        "CM-2026-007: MSC positive cocktail",
    )
    figure.savefig(HERE / "flow_gating.png", dpi=90)
    result.plot().savefig(HERE / "flow_identity_histograms.png", dpi=90)
    outcome = FLOW_IDENTITY.analyse(inputs, settings, Decisions(), RunContext(default_lot="CM-2026-007"))
    markers = outcome.result["lots"]["CM-2026-007"]["markers"]
    print(json.dumps({m["marker"]: round(m["percent_positive"], 2) for m in markers}))


if __name__ == "__main__":
    main()
