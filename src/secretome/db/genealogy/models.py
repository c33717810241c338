"""Donor-to-lot genealogy: donors, recipes, passages, cell banks, conditioning runs and lots.

The chain a lot hangs on::

    Donor -> Passage P0 -> Passage P1 -> ... -> (CellBank -> Vial -> thaw -> Passage Pn+1 -> ...)
          -> ConditioningRun (from one passage) -> Lot (one per run) -> ProcessingStep ...

Records are written only by :mod:`secretome.services.genealogy`. GxP records are never overwritten:
a correction is a new record that names the one it supersedes, and one-way completions (a harvest count,
a QA decision) fill fields that were empty. Derived culture values (PD, CPD, PDT, fold expansion,
seeding density, dose bases) are computed by :mod:`secretome.domain.growth`, never stored as typed input.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class TissueSource(models.TextChoices):
    """Where the MSCs come from (ISCT 2019: always state the tissue source)."""

    BONE_MARROW = "BM", "bone marrow"
    ADIPOSE = "AT", "adipose tissue"
    WHARTONS_JELLY = "UC-WJ", "umbilical cord / Wharton's jelly"
    OTHER = "OTHER", "other"


class Eligibility(models.TextChoices):
    """A donor eligibility determination."""

    ELIGIBLE = "eligible", "eligible"
    INELIGIBLE = "ineligible", "ineligible"


class ScreeningMarker(models.TextChoices):
    """The infectious-disease markers every donor is screened for."""

    HIV = "HIV-1/2", "HIV-1/2"
    HBV = "HBV", "hepatitis B virus"
    HCV = "HCV", "hepatitis C virus"
    SYPHILIS = "syphilis", "syphilis"
    HTLV = "HTLV-I/II", "HTLV-I/II"


class ScreeningOutcome(models.TextChoices):
    NEGATIVE = "negative", "negative (non-reactive)"
    POSITIVE = "positive", "positive (reactive)"
    INDETERMINATE = "indeterminate", "indeterminate"


class Supplement(models.TextChoices):
    """The expansion-medium supplement."""

    FBS = "FBS", "fetal bovine serum"
    HPL = "hPL", "human platelet lysate"
    SERUM_FREE = "serum-free", "serum-free / xeno-free"


class Donor(models.Model):
    """A donation identified by its ISBT 128 Donation Identification Number; no personal data."""

    din = models.CharField(max_length=13, unique=True, help_text="13-character ISBT 128 DIN (FIN+yy+seq)")
    check_character = models.CharField(max_length=1, help_text="ISO/IEC 7064 MOD 37-2 check character")
    flags = models.CharField(max_length=2, default="00")
    tissue_source = models.CharField(max_length=8, choices=TissueSource.choices)
    collected_on = models.DateField()
    consent_obtained = models.BooleanField()
    consent_date = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["din"]

    def __str__(self) -> str:
        return f"{self.din} {self.check_character} ({self.tissue_source})"


class DonorScreening(models.Model):
    """One infectious-disease screening result. A correction is a new record superseding the old one."""

    donor = models.ForeignKey(Donor, on_delete=models.PROTECT, related_name="screenings")
    marker = models.CharField(max_length=16, choices=ScreeningMarker.choices)
    method = models.CharField(max_length=120)
    outcome = models.CharField(max_length=16, choices=ScreeningOutcome.choices)
    tested_on = models.DateField()
    supersedes = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="superseded_by"
    )
    recorded_at = models.DateTimeField()
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["donor", "marker", "recorded_at", "pk"]

    def __str__(self) -> str:
        return f"{self.donor.din} {self.marker}: {self.outcome}"


class EligibilityDetermination(models.Model):
    """A donor eligibility determination; the latest one is in force."""

    donor = models.ForeignKey(Donor, on_delete=models.PROTECT, related_name="determinations")
    decision = models.CharField(max_length=16, choices=Eligibility.choices)
    rationale = models.TextField()
    determined_at = models.DateTimeField()
    determined_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["donor", "determined_at", "pk"]

    def __str__(self) -> str:
        return f"{self.donor.din}: {self.decision}"


class ProcessRecipe(models.Model):
    """Defined culture and conditioning conditions, versioned; usable only once approved by QA."""

    code = models.CharField(max_length=40)
    version = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    basal_medium = models.CharField(max_length=120)
    supplement = models.CharField(max_length=16, choices=Supplement.choices)
    supplement_percent = models.FloatField(help_text="% v/v; 0 for serum-free")
    o2_percent = models.FloatField(help_text="O2 set-point, %")
    seeding_density_per_cm2 = models.FloatField(help_text="target viable cells/cm² at seeding")
    harvest_confluence_percent = models.FloatField(help_text="target confluence at harvest, %")
    conditioning_medium = models.CharField(max_length=120)
    conditioning_hours = models.FloatField()
    priming_agents = models.CharField(max_length=200, blank=True, help_text="e.g. IFN-γ 25 ng/mL 24 h")
    previous_version = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="next_version"
    )
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["code", "version"]
        constraints = [models.UniqueConstraint(fields=["code", "version"], name="genealogy_recipe_version")]

    def __str__(self) -> str:
        return f"{self.code} v{self.version}"


class Passage(models.Model):
    """One passage: cells seeded into vessels and, later, harvested.

    P0 is the primary culture (no parent, no vial); a later passage is seeded either from the harvest of
    its parent passage or from a thawed vial. ``number`` is set by the service from that origin.
    """

    donor = models.ForeignKey(Donor, on_delete=models.PROTECT, related_name="passages")
    number = models.PositiveSmallIntegerField()
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    source_vial = models.OneToOneField(
        "Vial", null=True, blank=True, on_delete=models.PROTECT, related_name="seeded_passage"
    )
    recipe = models.ForeignKey(ProcessRecipe, on_delete=models.PROTECT, related_name="passages")
    vessel = models.CharField(max_length=80, help_text="e.g. 2 x T175")
    growth_area_cm2 = models.FloatField()
    cells_seeded = models.FloatField(null=True, blank=True, help_text="viable cells; unknown for a digest P0")
    seeded_at = models.DateTimeField()
    cells_harvested = models.FloatField(null=True, blank=True, help_text="viable cells harvested")
    viability_percent = models.FloatField(null=True, blank=True)
    harvested_at = models.DateTimeField(null=True, blank=True)
    # When the harvest count came from a cell-counter file: the import (raw file kept as evidence), the
    # sample read from it and the suspension volume the viable density was multiplied by.
    harvest_counts = models.ForeignKey(
        "imports.InstrumentImport",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="harvested_passages",
    )
    harvest_counts_sample = models.CharField(max_length=200, blank=True)
    harvest_suspension_ml = models.FloatField(null=True, blank=True)
    medium_lot = models.CharField(max_length=60)
    supplement_lot = models.CharField(max_length=60, blank=True)
    operator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["donor", "seeded_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=~(Q(parent__isnull=False) & Q(source_vial__isnull=False)),
                name="genealogy_passage_one_origin",
            ),
        ]

    def __str__(self) -> str:
        return f"P{self.number} of {self.donor.din} (#{self.pk})"


class BankKind(models.TextChoices):
    MASTER = "MCB", "master cell bank"
    WORKING = "WCB", "working cell bank"


class CellBank(models.Model):
    """A master or working cell bank frozen from one passage's harvest."""

    code = models.CharField(max_length=40, unique=True)
    kind = models.CharField(max_length=3, choices=BankKind.choices)
    donor = models.ForeignKey(Donor, on_delete=models.PROTECT, related_name="banks")
    source_passage = models.ForeignKey(Passage, on_delete=models.PROTECT, related_name="banks")
    frozen_at = models.DateTimeField()
    cryoprotectant = models.CharField(max_length=80, blank=True)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class Vial(models.Model):
    """One vial of a cell bank, labelled with passage and CPD at freezing (passage alone hides split ratio)."""

    bank = models.ForeignKey(CellBank, on_delete=models.PROTECT, related_name="vials")
    label = models.CharField(max_length=60, unique=True)
    passage_number = models.PositiveSmallIntegerField()
    cpd_at_freezing = models.FloatField(null=True, blank=True, help_text="null: not determined (P0 unknown)")
    cpd_complete = models.BooleanField(help_text="False when the P0 contribution is unknown")
    viable_cells = models.FloatField()
    location = models.CharField(max_length=120)

    class Meta:
        ordering = ["label"]

    def __str__(self) -> str:
        return self.label


class VialAction(models.TextChoices):
    THAW = "thaw", "thawed for use"
    DISCARD = "discard", "discarded"


class VialTransaction(models.Model):
    """An inventory transaction on a vial. A vial leaves stock once: the database refuses a second one."""

    vial = models.ForeignKey(Vial, on_delete=models.PROTECT, related_name="transactions")
    action = models.CharField(max_length=8, choices=VialAction.choices)
    occurred_at = models.DateTimeField()
    note = models.TextField(blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["occurred_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["vial"],
                condition=Q(action__in=["thaw", "discard"]),
                name="genealogy_vial_leaves_stock_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.vial.label} {self.action}"


class PassagePolicy(models.Model):
    """Passage restriction for a tissue source and product; the latest record for the pair is in force.

    ``product`` empty means every product of that tissue source.
    """

    tissue_source = models.CharField(max_length=8, choices=TissueSource.choices)
    product = models.CharField(max_length=80, blank=True)
    max_passage = models.PositiveSmallIntegerField()
    max_cpd = models.FloatField(null=True, blank=True)
    rationale = models.TextField()
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["tissue_source", "product", "created_at", "pk"]

    def __str__(self) -> str:
        limit = f"P{self.max_passage}" + (f", CPD {self.max_cpd}" if self.max_cpd is not None else "")
        return f"{self.tissue_source} {self.product or '(all products)'}: {limit}"


class SenescenceRules(models.Model):
    """Senescence alert thresholds; the latest record is in force, the domain defaults before any exists."""

    sa_beta_gal_max_percent = models.FloatField()
    pdt_max_fold_over_baseline = models.FloatField()
    baseline_passages = models.PositiveSmallIntegerField(
        help_text="early passages that form the PDT baseline"
    )
    pd_min_per_passage = models.FloatField()
    p16_p21_max_fold = models.FloatField()
    rationale = models.TextField()
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"senescence rules #{self.pk}"


class Morphology(models.TextChoices):
    SPINDLE = "spindle", "spindle / fibroblast-like"
    MIXED = "mixed", "mixed"
    ENLARGED = "enlarged", "enlarged, flattened, granular"


class SenescenceObservation(models.Model):
    """Senescence markers observed on one passage."""

    passage = models.ForeignKey(Passage, on_delete=models.PROTECT, related_name="senescence")
    observed_on = models.DateField()
    sa_beta_gal_percent = models.FloatField(null=True, blank=True)
    cells_counted = models.PositiveIntegerField(null=True, blank=True)
    morphology = models.CharField(max_length=12, choices=Morphology.choices, blank=True)
    p16_fold = models.FloatField(null=True, blank=True)
    p21_fold = models.FloatField(null=True, blank=True)
    supersedes = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="superseded_by"
    )
    recorded_at = models.DateTimeField()
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["passage", "observed_on", "pk"]

    def __str__(self) -> str:
        return f"senescence of {self.passage}"


class DeviationKind(models.TextChoices):
    OVER_PASSAGE = "over-passage", "cells over the passage or CPD limit"
    RECIPE = "recipe", "departure from the process recipe"
    OTHER = "other", "other"


class DeviationDecision(models.TextChoices):
    APPROVED = "approved", "approved"
    REJECTED = "rejected", "rejected"


class Deviation(models.Model):
    """A recorded departure from policy or recipe. QA decides once; an approved over-passage deviation
    lets one conditioning run start from the passage it names, and that run's lot carries it."""

    number = models.CharField(max_length=20, unique=True)
    kind = models.CharField(max_length=16, choices=DeviationKind.choices)
    description = models.TextField()
    passage = models.ForeignKey(
        Passage, null=True, blank=True, on_delete=models.PROTECT, related_name="deviations"
    )
    conditioning_run = models.ForeignKey(
        "ConditioningRun", null=True, blank=True, on_delete=models.PROTECT, related_name="deviations"
    )
    raised_at = models.DateTimeField()
    raised_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decision = models.CharField(max_length=10, choices=DeviationDecision.choices, blank=True)
    decision_note = models.TextField(blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["number"]

    def __str__(self) -> str:
        return self.number

    @property
    def approved(self) -> bool:
        return self.decision == DeviationDecision.APPROVED


class ConditioningRun(models.Model):
    """Serum-free conditioning of one passage's culture; yields one CM lot."""

    passage = models.ForeignKey(Passage, on_delete=models.PROTECT, related_name="conditioning_runs")
    recipe = models.ForeignKey(ProcessRecipe, on_delete=models.PROTECT, related_name="conditioning_runs")
    product = models.CharField(max_length=80, default="MSC-CM")
    started_at = models.DateTimeField()
    confluence_percent = models.FloatField()
    viable_cells_at_start = models.FloatField()
    medium = models.CharField(max_length=120)
    medium_lot = models.CharField(max_length=60)
    volume_ml = models.FloatField()
    planned_hours = models.FloatField()
    o2_percent = models.FloatField()
    priming_agent = models.CharField(max_length=80, blank=True)
    priming_ng_per_ml = models.FloatField(null=True, blank=True)
    priming_hours = models.FloatField(null=True, blank=True)
    operator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["started_at", "pk"]

    def __str__(self) -> str:
        return f"conditioning run #{self.pk} from {self.passage}"


class StorageCondition(models.TextChoices):
    FROZEN_MINUS_80 = "-80C", "frozen at -80 °C"
    LYOPHILIZED = "lyophilized", "lyophilized, 2-8 °C"
    REFRIGERATED = "2-8C", "liquid, 2-8 °C"


class Lot(models.Model):
    """A conditioned-medium lot: the harvest of one conditioning run. ``number`` is generated and unique.

    Status and disposition live in the quality context, linked to this record.
    """

    number = models.CharField(max_length=32, unique=True)
    conditioning_run = models.OneToOneField(ConditioningRun, on_delete=models.PROTECT, related_name="lot")
    # Denormalised from the chain at creation so that lot lists filter without walking it.
    donor = models.ForeignKey(Donor, on_delete=models.PROTECT, related_name="lots")
    tissue_source = models.CharField(max_length=8, choices=TissueSource.choices)
    product = models.CharField(max_length=80)
    collected_at = models.DateTimeField()
    viable_cells_at_collection = models.FloatField()
    viability_at_collection_percent = models.FloatField(null=True, blank=True)
    harvest_volume_ml = models.FloatField()
    storage = models.CharField(max_length=16, choices=StorageCondition.choices)
    storage_location = models.CharField(max_length=120, blank=True)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["number"]

    def __str__(self) -> str:
        return self.number


class StepKind(models.TextChoices):
    CLARIFICATION = "clarification", "clarification (centrifugation)"
    FILTRATION = "filtration", "sterile filtration"
    ULTRAFILTRATION = "ultrafiltration", "ultrafiltration / TFF"
    LYOPHILIZATION = "lyophilization", "lyophilization"
    OTHER = "other", "other"


class ProcessingStep(models.Model):
    """One downstream processing step of a lot, in order; volumes in and out give the concentration factor."""

    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="processing_steps")
    sequence = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=16, choices=StepKind.choices)
    performed_at = models.DateTimeField()
    volume_in_ml = models.FloatField()
    volume_out_ml = models.FloatField()
    g_force = models.FloatField(null=True, blank=True)
    minutes = models.FloatField(null=True, blank=True)
    pore_size_um = models.FloatField(null=True, blank=True)
    mwco_kda = models.FloatField(null=True, blank=True)
    cryoprotectant = models.CharField(max_length=80, blank=True)
    consumable_lot = models.CharField(max_length=60, blank=True, help_text="filter or cassette lot")
    note = models.TextField(blank=True)
    recorded_at = models.DateTimeField()
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["lot", "sequence"]
        constraints = [models.UniqueConstraint(fields=["lot", "sequence"], name="genealogy_step_order")]

    def __str__(self) -> str:
        return f"{self.lot.number} step {self.sequence}: {self.kind}"
