"""Assay controls on the database: Levey-Jennings charts of QC samples and potency controls, run after run.

Reads: :func:`control_observations` (every control value the accepted runs of a method stored, in run order),
:func:`method_controls` (the controls a method has charted), :func:`control_chart` (the chart of one control:
limits, rules on every run, signals).

Writes: :func:`approve_control_limits` (QA, audited, one transaction). Until limits are approved the chart
shows provisional limits from the first runs, labelled so; approved limits are stored numbers, never
recomputed, and a re-baselining supersedes the previous limits, which stay on the chart for the runs before
it.

The values charted are the ones the runs computed and stored (``AnalysisRun.result_json``): the chart reads
no raw file and fits nothing. A run recomputes from its raw files with ``secretome analysis verify``.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from secretome.db.analyses.models import AnalysisMethod, AnalysisRun, RunStatus
from secretome.db.controls.models import AssayControlLimits
from secretome.domain.roles import Role
from secretome.methods.controls import (
    CONCENTRATION,
    CONTROL_KINDS,
    QUANTITIES,
    RECOVERY,
    ControlLimitsSegment,
    ControlObservation,
    RunFacts,
    baseline_limits,
    levey_jennings,
)
from secretome.methods.controls import (
    control_observations as observations_of_run,
)
from secretome.services.audit import record_event, require_reason
from secretome.services.errors import NotFound, ServiceError
from secretome.services.users import require_role

#: Runs whose values set provisional limits while no limits are approved.
PROVISIONAL_BASELINE = 20
#: Fewest charted runs for a chart.
MINIMUM_RUNS = 3

RECORD_TYPE = "assay control limits"


def _method_exists(code: str) -> None:
    if not AnalysisMethod.objects.filter(code=code).exists():
        raise NotFound(f"method {code!r} does not exist")


def control_observations(method: str) -> list[ControlObservation]:
    """Every assay-control value of the accepted runs of ``method`` (all its versions), in the order the runs
    were analysed (then run number)."""
    code = method.strip()
    _method_exists(code)
    runs = (
        AnalysisRun.objects.select_related("method")
        .prefetch_related("inputs__instrument_import")
        .filter(method__code=code, status=RunStatus.ACCEPTED)
        .order_by("created_at", "number")
    )
    found: list[ControlObservation] = []
    for run in runs:
        facts = RunFacts(
            method=run.method.code,
            version=run.method.version,
            kind=run.method.kind,
            run=run.number,
            analysed_at=run.created_at,
            accepted_at=run.accepted_at,
            inputs=tuple(
                (i.instrument_import_id, i.instrument_import.filename)
                for i in sorted(run.inputs.all(), key=lambda i: i.position)
            ),
        )
        settings = json.loads(run.method.settings_json)
        found.extend(observations_of_run(facts, json.loads(run.result_json), settings))
    return found


def method_controls(method: str) -> list[dict[str, Any]]:
    """The controls of a method's accepted runs: control, analyte, quantity, unit and how many runs."""
    counts: Counter[tuple[str, str, str, str]] = Counter()
    for obs in control_observations(method):
        counts[(obs.control, obs.analyte, obs.quantity, obs.unit)] += 1
    return [
        {"control": c, "analyte": a, "quantity": q, "unit": u, "n": n}
        for (c, a, q, u), n in sorted(counts.items())
    ]


def _select(
    method: str, control: str, analyte: str | None, quantity: str | None
) -> tuple[str, str, list[ControlObservation]]:
    if quantity is not None and quantity not in QUANTITIES:
        raise ServiceError(f"quantity: {quantity!r} is not one of {', '.join(QUANTITIES)}")
    observations = [o for o in control_observations(method) if o.control == control]
    if not observations:
        names = sorted({o.control for o in control_observations(method)})
        raise NotFound(
            f"control: no accepted run of {method} has a control {control!r}"
            + (f" (it has {', '.join(names)})" if names else " (it has no assay controls)")
        )
    analytes = sorted({o.analyte for o in observations})
    if analyte is None:
        if len(analytes) > 1:
            raise ServiceError(f"analyte: {control} is measured for {', '.join(analytes)}; name one")
        analyte = analytes[0]
    elif analyte not in analytes:
        raise NotFound(f"analyte: {control} of {method} has no {analyte!r} (it has {', '.join(analytes)})")
    chosen = [o for o in observations if o.analyte == analyte]
    quantities = list(dict.fromkeys(o.quantity for o in chosen))
    if quantity is None:
        quantity = RECOVERY if RECOVERY in quantities else quantities[0]
    elif quantity not in quantities:
        raise ServiceError(f"quantity: {control} {analyte} is charted as {', '.join(quantities)}")
    return analyte, quantity, [o for o in chosen if o.quantity == quantity]


def _observation_ids(observations: list[ControlObservation]) -> list[str]:
    """The run number; ``RUN:IMPORT`` when a run measured the control on several plates."""
    per_run = Counter(o.run for o in observations)
    return [o.run if per_run[o.run] == 1 else f"{o.run}:{o.input}" for o in observations]


def limit_history(method: str, control: str, analyte: str, quantity: str) -> list[AssayControlLimits]:
    """Every approved set of limits of the control, oldest first (superseded ones included)."""
    return list(
        AssayControlLimits.objects.select_related("approved_by")
        .filter(method=method, control=control, analyte=analyte, quantity=quantity)
        .order_by("approved_at", "pk")
    )


def _limits_dict(limits: AssayControlLimits) -> dict[str, Any]:
    return {
        "id": limits.pk,
        "first_run": limits.first_run,
        "baseline_n": limits.baseline_n,
        "mean": limits.mean,
        "sd": limits.sd,
        "unit": limits.unit,
        "baseline_runs": limits.baseline_runs,
        "approved_by": limits.approved_by.get_username(),
        "approved_at": limits.approved_at.isoformat(),
        "reason": limits.reason,
        "superseded": AssayControlLimits.objects.filter(supersedes=limits).exists(),
    }


def control_chart(
    method: str,
    control: str,
    analyte: str | None = None,
    baseline_n: int | None = None,
    quantity: str | None = None,
) -> dict[str, Any]:
    """The Levey-Jennings chart of one control of a method over its accepted runs, in run order.

    Parameters
    ----------
    method
        Method code (runs of every version are charted; each point names its version).
    control
        The control's name as on the plate (``QC-high``, ``CTRL``).
    analyte
        Needed when the control is measured for several analytes (multiplex panels).
    baseline_n
        Chart against the mean and SD of the first ``baseline_n`` runs (labelled "baseline", not approved)
        instead of the approved limits. Without it: the approved limits, or provisional limits from the first
        20 runs (or all, when fewer) while none are approved.
    quantity
        One of :data:`secretome.methods.controls.QUANTITIES`: ``recovery`` (default for QC samples),
        ``concentration``, ``relative potency``, ``response``, ``stimulation index``, ``inhibition``,
        ``percent of positive control``, ``IDO activity``, ``kynurenine``, ``closure``; without it, the
        control's recovery or else its first quantity.
    """
    code = method.strip()
    analyte, quantity, observations = _select(code, control, analyte, quantity)
    ids_all = _observation_ids(observations)
    charted = [(i, o) for i, o in zip(ids_all, observations, strict=True) if o.value is not None]
    excluded = [
        {"id": i, "run": o.run, "reason": "no value (not readable from the curve)"}
        for i, o in zip(ids_all, observations, strict=True)
        if o.value is None
    ]
    ids = [i for i, _ in charted]
    values = [float(o.value) for _, o in charted if o.value is not None]
    history = limit_history(code, control, analyte, quantity)
    payload: dict[str, Any] = {
        "method": code,
        "control": control,
        "analyte": analyte,
        "quantity": quantity,
        "unit": observations[0].unit,
        "n": len(values),
        "observations": [{"id": i, **o.to_dict()} for i, o in charted],
        "excluded": excluded,
        "limit_history": [_limits_dict(h) for h in history],
        "limits": None,
        "chart": None,
        "signals": [],
        "note": "",
    }
    segments: list[ControlLimitsSegment]
    if baseline_n is not None:
        try:
            mean, sd = baseline_limits(values, baseline_n)
        except ValueError as exc:
            raise ServiceError(str(exc)) from None
        segments = [ControlLimitsSegment(0, mean, sd, f"baseline: first {baseline_n} runs (not approved)")]
        payload["limits"] = {"origin": "baseline", "baseline_n": baseline_n, "first_run": ids[0]}
    elif history:
        segments = []
        for limits in history:
            if limits.first_run in ids:
                segments.append(
                    ControlLimitsSegment(
                        ids.index(limits.first_run),
                        limits.mean,
                        limits.sd,
                        f"approved by {limits.approved_by.get_username()} "
                        f"({limits.baseline_n} runs from {limits.first_run})",
                    )
                )
        if not segments:
            latest = history[-1]
            segments.append(
                ControlLimitsSegment(
                    0, latest.mean, latest.sd, f"approved by {latest.approved_by.get_username()}"
                )
            )
        current = history[-1]
        payload["limits"] = {
            "origin": "approved",
            "baseline_n": current.baseline_n,
            "first_run": current.first_run,
            "approved_by": current.approved_by.get_username(),
            "approved_at": current.approved_at.isoformat(),
        }
    else:
        if len(values) < MINIMUM_RUNS:
            payload["note"] = f"runs with a value: {len(values)}; a chart needs at least {MINIMUM_RUNS}"
            return payload
        n = min(PROVISIONAL_BASELINE, len(values))
        try:
            mean, sd = baseline_limits(values, n)
        except ValueError as exc:
            payload["note"] = str(exc)
            return payload
        segments = [ControlLimitsSegment(0, mean, sd, f"provisional: first {n} runs")]
        payload["limits"] = {"origin": "provisional", "baseline_n": n, "first_run": ids[0]}
    if not values:
        payload["note"] = "no run has a value of this control"
        return payload
    chart = levey_jennings(values, ids, segments)
    payload["chart"] = chart.to_dict()
    payload["signals"] = payload["chart"]["signals"]
    return payload


@transaction.atomic
def approve_control_limits(
    actor: User,
    reason: str,
    method: str,
    control: str,
    *,
    analyte: str | None = None,
    quantity: str | None = None,
    first_run: str | None = None,
    baseline_n: int,
) -> AssayControlLimits:
    """QA approves a control's mean and SD from ``baseline_n`` consecutive runs starting at ``first_run``
    (default: the first run). A later approval supersedes the current limits, which stay on record and on
    the chart for the runs before its first run."""
    require_role(actor, Role.QA)
    reason = require_reason(reason)
    code = method.strip()
    analyte, quantity, observations = _select(code, control, analyte, quantity)
    ids_all = _observation_ids(observations)
    charted = [(i, float(o.value)) for i, o in zip(ids_all, observations, strict=True) if o.value is not None]
    ids = [i for i, _ in charted]
    start = 0 if first_run is None else (ids.index(first_run) if first_run in ids else -1)
    if start < 0:
        raise ServiceError(f"first_run: {first_run!r} has no value of {control} {analyte}")
    if isinstance(baseline_n, bool) or int(baseline_n) != baseline_n or baseline_n < 2:
        raise ServiceError("baseline_n: an integer of at least 2")
    chosen = charted[start : start + baseline_n]
    if len(chosen) < baseline_n:
        raise ServiceError(f"baseline_n: only {len(chosen)} runs from {ids[start]} on")
    previous = (
        AssayControlLimits.objects.filter(method=code, control=control, analyte=analyte, quantity=quantity)
        .order_by("-approved_at", "-pk")
        .first()
    )
    if previous is not None and previous.first_run in ids and start < ids.index(previous.first_run):
        raise ServiceError(
            f"first_run: a re-baselining cannot start before the current limits' first run ({previous.first_run})"
        )
    try:
        mean, sd = baseline_limits([v for _, v in chosen], baseline_n)
    except ValueError as exc:
        raise ServiceError(str(exc)) from None
    limits = AssayControlLimits.objects.create(
        method=code,
        control=control,
        analyte=analyte,
        quantity=quantity,
        unit=observations[0].unit,
        first_run=ids[start],
        baseline_runs=[[i, v] for i, v in chosen],
        baseline_n=baseline_n,
        mean=mean,
        sd=sd,
        approved_at=timezone.now(),
        approved_by=actor,
        reason=reason,
        supersedes=previous,
    )
    record_event(
        actor,
        "approve assay control limits" if previous is None else "re-baseline assay control limits",
        RECORD_TYPE,
        f"{code}/{control}/{analyte}/{quantity}",
        reason,
        None if previous is None else _limits_summary(previous),
        _limits_summary(limits),
    )
    return limits


def _limits_summary(limits: AssayControlLimits) -> dict[str, Any]:
    return {
        "id": limits.pk,
        "first_run": limits.first_run,
        "baseline_n": limits.baseline_n,
        "mean": limits.mean,
        "sd": limits.sd,
        "baseline_runs": limits.baseline_runs,
    }


def charted_controls() -> list[dict[str, Any]]:
    """Every method with assay controls in its accepted runs, and its controls (for the trend index)."""
    rows = []
    codes = sorted(
        set(
            AnalysisRun.objects.filter(status=RunStatus.ACCEPTED, method__kind__in=CONTROL_KINDS).values_list(
                "method__code", flat=True
            )
        )
    )
    for code in codes:
        for entry in method_controls(code):
            # A QC's concentration is its recovery on another scale: the index lists the recovery.
            if entry["quantity"] != CONCENTRATION:
                rows.append({"method": code, **entry})
    return rows


__all__ = [
    "PROVISIONAL_BASELINE",
    "approve_control_limits",
    "charted_controls",
    "control_chart",
    "control_observations",
    "limit_history",
    "method_controls",
]
