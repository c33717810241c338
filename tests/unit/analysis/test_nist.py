"""The least-squares machinery against NIST StRD certified values (Rat42, Rat43), from both NIST starts.

The solver and the covariance ``s^2 (J^T J)^-1`` are the ones every dose-response fit uses; Rat43 is also
run through :func:`five_pl` itself (Rat43 is a 5PL in ``exp(x)`` with the lower asymptote at 0).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from secretome.analysis import lm
from secretome.analysis.logistic import five_pl, five_pl_jacobian

DATA = json.loads(
    (Path(__file__).resolve().parents[2] / "data" / "nist" / "nist_strd_sigmoid.json").read_text()
)
DATASETS: dict[str, Any] = DATA["datasets"]

Array = np.ndarray[Any, np.dtype[np.float64]]


def _rat42(x: Array, b: Array) -> tuple[Array, Array]:
    e = np.exp(b[:, 1:2] - b[:, 2:3] * x)
    f = b[:, 0:1] / (1 + e)
    jac = np.stack([1 / (1 + e), -b[:, 0:1] * e / (1 + e) ** 2, b[:, 0:1] * x * e / (1 + e) ** 2], axis=-1)
    return f, jac


def _rat43(x: Array, b: Array) -> tuple[Array, Array]:
    b1, b2, b3, b4 = (b[:, i : i + 1] for i in range(4))
    e = np.exp(b2 - b3 * x)
    base = 1 + e
    f = b1 / base ** (1 / b4)
    d1 = 1 / base ** (1 / b4)
    d2 = -b1 / b4 * e / base ** (1 / b4 + 1)
    d3 = b1 / b4 * x * e / base ** (1 / b4 + 1)
    d4 = b1 * np.log(base) / b4**2 / base ** (1 / b4)
    return f, np.stack([d1, d2, d3, d4], axis=-1)


MODELS: dict[str, Callable[[Array, Array], tuple[Array, Array]]] = {"Rat42": _rat42, "Rat43": _rat43}


def _solve(name: str) -> tuple[lm.Solution, Array, Array]:
    dataset = DATASETS[name]
    x = np.array(dataset["x"], dtype=float)
    y = np.array(dataset["y"], dtype=float)
    names = sorted(dataset["certified"])
    starts = np.array([[dataset[s][k] for k in names] for s in ("start1", "start2")], dtype=float)
    model = MODELS[name]
    solution = lm.levenberg_marquardt(
        lambda theta, rows: model(x, theta)[0] - y, lambda theta, rows: model(x, theta)[1], starts
    )
    return solution, x, y


def _digits(estimate: float, certified: float) -> float:
    """Log relative error, the NIST 'number of correct significant digits'."""
    if estimate == certified:
        return 16.0
    return float(-np.log10(abs(estimate - certified) / abs(certified)))


@pytest.mark.parametrize("name", ["Rat42", "Rat43"])
@pytest.mark.parametrize("start", [0, 1], ids=["start1", "start2"])
def test_solver_reproduces_certified_estimates_and_standard_errors(name: str, start: int) -> None:
    dataset = DATASETS[name]
    solution, x, _y = _solve(name)
    assert solution.status[start] == lm.CONVERGED
    names = sorted(dataset["certified"])
    theta = solution.theta[start]
    rss = float(solution.cost[start])
    df = int(dataset["df"])
    jac = MODELS[name](x, theta[None, :])[1][0]
    covariance = lm.parameter_covariance(jac, rss, df)
    for i, key in enumerate(names):
        estimate, standard_error = dataset["certified"][key]
        assert _digits(theta[i], estimate) >= 6, (key, theta[i], estimate)
        assert _digits(float(np.sqrt(covariance[i, i])), standard_error) >= 4, key
    assert _digits(rss, dataset["residual_sum_of_squares"]) >= 6
    assert _digits(float(np.sqrt(rss / df)), dataset["residual_sd"]) >= 6


@pytest.mark.parametrize("start", ["start1", "start2"])
def test_rat43_through_the_five_parameter_logistic(start: str) -> None:
    """Rat43 is ``top / (1 + (inflection / X)^hill)^asymmetry`` with ``X = e^x``, ``hill = b3``,
    ``inflection = e^(b2/b3)``, ``asymmetry = 1/b4`` and the lower asymptote 0."""
    dataset = DATASETS["Rat43"]
    x = np.exp(np.array(dataset["x"], dtype=float))
    y = np.array(dataset["y"], dtype=float)
    b = dataset[start]
    # Search parameters: top, b2 = hill * ln(inflection), hill, ln(asymmetry) (NIST's own b1, b2, b3 and -ln b4).
    theta0 = np.array([[b["b1"], b["b2"], b["b3"], -np.log(b["b4"])]])

    def natural(theta: Array) -> tuple[Array, Array, Array, Array]:
        return theta[:, 0:1], np.exp(theta[:, 1:2] / theta[:, 2:3]), theta[:, 2:3], np.exp(theta[:, 3:4])

    def residuals(theta: Array, rows: Any) -> Array:
        top, c, h, g = natural(theta)
        return np.asarray(five_pl(x, 0.0, top, c, h, g) - y)

    def jacobian(theta: Array, rows: Any) -> Array:
        top, c, h, g = natural(theta)
        full = five_pl_jacobian(x, 0.0, top, c, h, g)
        d_b2 = full[..., 2] * c / h
        d_b3 = full[..., 3] - full[..., 2] * c * theta[:, 1:2] / h**2
        return np.stack([full[..., 1], d_b2, d_b3, full[..., 4] * g], axis=-1)

    solution = lm.levenberg_marquardt(residuals, jacobian, theta0)
    assert solution.converged[0]
    top, c, h, g = (float(v[0, 0]) for v in natural(solution.theta))
    certified = dataset["certified"]
    assert _digits(top, certified["b1"][0]) >= 6
    assert _digits(float(solution.theta[0, 1]), certified["b2"][0]) >= 6
    assert _digits(h, certified["b3"][0]) >= 6
    assert _digits(1 / g, certified["b4"][0]) >= 6
    assert _digits(float(solution.cost[0]), dataset["residual_sum_of_squares"]) >= 6
    # Standard errors of the directly estimated parameters, from the natural-parameter Jacobian.
    full = five_pl_jacobian(x, 0.0, top, c, h, g)
    full_cov = lm.parameter_covariance(full[:, 1:], float(solution.cost[0]), 11)
    assert _digits(float(np.sqrt(full_cov[0, 0])), certified["b1"][1]) >= 4
    assert _digits(float(np.sqrt(full_cov[2, 2])), certified["b3"][1]) >= 4
