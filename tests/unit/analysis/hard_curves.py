"""A reproducible set of difficult standard curves, and an independent many-start scipy fit to judge them by.

The independent fit writes the model out with ``numpy.power`` (not :mod:`secretome.analysis.logistic`),
lets scipy difference the Jacobian itself and uses the same parameter box as the engine (documented in
:mod:`secretome.analysis.models`), so both solve the same problem.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import least_squares

from secretome.analysis.logistic import ASYMMETRY_BOUNDS, HILL_BOUNDS
from secretome.analysis.models import INFLECTION_REACH

Array = np.ndarray[Any, np.dtype[np.float64]]


@dataclass(frozen=True)
class HardCurve:
    name: str
    dose: Array
    response: Array


def _truth(x: Array, bottom: float, top: float, c: float, h: float, g: float = 1.0) -> Array:
    with np.errstate(divide="ignore"):
        ratio = np.where(x > 0, c / np.where(x > 0, x, 1.0), np.inf)
    return np.asarray(bottom + (top - bottom) / (1 + ratio**h) ** g)


def hard_curves(seed: int = 20240601) -> list[HardCurve]:
    """Outliers, saturation, missing wells, unreached plateaus, hook effects, steep and decreasing curves."""
    rng = np.random.default_rng(seed)
    doses = np.repeat(np.geomspace(0.2, 200.0, 8), 2)
    curves: list[HardCurve] = []

    def noise(size: int, scale: float = 0.02) -> Array:
        return np.asarray(rng.normal(0.0, scale, size))

    for k in range(3):
        base = _truth(doses, 0.05, 2.0, 8.0 * (k + 1), 1.0 + 0.3 * k, [1.0, 0.5, 2.5][k])
        y = base + noise(doses.size)
        outlier = y.copy()
        outlier[rng.integers(4, 12)] += 0.6
        curves.append(HardCurve(f"outlier-{k}", doses, outlier))
        curves.append(HardCurve(f"saturated-{k}", doses, np.minimum(y, 1.4 + 0.1 * k)))
        keep = np.sort(rng.choice(doses.size, doses.size - 5, replace=False))
        curves.append(HardCurve(f"missing-wells-{k}", doses[keep], y[keep]))
        unreached = _truth(doses, 0.1, 3.0, 150.0 * (k + 1), 1.2, 1.0) + noise(doses.size)
        curves.append(HardCurve(f"unreached-top-{k}", doses, unreached))
        low_unreached = _truth(doses, 0.1, 3.0, 0.3 / (k + 1), 0.9, 1.0) + noise(doses.size)
        curves.append(HardCurve(f"unreached-bottom-{k}", doses, low_unreached))
        hook = y.copy()
        hook[-4:] -= np.array([0.3, 0.3, 0.7, 0.7]) * (k + 1) / 2
        curves.append(HardCurve(f"hook-{k}", doses, hook))
        steep = _truth(doses, 0.2, 1.5, 5.0 * (k + 1), 6.0 + 2 * k) + noise(doses.size)
        curves.append(HardCurve(f"steep-{k}", doses, steep))
        decreasing = _truth(doses, 2.5, 0.2, 3.0 * (k + 1), 1.1, [1.0, 0.6, 1.8][k]) + noise(doses.size, 0.05)
        curves.append(HardCurve(f"decreasing-{k}", doses, decreasing))
        flat = _truth(doses, 1.0, 1.3, 10.0, 1.0) + noise(doses.size, 0.08)
        curves.append(HardCurve(f"barely-a-curve-{k}", doses, flat))
    return curves


def scipy_many_starts(dose: Array, response: Array, five: bool, starts: int = 40, seed: int = 7) -> float:
    """Lowest RSS scipy's ``least_squares`` (trf, finite differences) finds from ``starts`` random starts on
    each Hill-sign side, in the engine's parameter box."""
    rng = np.random.default_rng(seed)
    positive = dose[dose > 0]
    lo_c = np.log(positive.min() / INFLECTION_REACH)
    hi_c = np.log(positive.max() * INFLECTION_REACH)
    y_lo, y_hi = float(response.min()), float(response.max())
    span = y_hi - y_lo

    def residual(theta: Array) -> Array:
        bottom, top, log_c, h = theta[:4]
        g = np.exp(theta[4]) if five else 1.0
        return _truth(dose, bottom, top, float(np.exp(log_c)), h, g) - response

    best = np.inf
    for sign in (1.0, -1.0):
        h_lo, h_hi = (HILL_BOUNDS[0], HILL_BOUNDS[1]) if sign > 0 else (-HILL_BOUNDS[1], -HILL_BOUNDS[0])
        lower = [-np.inf, -np.inf, lo_c, h_lo]
        upper = [np.inf, np.inf, hi_c, h_hi]
        if five:
            lower.append(np.log(ASYMMETRY_BOUNDS[0]))
            upper.append(np.log(ASYMMETRY_BOUNDS[1]))
        for _ in range(starts):
            theta0 = [
                rng.uniform(y_lo - 0.2 * span, y_lo + 0.3 * span),
                rng.uniform(y_hi - 0.3 * span, y_hi + 0.2 * span),
                rng.uniform(np.log(positive.min()) - 1, np.log(positive.max()) + 1),
                sign * np.exp(rng.uniform(np.log(0.3), np.log(8.0))),
            ]
            if rng.random() < 0.5:
                theta0[0], theta0[1] = theta0[1], theta0[0]
            if five:
                theta0.append(rng.uniform(np.log(0.2), np.log(5.0)))
            try:
                fit = least_squares(
                    residual,
                    theta0,
                    bounds=(lower, upper),
                    method="trf",
                    xtol=1e-14,
                    ftol=1e-14,
                    gtol=1e-14,
                    max_nfev=4000,
                )
            except ValueError:
                continue
            rss = float(np.sum(fit.fun**2))
            if np.isfinite(rss):
                best = min(best, rss)
    return best
