"""Figures of gated flow data: density plots of each gate's parent population with the gate drawn."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from secretome.analysis.flow.gating import (
    EllipsoidGate,
    GatingResult,
    GatingStrategy,
    PolygonGate,
    QuadrantGate,
    Read,
    RectangleGate,
    Spillover,
    read_populations,
)
from secretome.analysis.flow.scale import ChannelScale
from secretome.analysis.flow.transforms import FloatArray


def _drawable(strategy: GatingStrategy) -> list[Any]:
    return [g for g in strategy.gates if not hasattr(g, "operation") and len(g.dimensions) in (1, 2)]


def plot_gates(
    strategy: GatingStrategy,
    result: GatingResult,
    events: npt.NDArray[Any],
    channels: Sequence[str],
    spillover: Spillover | tuple[Sequence[str], FloatArray] | None = None,
    title: str = "",
    ax: Any = None,
    scaling: Sequence[ChannelScale] | None = None,
) -> Any:
    """One panel per gate of one or two dimensions: the parent population as a density (2-D) or a histogram
    (1-D), on the gate's own (compensated, transformed) scale, with the gate outline and its % of parent.
    With ``ax`` given, only the first gate is drawn on it. ``events`` are FCS scale values, or the values
    as stored with ``scaling`` (as for :func:`~secretome.analysis.flow.gating.apply_strategy`); only the
    parents' values of the drawn dimensions are computed. Returns the figure."""
    from matplotlib.figure import Figure

    gates = _drawable(strategy)
    if ax is not None:
        gates = gates[:1]
    reads: list[Read] = [(gate.parent, d) for gate in gates for d in gate.dimensions]
    values, _ = read_populations(strategy, events, channels, spillover, result.membership, reads, scaling)
    by_read = iter(values)
    if ax is None:
        columns = min(max(len(gates), 1), 3)
        rows = max(math.ceil(len(gates) / columns), 1)
        figure = Figure(figsize=(3.4 * columns, 3.2 * rows), layout="constrained")
        axes = list(np.atleast_1d(figure.subplots(rows, columns, squeeze=False)).ravel())
    else:
        figure, axes = ax.figure, [ax]
    for axis, gate in zip(axes, gates, strict=False):
        columns_ = [next(by_read) for _ in gate.dimensions]
        node = gate.quadrants[0].id if isinstance(gate, QuadrantGate) else gate.id
        share = result.count(node).percent_of_parent
        if len(columns_) == 2:
            x, y = columns_
            finite = np.isfinite(x) & np.isfinite(y)
            # Rasterised: thousands of hexagons as vector paths would make the SVG heavy.
            axis.hexbin(
                x[finite],
                y[finite],
                gridsize=60,
                bins="log",
                cmap="viridis",
                mincnt=1,
                linewidths=0,
                rasterized=True,
            )
            _outline(axis, gate)
            axis.set_ylabel(gate.dimensions[1].label, fontsize=8)
        else:
            (x,) = columns_
            axis.hist(x[np.isfinite(x)], bins=128, histtype="stepfilled", color="tab:blue", alpha=0.6)
            if isinstance(gate, RectangleGate):
                for bound in gate.bounds[0]:
                    if bound is not None:
                        axis.axvline(bound, color="tab:red")
        axis.set_xlabel(gate.dimensions[0].label, fontsize=8)
        label = node if not isinstance(gate, QuadrantGate) else gate.id
        axis.set_title(f"{label} ({share:.1f} % of {gate.parent or 'all events'})", fontsize=9)
    for axis in axes[len(gates) :]:
        axis.set_visible(False)
    if title and ax is None:
        figure.suptitle(title, fontsize=10)
    return figure


def _outline(axis: Any, gate: Any) -> None:
    if isinstance(gate, PolygonGate):
        xs, ys = zip(*(*gate.vertices, gate.vertices[0]), strict=True)
        axis.plot(xs, ys, color="tab:red", linewidth=1.2)
    elif isinstance(gate, RectangleGate):
        (x0, x1), (y0, y1) = gate.bounds
        xlim, ylim = axis.get_xlim(), axis.get_ylim()
        x0 = xlim[0] if x0 is None else x0
        x1 = xlim[1] if x1 is None else x1
        y0 = ylim[0] if y0 is None else y0
        y1 = ylim[1] if y1 is None else y1
        axis.plot([x0, x1, x1, x0, x0], [y0, y0, y1, y1, y0], color="tab:red", linewidth=1.2)
    elif isinstance(gate, EllipsoidGate) and len(gate.mean) == 2:
        angles = np.linspace(0, 2 * math.pi, 200)
        values, vectors = np.linalg.eigh(np.asarray(gate.covariance))
        radii = np.sqrt(values * gate.distance_square)
        circle = np.stack([np.cos(angles) * radii[0], np.sin(angles) * radii[1]])
        points = vectors @ circle + np.asarray(gate.mean)[:, None]
        axis.plot(points[0], points[1], color="tab:red", linewidth=1.2)
    elif isinstance(gate, QuadrantGate):
        for divider, line in zip(gate.dividers, (axis.axvline, axis.axhline), strict=False):
            for value in divider.values:
                line(value, color="tab:red", linewidth=1.0)
