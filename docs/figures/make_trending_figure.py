"""Make the figure of docs/trending.md from a simulated lot history (run from the repository root):

.venv/bin/python docs/figures/make_trending_figure.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from secretome.analysis.trending import IMRChart

HERE = Path(__file__).resolve().parent


def imr_chart() -> None:
    """Relative potency of 40 lots: limits from the first 20, a shift from lot 28 and one outlier at lot 34."""
    rng = np.random.default_rng(21)
    potency = np.round(rng.normal(100.0, 6.0, 40), 0)
    potency[27:] += 9.0
    potency[33] = 140.0
    lots = [f"CM-{i:03d}" for i in range(1, 41)]
    chart = IMRChart(20).fit(potency, lots)
    figure = chart.plot()
    figure.axes[0].set_ylabel("relative potency (%)")
    figure.savefig(HERE / "trending_imr.png", dpi=110)
    print({rule: lots for rule, lots in chart.nelson.items() if lots})


if __name__ == "__main__":
    imr_chart()
