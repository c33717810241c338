"""Full 4PL relative-potency analysis per assay: Secretome against the same analysis written with scipy.

One assay: reference and one test preparation, 8 doses in triplicate. Secretome's
:class:`~secretome.analysis.potency.ParallelCurveAssay` fits both preparations unconstrained and jointly
constrained, tests parallelism (F and likelihood ratio), computes equivalence intervals, suitability and the
Fieller and delta limits. The baseline does the same with ``scipy.optimize.curve_fit`` (one start per fit,
from the data), in a Python loop over the assays. Both are timed in this run, in alternating rounds; the
ratio is what counts.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray
from scipy import stats
from scipy.optimize import curve_fit

from secretome.analysis.logistic import four_pl
from secretome.analysis.potency import ParallelCurveAssay

FloatArray = NDArray[np.float64]
DOSES = np.repeat(np.geomspace(0.01, 100.0, 8), 3)
ASSAYS = 30
#: Both analyses run in alternation this many times; each is reported by its fastest round, the one the
#: machine's other work disturbed least.
ROUNDS = 7


def _assays(count: int) -> list[tuple[list[str], FloatArray, FloatArray]]:
    rng = np.random.default_rng(2024)
    assays = []
    for _ in range(count):
        rp = float(rng.uniform(0.5, 2.0))
        reference = four_pl(DOSES, 0.1, 2.0, 1.0, 1.0) + rng.normal(0, 0.03, DOSES.size)
        test = four_pl(DOSES, 0.1, 2.0, 1.0 / rp, 1.0) + rng.normal(0, 0.03, DOSES.size)
        preparation = ["S"] * DOSES.size + ["T"] * DOSES.size
        assays.append((preparation, np.concatenate([DOSES, DOSES]), np.concatenate([reference, test])))
    return assays


def _scipy_analysis(preparation: list[str], dose: FloatArray, response: FloatArray) -> float:
    """Both fits, F-test, hill and span ratio intervals, RP with a delta-method interval, with scipy."""
    is_test = np.array([p == "T" for p in preparation])

    def curve(x: FloatArray, bottom: float, top: float, log_c: float, hill: float) -> FloatArray:
        return np.asarray(bottom + (top - bottom) / (1 + np.exp(hill * (log_c - np.log(x)))))

    fits = []
    for mask in (~is_test, is_test):
        start = [response[mask].min(), response[mask].max(), float(np.log(np.median(dose[mask]))), 1.0]
        params, cov = curve_fit(curve, dose[mask], response[mask], p0=start, maxfev=5000)
        fits.append((params, cov, float(((curve(dose[mask], *params) - response[mask]) ** 2).sum())))

    def joint(
        x: FloatArray, bottom: float, top: float, log_c: float, hill: float, shift: float
    ) -> FloatArray:
        return curve(x[0], bottom, top, log_c - shift * x[1], hill)

    x = np.vstack([dose, is_test.astype(float)])
    params, cov = curve_fit(joint, x, response, p0=[*fits[0][0], fits[0][0][2] - fits[1][0][2]], maxfev=5000)
    rss_c = float(((joint(x, *params) - response) ** 2).sum())
    rss_u = fits[0][2] + fits[1][2]
    n = response.size
    df_u, df_c = n - 8, n - 5
    f = ((rss_c - rss_u) / (df_c - df_u)) / (rss_u / df_u)
    p_parallel = stats.f.sf(f, df_c - df_u, df_u)
    t90 = stats.t.ppf(0.95, df_u)
    hill_ratio = fits[1][0][3] / fits[0][0][3]
    se = hill_ratio * math.sqrt(fits[1][1][3, 3] / fits[1][0][3] ** 2 + fits[0][1][3, 3] / fits[0][0][3] ** 2)
    hill_ci = (hill_ratio - t90 * se, hill_ratio + t90 * se)
    t = stats.t.ppf(0.975, df_c)
    rp = math.exp(params[4])
    rp_ci = (math.exp(params[4] - t * math.sqrt(cov[4, 4])), math.exp(params[4] + t * math.sqrt(cov[4, 4])))
    report = {"rp": rp, "ci": rp_ci, "hill_ratio_ci": hill_ci, "parallelism_p": p_parallel}
    return float(report["rp"])


def _secretome_analysis(preparation: list[str], dose: FloatArray, response: FloatArray) -> float:
    return ParallelCurveAssay("S").fit(preparation, dose, response).potencies[0].relative_potency


def _time(
    analysis: Callable[[list[str], FloatArray, FloatArray], float],
    assays: list[tuple[list[str], FloatArray, FloatArray]],
) -> tuple[float, list[float]]:
    start = time.perf_counter()
    potencies = [analysis(*assay) for assay in assays]
    return (time.perf_counter() - start) / len(assays), potencies


def main() -> None:
    """Print the time per assay of both analyses, their ratio and how far their potencies differ."""
    assays = _assays(ASSAYS)
    _secretome_analysis(*assays[0])  # import and first-call costs out of the measurement
    _scipy_analysis(*assays[0])
    ours = baseline = math.inf
    for _ in range(ROUNDS):
        elapsed, ours_rp = _time(_secretome_analysis, assays)
        ours = min(ours, elapsed)
        elapsed, baseline_rp = _time(_scipy_analysis, assays)
        baseline = min(baseline, elapsed)
    worst = max(abs(math.log(a / b)) for a, b in zip(ours_rp, baseline_rp, strict=True))
    print(f"full 4PL potency analysis, {ASSAYS} assays of 2 x 8 doses x 3, best of {ROUNDS} rounds:")
    print(
        f"  secretome ParallelCurveAssay : {ours * 1e3:8.1f} ms per assay (both fits, F/LR, equivalence, Fieller + delta, suitability)"
    )
    print(
        f"  scipy curve_fit loop         : {baseline * 1e3:8.1f} ms per assay (single start, F, hill-ratio and delta intervals)"
    )
    print(f"  ratio secretome / scipy      : {ours / baseline:8.2f}")
    print(f"  largest |ln RP difference|   : {worst:.2e}")


if __name__ == "__main__":
    main()
