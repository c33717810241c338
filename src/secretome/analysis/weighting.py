"""Weights for dose-response least squares: which residuals count how much.

A weight ``w_i`` multiplies the squared residual, ``RSS = sum_i w_i (y_i - f(x_i))^2``; it should be
proportional to ``1 / var(y_i)``. The choices:

``none``
    Constant variance (``w = 1``).
``1/y`` and ``1/y^2``
    Variance proportional to the response (Poisson-like counts) or its square (constant CV); need positive
    responses.
``1/x^2``
    Variance proportional to the squared dose; needs positive doses (no blanks).
``user``
    Weights given with the data (positive, finite).
``power``
    Power of the mean, ``var(y) = sigma^2 * mean^theta``: the exponent ``theta`` is estimated from the replicate
    standard deviations at each dose (least squares of ``ln variance`` on ``ln |mean|``), clipped to
    :data:`POWER_EXPONENT_RANGE`, and the weight of each well is ``1 / |mean of its dose group|^theta``. Needs at
    least three doses with two or more replicates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]

WEIGHTINGS: tuple[str, ...] = ("none", "1/y", "1/y^2", "1/x^2", "user", "power")
#: The range the estimated power-of-the-mean exponent is clipped to (0: constant variance; 4: CV rising with
#: the mean).
POWER_EXPONENT_RANGE: tuple[float, float] = (0.0, 4.0)


@dataclass(frozen=True)
class Weights:
    """The weights of a fit and how they came about."""

    scheme: str
    values: FloatArray
    power_exponent: float | None = None

    def variance_factor(self, dose: FloatArray, response: FloatArray) -> FloatArray:
        """Relative variance ``1 / w`` of a single new reading at ``dose`` with expected ``response``,
        for prediction bands and precision profiles (``user`` weights have no variance model: factor 1)."""
        x = np.asarray(dose, dtype=np.float64)
        y = np.abs(np.asarray(response, dtype=np.float64))
        if self.scheme == "1/y":
            return y.copy()
        if self.scheme == "1/y^2":
            result: FloatArray = y**2
            return result
        if self.scheme == "1/x^2":
            result = x**2
            return result
        if self.scheme == "power" and self.power_exponent is not None:
            result = y**self.power_exponent
            return result
        return np.ones(np.broadcast_shapes(x.shape, y.shape))


def estimate_power_exponent(dose: FloatArray, response: FloatArray) -> float:
    """Exponent ``theta`` of ``var(y) ~ mean^theta``, from the dose groups with replicates.

    Raises
    ------
    ValueError
        With fewer than three dose groups holding two or more replicates with a non-zero spread.
    """
    log_mean: list[float] = []
    log_variance: list[float] = []
    for level in np.unique(dose):
        group = response[dose == level]
        if group.size >= 2:
            variance = float(np.var(group, ddof=1))
            mean = float(abs(np.mean(group)))
            if variance > 0 and mean > 0:
                log_mean.append(np.log(mean))
                log_variance.append(np.log(variance))
    if len(log_mean) < 3:
        raise ValueError(
            "weights: power-of-the-mean weighting needs replicates at three or more doses to estimate the exponent"
        )
    slope = float(np.polyfit(np.array(log_mean), np.array(log_variance), 1)[0])
    return float(np.clip(slope, *POWER_EXPONENT_RANGE))


def make_weights(
    scheme: str, dose: FloatArray, response: FloatArray, user_weights: ArrayLike | None = None
) -> Weights:
    """Weights for the wells ``(dose, response)`` under ``scheme`` (one of :data:`WEIGHTINGS`).

    Raises
    ------
    ValueError
        Naming ``weights`` when the scheme is unknown or does not fit the data (non-positive responses for
        ``1/y``, blanks for ``1/x^2``, missing or bad user weights, too few replicates for ``power``).
    """
    x = np.asarray(dose, dtype=np.float64)
    y = np.asarray(response, dtype=np.float64)
    if scheme not in WEIGHTINGS:
        raise ValueError(f"weights: unknown weighting {scheme!r}; choose one of {', '.join(WEIGHTINGS)}")
    if scheme == "none":
        return Weights(scheme, np.ones_like(y))
    if scheme in ("1/y", "1/y^2"):
        if np.any(y <= 0):
            raise ValueError(f"weights: {scheme} weighting needs positive responses")
        return Weights(scheme, 1.0 / y if scheme == "1/y" else 1.0 / y**2)
    if scheme == "1/x^2":
        if np.any(x <= 0):
            raise ValueError("weights: 1/x^2 weighting needs positive doses (no blanks)")
        return Weights(scheme, 1.0 / x**2)
    if scheme == "user":
        if user_weights is None:
            raise ValueError("weights: user weighting needs the weights")
        values = np.asarray(user_weights, dtype=np.float64)
        if values.shape != y.shape or not np.all(np.isfinite(values)) or np.any(values <= 0):
            raise ValueError("weights: user weights must be positive, finite and one per response")
        return Weights(scheme, values.copy())
    exponent = estimate_power_exponent(x, y)
    group_mean = np.empty_like(y)
    for level in np.unique(x):
        at = x == level
        group_mean[at] = abs(float(np.mean(y[at])))
    if np.any(group_mean <= 0):
        raise ValueError("weights: power-of-the-mean weighting needs non-zero mean responses")
    return Weights(scheme, group_mean ** (-exponent), exponent)
