"""Dye-dilution proliferation (CFSE, CellTrace Violet): generation peaks and the standard indices.

A dye-loaded cell halves its dye at every division, so on a log2 intensity axis generation ``g`` sits one unit
below generation ``g - 1``. The proliferation model (FlowJo's "proliferation platform") fits Gaussian peaks
at ``m0 - g`` for ``g = 0 .. G`` on log2 intensity, with one common width and a fitted weight per
generation; ``m0`` is the undivided peak (from the unstimulated control or a setting) and may move only within
a set tolerance. The fit here is by maximum likelihood on the events themselves (expectation-maximisation:
the spacing and the common width are exact M-steps), so no histogram binning enters the numbers.

From the cells per generation ``N_g`` the original (precursor) cells are ``O_g = N_g / 2^g`` and
(Roederer 2011, Cytometry A 79:95; FlowJo documentation):

- % divided = 100 x sum_{g>=1} O_g / sum_g O_g  (fraction of the ORIGINAL cells that divided at least once)
- division index = sum_g g O_g / sum_g O_g  (average divisions per original cell, undivided included)
- proliferation index = sum_{g>=1} g O_g / sum_{g>=1} O_g  (average divisions of the cells that divided)
- expansion index = sum_g N_g / sum_g O_g  (fold expansion of the whole culture)
- replication index = sum_{g>=1} N_g / sum_{g>=1} O_g  (fold expansion of the responding cells)
- fraction diluted = sum_{g>=1} N_g / sum_g N_g  (fraction of the FINAL cells that divided)

Pure: numpy only; intensities and the undivided position come in as arguments.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

FloatArray = np.ndarray[Any, np.dtype[np.float64]]

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


@dataclass(frozen=True)
class ProliferationIndices:
    """The standard indices of one culture, from its cells per generation (generation 0 = undivided)."""

    cells: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.cells) < 2:
            raise ValueError("cells: give the cells of at least generations 0 and 1")
        if any(not math.isfinite(c) or c < 0 for c in self.cells):
            raise ValueError("cells: cells per generation must be finite and >= 0")
        if sum(self.cells) <= 0:
            raise ValueError("cells: no cells in any generation")

    @property
    def original(self) -> tuple[float, ...]:
        """Original (precursor) cells per generation: ``N_g / 2^g``."""
        return tuple(n / 2.0**g for g, n in enumerate(self.cells))

    @property
    def percent_divided(self) -> float:
        original = self.original
        return 100.0 * sum(original[1:]) / sum(original)

    @property
    def division_index(self) -> float:
        original = self.original
        return sum(g * o for g, o in enumerate(original)) / sum(original)

    @property
    def proliferation_index(self) -> float:
        """Average divisions of the cells that divided; NaN when none did."""
        original = self.original
        divided = sum(original[1:])
        return sum(g * o for g, o in enumerate(original)) / divided if divided > 0 else math.nan

    @property
    def expansion_index(self) -> float:
        return sum(self.cells) / sum(self.original)

    @property
    def replication_index(self) -> float:
        """Fold expansion of the responding cells; NaN when none divided."""
        divided = sum(self.original[1:])
        return sum(self.cells[1:]) / divided if divided > 0 else math.nan

    @property
    def fraction_diluted(self) -> float:
        return sum(self.cells[1:]) / sum(self.cells)

    def to_dict(self) -> dict[str, Any]:
        def number(value: float) -> float | None:
            return value if math.isfinite(value) else None

        return {
            "cells": list(self.cells),
            "original": list(self.original),
            "percent_divided": self.percent_divided,
            "division_index": self.division_index,
            "proliferation_index": number(self.proliferation_index),
            "expansion_index": self.expansion_index,
            "replication_index": number(self.replication_index),
            "fraction_diluted": self.fraction_diluted,
        }


READOUTS = ("percent_divided", "division_index", "proliferation_index")
"""Indices a suppression assay may read (each falls as proliferation is suppressed)."""


@dataclass(frozen=True)
class ProliferationResult:
    """A fitted generation model of one sample: peaks, cells per generation and the indices.

    ``peak_log2`` is the fitted undivided peak (log2 intensity), ``sigma_log2`` the common peak width (SD on
    log2 scale); generation ``g`` sits at ``peak_log2 - g``. ``events`` were fitted; ``nonpositive`` events
    (intensity <= 0, no logarithm) were left out and are reported.
    """

    undivided: float
    peak_log2: float
    sigma_log2: float
    weights: tuple[float, ...]
    indices: ProliferationIndices
    events: int
    nonpositive: int
    log_likelihood: float
    iterations: int
    converged: bool
    flags: tuple[str, ...] = ()
    channel: str = ""
    log2_values: FloatArray = field(default_factory=lambda: np.empty(0), repr=False, compare=False)

    @property
    def generations(self) -> int:
        """The highest generation of the model (G)."""
        return len(self.weights) - 1

    @property
    def peak_cv(self) -> float:
        """Coefficient of variation (%) of a peak on the linear scale (log-normal with the fitted width)."""
        s = self.sigma_log2 * math.log(2.0)
        return 100.0 * math.sqrt(math.expm1(s * s))

    def readout(self, name: str) -> float:
        """The index named ``name`` (one of :data:`READOUTS`)."""
        if name not in READOUTS:
            raise ValueError(f"readout: {name!r} is not one of {', '.join(READOUTS)}")
        return float(getattr(self.indices, name))

    def to_dict(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "undivided": self.undivided,
            "peak_log2": self.peak_log2,
            "peak_intensity": 2.0**self.peak_log2,
            "sigma_log2": self.sigma_log2,
            "peak_cv_percent": self.peak_cv,
            "generations": self.generations,
            "weights": list(self.weights),
            **self.indices.to_dict(),
            "events": self.events,
            "nonpositive": self.nonpositive,
            "log_likelihood": self.log_likelihood,
            "iterations": self.iterations,
            "converged": self.converged,
            "flags": list(self.flags),
        }

    def density(self, log2_grid: ArrayLike) -> FloatArray:
        """Fitted events per unit log2 intensity for each generation: a (G+1) x len(grid) array."""
        grid = np.asarray(log2_grid, dtype=float)
        means = self.peak_log2 - np.arange(self.generations + 1)
        z = (grid[None, :] - means[:, None]) / self.sigma_log2
        result: FloatArray = (
            self.events * np.asarray(self.weights)[:, None] * np.exp(-0.5 * z * z - _LOG_SQRT_2PI)
        ) / self.sigma_log2
        return result

    def plot(self, ax: Any = None, title: str = "") -> Any:
        """The histogram of log2 intensity with every generation's fitted peak and their sum."""
        from matplotlib.figure import Figure

        if ax is None:
            figure = Figure(figsize=(6.0, 3.6))
            figure.subplots_adjust(left=0.12, right=0.97, bottom=0.15, top=0.88)
            ax = figure.subplots()
        else:
            figure = ax.figure
        low = self.peak_log2 - self.generations - 2.0
        high = self.peak_log2 + 2.0
        width = 1.0 / 12.0
        edges = np.arange(low, high + width, width)
        values = self.log2_values
        if values.size:
            # One filled outline, not a bar per bin: small SVG, same picture.
            ax.hist(values, bins=edges, histtype="stepfilled", color="0.8", label="events")
        grid = np.linspace(low, high, 160)
        parts = self.density(grid) * width
        for part, weight in zip(parts, self.weights, strict=True):
            if weight > 1e-3:
                ax.plot(grid, part, linewidth=0.8)
        ax.plot(grid, parts.sum(axis=0), color="black", linewidth=0.9, label="model")
        ax.axvline(self.peak_log2, color="grey", linestyle="--", linewidth=0.8)
        ax.set_xlim(low, high)
        ax.set_xlabel(f"log2 {self.channel or 'dye'} intensity")
        ax.set_ylabel("events")
        indices = self.indices
        ax.set_title(
            (f"{title}: " if title else "")
            + f"% divided {indices.percent_divided:.1f}, DI {indices.division_index:.2f}",
            fontsize=9,
        )
        return figure


class ProliferationModel:
    """Generation peaks of a dye-dilution histogram, spaced by halving, fitted by maximum likelihood.

    Parameters
    ----------
    max_generations
        The highest generation modelled (G >= 1); generation g sits at log2(I0) - g.
    peak_tolerance
        How far (log2 units) the fitted undivided peak may move from the given undivided position; 0 fixes it.
    min_events
        Fewer events than this raises a flag (not a failure).
    max_iterations, tolerance
        Expectation-maximisation stops when the log-likelihood gains less than ``tolerance`` per event, or
        after ``max_iterations`` (flag ``not_converged``).
    """

    def __init__(
        self,
        max_generations: int = 8,
        peak_tolerance: float = 0.3,
        min_events: int = 1000,
        max_iterations: int = 5000,
        tolerance: float = 1e-10,
    ) -> None:
        if (
            isinstance(max_generations, bool)
            or not isinstance(max_generations, int)
            or not (1 <= max_generations <= 20)
        ):
            raise ValueError(f"max_generations: a whole number from 1 to 20, got {max_generations!r}")
        if not (math.isfinite(peak_tolerance) and 0 <= peak_tolerance <= 2):
            raise ValueError(f"peak_tolerance: log2 units from 0 to 2, got {peak_tolerance!r}")
        if isinstance(min_events, bool) or not isinstance(min_events, int) or min_events < 0:
            raise ValueError(f"min_events: a whole number >= 0, got {min_events!r}")
        if max_iterations < 1:
            raise ValueError(f"max_iterations: must be >= 1, got {max_iterations!r}")
        if not (tolerance > 0):
            raise ValueError(f"tolerance: must be > 0, got {tolerance!r}")
        self.max_generations = max_generations
        self.peak_tolerance = float(peak_tolerance)
        self.min_events = min_events
        self.max_iterations = int(max_iterations)
        self.tolerance = float(tolerance)

    def fit(self, intensities: ArrayLike, undivided: float, channel: str = "") -> ProliferationResult:
        """Fit the generations of ``intensities`` (linear dye intensities of the gated responder cells).

        ``undivided`` is the undivided peak position (linear intensity), e.g. from
        :func:`undivided_position` of the unstimulated control.
        """
        if not (isinstance(undivided, int | float) and math.isfinite(undivided) and undivided > 0):
            raise ValueError(f"undivided: the undivided peak must be a positive intensity, got {undivided!r}")
        values = np.asarray(intensities, dtype=float).ravel()
        if not np.all(np.isfinite(values)):
            raise ValueError("intensities: must be finite numbers")
        positive = values > 0
        x = np.log2(values[positive])
        n = int(x.size)
        if n < 2:
            raise ValueError(f"intensities: at least 2 positive events are needed, got {n}")
        anchor = math.log2(undivided)
        generations = np.arange(self.max_generations + 1, dtype=float)
        weights = np.full(generations.size, 1.0 / generations.size)
        peak = anchor
        sigma = 0.3
        previous = -math.inf
        converged = False
        log_likelihood = -math.inf
        iterations = 0
        while iterations < self.max_iterations:
            iterations += 1
            # E-step: log of weight x density of every event under every generation, normalised per event.
            z = (x[:, None] - (peak - generations)[None, :]) / sigma
            log_parts = (
                np.log(np.maximum(weights, 1e-300))[None, :] - 0.5 * z * z - _LOG_SQRT_2PI - math.log(sigma)
            )
            top = log_parts.max(axis=1, keepdims=True)
            log_total = top[:, 0] + np.log(np.exp(log_parts - top).sum(axis=1))
            log_likelihood = float(log_total.sum())
            if log_likelihood - previous < self.tolerance * n:
                converged = True
                break
            previous = log_likelihood
            responsibility = np.exp(log_parts - log_total[:, None])
            # M-step: weights; the peak (a quadratic in m0 given the responsibilities, so clipping to the
            # tolerance window is the exact constrained optimum); the common width.
            per_generation = responsibility.sum(axis=0)
            weights = per_generation / n
            shifted = x[:, None] + generations[None, :]
            free_peak = float((responsibility * shifted).sum() / n)
            peak = min(max(free_peak, anchor - self.peak_tolerance), anchor + self.peak_tolerance)
            residual = shifted - peak
            sigma = max(math.sqrt(float((responsibility * residual * residual).sum() / n)), 1e-3)
        flags: list[str] = []
        if not converged:
            flags.append("not_converged")
        if self.peak_tolerance > 0 and abs(peak - anchor) >= self.peak_tolerance - 1e-9:
            flags.append("undivided_peak_at_tolerance_limit")
        if weights[-1] > 0.01:
            flags.append("cells_in_last_generation: raise max_generations")
        if sigma > 0.5:
            flags.append("wide_peaks: generations overlap")
        if n < self.min_events:
            flags.append(f"few_events: {n} < {self.min_events}")
        cells = tuple(float(w * n) for w in weights)
        return ProliferationResult(
            undivided=float(undivided),
            peak_log2=float(peak),
            sigma_log2=float(sigma),
            weights=tuple(float(w) for w in weights),
            indices=ProliferationIndices(cells),
            events=n,
            nonpositive=int(values.size - n),
            log_likelihood=log_likelihood,
            iterations=iterations,
            converged=converged,
            flags=tuple(flags),
            channel=channel,
            log2_values=x,
        )


def undivided_position(intensities: ArrayLike, search: float = 1.0) -> float:
    """The undivided peak (linear intensity) of an unstimulated control: a mean shift on log2 intensity
    from the median, each step to the mean of the events within ``search / 2`` log2 units.

    Unstimulated cells are nearly all undivided, so their main peak marks where generation 0 sits; the window
    (one generation wide by default) keeps the few divided cells one log2 unit lower out of it.
    """
    values = np.asarray(intensities, dtype=float).ravel()
    values = values[np.isfinite(values) & (values > 0)]
    if values.size < 10:
        raise ValueError(f"intensities: at least 10 positive events are needed, got {values.size}")
    if not (math.isfinite(search) and search > 0):
        raise ValueError(f"search: must be a positive number of log2 units, got {search!r}")
    x = np.log2(values)
    return float(2.0 ** _mean_shift(x, float(np.median(x)), search))


def brightest_peak(intensities: ArrayLike, search: float = 1.0) -> float:
    """The brightest peak (linear intensity) of a dye-dilution histogram: a mean shift on log2 intensity
    started at the 99th percentile, each step to the mean of the events within ``search / 2`` log2 units.

    Undivided cells hold the most dye, so without an unstimulated control their peak is the brightest one;
    the fit may still move it by its tolerance. Events above it (doublets) pull it up by little, being few.
    """
    values = np.asarray(intensities, dtype=float).ravel()
    values = values[np.isfinite(values) & (values > 0)]
    if values.size < 10:
        raise ValueError(f"intensities: at least 10 positive events are needed, got {values.size}")
    if not (math.isfinite(search) and search > 0):
        raise ValueError(f"search: must be a positive number of log2 units, got {search!r}")
    x = np.log2(values)
    return float(2.0 ** _mean_shift(x, float(np.percentile(x, 99.0)), search))


def _mean_shift(x: FloatArray, centre: float, search: float) -> float:
    # The mean of the events near the centre moves towards the mode of the peak it stands in.
    for _ in range(50):
        near = x[np.abs(x - centre) <= search / 2]
        if near.size == 0:
            break
        moved = float(np.mean(near))
        if abs(moved - centre) < 1e-6:
            break
        centre = moved
    return centre


def indices_from_counts(cells: Sequence[float]) -> ProliferationIndices:
    """The indices of given cells per generation (generation 0 first)."""
    return ProliferationIndices(tuple(float(c) for c in cells))


__all__: Sequence[str] = [
    "READOUTS",
    "ProliferationIndices",
    "ProliferationModel",
    "ProliferationResult",
    "brightest_peak",
    "indices_from_counts",
    "undivided_position",
]
