"""One small least-squares problem, solved by MINPACK's Levenberg-Marquardt with an analytic Jacobian.

A parallel-curve assay is a single problem of a few dozen observations and a handful of parameters. The
engine's batched solver (:mod:`secretome.analysis.lm`) is built for many rows at once and pays a fixed
NumPy cost per iteration that dominates such a problem; MINPACK (``scipy.optimize.leastsq``, the solver
behind ``curve_fit``) runs its iterations in compiled code and calls back only for the model. The model is
evaluated once per trial point: residuals and Jacobian come from one call and are cached for the solver's
second request at the same point.

MINPACK is unbounded. :func:`least_squares` reports whether its solution is trustworthy (converged, finite,
strictly inside the given box); the callers fall back to the engine's bounded multi-start fit when it is not.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import leastsq

FloatArray = NDArray[np.float64]

#: One point ``theta`` (shape ``(P,)``) -> residuals ``(N,)`` and their Jacobian ``(N, P)``.
Evaluation = Callable[[FloatArray], tuple[FloatArray, FloatArray]]

#: MINPACK's 'converged' outcomes: relative reduction of the sum of squares within ``ftol``, relative step
#: within ``xtol``, or both, or the residuals orthogonal to the Jacobian's columns.
_CONVERGED = frozenset({1, 2, 3, 4})


@dataclass(frozen=True)
class LeastSquaresFit:
    """MINPACK's solution: parameters, residuals and Jacobian there, sum of squares, and whether it is
    trustworthy (converged, finite and strictly inside the box the caller gave)."""

    theta: FloatArray
    residuals: FloatArray
    jacobian: FloatArray
    rss: float
    trusted: bool


def least_squares(
    evaluate: Evaluation,
    start: FloatArray,
    lower: FloatArray,
    upper: FloatArray,
    *,
    ftol: float = 1e-12,
    xtol: float = 1e-10,
    gtol: float = 2e-7,
    max_evaluations: int = 60,
) -> LeastSquaresFit:
    """Minimise the sum of squared residuals from ``start``; judge the solution against ``[lower, upper]``.

    The tolerances are tighter than ``curve_fit``'s defaults (1.5e-8): with ``ftol = 1e-10`` log potencies
    still move by up to 3e-6 on the last steps, with 1e-12 by less than 3e-7. ``gtol`` (the cosine between
    the residuals and every Jacobian column, zero at the optimum) stops a fit as soon as it is that close,
    often a step before ``ftol`` does, for the same accuracy. A good start converges in under ten
    evaluations; one that needs ``max_evaluations`` is doubtful and better left to the caller's fallback
    than polished further.
    """
    cache: dict[bytes, tuple[FloatArray, FloatArray]] = {}

    def point(theta: FloatArray) -> tuple[FloatArray, FloatArray]:
        key = theta.tobytes()
        found = cache.get(key)
        if found is None:
            found = evaluate(theta)
            cache[key] = found
        return found

    # MINPACK's wrapper may write into the arrays it is handed (it does into the first residuals): it gets
    # copies, so that the cache keeps what the model computed.
    def residuals(theta: FloatArray) -> FloatArray:
        return point(theta)[0].copy()

    def jacobian(theta: FloatArray) -> FloatArray:
        return point(theta)[1].copy()

    theta0 = np.asarray(start, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"), warnings.catch_warnings():
        # A fit that does not converge is reported as not trusted, not by MINPACK's warning.
        warnings.simplefilter("ignore", RuntimeWarning)
        # Without full_output: its covariance (unused here) costs as much as a fit's model evaluations.
        theta, status = leastsq(
            residuals, theta0, Dfun=jacobian, ftol=ftol, xtol=xtol, gtol=gtol, maxfev=max_evaluations
        )
        theta = np.asarray(theta, dtype=np.float64).reshape(theta0.shape)
        r, jac = point(theta)
    rss = float(r @ r)
    trusted = (
        status in _CONVERGED
        and math.isfinite(rss)
        and bool(np.isfinite(jac).all())
        and bool(((theta > lower) & (theta < upper)).all())
    )
    return LeastSquaresFit(theta, r, jac, rss, trusted)
