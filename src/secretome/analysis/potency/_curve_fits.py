"""The two least-squares fits of a parallel-curve assay, fast when the data allow and thorough when not.

Both fits use the model functions and analytic derivatives of :mod:`secretome.analysis.logistic`:

* **constrained** (joint): shared bottom, top, hill (and asymmetry for the 5PL), one inflection per
  preparation; internal parameters ``[bottom, top, hill, (ln asymmetry), ln inflection per preparation]``;
* **unconstrained** (separate): every preparation its own curve; internal parameters per preparation
  ``[bottom, top, ln inflection, hill, (ln asymmetry)]``, as the engine's curves.

Both are instances of one :class:`CurveProblem` (curves whose internal parameters map onto columns of one
parameter vector), and two problems stack into one: the constrained and unconstrained blocks share no
parameter, so the optimum of the stacked problem is both optima at once, for one model evaluation per step.

**Fast path.** One start built from the dose-group means (:func:`data_start`), both fits at once with
MINPACK (:mod:`secretome.analysis.potency._least_squares`). The solution is accepted only when nothing about
it looks doubtful:

* MINPACK converged to finite values strictly inside the engine's bounds (hill, asymmetry, inflection);
* no preparation's own curve fits worse than its constrained curve (which is a candidate for it), and no
  curve worse than a straight line in ln dose (the limit of a 4PL whose hill goes to 0: a fit worse than the
  line is in a poorer minimum than one near the bounds);
* the two fits do not differ significantly (extra-sum-of-squares F-test at the method's alpha), or, when
  they do (a real difference, or a constrained fit caught in a poorer minimum), the constrained fit started
  afresh from the unconstrained curves finds no lower minimum;
* the unconstrained fits are not significantly worse than the dose-group means (lack of fit, p >= 0.01),
  which tells a fit stuck in a poor minimum from a good one; without replicates there is no such yardstick
  and the thorough path always runs;
* the model is the 4PL: the 5PL's asymmetry and inflection trade off into several minima, so for the 5PL
  the thorough path always runs (and the fast solution competes in it).

**Thorough path**, for the fit (or fits) in doubt. The constrained fit from the three best distinct points
of the engine's start grid on the reference (:func:`secretome.analysis.doseresponse.logistic_starts`), each
with every preparation at its best location; a start whose MINPACK solution is doubtful goes on through the
engine's bounded Levenberg-Marquardt (:mod:`secretome.analysis.lm`). The unconstrained fits start from the
best constrained solution (each preparation on its own through the engine when MINPACK's solution is
doubtful) and from the same grid points; they are refitted from the constrained solution alone when only
that one has changed. The lowest sum of squares wins, the fast solution included (for the unconstrained
fits, preparation by preparation: their curves are independent).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from secretome.analysis import lm, logistic
from secretome.analysis.doseresponse import logistic_starts
from secretome.analysis.models import INFLECTION_REACH, get_model
from secretome.analysis.potency._data import AssayData
from secretome.analysis.potency._distributions import f_upper_tail
from secretome.analysis.potency._least_squares import least_squares

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]

#: Level of the lack-of-fit test below which the fast solution counts as doubtful.
LACK_OF_FIT_DOUBT = 0.01
#: Relative difference of two sums of squares below which two fits count as the same minimum.
SAME_MINIMUM = 1e-9
#: Points of the grid search for each preparation's location (ln dose, two beyond the doses each side): a
#: start, refined by the fit, so a coarse grid serves as well as a fine one and costs a third.
LOCATION_GRID = 41


@dataclass(frozen=True)
class Curve:
    """One preparation's own (unconstrained) curve: natural parameters, ``(J'J)^-1`` in them, its RSS."""

    parameter_names: tuple[str, ...]
    values: FloatArray
    unscaled: FloatArray
    rss: float
    converged: bool
    ec50: float

    @cached_property
    def parameters(self) -> dict[str, float]:
        """Parameters by name, with ``asymmetry`` (1 for the 4PL) and ``ec50``."""
        result = dict(zip(self.parameter_names, self.values.tolist(), strict=True))
        result.setdefault("asymmetry", 1.0)
        result["ec50"] = self.ec50
        return result


@dataclass(frozen=True)
class JointFit:
    """A constrained fit: natural shape parameters, log inflections, internal covariance, RSS, df."""

    shape: FloatArray  # bottom, top, hill, asymmetry (1 for the 4PL)
    log_inflection: FloatArray  # one per preparation
    covariance: FloatArray  # of [bottom, top, hill, (ln asymmetry), ln inflection...]
    rss: float
    df: int
    converged: bool
    rss_by_curve: FloatArray  # each preparation's share of the sum of squares

    def internal(self, size: int) -> FloatArray:
        """The joint problem's internal parameters of this fit."""
        return np.concatenate([_shared_internal(self.shape, size), self.log_inflection])


def _shared_internal(shape: FloatArray, size: int) -> list[float]:
    """The shared internal parameters ``[bottom, top, hill, (ln asymmetry)]`` of a shape
    ``(bottom, top, hill, asymmetry)``."""
    shared = [float(shape[0]), float(shape[1]), float(shape[2])]
    return shared + ([math.log(shape[3])] if size == 5 else [])


@dataclass(frozen=True)
class CurveProblem:
    """Least squares over curves whose internal parameters ``[bottom, top, ln inflection, hill, (ln
    asymmetry)]`` are columns of one parameter vector (shared columns tie curves together)."""

    dose: FloatArray
    response: FloatArray
    curve: IntArray  # the curve of each observation
    columns: IntArray  # (curves, size): parameter-vector column of each curve's internal parameter
    lower: FloatArray
    upper: FloatArray

    @property
    def size(self) -> int:
        """Parameters per curve: 4 or 5."""
        return int(self.columns.shape[1])

    @cached_property
    def _point_columns(self) -> IntArray:
        point_columns: IntArray = self.columns[self.curve]
        return point_columns

    @cached_property
    def _parameter_columns(self) -> IntArray:
        columns: IntArray = np.ascontiguousarray(self._point_columns.T)
        return columns

    @cached_property
    def _rows(self) -> IntArray:
        return np.arange(self.dose.size)[:, None]

    @cached_property
    def _flat_columns(self) -> IntArray:
        """Positions of every point's parameters in a flattened ``(N, P)`` Jacobian."""
        flat: IntArray = (self._rows * self.lower.size + self._point_columns).ravel()
        return flat

    def combined(self, theta: FloatArray, rows: lm.IntArray | None = None) -> tuple[FloatArray, FloatArray]:
        """Residuals and Jacobian from one model call, at one point ``(P,)`` -> ``(N,), (N, P)`` or at a
        batch ``(B, P)`` -> ``(B, N), (B, N, P)`` (the engine solver's form; ``rows`` is not needed)."""
        # Parameter-major, (..., size, N): every parameter's values contiguous, which the model call prefers.
        internal = theta[..., self._parameter_columns]
        bottom, top, hill = internal[..., 0, :], internal[..., 1, :], internal[..., 3, :]
        inflection = np.exp(internal[..., 2, :])
        asymmetry = np.exp(internal[..., 4, :]) if self.size == 5 else 1.0
        partial = logistic.five_pl_jacobian(self.dose, bottom, top, inflection, hill, asymmetry)
        residuals = bottom + (top - bottom) * partial[..., 1] - self.response
        derivative = partial[..., : self.size]
        derivative[..., 2] *= inflection  # chain rule for the log-scale parameters: d/d ln c = c d/dc
        if self.size == 5:
            derivative[..., 4] *= asymmetry
        jac = np.zeros((*theta.shape[:-1], self.dose.size, theta.shape[-1]))
        if theta.ndim == 1:
            jac.reshape(-1)[self._flat_columns] = derivative.reshape(-1)  # the common case, faster
        else:
            jac[:, self._rows, self._point_columns] = derivative
        return residuals, jac

    def stacked(self, other: CurveProblem) -> CurveProblem:
        """Both problems as one, ``other``'s parameters after this one's."""
        return CurveProblem(
            np.concatenate([self.dose, other.dose]),
            np.concatenate([self.response, other.response]),
            np.concatenate([self.curve, other.curve + self.columns.shape[0]]),
            np.vstack([self.columns, other.columns + self.lower.size]),
            np.concatenate([self.lower, other.lower]),
            np.concatenate([self.upper, other.upper]),
        )

    def best_log_inflections(self, shape: FloatArray) -> FloatArray:
        """Each curve's ln inflection with the shape held fixed, by a grid search over the doses and two
        beyond (a good start for every location keeps the fits away from poor local minima)."""
        grid = np.linspace(math.log(self.dose.min()) - 2.0, math.log(self.dose.max()) + 2.0, LOCATION_GRID)
        predicted = logistic.five_pl(
            self.dose[None, :], shape[0], shape[1], np.exp(grid)[:, None], shape[2], shape[3]
        )
        indicator = (self.curve[:, None] == np.arange(self.columns.shape[0])[None, :]).astype(np.float64)
        rss = ((predicted - self.response[None, :]) ** 2) @ indicator
        best: FloatArray = grid[np.argmin(rss, axis=0)]
        return best


def _observations(data: AssayData, members: Sequence[int]) -> tuple[FloatArray, FloatArray, IntArray]:
    """Doses, responses and the position in ``members`` of each observation's preparation."""
    if len(members) == len(data.preparations):
        return data.dose, data.response, data.preparation_index
    mask = np.isin(data.preparation_index, members)
    position = np.searchsorted(np.asarray(members), data.preparation_index[mask]).astype(np.intp)
    return data.dose[mask], data.response[mask], position


def joint_problem(data: AssayData, members: Sequence[int], size: int, hill_sign: float) -> CurveProblem:
    """The constrained problem over the preparations in ``members``; the hill is bounded on the side of
    ``hill_sign`` (0 counts as positive), every ln inflection to the engine's reach beyond the doses."""
    dose, response, position = _observations(data, members)
    count = len(members)
    shared = size - 1
    columns = np.empty((count, size), dtype=np.intp)
    columns[:, 0], columns[:, 1], columns[:, 3] = 0, 1, 2
    columns[:, 2] = shared + np.arange(count)
    if size == 5:
        columns[:, 4] = 3
    lower, upper = np.full(shared + count, -np.inf), np.full(shared + count, np.inf)
    lower[2], upper[2] = (
        (logistic.HILL_BOUNDS[0], logistic.HILL_BOUNDS[1])
        if hill_sign >= 0
        else (-logistic.HILL_BOUNDS[1], -logistic.HILL_BOUNDS[0])
    )
    if size == 5:
        lower[3], upper[3] = math.log(logistic.ASYMMETRY_BOUNDS[0]), math.log(logistic.ASYMMETRY_BOUNDS[1])
    reach = math.log(INFLECTION_REACH)
    lower[shared:] = math.log(dose.min()) - reach  # curve assays have positive doses only
    upper[shared:] = math.log(dose.max()) + reach
    return CurveProblem(dose, response, position, columns, lower, upper)


def separate_problem(data: AssayData, members: Sequence[int], size: int, hill_sign: float) -> CurveProblem:
    """Every preparation in ``members`` its own curve, bounded as the engine bounds a curve."""
    dose, response, position = _observations(data, members)
    count = len(members)
    log_dose = np.log(dose)
    log_min, log_max = np.full(count, np.inf), np.full(count, -np.inf)
    np.minimum.at(log_min, position, log_dose)
    np.maximum.at(log_max, position, log_dose)
    model = get_model("5pl" if size == 5 else "4pl")
    lower, upper = model.internal_bounds(log_min, log_max, np.full(count, hill_sign))
    columns = np.arange(count * size, dtype=np.intp).reshape(count, size)
    return CurveProblem(dose, response, position, columns, lower.ravel(), upper.ravel())


def joint_start(
    problem: CurveProblem, shape: FloatArray, log_inflection: FloatArray | None = None
) -> FloatArray:
    """Internal start of a joint problem from a shared shape ``(bottom, top, hill, asymmetry)`` and every
    preparation's ln inflection (by default, each one's best under the shape), pulled into the bounds."""
    if log_inflection is None:
        log_inflection = problem.best_log_inflections(shape)
    start = np.concatenate([_shared_internal(shape, problem.size), log_inflection])
    clipped: FloatArray = np.clip(start, problem.lower, problem.upper)
    return clipped


def separate_start(problem: CurveProblem, shape: FloatArray, log_inflection: FloatArray) -> FloatArray:
    """Internal start of a separate problem: every curve with ``shape`` at its own location."""
    start = np.empty((log_inflection.size, problem.size))
    start[:, 0], start[:, 1], start[:, 2], start[:, 3] = shape[0], shape[1], log_inflection, shape[2]
    if problem.size == 5:
        start[:, 4] = math.log(shape[3])
    clipped: FloatArray = np.clip(start.ravel(), problem.lower, problem.upper)
    return clipped


def joint_result(
    problem: CurveProblem, theta: FloatArray, residuals: FloatArray, jac: FloatArray, converged: bool
) -> JointFit:
    """The constrained fit at ``theta``, with the covariance ``s^2 (J'J)^-1`` of its internal parameters."""
    rss = float(residuals @ residuals)
    df = problem.dose.size - theta.size
    five = problem.size == 5
    shape = np.array([theta[0], theta[1], theta[2], math.exp(theta[3]) if five else 1.0])
    covariance = lm.parameter_covariance(jac, rss, df)
    shares = np.bincount(
        problem.curve, weights=residuals * residuals, minlength=problem.columns.shape[0]
    ).astype(np.float64)
    return JointFit(shape, theta[problem.size - 1 :].copy(), covariance, rss, df, converged, shares)


def separate_result(
    problem: CurveProblem, theta: FloatArray, residuals: FloatArray, jac: FloatArray, converged: bool
) -> list[Curve]:
    """Every curve of a separate problem: natural parameters, ``(J'J)^-1`` in them and its own RSS.

    The curves share no parameter, so ``J'J`` is block-diagonal and one inverse gives every curve's block.
    """
    size = problem.size
    count = problem.columns.shape[0]
    values = theta.reshape(count, size).copy()
    scale = np.ones((count, size))
    values[:, 2] = scale[:, 2] = np.exp(values[:, 2])
    if size == 5:
        values[:, 4] = scale[:, 4] = np.exp(values[:, 4])
    natural = jac / scale.ravel()  # back from the log-scale parameters
    information = natural.T @ natural
    try:
        unscaled: FloatArray = np.asarray(np.linalg.inv(information), dtype=np.float64)
    except np.linalg.LinAlgError:
        unscaled = np.asarray(np.linalg.pinv(information), dtype=np.float64)
    rss = np.bincount(problem.curve, weights=residuals * residuals, minlength=count)
    names = get_model("5pl" if size == 5 else "4pl").parameter_names
    ec50 = logistic.ec50_5pl(values[:, 2], values[:, 3], values[:, 4] if size == 5 else 1.0).tolist()
    return [
        Curve(
            names,
            values[i],
            unscaled[i * size : (i + 1) * size, i * size : (i + 1) * size].copy(),
            float(rss[i]),
            converged,
            ec50[i],
        )
        for i in range(count)
    ]


def _engine_fit(
    problem: CurveProblem,
    starts: FloatArray,
    lower: FloatArray | None = None,
    upper: FloatArray | None = None,
) -> lm.Solution:
    """The engine's batched, bounded Levenberg-Marquardt over the rows of ``starts`` (the robust, slower
    path); ``lower`` and ``upper`` may give every row its own box (the problem's by default)."""
    return lm.levenberg_marquardt(
        lambda theta, rows: problem.combined(theta, rows)[0],
        lambda theta, rows: problem.combined(theta, rows)[1],
        starts,
        problem.lower if lower is None else lower,
        problem.upper if upper is None else upper,
        combined=problem.combined,
    )


# ---------------------------------------------------------------------------------------------------------
# Strategy
# ---------------------------------------------------------------------------------------------------------
def data_start(data: AssayData) -> tuple[FloatArray, FloatArray]:
    """A shared shape ``(bottom, top, hill, asymmetry)`` and every preparation's ln inflection, from the
    dose-group means: asymptotes at the reference's lowest- and highest-dose means, hill +1 for a rising
    curve and -1 for a falling one (so ``bottom <= top``, as the engine reports curves), asymmetry 1; each
    location is the weighted mean over its doses of ``ln dose - logit(fraction of the span) / hill``, weighted
    by ``fraction * (1 - fraction)`` so that the doses near the middle of the curve count most."""
    groups = data.dose_groups
    present = groups.size > 0
    reference = groups.mean[0][present[0]]
    first, last = float(reference[0]), float(reference[-1])
    bottom, top = min(first, last), max(first, last)
    hill = 1.0 if last >= first else -1.0
    with np.errstate(invalid="ignore"):
        fraction = np.clip((groups.mean - bottom) / max(top - bottom, 1e-300), 0.02, 0.98)
    weight = np.where(present, fraction * (1.0 - fraction), 0.0)
    estimate = np.where(present, np.log(groups.levels) - np.log(fraction / (1.0 - fraction)) / hill, 0.0)
    log_inflection: FloatArray = (weight * estimate).sum(axis=1) / weight.sum(axis=1)
    return np.array([bottom, top, hill, 1.0]), log_inflection


def reference_shapes(data: AssayData, size: int) -> list[FloatArray]:
    """The three best distinct points of the engine's start grid on the reference curve, as shared shapes
    (evaluated, not fitted: the joint fit refines them)."""
    model = get_model("5pl" if size == 5 else "4pl")
    mask = data.preparation_index == 0
    dose, response = data.dose[mask], data.response[mask]
    starts = logistic_starts(model, dose, response, np.ones(dose.size))
    rss = ((model.predict(dose, starts) - response) ** 2).sum(axis=1)
    shapes: list[FloatArray] = []
    for row in starts[np.argsort(np.where(np.isfinite(rss), rss, np.inf))]:
        shape = np.array([row[0], row[1], row[3], row[4] if size == 5 else 1.0])
        if size == 4 and shape[0] > shape[1]:
            # The same 4PL curve with the asymptotes swapped and the hill negated: one fit serves both.
            shape = np.array([shape[1], shape[0], -shape[2], 1.0])
        if not any(np.allclose(shape, seen, rtol=1e-6, atol=0.0) for seen in shapes):
            shapes.append(shape)
        if len(shapes) == 3:
            break
    return shapes


def _lack_of_fit_p(data: AssayData, rss_separate: float, size: int) -> float | None:
    """p of the lack-of-fit test of the separate curves against the dose-group means, or ``None`` when the
    design has no replicates (or no more dose groups than curve parameters) to judge it."""
    dose_groups = data.dose_groups
    pure_error = float(((data.response - dose_groups.mean.ravel()[dose_groups.group]) ** 2).sum())
    groups = int(np.count_nonzero(dose_groups.size))
    df_pure = data.dose.size - groups
    df_lack = groups - len(data.preparations) * size
    if df_pure < 1 or df_lack < 1 or pure_error <= 0:
        return None
    f = ((rss_separate - pure_error) / df_lack) / (pure_error / df_pure)
    return f_upper_tail(f, df_lack, df_pure)


def _straight_lines(data: AssayData) -> tuple[FloatArray, float]:
    """Sums of squares of straight lines in ln dose: each preparation's own line, and parallel lines (one
    slope). A 4PL tends to such a line as its hill goes to 0 and its inflection away from the doses, so a
    4PL fit worse than the line sits in a poorer minimum than the one near the bounds."""
    index = data.preparation_index
    count = len(data.preparations)
    size = np.bincount(index, minlength=count)
    log_dose = np.log(data.dose)
    x = log_dose - (np.bincount(index, weights=log_dose, minlength=count) / size)[index]
    y = data.response - (np.bincount(index, weights=data.response, minlength=count) / size)[index]
    sxx = np.bincount(index, weights=x * x, minlength=count)
    sxy = np.bincount(index, weights=x * y, minlength=count)
    syy = np.bincount(index, weights=y * y, minlength=count)
    own = syy - sxy * sxy / np.where(sxx > 0, sxx, np.inf)
    parallel = float(syy.sum() - sxy.sum() ** 2 / sxx.sum()) if sxx.sum() > 0 else float(syy.sum())
    return own, parallel


def fit_assay(data: AssayData, size: int, alpha: float) -> tuple[JointFit, list[Curve]]:
    """Constrained and unconstrained fits of all preparations (see the module docstring)."""
    members = range(len(data.preparations))
    shape, log_inflection = data_start(data)
    joint = joint_problem(data, members, size, shape[2])
    separate = separate_problem(data, members, size, shape[2])
    start = joint_start(joint, shape, log_inflection)
    both = joint.stacked(separate)
    theta0 = np.concatenate([start, separate_start(separate, shape, start[size - 1 :])])
    fast = least_squares(both.combined, theta0, both.lower, both.upper)
    fast_joint: JointFit | None = None
    fast_separate: list[Curve] | None = None
    best_joint: JointFit | None = None
    doubt_joint = doubt_separate = True
    if fast.trusted:
        p, n = joint.lower.size, joint.dose.size
        fast_joint = joint_result(joint, fast.theta[:p], fast.residuals[:n], fast.jacobian[:n, :p], True)
        fast_separate = separate_result(
            separate, fast.theta[p:], fast.residuals[n:], fast.jacobian[n:, p:], True
        )
        best_joint = fast_joint
        if size == 4:
            doubt_joint, doubt_separate, significant = _doubts(data, fast_joint, fast_separate, size, alpha)
            if significant and not doubt_joint:
                # Real non-parallelism, or a constrained fit in a poorer minimum: refit it from the
                # unconstrained curves; only a lower minimum from there makes the fast start suspect.
                other = _joint_from_curves(data, fast_separate, size)
                if other is None or other.rss < fast_joint.rss * (1.0 - SAME_MINIMUM):
                    doubt_joint = True
                    best_joint = fast_joint if other is None else other
            if not (doubt_joint or doubt_separate):
                return fast_joint, fast_separate
    shapes = reference_shapes(data, size)
    if doubt_joint:
        # A trusted fast solution competes as it is; a doubtful one is one more start.
        head = fast.theta[: joint.lower.size]
        extra = [head] if fast_joint is None and np.all(np.isfinite(head)) else []
        thorough = fit_joint(data, members, size, shapes, extra)
        # Only a lower minimum replaces the one in hand, not the same one reached to the last bit.
        if best_joint is None or thorough.rss < best_joint.rss * (1.0 - SAME_MINIMUM):
            best_joint = thorough
    assert best_joint is not None  # the fast one, or doubt_joint was set and the thorough fit ran
    if fast_separate is not None and not doubt_separate and best_joint is fast_joint:
        return best_joint, fast_separate
    best_separate = fit_separate(data, best_joint, size, shapes if doubt_separate else ())
    if fast_separate is not None:  # the curves are independent: keep the better fit of each
        best_separate = [
            min(a, b, key=lambda curve: curve.rss) for a, b in zip(best_separate, fast_separate, strict=True)
        ]
    return best_joint, best_separate


def _joint_from_curves(data: AssayData, curves: Sequence[Curve], size: int) -> JointFit | None:
    """The constrained fit started from unconstrained curves (the reference's shape, every preparation at
    its own inflection), or ``None`` when MINPACK's solution is doubtful."""
    reference = curves[0].values
    shape = np.array([reference[0], reference[1], reference[3], reference[4] if size == 5 else 1.0])
    problem = joint_problem(data, range(len(curves)), size, shape[2])
    start = joint_start(problem, shape, np.log([curve.values[2] for curve in curves]))
    fit = least_squares(problem.combined, start, problem.lower, problem.upper)
    if not fit.trusted:
        return None
    return joint_result(problem, fit.theta, fit.residuals, fit.jacobian, True)


def _rss(curves: Sequence[Curve]) -> float:
    return float(sum(curve.rss for curve in curves))


def _doubts(
    data: AssayData, joint: JointFit, separate: Sequence[Curve], size: int, alpha: float
) -> tuple[bool, bool, bool]:
    """Whether the constrained and whether the unconstrained fits of a converged fast solution need the
    thorough path, and whether the two differ significantly (see the module docstring)."""
    # Each preparation's constrained curve is a candidate for its own curve, and a straight line in ln dose
    # is nearly one: an own fit worse than either sits in a poorer minimum.
    own_lines, parallel_lines = _straight_lines(data)
    doubt_separate = any(
        curve.rss > share * (1.0 + SAME_MINIMUM) or curve.rss > line
        for curve, share, line in zip(separate, joint.rss_by_curve, own_lines, strict=True)
    )
    doubt_joint = joint.rss > parallel_lines
    rss_u = _rss(separate)
    if rss_u <= 0:  # an exact fit leaves no variance to test with
        return True, True, False
    # Both fits started from one point: a poor minimum of the unconstrained fit may be shared by the other.
    lack_of_fit = _lack_of_fit_p(data, rss_u, size)
    if lack_of_fit is None or lack_of_fit < LACK_OF_FIT_DOUBT:
        return True, True, False
    df_u = data.dose.size - len(separate) * size
    df_extra = joint.df - df_u
    significant = f_upper_tail(((joint.rss - rss_u) / df_extra) / (rss_u / df_u), df_extra, df_u) < alpha
    return doubt_joint, doubt_separate, significant


def fit_joint(
    data: AssayData,
    members: Sequence[int],
    size: int,
    shapes: Sequence[FloatArray],
    extra_starts: Sequence[FloatArray] = (),
) -> JointFit:
    """The constrained fit over ``members`` from every shape (and every internal start in
    ``extra_starts``), each within the bounds of its own hill sign: MINPACK from each, and the engine's
    bounded Levenberg-Marquardt from every start whose MINPACK solution is doubtful (from the start and from
    MINPACK's solution pulled into the bounds); the lowest sum of squares wins."""
    candidates: list[tuple[CurveProblem, FloatArray]] = []
    for shape in shapes:
        problem = joint_problem(data, members, size, shape[2])
        candidates.append((problem, joint_start(problem, shape)))
    for theta in extra_starts:
        problem = joint_problem(data, members, size, theta[2])
        candidates.append((problem, np.clip(theta, problem.lower, problem.upper)))
    fits: list[JointFit] = []
    doubtful: list[tuple[CurveProblem, FloatArray]] = []
    for problem, start in candidates:
        fast = least_squares(problem.combined, start, problem.lower, problem.upper)
        if fast.trusted:
            fits.append(joint_result(problem, fast.theta, fast.residuals, fast.jacobian, True))
            continue
        doubtful.append((problem, start))
        if np.all(np.isfinite(fast.theta)):
            doubtful.append((problem, np.clip(fast.theta, problem.lower, problem.upper)))
    if doubtful:
        # One batch for the engine: the problems differ only in their boxes (the hill's side).
        solution = _engine_fit(
            doubtful[0][0],
            np.array([start for _, start in doubtful]),
            np.array([problem.lower for problem, _ in doubtful]),
            np.array([problem.upper for problem, _ in doubtful]),
        )
        row = int(np.argmin(np.where(np.isfinite(solution.cost), solution.cost, np.inf)))
        residuals, jac = doubtful[row][0].combined(solution.theta[row])
        converged = bool(solution.converged[row])
        fits.append(joint_result(doubtful[row][0], solution.theta[row], residuals, jac, converged))
    return min(fits, key=lambda fit: fit.rss if np.isfinite(fit.rss) else np.inf)


def fit_separate(
    data: AssayData, joint: JointFit, size: int, shapes: Sequence[FloatArray] = ()
) -> list[Curve]:
    """Every preparation's own curve started from its constrained curve: all at once with MINPACK, or each
    on its own with the engine's bounded solver when MINPACK's solution is doubtful. Each of ``shapes``
    (with every preparation at its best location under it) is a further start, kept for a preparation
    when MINPACK's solution from it is trustworthy and fits that preparation better."""
    h = len(data.preparations)
    hill_sign = math.copysign(1.0, joint.shape[2])
    problem = separate_problem(data, range(h), size, hill_sign)
    fast = least_squares(
        problem.combined,
        separate_start(problem, joint.shape, joint.log_inflection),
        problem.lower,
        problem.upper,
    )
    if fast.trusted:
        curves = separate_result(problem, fast.theta, fast.residuals, fast.jacobian, True)
    else:
        curves = []
        for i in range(h):
            own = separate_problem(data, [i], size, hill_sign)
            solution = _engine_fit(
                own, separate_start(own, joint.shape, joint.log_inflection[i : i + 1])[None, :]
            )
            residuals, jac = own.combined(solution.theta[0])
            curves.extend(
                separate_result(own, solution.theta[0], residuals, jac, bool(solution.converged[0]))
            )
    for shape in shapes:
        other = separate_problem(data, range(h), size, shape[2])
        start = separate_start(other, shape, other.best_log_inflections(shape))
        fit = least_squares(other.combined, start, other.lower, other.upper)
        if fit.trusted:
            found = separate_result(other, fit.theta, fit.residuals, fit.jacobian, True)
            curves = [min(a, b, key=lambda curve: curve.rss) for a, b in zip(curves, found, strict=True)]
    return curves
