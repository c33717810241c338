"""Trending of lot results: control charts, capability, comparisons by factor and fingerprint
comparability, on the lots in the database; and the QA-approved control limits.

Reads: :func:`attribute_series` (the current numeric result of an attribute for every lot, in production
order, with donor, tissue source, passage and priming), :func:`attribute_trend` (chart, rules and
capability), :func:`lot_signals` (the out-of-trend warning of a lot page), :func:`factor_comparison` and
:func:`fingerprint_comparison`.

Writes: :func:`approve_limits` (QA, audited, one transaction). Until limits are approved the chart shows
provisional limits from the first lots, labelled so; approved limits are stored numbers, never recomputed,
and a re-baselining supersedes the previous limits, which stay on the chart for the lots before it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from secretome.analysis.trending import (
    Capability,
    DonorMixedModel,
    HotellingT2,
    LimitSegment,
    OneWayComparison,
    ToleranceInterval,
    imr_limits,
    segmented_chart,
)
from secretome.db.genealogy.models import Lot
from secretome.db.quality.models import Result, Specification, SpecificationAttribute, SpecificationStatus
from secretome.db.trending.models import ControlLimits
from secretome.domain.roles import Role
from secretome.services.audit import record_event
from secretome.services.audit import require_reason as _require_reason
from secretome.services.errors import NotFound, ServiceError
from secretome.services.users import require_role

#: Lots whose values set provisional limits while no limits are approved.
PROVISIONAL_BASELINE = 20
#: Units charted on log10 by default (concentrations and counts are log-normal).
LOG_UNITS = ("pg/ml", "ng/ml", "ug/ml", "µg/ml", "particles/ml", "copies", "cfu", "/ml")
#: Coverage and confidence of the tolerance interval proposed as specification limits from history.
PROPOSAL_COVERAGE = 0.99
PROPOSAL_CONFIDENCE = 0.95
#: Factors lots can be compared by, and how each is read from a lot.
FACTORS = ("tissue source", "donor", "passage", "priming")


@dataclass(frozen=True)
class LotValue:
    """One lot's current numeric result of an attribute, with the facts a trend page shows."""

    lot: str
    value: float
    reported: str
    product: str
    donor: str
    tissue_source: str
    passage: int
    priming: str
    collected_at: Any

    def factor(self, name: str) -> str:
        return {
            "tissue source": self.tissue_source,
            "donor": self.donor,
            "passage": f"P{self.passage}",
            "priming": self.priming or "none",
        }[name]

    def to_dict(self) -> dict[str, Any]:
        return {
            "lot": self.lot,
            "value": self.value,
            "reported": self.reported,
            "donor": self.donor,
            "tissue_source": self.tissue_source,
            "passage": self.passage,
            "priming": self.priming or None,
        }


@dataclass(frozen=True)
class AttributeSeries:
    code: str
    product: str
    name: str
    unit: str
    points: tuple[LotValue, ...]
    excluded: tuple[dict[str, str], ...]


def _numeric(result: Result) -> float | None:
    if result.qualifier != "=" or not result.value:
        return None
    try:
        value = float(result.value)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _product_of(code: str, product: str | None) -> str:
    if product:
        return product
    products = sorted(
        set(Result.objects.filter(attribute__code=code).values_list("lot__product", flat=True).distinct())
    )
    if not products:
        raise NotFound(f"attribute {code!r}: no lot has a result for it")
    if len(products) > 1:
        raise ServiceError(
            f"--product: lots of several products have {code} results ({', '.join(products)}); name one"
        )
    return products[0]


def _attribute(code: str, product: str) -> SpecificationAttribute | None:
    spec = (
        Specification.objects.filter(product__code=product, status=SpecificationStatus.APPROVED)
        .order_by("-version")
        .first()
    )
    if spec is None:
        return None
    return spec.attributes.filter(code=code).first()


def attribute_series(code: str, product: str | None = None) -> AttributeSeries:
    """The current valid numeric result of ``code`` for every lot of ``product``, in production order
    (collection time, then lot number). Censored results and findings are listed as excluded."""
    product = _product_of(code, product)
    query = (
        Result.objects.select_related("lot__donor", "lot__conditioning_run__passage", "attribute")
        .filter(attribute__code=code, lot__product=product, invalidation__isnull=True)
        .order_by("recorded_at", "pk")
    )
    current: dict[int, Result] = {}
    for result in query:
        current[result.lot_id] = result
    if not current:
        raise NotFound(f"attribute {code!r}: no lot of {product} has a result for it")
    points, excluded = [], []
    for result in sorted(current.values(), key=lambda r: (r.lot.collected_at, r.lot.number)):
        lot: Lot = result.lot
        value = _numeric(result)
        if value is None:
            excluded.append(
                {
                    "lot": lot.number,
                    "reported": f"{result.qualifier if result.qualifier != '=' else ''}{result.value or result.finding}",
                }
            )
            continue
        run = lot.conditioning_run
        points.append(
            LotValue(
                lot=lot.number,
                value=value,
                reported=result.value,
                product=lot.product,
                donor=lot.donor.din,
                tissue_source=lot.tissue_source,
                passage=run.passage.number,
                priming=run.priming_agent,
                collected_at=lot.collected_at,
            )
        )
    attribute = _attribute(code, product) or next(iter(current.values())).attribute
    return AttributeSeries(code, product, attribute.name, attribute.unit, tuple(points), tuple(excluded))


def default_log10(unit: str) -> bool:
    """Concentrations and counts are charted on log10 (they are log-normal)."""
    text = unit.strip().lower()
    return any(text.endswith(u) or u in text for u in LOG_UNITS)


def limit_history(product: str, code: str) -> list[ControlLimits]:
    """Every approved set of limits of the attribute, oldest first (superseded ones included)."""
    return list(
        ControlLimits.objects.select_related("approved_by")
        .filter(product=product, attribute=code)
        .order_by("approved_at", "pk")
    )


def _limits_dict(limits: ControlLimits) -> dict[str, Any]:
    return {
        "id": limits.pk,
        "first_lot": limits.first_lot,
        "baseline_n": limits.baseline_n,
        "log10": limits.log10,
        "centre_line": limits.centre_line,
        "sigma": limits.sigma,
        "mr_bar": limits.mr_bar,
        "approved_by": limits.approved_by.get_username(),
        "approved_at": limits.approved_at,
        "reason": limits.reason,
        "superseded": _superseded(limits),
    }


def _superseded(limits: ControlLimits) -> bool:
    return ControlLimits.objects.filter(supersedes=limits).exists()


def _specification_limits(code: str, product: str) -> tuple[float | None, float | None]:
    attribute = _attribute(code, product)
    if attribute is None or attribute.kind not in ("range", "at least", "at most"):
        return None, None
    lower = float(attribute.lower) if attribute.lower else None
    upper = float(attribute.upper) if attribute.upper else None
    return lower, upper


def attribute_trend(code: str, product: str | None = None, log10: bool | None = None) -> dict[str, Any]:
    """Chart, run rules, signals and capability of an attribute across the lots of a product."""
    series = attribute_series(code, product)
    history = limit_history(series.product, code)
    lots = [p.lot for p in series.points]
    values = [p.value for p in series.points]
    payload: dict[str, Any] = {
        "attribute": code,
        "name": series.name,
        "unit": series.unit,
        "product": series.product,
        "n": len(values),
        "lots": [p.to_dict() for p in series.points],
        "excluded": list(series.excluded),
        "limit_history": [_limits_dict(h) for h in history],
        "chart": None,
        "limits": None,
        "signals": [],
        "capability": None,
        "tolerance": None,
        "note": "",
    }
    if history:
        chart_log10 = history[-1].log10
        segments = []
        for limits in history:
            if limits.first_lot not in lots:
                continue  # a baseline whose first lot no longer has a current numeric result
            segments.append(
                LimitSegment(
                    lots.index(limits.first_lot),
                    limits.centre_line,
                    limits.sigma,
                    limits.mr_bar,
                    f"approved by {limits.approved_by.get_username()} ({limits.baseline_n} lots from {limits.first_lot})",
                )
            )
        if not segments:
            # the baselines' first lots lost their numeric results (invalidated): keep the latest limits
            latest = history[-1]
            segments.append(
                LimitSegment(
                    0,
                    latest.centre_line,
                    latest.sigma,
                    latest.mr_bar,
                    f"approved by {latest.approved_by.get_username()}",
                )
            )
        origin = "approved"
        current = history[-1]
        limits_info: dict[str, Any] = {
            "origin": origin,
            "baseline_n": current.baseline_n,
            "first_lot": current.first_lot,
            "approved_by": current.approved_by.get_username(),
            "approved_at": current.approved_at,
        }
    else:
        chart_log10 = default_log10(series.unit) if log10 is None else log10
        baseline_n = min(PROVISIONAL_BASELINE, len(values))
        if baseline_n < 3:
            payload["note"] = f"{len(values)} lots with a numeric result: too few for a chart (3 needed)"
            return payload
        charted = [math.log10(v) if chart_log10 else v for v in values]
        if chart_log10 and min(values) <= 0:
            raise ServiceError(f"attribute {code}: a log10 chart needs positive values")
        centre, sigma, mr_bar = imr_limits(charted, baseline_n)
        if not sigma > 0:
            payload["note"] = "the first lots' values are all equal; no limits can be set"
            return payload
        segments = [
            LimitSegment(
                0, float(centre), float(sigma), float(mr_bar), f"provisional: first {baseline_n} lots"
            )
        ]
        limits_info = {"origin": "provisional", "baseline_n": baseline_n, "first_lot": lots[0]}
    chart = segmented_chart(values, lots, segments, log10=chart_log10)
    payload["chart"] = chart.to_dict()
    payload["limits"] = limits_info
    payload["signals"] = chart.signals()
    try:
        payload["tolerance"] = (
            ToleranceInterval(PROPOSAL_COVERAGE, PROPOSAL_CONFIDENCE).fit(values).to_dict()
            if len(values) >= 3
            else None
        )
    except ValueError:
        payload["tolerance"] = None
    lsl, usl = _specification_limits(code, series.product)
    payload["specification"] = {"lsl": lsl, "usl": usl}
    if (lsl is not None or usl is not None) and len(values) >= 3:
        try:
            payload["capability"] = Capability(lsl, usl).fit(values).to_dict()
        except ValueError as exc:
            payload["note"] = f"capability: {exc}"
    return payload


@transaction.atomic
def approve_limits(
    actor: User,
    reason: str,
    product: str,
    code: str,
    *,
    first_lot: str | None = None,
    baseline_n: int,
    log10: bool | None = None,
) -> ControlLimits:
    """Approve I-MR limits from ``baseline_n`` consecutive lots starting at ``first_lot`` (default: the first
    lot). A later approval supersedes the current limits, which stay on record and on the chart."""
    require_role(actor, Role.QA)
    reason = _require_reason(reason)
    series = attribute_series(code, product)
    lots = [p.lot for p in series.points]
    start = 0 if first_lot is None else (lots.index(first_lot) if first_lot in lots else -1)
    if start < 0:
        raise ServiceError(f"first_lot: lot {first_lot!r} has no current numeric {code} result")
    if baseline_n < 2 or int(baseline_n) != baseline_n:
        raise ServiceError("baseline_n: an integer of at least 2")
    chosen = series.points[start : start + baseline_n]
    if len(chosen) < baseline_n:
        raise ServiceError(f"baseline_n: only {len(chosen)} lots from {lots[start]} on")
    previous = (
        ControlLimits.objects.filter(product=product, attribute=code).order_by("-approved_at", "-pk").first()
    )
    use_log = (default_log10(series.unit) if previous is None else previous.log10) if log10 is None else log10
    if previous is not None and previous.first_lot in lots and start < lots.index(previous.first_lot):
        raise ServiceError(
            f"first_lot: a re-baselining cannot start before the current limits' first lot ({previous.first_lot})"
        )
    values = [p.value for p in chosen]
    if use_log and min(values) <= 0:
        raise ServiceError("log10: the baseline holds values that are not positive")
    charted = [math.log10(v) if use_log else v for v in values]
    centre, sigma, mr_bar = imr_limits(charted, baseline_n)
    if not sigma > 0:
        raise ServiceError("baseline_n: the baseline's moving ranges are all zero")
    limits = ControlLimits.objects.create(
        product=product,
        attribute=code,
        log10=use_log,
        first_lot=lots[start],
        baseline_lots=[[p.lot, p.value] for p in chosen],
        baseline_n=baseline_n,
        centre_line=float(centre),
        mr_bar=float(mr_bar),
        sigma=float(sigma),
        approved_at=timezone.now(),
        approved_by=actor,
        reason=reason,
        supersedes=previous,
    )
    record_event(
        actor,
        "approve control limits" if previous is None else "re-baseline control limits",
        "control limits",
        f"{product}/{code}",
        reason,
        None if previous is None else _limits_summary(previous),
        _limits_summary(limits),
    )
    return limits


def _limits_summary(limits: ControlLimits) -> dict[str, Any]:
    return {
        "id": limits.pk,
        "first_lot": limits.first_lot,
        "baseline_n": limits.baseline_n,
        "log10": limits.log10,
        "centre_line": limits.centre_line,
        "sigma": limits.sigma,
        "mr_bar": limits.mr_bar,
    }


def trended_attributes(product: str) -> list[tuple[str, str, str]]:
    """(code, name, unit) of the numeric attributes of the product's approved specification."""
    spec = (
        Specification.objects.filter(product__code=product, status=SpecificationStatus.APPROVED)
        .order_by("-version")
        .first()
    )
    if spec is None:
        return []
    return [
        (a.code, a.name, a.unit)
        for a in spec.attributes.order_by("position")
        if a.kind in ("range", "at least", "at most", "report only")
    ]


def lot_signals(lot: Lot) -> list[dict[str, Any]]:
    """Run rules that flag this lot on the trend of any attribute of its product (a signal for QA review,
    not a rejection)."""
    signals = []
    codes = set(
        Result.objects.filter(lot=lot, invalidation__isnull=True).values_list("attribute__code", flat=True)
    )
    for code in sorted(codes):
        try:
            trend = attribute_trend(code, lot.product)
        except (NotFound, ServiceError, ValueError):
            continue
        for signal in trend["signals"]:
            if signal["lot_id"] == lot.number:
                signals.append({"attribute": code, "product": lot.product, "rules": signal["rules"]})
    return signals


def factor_comparison(code: str, product: str | None, factor: str) -> dict[str, Any]:
    """One-way ANOVA and the donor mixed model of an attribute across the levels of ``factor``."""
    if factor not in FACTORS:
        raise ServiceError(f"factor: one of {', '.join(FACTORS)}")
    series = attribute_series(code, product)
    values = [p.value for p in series.points]
    levels = [p.factor(factor) for p in series.points]
    payload: dict[str, Any] = {
        "attribute": code,
        "product": series.product,
        "factor": factor,
        "unit": series.unit,
    }
    try:
        payload["one_way"] = OneWayComparison(factor).fit(values, levels).to_dict()
    except ValueError as exc:
        payload["one_way"] = None
        payload["one_way_note"] = str(exc)
    payload["mixed"] = None
    if factor != "donor":
        try:
            payload["mixed"] = (
                DonorMixedModel(factor).fit(values, levels, [p.donor for p in series.points]).to_dict()
            )
        except ValueError as exc:
            payload["mixed_note"] = str(exc)
    payload["points"] = [{**p.to_dict(), "level": p.factor(factor)} for p in series.points]
    return payload


def fingerprint_comparison(
    product: str,
    analytes: list[str],
    reference_lots: list[str],
    new_lots: list[str],
    alpha: float = 0.05,
    log10: bool = True,
) -> dict[str, Any]:
    """Hotelling T^2 of new lots against reference lots over several analytes (log10 by default)."""
    if len(analytes) < 2:
        raise ServiceError("analytes: choose at least two")
    table: dict[str, dict[str, float]] = {}
    for code in analytes:
        for point in attribute_series(code, product).points:
            table.setdefault(point.lot, {})[code] = point.value
    complete = [lot for lot, row in table.items() if all(a in row for a in analytes)]

    def rows(lots: list[str], name: str) -> list[list[float]]:
        missing = [lot for lot in lots if lot not in complete]
        if missing:
            raise ServiceError(
                f"{name}: lots without a numeric result for every analyte: {', '.join(missing)}"
            )
        out = []
        for lot in lots:
            row = [table[lot][a] for a in analytes]
            if log10 and min(row) <= 0:
                raise ServiceError(f"{name}: lot {lot} has a value that is not positive (log10)")
            out.append([math.log10(v) for v in row] if log10 else row)
        return out

    try:
        result = HotellingT2(alpha).fit(
            rows(reference_lots, "reference"), rows(new_lots, "new"), analytes, reference_lots, new_lots
        )
    except ValueError as exc:
        raise ServiceError(str(exc)) from None
    payload = result.to_dict()
    payload.update({"product": product, "log10": log10, "complete_lots": complete})
    return payload
