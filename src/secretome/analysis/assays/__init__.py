"""Potency assays of MSC-CM beyond the relative-potency engine: IDO activity (kynurenine), T-cell suppression,
tube formation (angiogenesis) and scratch wound healing. Pure: numpy and scipy only; every result is frozen
with ``to_dict()`` and ``plot(ax=None)``. See docs/potency-assays.md for the formulas.
"""

from secretome.analysis.assays.angiogenesis import TubeFormationResult, analyse_tube_formation
from secretome.analysis.assays.ido import IdoResult, analyse_ido, ido_activity
from secretome.analysis.assays.ratio import Ratio, ratio_of_means
from secretome.analysis.assays.tcell import SuppressionResult, analyse_suppression, percent_inhibition
from secretome.analysis.assays.wound import WoundHealingResult, analyse_wound_healing, closure_percent

__all__ = [
    "IdoResult",
    "Ratio",
    "SuppressionResult",
    "TubeFormationResult",
    "WoundHealingResult",
    "analyse_ido",
    "analyse_suppression",
    "analyse_tube_formation",
    "analyse_wound_healing",
    "closure_percent",
    "ido_activity",
    "percent_inhibition",
    "ratio_of_means",
]
