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
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from secretome.analysis import lm
from secretome.analysis.logistic import FloatArray
from secretome.analysis.models import FIVE_PL, FOUR_PL, Model, get_model
from secretome.analysis.weighting import WEIGHTINGS, Weights, make_weights

MODEL_CHOICES: tuple[str, ...] = ("4pl", "5pl", "linear", "log-linear", "auto")
#: Starts that go on to the long second phase of the multi-start search, and its iteration limit.
FINALISTS = 4
POLISH_ITERATIONS = 4000


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
        theta0 = np.clip(model.to_internal(starts), lower, upper)
        # Phase 1: every start, a short run. Phase 2: the best few continue to convergence; fits whose
        # optimum lies on a bound (an unreached plateau, a step-like curve) crawl there slowly.
        first = lm.levenberg_marquardt(
            problem.residuals, problem.jacobian, theta0, lower, upper, max_iterations=150
        )
        order = np.argsort(np.where(np.isfinite(first.cost), first.cost, np.inf))[:FINALISTS]
        second = lm.levenberg_marquardt(
            problem.residuals,
            problem.jacobian,
            first.theta[order],
            lower[order],
            upper[order],
            max_iterations=POLISH_ITERATIONS,
        )
        solution = lm.Solution(
            second.theta, second.cost, second.status, second.iterations + first.iterations[order]
        )
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
# Results
# ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class QuantitationRules:
    """How the quantitation limits, outliers and flags are decided (all configurable).

    Parameters
    ----------
    recovery : tuple of float
        Accepted back-calculated recovery of a standard, in % of nominal (default 80-120 %).
    max_cv : float
        Largest accepted CV (%) of a back-calculated concentration: precision profile for the standards,
        replicate spread for the unknowns (default 20 %).
    outlier_threshold : float
        ``|studentized residual|`` above which a standard is flagged as an outlier (default 3).
    exclude_outliers : bool
        Refit once without the flagged outliers (they stay in the result, marked excluded).
    plateau_fraction : float
        A plateau counts as reached when the standards come within this fraction of the span of the
        asymptote (default 0.1).
    hook_fraction : float
        A fall-off at the highest doses larger than this fraction of the response range (and than three
        standard errors of a level mean) is a hook effect (default 0.05).
    """

    recovery: tuple[float, float] = (80.0, 120.0)
    max_cv: float = 20.0
    outlier_threshold: float = 3.0
    exclude_outliers: bool = False
    plateau_fraction: float = 0.1
    hook_fraction: float = 0.05

    def __post_init__(self) -> None:
        low, high = self.recovery
        if not 0 <= low < 100 < high:
            raise ValueError("recovery: needs low < 100 < high, in % of nominal")
        if self.max_cv <= 0:
            raise ValueError("max_cv: must be positive")
        if self.outlier_threshold <= 0:
            raise ValueError("outlier_threshold: must be positive")
        if not 0 < self.plateau_fraction < 0.5:
            raise ValueError("plateau_fraction: must lie in (0, 0.5)")
        if not 0 < self.hook_fraction < 1:
            raise ValueError("hook_fraction: must lie in (0, 1)")


@dataclass(frozen=True)
class BackCalculation:
    """Concentration of one unknown from its replicate responses.

    ``concentration``, ``se`` and ``ci`` are after the dilution factor; ``None`` when the mean response lies
    outside the fitted asymptotes (no value is extrapolated). ``se`` combines the curve-parameter part
    (delta method, ``se_curve``) and the uncertainty of the mean response (``se_response``, from the residual
    variance); ``cv`` is the replicate spread of the per-replicate concentrations, in %.
    """

    sample: str
    responses: tuple[float, ...]
    dilution: float
    concentration: float | None
    se: float | None
    se_curve: float | None
    se_response: float | None
    ci: tuple[float, float] | None
    replicate_concentrations: tuple[float | None, ...]
    cv: float | None
    flags: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready description."""
        return {
            "sample": self.sample,
            "responses": list(self.responses),
            "mean_response": float(np.mean(self.responses)),
            "dilution": self.dilution,
            "concentration": self.concentration,
            "se": self.se,
            "se_curve": self.se_curve,
            "se_response": self.se_response,
            "ci": list(self.ci) if self.ci is not None else None,
            "replicate_concentrations": list(self.replicate_concentrations),
            "cv": self.cv,
            "flags": list(self.flags),
        }


def _clean(value: Any) -> Any:
    """Non-finite floats to ``None``, recursively, so a result always fits canonical JSON."""
    if isinstance(value, float | np.floating):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, Mapping):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def _nan(value: Any) -> float:
    return float("nan") if value is None else float(value)


@dataclass(frozen=True, eq=False)
class CurveFit:
    """A fitted standard curve: parameters, their uncertainty, diagnostics and the data it came from.

    Arrays are read-only copies; the inputs are never mutated. ``parameters`` and ``standard_errors`` are
    keyed by parameter name (``bottom, top, inflection, hill, asymmetry, ec50`` for the logistic models, with
    ``asymmetry = 1`` and its standard error 0 for the 4PL; ``intercept, slope`` for the straight lines).
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
    rules: QuantitationRules = field(default_factory=QuantitationRules)
    flags: tuple[str, ...] = ()
    outliers: tuple[int, ...] = ()
    studentized_residuals: tuple[float, ...] = ()
    goodness: Mapping[str, Any] = field(default_factory=dict)
    standards: tuple[Mapping[str, Any], ...] = ()
    lloq: float | None = None
    uloq: float | None = None
    selection: Mapping[str, Any] | None = None

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
            result["ec50"] = _nan(self.ec50)
        return result

    @property
    def standard_errors(self) -> dict[str, float]:
        """Asymptotic standard errors ``sqrt(diag(cov))`` by name (``ec50`` by the delta method)."""
        se = np.sqrt(np.clip(np.diag(self.covariance), 0, None))
        result = {name: float(v) for name, v in zip(self.parameter_names, se, strict=True)}
        if self._model.logistic:
            result.setdefault("asymmetry", 0.0)
            result["ec50"] = _nan(self.ec50_se)
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

    @property
    def weights_model(self) -> Weights:
        """The weighting of the fit, with its variance function."""
        return Weights(self.weighting, self.weights, self.power_exponent)

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

    def bands(self, dose: ArrayLike) -> dict[str, FloatArray]:
        """Fitted curve with pointwise confidence and prediction bands at ``dose``.

        Returns
        -------
        dict
            ``fit``, ``confidence_low``, ``confidence_high`` (for the curve; ``J cov J^T``) and
            ``prediction_low``, ``prediction_high`` (for a single new reading: adds ``s^2`` times the
            weighting's variance function).
        """
        x = np.asarray(dose, dtype=np.float64)
        fit = self.predict(x)
        jac = self._model.jacobian(x, self.values)
        curve_var = np.einsum("...i,ij,...j->...", jac, self.covariance, jac)
        reading_var = self.residual_variance * self.weights_model.variance_factor(x, fit)
        t = self.t_quantile
        se_fit = np.sqrt(np.clip(curve_var, 0, None))
        se_pred = np.sqrt(np.clip(curve_var + reading_var, 0, None))
        return {
            "fit": fit,
            "confidence_low": fit - t * se_fit,
            "confidence_high": fit + t * se_fit,
            "prediction_low": fit - t * se_pred,
            "prediction_high": fit + t * se_pred,
        }

    # -- back-calculation -----------------------------------------------------------------------------
    def concentration(self, response: ArrayLike) -> FloatArray:
        """Dose read off the curve for each ``response``; ``nan`` outside the asymptotes."""
        return self._model.inverse(np.asarray(response, dtype=np.float64), self.values)

    def concentration_se(self, response: float, replicates: int = 1) -> tuple[float, float]:
        """Delta-method standard errors of the concentration read at the mean of ``replicates`` responses.

        Returns
        -------
        tuple of float
            ``(se_curve, se_response)``: from the curve-parameter covariance
            (``grad x = -(d f / d params) / (d f / d x)``) and from the uncertainty of the mean response
            (``s^2 * variance function / replicates``, divided by the calibration slope squared).
        """
        x = float(self.concentration(response))
        if not np.isfinite(x):
            return float("nan"), float("nan")
        slope = float(self._model.dose_derivative(np.array(x), self.values))
        gradient = -self._model.jacobian(np.array(x), self.values) / slope
        se_curve = float(np.sqrt(max(float(gradient @ self.covariance @ gradient), 0.0)))
        variance = self.residual_variance * float(
            self.weights_model.variance_factor(np.array(x), np.array(response))
        )
        se_response = float(np.sqrt(variance / replicates) / abs(slope))
        return se_curve, se_response

    def back_calculate(
        self, responses: ArrayLike, *, sample: str = "", dilution: float = 1.0
    ) -> BackCalculation:
        """Concentration of an unknown from its replicate ``responses``, times ``dilution``.

        A mean response inside the fitted asymptotes always gets a value, flagged ``below_lloq``,
        ``above_uloq``, ``beyond_standards`` or ``no_quantitation_range`` as it applies; outside them it gets
        none (``outside_asymptotes``). ``cv_over_limit`` when the replicate concentrations spread more than
        ``rules.max_cv``; ``replicate_outside_asymptotes`` when a single replicate cannot be read.
        """
        y = np.atleast_1d(np.asarray(responses, dtype=np.float64))
        if y.size == 0 or not np.all(np.isfinite(y)):
            raise ValueError(f"responses: sample {sample!r} needs finite responses")
        if not (np.isfinite(dilution) and dilution > 0):
            raise ValueError(f"dilution: sample {sample!r} needs a positive dilution factor")
        flags: list[str] = []
        mean = float(np.mean(y))
        x = float(self.concentration(mean))
        each = self.concentration(y)
        replicate = tuple(float(v) * dilution if np.isfinite(v) else None for v in each)
        if np.any(~np.isfinite(each)) and np.isfinite(x):
            flags.append("replicate_outside_asymptotes")
        readable = each[np.isfinite(each)]
        cv = float(100 * np.std(readable, ddof=1) / np.mean(readable)) if readable.size >= 2 else None
        if cv is not None and cv > self.rules.max_cv:
            flags.append("cv_over_limit")
        if not np.isfinite(x):
            flags.append("outside_asymptotes")
            return BackCalculation(
                sample,
                tuple(map(float, y)),
                dilution,
                None,
                None,
                None,
                None,
                None,
                replicate,
                cv,
                tuple(flags),
            )
        se_curve, se_response = self.concentration_se(mean, y.size)
        se = float(np.hypot(se_curve, se_response))
        positive = self.dose[(self.dose > 0) & ~self.excluded]
        if x < positive.min() or x > positive.max():
            flags.append("beyond_standards")
        if self.lloq is None or self.uloq is None:
            flags.append("no_quantitation_range")
        else:
            if x < self.lloq * (1 - 1e-12):
                flags.append("below_lloq")
            if x > self.uloq * (1 + 1e-12):
                flags.append("above_uloq")
        # Confidence interval on the log scale: concentrations are positive and their error is relative.
        spread = self.t_quantile * se / x if x > 0 else float("inf")
        ci = (
            (x * float(np.exp(-spread)) * dilution, x * float(np.exp(spread)) * dilution)
            if np.isfinite(spread)
            else None
        )
        return BackCalculation(
            sample=sample,
            responses=tuple(map(float, y)),
            dilution=float(dilution),
            concentration=x * dilution,
            se=se * dilution,
            se_curve=se_curve * dilution,
            se_response=se_response * dilution,
            ci=ci,
            replicate_concentrations=replicate,
            cv=cv,
            flags=tuple(flags),
        )

    def precision_profile(self, dose: ArrayLike, replicates: int = 1) -> FloatArray:
        """CV (%) of a concentration read back at ``dose`` from the mean of ``replicates`` readings."""
        x = np.atleast_1d(np.asarray(dose, dtype=np.float64))
        result = np.full(x.shape, np.nan)
        for i, level in enumerate(x):
            if level > 0:
                se_curve, se_response = self.concentration_se(float(self.predict(level)), replicates)
                result[i] = 100 * np.hypot(se_curve, se_response) / level
        return result

    # -- serialisation --------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain, canonical-JSON-ready description (non-finite numbers become ``None``); :meth:`from_dict`
        rebuilds the result from it."""
        payload = {
            "model": self.model,
            "parameter_names": list(self.parameter_names),
            "values": [float(v) for v in self.values],
            "parameters": self.parameters,
            "standard_errors": self.standard_errors,
            "confidence_intervals": {k: list(v) for k, v in self.confidence_intervals.items()},
            "confidence": self.confidence,
            "covariance": self.covariance.tolist(),
            "rss": float(self.rss),
            "df": int(self.df),
            "n": int(self.n),
            "residual_se": self.residual_se,
            "converged": bool(self.converged),
            "status": self.status,
            "iterations": int(self.iterations),
            "starts": int(self.starts),
            "weighting": self.weighting,
            "power_exponent": self.power_exponent,
            "rules": {
                "recovery": list(self.rules.recovery),
                "max_cv": self.rules.max_cv,
                "outlier_threshold": self.rules.outlier_threshold,
                "exclude_outliers": self.rules.exclude_outliers,
                "plateau_fraction": self.rules.plateau_fraction,
                "hook_fraction": self.rules.hook_fraction,
            },
            "flags": list(self.flags),
            "outliers": list(self.outliers),
            "studentized_residuals": list(self.studentized_residuals),
            "goodness": dict(self.goodness),
            "standards": [dict(s) for s in self.standards],
            "lloq": self.lloq,
            "uloq": self.uloq,
            "selection": dict(self.selection) if self.selection is not None else None,
            "data": {
                "dose": self.dose.tolist(),
                "response": self.response.tolist(),
                "weights": self.weights.tolist(),
                "excluded": [bool(v) for v in self.excluded],
            },
        }
        cleaned: dict[str, Any] = _clean(payload)
        return cleaned

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any]) -> CurveFit:
        """Rebuild a result from :meth:`to_dict` output."""
        data = payload["data"]
        rules = payload["rules"]
        covariance = np.array([[_nan(v) for v in row] for row in payload["covariance"]], dtype=np.float64)
        return cls(
            model=payload["model"],
            parameter_names=tuple(payload["parameter_names"]),
            values=_readonly(payload["values"]),
            covariance=_readonly(covariance.reshape(len(payload["values"]), len(payload["values"]))),
            rss=float(payload["rss"]),
            df=int(payload["df"]),
            n=int(payload["n"]),
            dose=_readonly(data["dose"]),
            response=_readonly(data["response"]),
            weights=_readonly(data["weights"]),
            weighting=payload["weighting"],
            power_exponent=payload["power_exponent"],
            excluded=np.array(data["excluded"], dtype=bool),
            converged=bool(payload["converged"]),
            status=payload["status"],
            iterations=int(payload["iterations"]),
            starts=int(payload["starts"]),
            confidence=float(payload["confidence"]),
            rules=QuantitationRules(
                recovery=(float(rules["recovery"][0]), float(rules["recovery"][1])),
                max_cv=float(rules["max_cv"]),
                outlier_threshold=float(rules["outlier_threshold"]),
                exclude_outliers=bool(rules["exclude_outliers"]),
                plateau_fraction=float(rules["plateau_fraction"]),
                hook_fraction=float(rules["hook_fraction"]),
            ),
            flags=tuple(payload["flags"]),
            outliers=tuple(int(i) for i in payload["outliers"]),
            studentized_residuals=tuple(_nan(v) for v in payload["studentized_residuals"]),
            goodness=dict(payload["goodness"]),
            standards=tuple(dict(s) for s in payload["standards"]),
            lloq=payload["lloq"],
            uloq=payload["uloq"],
            selection=payload["selection"],
        )

    # -- figure ---------------------------------------------------------------------------------------
    def plot(self, ax: Any = None) -> Any:
        """Draw the standards, the fitted curve, confidence and prediction bands and LLOQ/ULOQ.

        With ``ax`` the curve goes on that matplotlib axes; without, a new figure (Agg, no display) gets the
        curve and a residual panel. Returns the figure.
        """
        from secretome.analysis.plots import plot_curve

        return plot_curve(self, ax)


# ---------------------------------------------------------------------------------------------------------
# Diagnostics
# ---------------------------------------------------------------------------------------------------------
def lack_of_fit(
    dose: FloatArray, response: FloatArray, weights: FloatArray, rss: float, parameters: int
) -> dict[str, float] | None:
    """Lack-of-fit F-test against pure error from replicates, or ``None`` without the degrees of freedom."""
    levels = np.unique(dose)
    pure_error = 0.0
    for level in levels:
        at = dose == level
        w = weights[at]
        mean = float(np.sum(w * response[at]) / np.sum(w))
        pure_error += float(np.sum(w * (response[at] - mean) ** 2))
    df_pure = dose.size - levels.size
    df_lack = levels.size - parameters
    if df_pure <= 0 or df_lack <= 0 or pure_error <= 0:
        return None
    lack = max(rss - pure_error, 0.0)
    f_statistic = (lack / df_lack) / (pure_error / df_pure)
    return {
        "f_statistic": f_statistic,
        "df_lack_of_fit": float(df_lack),
        "df_pure_error": float(df_pure),
        "p_value": float(stats.f.sf(f_statistic, df_lack, df_pure)),
    }


def information_criteria(rss: float, n: int, parameters: int) -> tuple[float, float]:
    """``AIC = n ln(RSS/n) + 2p`` and ``BIC = n ln(RSS/n) + p ln n`` (Gaussian errors, constants dropped)."""
    with np.errstate(divide="ignore"):
        base = n * float(np.log(rss / n)) if rss > 0 else float("-inf")
    return base + 2 * parameters, base + parameters * float(np.log(n))


def compare_models(four: CurveFit, five: CurveFit, alpha: float = 0.05) -> dict[str, Any]:
    """4PL against 5PL on the same standards: extra-sum-of-squares F-test and AIC, and the choice with its
    reason. The 5PL is kept only when both prefer it (the F-test at ``alpha`` and a lower AIC)."""
    df5 = five.df
    extra = max(four.rss - five.rss, 0.0)
    f_statistic = extra / (five.rss / df5) if df5 > 0 and five.rss > 0 else float("nan")
    p_value = float(stats.f.sf(f_statistic, 1, df5)) if np.isfinite(f_statistic) else float("nan")
    aic4, aic5 = four.goodness["aic"], five.goodness["aic"]
    better_f = bool(np.isfinite(p_value) and p_value < alpha)
    better_aic = bool(aic5 < aic4)
    chosen = "5pl" if better_f and better_aic else "4pl"
    reason = (
        f"{chosen.upper()} chosen: extra-sum-of-squares F = {f_statistic:.4g} (p = {p_value:.4g}, "
        f"{'significant' if better_f else 'not significant'} at {alpha}); AIC 4PL {aic4:.4g} vs 5PL {aic5:.4g}"
        f"{'' if chosen == '5pl' else '; the 5PL is kept only when both prefer it'}"
    )
    return {
        "chosen": chosen,
        "f_statistic": f_statistic,
        "p_value": p_value,
        "aic_4pl": aic4,
        "aic_5pl": aic5,
        "rss_4pl": four.rss,
        "rss_5pl": five.rss,
        "reason": reason,
    }


def _level_means(dose: FloatArray, response: FloatArray) -> tuple[FloatArray, FloatArray, NDArray[np.int_]]:
    levels = np.unique(dose)
    means = np.array([np.mean(response[dose == level]) for level in levels])
    counts = np.array([np.count_nonzero(dose == level) for level in levels])
    return levels, means, counts


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
    rules : QuantitationRules, optional
        Quantitation limits, outlier and flag rules.
    """

    def __init__(
        self,
        model: str = "4pl",
        weighting: str = "none",
        *,
        confidence: float = 0.95,
        rules: QuantitationRules | None = None,
    ) -> None:
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
        self.rules = rules or QuantitationRules()

    def fit(self, dose: ArrayLike, response: ArrayLike, weights: ArrayLike | None = None) -> CurveFit:
        """Fit the curve to the standards ``(dose, response)``; ``weights`` only with ``weighting="user"``.

        Raises
        ------
        ValueError
            Naming ``dose``/``response``/``weights`` for unusable data: shapes differ, non-finite values,
            negative doses, constant responses, fewer distinct doses than parameters.
        """
        x, y = self._validate(dose, response)
        if weights is not None and self.weighting != "user":
            raise ValueError("weights: given, but the weighting is not 'user'")
        w = make_weights(self.weighting, x, y, weights)
        if self.model == "auto":
            four = self._fit_model(FOUR_PL, x, y, w)
            five = self._fit_model(FIVE_PL, x, y, w)
            selection = compare_models(four, five)
            chosen = five if selection["chosen"] == "5pl" else four
            return replace(chosen, selection=selection)
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

    @staticmethod
    def _check_points(model: Model, x: FloatArray) -> None:
        if model.name == "log-linear" and np.any(x <= 0):
            raise ValueError("dose: the log-linear model needs positive doses (no blanks)")
        if model.logistic and np.count_nonzero(x > 0) == 0:
            raise ValueError("dose: a logistic curve needs positive doses, not only blanks")
        distinct = np.unique(x).size
        if distinct < model.size:
            raise ValueError(
                f"dose: {distinct} distinct doses cannot determine the {model.size} parameters of the {model.name}"
            )

    def _fit_model(self, model: Model, x: FloatArray, y: FloatArray, w: Weights) -> CurveFit:
        self._check_points(model, x)
        params, solution, starts = _solve_curve(model, x, y, w.values)
        first = self._result(model, x, y, w, params, solution, starts, np.zeros(x.size, dtype=bool))
        if not (self.rules.exclude_outliers and first.outliers):
            return first
        excluded = np.zeros(x.size, dtype=bool)
        excluded[list(first.outliers)] = True
        keep = ~excluded
        self._check_points(model, x[keep])
        params, solution, starts = _solve_curve(model, x[keep], y[keep], w.values[keep])
        refit = self._result(model, x, y, w, params, solution, starts, excluded)
        # The excluded points stay reported as outliers of the first fit.
        return replace(
            refit, outliers=first.outliers, flags=tuple(dict.fromkeys((*refit.flags, "outliers_excluded")))
        )

    def _result(
        self,
        model: Model,
        x: FloatArray,
        y: FloatArray,
        w: Weights,
        params: FloatArray,
        solution: lm.Solution,
        starts: int,
        excluded: NDArray[np.bool_],
    ) -> CurveFit:
        used = ~excluded
        sqrt_w = np.sqrt(w.values)
        weighted_residual = (y - model.predict(x, params)) * sqrt_w
        rss = float(np.sum(weighted_residual[used] ** 2))
        n = int(np.count_nonzero(used))
        df = n - model.size
        jac = model.jacobian(x, params) * sqrt_w[:, None]
        covariance = lm.parameter_covariance(jac[used], rss, df)
        status = int(solution.status[0])
        flags: list[str] = []
        if status != lm.CONVERGED:
            flags.append("not_converged")
        studentized, outliers = self._studentized(jac, weighted_residual, used, rss, df)
        flags.extend(["outliers"] if outliers else [])
        flags.extend(self._shape_flags(model, x[used], y[used], params, rss, df))
        flags.extend(self._bound_flags(model, x[used], params))
        aic, bic = information_criteria(rss, n, model.size)
        mean = float(np.sum(w.values[used] * y[used]) / np.sum(w.values[used]))
        total = float(np.sum(w.values[used] * (y[used] - mean) ** 2))
        goodness = {
            "r_squared": 1 - rss / total if total > 0 else float("nan"),
            "aic": aic,
            "bic": bic,
            "lack_of_fit": lack_of_fit(x[used], y[used], w.values[used], rss, model.size),
        }
        fit = CurveFit(
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
            excluded=excluded.copy(),
            converged=status == lm.CONVERGED,
            status=lm.STATUS_TEXT[status],
            iterations=int(solution.iterations[0]),
            starts=starts,
            confidence=self.confidence,
            rules=self.rules,
            flags=tuple(flags),
            outliers=outliers,
            studentized_residuals=tuple(float(v) for v in studentized),
            goodness=goodness,
        )
        standards, lloq, uloq = self._quantitation(fit)
        extra = () if lloq is not None else ("no_quantitation_range",)
        return replace(fit, standards=standards, lloq=lloq, uloq=uloq, flags=(*fit.flags, *extra))

    def _studentized(
        self, jac: FloatArray, weighted_residual: FloatArray, used: NDArray[np.bool_], rss: float, df: int
    ) -> tuple[FloatArray, tuple[int, ...]]:
        """Internally studentized residuals ``e_i / (s sqrt(1 - h_ii))`` (``nan`` for excluded points and when
        the leverage is 1) and the indices beyond the threshold."""
        result = np.full(weighted_residual.size, np.nan)
        if df <= 0 or rss <= 0:
            return result, ()
        j = jac[used]
        leverage = np.einsum("ni,ij,nj->n", j, np.linalg.pinv(j.T @ j), j)
        s = np.sqrt(rss / df)
        with np.errstate(divide="ignore", invalid="ignore"):
            result[used] = weighted_residual[used] / (s * np.sqrt(np.clip(1 - leverage, 0, None)))
        result[~np.isfinite(result)] = np.nan
        outliers = tuple(
            int(i) for i in np.flatnonzero(np.abs(np.nan_to_num(result)) > self.rules.outlier_threshold)
        )
        return result, outliers

    def _shape_flags(
        self, model: Model, x: FloatArray, y: FloatArray, params: FloatArray, rss: float, df: int
    ) -> list[str]:
        flags: list[str] = []
        levels, means, counts = _level_means(x, y)
        if levels.size <= model.size:
            flags.append("too_few_points")
        if not model.logistic:
            return flags
        # Hook effect: at the high-dose end the level means fall back from the extreme the curve climbs to.
        increasing = float(model.predict(levels[-1], params)) >= float(model.predict(levels[0], params))
        signed = means if increasing else -means
        peak = int(np.argmax(signed))
        spread = float(np.ptp(means))
        # Noise of a level mean from the replicates (pure error), not from the misfit a hook itself causes.
        pure = sum(float(np.sum((y[x == lv] - m) ** 2)) for lv, m in zip(levels, means, strict=True))
        pure_df = int(x.size - levels.size)
        sd = np.sqrt(pure / pure_df) if pure_df > 0 else (np.sqrt(rss / df) if df > 0 else 0.0)
        se_level = sd / np.sqrt(counts[-1])
        if peak < levels.size - 1 and signed[peak] - signed[-1] > max(
            self.rules.hook_fraction * spread, 3 * se_level
        ):
            flags.append("hook_effect")
        # Plateaus: how far along the transition the lowest and highest standards are.
        from secretome.analysis.logistic import five_pl

        asymmetry = params[4] if model.size == 5 else 1.0
        positive = levels[levels > 0]
        progress = five_pl(np.array([positive[0], positive[-1]]), 0.0, 1.0, params[2], params[3], asymmetry)
        zero_end, infinite_end = (0.0, 1.0) if params[3] > 0 else (1.0, 0.0)
        blanks = bool(levels[0] == 0)
        if not blanks and abs(progress[0] - zero_end) > self.rules.plateau_fraction:
            flags.append("low_dose_plateau_not_reached")
        if abs(progress[1] - infinite_end) > self.rules.plateau_fraction:
            flags.append("high_dose_plateau_not_reached")
        return flags

    @staticmethod
    def _bound_flags(model: Model, x: FloatArray, params: FloatArray) -> list[str]:
        if not model.logistic:
            return []
        positive = x[x > 0]
        lower, upper = model.internal_bounds(
            np.log(positive.min()), np.log(positive.max()), np.sign(np.asarray(params[3]))
        )
        theta = model.to_internal(params)
        at = np.isclose(theta, lower, rtol=0, atol=1e-7) | np.isclose(theta, upper, rtol=0, atol=1e-7)
        return [f"{model.parameter_names[i]}_at_bound" for i in np.flatnonzero(at)]

    def _quantitation(self, fit: CurveFit) -> tuple[tuple[dict[str, Any], ...], float | None, float | None]:
        """Back-calculate every standard level; LLOQ and ULOQ are the ends of the longest run of consecutive
        levels whose recovery lies in ``rules.recovery`` and whose precision-profile CV is within
        ``rules.max_cv``."""
        used = ~fit.excluded
        levels, means, counts = _level_means(fit.dose[used], fit.response[used])
        rows: list[dict[str, Any]] = []
        passing: list[bool] = []
        low, high = fit.rules.recovery
        for level, mean, count in zip(levels, means, counts, strict=True):
            if level <= 0:
                continue
            found = float(fit.concentration(mean))
            recovery = float(100 * found / level) if np.isfinite(found) else float("nan")
            if np.isfinite(found):
                se_curve, se_response = fit.concentration_se(float(mean), int(count))
                cv = 100 * float(np.hypot(se_curve, se_response)) / found
            else:
                cv = float("nan")
            ok = bool(
                np.isfinite(recovery)
                and low <= recovery <= high
                and np.isfinite(cv)
                and cv <= fit.rules.max_cv
            )
            passing.append(ok)
            rows.append(
                {
                    "dose": float(level),
                    "replicates": int(count),
                    "mean_response": float(mean),
                    "back_calculated": found,
                    "recovery": recovery,
                    "cv": cv,
                    "within_limits": ok,
                }
            )
        best: tuple[int, int] | None = None
        start = None
        for i, ok in enumerate([*passing, False]):
            if ok and start is None:
                start = i
            if not ok and start is not None:
                if best is None or i - start > best[1] - best[0]:
                    best = (start, i)
                start = None
        if best is None:
            return tuple(rows), None, None
        return tuple(rows), rows[best[0]]["dose"], rows[best[1] - 1]["dose"]


def fit_curve(
    dose: ArrayLike,
    response: ArrayLike,
    model: str = "4pl",
    weighting: str = "none",
    weights: ArrayLike | None = None,
) -> CurveFit:
    """Shorthand for ``CurveFitter(model, weighting).fit(dose, response, weights)``."""
    return CurveFitter(model, weighting).fit(dose, response, weights)


__all__: Sequence[str] = [
    "MODEL_CHOICES",
    "BackCalculation",
    "CurveFit",
    "CurveFitter",
    "QuantitationRules",
    "compare_models",
    "fit_curve",
    "information_criteria",
    "lack_of_fit",
]
