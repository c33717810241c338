"""IDO activity: kynurenine against a kynurenine standard curve, per 10^6 cells per hour.

Kynurenine in the supernatant is read by absorbance after Ehrlich's reagent (p-DMAB, 490 nm, after TCA
precipitation) or as an HPLC peak area; both are linear in concentration over the usual 0-100 uM range, so
the standard curve is a straight line (``linear``; ``4pl`` when the reader saturates). The sample's
kynurenine (uM, dilution applied, with the < LLOQ / > ULOQ rules of :func:`secretome.analysis.panels.quantify`)
gives the activity

    activity (nmol / 10^6 cells / h) = kynurenine (uM) x volume (mL) / (cells / 10^6) / time (h)

since 1 uM x 1 mL = 1 nmol.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from secretome.analysis.doseresponse import CurveFit, CurveFitter, QuantitationRules
from secretome.analysis.panels import Quantity, quantify

ACTIVITY_UNIT = "nmol/10^6 cells/h"


def ido_activity(kynurenine_um: float, *, volume_ml: float, cells: float, hours: float) -> float:
    """``kynurenine x volume / (cells / 10^6) / hours`` in nmol per 10^6 cells per hour."""
    for name, value in (("volume_ml", volume_ml), ("cells", cells), ("hours", hours)):
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{name}: must be a positive number, not {value}")
    return kynurenine_um * volume_ml / (cells / 1e6) / hours


@dataclass(frozen=True)
class IdoSample:
    """One sample: its kynurenine (uM) and the activity derived from it (same qualifier)."""

    kynurenine: Quantity
    activity: Quantity
    volume_ml: float
    cells: float
    hours: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "kynurenine_um": self.kynurenine.to_dict(),
            "activity": self.activity.to_dict(),
            "activity_unit": ACTIVITY_UNIT,
            "volume_ml": self.volume_ml,
            "cells": self.cells,
            "hours": self.hours,
        }


@dataclass(frozen=True)
class IdoResult:
    """The kynurenine standard curve and every sample's kynurenine and IDO activity."""

    curve: CurveFit
    samples: Mapping[str, IdoSample]

    def to_dict(self) -> dict[str, Any]:
        return {
            "curve": self.curve.to_dict(),
            "samples": {name: s.to_dict() for name, s in self.samples.items()},
            "activity_unit": ACTIVITY_UNIT,
        }

    def plot(self, ax: Any = None) -> Any:
        """The standard curve with each sample's mean reading placed at its back-calculated kynurenine."""
        from matplotlib.figure import Figure

        if ax is None:
            figure = Figure(figsize=(6.0, 4.0))
            figure.subplots_adjust(left=0.12, right=0.97, bottom=0.13, top=0.9)
            ax = figure.subplots()
        else:
            figure = ax.figure
        fit = self.curve
        used = ~fit.excluded
        ax.scatter(fit.dose[used], fit.response[used], color="black", s=16, label="kynurenine standards")
        if np.any(~used):
            ax.scatter(fit.dose[~used], fit.response[~used], color="lightgrey", s=16, label="excluded")
        grid = np.linspace(0.0, float(fit.dose.max()) * 1.05, 100)
        ax.plot(grid, fit.predict(grid), color="tab:blue", label=f"{fit.model} fit")
        for name, sample in self.samples.items():
            for reading in sample.kynurenine.readings:
                if reading.concentration is None:
                    continue
                x = reading.concentration / reading.dilution
                y = float(np.mean(reading.responses))
                ax.scatter([x], [y], color="tab:orange", marker="D", s=20, zorder=3)
                ax.annotate(name, (x, y), fontsize=6, color="tab:orange")
        ax.set_xlabel("kynurenine (uM)")
        ax.set_ylabel("response")
        ax.set_title("Kynurenine standard curve (IDO activity)", fontsize=9)
        ax.legend(fontsize=7)
        return figure


def analyse_ido(
    standard_concentration: ArrayLike,
    standard_response: ArrayLike,
    samples: Mapping[str, Sequence[tuple[float, ArrayLike]]],
    *,
    volume_ml: float | Mapping[str, float],
    cells: float | Mapping[str, float],
    hours: float | Mapping[str, float],
    model: str = "linear",
    weighting: str = "none",
    below_lloq: str = "lloq",
    rules: QuantitationRules | None = None,
) -> IdoResult:
    """Fit the kynurenine standards and derive every sample's IDO activity.

    Parameters
    ----------
    standard_concentration, standard_response
        Kynurenine standards (uM; 0 for the blank) and their readings.
    samples
        Sample name -> ``(dilution factor, replicate readings)`` per dilution.
    volume_ml, cells, hours
        The culture the supernatant came from: one value for all samples, or one per sample.
    """
    fit = CurveFitter(model, weighting, rules=rules).fit(standard_concentration, standard_response)

    def pick(value: float | Mapping[str, float], name: str, sample: str) -> float:
        if isinstance(value, Mapping):
            if sample not in value:
                raise ValueError(f"{name}: no value for sample {sample!r}")
            return float(value[sample])
        return float(value)

    result: dict[str, IdoSample] = {}
    for sample, readings in sorted(samples.items()):
        kynurenine = quantify(fit, readings, sample=sample, below_lloq=below_lloq)
        v, n, h = (
            pick(volume_ml, "volume_ml", sample),
            pick(cells, "cells", sample),
            pick(hours, "hours", sample),
        )
        factor = ido_activity(1.0, volume_ml=v, cells=n, hours=h)
        result[sample] = IdoSample(kynurenine, kynurenine.scaled(factor), v, n, h)
    return IdoResult(fit, result)
