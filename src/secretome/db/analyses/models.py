"""Analysis methods and analysis runs: how a stored raw file becomes a reported lot result.

Records are written only by :mod:`secretome.services.analyses`. An approved method version is immutable; a
change is a new version that supersedes it. A run is never updated in what it computed: re-analysing (a
well excluded, another method version) makes a new run that supersedes the old, which keeps its row. The
status fields are the only columns that change, each change with its audit event.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class MethodStatus(models.TextChoices):
    DRAFT = "draft", "draft"
    APPROVED = "approved", "approved"
    SUPERSEDED = "superseded", "superseded"


class AnalysisMethod(models.Model):
    """One version of an analysis method: kind, engine settings, layout, attributes reported, unit, normalisation."""

    code = models.CharField(max_length=80)
    version = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    kind = models.CharField(max_length=40)
    status = models.CharField(max_length=12, choices=MethodStatus.choices, default=MethodStatus.DRAFT)
    settings_json = models.TextField(help_text="canonical JSON of the engine settings, defaults filled in")
    layout = models.ForeignKey(
        "imports.PlateLayout", null=True, blank=True, on_delete=models.PROTECT, related_name="methods"
    )
    attributes = models.JSONField(default=list, help_text="specification attribute codes it reports")
    reporting_unit = models.CharField(max_length=40, blank=True)
    normalisation = models.CharField(max_length=40, default="per_ml")
    change_summary = models.TextField(blank=True)
    previous_version = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="next_version"
    )
    content_sha256 = models.CharField(max_length=64, blank=True, help_text="set at approval")
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["code", "version"]
        constraints = [models.UniqueConstraint(fields=["code", "version"], name="analyses_method_version")]

    def __str__(self) -> str:
        return f"{self.code} v{self.version} ({self.status})"


class RunStatus(models.TextChoices):
    DRAFT = "draft", "draft"
    ACCEPTED = "accepted", "accepted"
    RETURNED = "returned", "sent back by review"
    SUPERSEDED = "superseded", "superseded"


class AnalysisRun(models.Model):
    """One analysis of stored instrument imports by one approved method version."""

    number = models.CharField(max_length=24, unique=True)
    method = models.ForeignKey(AnalysisMethod, on_delete=models.PROTECT, related_name="runs")
    status = models.CharField(max_length=12, choices=RunStatus.choices, default=RunStatus.DRAFT)
    lot = models.ForeignKey(
        "genealogy.Lot", null=True, blank=True, on_delete=models.PROTECT, related_name="analysis_runs"
    )
    lots = models.JSONField(default=list, help_text="lot numbers the run reports for")
    engine = models.CharField(max_length=120)
    engine_version = models.CharField(max_length=200)
    context_json = models.TextField(
        help_text="canonical JSON of the lots' normalisation facts and sample map"
    )
    decisions_json = models.TextField(help_text="canonical JSON of the analyst's decisions")
    result_json = models.TextField(help_text="canonical JSON of the engine's complete result")
    reportables_json = models.TextField(help_text="canonical JSON of the values the run reports")
    flags = models.JSONField(default=list)
    used = models.JSONField(default=list, help_text="inputs used, as import:well")
    supersedes = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="superseded_by"
    )
    reason = models.TextField()
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    returned_at = models.DateTimeField(null=True, blank=True)
    returned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    return_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.number} ({self.status})"


class AnalysisRunInput(models.Model):
    """One instrument import a run read, with the SHA-256 of its raw file at the time and the layout used."""

    run = models.ForeignKey(AnalysisRun, on_delete=models.PROTECT, related_name="inputs")
    position = models.PositiveSmallIntegerField()
    instrument_import = models.ForeignKey(
        "imports.InstrumentImport", on_delete=models.PROTECT, related_name="analysis_inputs"
    )
    raw_sha256 = models.CharField(max_length=64)
    layout = models.ForeignKey(
        "imports.PlateLayout", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["run", "position"]
        constraints = [models.UniqueConstraint(fields=["run", "position"], name="analyses_input_position")]

    def __str__(self) -> str:
        return f"{self.run.number} input {self.position}: import #{self.instrument_import_id}"


class AnalysisDecision(models.Model):
    """An analyst's decision on a run's input (a well excluded, an outlier kept), with its reason."""

    run = models.ForeignKey(AnalysisRun, on_delete=models.PROTECT, related_name="decisions")
    action = models.CharField(max_length=12, choices=[("exclude", "exclude"), ("keep", "keep")])
    target = models.CharField(max_length=120, help_text="import:well (or import:name)")
    reason = models.TextField()
    decided_at = models.DateTimeField()
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["run", "decided_at", "pk"]

    def __str__(self) -> str:
        return f"{self.action} {self.target} on {self.run.number}"


class AnalysisPlot(models.Model):
    """One plot of a run, as SVG text (what the reviewer and the certificate show)."""

    run = models.ForeignKey(AnalysisRun, on_delete=models.PROTECT, related_name="plots")
    position = models.PositiveSmallIntegerField()
    title = models.CharField(max_length=200)
    svg = models.TextField()

    class Meta:
        ordering = ["run", "position"]

    def __str__(self) -> str:
        return f"{self.run.number} plot {self.position}: {self.title}"
