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

#: Stopped rows are dropped from the solver's working set once they are this fraction of it.
COMPACT_FRACTION = 0.3

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
    #: ``J^T J`` per row at its final ``theta``, shape ``(rows, P, P)``, when asked for (``information=True``).
    information: FloatArray | None = None

    @property
    def converged(self) -> NDArray[np.bool_]:
        """Rows that met the convergence criteria."""
        result: NDArray[np.bool_] = self.status == CONVERGED
        return result


def _damped_step(
    jac: FloatArray,
    residual: FloatArray,
    theta: FloatArray,
    lower: FloatArray,
    upper: FloatArray,
    damping: FloatArray,
) -> FloatArray:
    """The Levenberg-Marquardt step for every row: solve ``(J^T J + lambda diag(J^T J)) delta = -J^T r``.

    ``jac`` is parameter-major, ``(P, rows, N)``. The systems are tiny (2-5 parameters), so the normal
    equations and their Cholesky factorisation are written out over the rows axis as contiguous vectors
    (LAPACK's per-matrix overhead would dominate); a parameter held on a bound gets a zero step; rows whose
    pivots are not positive fall back to a pseudo-inverse.
    """
    size = jac.shape[0]
    gradient = [np.einsum("cn,cn->c", jac[i], residual) for i in range(size)]
    normal: dict[tuple[int, int], FloatArray] = {}
    for i in range(size):
        for k in range(i, size):
            normal[i, k] = np.einsum("cn,cn->c", jac[i], jac[k])
    diag = [normal[i, i] for i in range(size)]
    floor = 1e-12 * np.maximum(np.max(diag, axis=0), 1e-300)
    scale = [np.maximum(d, floor) for d in diag]
    system = dict(normal)
    held = [
        ((theta[:, i] <= lower[:, i]) & (gradient[i] > 0))
        | ((theta[:, i] >= upper[:, i]) & (gradient[i] < 0))
        for i in range(size)
    ]
    for i in range(size):
        system[i, i] = normal[i, i] + damping * scale[i]
    for i in range(size):
        if held[i].any():
            # Active set: on a bound with the descent direction pointing outwards -> hold this parameter.
            for k in range(size):
                if k != i:
                    key = (min(i, k), max(i, k))
                    system[key] = np.where(held[i], 0.0, system[key])
            system[i, i] = np.where(held[i], scale[i], system[i, i])
            gradient[i] = np.where(held[i], 0.0, gradient[i])
    factor: dict[tuple[int, int], FloatArray] = {}
    good = np.ones(theta.shape[0], dtype=bool)
    with np.errstate(invalid="ignore", divide="ignore"):
        for i in range(size):
            for k in range(i + 1):
                value = system[k, i].copy()
                for m in range(k):
                    value -= factor[i, m] * factor[k, m]
                if i == k:
                    good &= value > 0
                    factor[i, i] = np.sqrt(np.where(value > 0, value, 1.0))
                else:
                    factor[i, k] = value / factor[k, k]
        forward: list[FloatArray] = []
        for i in range(size):
            value = -gradient[i]
            for m in range(i):
                value = value - factor[i, m] * forward[m]
            forward.append(value / factor[i, i])
        step = np.empty((size, theta.shape[0]))
        for i in reversed(range(size)):
            value = forward[i].copy()
            for m in range(i + 1, size):
                value -= factor[m, i] * step[m]
            step[i] = value / factor[i, i]
    result = np.ascontiguousarray(step.T)
    bad = ~good | ~np.all(np.isfinite(result), axis=1)
    if np.any(bad):
        matrix = np.empty((int(bad.sum()), size, size))
        for i in range(size):
            for k in range(size):
                matrix[:, i, k] = system[min(i, k), max(i, k)][bad]
        rhs = -np.stack([g[bad] for g in gradient], axis=1)
        result[bad] = np.einsum("bij,bj->bi", np.linalg.pinv(matrix), rhs)
    return result


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
    either_criterion: bool = False,
    param_major_jacobian: bool = False,
    information: bool = False,
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
    either_criterion : bool
        Converge when *either* the ``ftol`` or the ``xtol`` test holds (as MINPACK does) instead of both;
        the batched path uses it with its looser tolerances.
    param_major_jacobian : bool
        The Jacobian functions return shape ``(P, rows, N)`` instead of ``(rows, N, P)`` (saves a copy).
    combined : callable, optional
        Residuals and Jacobian in one call; when given, every trial step computes both (cheaper when most
        steps are accepted, as they are near a solution); the first evaluation uses it too.
    information : bool
        Also return ``J^T J`` at every row's final parameters (:attr:`Solution.information`), from the
        Jacobian the solver already holds there, for the covariance.

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
    rows = theta.shape[0]
    low = np.broadcast_to(-np.inf if lower is None else np.asarray(lower, dtype=np.float64), theta.shape)
    high = np.broadcast_to(np.inf if upper is None else np.asarray(upper, dtype=np.float64), theta.shape)
    theta = np.clip(theta, low, high)

    def param_major(jac_rows: FloatArray) -> FloatArray:
        return jac_rows if param_major_jacobian else np.ascontiguousarray(np.moveaxis(jac_rows, -1, 0))

    everyone = np.arange(rows)
    if combined is not None:
        r, jac = combined(theta, everyone)
    else:
        r, jac = residuals(theta, everyone), jacobian(theta, everyone)
    cost = np.einsum("bn,bn->b", r, r)
    # The Jacobian is kept parameter-major, (P, rows, N): every product below is over contiguous rows.
    jac = param_major(jac)
    status = np.where(np.isfinite(cost), RUNNING, NOT_FINITE)
    status = np.where((status == RUNNING) & (cost == 0.0), CONVERGED, status)
    iterations = np.zeros(rows, dtype=int)
    normal = np.full((rows, theta.shape[1], theta.shape[1]), np.nan) if information else None
    if normal is not None:
        normal[status == CONVERGED] = _normal_matrix(jac[:, status == CONVERGED])

    # The working set holds the rows still running: every array below is indexed like ``idx`` (their rows in
    # the batch), so an iteration neither gathers the running rows out of the batch nor scatters them back; a
    # row's parameters and cost are written back once, when it stops. Stopped rows are dropped from the
    # working set only once they make up a good part of it (``COMPACT_FRACTION``): until then they ride
    # along, masked by ``active``, since carrying a few idle rows costs less than copying every array each
    # time one row stops. Rows are independent, so riding along changes no running row's numbers.
    idx = np.flatnonzero(status == RUNNING)
    t, c, lo, hi = theta, cost.copy(), low, high
    if idx.size < rows:
        t, c, lo, hi, r, jac = t[idx], c[idx], lo[idx], hi[idx], r[idx], jac[:, idx]
    active = np.ones(idx.size, dtype=bool)
    running = idx.size
    damping = np.full(idx.size, float(initial_damping))
    completed = 0
    for completed in range(1, max_iterations + 1):
        if running == 0:
            completed -= 1
            break
        step = _damped_step(jac, r, t, lo, hi, damping)
        candidate = np.clip(t + step, lo, hi)
        step = candidate - t
        if combined is not None:
            r_new, jac_new = combined(candidate, idx)
            jac_new = param_major(jac_new)
        else:
            r_new = residuals(candidate, idx)
        cost_new = np.einsum("bn,bn->b", r_new, r_new)
        accepted = np.isfinite(cost_new) & (cost_new < c)
        rejected = ~accepted
        small_change = (c - cost_new) <= ftol * c
        small_step = np.all(np.abs(step) <= xtol * (np.abs(t) + xtol), axis=1)
        any_rejected = bool(rejected.any())
        if combined is not None:
            # Most steps are accepted: adopt the new arrays and put the few rejected rows back.
            if any_rejected:
                candidate[rejected] = t[rejected]
                cost_new[rejected] = c[rejected]
                r_new[rejected] = r[rejected]
                jac_new[:, rejected] = jac[:, rejected]
            t, c, r, jac = candidate, cost_new, r_new, jac_new
        elif accepted.any():
            t = np.where(accepted[:, None], candidate, t)
            c = np.where(accepted, cost_new, c)
            r[accepted] = r_new[accepted]
            jac[:, accepted] = param_major(jacobian(t[accepted], idx[accepted]))
        damping = np.where(accepted, np.maximum(damping / 3.0, 1e-15), damping * 4.0)
        tests = (small_change | small_step) if either_criterion else (small_change & small_step)
        done = (accepted & tests) | (c == 0.0)
        # No step lowers the sum of squares even with heavy damping, or the step has vanished: a minimum.
        stuck = rejected & ((damping > 1e14) | small_step)
        finished = (done | stuck) & active
        if finished.any():
            stopped = idx[finished]
            theta[stopped] = t[finished]
            cost[stopped] = c[finished]
            status[stopped] = CONVERGED
            iterations[stopped] = completed
            if normal is not None:
                normal[stopped] = _normal_matrix(jac[:, finished])
            active &= ~finished
            running -= int(np.count_nonzero(finished))
            if running < (1.0 - COMPACT_FRACTION) * idx.size:
                idx, t, c, lo, hi = idx[active], t[active], c[active], lo[active], hi[active]
                r, jac, damping = r[active], jac[:, active], damping[active]
                active = np.ones(idx.size, dtype=bool)
    left = idx[active]
    theta[left] = t[active]
    cost[left] = c[active]
    status[left] = MAX_ITERATIONS
    iterations[left] = completed
    if normal is not None and left.size:
        normal[left] = _normal_matrix(jac[:, active])
    return Solution(theta=theta, cost=cost, status=status, iterations=iterations, information=normal)


def _normal_matrix(jac: FloatArray) -> FloatArray:
    """``J^T J`` per row from a parameter-major Jacobian ``(P, rows, N)``, shape ``(rows, P, P)``."""
    size = jac.shape[0]
    normal = np.empty((jac.shape[1], size, size))
    for i in range(size):
        for k in range(i, size):
            normal[:, i, k] = normal[:, k, i] = np.einsum("cn,cn->c", jac[i], jac[k])
    return normal


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
