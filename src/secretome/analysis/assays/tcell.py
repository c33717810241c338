"""T-cell suppression: % inhibition of proliferation against stimulated and unstimulated controls, the
dose-response of CM dilutions (IC50) and, with a reference lot on the plate, the relative potency.

For a proliferation readout ``P`` (% divided cells, proliferation index, BrdU/EdU absorbance, CFSE dilution)

    % inhibition = 100 x [1 - (P - P_unstim) / (P_stim - P_unstim)]

with ``P_stim`` and ``P_unstim`` the means of the stimulated (no CM) and unstimulated controls. Each
preparation's % inhibition against its dose (% v/v of CM) is fitted with a 4PL; the IC50 is the dose at
which the fitted curve crosses 50 % inhibition (absolute IC50; None when it never does), and the curve's own
inflection is kept as the relative IC50. With a reference preparation the parallel-curve potency engine
gives the relative potency of every test preparation with its Fieller interval.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from secretome.analysis.doseresponse import CurveFit, CurveFitter
from secretome.analysis.potency.parallel_curve import ParallelCurveAssay, ParallelCurveResult


def percent_inhibition(readout: ArrayLike, stimulated: float, unstimulated: float) -> np.ndarray[Any, Any]:
    """``100 (1 - (P - P_unstim) / (P_stim - P_unstim))`` for each readout."""
    span = stimulated - unstimulated
    if not (math.isfinite(span) and span != 0):
        raise ValueError("stimulated: the stimulated and unstimulated controls do not differ")
    values = np.asarray(readout, dtype=float)
    result: np.ndarray[Any, Any] = 100.0 * (1.0 - (values - unstimulated) / span)
    return result


@dataclass(frozen=True)
class PreparationSuppression:
    """One preparation: its doses, per-well % inhibition, the fitted curve and the IC50s."""

    name: str
    dose: tuple[float, ...]
    inhibition: tuple[float, ...]
    fit: CurveFit | None
    ic50: float | None
    relative_ic50: float | None
    inhibition_at: float | None
    flags: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "dose": list(self.dose),
            "inhibition": list(self.inhibition),
            "fit": None if self.fit is None else self.fit.to_dict(),
            "ic50": self.ic50,
            "relative_ic50": self.relative_ic50,
            "inhibition_at": self.inhibition_at,
            "flags": list(self.flags),
        }


@dataclass(frozen=True)
class SuppressionResult:
    """Controls, every preparation's suppression, and the relative potencies when a reference was run."""

    stimulated: tuple[float, ...]
    unstimulated: tuple[float, ...]
    preparations: Mapping[str, PreparationSuppression]
    report_dose: float | None
    potency: ParallelCurveResult | None
    flags: tuple[str, ...] = ()

    @property
    def stimulation_index(self) -> float:
        """Mean stimulated over mean unstimulated readout (an assay-suitability figure)."""
        low = float(np.mean(self.unstimulated))
        return float(np.mean(self.stimulated)) / low if low else math.inf

    def to_dict(self) -> dict[str, Any]:
        return {
            "stimulated": list(self.stimulated),
            "unstimulated": list(self.unstimulated),
            "stimulated_mean": float(np.mean(self.stimulated)),
            "unstimulated_mean": float(np.mean(self.unstimulated)),
            "stimulation_index": _finite(self.stimulation_index),
            "report_dose": self.report_dose,
            "preparations": {k: v.to_dict() for k, v in self.preparations.items()},
            "potency": None if self.potency is None else self.potency.to_dict(),
            "flags": list(self.flags),
        }

    def plot(self, ax: Any = None) -> Any:
        """% inhibition against dose for every preparation, with its fitted curve and the 50 % line."""
        from matplotlib.figure import Figure

        if ax is None:
            figure = Figure(figsize=(6.0, 4.0))
            figure.subplots_adjust(left=0.12, right=0.97, bottom=0.13, top=0.9)
            ax = figure.subplots()
        else:
            figure = ax.figure
        for name, prep in self.preparations.items():
            points = ax.scatter(prep.dose, prep.inhibition, s=16, label=name)
            if prep.fit is not None:
                dose = np.asarray(prep.dose)
                grid = np.geomspace(dose[dose > 0].min(), dose.max(), 100)
                ax.plot(grid, prep.fit.predict(grid), color=points.get_facecolor()[0])
        ax.axhline(50.0, color="grey", linestyle="--", linewidth=0.8)
        ax.set_xscale("log")
        ax.set_xlabel("CM dose (% v/v)")
        ax.set_ylabel("% inhibition of proliferation")
        ax.set_title("T-cell suppression", fontsize=9)
        ax.legend(fontsize=7)
        return figure


def _finite(value: float | None) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def _interpolate(dose: np.ndarray[Any, Any], inhibition: np.ndarray[Any, Any], at: float) -> float | None:
    levels = np.unique(dose)
    means = np.array([inhibition[dose == level].mean() for level in levels])
    if at < levels.min() or at > levels.max():
        return None
    return float(np.interp(np.log(at), np.log(levels), means))


def analyse_suppression(
    stimulated: ArrayLike,
    unstimulated: ArrayLike,
    preparations: Mapping[str, tuple[ArrayLike, ArrayLike]],
    *,
    reference: str | None = None,
    report_dose: float | None = None,
    model: str = "4pl",
) -> SuppressionResult:
    """% inhibition for every preparation (name -> (doses, readouts)), its IC50 and, with ``reference``, RP.

    ``report_dose`` adds the mean % inhibition at that dose (interpolated on log dose between the doses
    run; None outside them).
    """
    stim = np.asarray(stimulated, dtype=float).ravel()
    unstim = np.asarray(unstimulated, dtype=float).ravel()
    if stim.size == 0 or unstim.size == 0:
        raise ValueError("stimulated: the plate needs stimulated and unstimulated control wells")
    if not preparations:
        raise ValueError("preparations: no CM preparation on the plate")
    if reference is not None and reference not in preparations:
        raise ValueError(f"reference: no preparation named {reference!r}")
    p_stim, p_unstim = float(stim.mean()), float(unstim.mean())
    flags: list[str] = []
    if p_stim <= p_unstim:
        flags.append("no_stimulation")
    result: dict[str, PreparationSuppression] = {}
    long_prep: list[str] = []
    long_dose: list[float] = []
    long_inhibition: list[float] = []
    for name, (doses, readouts) in sorted(preparations.items()):
        dose = np.asarray(doses, dtype=float).ravel()
        readout = np.asarray(readouts, dtype=float).ravel()
        if dose.shape != readout.shape or dose.size == 0:
            raise ValueError(f"preparations: {name!r} needs one dose per readout")
        if np.any(dose <= 0):
            raise ValueError(f"preparations: the doses of {name!r} must be positive")
        inhibition = percent_inhibition(readout, p_stim, p_unstim)
        fit: CurveFit | None = None
        prep_flags: list[str] = []
        ic50 = relative = None
        if np.unique(dose).size >= 4:
            try:
                fit = CurveFitter(model).fit(dose, inhibition)
            except ValueError:
                prep_flags.append("curve_not_fitted")
        else:
            prep_flags.append("too_few_doses_for_a_curve")
        if fit is not None:
            crossing = float(fit.concentration(50.0))
            ic50 = crossing if math.isfinite(crossing) else None
            if ic50 is None:
                prep_flags.append("never_reaches_50_percent")
            relative = _finite(fit.ec50)
            prep_flags.extend(f for f in fit.flags if f == "not_converged")
        at = _interpolate(dose, inhibition, report_dose) if report_dose is not None else None
        result[name] = PreparationSuppression(
            name,
            tuple(float(d) for d in dose),
            tuple(float(v) for v in inhibition),
            fit,
            ic50,
            relative,
            at,
            tuple(prep_flags),
        )
        long_prep += [name] * dose.size
        long_dose += dose.tolist()
        long_inhibition += inhibition.tolist()
    potency = None
    if reference is not None and len(preparations) > 1:
        potency = ParallelCurveAssay(reference, model=model).fit(long_prep, long_dose, long_inhibition)
    return SuppressionResult(
        tuple(float(v) for v in stim),
        tuple(float(v) for v in unstim),
        result,
        report_dose,
        potency,
        tuple(flags),
    )


__all__: Sequence[str] = [
    "PreparationSuppression",
    "SuppressionResult",
    "analyse_suppression",
    "percent_inhibition",
]
