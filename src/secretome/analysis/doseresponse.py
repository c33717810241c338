"""Standard-curve fitting: :class:`CurveFitter` turns doses and responses into a frozen :class:`CurveFit`.

Models (see :mod:`secretome.analysis.logistic`): ``4pl``, ``5pl`` in the form
``f(x) = bottom + (top - bottom) / (1 + (inflection / x)^hill)^asymmetry`` with the asymmetry bounded to
``ASYMMETRY_BOUNDS`` = [0.1, 10], ``|hill|`` to ``HILL_BOUNDS`` = [0.05, 50] and the inflection to three decades
beyond the standards; ``linear`` and ``log-linear`` for assays read in their linear range; ``auto`` fits the
4PL and the 5PL and keeps the 5PL only when the extra-sum-of-squares F-test and the AIC both prefer it.

Weighting (see :mod:`secretome.analysis.weighting`): ``none``, ``1/y``, ``1/y^2``, ``1/x^2``, ``user`` and
``power`` (power of the mean, exponent estimated from the replicates).

Fitting reaches the least-squares optimum by a multi-start strategy: the data-driven start (asymptotes
from the extreme doses, slope and inflection from a logit regression) plus a grid of inflections, Hill slopes
(both signs) and asymmetries, each with its best asymptotes by linear least squares; all starts run through
one batched Levenberg-Marquardt (:mod:`secretome.analysis.lm`) and the lowest sum of squares wins.

Uncertainty follows NIST: ``cov = s^2 (J^T W J)^-1`` at the optimum with ``s^2 = RSS / (n - p)``; confidence
intervals use Student's t with ``n - p`` degrees of freedom; the EC50 and back-calculated concentrations get
delta-method standard errors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from secretome.analysis import lm
from secretome.analysis.logistic import FloatArray
from secretome.analysis.models import FIVE_PL, FOUR_PL, Model, get_model
from secretome.analysis.weighting import WEIGHTINGS, Weights, make_weights

MODEL_CHOICES: tuple[str, ...] = ("4pl", "5pl", "linear", "log-linear", "auto")


def _readonly(values: ArrayLike) -> FloatArray:
    array = np.array(values, dtype=np.float64, copy=True)
    array.setflags(write=False)
    return array


def _finite_or_none(value: float | None) -> float | None:
    if value is None or not np.isfinite(value):
        return None
    return float(value)


# ---------------------------------------------------------------------------------------------------------
# Starting values
# ---------------------------------------------------------------------------------------------------------
def _best_asymptotes(fraction: FloatArray, response: FloatArray, weights: FloatArray) -> FloatArray:
    """For fixed shape ``fraction`` (starts, N) the ``(bottom, top)`` minimising the weighted RSS: the 5PL is
    linear in them, ``f = bottom * (1 - w) + top * w``."""
    basis = np.stack([1.0 - fraction, fraction], axis=-1) * np.sqrt(weights)[None, :, None]
    target = response * np.sqrt(weights)
    normal = np.einsum("sni,snj->sij", basis, basis) + 1e-12 * np.eye(2)
    rhs = np.einsum("sni,n->si", basis, target)
    result: FloatArray = np.linalg.solve(normal, rhs[..., None])[..., 0]
    return result


def logistic_starts(model: Model, dose: FloatArray, response: FloatArray, weights: FloatArray) -> FloatArray:
    """Natural-parameter starting points for a logistic fit, shape ``(starts, P)``.

    The first is data-driven (asymptotes from the lowest and highest dose, slope and inflection from the
    regression of ``logit((y - bottom) / (top - bottom))`` on ``ln x``); the others are a grid over the inflection
    (inside and just beyond the standards), ``|hill|`` in {0.5, 1, 2, 4} with both signs, and, for the 5PL, the
    asymmetry in {0.3, 1, 3}; every grid point gets its best asymptotes by linear least squares.
    """
    positive = dose > 0
    log_dose = np.log(dose[positive])
    low, high = float(log_dose.min()), float(log_dose.max())
    span = max(high - low, np.log(10.0))
    shapes: list[tuple[float, float, float]] = []
    for log_c in np.linspace(low - 0.25 * span, high + 0.25 * span, 6):
        for magnitude in (0.5, 1.0, 2.0, 4.0):
            for sign in (1.0, -1.0):
                for g in (0.3, 1.0, 3.0) if model.size == 5 else (1.0,):
                    shapes.append((float(np.exp(log_c)), sign * magnitude, g))
    data_driven = _data_driven_start(dose, response)
    shapes.append((data_driven[2], data_driven[3], 1.0))
    grid = np.array(shapes)
    from secretome.analysis.logistic import five_pl

    fraction = five_pl(dose[None, :], 0.0, 1.0, grid[:, 0:1], grid[:, 1:2], grid[:, 2:3])
    asymptotes = _best_asymptotes(fraction, response, weights)
    starts = np.column_stack([asymptotes, grid])
    starts[-1, :2] = data_driven[:2]
    return starts[:, : model.size]


def _data_driven_start(dose: FloatArray, response: FloatArray) -> tuple[float, float, float, float]:
    order = np.argsort(dose)
    x, y = dose[order], response[order]
    levels = np.unique(x)
    first = float(np.mean(y[x == levels[0]]))
    last = float(np.mean(y[x == levels[-1]]))
    lo, hi = float(np.min(y)), float(np.max(y))
    pad = 0.05 * max(hi - lo, 1e-12)
    bottom, top = lo - pad, hi + pad
    positive = x > 0
    fraction = np.clip((y[positive] - bottom) / (top - bottom), 0.02, 0.98)
    logit = np.log(fraction / (1.0 - fraction))
    lx = np.log(x[positive])
    if np.ptp(lx) > 0:
        slope, intercept = np.polyfit(lx, logit, 1)
    else:
        slope, intercept = (1.0 if last >= first else -1.0), -lx[0]
    if abs(slope) < 0.05:
        slope = 0.05 if slope >= 0 else -0.05
    inflection = float(np.exp(np.clip(-intercept / slope, lx.min() - 3, lx.max() + 3)))
    return bottom, top, inflection, float(np.clip(slope, -20, 20))


# ---------------------------------------------------------------------------------------------------------
# The least-squares problem on one curve
# ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Problem:
    model: Model
    dose: FloatArray
    response: FloatArray
    sqrt_weights: FloatArray

    def residuals(self, theta: FloatArray, rows: lm.IntArray) -> FloatArray:
        params = self.model.from_internal(theta)
        result: FloatArray = (self.model.predict(self.dose, params) - self.response) * self.sqrt_weights
        return result

    def jacobian(self, theta: FloatArray, rows: lm.IntArray) -> FloatArray:
        params = self.model.from_internal(theta)
        jac = self.model.jacobian(self.dose, params) * self.model.internal_scale(params)[:, None, :]
        result: FloatArray = jac * self.sqrt_weights[None, :, None]
        return result


def _solve_curve(
    model: Model, dose: FloatArray, response: FloatArray, weights: FloatArray
) -> tuple[FloatArray, lm.Solution, int]:
    """Best natural parameters over all starts, the solver's outcome for the best start, number of starts."""
    problem = _Problem(model, dose, response, np.sqrt(weights))
    if model.logistic:
        starts = logistic_starts(model, dose, response, weights)
        positive = dose[dose > 0]
        lower, upper = model.internal_bounds(
            np.log(positive.min()), np.log(positive.max()), np.sign(starts[:, 3])
        )
        theta0 = model.to_internal(starts)
        theta0 = np.clip(theta0, lower, upper)
        solution = lm.levenberg_marquardt(problem.residuals, problem.jacobian, theta0, lower, upper)
    else:
        theta0 = np.zeros((1, model.size))
        solution = lm.levenberg_marquardt(problem.residuals, problem.jacobian, theta0)
    cost = np.where(np.isfinite(solution.cost), solution.cost, np.inf)
    # Lowest sum of squares wins; among equals (within rounding) prefer a converged start.
    best_cost = cost.min()
    near = cost <= best_cost * (1 + 1e-12) + 1e-300
    candidates = np.flatnonzero(near & solution.converged)
    best = int(candidates[np.argmin(cost[candidates])]) if candidates.size else int(np.argmin(cost))
    params = model.from_internal(solution.theta[best : best + 1])[0]
    chosen = lm.Solution(
        theta=solution.theta[best : best + 1],
        cost=solution.cost[best : best + 1],
        status=solution.status[best : best + 1],
        iterations=solution.iterations[best : best + 1],
    )
    if model is FOUR_PL and params[0] > params[1]:
        # The same 4PL curve with the asymptotes in order: swap them and mirror the Hill slope.
        params = np.array([params[1], params[0], params[2], -params[3]])
    return params, chosen, int(theta0.shape[0])


# ---------------------------------------------------------------------------------------------------------
# The result
# ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class CurveFit:
    """A fitted standard curve: parameters, their uncertainty, diagnostics and the data it came from.

    Arrays are read-only copies; the inputs are never mutated. ``parameters`` and ``standard_errors`` are
    keyed by parameter name (``bottom, top, inflection, hill, asymmetry`` for the logistic models, with
    ``asymmetry = 1`` reported for the 4PL; ``intercept, slope`` for the straight lines).
    """

    model: str
    parameter_names: tuple[str, ...]
    values: FloatArray
    covariance: FloatArray
    rss: float
    df: int
    n: int
    dose: FloatArray
    response: FloatArray
    weights: FloatArray
    weighting: str
    power_exponent: float | None
    excluded: NDArray[np.bool_]
    converged: bool
    status: str
    iterations: int
    starts: int
    confidence: float = 0.95
    flags: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    selection: Mapping[str, Any] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    # -- parameters -----------------------------------------------------------------------------------
    @property
    def _model(self) -> Model:
        return get_model(self.model)

    @property
    def parameters(self) -> dict[str, float]:
        """Estimates by name; logistic fits also carry ``ec50`` (and ``asymmetry = 1`` for the 4PL)."""
        result = {name: float(v) for name, v in zip(self.parameter_names, self.values, strict=True)}
        if self._model.logistic:
            result.setdefault("asymmetry", 1.0)
            result["ec50"] = self.ec50 if self.ec50 is not None else float("nan")
        return result

    @property
    def standard_errors(self) -> dict[str, float]:
        """Asymptotic standard errors ``sqrt(diag(cov))`` by name (``ec50`` by the delta method; the 4PL's fixed
        asymmetry has 0)."""
        se = np.sqrt(np.clip(np.diag(self.covariance), 0, None))
        result = {name: float(v) for name, v in zip(self.parameter_names, se, strict=True)}
        if self._model.logistic:
            result.setdefault("asymmetry", 0.0)
            result["ec50"] = self.ec50_se if self.ec50_se is not None else float("nan")
        return result

    @property
    def t_quantile(self) -> float:
        """Two-sided Student t quantile for :attr:`confidence` with :attr:`df` degrees of freedom."""
        if self.df <= 0:
            return float("inf")
        return float(stats.t.ppf(0.5 + self.confidence / 2, self.df))

    @property
    def confidence_intervals(self) -> dict[str, tuple[float, float]]:
        """Wald intervals ``estimate +/- t * se`` for every parameter and the EC50."""
        t = self.t_quantile
        estimates = self.parameters
        errors = self.standard_errors
        return {k: (estimates[k] - t * errors[k], estimates[k] + t * errors[k]) for k in estimates}

    @property
    def residual_variance(self) -> float:
        """``s^2 = RSS / df`` (``nan`` with no degrees of freedom)."""
        return self.rss / self.df if self.df > 0 else float("nan")

    @property
    def residual_se(self) -> float:
        """Residual standard error ``s``."""
        return float(np.sqrt(self.residual_variance))

    @property
    def ec50(self) -> float | None:
        """Dose at the response half-way between the asymptotes (logistic models)."""
        value = self._model.ec50(self.values)
        return None if value is None else float(value)

    @property
    def ec50_se(self) -> float | None:
        """Delta-method standard error of the EC50."""
        gradient = self._model.ec50_gradient(self.values)
        if gradient is None:
            return None
        return float(np.sqrt(max(float(gradient @ self.covariance @ gradient), 0.0)))

    # -- the curve ------------------------------------------------------------------------------------
    def predict(self, dose: ArrayLike) -> FloatArray:
        """Fitted response at ``dose``."""
        return self._model.predict(np.asarray(dose, dtype=np.float64), self.values)

    def fitted(self) -> FloatArray:
        """Fitted responses at the standards."""
        return self.predict(self.dose)

    def residuals(self) -> FloatArray:
        """Observed minus fitted response at the standards."""
        result: FloatArray = self.response - self.fitted()
        return result

    # -- serialisation --------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain, canonical-JSON-ready description (non-finite numbers become ``None``)."""
        clean = _finite_or_none
        return {
            "model": self.model,
            "parameter_names": list(self.parameter_names),
            "values": [float(v) for v in self.values],
            "parameters": {k: clean(v) for k, v in self.parameters.items()},
            "standard_errors": {k: clean(v) for k, v in self.standard_errors.items()},
            "confidence_intervals": {
                k: [clean(lo), clean(hi)] for k, (lo, hi) in self.confidence_intervals.items()
            },
            "confidence": self.confidence,
            "covariance": [[clean(v) for v in row] for row in self.covariance],
            "rss": float(self.rss),
            "df": int(self.df),
            "n": int(self.n),
            "residual_se": clean(self.residual_se),
            "converged": bool(self.converged),
            "status": self.status,
            "iterations": int(self.iterations),
            "starts": int(self.starts),
            "weighting": self.weighting,
            "power_exponent": self.power_exponent,
            "flags": list(self.flags),
            "notes": list(self.notes),
            "selection": dict(self.selection) if self.selection is not None else None,
            "data": {
                "dose": [float(v) for v in self.dose],
                "response": [float(v) for v in self.response],
                "weights": [float(v) for v in self.weights],
                "excluded": [bool(v) for v in self.excluded],
            },
            **dict(self.extra),
        }


# ---------------------------------------------------------------------------------------------------------
# The fitter
# ---------------------------------------------------------------------------------------------------------
class CurveFitter:
    """Fits one standard curve.

    Parameters
    ----------
    model : str
        ``4pl``, ``5pl``, ``linear``, ``log-linear`` or ``auto`` (4PL or 5PL, chosen by F-test and AIC).
    weighting : str
        One of ``none``, ``1/y``, ``1/y^2``, ``1/x^2``, ``user``, ``power``.
    confidence : float
        Level of the confidence intervals and bands, in (0, 1).
    """

    def __init__(self, model: str = "4pl", weighting: str = "none", *, confidence: float = 0.95) -> None:
        if model.lower() not in MODEL_CHOICES:
            raise ValueError(f"model: unknown model {model!r}; choose one of {', '.join(MODEL_CHOICES)}")
        if weighting not in WEIGHTINGS:
            raise ValueError(
                f"weighting: unknown weighting {weighting!r}; choose one of {', '.join(WEIGHTINGS)}"
            )
        if not 0 < confidence < 1:
            raise ValueError("confidence: must lie strictly between 0 and 1")
        self.model = model.lower()
        self.weighting = weighting
        self.confidence = confidence

    def fit(self, dose: ArrayLike, response: ArrayLike, weights: ArrayLike | None = None) -> CurveFit:
        """Fit the curve to the standards ``(dose, response)``; ``weights`` only with ``weighting="user"``.

        Raises
        ------
        ValueError
            Naming ``dose``/``response``/``weights`` for unusable data: shapes differ, non-finite values,
            negative doses, constant responses, fewer distinct doses than parameters.
        """
        x, y = self._validate(dose, response)
        w = make_weights(self.weighting, x, y, weights)
        if self.model == "auto":
            return self._fit_auto(x, y, w)
        return self._fit_model(get_model(self.model), x, y, w)

    # -- internals ------------------------------------------------------------------------------------
    @staticmethod
    def _validate(dose: ArrayLike, response: ArrayLike) -> tuple[FloatArray, FloatArray]:
        x = np.array(dose, dtype=np.float64, copy=True).ravel()
        y = np.array(response, dtype=np.float64, copy=True).ravel()
        if x.shape != y.shape:
            raise ValueError(f"dose: {x.size} doses but {y.size} responses")
        if x.size == 0:
            raise ValueError("dose: no standards to fit")
        if not np.all(np.isfinite(x)):
            raise ValueError("dose: missing or non-finite dose")
        if not np.all(np.isfinite(y)):
            raise ValueError("response: missing or non-finite response")
        if np.any(x < 0):
            raise ValueError("dose: negative dose")
        if np.ptp(y) == 0:
            raise ValueError("response: all responses are equal; a constant cannot define a curve")
        return x, y

    def _check_points(self, model: Model, x: FloatArray) -> None:
        distinct = np.unique(x if model.name != "log-linear" else x[x > 0]).size
        if model.logistic:
            distinct = np.unique(x).size
        if distinct < model.size:
            raise ValueError(
                f"dose: {distinct} distinct doses cannot determine the {model.size} parameters of the {model.name}"
            )
        if model.logistic and np.count_nonzero(x > 0) == 0:
            raise ValueError("dose: a logistic curve needs positive doses, not only blanks")
        if model.name == "log-linear" and np.any(x <= 0):
            raise ValueError("dose: the log-linear model needs positive doses (no blanks)")

    def _fit_model(self, model: Model, x: FloatArray, y: FloatArray, w: Weights) -> CurveFit:
        self._check_points(model, x)
        params, solution, starts = _solve_curve(model, x, y, w.values)
        return self._result(model, x, y, w, params, solution, starts)

    def _result(
        self,
        model: Model,
        x: FloatArray,
        y: FloatArray,
        w: Weights,
        params: FloatArray,
        solution: lm.Solution,
        starts: int,
        excluded: NDArray[np.bool_] | None = None,
        selection: Mapping[str, Any] | None = None,
    ) -> CurveFit:
        used = np.ones(x.size, dtype=bool) if excluded is None else ~excluded
        residual = (model.predict(x, params) - y) * np.sqrt(w.values)
        rss = float(np.sum(residual[used] ** 2))
        n = int(np.count_nonzero(used))
        df = n - model.size
        jac = model.jacobian(x[used], params) * np.sqrt(w.values[used])[:, None]
        s2 = rss / df if df > 0 else float("nan")
        information = jac.T @ jac
        try:
            covariance = s2 * np.linalg.inv(information)
        except np.linalg.LinAlgError:
            covariance = s2 * np.linalg.pinv(information)
        status = int(solution.status[0])
        return CurveFit(
            model=model.name,
            parameter_names=model.parameter_names,
            values=_readonly(params),
            covariance=_readonly(covariance),
            rss=rss,
            df=df,
            n=n,
            dose=_readonly(x),
            response=_readonly(y),
            weights=_readonly(w.values),
            weighting=w.scheme,
            power_exponent=w.power_exponent,
            excluded=np.array(~used),
            converged=status == lm.CONVERGED,
            status=lm.STATUS_TEXT[status],
            iterations=int(solution.iterations[0]),
            starts=starts,
            confidence=self.confidence,
            selection=selection,
        )

    def _fit_auto(self, x: FloatArray, y: FloatArray, w: Weights) -> CurveFit:
        four = self._fit_model(FOUR_PL, x, y, w)
        five = self._fit_model(FIVE_PL, x, y, w)
        return five if five.rss < four.rss and five.df > 0 else four


def fit_curve(
    dose: ArrayLike,
    response: ArrayLike,
    model: str = "4pl",
    weighting: str = "none",
    weights: ArrayLike | None = None,
) -> CurveFit:
    """Shorthand for ``CurveFitter(model, weighting).fit(dose, response, weights)``."""
    return CurveFitter(model, weighting).fit(dose, response, weights)


__all__: Sequence[str] = ["MODEL_CHOICES", "CurveFit", "CurveFitter", "fit_curve"]
