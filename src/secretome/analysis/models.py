"""The dose-response models the fitter knows, as objects: evaluation, Jacobian, inverse and EC50.

Each model also defines the *internal* parameters the optimiser works on, so that the positive parameters
stay positive and are searched on their natural (log) scale: ``ln(inflection)`` and ``ln(asymmetry)`` for the
logistic models, the parameters themselves for the straight lines. Results are always reported in the natural
parameters, with covariances computed from the Jacobian in the natural parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from secretome.analysis import logistic
from secretome.analysis.logistic import ASYMMETRY_BOUNDS, HILL_BOUNDS, FloatArray

#: How far beyond the standards (as a factor on dose) the inflection may go: three decades each way.
INFLECTION_REACH = 1e3


def _per_point(params: FloatArray) -> FloatArray:
    """Parameters ready to broadcast against doses: one set (shape ``(P,)``) applies to every dose; a batch
    (shape ``(..., P)``) gets an axis for the points."""
    p = np.asarray(params, dtype=np.float64)
    return p if p.ndim == 1 else p[..., None, :]


@dataclass(frozen=True)
class Model:
    """One dose-response model. ``params`` arrays carry the parameters on their last axis."""

    name: str
    parameter_names: tuple[str, ...]
    logistic: bool

    @property
    def size(self) -> int:
        """Number of parameters."""
        return len(self.parameter_names)

    # -- evaluation ----------------------------------------------------------------------------------
    def _five(self, params: FloatArray) -> tuple[FloatArray, ...]:
        p = _per_point(params)
        asymmetry = p[..., 4] if self.size == 5 else np.ones_like(p[..., 0])
        return p[..., 0], p[..., 1], p[..., 2], p[..., 3], asymmetry

    def predict(self, dose: FloatArray, params: FloatArray) -> FloatArray:
        """Response at ``dose`` (shape ``(..., N)``) for ``params`` (shape ``(..., P)``)."""
        if self.logistic:
            return logistic.five_pl(dose, *self._five(params))
        p = _per_point(params)
        if self.name == "linear":
            return logistic.linear(dose, p[..., 0], p[..., 1])
        return logistic.log_linear(dose, p[..., 0], p[..., 1])

    def jacobian(self, dose: FloatArray, params: FloatArray) -> FloatArray:
        """d response / d params, shape ``(..., N, P)``."""
        if self.logistic:
            return logistic.five_pl_jacobian(dose, *self._five(params))[..., : self.size]
        p = _per_point(params)
        x = np.broadcast_to(
            np.asarray(dose, dtype=np.float64), np.broadcast_shapes(np.shape(dose), p[..., 0].shape)
        )
        if self.name == "linear":
            regressor = x
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                regressor = np.where(x > 0, np.log(np.where(x > 0, x, 1.0)), np.nan)
        return np.stack([np.ones_like(regressor), regressor], axis=-1)

    def dose_derivative(self, dose: FloatArray, params: FloatArray) -> FloatArray:
        """d response / d dose (the calibration slope)."""
        if self.logistic:
            return logistic.five_pl_dose_derivative(dose, *self._five(params))
        p = _per_point(params)
        x = np.asarray(dose, dtype=np.float64)
        if self.name == "linear":
            return np.broadcast_to(p[..., 1], np.broadcast_shapes(x.shape, p[..., 1].shape)).copy()
        with np.errstate(divide="ignore"):
            result: FloatArray = p[..., 1] / x
        return result

    def inverse(self, response: FloatArray, params: FloatArray) -> FloatArray:
        """Dose giving ``response``; ``nan`` outside the asymptotes (logistic models) or below dose 0."""
        if self.logistic:
            return logistic.five_pl_inverse(response, *self._five(params))
        p = _per_point(params)
        y = np.asarray(response, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if self.name == "linear":
                dose = (y - p[..., 0]) / p[..., 1]
                return np.where(dose >= 0, dose, np.nan)
            result: FloatArray = np.exp((y - p[..., 0]) / p[..., 1])
        return result

    def ec50(self, params: FloatArray) -> FloatArray | None:
        """Dose at the half-way response, or ``None`` for the straight-line models."""
        if not self.logistic:
            return None
        p = np.asarray(params, dtype=np.float64)
        return logistic.ec50_5pl(p[..., 2], p[..., 3], p[..., 4] if self.size == 5 else 1.0)

    def ec50_gradient(self, params: FloatArray) -> FloatArray | None:
        """d EC50 / d params (shape ``(..., P)``), or ``None`` for the straight-line models."""
        if not self.logistic:
            return None
        p = np.asarray(params, dtype=np.float64)
        partial = logistic.ec50_5pl_gradient(p[..., 2], p[..., 3], p[..., 4] if self.size == 5 else 1.0)
        gradient = np.zeros(p.shape)
        gradient[..., 2:4] = partial[..., :2]
        if self.size == 5:
            gradient[..., 4] = partial[..., 2]
        return gradient

    # -- internal parameters -------------------------------------------------------------------------
    def to_internal(self, params: FloatArray) -> FloatArray:
        """Natural parameters to the optimiser's parameters."""
        theta = np.array(params, dtype=np.float64, copy=True)
        if self.logistic:
            theta[..., 2] = np.log(theta[..., 2])
            if self.size == 5:
                theta[..., 4] = np.log(theta[..., 4])
        return theta

    def from_internal(self, theta: FloatArray) -> FloatArray:
        """The optimiser's parameters to natural parameters."""
        params = np.array(theta, dtype=np.float64, copy=True)
        if self.logistic:
            params[..., 2] = np.exp(params[..., 2])
            if self.size == 5:
                params[..., 4] = np.exp(params[..., 4])
        return params

    def internal_scale(self, params: FloatArray) -> FloatArray:
        """d natural / d internal, per parameter (the chain-rule factor for the Jacobian)."""
        p = np.asarray(params, dtype=np.float64)
        scale = np.ones(p.shape)
        if self.logistic:
            scale[..., 2] = p[..., 2]
            if self.size == 5:
                scale[..., 4] = p[..., 4]
        return scale

    def internal_bounds(
        self, log_dose_min: FloatArray, log_dose_max: FloatArray, hill_sign: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        """Box bounds on the internal parameters, shape ``(..., P)``.

        The inflection may lie up to :data:`INFLECTION_REACH` beyond the lowest and highest positive dose;
        ``|hill|`` stays within :data:`~secretome.analysis.logistic.HILL_BOUNDS` on the side of ``hill_sign``;
        the asymmetry within :data:`~secretome.analysis.logistic.ASYMMETRY_BOUNDS`.
        """
        shape = (*np.broadcast_shapes(np.shape(log_dose_min), np.shape(hill_sign)), self.size)
        lower = np.full(shape, -np.inf)
        upper = np.full(shape, np.inf)
        if self.logistic:
            reach = np.log(INFLECTION_REACH)
            lower[..., 2] = log_dose_min - reach
            upper[..., 2] = log_dose_max + reach
            positive = np.asarray(hill_sign) > 0
            lower[..., 3] = np.where(positive, HILL_BOUNDS[0], -HILL_BOUNDS[1])
            upper[..., 3] = np.where(positive, HILL_BOUNDS[1], -HILL_BOUNDS[0])
            if self.size == 5:
                lower[..., 4] = np.log(ASYMMETRY_BOUNDS[0])
                upper[..., 4] = np.log(ASYMMETRY_BOUNDS[1])
        return lower, upper


FOUR_PL = Model("4pl", logistic.FOUR_PL_PARAMETERS, True)
FIVE_PL = Model("5pl", logistic.LOGISTIC_PARAMETERS, True)
LINEAR = Model("linear", logistic.LINEAR_PARAMETERS, False)
LOG_LINEAR = Model("log-linear", logistic.LINEAR_PARAMETERS, False)

MODELS: dict[str, Model] = {m.name: m for m in (FOUR_PL, FIVE_PL, LINEAR, LOG_LINEAR)}


def get_model(name: str) -> Model:
    """The model called ``name`` (``4pl``, ``5pl``, ``linear``, ``log-linear``); ``ValueError`` otherwise."""
    try:
        return MODELS[name.lower()]
    except KeyError:
        raise ValueError(f"model: unknown model {name!r}; choose one of {', '.join(MODELS)}") from None


BoolArray = NDArray[np.bool_]
