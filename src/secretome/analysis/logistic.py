"""Dose-response model functions and their analytic partial derivatives, vectorised over any array shape.

The logistic family is written in one form, for the 5PL and (``asymmetry = 1``) the 4PL::

    f(x) = bottom + (top - bottom) / (1 + (inflection / x) ** hill) ** asymmetry

* ``inflection > 0`` is a dose; for the 4PL it is the EC50.
* ``hill > 0`` makes ``f`` run from ``bottom`` (dose 0) to ``top`` (dose -> infinity): an increasing curve when
  ``bottom < top``. ``hill < 0`` mirrors the dose axis: ``f(0) = top`` and ``f(inf) = bottom``. The fitter reports
  4PL curves with ``bottom < top`` (lower and upper asymptotes) so the sign of ``hill`` gives the direction.
* ``asymmetry > 0`` (Richards / generalised 5PL exponent); the fitter bounds it to
  :data:`ASYMMETRY_BOUNDS`.
* Blanks (dose 0) are handled explicitly: ``f(0)`` is the dose-0 asymptote, never ``nan``, and the derivatives
  with respect to inflection, hill and asymmetry are exactly 0 there.

Evaluation goes through ``u = hill * (ln inflection - ln x)`` and ``s = ln(1 + e^u)`` with ``u`` clipped to
+/-700, so neither very small nor very large doses overflow.

Also here: the linear (``intercept + slope * x``) and log-linear (``intercept + slope * ln x``) models for
assays read in their linear range, the EC50 of the 5PL (the dose giving the response half-way between
bottom and top) and the inverse functions used for back-calculation.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]

#: Range the fitter allows for the 5PL asymmetry exponent (inclusive). Outside it the 5PL has so little
#: curvature information in 8-12 standards that the asymmetry and the inflection trade off without limit.
ASYMMETRY_BOUNDS: tuple[float, float] = (0.1, 10.0)
#: Range the fitter allows for ``|hill|``: a steeper curve is a step between two standards and cannot be told
#: from an infinitely steep one.
HILL_BOUNDS: tuple[float, float] = (0.05, 50.0)

LOGISTIC_PARAMETERS: tuple[str, ...] = ("bottom", "top", "inflection", "hill", "asymmetry")
FOUR_PL_PARAMETERS: tuple[str, ...] = ("bottom", "top", "inflection", "hill")
LINEAR_PARAMETERS: tuple[str, ...] = ("intercept", "slope")


def _as_float(value: ArrayLike) -> FloatArray:
    return np.asarray(value, dtype=np.float64)


def _log_ratio(dose: FloatArray, inflection: FloatArray) -> tuple[FloatArray, NDArray[np.bool_]]:
    """``ln(inflection) - ln(dose)`` with dose 0 mapped to +inf, and the mask of blanks."""
    blank = dose == 0
    if not blank.any():
        return np.log(inflection) - np.log(dose), blank
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.log(inflection) - np.log(np.where(blank, 1.0, dose))
    return np.where(blank, np.inf, ratio), blank


def _core(
    dose: ArrayLike, inflection: ArrayLike, hill: ArrayLike, asymmetry: ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, NDArray[np.bool_]]:
    """The shared pieces: ``w = (1 + e^u)^-g`` (fraction of the way from the dose-0 end), ``s``, ``sigma(u)``,
    ``ln(inflection/x)`` and the blank mask."""
    g = _as_float(asymmetry)
    e, log_ratio, blank = _exp_u(dose, inflection, hill)
    with np.errstate(invalid="ignore", over="ignore"):
        complement = 1.0 / (1.0 + e)  # = 1 - sigma(u) = e^-s
        sig = e * complement
        s = np.log1p(e)
        w = complement if np.ndim(g) == 0 and g == 1.0 else np.exp(-g * s)
    return w, s, sig, log_ratio, blank


def _exp_u(
    dose: ArrayLike, inflection: ArrayLike, hill: ArrayLike
) -> tuple[FloatArray, FloatArray, NDArray[np.bool_]]:
    """``e^u`` with ``u = hill * ln(inflection / x)`` (clipped), ``ln(inflection / x)`` and the blank mask."""
    x = _as_float(dose)
    c = _as_float(inflection)
    h = _as_float(hill)
    log_ratio, blank = _log_ratio(x, c)
    any_blank = bool(blank.any())
    with np.errstate(invalid="ignore", over="ignore"):
        if any_blank:
            # At a blank u is +inf (hill > 0), -inf (hill < 0) or 0 (hill == 0): the limit, computed explicitly.
            u = np.where(blank, np.sign(h) * np.inf, h * np.where(blank, 0.0, log_ratio))
            u = np.where(blank & (h == 0), 0.0, u)
        else:
            u = h * log_ratio
        # u is clipped so e^u stays finite; beyond |u| = 700 the curve sits on its asymptote to 1e-300.
        if isinstance(u, np.ndarray) and u.ndim:
            e = np.exp(np.clip(u, -700.0, 700.0, out=u), out=u)  # u is a fresh array: reuse it
        else:
            e = np.exp(np.clip(u, -700.0, 700.0))
    return e, log_ratio, blank


def five_pl(
    dose: ArrayLike,
    bottom: ArrayLike,
    top: ArrayLike,
    inflection: ArrayLike,
    hill: ArrayLike,
    asymmetry: ArrayLike = 1.0,
) -> FloatArray:
    """Five-parameter logistic response at ``dose``.

    Parameters
    ----------
    dose : array_like
        Doses (>= 0; 0 is a blank).
    bottom, top : array_like
        Dose-0 and infinite-dose asymptotes when ``hill > 0`` (swapped when ``hill < 0``).
    inflection : array_like
        Inflection dose (> 0); the EC50 when ``asymmetry == 1``.
    hill : array_like
        Hill slope; its sign sets which asymptote belongs to dose 0.
    asymmetry : array_like, optional
        Asymmetry exponent (> 0); 1 gives the 4PL.

    Returns
    -------
    numpy.ndarray
        ``bottom + (top - bottom) / (1 + (inflection / dose) ** hill) ** asymmetry``, broadcast over all inputs.
    """
    # Only w is needed here: the derivative pieces of _core (sigma, log1p) are skipped, same values.
    g = _as_float(asymmetry)
    e, _lr, _blank = _exp_u(dose, inflection, hill)
    with np.errstate(invalid="ignore", over="ignore"):
        w = 1.0 / (1.0 + e) if np.ndim(g) == 0 and g == 1.0 else np.exp(-g * np.log1p(e))
    b = _as_float(bottom)
    t = _as_float(top)
    result: FloatArray = b + (t - b) * w
    return result


def four_pl(
    dose: ArrayLike, bottom: ArrayLike, top: ArrayLike, inflection: ArrayLike, hill: ArrayLike
) -> FloatArray:
    """Four-parameter logistic: :func:`five_pl` with ``asymmetry = 1``; ``inflection`` is the EC50."""
    return five_pl(dose, bottom, top, inflection, hill, 1.0)


def five_pl_jacobian(
    dose: ArrayLike,
    bottom: ArrayLike,
    top: ArrayLike,
    inflection: ArrayLike,
    hill: ArrayLike,
    asymmetry: ArrayLike = 1.0,
) -> FloatArray:
    """Analytic partial derivatives of :func:`five_pl`.

    Returns
    -------
    numpy.ndarray
        Shape ``broadcast_shape + (5,)``: d f / d(bottom, top, inflection, hill, asymmetry). At a blank
        (dose 0) the last three are exactly 0.
    """
    w, s, sig, log_ratio, blank = _core(dose, inflection, hill, asymmetry)
    b = _as_float(bottom)
    t = _as_float(top)
    c = _as_float(inflection)
    h = _as_float(hill)
    g = _as_float(asymmetry)
    span = t - b
    # d w / d u = -g * w * sigma(u); u = h * ln(c / x).
    dw_du = -g * w * sig
    if blank.any():
        with np.errstate(invalid="ignore"):
            d_inflection = np.where(blank, 0.0, span * dw_du * h / c)
            d_hill = np.where(blank, 0.0, span * dw_du * np.where(blank, 0.0, log_ratio))
            d_asymmetry = np.where(blank, 0.0, -span * w * np.where(blank, 0.0, s))
    else:
        d_inflection = span * dw_du * h / c
        d_hill = span * dw_du * log_ratio
        d_asymmetry = -span * w * s
    shape = np.broadcast_shapes(w.shape, b.shape, t.shape)
    # Filled column by column: cheaper than stacking broadcast views, same values.
    jacobian = np.empty((*shape, 5))
    jacobian[..., 0] = 1.0 - w
    jacobian[..., 1] = w
    jacobian[..., 2] = d_inflection
    jacobian[..., 3] = d_hill
    jacobian[..., 4] = d_asymmetry
    return jacobian


def four_pl_jacobian(
    dose: ArrayLike, bottom: ArrayLike, top: ArrayLike, inflection: ArrayLike, hill: ArrayLike
) -> FloatArray:
    """Analytic partial derivatives of :func:`four_pl`: shape ``broadcast_shape + (4,)``."""
    return five_pl_jacobian(dose, bottom, top, inflection, hill, 1.0)[..., :4]


def five_pl_dose_derivative(
    dose: ArrayLike,
    bottom: ArrayLike,
    top: ArrayLike,
    inflection: ArrayLike,
    hill: ArrayLike,
    asymmetry: ArrayLike = 1.0,
) -> FloatArray:
    """d f / d dose of the 5PL (the calibration slope); 0 at a blank."""
    x = _as_float(dose)
    w, _s, sig, _lr, blank = _core(x, inflection, hill, asymmetry)
    span = _as_float(top) - _as_float(bottom)
    g = _as_float(asymmetry)
    h = _as_float(hill)
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = span * g * w * sig * h / np.where(blank, 1.0, x)
    result: FloatArray = np.where(blank, 0.0, slope)
    return result


def ec50_5pl(inflection: ArrayLike, hill: ArrayLike, asymmetry: ArrayLike = 1.0) -> FloatArray:
    """Dose giving the response half-way between the asymptotes: ``inflection * (2^(1/g) - 1)^(-1/hill)``.

    Equal to ``inflection`` for the 4PL (``asymmetry = 1``).
    """
    c = _as_float(inflection)
    h = _as_float(hill)
    g = _as_float(asymmetry)
    result: FloatArray = c * np.exp(-np.log(np.expm1(np.log(2.0) / g)) / h)
    return result


def ec50_5pl_gradient(inflection: ArrayLike, hill: ArrayLike, asymmetry: ArrayLike = 1.0) -> FloatArray:
    """d EC50 / d(inflection, hill, asymmetry), shape ``broadcast_shape + (3,)`` (for the delta method)."""
    c = _as_float(inflection)
    h = _as_float(hill)
    g = _as_float(asymmetry)
    q = np.expm1(np.log(2.0) / g)
    ec50 = ec50_5pl(c, h, g)
    dq_dg = -np.exp(np.log(2.0) / g) * np.log(2.0) / g**2
    parts = [ec50 / c, ec50 * np.log(q) / h**2, ec50 * (-1.0 / h) * dq_dg / q]
    shape = np.broadcast_shapes(c.shape, h.shape, g.shape)
    return np.stack([np.broadcast_to(p, shape) for p in parts], axis=-1)


def five_pl_inverse(
    response: ArrayLike,
    bottom: ArrayLike,
    top: ArrayLike,
    inflection: ArrayLike,
    hill: ArrayLike,
    asymmetry: ArrayLike = 1.0,
) -> FloatArray:
    """Dose whose 5PL response is ``response``; ``nan`` when the response is not strictly between the
    asymptotes (no value is ever extrapolated beyond them)."""
    y = _as_float(response)
    b = _as_float(bottom)
    t = _as_float(top)
    c = _as_float(inflection)
    h = _as_float(hill)
    g = _as_float(asymmetry)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        fraction = (y - b) / (t - b)
        inside = (fraction > 0) & (fraction < 1)
        # (c/x)^h = fraction^(-1/g) - 1  =>  x = c * (fraction^(-1/g) - 1)^(-1/h)
        odds = np.expm1(-np.log(np.where(inside, fraction, 0.5)) / g)
        dose = c * np.exp(-np.log(odds) / h)
    result: FloatArray = np.where(inside & np.isfinite(dose), dose, np.nan)
    return result


def linear(dose: ArrayLike, intercept: ArrayLike, slope: ArrayLike) -> FloatArray:
    """Straight line ``intercept + slope * dose``."""
    result: FloatArray = _as_float(intercept) + _as_float(slope) * _as_float(dose)
    return result


def log_linear(dose: ArrayLike, intercept: ArrayLike, slope: ArrayLike) -> FloatArray:
    """Straight line in log dose, ``intercept + slope * ln(dose)`` (dose > 0; a blank gives ``nan``)."""
    x = _as_float(dose)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_dose = np.where(x > 0, np.log(np.where(x > 0, x, 1.0)), np.nan)
    result: FloatArray = _as_float(intercept) + _as_float(slope) * log_dose
    return result
