"""Process recipes (versioned; QA approves), passage policies, senescence rules and deviations."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone

from secretome.db.genealogy.models import (
    Deviation,
    DeviationDecision,
    DeviationKind,
    PassagePolicy,
    ProcessRecipe,
    SenescenceRules,
    Supplement,
)
from secretome.domain import genealogy as rules
from secretome.services.audit import record_event
from secretome.services.errors import Forbidden, ServiceError
from secretome.services.genealogy._common import (
    acting_user_record,
    deviation_by_number,
    lot_by_number,
    passage_by_id,
    percent,
    positive,
    recipe_by_code,
    require_lab,
    require_qa,
    snapshot,
)
from secretome.services.genealogy._donors import parse_tissue_source
from secretome.services.users import Actor

RECIPE_FIELDS = [
    "code",
    "version",
    "title",
    "basal_medium",
    "supplement",
    "supplement_percent",
    "o2_percent",
    "seeding_density_per_cm2",
    "harvest_confluence_percent",
    "conditioning_medium",
    "conditioning_hours",
    "priming_agents",
    "approved_at",
    "approved_by",
]
DEVIATION_FIELDS = [
    "number",
    "kind",
    "description",
    "raised_at",
    "raised_by",
    "decision",
    "decision_note",
    "decided_at",
    "decided_by",
]


@transaction.atomic
def create_recipe(
    actor: Actor,
    reason: str,
    *,
    code: str,
    title: str,
    basal_medium: str,
    supplement: str,
    supplement_percent: float,
    o2_percent: float,
    seeding_density_per_cm2: float,
    harvest_confluence_percent: float,
    conditioning_medium: str,
    conditioning_hours: float,
    priming_agents: str = "",
) -> ProcessRecipe:
    """Write a new version of a recipe (version 1 for a new code). It is usable once QA approves it."""
    require_lab(actor)
    user = acting_user_record(actor)
    code = code.strip().upper()
    if not code or not title.strip() or not basal_medium.strip() or not conditioning_medium.strip():
        raise ServiceError("code, title, basal_medium and conditioning_medium are required")
    if supplement not in Supplement.values:
        raise ServiceError(f"supplement: {supplement!r} is not one of {', '.join(Supplement.values)}")
    previous = ProcessRecipe.objects.filter(code=code).order_by("-version").first()
    recipe = ProcessRecipe.objects.create(
        code=code,
        version=1 if previous is None else previous.version + 1,
        title=title.strip(),
        basal_medium=basal_medium.strip(),
        supplement=supplement,
        supplement_percent=percent("supplement_percent", supplement_percent),
        o2_percent=percent("o2_percent", o2_percent),
        seeding_density_per_cm2=positive("seeding_density_per_cm2", seeding_density_per_cm2),
        harvest_confluence_percent=percent("harvest_confluence_percent", harvest_confluence_percent),
        conditioning_medium=conditioning_medium.strip(),
        conditioning_hours=positive("conditioning_hours", conditioning_hours),
        priming_agents=priming_agents.strip(),
        previous_version=previous,
        created_at=timezone.now(),
        created_by=user,
    )
    record_event(actor, "create", "recipe", str(recipe), reason, None, snapshot(recipe, RECIPE_FIELDS))
    return recipe


@transaction.atomic
def approve_recipe(actor: Actor, reason: str, *, code: str, version: int) -> ProcessRecipe:
    """QA approves a recipe version; the author may not approve their own."""
    require_qa(actor)
    user = acting_user_record(actor)
    recipe = recipe_by_code(code, version, approved=False)
    if recipe.approved_at is not None:
        raise ServiceError(f"recipe {recipe} is already approved")
    if recipe.created_by_id == user.pk:
        raise Forbidden(f"recipe {recipe}: the author cannot approve their own recipe")
    before = snapshot(recipe, RECIPE_FIELDS)
    recipe.approved_at = timezone.now()
    recipe.approved_by = user
    recipe.save(update_fields=["approved_at", "approved_by"])
    record_event(actor, "approve", "recipe", str(recipe), reason, before, snapshot(recipe, RECIPE_FIELDS))
    return recipe


def recipes() -> list[ProcessRecipe]:
    return list(ProcessRecipe.objects.order_by("code", "version"))


def recipe_dict(recipe: ProcessRecipe) -> dict[str, Any]:
    return snapshot(recipe, RECIPE_FIELDS)


@transaction.atomic
def set_passage_policy(
    actor: Actor,
    reason: str,
    *,
    tissue_source: str,
    max_passage: int,
    rationale: str,
    product: str = "",
    max_cpd: float | None = None,
) -> PassagePolicy:
    """QA sets the passage restriction of a tissue source (and optionally one product); the latest is in force."""
    require_qa(actor)
    user = acting_user_record(actor)
    source = parse_tissue_source(tissue_source)
    try:
        rules.PassageLimit(max_passage, max_cpd)
    except ValueError as exc:
        raise ServiceError(str(exc)) from None
    if not rationale.strip():
        raise ServiceError("rationale: say what the limit rests on")
    before = passage_limit(source, product).to_dict()
    policy = PassagePolicy.objects.create(
        tissue_source=source,
        product=product.strip(),
        max_passage=max_passage,
        max_cpd=max_cpd,
        rationale=rationale.strip(),
        created_at=timezone.now(),
        created_by=user,
    )
    record_event(
        actor,
        "set",
        "passage_policy",
        f"{source}/{policy.product or '*'}",
        reason,
        before,
        passage_limit(source, product).to_dict(),
    )
    return policy


def _policy_products(product: str) -> list[str]:
    """Policy product names to look for, most specific first: the product's own, then every product ("")."""
    return ([product.strip()] if product.strip() else []) + [""]


def passage_limit(tissue_source: str, product: str = "") -> rules.PassageLimit:
    """The limit in force: the product's own policy, else the tissue source's, else the built-in default."""
    candidates = PassagePolicy.objects.filter(
        tissue_source=tissue_source, product__in=_policy_products(product)
    )
    return limit_in_force(candidates, tissue_source, product)


def passage_policies() -> list[PassagePolicy]:
    """Every passage policy ever set (a short table), for callers judging many lots at once."""
    return list(PassagePolicy.objects.all())


def limit_in_force(
    policies: Iterable[PassagePolicy], tissue_source: str, product: str = ""
) -> rules.PassageLimit:
    """The limit :func:`passage_limit` answers, chosen from ``policies`` already loaded: for each candidate
    product the latest policy of the tissue source wins."""
    loaded = [p for p in policies if p.tissue_source == tissue_source]
    for name in _policy_products(product):
        matching = [p for p in loaded if p.product == name]
        if matching:
            policy = max(matching, key=lambda p: (p.created_at, p.pk))
            return rules.PassageLimit(policy.max_passage, policy.max_cpd, source=f"policy #{policy.pk}")
    return rules.default_limit(tissue_source)


@transaction.atomic
def set_senescence_rules(
    actor: Actor,
    reason: str,
    *,
    rationale: str,
    sa_beta_gal_max_percent: float = 20.0,
    pdt_max_fold_over_baseline: float = 2.0,
    baseline_passages: int = 3,
    pd_min_per_passage: float = 1.0,
    p16_p21_max_fold: float = 2.0,
) -> SenescenceRules:
    """QA sets the senescence alert thresholds; the latest are in force."""
    require_qa(actor)
    user = acting_user_record(actor)
    try:
        wanted = rules.SenescenceRules(
            sa_beta_gal_max_percent,
            pdt_max_fold_over_baseline,
            baseline_passages,
            pd_min_per_passage,
            p16_p21_max_fold,
        )
    except ValueError as exc:
        raise ServiceError(str(exc)) from None
    if not rationale.strip():
        raise ServiceError("rationale: say what the thresholds rest on")
    before = senescence_rules().to_dict()
    record = SenescenceRules.objects.create(
        **wanted.to_dict(), rationale=rationale.strip(), created_at=timezone.now(), created_by=user
    )
    record_event(actor, "set", "senescence_rules", record.pk, reason, before, wanted.to_dict())
    return record


def senescence_rules() -> rules.SenescenceRules:
    """The senescence thresholds in force (the domain defaults until QA sets some)."""
    record = SenescenceRules.objects.order_by("-created_at", "-pk").first()
    if record is None:
        return rules.SenescenceRules()
    return rules.SenescenceRules(
        record.sa_beta_gal_max_percent,
        record.pdt_max_fold_over_baseline,
        record.baseline_passages,
        record.pd_min_per_passage,
        record.p16_p21_max_fold,
    )


def _next_deviation_number() -> str:
    year = timezone.now().year
    prefix = rules.deviation_number(year, 1)[:-4]
    existing = list(Deviation.objects.filter(number__startswith=prefix).values_list("number", flat=True))
    return rules.deviation_number(year, rules.next_sequence(existing, prefix))


@transaction.atomic
def raise_deviation(
    actor: Actor,
    reason: str,
    *,
    kind: str,
    description: str,
    passage_id: int | None = None,
    lot: str | None = None,
) -> Deviation:
    """Record a departure from policy or recipe. An over-passage deviation names the passage it covers.

    ``lot`` raises the deviation on a lot (its conditioning run): once QA approves it, such a deviation can
    reopen the record of the lot after disposition (``secretome lot reopen``).
    """
    require_lab(actor)
    user = acting_user_record(actor)
    if kind not in DeviationKind.values:
        raise ServiceError(f"kind: {kind!r} is not one of {', '.join(DeviationKind.values)}")
    if not description.strip():
        raise ServiceError("description: say what departs from what")
    passage = passage_by_id(passage_id) if passage_id is not None else None
    if kind == DeviationKind.OVER_PASSAGE and passage is None:
        raise ServiceError("passage: an over-passage deviation names the passage whose cells it covers")
    run = None
    if lot is not None:
        if kind == DeviationKind.OVER_PASSAGE:
            raise ServiceError(
                "lot: an over-passage deviation covers a passage; it is linked to a run at its start"
            )
        run = lot_by_number(lot).conditioning_run
    return create_deviation(
        actor, reason, user=user, kind=kind, description=description, passage=passage, run=run
    )


def create_deviation(
    actor: Actor, reason: str, *, user: Any, kind: str, description: str, passage: Any = None, run: Any = None
) -> Deviation:
    """Insert a deviation and its audit event (inside the caller's transaction)."""
    deviation = Deviation.objects.create(
        number=_next_deviation_number(),
        kind=kind,
        description=description.strip(),
        passage=passage,
        conditioning_run=run,
        raised_at=timezone.now(),
        raised_by=user,
    )
    record_event(actor, "create", "deviation", deviation.number, reason, None, deviation_dict(deviation))
    return deviation


@transaction.atomic
def decide_deviation(actor: Actor, reason: str, *, number: str, decision: str, note: str) -> Deviation:
    """QA approves or rejects a deviation, once; whoever raised it may not decide it."""
    require_qa(actor)
    user = acting_user_record(actor)
    deviation = deviation_by_number(number)
    if decision not in DeviationDecision.values:
        raise ServiceError(f"decision: {decision!r} is not one of {', '.join(DeviationDecision.values)}")
    if deviation.decision:
        raise ServiceError(f"deviation {deviation.number} was already {deviation.decision}")
    if deviation.raised_by_id == user.pk:
        raise Forbidden(f"deviation {deviation.number}: whoever raised it cannot decide it")
    if not note.strip():
        raise ServiceError("note: QA states the basis of the decision")
    before = deviation_dict(deviation)
    deviation.decision = decision
    deviation.decision_note = note.strip()
    deviation.decided_at = timezone.now()
    deviation.decided_by = user
    deviation.save(update_fields=["decision", "decision_note", "decided_at", "decided_by"])
    record_event(actor, decision, "deviation", deviation.number, reason, before, deviation_dict(deviation))
    return deviation


def deviation_dict(deviation: Deviation) -> dict[str, Any]:
    values = snapshot(deviation, DEVIATION_FIELDS)
    values["passage"] = deviation.passage_id
    values["conditioning_run"] = deviation.conditioning_run_id
    values["approved"] = deviation.approved
    return values


def deviations(open_only: bool = False) -> list[Deviation]:
    query = Deviation.objects.order_by("number")
    if open_only:
        query = query.filter(decision="")
    return list(query)
