"""Checking and arranging assay data: preparations, doses and responses as arrays, the reference first."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]

TRANSFORMS: dict[str, Callable[[FloatArray], FloatArray]] = {
    "none": lambda y: y,
    "ln": np.log,
    "log10": np.log10,
    "sqrt": np.sqrt,
    "square": np.square,
}
"""Response transformations of Ph. Eur. 5.3 (section 3.1.3) by name."""


@dataclass(frozen=True)
class AssayData:
    """Observations of one assay, checked: the reference is ``preparations[0]``."""

    preparations: tuple[str, ...]
    preparation_index: NDArray[np.intp]
    dose: FloatArray
    response: FloatArray

    @property
    def reference(self) -> str:
        """The reference (standard) preparation."""
        return self.preparations[0]

    @property
    def tests(self) -> tuple[str, ...]:
        """The test preparations, in the order they first appear in the data."""
        return self.preparations[1:]

    def doses_of(self, index: int) -> FloatArray:
        """The distinct doses of preparation ``index``, ascending."""
        return np.unique(self.dose[self.preparation_index == index])

    @cached_property
    def dose_groups(self) -> DoseGroups:
        """The observations grouped by preparation and dose."""
        levels = np.unique(self.dose)
        group = self.preparation_index * levels.size + np.searchsorted(levels, self.dose)
        shape = (len(self.preparations), levels.size)
        size = np.bincount(group, minlength=shape[0] * shape[1])
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.bincount(group, weights=self.response, minlength=size.size) / size
        return DoseGroups(levels, group, mean.reshape(shape), size.reshape(shape))


@dataclass(frozen=True)
class DoseGroups:
    """Observations grouped by preparation and dose: ``mean`` and ``size`` are ``(preparations, levels)``
    arrays (0 observations and a mean of ``nan`` where a preparation lacks a dose)."""

    levels: FloatArray  # every distinct dose of the assay, ascending
    group: NDArray[np.intp]  # of every observation: preparation * levels.size + level
    mean: FloatArray
    size: NDArray[np.intp]


def arrange(
    preparation: Sequence[str] | ArrayLike,
    dose: ArrayLike,
    response: ArrayLike,
    reference: str,
    *,
    min_doses: int,
    allow_zero_dose: bool = False,
) -> AssayData:
    """Check and arrange observations; raise ``ValueError`` naming what is wrong.

    ``min_doses`` is the number of distinct doses every preparation needs for the model.
    """
    labels = np.asarray(preparation, dtype=str)
    dose_array = np.asarray(dose, dtype=float)
    response_array = np.asarray(response, dtype=float)
    if not (labels.shape == dose_array.shape == response_array.shape) or labels.ndim != 1:
        raise ValueError("preparation, dose and response must be one-dimensional and of equal length")
    if labels.size == 0:
        raise ValueError("preparation: no observations")
    if not np.isfinite(dose_array).all():
        raise ValueError("dose: every dose must be a finite number")
    if not np.isfinite(response_array).all():
        raise ValueError("response: every response must be a finite number")
    if allow_zero_dose:
        if (dose_array < 0).any():
            raise ValueError("dose: doses must not be negative")
    elif (dose_array <= 0).any():
        raise ValueError("dose: doses must be positive (the model works on log dose)")
    names = list(dict.fromkeys(labels.tolist()))
    if reference not in names:
        raise ValueError(
            f"reference: no preparation named {reference!r} in the data (found: {', '.join(names)})"
        )
    ordered = (reference, *[n for n in names if n != reference])
    if len(ordered) < 2:
        raise ValueError(
            "preparation: the data hold only the reference; at least one test preparation is needed"
        )
    position = {name: i for i, name in enumerate(ordered)}
    index = np.array([position[label] for label in labels.tolist()], dtype=np.intp)
    data = AssayData(ordered, index, dose_array, response_array)
    groups = data.dose_groups
    counted = groups.size[:, groups.levels > 0] if allow_zero_dose else groups.size
    doses = (counted > 0).sum(axis=1)
    for name, count in zip(ordered, doses.tolist(), strict=True):
        if count < min_doses:
            raise ValueError(
                f"preparation {name!r} has {count} dose(s); this model needs at least {min_doses}"
            )
    return data


def transform_response(response: FloatArray, transform: str) -> FloatArray:
    """Apply a named response transformation, refusing values it cannot take."""
    if transform not in TRANSFORMS:
        raise ValueError(f"transform must be one of {', '.join(TRANSFORMS)}, not {transform!r}")
    if transform in ("ln", "log10") and np.any(response <= 0):
        raise ValueError(f"transform {transform!r}: responses must be positive")
    if transform == "sqrt" and np.any(response < 0):
        raise ValueError("transform 'sqrt': responses must not be negative")
    return TRANSFORMS[transform](response)


def factor_codes(values: Sequence[object] | ArrayLike, name: str, size: int) -> NDArray[np.intp]:
    """Integer codes of a design factor (block, row, column), checked for length."""
    array = np.asarray(values).astype(str)
    if array.shape != (size,):
        raise ValueError(f"{name}: one value per observation is needed ({size})")
    _, codes = np.unique(array, return_inverse=True)
    return codes.astype(np.intp)
