"""Control charts, run rules and capability for 10,000 lots x 30 attributes, against a plain loop in the
same run.

Three ways over the same simulated history (limits from the first 50 lots; a drift, a shift and outliers
planted so that rules fire):

* ``batch``: :func:`imr_limits` and :func:`all_flags` on the whole lots x attributes table at once, moving
  ranges flagged against D4 MRbar, then :class:`Capability` per attribute;
* ``per attribute``: :class:`IMRChart` (the frozen chart with its rule lists) and :class:`Capability` for each
  attribute, as the trend pages use them;
* ``loop``: the run rules written point by point from the rule text (``tests/unit/trending/loops.py``) and
  capability by plain sums.

Best of ``REPEATS`` runs for the fast ways (a shared machine's other work inflates single runs), one run of
the loop. Checks that all three flag the same lots. Run: ``.venv/bin/python -m benchmarks trending``
(``TREND_LOTS=2000`` for a shorter run).
"""

from __future__ import annotations

import math
import os
import time
from typing import Any

import numpy as np
from tests.unit.trending.loops import loop_imr, loop_rules
from threadpoolctl import threadpool_limits

from secretome.analysis.trending import Capability, IMRChart, all_flags, imr_limits
from secretome.analysis.trending.charts import D4, moving_ranges
from secretome.analysis.trending.rules import lot_indices

ATTRIBUTES = 30
BASELINE = 50
REPEATS = 5

Array = np.ndarray[Any, np.dtype[np.float64]]


def simulate(lots: int, seed: int = 13) -> Array:
    """Lots x attributes: noise with a slow drift, a shift two thirds of the way and a few outliers."""
    rng = np.random.default_rng(seed)
    values = rng.normal(100.0, 5.0, size=(lots, ATTRIBUTES))
    values += np.linspace(0.0, 4.0, lots)[:, None] * (np.arange(ATTRIBUTES) % 3 == 0)
    values[2 * lots // 3 :, ::5] += 6.0
    outliers = rng.random(values.shape) < 0.001
    values[outliers] += rng.choice([-30.0, 30.0], size=int(outliers.sum()))
    return np.round(values, 1)  # as reported: ties and repeated values occur


def batch(values: Array) -> tuple[dict[str, Any], list[Any]]:
    centre, sigma, mr_bar = imr_limits(values, BASELINE)
    nelson, western = all_flags(values, centre, sigma)
    mr_flags = moving_ranges(values) > D4 * mr_bar
    capability = [Capability(70.0, 130.0).fit(values[:, j]) for j in range(values.shape[1])]
    return {"nelson": nelson, "western": western, "mr": mr_flags}, capability


def per_attribute(values: Array) -> tuple[list[Any], list[Any]]:
    charts = [IMRChart(BASELINE).fit(values[:, j]) for j in range(values.shape[1])]
    capability = [Capability(70.0, 130.0).fit(values[:, j]) for j in range(values.shape[1])]
    return charts, capability


def loop(values: Array) -> list[tuple[dict[int, list[int]], float]]:
    out = []
    for j in range(values.shape[1]):
        column = [float(v) for v in values[:, j]]
        centre, sigma, _ = loop_imr(column, BASELINE)
        nelson, _ = loop_rules(column, centre, sigma)
        n = len(column)
        mean = sum(column) / n
        within = sum(abs(column[i] - column[i - 1]) for i in range(1, n)) / (n - 1) / 1.128
        cpk = min(130.0 - mean, mean - 70.0) / (3 * within)
        sd = math.sqrt(sum((v - mean) ** 2 for v in column) / (n - 1))
        ppk = min(130.0 - mean, mean - 70.0) / (3 * sd)
        out.append((nelson, cpk + 0 * ppk))
    return out


def _best(run: Any, values: Array) -> tuple[float, Any]:
    best, result = math.inf, None
    for _ in range(REPEATS):
        start = time.perf_counter()
        result = run(values)
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    lots = int(os.environ.get("TREND_LOTS", "10000"))
    values = simulate(lots)
    with threadpool_limits(1):
        batch(values[:200])  # warm-up: imports, scipy distributions
        per_attribute(values[:200])
        t_batch, (flags, capability) = _best(batch, values)
        t_each, (charts, _) = _best(per_attribute, values)
        start = time.perf_counter()
        looped = loop(values)
        t_loop = time.perf_counter() - start
    for j in range(ATTRIBUTES):
        expected, cpk = looped[j]
        assert {r: lot_indices(f[:, j]) for r, f in flags["nelson"].items()} == expected
        assert {r: list(v) for r, v in charts[j].nelson.items()} == expected
        assert math.isclose(capability[j].cpk.estimate or 0.0, cpk, rel_tol=1e-9)
    fired = sum(len(v) for chart in charts for v in chart.nelson.values())
    print(f"{lots} lots x {ATTRIBUTES} attributes, limits from the first {BASELINE}; {fired} Nelson flags")
    print(f"batch (whole table):      {t_batch * 1000:8.1f} ms")
    print(f"per attribute (objects):  {t_each * 1000:8.1f} ms")
    print(f"plain loop:               {t_loop * 1000:8.1f} ms")
    print(f"speed-up: batch {t_loop / t_batch:.0f}x, per attribute {t_loop / t_each:.0f}x the loop")


if __name__ == "__main__":
    main()
