"""A batched, box-bounded Levenberg-Marquardt least-squares solver in NumPy.

One solver serves every fit in :mod:`secretome.analysis`: a single standard curve (its multi-start points
form the batch), many curves at once (:func:`secretome.analysis.fit_curves`) and any other model with an
analytic Jacobian (the NIST StRD validation runs through it).

The problem is ``min sum_i r_i(theta)^2`` for every row of the batch independently. Each iteration solves
``(J^T J + lambda * diag(J^T J)) delta = -J^T r`` (Marquardt's scaling) per row; a step is accepted when it
lowers the sum of squares, after which lambda falls, otherwise lambda rises. Bounds are kept by an active
set: a parameter sitting on a bound with the gradient pushing outwards is held fixed for that step, and every
step is projected back into the box. Rows stop independently; the status of each row is reported, never
silent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]

#: Row ``theta`` (rows, P) and the indices of those rows in the batch -> weighted residuals (rows, N).
ResidualFunction = Callable[[FloatArray, IntArray], FloatArray]
#: Row ``theta`` (rows, P) and the indices of those rows in the batch -> Jacobian (rows, N, P).
JacobianFunction = Callable[[FloatArray, IntArray], FloatArray]
#: Both at once, for models that share most of the work between them.
CombinedFunction = Callable[[FloatArray, IntArray], tuple[FloatArray, FloatArray]]

RUNNING = 0
CONVERGED = 1
MAX_ITERATIONS = 2
NOT_FINITE = 3

STATUS_TEXT = {
    RUNNING: "running",
    CONVERGED: "converged",
    MAX_ITERATIONS: "stopped at the iteration limit",
    NOT_FINITE: "residuals became non-finite",
}


@dataclass(frozen=True)
class Solution:
    """Per-row outcome of :func:`levenberg_marquardt`."""

    theta: FloatArray
    cost: FloatArray
    status: NDArray[np.int_]
    iterations: NDArray[np.int_]

    @property
    def converged(self) -> NDArray[np.bool_]:
        """Rows that met the convergence criteria."""
        result: NDArray[np.bool_] = self.status == CONVERGED
        return result


def _solve(matrix: FloatArray, rhs: FloatArray) -> FloatArray:
    """Solve the symmetric positive-definite systems ``matrix @ x = rhs`` for a whole batch.

    A Cholesky factorisation written over the batch axis (the systems are tiny, 2-5 parameters, and LAPACK's
    per-matrix call overhead would dominate); rows whose pivots are not positive fall back to LAPACK.
    """
    size = matrix.shape[-1]
    factor = np.zeros_like(matrix)
    good = np.ones(matrix.shape[0], dtype=bool)
    with np.errstate(invalid="ignore", divide="ignore"):
        for i in range(size):
            pivot = matrix[:, i, i] - np.sum(factor[:, i, :i] ** 2, axis=1)
            good &= pivot > 0
            factor[:, i, i] = np.sqrt(np.where(pivot > 0, pivot, 1.0))
            for k in range(i + 1, size):
                factor[:, k, i] = (
                    matrix[:, k, i] - np.sum(factor[:, k, :i] * factor[:, i, :i], axis=1)
                ) / factor[:, i, i]
        z = np.zeros_like(rhs)
        for i in range(size):
            z[:, i] = (rhs[:, i] - np.sum(factor[:, i, :i] * z[:, :i], axis=1)) / factor[:, i, i]
        x = np.zeros_like(rhs)
        for i in reversed(range(size)):
            x[:, i] = (z[:, i] - np.sum(factor[:, i + 1 :, i] * x[:, i + 1 :], axis=1)) / factor[:, i, i]
    bad = ~good | ~np.all(np.isfinite(x), axis=1)
    if np.any(bad):
        x[bad] = _lapack_solve(matrix[bad], rhs[bad])
    return x


def _lapack_solve(matrix: FloatArray, rhs: FloatArray) -> FloatArray:
    try:
        return np.asarray(np.linalg.solve(matrix, rhs[..., None])[..., 0], dtype=np.float64)
    except np.linalg.LinAlgError:
        # One singular row must not stop the batch: fall back to the pseudo-inverse for these rows.
        pinv: FloatArray = np.einsum("bij,bj->bi", np.linalg.pinv(matrix), rhs)
        return pinv


def levenberg_marquardt(
    residuals: ResidualFunction,
    jacobian: JacobianFunction,
    start: FloatArray,
    lower: FloatArray | None = None,
    upper: FloatArray | None = None,
    *,
    max_iterations: int = 200,
    ftol: float = 1e-13,
    xtol: float = 1e-11,
    initial_damping: float = 1e-2,
    combined: CombinedFunction | None = None,
) -> Solution:
    """Minimise the sum of squared residuals for every row of a batch.

    Parameters
    ----------
    residuals, jacobian : callable
        See :data:`ResidualFunction` and :data:`JacobianFunction`; residuals may be ``nan``-free only.
    start : numpy.ndarray
        Starting parameters, shape ``(rows, P)``.
    lower, upper : numpy.ndarray, optional
        Box bounds broadcastable to ``start`` (``-inf``/``inf`` for none).
    max_iterations : int
        Iteration limit per row.
    ftol, xtol : float
        A row converges when an accepted step lowers the sum of squares by no more than ``ftol`` of it and moves
        no parameter by more than ``xtol * (|theta| + xtol)``, or when no step however short lowers it.
    initial_damping : float
        Starting Marquardt parameter.
    combined : callable, optional
        Residuals and Jacobian in one call; when given, every trial step computes both (cheaper when most
        steps are accepted, as they are near a solution).

    Returns
    -------
    Solution
        Parameters, sum of squares, status and iteration count per row.
    """
    if max_iterations < 1:
        raise ValueError("max_iterations must be at least 1")
    theta = np.array(start, dtype=np.float64, copy=True)
    if theta.ndim != 2:
        raise ValueError("start must have shape (rows, parameters)")
    rows, size = theta.shape
    low = np.broadcast_to(-np.inf if lower is None else np.asarray(lower, dtype=np.float64), theta.shape)
    high = np.broadcast_to(np.inf if upper is None else np.asarray(upper, dtype=np.float64), theta.shape)
    theta = np.clip(theta, low, high)
    everyone = np.arange(rows)
    r = residuals(theta, everyone)
    cost = np.einsum("bn,bn->b", r, r)
    jac = jacobian(theta, everyone)
    damping = np.full(rows, float(initial_damping))
    status = np.where(np.isfinite(cost), RUNNING, NOT_FINITE)
    status = np.where((status == RUNNING) & (cost == 0.0), CONVERGED, status)
    iterations = np.zeros(rows, dtype=int)
    eye = np.eye(size)
    diagonal = np.arange(size)

    for _ in range(max_iterations):
        idx = np.flatnonzero(status == RUNNING)
        if idx.size == 0:
            break
        iterations[idx] += 1
        everyone_running = idx.size == rows
        # While every row runs, work on views instead of gathered copies.
        j = jac if everyone_running else jac[idx]
        ri = r if everyone_running else r[idx]
        t = theta.copy() if everyone_running else theta[idx]
        lo, hi = (low, high) if everyone_running else (low[idx], high[idx])
        jt = j.transpose(0, 2, 1)
        normal = jt @ j
        gradient = (jt @ ri[:, :, None])[:, :, 0]
        # Active set: on a bound with the descent direction pointing out of the box -> hold this step.
        held = ((t <= lo) & (gradient > 0)) | ((t >= hi) & (gradient < 0))
        diag = np.einsum("bii->bi", normal).copy()
        floor = 1e-12 * np.maximum(diag.max(axis=1, keepdims=True), 1e-300)
        diag = np.maximum(diag, floor)
        system = normal
        system[:, diagonal, diagonal] += damping[idx, None] * diag
        if held.any():
            free = ~held
            mask = free[:, :, None] & free[:, None, :]
            system = np.where(mask, system, eye * diag[:, :, None])
            gradient = np.where(free, gradient, 0.0)
        step = -_solve(system, gradient)
        candidate = np.clip(t + step, lo, hi)
        step = candidate - t
        if combined is not None:
            r_new, jac_new = combined(candidate, idx)
        else:
            r_new = residuals(candidate, idx)
        cost_new = np.einsum("bn,bn->b", r_new, r_new)
        old = cost[idx]
        accepted = np.isfinite(cost_new) & (cost_new < old)
        small_change = (old - cost_new) <= ftol * old
        small_step = np.all(np.abs(step) <= xtol * (np.abs(t) + xtol), axis=1)
        # Accepted steps
        take = idx[accepted]
        if take.size:
            theta[take] = candidate[accepted]
            r[take] = r_new[accepted]
            cost[take] = cost_new[accepted]
            jac[take] = jac_new[accepted] if combined is not None else jacobian(theta[take], take)
        damping[take] = np.maximum(damping[take] / 3.0, 1e-15)
        damping[idx[~accepted]] *= 4.0
        done = (accepted & small_change & small_step) | (cost[idx] == 0.0)
        # No step lowers the sum of squares even with heavy damping, or the step has vanished: a minimum.
        stuck = ~accepted & ((damping[idx] > 1e14) | small_step)
        status[idx[done | stuck]] = CONVERGED
    status = np.where(status == RUNNING, MAX_ITERATIONS, status)
    return Solution(theta=theta, cost=cost, status=status, iterations=iterations)


def parameter_covariance(jacobian: FloatArray, rss: float, df: int) -> FloatArray:
    """Asymptotic covariance ``s^2 (J^T J)^-1`` with ``s^2 = rss / df`` (the NIST StRD convention).

    ``jacobian`` is the (weighted) Jacobian of the residuals at the optimum, shape ``(N, P)``; a singular
    ``J^T J`` falls back to the pseudo-inverse. With no degrees of freedom every entry is ``nan``.
    """
    information = jacobian.T @ jacobian
    variance = rss / df if df > 0 else float("nan")
    try:
        inverse = np.linalg.inv(information)
    except np.linalg.LinAlgError:
        inverse = np.linalg.pinv(information)
    return np.asarray(variance * inverse, dtype=np.float64)
