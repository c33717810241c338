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
    try:
        return np.asarray(np.linalg.solve(matrix, rhs[..., None])[..., 0], dtype=np.float64)
    except np.linalg.LinAlgError:
        # One singular row must not stop the batch: fall back to the pseudo-inverse for all rows.
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

    for _ in range(max_iterations):
        idx = np.flatnonzero(status == RUNNING)
        if idx.size == 0:
            break
        iterations[idx] += 1
        j = jac[idx]
        ri = r[idx]
        t = theta[idx]
        normal = np.einsum("bni,bnj->bij", j, j)
        gradient = np.einsum("bni,bn->bi", j, ri)
        lo, hi = low[idx], high[idx]
        # Active set: on a bound with the descent direction pointing out of the box -> hold this step.
        held = ((t <= lo) & (gradient > 0)) | ((t >= hi) & (gradient < 0))
        diag = np.einsum("bii->bi", normal)
        floor = 1e-12 * np.maximum(diag.max(axis=1, keepdims=True), 1e-300)
        diag = np.maximum(diag, floor)
        system = normal + damping[idx, None, None] * diag[:, :, None] * eye
        free = ~held
        mask = free[:, :, None] & free[:, None, :]
        system = np.where(mask, system, eye * diag[:, :, None])
        step = -_solve(system, np.where(free, gradient, 0.0))
        candidate = np.clip(t + step, lo, hi)
        step = candidate - t
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
            jac[take] = jacobian(theta[take], take)
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
