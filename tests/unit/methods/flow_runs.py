"""Runs of the FCS kinds whose results were recorded (``tests/data/flow/flow_runs_expected.json``).

``flow-identity``: the demo's isotype panels (one with a failing CD105) and a panel with FMO controls;
``t-cell-suppression-flow``: the demo's CFSE files of two lots and a reference.

The FMO panel is four FCS 3.1 tubes of one lot on the demo's detectors and spillover: the stained tube
(CD90 FITC, CD73 PE, CD105 APC, with a fifth of the cells CD105-negative so CD105 fails), an FMO control
for CD90 (every stain but FITC), an FMO control for CD105 (every stain but APC) and an unstained tube with
too few events (flagged). Forward scatter and FITC are stored with a ``$PnG`` gain of 2 so the FCS scale
differs from the stored values. Pure: the bytes depend only on the seed.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from secretome.demo.cfse_files import cfse_method_settings, suppression_files
from secretome.demo.flow_files import (
    CHANNELS,
    FLUORESCENCE,
    SPILLOVER,
    fcs_bytes,
    identity_method_settings,
    identity_panel_files,
)
from secretome.instruments.flow import read_fcs
from secretome.methods import Decisions, KindOutcome, MethodInput, RunContext, get_kind
from secretome.methods.base import LotContext

LOT = "CM-2026-014"
STAINED, FMO_CD90, FMO_CD105, UNSTAINED = "Stained", "FMO CD90", "FMO CD105", "Unstained"
_STAINS = {  # tube -> stained detectors
    STAINED: ("FITC-A", "PE-A", "APC-A"),
    FMO_CD90: ("PE-A", "APC-A"),
    FMO_CD105: ("FITC-A", "PE-A"),
    UNSTAINED: (),
}
_GAIN = 2.0


def _tube(rng: np.random.Generator, tube: str, events: int) -> np.ndarray:
    kinds = rng.choice(3, size=events, p=[0.1, 0.1, 0.8])  # debris, dead, live cells
    debris, dead = kinds == 0, kinds == 1
    values = np.zeros((events, len(CHANNELS)))
    fsc = rng.normal(115000, 20000, events)
    fsc[debris] = rng.uniform(1000, 28000, debris.sum())
    values[:, 0] = fsc
    values[:, 1] = fsc * rng.normal(0.82, 0.03, events)
    values[:, 2] = rng.lognormal(math.log(60000), 0.3, events)
    light = rng.lognormal(math.log(250), 0.5, (events, len(FLUORESCENCE)))
    viability = FLUORESCENCE.index("PerCP-Cy5.5-A")
    light[dead, viability] = rng.lognormal(math.log(20000), 0.5, dead.sum())
    for detector in _STAINS[tube]:
        fraction = 0.8 if detector == "APC-A" else 0.99
        stained = ~debris & (rng.random(events) < fraction)
        light[stained, FLUORESCENCE.index(detector)] += rng.lognormal(math.log(20000), 0.4, stained.sum())
    values[:, 3:9] = light @ SPILLOVER + rng.normal(0, 40, light.shape)
    values[:, 9] = np.sort(rng.uniform(0, 6000, events))
    # Stored as the cytometer would with a gain of 2 on FSC-A and FITC-A: FCS scale = stored / 2.
    values[:, [0, 3]] *= _GAIN
    return np.clip(values, -131072, 262143).astype("<f4")


def fmo_panel_files(seed: int = 5, events: int = 20000) -> dict[str, bytes]:
    """The four FCS files of the FMO panel, by file name."""
    rng = np.random.default_rng(seed)
    spill = ",".join([str(len(FLUORESCENCE)), *FLUORESCENCE, *(f"{v:.6g}" for v in SPILLOVER.ravel())])
    files = {}
    for number, tube in enumerate(_STAINS, start=1):
        name = f"{LOT}_{number:02d}_{tube.replace(' ', '_')}.fcs"
        keywords = {
            "$SRC": LOT,
            "TUBE NAME": tube,
            "$SPILLOVER": spill,
            "$TIMESTEP": "0.01",
            "$P1G": f"{_GAIN:g}",
            "$P4G": f"{_GAIN:g}",
        }
        files[name] = fcs_bytes(_tube(rng, tube, events if tube != UNSTAINED else 6000), keywords)
    return files


def fmo_panel_settings() -> dict[str, Any]:
    """The demo's strategy with CD90 and CD105 read against their FMO controls, CD73 against unstained."""
    settings = identity_method_settings()
    settings["markers"] = {
        "cd90": {"marker": "CD90", "channel": "FITC-A", "tube": STAINED, "control": FMO_CD90},
        "cd73": {"marker": "CD73", "channel": "PE-A", "tube": STAINED, "control": UNSTAINED},
        "cd105": {"marker": "CD105", "channel": "APC-A", "tube": STAINED, "control": FMO_CD105},
    }
    settings["criteria"] = {code: {"min": 95.0} for code in settings["markers"]}
    return settings


def inputs(files: dict[str, bytes], first_id: int = 100) -> list[MethodInput]:
    """One method input per file, in file name order."""
    return [
        MethodInput(first_id + i, "", name, read_fcs(content, name), content=content)
        for i, (name, content) in enumerate(sorted(files.items()))
    ]


SUPPRESSION_LOTS = {"CM-2026-001": 1.0, "CM-2026-002": 0.5}
RUNS = ("identity isotype passing", "identity isotype cd105 failing", "identity fmo", "suppression")


def run(name: str) -> KindOutcome:
    """The outcome of one recorded run (``RUNS``), computed by the current code."""
    if name == "suppression":
        files = suppression_files(SUPPRESSION_LOTS, seed=5, events=8000)
        settings = {**cfse_method_settings(), "rp_attribute": "immunomodulation_rp"}
        context = RunContext(lots={lot: LotContext(lot) for lot in SUPPRESSION_LOTS})
        return get_kind("t-cell-suppression-flow").analyse(inputs(files, 200), settings, Decisions(), context)
    panels = {
        "identity isotype passing": (identity_panel_files(LOT, seed=11), identity_method_settings()),
        "identity isotype cd105 failing": (
            identity_panel_files(LOT, seed=11, cd105_fails=True),
            identity_method_settings(),
        ),
        "identity fmo": (fmo_panel_files(), fmo_panel_settings()),
    }
    files, settings = panels[name]
    return get_kind("flow-identity").analyse(
        inputs(files), settings, Decisions(), RunContext(default_lot=LOT)
    )
