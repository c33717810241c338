"""Analysis runs: stored raw files through an approved method to accepted lot results, and back again.

``analyse`` reads the stored bytes of each input import (never a path the user typed), checks them against
their SHA-256, parses them with the import's reader, runs the method kind and stores everything it needs to
be recomputed: inputs with hashes and layouts, method version, engine and versions, the complete result,
plots, flags and the analyst's decisions. ``accept_run`` turns its reportable values into lot results, each
linked to the run and so to the import and raw file. ``verify_run`` recomputes a run from its raw files.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from importlib import metadata
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from secretome import __version__
from secretome.db.analyses.models import (
    AnalysisDecision,
    AnalysisMethod,
    AnalysisPlot,
    AnalysisRun,
    AnalysisRunInput,
    MethodStatus,
    RunStatus,
)
from secretome.db.genealogy.models import Lot
from secretome.db.imports.models import InstrumentImport, PlateLayout
from secretome.db.quality.models import Result, ResultInvalidation, ResultSource
from secretome.domain.canonical import canonical_json
from secretome.domain.roles import Role
from secretome.domain.specification import Reading
from secretome.methods import (
    Decisions,
    KindOutcome,
    LotContext,
    MethodInput,
    Reportable,
    RunContext,
    get_kind,
)
from secretome.services import imports
from secretome.services.analyses._methods import method_settings, record_id
from secretome.services.audit import record_event, require_reason
from secretome.services.errors import GuardFailed, NotFound, ServiceError
from secretome.services.release.lots import add_result, current_results, get_lot
from secretome.services.users import require_role

RECORD_TYPE = "analysis_run"

#: Who runs and accepts analyses; reviewers (and QA) send runs back.
ANALYST_ROLES = (Role.ANALYST, Role.REVIEWER)
REVIEW_ROLES = (Role.REVIEWER, Role.QA)

#: Relative tolerance of the recompute check.
RECOMPUTE_RTOL = 1e-9

#: The packages whose versions a run records beside its engine.
_ENGINE_PACKAGES = ("numpy", "scipy", "lmfit", "flowio", "flowutils", "allotropy")


def engine_version() -> str:
    """``secretome 0.1.0; numpy 2.1.3; ...``: the code a run was computed with."""
    parts = [f"secretome {__version__}"]
    for package in _ENGINE_PACKAGES:
        try:
            parts.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            continue
    return "; ".join(parts)


# --- inputs -----------------------------------------------------------------------------------------


def _import_record(reference: InstrumentImport | int | str) -> InstrumentImport:
    if isinstance(reference, InstrumentImport):
        return reference
    text = str(reference).strip().lower()
    query = InstrumentImport.objects.select_related("raw_file", "layout", "lot")
    if text.isdigit():
        found = query.filter(pk=int(text)).first()
    elif re.fullmatch(r"[0-9a-f]{64}", text):
        found = query.filter(raw_file__sha256=text).first()
    else:
        raise ServiceError(f"import: {reference!r} is neither an import id nor a raw file's SHA-256")
    if found is None:
        raise NotFound(f"import: no instrument import {reference!r}")
    return found


def method_input(record: InstrumentImport, layout: PlateLayout | None) -> MethodInput:
    """The input a kind sees: the stored bytes (SHA-256 checked) parsed again by the import's reader."""
    try:
        content = imports.raw_content(record.raw_file)
    except ServiceError as exc:
        raise ServiceError(f"import #{record.pk} ({record.filename}): {exc}") from None
    reading = imports.inspect_file(record.filename, content, record.format)
    return MethodInput(
        import_id=record.pk,
        sha256=record.raw_file.sha256,
        filename=record.filename,
        reading=reading,
        layout=imports.layout_of(layout) if layout is not None else None,
        content=content,
    )


def _float(value: Any) -> float | None:
    if value in (None, ""):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def lot_context(lot: Lot) -> LotContext:
    """The normalisation facts of a lot: producer cells, hours and volume of its conditioning run, and the
    total protein of its current ``protein`` result when there is one."""
    run = lot.conditioning_run
    protein = None
    current = current_results(lot).get("protein")
    if current is not None and current.qualifier == "=":
        protein = _float(current.value)
    return LotContext(
        lot=lot.number,
        viable_cells=_float(run.viable_cells_at_start) if run is not None else None,
        hours=_float(run.planned_hours) if run is not None else None,
        volume_ml=_float(run.volume_ml) if run is not None else None,
        protein_ug_per_ml=protein,
    )


def _lots_named(inputs: Sequence[MethodInput], extra: Iterable[str]) -> list[Lot]:
    """Lots the run may report for: the ones named explicitly, and every sample or preparation named like a lot."""
    names: set[str] = set(extra)
    for item in inputs:
        names.update(m.sample for m in item.reading.measurements if m.sample)
        if item.layout is not None:
            names.update(a.name for a in item.layout.wells.values() if a.name)
    # Files often name a sample after its lot with a suffix ("CM-1 P5 CPD 12.1", "CM-1_03" for a video).
    candidates = set(names)
    for name in names:
        candidates.add(name.split()[0] if name.split() else name)
        candidates.add(name.rsplit("_", 1)[0])
    return list(Lot.objects.select_related("conditioning_run").filter(number__in=sorted(candidates)))


def _decision_key(target: str, inputs: Sequence[MethodInput]) -> str:
    """``B3`` (single input) or ``12:B3`` -> ``12:B3``; refused when it names no input."""
    text = target.strip()
    if ":" in text:
        import_part, _, name = text.partition(":")
        if not import_part.isdigit() or int(import_part) not in {i.import_id for i in inputs}:
            raise ServiceError(
                f"exclude: {target!r} names import {import_part}, which is not an input of the run"
            )
        return f"{int(import_part)}:{name.strip()}"
    if len(inputs) != 1:
        raise ServiceError(
            f"exclude: {target!r} must name its import as IMPORT:WELL (the run has several inputs)"
        )
    return f"{inputs[0].import_id}:{text}"


# --- running ----------------------------------------------------------------------------------------


def _next_number(year: int) -> str:
    prefix = f"AR-{year}-"
    count = AnalysisRun.objects.filter(number__startswith=prefix).count()
    return f"{prefix}{count + 1:04d}"


def run_kind(
    method: AnalysisMethod, inputs: Sequence[MethodInput], decisions: Decisions, context: RunContext
) -> KindOutcome:
    """Run the method's kind: the one computation both ``analyse`` and the recompute check make."""
    kind = get_kind(method.kind)
    try:
        return kind.analyse(inputs, method_settings(method), decisions, context)
    except ValueError as exc:
        raise ServiceError(f"analysis by {record_id(method)}: {exc}") from None


@transaction.atomic
def analyse(
    actor: User,
    reason: str,
    import_references: Sequence[InstrumentImport | int | str],
    method_reference: AnalysisMethod | str,
    lot: Lot | str | None = None,
    *,
    exclude: Mapping[str, str] | None = None,
    keep: Mapping[str, str] | None = None,
    sample_lots: Mapping[str, str] | None = None,
    supersedes: AnalysisRun | None = None,
) -> AnalysisRun:
    """Analyse stored instrument imports with an approved method; the run is stored as a draft.

    Parameters
    ----------
    actor, reason
        Who analyses, and why (audit trail).
    import_references
        The inputs: import records, ids or raw-file SHA-256s. Their stored bytes are read and checked.
    method_reference
        An approved method record, ``CODE`` (its approved version) or ``CODE@VERSION``.
    lot
        The lot the run reports for when its samples do not name lots themselves.
    exclude, keep
        Analyst decisions: ``{"B3": "bubble in well"}`` (or ``"IMPORT:WELL"`` keys), each with its reason.
    sample_lots
        Sample (or preparation) name -> lot number, for samples not named like their lot.
    supersedes
        The draft run this one re-analyses (it becomes superseded).
    """
    from secretome.services.analyses._methods import get_method

    require_role(actor, *ANALYST_ROLES)
    reason = require_reason(reason)
    method = (
        method_reference if isinstance(method_reference, AnalysisMethod) else get_method(method_reference)
    )
    if method.status != MethodStatus.APPROVED:
        raise GuardFailed(f"method {record_id(method)} is {method.status}: runs use approved methods only")
    if not import_references:
        raise ServiceError("imports: a run needs at least one instrument import")
    kind = get_kind(method.kind)
    records = [_import_record(r) for r in import_references]
    if len({r.pk for r in records}) != len(records):
        raise ServiceError("imports: the same import is named twice")
    for record in records:
        if kind.input_families and record.family not in kind.input_families:
            raise ServiceError(
                f"import #{record.pk} ({record.filename}) is a {record.family} file; method {record_id(method)} "
                f"({method.kind}) takes {', '.join(kind.input_families)}"
            )
    layouts = [method.layout or record.layout for record in records]
    inputs = [method_input(record, layout) for record, layout in zip(records, layouts, strict=True)]
    lot_record = get_lot(lot) if isinstance(lot, str) else lot
    explicit = set((sample_lots or {}).values()) | ({lot_record.number} if lot_record else set())
    found = _lots_named(inputs, explicit)
    missing = explicit - {f.number for f in found}
    if missing:
        raise NotFound(f"lot: {', '.join(sorted(missing))} does not exist")
    context = RunContext(
        lots={f.number: lot_context(f) for f in found},
        sample_lots=dict(sample_lots or {}),
        default_lot=lot_record.number if lot_record else None,
    )
    excluded = {_decision_key(k, inputs): require_reason(v) for k, v in (exclude or {}).items()}
    kept = {_decision_key(k, inputs): require_reason(v) for k, v in (keep or {}).items()}
    decisions = Decisions(excluded=excluded, kept=kept)
    outcome = run_kind(method, inputs, decisions, context)
    reported_lots = sorted({r.lot for r in outcome.reportables})
    unknown = [name for name in reported_lots if name not in context.lots]
    if unknown:
        raise ServiceError(f"analysis reports for {', '.join(unknown)}, which is not a lot of the run")
    if supersedes is not None and supersedes.status not in (RunStatus.DRAFT, RunStatus.RETURNED):
        raise GuardFailed(
            f"run {supersedes.number} is {supersedes.status}: only a draft or returned run is re-analysed"
        )
    now = timezone.now()
    run = AnalysisRun.objects.create(
        number=_next_number(now.year),
        method=method,
        lot=lot_record,
        lots=reported_lots,
        engine=outcome.engine,
        engine_version=engine_version(),
        context_json=canonical_json(context.to_dict()),
        decisions_json=canonical_json(decisions.to_dict()),
        result_json=canonical_json(dict(outcome.result)),
        reportables_json=canonical_json([r.to_dict() for r in outcome.reportables]),
        flags=list(outcome.flags),
        used=list(outcome.used),
        supersedes=supersedes,
        reason=reason,
        created_at=now,
        created_by=actor,
    )
    for position, (record, layout) in enumerate(zip(records, layouts, strict=True), start=1):
        AnalysisRunInput.objects.create(
            run=run,
            position=position,
            instrument_import=record,
            raw_sha256=record.raw_file.sha256,
            layout=layout,
        )
    for position, (title, svg) in enumerate(outcome.plots, start=1):
        AnalysisPlot.objects.create(run=run, position=position, title=title[:200], svg=svg)
    record_event(actor, "analyse", RECORD_TYPE, run.number, reason, None, run_summary(run))
    for action, chosen in (("exclude", excluded), ("keep", kept)):
        for target, because in sorted(chosen.items()):
            AnalysisDecision.objects.create(
                run=run, action=action, target=target, reason=because, decided_at=now, decided_by=actor
            )
            record_event(actor, f"{action} input", RECORD_TYPE, run.number, because, None, {"target": target})
    if supersedes is not None:
        before = supersedes.status
        supersedes.status = RunStatus.SUPERSEDED
        supersedes.save(update_fields=["status"])
        record_event(
            actor,
            "supersede",
            RECORD_TYPE,
            supersedes.number,
            reason,
            {"status": before},
            {"status": "superseded", "by": run.number},
        )
    return run


def decisions_of(run: AnalysisRun) -> Decisions:
    return Decisions.from_dict(json.loads(run.decisions_json))


def reportables_of(run: AnalysisRun) -> list[Reportable]:
    return [Reportable.from_dict(r) for r in json.loads(run.reportables_json)]


def result_of(run: AnalysisRun) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(run.result_json)
    return loaded


def reanalyse(
    actor: User,
    reason: str,
    run_number: str,
    *,
    exclude: Mapping[str, str] | None = None,
    keep: Mapping[str, str] | None = None,
    include: Iterable[str] = (),
) -> AnalysisRun:
    """Re-analyse a draft or returned run with more decisions (or a well put back with ``include``): a new
    draft run that supersedes it, with the same inputs and method version."""
    run = get_run(run_number)
    inputs = list(run.inputs.select_related("instrument_import__raw_file").order_by("position"))
    old = decisions_of(run)
    restored = set(include)
    excluded = {k: v for k, v in old.excluded.items() if k not in restored}
    excluded.update(exclude or {})
    kept = dict(old.kept)
    kept.update(keep or {})
    context = RunContext.from_dict(json.loads(run.context_json))
    return analyse(
        actor,
        reason,
        [i.instrument_import for i in inputs],
        run.method,
        run.lot,
        exclude=excluded,
        keep=kept,
        sample_lots=context.sample_lots,
        supersedes=run,
    )


# --- accepting and sending back ---------------------------------------------------------------------


def _reading(reportable: Reportable) -> Reading:
    # repr keeps every bit of the float: the stored text is the computed number, rounded only at evaluation.
    value = None if reportable.value is None else Decimal(repr(float(reportable.value)))
    interval = None
    if reportable.interval is not None:
        interval = (Decimal(repr(reportable.interval[0])), Decimal(repr(reportable.interval[1])))
    return Reading(value=value, qualifier=reportable.qualifier, finding=reportable.finding, interval=interval)


def _import_for(run: AnalysisRun, reportable: Reportable) -> InstrumentImport:
    inputs = list(run.inputs.select_related("instrument_import").order_by("position"))
    named = {i.split(":", 1)[0] for i in reportable.inputs if ":" in i}
    for item in inputs:
        if str(item.instrument_import_id) in named:
            return item.instrument_import
    return inputs[0].instrument_import


@transaction.atomic
def accept_run(actor: User, reason: str, run_number: str) -> list[Result]:
    """The analyst accepts a draft run: each reportable value becomes a result of its lot, linked to the run.

    A result replaces nothing: when the lot already has a valid result of the attribute, acceptance is
    refused; when its result was invalidated (a run sent back), the new result is its retest.
    """
    require_role(actor, *ANALYST_ROLES)
    reason = require_reason(reason)
    run = get_run(run_number, for_update=True)
    if run.status != RunStatus.DRAFT:
        raise GuardFailed(f"run {run.number} is {run.status}: only a draft run is accepted")
    reportables = reportables_of(run)
    if not reportables:
        raise GuardFailed(f"run {run.number} reports no value: nothing to accept")
    created: list[Result] = []
    for reportable in reportables:
        lot = get_lot(reportable.lot)
        retest_of = (
            Result.objects.filter(lot=lot, attribute__code=reportable.attribute, invalidation__isnull=False)
            .exclude(retests__isnull=False)
            .order_by("-recorded_at", "-pk")
            .first()
        )
        created.append(
            add_result(
                actor,
                f"{reason} (analysis run {run.number})",
                lot.number,
                reportable.attribute,
                _reading(reportable),
                source=ResultSource.ANALYSIS,
                method=f"{run.method.title} ({record_id(run.method)})",
                instrument_import=_import_for(run, reportable),
                analysis_run=run,
                retest_of=retest_of.pk if retest_of is not None else None,
                comment="; ".join(reportable.flags),
            )
        )
    run.status = RunStatus.ACCEPTED
    run.accepted_at = timezone.now()
    run.accepted_by = actor
    run.save(update_fields=["status", "accepted_at", "accepted_by"])
    record_event(
        actor,
        "accept",
        RECORD_TYPE,
        run.number,
        reason,
        {"status": "draft"},
        {"status": "accepted", "results": [r.pk for r in created]},
    )
    return created


@transaction.atomic
def return_run(actor: User, reason: str, run_number: str) -> AnalysisRun:
    """A reviewer (or QA) sends a run back. Results of an accepted run are invalidated (kept, never deleted),
    so a re-analysis can report their retests."""
    require_role(actor, *REVIEW_ROLES)
    reason = require_reason(reason)
    run = get_run(run_number, for_update=True)
    if run.status not in (RunStatus.DRAFT, RunStatus.ACCEPTED):
        raise GuardFailed(f"run {run.number} is {run.status}: only a draft or accepted run is sent back")
    if run.created_by_id == actor.pk:
        raise GuardFailed(f"run {run.number}: the reviewer who sends a run back cannot be its analyst")
    before = run.status
    now = timezone.now()
    for result in Result.objects.filter(analysis_run=run, invalidation__isnull=True):
        ResultInvalidation.objects.create(
            result=result,
            reason=f"analysis run {run.number} sent back: {reason}",
            invalidated_at=now,
            invalidated_by=actor,
        )
        record_event(
            actor,
            "invalidate result",
            "lot",
            result.lot.number,
            reason,
            {"result": result.pk, "valid": True},
            {"result": result.pk, "valid": False, "analysis_run": run.number},
        )
    run.status = RunStatus.RETURNED
    run.returned_at = now
    run.returned_by = actor
    run.return_reason = reason
    run.save(update_fields=["status", "returned_at", "returned_by", "return_reason"])
    record_event(
        actor, "send back", RECORD_TYPE, run.number, reason, {"status": before}, {"status": "returned"}
    )
    return run


# --- reading ----------------------------------------------------------------------------------------


def get_run(number: str, for_update: bool = False) -> AnalysisRun:
    query = AnalysisRun.objects.select_related("method__layout", "lot", "created_by", "accepted_by")
    if for_update:
        query = query.select_for_update(of=("self",))
    try:
        return query.get(number=number.strip())
    except AnalysisRun.DoesNotExist:
        raise NotFound(f"analysis run {number!r} does not exist") from None


def list_runs(lot: str | None = None, limit: int = 200) -> list[AnalysisRun]:
    query = AnalysisRun.objects.select_related("method", "lot", "created_by")
    if not lot:
        return list(query[:limit])
    if _json_contains_supported():
        query = query.filter(Q(lots__contains=[lot]) | Q(lot__number=lot))
    # SQLite cannot look inside a JSON list, so the runs are read in order until ``limit`` of them name the
    # lot: a fixed window of rows could miss a lot whose runs are older than the window.
    runs: list[AnalysisRun] = []
    for run in query.iterator(chunk_size=500):
        if lot in run.lots or (run.lot is not None and run.lot.number == lot):
            runs.append(run)
            if len(runs) == limit:
                break
    return runs


def _json_contains_supported() -> bool:
    from django.db import connection

    return bool(connection.features.supports_json_field_contains)


def runs_for_lot(lot: Lot) -> list[AnalysisRun]:
    return list_runs(lot.number)


def run_summary(run: AnalysisRun) -> dict[str, Any]:
    """What the audit trail keeps of a run: its method, inputs with hashes, decisions and reported values."""
    return {
        "number": run.number,
        "method": record_id(run.method),
        "kind": run.method.kind,
        "engine": run.engine,
        "engine_version": run.engine_version,
        "inputs": [
            {
                "import": i.instrument_import_id,
                "sha256": i.raw_sha256,
                "layout": str(i.layout) if i.layout else None,
            }
            for i in run.inputs.order_by("position")
        ],
        "decisions": decisions_of(run).to_dict(),
        "reportables": json.loads(run.reportables_json),
        "result_sha256": hashlib.sha256(run.result_json.encode()).hexdigest(),
    }


def run_dict(run: AnalysisRun, with_result: bool = True) -> dict[str, Any]:
    payload: dict[str, Any] = {
        **run_summary(run),
        "status": run.status,
        "lot": run.lot.number if run.lot else None,
        "lots": list(run.lots),
        "flags": list(run.flags),
        "used": list(run.used),
        "reason": run.reason,
        "created_at": run.created_at.isoformat(),
        "created_by": run.created_by.get_username(),
        "accepted_at": run.accepted_at.isoformat() if run.accepted_at else None,
        "accepted_by": run.accepted_by.get_username() if run.accepted_by else None,
        "returned_at": run.returned_at.isoformat() if run.returned_at else None,
        "return_reason": run.return_reason or None,
        "supersedes": run.supersedes.number if run.supersedes else None,
        "superseded_by": getattr(getattr(run, "superseded_by", None), "number", None),
        "plots": [p.title for p in run.plots.all()],
        "decision_log": [
            {
                "action": d.action,
                "target": d.target,
                "reason": d.reason,
                "by": d.decided_by.get_username(),
                "at": d.decided_at.isoformat(),
            }
            for d in run.decisions.select_related("decided_by")
        ],
        "results": [
            {"lot": r.lot.number, "attribute": r.attribute.code, "result": r.pk} for r in run.results.all()
        ],
    }
    if with_result:
        payload["result"] = result_of(run)
    return payload


# --- recompute ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mismatch:
    """One number (or text) that differs between the stored run and its recomputation."""

    path: str
    stored: Any
    recomputed: Any

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "stored": self.stored, "recomputed": self.recomputed}


@dataclass(frozen=True)
class RunVerification:
    """The outcome of recomputing one run from its raw files."""

    run: str
    method: str
    inputs: tuple[dict[str, Any], ...]
    problems: tuple[str, ...] = ()
    mismatches: tuple[Mismatch, ...] = ()
    reportables: tuple[tuple[Reportable, Reportable | None], ...] = field(default=())

    @property
    def match(self) -> bool:
        return not self.problems and not self.mismatches

    def recomputed(self, lot: str, attribute: str) -> Reportable | None:
        for stored, again in self.reportables:
            if stored.lot == lot and stored.attribute == attribute:
                return again
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "run": self.run,
            "method": self.method,
            "inputs": list(self.inputs),
            "match": self.match,
            "problems": list(self.problems),
            "mismatches": [m.to_dict() for m in self.mismatches[:50]],
            "mismatch_count": len(self.mismatches),
            "reportables": [
                {
                    "lot": stored.lot,
                    "attribute": stored.attribute,
                    "stored": stored.value,
                    "recomputed": again.value if again is not None else None,
                }
                for stored, again in self.reportables
            ],
        }


def numbers_match(stored: Any, recomputed: Any, rtol: float = RECOMPUTE_RTOL) -> bool:
    """Equal numbers within ``rtol`` (relative to the larger magnitude); anything else compared exactly."""
    if isinstance(stored, bool) or isinstance(recomputed, bool):
        return bool(stored == recomputed)
    if isinstance(stored, int | float) and isinstance(recomputed, int | float):
        a, b = float(stored), float(recomputed)
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return abs(a - b) <= rtol * max(abs(a), abs(b)) or a == b
    return bool(stored == recomputed)


def compare_results(stored: Any, recomputed: Any, path: str = "result") -> list[Mismatch]:
    """Every place where two JSON-like results differ (numbers within :data:`RECOMPUTE_RTOL`)."""
    if isinstance(stored, dict) and isinstance(recomputed, dict):
        found: list[Mismatch] = []
        for key in sorted(set(stored) | set(recomputed), key=str):
            if key not in stored or key not in recomputed:
                found.append(Mismatch(f"{path}.{key}", stored.get(key), recomputed.get(key)))
            else:
                found.extend(compare_results(stored[key], recomputed[key], f"{path}.{key}"))
        return found
    if isinstance(stored, list) and isinstance(recomputed, list):
        if len(stored) != len(recomputed):
            return [Mismatch(f"{path}[len]", len(stored), len(recomputed))]
        found = []
        for index, (a, b) in enumerate(zip(stored, recomputed, strict=True)):
            found.extend(compare_results(a, b, f"{path}[{index}]"))
        return found
    return [] if numbers_match(stored, recomputed) else [Mismatch(path, stored, recomputed)]


def verify_run(run: AnalysisRun | str) -> RunVerification:
    """Recompute ``run`` from its raw files: SHA-256 of each stored file, the method version's settings, the
    recorded decisions, and every stored number compared (relative :data:`RECOMPUTE_RTOL`)."""
    record = get_run(run) if isinstance(run, str) else run
    problems: list[str] = []
    inputs: list[MethodInput] = []
    described: list[dict[str, Any]] = []
    for item in record.inputs.select_related("instrument_import__raw_file", "layout").order_by("position"):
        source = item.instrument_import
        entry = {"import": source.pk, "file_name": source.filename, "raw_sha256": item.raw_sha256}
        described.append(entry)
        if source.raw_file.sha256 != item.raw_sha256:
            problems.append(
                f"import #{source.pk} ({source.filename}) no longer names raw file {item.raw_sha256}"
            )
            continue
        try:
            inputs.append(method_input(source, item.layout))
        except ServiceError as exc:
            problems.append(str(exc))
    stored_reportables = reportables_of(record)
    if problems:
        return RunVerification(
            record.number,
            record_id(record.method),
            tuple(described),
            tuple(problems),
            reportables=tuple((r, None) for r in stored_reportables),
        )
    context = RunContext.from_dict(json.loads(record.context_json))
    try:
        outcome = run_kind(record.method, inputs, decisions_of(record), context)
    except ServiceError as exc:
        return RunVerification(
            record.number,
            record_id(record.method),
            tuple(described),
            (str(exc),),
            reportables=tuple((r, None) for r in stored_reportables),
        )
    recomputed_result = json.loads(canonical_json(dict(outcome.result)))
    mismatches = compare_results(result_of(record), recomputed_result)
    again = {(r.lot, r.attribute): r for r in outcome.reportables}
    pairs: list[tuple[Reportable, Reportable | None]] = []
    for stored in stored_reportables:
        new = again.get((stored.lot, stored.attribute))
        pairs.append((stored, new))
        if new is None:
            mismatches.append(Mismatch(f"reportable {stored.lot} {stored.attribute}", stored.value, None))
            continue
        mismatches.extend(
            compare_results(
                stored.to_dict(),
                json.loads(canonical_json(new.to_dict())),
                f"reportable {stored.lot} {stored.attribute}",
            )
        )
    extra = set(again) - {(r.lot, r.attribute) for r in stored_reportables}
    mismatches.extend(
        Mismatch(f"reportable {lot} {attribute}", None, "new value") for lot, attribute in sorted(extra)
    )
    return RunVerification(
        record.number, record_id(record.method), tuple(described), (), tuple(mismatches), tuple(pairs)
    )


def runs_using_import(record: InstrumentImport) -> list[AnalysisRun]:
    return list(AnalysisRun.objects.filter(inputs__instrument_import=record).distinct())
