"""System and sample suitability (USP <1032>/<1034>): each criterion rejects or warns.

System suitability judges the assay run through the reference curve (fit quality, asymptotes, span,
slope) and an assay control's relative potency; sample suitability judges each test preparation
(similarity to the reference, responses within the reference's range). An assay is ``valid``, ``valid
with warnings`` or ``invalid``, and the report says why.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal

from secretome.analysis.potency.results import Serialisable

Severity = Literal["reject", "warn"]
Status = Literal["valid", "valid with warnings", "invalid"]
SEVERITIES: tuple[Severity, ...] = ("reject", "warn")


@dataclass(frozen=True)
class Limit(Serialisable):
    """An acceptance range (either end may be open) and what a value outside it does."""

    low: float | None = None
    high: float | None = None
    severity: Severity = "reject"

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be 'reject' or 'warn', not {self.severity!r}")
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError("limit: low must not exceed high")

    def contains(self, value: float) -> bool:
        """True when ``value`` is finite and within the range."""
        if not math.isfinite(value):
            return False
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)

    def describe(self) -> str:
        """The range in words, e.g. ``>= 0.95`` or ``0.8 to 1.25``."""
        if self.low is not None and self.high is not None:
            return f"{self.low:g} to {self.high:g}"
        if self.low is not None:
            return f">= {self.low:g}"
        return f"<= {self.high:g}"


SYSTEM_CRITERIA = (
    "r_squared",
    "lower_asymptote",
    "upper_asymptote",
    "span",
    "hill",
    "control_relative_potency",
)
SAMPLE_CRITERIA = ("similarity", "response_within_reference_range")


@dataclass(frozen=True)
class SuitabilityCriteria(Serialisable):
    """The criteria of an assay method; ``None`` leaves one out.

    System: ``r_squared`` of the reference fit, ``lower_asymptote``/``upper_asymptote`` and ``span`` of
    the reference curve (response units), ``hill`` (absolute slope), ``control_relative_potency`` of the
    assay control. Sample: ``similarity`` (must pass; its severity), ``response_within_reference_range``
    (the fraction of the test's dose-level means that lie within the reference's range).
    """

    r_squared: Limit | None = Limit(low=0.95, severity="reject")
    lower_asymptote: Limit | None = None
    upper_asymptote: Limit | None = None
    span: Limit | None = None
    hill: Limit | None = None
    control_relative_potency: Limit | None = None
    similarity: Severity | None = "reject"
    response_within_reference_range: Limit | None = Limit(low=0.5, severity="warn")

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any]) -> SuitabilityCriteria:
        """Criteria from parsed JSON: ``{"r_squared": {"low": 0.98, "severity": "reject"}, ...}``."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(mapping) - known)
        if unknown:
            raise ValueError(
                f"suitability: unknown criterion {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        values: dict[str, Any] = {}
        for name, value in mapping.items():
            if name == "similarity" or value is None:
                values[name] = value
            elif isinstance(value, Mapping):
                extra = sorted(set(value) - {"low", "high", "severity"})
                if extra:
                    raise ValueError(f"suitability {name}: unknown key(s) {', '.join(extra)}")
                values[name] = Limit(**dict(value))
            else:
                raise ValueError(f"suitability {name}: give an object with low, high and severity")
        if values.get("similarity") not in (None, *SEVERITIES) and "similarity" in values:
            raise ValueError("suitability similarity: 'reject', 'warn' or null")
        return cls(**values)


@dataclass(frozen=True)
class SuitabilityCheck(Serialisable):
    """One criterion applied: ``scope`` is ``system`` or the test preparation's name."""

    criterion: str
    scope: str
    value: float | bool | None
    limit: str
    severity: Severity
    passed: bool
    message: str


@dataclass(frozen=True)
class SuitabilityReport(Serialisable):
    """All checks, the overall status and the reasons for it (the failed checks' messages)."""

    checks: tuple[SuitabilityCheck, ...]
    status: Status
    reasons: tuple[str, ...]

    def for_scope(self, scope: str) -> SuitabilityReport:
        """The system checks plus those of one test preparation, with their own status."""
        return _report(tuple(c for c in self.checks if c.scope in ("system", scope)))


def _report(checks: tuple[SuitabilityCheck, ...]) -> SuitabilityReport:
    failed = [c for c in checks if not c.passed]
    if any(c.severity == "reject" for c in failed):
        status: Status = "invalid"
    elif failed:
        status = "valid with warnings"
    else:
        status = "valid"
    reasons = tuple(f"{c.severity}: {c.message}" for c in failed)
    return SuitabilityReport(checks, status, reasons)


def evaluate_suitability(
    criteria: SuitabilityCriteria,
    system: Mapping[str, float],
    samples: Mapping[str, Mapping[str, float | bool]],
) -> SuitabilityReport:
    """Apply the criteria to the measured values.

    Parameters
    ----------
    criteria
        The method's criteria.
    system
        Values of the system criteria (those the model does not measure are simply absent).
    samples
        Per test preparation, values of the sample criteria.
    """
    checks: list[SuitabilityCheck] = []
    for name in SYSTEM_CRITERIA:
        limit: Limit | None = getattr(criteria, name)
        if limit is None or name not in system:
            continue
        value = float(system[name])
        ok = limit.contains(value)
        message = (
            f"system {name.replace('_', ' ')} {value:.4g} {'within' if ok else 'outside'} {limit.describe()}"
        )
        checks.append(SuitabilityCheck(name, "system", value, limit.describe(), limit.severity, ok, message))
    for preparation, values in samples.items():
        if criteria.similarity is not None and "similarity" in values:
            ok = bool(values["similarity"])
            message = f"{preparation}: {'similar' if ok else 'not similar'} to the reference"
            checks.append(
                SuitabilityCheck("similarity", preparation, ok, "similar", criteria.similarity, ok, message)
            )
        within = criteria.response_within_reference_range
        if within is not None and "response_within_reference_range" in values:
            fraction = float(values["response_within_reference_range"])
            ok = within.contains(fraction)
            message = (
                f"{preparation}: {fraction:.0%} of dose-level mean responses within the reference's range "
                f"(required {within.describe()})"
            )
            checks.append(
                SuitabilityCheck(
                    "response_within_reference_range",
                    preparation,
                    fraction,
                    within.describe(),
                    within.severity,
                    ok,
                    message,
                )
            )
    return _report(tuple(checks))
