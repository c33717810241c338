"""Many standard curves at once: :func:`fit_curves`, a vectorised Levenberg-Marquardt over (curves, points).

Every curve gets data-driven starting values (Hill slope and inflection from a logit regression, asymptotes
by linear least squares), computed for all curves together; the solver is the same batched Levenberg-
Marquardt the single-curve fitter uses (:mod:`secretome.analysis.lm`), in the same parameters and bounds. A
curve whose first run fails to converge is retried from the single-curve multi-start grid, so the batch
reaches the same optimum as :class:`~secretome.analysis.CurveFitter` (tested) at a fraction of the cost.

Missing wells are ``nan`` in ``dose`` or ``response`` and simply drop out of that curve.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from secretome.analysis import lm
from secretome.analysis.doseresponse import CurveFitter
from secretome.analysis.logistic import FloatArray
from secretome.analysis.models import FIVE_PL, FOUR_PL, Model
from secretome.analysis.weighting import Weights

BoolArray = NDArray[np.bool_]


@dataclass(frozen=True, eq=False)
class BatchFit:
    """Per-curve results of :func:`fit_curves`; every array has one entry (row) per curve.

    ``parameters`` maps ``bottom, top, inflection, hill, asymmetry`` to arrays (``asymmetry`` is 1 for the
    4PL); ``standard_errors`` likewise, from ``s^2 (J^T W J)^-1``. Curves that could not be fitted (too few
    wells) have ``nan`` parameters and ``converged`` False.
    """

    model: str
    values: FloatArray
    covariance: FloatArray
    rss: FloatArray
    df: NDArray[np.int_]
    n: NDArray[np.int_]
    converged: BoolArray
    iterations: NDArray[np.int_]

    @property
    def parameters(self) -> dict[str, FloatArray]:
        """Estimates by name, one entry per curve."""
        names = FIVE_PL.parameter_names if self.model == "5pl" else FOUR_PL.parameter_names
        result = {name: self.values[:, i] for i, name in enumerate(names)}
        result.setdefault("asymmetry", np.ones(self.values.shape[0]))
        return result

    @property
    def standard_errors(self) -> dict[str, FloatArray]:
        """Asymptotic standard errors by name, one entry per curve."""
        names = FIVE_PL.parameter_names if self.model == "5pl" else FOUR_PL.parameter_names
        se = np.sqrt(np.clip(np.einsum("cii->ci", self.covariance), 0, None))
        return {name: se[:, i] for i, name in enumerate(names)}

    @property
    def ec50(self) -> FloatArray:
        """Dose at the half-way response, per curve."""
        return np.asarray((FIVE_PL if self.model == "5pl" else FOUR_PL).ec50(self.values), dtype=np.float64)

    @property
    def residual_se(self) -> FloatArray:
        """Residual standard error per curve."""
        with np.errstate(divide="ignore", invalid="ignore"):
            result: FloatArray = np.sqrt(np.where(self.df > 0, self.rss / self.df, np.nan))
        return result

    def __len__(self) -> int:
        return int(self.values.shape[0])


def starting_values(model: Model, dose: FloatArray, response: FloatArray, weights: FloatArray) -> FloatArray:
    """Data-driven natural-parameter starts for every curve, shape ``(curves, P)``; ``weights`` is 0 for a
    missing well."""
    used = weights > 0
    positive = used & (dose > 0)
    big = np.finfo(np.float64).max
    low = np.min(np.where(used, response, big), axis=1)
    high = np.max(np.where(used, response, -big), axis=1)
    pad = 0.05 * np.maximum(high - low, 1e-12)
    bottom, top = low - pad, high + pad
    fraction = np.clip((response - bottom[:, None]) / (top - bottom)[:, None], 0.02, 0.98)
    logit = np.log(fraction / (1 - fraction))
    # ln 1 = 0 exactly, so the wells that are not positive doses drop out of the sums without a mask.
    log_dose = np.log(np.where(positive, dose, 1.0))
    count = np.maximum(positive.sum(axis=1), 1)
    mean_x = np.sum(log_dose, axis=1) / count
    mean_l = np.sum(np.where(positive, logit, 0), axis=1) / count
    dx = np.where(positive, log_dose - mean_x[:, None], 0)
    dl = np.where(positive, logit - mean_l[:, None], 0)
    sxx = np.sum(dx * dx, axis=1)
    slope = np.where(sxx > 0, np.sum(dx * dl, axis=1) / np.where(sxx > 0, sxx, 1), 1.0)
    slope = np.where(np.abs(slope) < 0.3, np.where(slope >= 0, 0.3, -0.3), np.clip(slope, -20, 20))
    x_min = np.min(np.where(positive, log_dose, np.inf), axis=1)
    x_max = np.max(np.where(positive, log_dose, -np.inf), axis=1)
    log_c = np.clip(mean_x - mean_l / slope, x_min - 1, x_max + 1)
    # The unit logistic of that slope and inflection at every well, as five_pl computes it (ln of the
    # inflection taken back from exp, so the same rounding), from the ln(dose) already at hand; a blank sits
    # on the dose-0 asymptote (u clipped at +-700).
    u = slope[:, None] * (np.log(np.exp(log_c))[:, None] - log_dose)
    np.clip(u, -700.0, 700.0, out=u)
    blank = used & (dose == 0)
    if blank.any():
        u = np.where(blank, np.copysign(700.0, slope)[:, None], u)
    shape = 1.0 / (1.0 + np.exp(u))
    # Best asymptotes for that shape: weighted linear least squares, solved in closed form per curve.
    root = np.sqrt(weights)
    a, b = (1 - shape) * root, shape * root
    target = response * root
    saa, sab, sbb = np.sum(a * a, 1), np.sum(a * b, 1), np.sum(b * b, 1)
    say, sby = np.sum(a * target, 1), np.sum(b * target, 1)
    det = saa * sbb - sab**2
    ok = np.abs(det) > 1e-12 * np.maximum(saa * sbb, 1e-300)
    safe = np.where(ok, det, 1.0)
    bottom = np.where(ok, (sbb * say - sab * sby) / safe, np.where(slope > 0, bottom, top))
    top_fit = np.where(ok, (saa * sby - sab * say) / safe, np.where(slope > 0, top, low - pad))
    columns = [bottom, top_fit, np.exp(log_c), slope]
    if model.size == 5:
        columns.append(np.ones_like(slope))
    return np.column_stack(columns)


@dataclass(frozen=True)
class _BatchProblem:
    model: Model
    dose: FloatArray
    response: FloatArray
    sqrt_weights: FloatArray

    def residuals(self, theta: FloatArray, rows: lm.IntArray) -> FloatArray:
        params = self.model.from_internal(theta)
        result: FloatArray = (
            self.model.predict(self.dose[rows], params) - self.response[rows]
        ) * self.sqrt_weights[rows]
        return result

    def jacobian(self, theta: FloatArray, rows: lm.IntArray) -> FloatArray:
        """Parameter-major Jacobian ``(P, rows, N)`` in the internal parameters."""
        return self.both(theta, rows)[1]

    def both(self, theta: FloatArray, rows: lm.IntArray) -> tuple[FloatArray, FloatArray]:
        """Residuals and Jacobian in the internal parameters from one pass over the logistic core.

        The same formulas as :func:`~secretome.analysis.logistic.five_pl_jacobian`, written out for speed:
        ``ln x`` is computed once per batch, and a blank's ``ln x`` is a large negative number so that the
        clipped ``u`` puts it on its asymptote with zero shape derivatives.
        """
        log_dose, response, sqrt_w = self._rows(rows)
        bottom, top, log_c, hill = theta[:, 0:1], theta[:, 1:2], theta[:, 2:3], theta[:, 3:4]
        log_ratio = log_c - log_dose
        u = hill * log_ratio
        np.clip(u, -700.0, 700.0, out=u)
        # In-place arithmetic below saves temporaries; the operations and their order are unchanged.
        e = np.exp(u, out=u)
        complement = np.add(1.0, e)
        np.divide(1.0, complement, out=complement)
        sigma = e * complement
        span = top - bottom
        # Parameter-major Jacobian (P, rows, N), as the solver keeps it.
        jac = np.empty((self.model.size, *log_dose.shape))
        if self.model.size == 5:
            g = np.exp(theta[:, 4:5])
            s = np.log1p(e)
            w = np.exp(-g * s)
            dw_du = -g * w * sigma
            np.multiply(1.0 - w, sqrt_w, out=jac[0])
            np.multiply(-span * g * w * s, sqrt_w, out=jac[4])
        else:
            w = complement
            dw_du = np.negative(w)
            dw_du *= sigma
            np.multiply(sigma, sqrt_w, out=jac[0])
        np.multiply(w, sqrt_w, out=jac[1])
        shape = np.multiply(span, dw_du, out=dw_du)
        shape *= sqrt_w
        np.multiply(shape, hill, out=jac[2])
        np.multiply(shape, log_ratio, out=jac[3])
        residual: FloatArray = span * w
        residual += bottom
        residual -= response
        residual *= sqrt_w
        return residual, jac

    def _rows(self, rows: lm.IntArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """``ln x``, responses and square-root weights of ``rows``.

        The solver passes the same index array until a row stops, so the last selection is kept and reused
        rather than gathered again on every iteration.
        """
        cached: tuple[lm.IntArray, FloatArray, FloatArray, FloatArray] | None = self.__dict__.get("_selected")
        if cached is not None and cached[0] is rows:
            return cached[1], cached[2], cached[3]
        if rows.size == self.response.shape[0] and np.array_equal(rows, np.arange(rows.size)):
            selection = (self.log_dose, self.response, self.sqrt_weights)
        else:
            selection = (self.log_dose[rows], self.response[rows], self.sqrt_weights[rows])
        object.__setattr__(self, "_selected", (rows, *selection))
        return selection

    @property
    def log_dose(self) -> FloatArray:
        """``ln x`` with blanks at -1e6 (cached)."""
        cached: FloatArray | None = self.__dict__.get("_log_dose")
        if cached is None:
            with np.errstate(divide="ignore"):
                cached = np.where(self.dose > 0, np.log(np.where(self.dose > 0, self.dose, 1.0)), -1e6)
            object.__setattr__(self, "_log_dose", cached)
        return cached


def _information(problem: _BatchProblem, spec: Model, params: FloatArray) -> FloatArray:
    """``J^T W J`` per curve in the natural parameters, shape ``(curves, P, P)``.

    The weighted Jacobian comes parameter-major from the solver's own formulas (internal parameters, then
    ``d/d inflection = d/d ln(inflection) / inflection``, likewise the asymmetry), and each entry of the
    symmetric matrix is one product over contiguous rows: three times faster than the row-major Jacobian of
    :meth:`Model.jacobian` with a batched matrix product, the same values to rounding.
    """
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        _residual, jac = problem.both(spec.to_internal(params), np.arange(params.shape[0]))
        jac[2] /= params[:, 2:3]
        if spec.size == 5:
            jac[4] /= params[:, 4:5]
    information = np.empty((params.shape[0], spec.size, spec.size))
    for i in range(spec.size):
        for k in range(i, spec.size):
            information[:, i, k] = information[:, k, i] = np.einsum("cn,cn->c", jac[i], jac[k])
    return information


def fit_curves(
    dose: ArrayLike,
    response: ArrayLike,
    model: str = "4pl",
    weights: ArrayLike | None = None,
    *,
    max_iterations: int = 200,
    retry: bool = True,
    ftol: float = 1e-10,
    xtol: float = 1e-10,
) -> BatchFit:
    """Fit many logistic curves at once.

    Parameters
    ----------
    dose : array_like
        Shape ``(curves, points)``, or ``(points,)`` when every curve has the same doses; ``nan`` for a
        missing well.
    response : array_like
        Shape ``(curves, points)``; ``nan`` for a missing well.
    model : str
        ``4pl`` or ``5pl``.
    weights : array_like, optional
        Per-well weights (shape of ``response``), positive; default 1.
    max_iterations : int
        Iteration limit of the first run.
    retry : bool
        Refit the curves that did not converge from the single-curve multi-start grid.
    ftol, xtol : float
        Convergence tolerances of the solver (see :func:`secretome.analysis.lm.levenberg_marquardt`).

    Returns
    -------
    BatchFit
        Per-curve parameters, standard errors, ``ec50``, ``rss`` and ``converged``.
    """
    kind = model.lower()
    if kind not in ("4pl", "5pl"):
        raise ValueError(f"model: fit_curves fits '4pl' or '5pl', not {model!r}")
    spec = FIVE_PL if kind == "5pl" else FOUR_PL
    y = np.array(response, dtype=np.float64, copy=True)
    if y.ndim != 2:
        raise ValueError("response: expected shape (curves, points)")
    x = np.array(np.broadcast_to(np.asarray(dose, dtype=np.float64), y.shape), copy=True)
    w = (
        np.ones_like(y)
        if weights is None
        else np.array(np.broadcast_to(np.asarray(weights, dtype=np.float64), y.shape), copy=True)
    )
    if np.any(x[np.isfinite(x)] < 0):
        raise ValueError("dose: negative dose")
    if np.any(w[np.isfinite(w)] < 0):
        raise ValueError("weights: negative weight")
    used = np.isfinite(x) & np.isfinite(y) & np.isfinite(w) & (w > 0)
    w = np.where(used, w, 0.0)
    x = np.where(used, x, 1.0)
    y = np.where(used, y, 0.0)
    curves = y.shape[0]
    n = used.sum(axis=1)
    positive = used & (x > 0)
    ordered = np.sort(np.where(used, x, np.inf), axis=1)
    with np.errstate(invalid="ignore"):
        steps = np.isfinite(ordered[:, 1:]) & (np.diff(ordered, axis=1) > 0)
    distinct = np.isfinite(ordered[:, 0]).astype(int) + steps.sum(axis=1)
    big = np.finfo(np.float64).max
    spread = np.max(np.where(used, y, -big), axis=1) - np.min(np.where(used, y, big), axis=1)
    fittable = (distinct >= spec.size) & (positive.sum(axis=1) > 0) & (spread > 0)

    values = np.full((curves, spec.size), np.nan)
    covariance = np.full((curves, spec.size, spec.size), np.nan)
    rss = np.full(curves, np.nan)
    converged = np.zeros(curves, dtype=bool)
    iterations = np.zeros(curves, dtype=int)
    rows = np.flatnonzero(fittable)
    if rows.size:
        problem = _BatchProblem(spec, x[rows], y[rows], np.sqrt(w[rows]))
        starts = starting_values(spec, x[rows], y[rows], w[rows])
        log_min = np.min(
            np.where(positive[rows], np.log(np.where(positive[rows], x[rows], 1.0)), np.inf), axis=1
        )
        log_max = np.max(
            np.where(positive[rows], np.log(np.where(positive[rows], x[rows], 1.0)), -np.inf), axis=1
        )
        lower, upper = spec.internal_bounds(log_min, log_max, np.sign(starts[:, 3]))
        theta0 = np.clip(spec.to_internal(starts), lower, upper)
        solution = lm.levenberg_marquardt(
            problem.residuals,
            problem.jacobian,
            theta0,
            lower,
            upper,
            max_iterations=max_iterations,
            ftol=ftol,
            xtol=xtol,
            combined=problem.both,
            either_criterion=True,
            param_major_jacobian=True,
        )
        params = spec.from_internal(solution.theta)
        cost = solution.cost
        ok = solution.converged.copy()
        iterations[rows] = solution.iterations
        if retry and not np.all(ok):
            fitter = CurveFitter(kind)
            for k in np.flatnonzero(~ok):
                row = rows[k]
                keep = used[row]
                try:
                    single = fitter._fit_model(
                        spec, x[row, keep], y[row, keep], Weights("user", w[row, keep])
                    )
                except ValueError:
                    continue
                if single.rss <= cost[k] or not ok[k]:
                    params[k] = single.values
                    cost[k] = single.rss
                    ok[k] = single.converged
                    iterations[row] += single.iterations
        if kind == "4pl":
            swap = params[:, 0] > params[:, 1]
            params[swap] = params[swap][:, [1, 0, 2, 3]] * np.array([1, 1, 1, -1])
        values[rows] = params
        rss[rows] = cost
        converged[rows] = ok & np.isfinite(cost)
        information = _information(problem, spec, params)
        df_rows = n[rows] - spec.size
        with np.errstate(divide="ignore", invalid="ignore"):
            variance = np.where(df_rows > 0, cost / np.where(df_rows > 0, df_rows, 1), np.nan)
        try:
            inverse = np.linalg.inv(information)
        except np.linalg.LinAlgError:
            inverse = np.linalg.pinv(information)
        covariance[rows] = variance[:, None, None] * inverse
    return BatchFit(
        model=kind,
        values=values,
        covariance=covariance,
        rss=rss,
        df=n - spec.size,
        n=n,
        converged=converged,
        iterations=iterations,
    )
