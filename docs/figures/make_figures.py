"""Make the figures of docs/dose-response.md from simulated standards (run from the repository root):

.venv/bin/python docs/figures/make_figures.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from secretome.analysis import CurveFitter, five_pl

HERE = Path(__file__).resolve().parent


def standard_curve() -> None:
    """A 5PL standard curve with blanks, bands, LLOQ/ULOQ and residuals."""
    rng = np.random.default_rng(7)
    dose = np.repeat(np.r_[0.0, np.geomspace(0.05, 200.0, 9)], 2)
    response = five_pl(dose, 0.08, 2.6, 6.0, 1.1, 0.5) * (1 + rng.normal(0, 0.03, dose.size))
    fit = CurveFitter("auto", "power").fit(dose, response)
    fit.plot().savefig(HERE / "dose_response_curve.png", dpi=110)


def precision_profile() -> None:
    """Recovery and precision profile of the standards, with the default acceptance limits."""
    rng = np.random.default_rng(3)
    dose = np.repeat(np.geomspace(0.05, 200.0, 9), 3)
    response = five_pl(dose, 0.08, 2.6, 6.0, 1.1) + rng.normal(0, 0.02, dose.size)
    fit = CurveFitter("4pl").fit(dose, response)
    grid = np.geomspace(0.05, 200.0, 120)
    figure = Figure(figsize=(6.4, 3.6), layout="constrained")
    ax = figure.subplots()
    ax.plot(grid, fit.precision_profile(grid, replicates=3), label="precision profile (CV of a triplicate)")
    levels = [s["dose"] for s in fit.standards]
    ax.scatter(
        levels,
        [abs(s["recovery"] - 100) if s["recovery"] == s["recovery"] else np.nan for s in fit.standards],
        color="black",
        s=16,
        label="|recovery - 100| of each standard (%)",
    )
    ax.axhline(
        fit.rules.max_cv,
        color="tab:red",
        linestyle="--",
        linewidth=1,
        label="limit: CV 20 %, recovery 80-120 %",
    )
    for limit in (fit.lloq, fit.uloq):
        if limit is not None:
            ax.axvline(limit, color="tab:green", linestyle=":", linewidth=1)
    ax.set_xscale("log")
    ax.set_ylim(0, 60)
    ax.set_xlabel("dose")
    ax.set_ylabel("%")
    ax.set_title(f"LLOQ {fit.lloq:.3g}, ULOQ {fit.uloq:.3g}", fontsize=9)
    ax.legend(fontsize=7)
    figure.savefig(HERE / "dose_response_precision.png", dpi=110)


def flagged_curves() -> None:
    """A hook effect and an unreached upper plateau, as the engine flags them."""
    rng = np.random.default_rng(5)
    dose = np.repeat(np.geomspace(0.1, 100.0, 8), 2)
    hook = five_pl(dose, 0.1, 2.0, 5.0, 1.2) + rng.normal(0, 0.01, dose.size)
    hook[-4:] -= 0.6
    unreached = five_pl(dose, 0.1, 2.0, 300.0, 1.2) + rng.normal(0, 0.01, dose.size)
    figure = Figure(figsize=(9, 3.6), layout="constrained")
    for ax, response in zip(figure.subplots(1, 2), (hook, unreached), strict=True):
        fit = CurveFitter("4pl").fit(dose, response)
        fit.plot(ax)
        ax.set_title(", ".join(f for f in fit.flags if "quantitation" not in f) or "no flags", fontsize=8)
    figure.savefig(HERE / "dose_response_flags.png", dpi=110)


if __name__ == "__main__":
    standard_curve()
    precision_profile()
    flagged_curves()
