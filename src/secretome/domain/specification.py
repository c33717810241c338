"""Specifications and the evaluation of a reported result against an acceptance criterion (ICH Q6B).

Pure rules, no Django: a criterion is a frozen :class:`Criterion`; a reported result is a
:class:`Reading` (a number, a censored number such as ``< 0.50`` below the LLOQ, or a finding such as
"complies"); :func:`evaluate` gives an :class:`Evaluation` with a :class:`Verdict` and the reason in words.

Numbers are rounded before comparison, as USP General Notices 7.20 and Ph. Eur. 1.2 ask: the result is
rounded to the reporting precision (decimal places or significant digits, half away from zero) and the
rounded value is compared with the limit. Decimal arithmetic is used throughout so that ``94.95`` rounds
to ``95.0`` and not to ``94.9`` as binary floats would.

A censored result is compared as the interval it stands for: ``< 0.50`` means "somewhere in [0, 0.50)".
It conforms when every value of that interval conforms, is out of specification when none does, and is
incomplete (a quantitative result is needed) when the limit cuts the interval.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from secretome.domain.canonical import canonical_json


class CriterionKind(StrEnum):
    """The shapes an acceptance criterion takes."""

    RANGE = "range"
    AT_LEAST = "at least"
    AT_MOST = "at most"
    COMPLIES = "complies"
    NOT_DETECTED = "not detected"
    REPORT_ONLY = "report only"


class Verdict(StrEnum):
    """The outcome of evaluating one result against its criterion."""

    CONFORMS = "conforms"
    OUT_OF_SPECIFICATION = "out of specification"
    INCOMPLETE = "incomplete"


#: Findings that mean "complies" or "not detected", as analysts write them, lower case.
PASSING_FINDINGS = {
    CriterionKind.COMPLIES: frozenset({"complies", "conforms", "no growth", "negative", "pass"}),
    CriterionKind.NOT_DETECTED: frozenset({"not detected", "negative", "no growth", "absent"}),
}
#: Findings that mean "does not comply" or "detected".
FAILING_FINDINGS = {
    CriterionKind.COMPLIES: frozenset({"does not comply", "fails", "growth", "positive", "fail"}),
    CriterionKind.NOT_DETECTED: frozenset({"detected", "positive", "growth", "present"}),
}

_NUMBER = re.compile(r"^\s*(?P<qualifier><=?|>=?|≤|≥)?\s*(?P<value>[-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)\s*$")


def _decimal(value: Decimal | float | int | str, name: str) -> Decimal:
    """``value`` as a finite Decimal; floats go through their shortest repr, never their binary expansion."""
    try:
        number = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise ValueError(f"{name}: {value!r} is not a number") from None
    if not number.is_finite():
        raise ValueError(f"{name}: {value!r} is not a finite number")
    return number


_SUPERSCRIPTS = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def format_number(value: Decimal) -> str:
    """A decimal as a certificate prints it: plain digits, or ``2.8 × 10⁹`` from a million up.

    Trailing zeros that carry precision (``7.30`` rounded to 2 places) are kept.
    """
    if value != 0 and abs(value) >= 1_000_000:
        exponent = value.adjusted()
        mantissa = value.scaleb(-exponent)
        return f"{mantissa} × 10{str(exponent).translate(_SUPERSCRIPTS)}"
    return format(value, "f")


def _limit(value: Decimal | None) -> str:
    return "" if value is None else format_number(value)


@dataclass(frozen=True)
class ReportingRule:
    """How a numeric result is rounded before it is compared with the limits.

    Parameters
    ----------
    decimals
        Round to this many decimal places (``0`` for whole numbers).
    significant_digits
        Round to this many significant digits instead. At most one of the two may be given; with
        neither the result is compared as reported.
    """

    decimals: int | None = None
    significant_digits: int | None = None

    def __post_init__(self) -> None:
        if self.decimals is not None and self.significant_digits is not None:
            raise ValueError("decimals: give decimals or significant_digits, not both")
        if self.decimals is not None and not 0 <= self.decimals <= 12:
            raise ValueError(f"decimals: {self.decimals} is outside 0..12")
        if self.significant_digits is not None and not 1 <= self.significant_digits <= 15:
            raise ValueError(f"significant_digits: {self.significant_digits} is outside 1..15")

    def apply(self, value: Decimal) -> Decimal:
        """``value`` rounded half away from zero (USP General Notices 7.20)."""
        if self.decimals is not None:
            return value.quantize(Decimal(1).scaleb(-self.decimals), rounding=ROUND_HALF_UP)
        if self.significant_digits is not None:
            if value == 0:
                return value.quantize(Decimal(1).scaleb(-(self.significant_digits - 1)))
            exponent = value.adjusted() - self.significant_digits + 1
            return value.quantize(Decimal(1).scaleb(exponent), rounding=ROUND_HALF_UP)
        return value

    def describe(self) -> str:
        if self.decimals is not None:
            return f"rounded to {self.decimals} decimal place{'s' if self.decimals != 1 else ''}"
        if self.significant_digits is not None:
            return f"rounded to {self.significant_digits} significant digits"
        return "compared as reported"


@dataclass(frozen=True)
class Criterion:
    """An acceptance criterion.

    Parameters
    ----------
    kind
        The shape of the criterion (:class:`CriterionKind`).
    lower, upper
        The limits a numeric criterion needs: both for ``range``, ``lower`` for ``at least``, ``upper``
        for ``at most``.
    lower_inclusive, upper_inclusive
        Whether a result equal to the limit conforms (``>=``/``<=``) or not (``>``/``<``).
    rule
        How the result is rounded before comparison.
    """

    kind: CriterionKind
    lower: Decimal | None = None
    upper: Decimal | None = None
    lower_inclusive: bool = True
    upper_inclusive: bool = True
    rule: ReportingRule = field(default_factory=ReportingRule)

    def __post_init__(self) -> None:
        kind = CriterionKind(self.kind)
        object.__setattr__(self, "kind", kind)
        for name in ("lower", "upper"):
            raw = getattr(self, name)
            if raw is not None:
                object.__setattr__(self, name, _decimal(raw, name))
        needs_lower = kind in (CriterionKind.RANGE, CriterionKind.AT_LEAST)
        needs_upper = kind in (CriterionKind.RANGE, CriterionKind.AT_MOST)
        if needs_lower != (self.lower is not None):
            raise ValueError(
                f"lower: a {kind.value!r} criterion {'needs' if needs_lower else 'takes no'} lower limit"
            )
        if needs_upper != (self.upper is not None):
            raise ValueError(
                f"upper: a {kind.value!r} criterion {'needs' if needs_upper else 'takes no'} upper limit"
            )
        if self.lower is not None and self.upper is not None and self.lower > self.upper:
            raise ValueError(f"lower: {self.lower} is above the upper limit {self.upper}")

    @property
    def numeric(self) -> bool:
        return self.kind in (CriterionKind.RANGE, CriterionKind.AT_LEAST, CriterionKind.AT_MOST)

    def describe(self, unit: str = "") -> str:
        """The criterion as a certificate prints it, e.g. ``≥ 95 %`` or ``7.0 – 7.6``."""
        suffix = f" {unit}" if unit else ""
        if self.kind is CriterionKind.RANGE:
            low, high = _limit(self.lower), _limit(self.upper)
            if self.lower_inclusive and self.upper_inclusive:
                return f"{low} – {high}{suffix}"
            low_sign = "≥" if self.lower_inclusive else ">"
            high_sign = "≤" if self.upper_inclusive else "<"
            return f"{low_sign} {low} and {high_sign} {high}{suffix}"
        if self.kind is CriterionKind.AT_LEAST:
            return f"{'≥' if self.lower_inclusive else '>'} {_limit(self.lower)}{suffix}"
        if self.kind is CriterionKind.AT_MOST:
            return f"{'≤' if self.upper_inclusive else '<'} {_limit(self.upper)}{suffix}"
        if self.kind is CriterionKind.COMPLIES:
            return "Complies"
        if self.kind is CriterionKind.NOT_DETECTED:
            return "Not detected"
        return "Report result"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "lower": None if self.lower is None else str(self.lower),
            "upper": None if self.upper is None else str(self.upper),
            "lower_inclusive": self.lower_inclusive,
            "upper_inclusive": self.upper_inclusive,
            "decimals": self.rule.decimals,
            "significant_digits": self.rule.significant_digits,
        }

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> Criterion:
        return cls(
            kind=CriterionKind(payload["kind"]),
            lower=None if payload.get("lower") is None else Decimal(payload["lower"]),
            upper=None if payload.get("upper") is None else Decimal(payload["upper"]),
            lower_inclusive=bool(payload.get("lower_inclusive", True)),
            upper_inclusive=bool(payload.get("upper_inclusive", True)),
            rule=ReportingRule(payload.get("decimals"), payload.get("significant_digits")),
        )


@dataclass(frozen=True)
class Reading:
    """A reported result: a number (possibly censored, ``<`` below LLOQ or ``>`` above ULOQ) or a finding.

    Parameters
    ----------
    value
        The number; for a censored result the quantitation limit it lies beyond.
    qualifier
        ``"="`` for a quantified result, ``"<"`` below the LLOQ, ``">"`` above the ULOQ.
    finding
        A qualitative finding ("complies", "no growth", "not detected", ...), instead of a number.
    interval
        An optional confidence interval (lower, upper) reported with the value, e.g. for relative potency.
    """

    value: Decimal | None = None
    qualifier: str = "="
    finding: str | None = None
    interval: tuple[Decimal, Decimal] | None = None

    def __post_init__(self) -> None:
        if self.qualifier not in ("=", "<", ">"):
            raise ValueError(f"qualifier: {self.qualifier!r} is not one of '=', '<', '>'")
        if (self.value is None) == (self.finding is None):
            raise ValueError("value: give either a number or a finding")
        if self.value is not None:
            object.__setattr__(self, "value", _decimal(self.value, "value"))
        if self.finding is not None:
            if self.qualifier != "=":
                raise ValueError("qualifier: a finding cannot be censored")
            cleaned = " ".join(self.finding.split()).lower()
            if not cleaned:
                raise ValueError("finding: must not be empty")
            object.__setattr__(self, "finding", cleaned)
        if self.interval is not None:
            low, high = (_decimal(v, "interval") for v in self.interval)
            if low > high:
                raise ValueError(f"interval: lower bound {low} is above upper bound {high}")
            object.__setattr__(self, "interval", (low, high))

    def describe(self, rule: ReportingRule | None = None) -> str:
        """The reading as reported, rounded by ``rule`` where it is a plain number."""
        if self.finding is not None:
            return self.finding.capitalize()
        assert self.value is not None
        if self.qualifier == "=":
            text = format_number((rule or ReportingRule()).apply(self.value))
        else:
            text = f"{self.qualifier} {format_number(self.value)}"
        if self.interval is not None:
            low, high = (format_number((rule or ReportingRule()).apply(v)) for v in self.interval)
            text += f" (CI {low} – {high})"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": None if self.value is None else str(self.value),
            "qualifier": self.qualifier,
            "finding": self.finding,
            "interval": None if self.interval is None else [str(v) for v in self.interval],
        }

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> Reading:
        interval = payload.get("interval")
        return cls(
            value=None if payload.get("value") is None else Decimal(payload["value"]),
            qualifier=payload.get("qualifier") or "=",
            finding=payload.get("finding"),
            interval=None if interval is None else (Decimal(interval[0]), Decimal(interval[1])),
        )


def parse_reading(text: str) -> Reading:
    """Parse a manually entered result: ``"7.32"``, ``"< 0.50"`` (below LLOQ), ``"> 200"``, or a finding."""
    match = _NUMBER.match(text)
    if match:
        qualifier = (match.group("qualifier") or "=").replace("≤", "<").replace("≥", ">").rstrip("=") or "="
        return Reading(value=Decimal(match.group("value")), qualifier=qualifier)
    if re.search(r"\d", text):
        raise ValueError(f"result: {text!r} is neither a number such as 7.3 or < 0.5 nor a finding")
    return Reading(finding=text)


@dataclass(frozen=True)
class Evaluation:
    """The verdict on one result, with the reason stated and the value actually compared."""

    verdict: Verdict
    reason: str
    compared: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict.value, "reason": self.reason, "compared": self.compared}


def _inside(value: Decimal, criterion: Criterion) -> bool:
    if criterion.lower is not None and (
        value < criterion.lower or (value == criterion.lower and not criterion.lower_inclusive)
    ):
        return False
    return not (
        criterion.upper is not None
        and (value > criterion.upper or (value == criterion.upper and not criterion.upper_inclusive))
    )


def _censored(reading: Reading, criterion: Criterion) -> Evaluation:
    """A ``< LLOQ`` or ``> ULOQ`` result: decide only when the whole interval it stands for is on one side."""
    assert reading.value is not None
    limit = reading.value
    described = f"{reading.qualifier} {limit}"
    if reading.qualifier == "<":
        # Every true value v satisfies v < limit.
        all_fail = criterion.lower is not None and limit <= criterion.lower
        all_pass = criterion.lower is None and criterion.upper is not None and limit <= criterion.upper
        side = "below the lower limit"
    else:
        # Every true value v satisfies v > limit.
        all_fail = criterion.upper is not None and limit >= criterion.upper
        all_pass = criterion.upper is None and criterion.lower is not None and limit >= criterion.lower
        side = "above the upper limit"
    beyond = "below" if reading.qualifier == "<" else "above"
    if all_fail:
        return Evaluation(
            Verdict.OUT_OF_SPECIFICATION,
            f"{described}: every value {beyond} the quantitation limit is {side} of {criterion.describe()}",
            described,
        )
    if all_pass:
        return Evaluation(
            Verdict.CONFORMS,
            f"{described}: every value {beyond} the quantitation limit is within {criterion.describe()}",
            described,
        )
    return Evaluation(
        Verdict.INCOMPLETE,
        f"{described}: the quantitation limit {limit} lies inside the acceptance range, so the result "
        "cannot be decided; a quantified result is needed",
        described,
    )


def evaluate(criterion: Criterion, reading: Reading | None) -> Evaluation:
    """Evaluate ``reading`` against ``criterion``.

    Returns
    -------
    Evaluation
        ``conforms``, ``out of specification`` or ``incomplete``, with the reason in words and the
        value that was compared (after rounding).
    """
    if reading is None:
        return Evaluation(Verdict.INCOMPLETE, "no valid result yet")
    if criterion.kind is CriterionKind.REPORT_ONLY:
        return Evaluation(
            Verdict.CONFORMS,
            "report only: the result is recorded, there is no limit",
            reading.describe(criterion.rule),
        )
    if criterion.kind in (CriterionKind.COMPLIES, CriterionKind.NOT_DETECTED):
        expected = "complies" if criterion.kind is CriterionKind.COMPLIES else "not detected"
        if reading.finding is None:
            return Evaluation(
                Verdict.INCOMPLETE,
                f"a numeric result {reading.describe()} cannot show {expected!r}; a finding is needed",
                reading.describe(),
            )
        if reading.finding in PASSING_FINDINGS[criterion.kind]:
            return Evaluation(
                Verdict.CONFORMS, f"finding {reading.finding!r} meets {expected!r}", reading.finding
            )
        if reading.finding in FAILING_FINDINGS[criterion.kind]:
            return Evaluation(
                Verdict.OUT_OF_SPECIFICATION,
                f"finding {reading.finding!r} fails {expected!r}",
                reading.finding,
            )
        return Evaluation(
            Verdict.INCOMPLETE,
            f"finding {reading.finding!r} is not a recognised outcome for {expected!r}",
            reading.finding,
        )
    if reading.value is None:
        return Evaluation(
            Verdict.INCOMPLETE,
            f"finding {reading.finding!r} cannot be compared with {criterion.describe()}; a number is needed",
            reading.finding,
        )
    if reading.qualifier != "=":
        return _censored(reading, criterion)
    rounded = criterion.rule.apply(reading.value)
    how = criterion.rule.describe()
    if _inside(rounded, criterion):
        return Evaluation(
            Verdict.CONFORMS, f"{rounded} ({how}) is within {criterion.describe()}", str(rounded)
        )
    side = "below" if criterion.lower is not None and rounded <= criterion.lower else "above"
    return Evaluation(
        Verdict.OUT_OF_SPECIFICATION,
        f"{rounded} ({how}) is {side} the limit of {criterion.describe()}",
        str(rounded),
    )


@dataclass(frozen=True)
class AttributeSpec:
    """One attribute of a specification: what is tested, how, against what, and whether it gates release."""

    code: str
    name: str
    method: str
    unit: str
    criterion: Criterion
    category: str = ""
    release_test: bool = True
    note: str = ""
    #: The analysis method kind that computes this attribute ("standard-curve", "relative-potency", ...);
    #: empty for manual attributes. A computed attribute takes results only from accepted analysis runs.
    analysis_kind: str = ""

    @property
    def computed(self) -> bool:
        return bool(self.analysis_kind)

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z0-9][a-z0-9_.-]*", self.code):
            raise ValueError(f"code: {self.code!r} must be lower-case letters, digits, '.', '_' or '-'")
        if not self.name.strip():
            raise ValueError("name: must not be empty")
        if not self.method.strip():
            raise ValueError(f"method: attribute {self.code!r} needs its test method")

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "method": self.method,
            "unit": self.unit,
            "criterion": self.criterion.to_dict(),
            "category": self.category,
            "release_test": self.release_test,
            "note": self.note,
            # Only when set, so the content (and hash) of manual attributes is what it always was.
            **({"analysis_kind": self.analysis_kind} if self.analysis_kind else {}),
        }

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> AttributeSpec:
        return cls(
            code=payload["code"],
            name=payload["name"],
            method=payload["method"],
            unit=payload.get("unit", ""),
            criterion=Criterion.from_dict(payload["criterion"]),
            category=payload.get("category", ""),
            release_test=bool(payload.get("release_test", True)),
            note=payload.get("note", ""),
            analysis_kind=payload.get("analysis_kind", ""),
        )


def specification_content(product_code: str, version: int, attributes: list[AttributeSpec]) -> str:
    """The canonical JSON of a specification version: what QA signs when approving it."""
    codes = [a.code for a in attributes]
    duplicates = sorted({c for c in codes if codes.count(c) > 1})
    if duplicates:
        raise ValueError(f"attributes: codes appear twice: {', '.join(duplicates)}")
    return canonical_json(
        {"product": product_code, "version": version, "attributes": [a.to_dict() for a in attributes]}
    )


# --- Endotoxin (USP <85>, Ph. Eur. 5.1.10): limit = K / M ---------------------------------------------

#: K in EU per kg body weight per hour: 5 for every route except intrathecal (0.2).
ENDOTOXIN_K = {
    "intravenous": Decimal(5),
    "intramuscular": Decimal(5),
    "subcutaneous": Decimal(5),
    "topical": Decimal(5),
    "intrathecal": Decimal("0.2"),
}


@dataclass(frozen=True)
class EndotoxinLimit:
    """The endotoxin limit K/M with the inputs it came from (stored so the number can be re-derived).

    Parameters
    ----------
    route
        Route of administration; decides K (``intrathecal``: 0.2 EU/kg, every other route 5 EU/kg).
    dose_volume_ml
        The largest volume given in one administration.
    infusion_hours
        Over how long that volume is given; M is the dose per kg given in one hour.
    body_weight_kg
        Body weight the dose is referred to (70 kg by default, USP <85>).
    """

    route: str
    dose_volume_ml: Decimal
    infusion_hours: Decimal = Decimal(1)
    body_weight_kg: Decimal = Decimal(70)

    def __post_init__(self) -> None:
        if self.route not in ENDOTOXIN_K:
            raise ValueError(f"route: {self.route!r} is not one of {', '.join(sorted(ENDOTOXIN_K))}")
        for name in ("dose_volume_ml", "infusion_hours", "body_weight_kg"):
            number = _decimal(getattr(self, name), name)
            if number <= 0:
                raise ValueError(f"{name}: must be positive, got {number}")
            object.__setattr__(self, name, number)

    @property
    def k(self) -> Decimal:
        """K, EU per kg per hour."""
        return ENDOTOXIN_K[self.route]

    @property
    def m(self) -> Decimal:
        """M, the maximum dose in mL per kg given in one hour (a dose given faster than 1 h counts as 1 h)."""
        hours = max(self.infusion_hours, Decimal(1))
        return self.dose_volume_ml / self.body_weight_kg / hours

    @property
    def limit_eu_per_ml(self) -> Decimal:
        """K/M in EU/mL, computed as K x weight x hours / volume so that exact inputs give exact limits."""
        return self.k * self.body_weight_kg * max(self.infusion_hours, Decimal(1)) / self.dose_volume_ml

    def criterion(self, decimals: int = 1) -> Criterion:
        """An ``at most K/M`` criterion, the limit rounded down so that rounding never loosens it."""
        limit = self.limit_eu_per_ml.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_FLOOR)
        return Criterion(CriterionKind.AT_MOST, upper=limit, rule=ReportingRule(decimals=decimals))

    def describe(self) -> str:
        return (
            f"K/M = {self.k} EU/kg / ({self.dose_volume_ml} mL / {self.body_weight_kg} kg / "
            f"{max(self.infusion_hours, Decimal(1))} h) = {self.limit_eu_per_ml:.1f} EU/mL ({self.route})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "route": self.route,
            "dose_volume_ml": str(self.dose_volume_ml),
            "infusion_hours": str(self.infusion_hours),
            "body_weight_kg": str(self.body_weight_kg),
            "k_eu_per_kg": str(self.k),
            "limit_eu_per_ml": str(self.limit_eu_per_ml.quantize(Decimal("0.001"))),
        }


def with_rule(criterion: Criterion, rule: ReportingRule) -> Criterion:
    """``criterion`` with another reporting rule."""
    return replace(criterion, rule=rule)
