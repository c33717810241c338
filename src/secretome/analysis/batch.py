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
    low = np.min(response, axis=1, where=used, initial=big)
    high = np.max(response, axis=1, where=used, initial=-big)
    pad = 0.05 * np.maximum(high - low, 1e-12)
    bottom, top = low - pad, high + pad
    fraction = response - bottom[:, None]
    fraction /= (top - bottom)[:, None]
    np.clip(fraction, 0.02, 0.98, out=fraction)
    logit = np.subtract(1.0, fraction)
    np.divide(fraction, logit, out=logit)
    np.log(logit, out=logit)
    # Sums over the positive doses are products with the 0/1 mask (one pass each, no masked copies); ln 1 = 0
    # exactly, so the wells that are not positive doses drop out of the ln(dose) sums without a mask.
    mask = positive.astype(np.float64)
    log_dose = np.log(np.where(positive, dose, 1.0))
    count = np.maximum(positive.sum(axis=1), 1)
    mean_x = np.sum(log_dose, axis=1) / count
    mean_l = np.einsum("cn,cn->c", mask, logit) / count
    dx = log_dose - mean_x[:, None]
    dx *= mask
    logit -= mean_l[:, None]
    sxx = np.einsum("cn,cn->c", dx, dx)
    slope = np.where(sxx > 0, np.einsum("cn,cn->c", dx, logit) / np.where(sxx > 0, sxx, 1), 1.0)
    slope = np.where(np.abs(slope) < 0.3, np.where(slope >= 0, 0.3, -0.3), np.clip(slope, -20, 20))
    x_min = np.min(log_dose, axis=1, where=positive, initial=np.inf)
    x_max = np.max(log_dose, axis=1, where=positive, initial=-np.inf)
    log_c = np.clip(mean_x - mean_l / slope, x_min - 1, x_max + 1)
    # The unit logistic of that slope and inflection at every well, as five_pl computes it (ln of the
    # inflection taken back from exp, so the same rounding), from the ln(dose) already at hand; a blank sits
    # on the dose-0 asymptote (u clipped at +-700).
    u = np.log(np.exp(log_c))[:, None] - log_dose
    u *= slope[:, None]
    np.clip(u, -700.0, 700.0, out=u)
    blank = used & (dose == 0)
    if blank.any():
        u = np.where(blank, np.copysign(700.0, slope)[:, None], u)
    shape = np.exp(u, out=u)
    shape += 1.0
    np.divide(1.0, shape, out=shape)
    # Best asymptotes for that shape: weighted linear least squares, solved in closed form per curve.
    root = np.sqrt(weights)
    b = shape * root
    a = root - b
    target = response * root
    saa, sab, sbb = (np.einsum("cn,cn->c", a, a), np.einsum("cn,cn->c", a, b), np.einsum("cn,cn->c", b, b))
    say, sby = np.einsum("cn,cn->c", a, target), np.einsum("cn,cn->c", b, target)
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
    """Residuals and Jacobian of many curves; ``log_dose`` is ``ln x`` with blanks at -1e6 and
    ``unit_weights`` says every weight is 1 or 0 (a missing well)."""

    model: Model
    log_dose: FloatArray
    response: FloatArray
    sqrt_weights: FloatArray
    unit_weights: bool = False

    def residuals(self, theta: FloatArray, rows: lm.IntArray) -> FloatArray:
        return self.both(theta, rows)[0]

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
        span = top - bottom
        # Parameter-major Jacobian (P, rows, N), as the solver keeps it.
        jac = np.empty((self.model.size, *log_dose.shape))
        if self.model.size == 4 and self.unit_weights:
            # Weights of 1 and 0 (missing wells): the 0/1 mask is the numerator of w = 1 / (1 + e^u), so
            # w, sigma = e w and sigma w come out masked without a pass of their own (m^2 = m); only the
            # residual needs the mask once more. Bit for bit the values of the general path below.
            w = np.add(1.0, e, out=jac[1])
            np.divide(sqrt_w, w, out=w)
            sigma = np.multiply(e, w, out=jac[0])
            shape = np.multiply(sigma, w, out=e)
            shape *= -span
            np.multiply(shape, hill, out=jac[2])
            np.multiply(shape, log_ratio, out=jac[3])
            residual: FloatArray = span * w
            residual += bottom
            residual -= response
            residual *= sqrt_w
            return residual, jac
        complement = np.add(1.0, e)
        np.divide(1.0, complement, out=complement)
        sigma = e * complement
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
        residual = span * w
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


def _information(problem: _BatchProblem, spec: Model, params: FloatArray, rows: lm.IntArray) -> FloatArray:
    """``J^T W J`` in the internal parameters for ``rows`` of the problem at natural ``params``, shape
    ``(rows, P, P)`` (for curves refitted outside the batched solver)."""
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        _residual, jac = problem.both(spec.to_internal(params), rows)
    information = np.empty((rows.size, spec.size, spec.size))
    for i in range(spec.size):
        for k in range(i, spec.size):
            information[:, i, k] = information[:, k, i] = np.einsum("cn,cn->c", jac[i], jac[k])
    return information


def _inverse(information: FloatArray) -> FloatArray:
    """Inverse of every symmetric positive-definite ``(P, P)`` matrix of a batch ``(rows, P, P)``.

    Cholesky, inverse of the factor and ``L^-T L^-1`` written out over the rows axis as contiguous vectors
    (LAPACK's per-matrix overhead dominates 4x4 systems); rows whose pivots are not positive go through
    :func:`numpy.linalg.inv` (its pseudo-inverse when singular).
    """
    size = information.shape[1]
    entry = np.ascontiguousarray(information.transpose(1, 2, 0))
    factor: dict[tuple[int, int], FloatArray] = {}
    good = np.ones(information.shape[0], dtype=bool)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        for i in range(size):
            for k in range(i + 1):
                value = entry[i, k].copy()
                for m in range(k):
                    value -= factor[i, m] * factor[k, m]
                if i == k:
                    good &= value > 0
                    factor[i, i] = np.sqrt(np.where(value > 0, value, 1.0))
                else:
                    factor[i, k] = value / factor[k, k]
        # Inverse of the lower factor, column by column, then A^-1 = L^-T L^-1.
        lower: dict[tuple[int, int], FloatArray] = {}
        for k in range(size):
            lower[k, k] = 1.0 / factor[k, k]
            for i in range(k + 1, size):
                value = factor[i, k] * lower[k, k]
                for m in range(k + 1, i):
                    value = value + factor[i, m] * lower[m, k]
                lower[i, k] = -value / factor[i, i]
        inverse = np.empty_like(information)
        for i in range(size):
            for k in range(i, size):
                value = lower[k, i] * lower[k, k]
                for m in range(k + 1, size):
                    value = value + lower[m, i] * lower[m, k]
                inverse[:, i, k] = inverse[:, k, i] = value
    bad = ~good | ~np.all(np.isfinite(inverse), axis=(1, 2))
    if np.any(bad):
        try:
            inverse[bad] = np.linalg.inv(information[bad])
        except np.linalg.LinAlgError:
            inverse[bad] = np.linalg.pinv(information[bad])
    return inverse


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
    y = np.asarray(response, dtype=np.float64)
    if y.ndim != 2:
        raise ValueError("response: expected shape (curves, points)")
    x = np.broadcast_to(np.asarray(dose, dtype=np.float64), y.shape)
    # nan compares False, so these see the finite entries only.
    if np.any(x < 0):
        raise ValueError("dose: negative dose")
    used = np.isfinite(x) & np.isfinite(y)
    if weights is None:
        w = used.astype(np.float64)
    else:
        w = np.broadcast_to(np.asarray(weights, dtype=np.float64), y.shape)
        if np.any(w < 0):
            raise ValueError("weights: negative weight")
        used &= np.isfinite(w) & (w > 0)
        w = np.where(used, w, 0.0)
    if not used.all():
        x = np.where(used, x, 1.0)
        y = np.where(used, y, 0.0)
    curves = y.shape[0]
    n = used.sum(axis=1)
    positive = used & (x > 0)
    ordered = np.sort(np.where(used, x, np.inf), axis=1)
    with np.errstate(invalid="ignore"):
        steps = np.isfinite(ordered[:, 1:]) & (np.diff(ordered, axis=1) > 0)
    distinct = np.isfinite(ordered[:, 0]).astype(int) + steps.sum(axis=1)
    spread = np.max(y, axis=1, where=used, initial=-np.inf) - np.min(y, axis=1, where=used, initial=np.inf)
    fittable = (distinct >= spec.size) & (positive.any(axis=1)) & (spread > 0)

    values = np.full((curves, spec.size), np.nan)
    covariance = np.full((curves, spec.size, spec.size), np.nan)
    rss = np.full(curves, np.nan)
    converged = np.zeros(curves, dtype=bool)
    iterations = np.zeros(curves, dtype=int)
    rows = np.flatnonzero(fittable)
    if rows.size:
        if rows.size < curves:
            x, y, w, positive, used = x[rows], y[rows], w[rows], positive[rows], used[rows]
        # ln x once for the starting values, the bounds and the solver (0 where not a positive dose).
        log_dose = np.log(np.where(positive, x, 1.0))
        log_min = np.min(log_dose, axis=1, where=positive, initial=np.inf)
        log_max = np.max(log_dose, axis=1, where=positive, initial=-np.inf)
        blank = used & ~positive
        solver_log_dose = np.where(blank, -1e6, log_dose) if blank.any() else log_dose
        unit = weights is None or bool(np.all((w == 1.0) | (w == 0.0)))
        problem = _BatchProblem(spec, solver_log_dose, y, w if unit else np.sqrt(w), unit)
        starts = starting_values(spec, x, y, w)
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
            information=True,
        )
        params = spec.from_internal(solution.theta)
        cost = solution.cost
        ok = solution.converged.copy()
        # J^T W J in the internal parameters, as the solver held it at each optimum.
        assert solution.information is not None
        information = solution.information
        iterations[rows] = solution.iterations
        if retry and not np.all(ok):
            fitter = CurveFitter(kind)
            refitted = []
            for k in np.flatnonzero(~ok):
                row = rows[k]
                keep = used[k]
                try:
                    single = fitter._fit_model(spec, x[k, keep], y[k, keep], Weights("user", w[k, keep]))
                except ValueError:
                    continue
                if single.rss <= cost[k] or not ok[k]:
                    params[k] = single.values
                    cost[k] = single.rss
                    ok[k] = single.converged
                    iterations[row] += single.iterations
                    refitted.append(k)
            if refitted:
                again = np.array(refitted, dtype=np.intp)
                information[again] = _information(problem, spec, params[again], again)
        # Inverted in the internal parameters (better conditioned: ln inflection has the scale of the other
        # parameters), then to the natural ones: d inflection = inflection * d ln(inflection), likewise
        # the asymmetry.
        unscaled = _inverse(information)
        scale = np.ones_like(params)
        scale[:, 2] = params[:, 2]
        if spec.size == 5:
            scale[:, 4] = params[:, 4]
        unscaled *= scale[:, :, None] * scale[:, None, :]
        if kind == "4pl":
            # The same curve with the asymptotes in order: swap them and mirror the Hill slope (and the
            # rows and columns of the covariance with them).
            swap = params[:, 0] > params[:, 1]
            params[swap] = params[swap][:, [1, 0, 2, 3]] * np.array([1, 1, 1, -1])
            sign = np.array([1.0, 1.0, 1.0, -1.0])
            unscaled[swap] = unscaled[swap][:, [1, 0, 2, 3]][:, :, [1, 0, 2, 3]] * np.outer(sign, sign)
        values[rows] = params
        rss[rows] = cost
        converged[rows] = ok & np.isfinite(cost)
        df_rows = n[rows] - spec.size
        with np.errstate(divide="ignore", invalid="ignore"):
            variance = np.where(df_rows > 0, cost / np.where(df_rows > 0, df_rows, 1), np.nan)
        covariance[rows] = variance[:, None, None] * unscaled
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
