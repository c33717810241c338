"""Figures of standard curves (matplotlib, object API only, so the Agg backend works without a display)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from secretome.analysis.doseresponse import CurveFit


def _dose_grid(fit: CurveFit) -> Any:
    positive = fit.dose[fit.dose > 0]
    low, high = float(positive.min()), float(positive.max())
    return np.geomspace(low / 2, high * 2, 200)


def plot_curve(fit: CurveFit, ax: Any = None) -> Any:
    """Standards, fitted curve, 95 % confidence and prediction bands, LLOQ/ULOQ; a residual panel when the
    figure is made here. Returns the figure. Blanks (dose 0) are drawn at the left edge of the log axis."""
    from matplotlib.figure import Figure

    residual_ax = None
    if ax is None:
        figure = Figure(figsize=(6.4, 5.6), layout="constrained")
        ax, residual_ax = figure.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    else:
        figure = ax.figure
    grid = _dose_grid(fit)
    bands = fit.bands(grid)
    edge = float(grid[0])
    shown = np.where(fit.dose > 0, fit.dose, edge)
    used = ~fit.excluded
    ax.fill_between(
        grid,
        bands["prediction_low"],
        bands["prediction_high"],
        color="tab:blue",
        alpha=0.10,
        label="prediction band",
    )
    ax.fill_between(
        grid,
        bands["confidence_low"],
        bands["confidence_high"],
        color="tab:blue",
        alpha=0.25,
        label="confidence band",
    )
    ax.plot(grid, bands["fit"], color="tab:blue", label=f"{fit.model.upper()} fit")
    blank = fit.dose == 0
    ax.scatter(
        shown[used & ~blank], fit.response[used & ~blank], color="black", s=18, zorder=3, label="standards"
    )
    if np.any(used & blank):
        ax.scatter(
            shown[used & blank],
            fit.response[used & blank],
            color="grey",
            marker="s",
            s=18,
            zorder=3,
            label="blanks (dose 0, at left edge)",
        )
    if np.any(~used):
        ax.scatter(
            shown[~used], fit.response[~used], color="tab:red", marker="x", s=30, zorder=3, label="excluded"
        )
    for index in fit.outliers:
        ax.annotate("outlier", (shown[index], fit.response[index]), fontsize=7, color="tab:red")
    for limit, name in ((fit.lloq, "LLOQ"), (fit.uloq, "ULOQ")):
        if limit is not None:
            ax.axvline(limit, color="tab:green", linestyle="--", linewidth=1)
            ax.annotate(name, (limit, ax.get_ylim()[1]), fontsize=7, color="tab:green", va="top", rotation=90)
    ax.set_xscale("log")
    ax.set_ylabel("response")
    ax.legend(fontsize=7, loc="best")
    title = f"{fit.model.upper()}, weighting {fit.weighting}"
    if fit.ec50 is not None:
        title += f", EC50 {fit.ec50:.4g}"
    ax.set_title(title, fontsize=9)
    if residual_ax is not None:
        residual_ax.axhline(0, color="grey", linewidth=1)
        residual_ax.scatter(shown[used], fit.residuals()[used], color="black", s=14)
        residual_ax.set_xscale("log")
        residual_ax.set_xlabel("dose")
        residual_ax.set_ylabel("residual")
    else:
        ax.set_xlabel("dose")
    return figure
