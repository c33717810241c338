"""Ordinary least squares for the linear assay models: nested fits give the sequential ANOVA."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from secretome.analysis.potency.results import AnovaLine

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class LinearFit:
    """Coefficients, residual sum of squares and rank of one least-squares fit."""

    design: FloatArray
    coefficients: FloatArray
    rss: float
    rank: int

    def unscaled_covariance(self) -> FloatArray:
        """(X'X)^-1; the design must have full column rank."""
        inverse = np.linalg.inv(self.design.T @ self.design)
        return np.asarray(inverse, dtype=np.float64)


def ols(design: FloatArray, y: FloatArray) -> LinearFit:
    """Least squares of ``y`` on the columns of ``design`` (which may be rank-deficient)."""
    coefficients, _, rank, _ = np.linalg.lstsq(design, y, rcond=None)
    residual = y - design @ coefficients
    return LinearFit(
        design, np.asarray(coefficients, dtype=np.float64), float(residual @ residual), int(rank)
    )


def dummies(codes: NDArray[np.intp], *, drop_first: bool = True) -> FloatArray:
    """Indicator columns of a factor given as integer codes (the first level dropped by default)."""
    levels = np.unique(codes)
    if drop_first:
        levels = levels[1:]
    return np.asarray(codes[:, None] == levels[None, :], dtype=np.float64)


def anova_line(source: str, df: int, ss: float, s2: float, df_residual: int) -> AnovaLine:
    """An ANOVA line with F = MS / s2 and its upper-tail p-value."""
    ms = ss / df
    f = ms / s2 if s2 > 0 else float("inf")
    p = float(stats.f.sf(f, df, df_residual)) if s2 > 0 else 0.0
    return AnovaLine(source, df, ss, ms, f, p)


def sequential_ss(
    blocks: list[tuple[str, FloatArray]], y: FloatArray
) -> list[tuple[str, int, float, LinearFit]]:
    """Sequential (type I) sums of squares: each named block of columns added to the previous model.

    The first block is the starting model (usually the intercept); it gets no line of its own. Returns
    ``(name, df, ss, fit after adding the block)`` per later block.
    """
    name, columns = blocks[0]
    design = columns
    previous = ols(design, y)
    lines: list[tuple[str, int, float, LinearFit]] = [(name, 0, 0.0, previous)]
    for name, columns in blocks[1:]:
        design = np.hstack([design, columns]) if columns.size else design
        current = ols(design, y)
        lines.append((name, current.rank - previous.rank, max(previous.rss - current.rss, 0.0), current))
        previous = current
    return lines
