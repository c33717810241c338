"""Result objects shared by every potency model: ANOVA lines, validity tests, potency estimates.

All results are frozen dataclasses. ``to_dict()`` gives canonical-JSON-ready plain data (non-finite numbers
become ``None``) and ``from_dict()`` rebuilds the object, so a stored analysis can be re-read exactly.
Fieller's theorem lives here too because the parallel-line, slope-ratio and parallel-curve models all
estimate a potency as a ratio of two correlated estimates.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any, Literal, Self, TypeVar, get_args, get_origin

T = TypeVar("T")
_Item = TypeVar("_Item")

Verdict = Literal["passed", "failed", "not tested"]


def _plain(value: Any) -> Any:
    """Dataclasses, tuples and numpy scalars as plain JSON types; non-finite floats as ``None``."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalar
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def to_plain_dict(result: Any) -> dict[str, Any]:
    """The plain-data form of a result dataclass (what ``to_dict`` returns): JSON types only, keys sorted,
    ready for :func:`secretome.domain.canonical.canonical_json` (which the analysis layer may not import)."""
    plain: dict[str, Any] = json.loads(json.dumps(_plain(result), sort_keys=True, allow_nan=False))
    return plain


def _build(annotation: Any, value: Any) -> Any:
    """Rebuild a value of type ``annotation`` from its plain form (inverse of :func:`_plain`)."""
    if value is None:
        return None
    origin = get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in get_args(annotation) if a is not type(None)]
        return _build(options[0], value) if len(options) == 1 else value
    if origin is tuple:
        args = get_args(annotation)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_build(args[0], v) for v in value)
        return tuple(_build(a, v) for a, v in zip(args, value, strict=True))
    if origin is dict:
        _, item_type = get_args(annotation)
        return {k: _build(item_type, v) for k, v in value.items()}
    if origin is Literal:
        return value
    if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
        return _from_plain(annotation, value)
    if annotation is float:
        return float(value)
    return value


def _from_plain(cls: type[T], data: Mapping[str, Any]) -> T:
    hints = typing.get_type_hints(cls)
    kwargs = {
        f.name: _build(hints[f.name], data.get(f.name))
        for f in dataclasses.fields(cls)  # type: ignore[arg-type]
        if f.init and f.name in data
    }
    return cls(**kwargs)


def find_named(items: Iterable[_Item], attribute: str, name: str) -> _Item:
    """The first of ``items`` whose ``attribute`` equals ``name``; ``KeyError(name)`` when there is none."""
    for item in items:
        if getattr(item, attribute) == name:
            return item
    raise KeyError(name)


class Serialisable:
    """Mixin: ``to_dict`` / ``from_dict`` for the frozen result dataclasses of this package."""

    def to_dict(self) -> dict[str, Any]:
        """Plain, canonical-JSON-ready data (non-finite numbers as ``None``)."""
        return to_plain_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Rebuild the result from :meth:`to_dict` output."""
        return _from_plain(cls, data)


@dataclasses.dataclass(frozen=True)
class AnovaLine(Serialisable):
    """One line of an analysis of variance: F and p are ``None`` for residual and total lines."""

    source: str
    df: int
    ss: float
    ms: float
    f: float | None = None
    p: float | None = None


@dataclasses.dataclass(frozen=True)
class ValidityTest(Serialisable):
    """A statistical validity test with its verdict.

    ``decides`` says whether the verdict counts for assay validity (Ph. Eur. 5.3: regression, parallelism,
    linearity) or is reported for information (preparations, blocks, rows, columns).
    """

    name: str
    statistic: float | None
    df: tuple[int, ...]
    p_value: float | None
    verdict: Verdict
    decides: bool
    description: str = ""

    @property
    def passed(self) -> bool:
        """True unless the test ran and failed."""
        return self.verdict != "failed"


@dataclasses.dataclass(frozen=True)
class ConfidenceInterval(Serialisable):
    """A two-sided interval; ``None`` bounds mean the interval is unbounded (Fieller with g >= 1)."""

    low: float | None
    high: float | None
    level: float
    method: str

    @property
    def bounded(self) -> bool:
        """True when both limits exist."""
        return self.low is not None and self.high is not None


@dataclasses.dataclass(frozen=True)
class PotencyEstimate(Serialisable):
    """Relative potency of one test preparation against the reference.

    ``relative_potency`` is on the dose scale the data were given in: a test dose ``d`` acts like a
    reference dose ``relative_potency * d``. Multiply by the assumed potency of the test preparation to get
    its estimated potency. ``alternative_ci`` holds a second interval where the model gives one (the
    log-scale delta-method interval of the parallel-curve model).
    """

    preparation: str
    relative_potency: float
    log_relative_potency: float
    ci: ConfidenceInterval
    g: float | None = None
    alternative_ci: ConfidenceInterval | None = None

    def percent_of_estimate(self) -> tuple[float | None, float | None]:
        """The confidence limits as a percentage of the estimate (CombiStats' 'Rel. to Est.')."""
        low = None if self.ci.low is None else 100.0 * self.ci.low / self.relative_potency
        high = None if self.ci.high is None else 100.0 * self.ci.high / self.relative_potency
        return low, high


def fieller_interval(
    numerator: float,
    denominator: float,
    var_numerator: float,
    var_denominator: float,
    covariance: float,
    t: float,
) -> tuple[float | None, float | None, float]:
    """Fieller's confidence limits for the ratio ``numerator / denominator``.

    Parameters
    ----------
    numerator, denominator
        The two estimates.
    var_numerator, var_denominator, covariance
        Their variances and covariance (already scaled by the residual variance).
    t
        The Student t quantile for the interval.

    Returns
    -------
    (low, high, g)
        The limits, or ``(None, None, g)`` when ``g = t^2 var(denominator) / denominator^2 >= 1``: the
        denominator is then not significantly different from zero and the interval is unbounded.
    """
    if denominator == 0:
        return None, None, math.inf
    g = t * t * var_denominator / denominator**2
    if g >= 1.0:
        return None, None, float(g)
    m = numerator / denominator
    reduced = var_numerator - covariance**2 / var_denominator if var_denominator > 0 else var_numerator
    discriminant = var_numerator - 2 * m * covariance + m * m * var_denominator - g * reduced
    half = t / abs(denominator) * math.sqrt(max(discriminant, 0.0))
    centre = m - (g * covariance / var_denominator if var_denominator > 0 else 0.0)
    low, high = sorted(((centre - half) / (1 - g), (centre + half) / (1 - g)))
    return float(low), float(high), float(g)


def verdict(p_value: float | None, alpha: float, *, significant_is_good: bool) -> Verdict:
    """``passed``/``failed`` for a test at level ``alpha``; ``not tested`` when there is no p-value."""
    if p_value is None or not math.isfinite(p_value):
        return "not tested"
    ok = p_value < alpha if significant_is_good else p_value >= alpha
    return "passed" if ok else "failed"
