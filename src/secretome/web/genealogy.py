"""Genealogy pages: the culture overview, donors, the lot genealogy (timeline, growth curve, PDT per
passage) and the forms the lab records culture work with. Views stay thin; writes go through
:mod:`secretome.services.genealogy`."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from typing import Any, ClassVar

from django import forms
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe

from secretome.db.genealogy.models import (
    BankKind,
    DeviationDecision,
    DeviationKind,
    Eligibility,
    Morphology,
    ScreeningMarker,
    ScreeningOutcome,
    StepKind,
    StorageCondition,
    TissueSource,
)
from secretome.domain.growth import GrowthCurve
from secretome.domain.roles import Role
from secretome.services import genealogy as g
from secretome.services import release
from secretome.services.errors import NotFound, ServiceError
from secretome.web.access import role_required

LAB = (Role.ANALYST, Role.QA)


# --- pages --------------------------------------------------------------------------------------------


def overview(request: HttpRequest) -> HttpResponse:
    """Donors, passages, banks, conditioning runs and deviations at a glance."""
    passages = []
    for passage in g.passages():
        row = g.passage_dict(passage)
        row.update(g.growth_of(g.lineage(passage)).passages[-1].to_dict())
        passages.append(row)
    runs = []
    for run in g.runs():
        row = g.run_dict(run)
        row["lot"] = getattr(getattr(run, "lot", None), "number", None)
        runs.append(row)
    context = {
        "donors": [g.donor_dict(d) for d in g.donors()],
        "passages": passages,
        "banks": [g.bank_dict(b) for b in g.banks()],
        "runs": runs,
        "deviations": [g.deviation_dict(d) for d in g.deviations()],
        "recipes": [g.recipe_dict(r) for r in g.recipes()],
    }
    return render(request, "secretome/genealogy/overview.html", context)


def donor_detail(request: HttpRequest, din: str) -> HttpResponse:
    """A donor: eligibility and screening, passages, banks, and every lot made from the donor."""
    try:
        donor = g.donor_by_din(din)
    except ServiceError as exc:
        raise Http404(str(exc)) from None
    context = {
        "donor": g.donor_dict(donor),
        "passages": [g.passage_dict(p) for p in g.passages(donor.din)],
        "banks": [g.bank_dict(b) for b in g.banks(donor.din)],
        "lots": g.lot_summaries(g.lots(din=donor.din)),
    }
    return render(request, "secretome/genealogy/donor.html", context)


def timeline(trace: dict[str, Any]) -> list[dict[str, Any]]:
    """The events of a lot's chain in time order, for the timeline on the lot page."""
    donor = trace["donor"]
    events: list[dict[str, Any]] = [
        {"at": donor["collected_on"], "what": f"Donation {donor['din']} collected ({donor['tissue_source']})"}
    ]
    for passage in trace["passages"]:
        origin = f" from vial {passage['source_vial']}" if passage["source_vial"] else ""
        events.append(
            {"at": passage["seeded_at"], "what": f"P{passage['number']} seeded{origin}", "passage": passage}
        )
        if passage["harvested_at"]:
            pd = passage["population_doublings"]
            events.append(
                {
                    "at": passage["harvested_at"],
                    "what": f"P{passage['number']} harvested"
                    + ("" if pd is None else f": PD {pd:.2f}, CPD {passage['cumulative_pd']:.2f}"),
                }
            )
        for bank in passage["banks"]:
            events.append({"at": passage["harvested_at"], "what": f"Banked as {bank}"})
    run = trace["conditioning_run"]
    events.append(
        {"at": run["started_at"], "what": f"Conditioning run #{run['id']} started ({run['recipe']['code']})"}
    )
    events.append({"at": trace["lot"]["collected_at"], "what": f"Lot {trace['lot']['number']} collected"})
    for step in trace["processing_steps"]:
        events.append({"at": step["performed_at"], "what": f"Step {step['sequence']}: {step['kind']}"})
    return sorted(events, key=lambda e: str(e["at"]))


def growth_svg(curve: GrowthCurve) -> SafeString:
    """The growth curve (CPD against days in culture, PDT per passage) as inline SVG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, ax = plt.subplots(figsize=(7.5, 3.4))
    curve.plot(ax)
    figure.tight_layout()
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg")
    plt.close(figure)
    svg = buffer.getvalue()
    # The SVG is produced by matplotlib from numbers, not from user text, so it is safe to inline.
    return mark_safe(svg[svg.index("<svg") :])


def lot_detail(request: HttpRequest, number: str) -> HttpResponse:
    """The genealogy of a lot: timeline, growth curve, PDT per passage, run, deviations."""
    try:
        lot = g.lot_by_number(number)
    except NotFound as exc:
        raise Http404(str(exc)) from None
    trace = g.trace(lot)
    curve = g.growth_of(g.lineage(lot.conditioning_run.passage))
    context = {
        "trace": trace,
        "timeline": timeline(trace),
        "growth_svg": growth_svg(curve),
        # Signatures are shown wherever the lot is shown (21 CFR 11.50).
        "signatures": release.lot_signatures(lot),
    }
    return render(request, "secretome/genealogy/lot.html", context)


# --- forms ---------------------------------------------------------------------------------------------


def _choices(enum: Any) -> list[tuple[str, str]]:
    return [(value, f"{value} · {label}") for value, label in enum.choices]


class RecordForm(forms.Form):
    """A form that records one thing through one service call."""

    title: ClassVar[str] = ""
    reason = forms.CharField(max_length=500, help_text="Why (kept in the audit trail).")

    def save(self, user: Any, reason: str) -> str:
        """Call the service; return the URL to go to next."""
        raise NotImplementedError


def _utc(value: dt.datetime) -> dt.datetime:
    """Form times are typed in UTC (the field says so); Django parses them in the site zone, also UTC."""
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"})
DATE = forms.DateInput(attrs={"type": "date"})
OVERVIEW = "genealogy_overview"


class DonorForm(RecordForm):
    title = "Register a donation"
    tissue_source = forms.ChoiceField(choices=_choices(TissueSource))
    collected_on = forms.DateField(widget=DATE)
    din = forms.CharField(required=False, help_text="Scanned or typed DIN; leave empty to generate one.")
    facility = forms.CharField(
        required=False, help_text="Facility code (e.g. W0001) to generate the next DIN."
    )
    consent_date = forms.DateField(required=False, widget=DATE, help_text="Empty: no consent on file.")

    def save(self, user: Any, reason: str) -> str:
        c = self.cleaned_data
        donor = g.register_donor(
            user,
            reason,
            tissue_source=c["tissue_source"],
            collected_on=c["collected_on"],
            consent_obtained=c["consent_date"] is not None,
            consent_date=c["consent_date"],
            din=c["din"] or None,
            facility=c["facility"] or None,
        )
        return reverse("genealogy_donor", args=[donor.din])


class ScreeningForm(RecordForm):
    title = "Record a screening result"
    din = forms.CharField()
    marker = forms.ChoiceField(choices=_choices(ScreeningMarker))
    outcome = forms.ChoiceField(choices=_choices(ScreeningOutcome))
    method = forms.CharField()
    tested_on = forms.DateField(widget=DATE)

    def save(self, user: Any, reason: str) -> str:
        c = self.cleaned_data
        g.record_screening(
            user,
            reason,
            din=c["din"],
            marker=c["marker"],
            method=c["method"],
            outcome=c["outcome"],
            tested_on=c["tested_on"],
        )
        return reverse("genealogy_donor", args=[g.donor_by_din(c["din"]).din])


class EligibilityForm(RecordForm):
    title = "Determine donor eligibility (QA)"
    din = forms.CharField()
    decision = forms.ChoiceField(choices=_choices(Eligibility))
    rationale = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))

    def save(self, user: Any, reason: str) -> str:
        c = self.cleaned_data
        g.determine_eligibility(user, reason, din=c["din"], decision=c["decision"], rationale=c["rationale"])
        return reverse("genealogy_donor", args=[g.donor_by_din(c["din"]).din])


class PassageForm(RecordForm):
    title = "Record a passage"
    din = forms.CharField(required=False, help_text="Isolation (P0) from this donor, or…")
    parent = forms.IntegerField(required=False, help_text="…seeded from this passage's harvest, or…")
    vial = forms.CharField(required=False, help_text="…seeded from this thawed vial.")
    recipe = forms.CharField(help_text="Recipe code (latest approved version).")
    vessel = forms.CharField(required=False)
    growth_area_cm2 = forms.FloatField(label="Growth area (cm²)")
    cells_seeded = forms.FloatField(required=False, help_text="Viable cells seeded; may be unknown for P0.")
    seeded_at = forms.DateTimeField(widget=DATETIME, help_text="UTC")
    medium_lot = forms.CharField()
    supplement_lot = forms.CharField(required=False)

    def save(self, user: Any, reason: str) -> str:
        c = self.cleaned_data
        g.record_passage(
            user, reason, din=c["din"] or None, parent_id=c["parent"], vial=c["vial"] or None, recipe=c["recipe"],
            vessel=c["vessel"], growth_area_cm2=c["growth_area_cm2"], cells_seeded=c["cells_seeded"],
            seeded_at=_utc(c["seeded_at"]), medium_lot=c["medium_lot"], supplement_lot=c["supplement_lot"],
        )  # fmt: skip
        return reverse(OVERVIEW)


class HarvestForm(RecordForm):
    title = "Record a harvest"
    passage = forms.IntegerField()
    cells_harvested = forms.FloatField(help_text="Viable cells harvested.")
    viability_percent = forms.FloatField(required=False)
    harvested_at = forms.DateTimeField(widget=DATETIME, help_text="UTC")

    def save(self, user: Any, reason: str) -> str:
        c = self.cleaned_data
        g.record_harvest(
            user, reason, passage_id=c["passage"], cells_harvested=c["cells_harvested"],
            harvested_at=_utc(c["harvested_at"]), viability_percent=c["viability_percent"],
        )  # fmt: skip
        return reverse(OVERVIEW)


class SenescenceForm(RecordForm):
    title = "Record senescence markers"
    passage = forms.IntegerField()
    observed_on = forms.DateField(widget=DATE)
    sa_beta_gal_percent = forms.FloatField(required=False, label="SA-β-gal % positive")
    cells_counted = forms.IntegerField(required=False)
    morphology = forms.ChoiceField(choices=[("", "not recorded"), *_choices(Morphology)], required=False)
    p16_fold = forms.FloatField(required=False)
    p21_fold = forms.FloatField(required=False)

    def save(self, user: Any, reason: str) -> str:
        c = self.cleaned_data
        g.record_senescence(
            user, reason, passage_id=c["passage"], observed_on=c["observed_on"],
            sa_beta_gal_percent=c["sa_beta_gal_percent"], cells_counted=c["cells_counted"],
            morphology=c["morphology"], p16_fold=c["p16_fold"], p21_fold=c["p21_fold"],
        )  # fmt: skip
        return reverse(OVERVIEW)


class BankForm(RecordForm):
    title = "Freeze a cell bank"
    passage = forms.IntegerField(help_text="A harvested passage.")
    kind = forms.ChoiceField(choices=_choices(BankKind))
    vials = forms.IntegerField(min_value=1)
    cells_per_vial = forms.FloatField()
    location = forms.CharField()
    frozen_at = forms.DateTimeField(widget=DATETIME, help_text="UTC")
    cryoprotectant = forms.CharField(required=False)

    def save(self, user: Any, reason: str) -> str:
        c = self.cleaned_data
        g.bank_cells(
            user, reason, passage_id=c["passage"], kind=c["kind"], vials=c["vials"],
            cells_per_vial=c["cells_per_vial"], location=c["location"], frozen_at=_utc(c["frozen_at"]),
            cryoprotectant=c["cryoprotectant"],
        )  # fmt: skip
        return reverse(OVERVIEW)


class DiscardForm(RecordForm):
    title = "Discard a vial"
    label = forms.CharField()
    note = forms.CharField(required=False)

    def save(self, user: Any, reason: str) -> str:
        g.discard_vial(user, reason, label=self.cleaned_data["label"], note=self.cleaned_data["note"])
        return reverse(OVERVIEW)


class RunForm(RecordForm):
    title = "Start a conditioning run"
    passage = forms.IntegerField()
    recipe = forms.CharField()
    product = forms.CharField(initial="MSC-CM")
    started_at = forms.DateTimeField(widget=DATETIME, help_text="UTC")
    confluence_percent = forms.FloatField()
    viable_cells_at_start = forms.FloatField()
    medium = forms.CharField(help_text="Serum-free conditioning medium.")
    medium_lot = forms.CharField()
    volume_ml = forms.FloatField()
    planned_hours = forms.FloatField(initial=48)
    o2_percent = forms.FloatField(initial=21)
    priming_agent = forms.CharField(required=False)
    priming_ng_per_ml = forms.FloatField(required=False)
    priming_hours = forms.FloatField(required=False)
    deviation = forms.CharField(
        required=False, help_text="QA-approved over-passage deviation, if over the limit."
    )

    def save(self, user: Any, reason: str) -> str:
        c = self.cleaned_data
        g.start_conditioning_run(
            user, reason, passage_id=c["passage"], recipe=c["recipe"], product=c["product"],
            started_at=_utc(c["started_at"]), confluence_percent=c["confluence_percent"],
            viable_cells_at_start=c["viable_cells_at_start"], medium=c["medium"], medium_lot=c["medium_lot"],
            volume_ml=c["volume_ml"], planned_hours=c["planned_hours"], o2_percent=c["o2_percent"],
            priming_agent=c["priming_agent"], priming_ng_per_ml=c["priming_ng_per_ml"],
            priming_hours=c["priming_hours"], deviation=c["deviation"] or None,
        )  # fmt: skip
        return reverse(OVERVIEW)


class LotForm(RecordForm):
    title = "Collect a lot"
    run = forms.IntegerField(help_text="Conditioning run.")
    collected_at = forms.DateTimeField(widget=DATETIME, help_text="UTC")
    viable_cells_at_collection = forms.FloatField()
    viability_at_collection_percent = forms.FloatField(required=False)
    harvest_volume_ml = forms.FloatField()
    storage = forms.ChoiceField(choices=_choices(StorageCondition))
    storage_location = forms.CharField(required=False)

    def save(self, user: Any, reason: str) -> str:
        c = self.cleaned_data
        lot = g.record_lot(
            user, reason, run_id=c["run"], collected_at=_utc(c["collected_at"]),
            viable_cells_at_collection=c["viable_cells_at_collection"],
            viability_at_collection_percent=c["viability_at_collection_percent"],
            harvest_volume_ml=c["harvest_volume_ml"], storage=c["storage"], storage_location=c["storage_location"],
        )  # fmt: skip
        return reverse("genealogy_lot", args=[lot.number])


class StepForm(RecordForm):
    title = "Record a processing step"
    lot = forms.CharField()
    kind = forms.ChoiceField(choices=_choices(StepKind))
    performed_at = forms.DateTimeField(widget=DATETIME, help_text="UTC")
    volume_in_ml = forms.FloatField()
    volume_out_ml = forms.FloatField()
    g_force = forms.FloatField(required=False)
    minutes = forms.FloatField(required=False)
    pore_size_um = forms.FloatField(required=False)
    mwco_kda = forms.FloatField(required=False)
    consumable_lot = forms.CharField(required=False)

    def save(self, user: Any, reason: str) -> str:
        c = self.cleaned_data
        g.add_processing_step(
            user, reason, lot=c["lot"], kind=c["kind"], performed_at=_utc(c["performed_at"]),
            volume_in_ml=c["volume_in_ml"], volume_out_ml=c["volume_out_ml"], g_force=c["g_force"],
            minutes=c["minutes"], pore_size_um=c["pore_size_um"], mwco_kda=c["mwco_kda"],
            consumable_lot=c["consumable_lot"],
        )  # fmt: skip
        return reverse("genealogy_lot", args=[g.lot_by_number(c["lot"]).number])


class DeviationForm(RecordForm):
    title = "Raise a deviation"
    kind = forms.ChoiceField(choices=_choices(DeviationKind))
    passage = forms.IntegerField(required=False)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))

    def save(self, user: Any, reason: str) -> str:
        c = self.cleaned_data
        g.raise_deviation(user, reason, kind=c["kind"], description=c["description"], passage_id=c["passage"])
        return reverse(OVERVIEW)


class DecisionForm(RecordForm):
    title = "Decide a deviation (QA)"
    number = forms.CharField()
    decision = forms.ChoiceField(choices=_choices(DeviationDecision))
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))

    def save(self, user: Any, reason: str) -> str:
        c = self.cleaned_data
        g.decide_deviation(user, reason, number=c["number"], decision=c["decision"], note=c["note"])
        return reverse(OVERVIEW)


FORMS: dict[str, Callable[..., RecordForm]] = {
    "donor": DonorForm,
    "screening": ScreeningForm,
    "eligibility": EligibilityForm,
    "passage": PassageForm,
    "harvest": HarvestForm,
    "senescence": SenescenceForm,
    "bank": BankForm,
    "discard": DiscardForm,
    "run": RunForm,
    "lot": LotForm,
    "step": StepForm,
    "deviation": DeviationForm,
    "decision": DecisionForm,
}


@role_required(*LAB)
def record(request: HttpRequest, kind: str) -> HttpResponse:
    """Show a recording form (prefilled from the query string) and record it through the service."""
    form_class = FORMS.get(kind)
    if form_class is None:
        raise Http404(f"nothing called {kind!r} to record")
    if request.method == "POST":
        form = form_class(request.POST)
        if form.is_valid():
            try:
                return redirect(form.save(request.user, form.cleaned_data["reason"]))
            except ServiceError as exc:
                form.add_error(None, str(exc))
        status = 400
    else:
        form = form_class(initial=request.GET.dict())
        status = 200
    return render(request, "secretome/genealogy/record.html", {"form": form, "kind": kind}, status=status)
