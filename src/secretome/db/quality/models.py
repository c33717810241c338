"""Quality: products, versioned specifications, results, the lot's disposition, investigations,
electronic signatures and certificates of analysis.

Records are written only by :mod:`secretome.services.release`. Nothing here is overwritten or deleted:
a changed specification is a new version, a retest is a new result naming the one it repeats, an
invalidation is a record of its own, and a voided signature keeps its row with the reason it was voided.
Numbers that are compared with limits are stored as decimal text, exactly as reported.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q

from secretome.db.genealogy.models import Lot
from secretome.domain.lot_lifecycle import LotState
from secretome.domain.signature import Meaning
from secretome.domain.specification import AttributeSpec, Criterion, CriterionKind, Reading, ReportingRule


class Product(models.Model):
    """A product, e.g. "WJ-MSC conditioned medium, 10x concentrated, lyophilised". ``code`` is what lots name."""

    code = models.CharField(max_length=80, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class SpecificationStatus(models.TextChoices):
    DRAFT = "draft", "draft"
    APPROVED = "approved", "approved"
    SUPERSEDED = "superseded", "superseded"


class Specification(models.Model):
    """One version of a product's specification. Editable while draft; approved by QA with a signature."""

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="specifications")
    version = models.PositiveIntegerField()
    status = models.CharField(max_length=12, choices=SpecificationStatus.choices, default="draft")
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
        ordering = ["product", "version"]
        constraints = [models.UniqueConstraint(fields=["product", "version"], name="quality_spec_version")]

    def __str__(self) -> str:
        return f"{self.product.code} specification v{self.version} ({self.status})"


class SpecificationAttribute(models.Model):
    """One tested attribute of a specification version, with method, unit and acceptance criterion."""

    specification = models.ForeignKey(Specification, on_delete=models.PROTECT, related_name="attributes")
    position = models.PositiveSmallIntegerField()
    code = models.CharField(max_length=40)
    name = models.CharField(max_length=120)
    category = models.CharField(max_length=40, blank=True)
    method = models.CharField(max_length=200)
    unit = models.CharField(max_length=40, blank=True)
    kind = models.CharField(max_length=16, choices=[(k.value, k.value) for k in CriterionKind])
    lower = models.CharField(max_length=40, blank=True)
    upper = models.CharField(max_length=40, blank=True)
    lower_inclusive = models.BooleanField(default=True)
    upper_inclusive = models.BooleanField(default=True)
    decimals = models.PositiveSmallIntegerField(null=True, blank=True)
    significant_digits = models.PositiveSmallIntegerField(null=True, blank=True)
    release_test = models.BooleanField(default=True)
    note = models.TextField(blank=True, help_text="e.g. the K/M derivation of an endotoxin limit")
    analysis_kind = models.CharField(
        max_length=40, blank=True, help_text="the analysis method kind that computes it; empty when manual"
    )

    class Meta:
        ordering = ["specification", "position"]
        constraints = [
            models.UniqueConstraint(fields=["specification", "code"], name="quality_attribute_code"),
        ]

    def __str__(self) -> str:
        return f"{self.code} of {self.specification}"

    def criterion(self) -> Criterion:
        return Criterion(
            kind=CriterionKind(self.kind),
            lower=None if self.lower == "" else self.lower,  # type: ignore[arg-type]
            upper=None if self.upper == "" else self.upper,  # type: ignore[arg-type]
            lower_inclusive=self.lower_inclusive,
            upper_inclusive=self.upper_inclusive,
            rule=ReportingRule(self.decimals, self.significant_digits),
        )

    def as_spec(self) -> AttributeSpec:
        return AttributeSpec(
            code=self.code,
            name=self.name,
            method=self.method,
            unit=self.unit,
            criterion=self.criterion(),
            category=self.category,
            release_test=self.release_test,
            note=self.note,
            analysis_kind=self.analysis_kind,
        )


class LotDisposition(models.Model):
    """The quality side of a lot: its lifecycle state, the specification version it is tested against,
    and the version of its QC record (raised whenever a change voids the record's signatures)."""

    lot = models.OneToOneField(Lot, on_delete=models.PROTECT, related_name="disposition")
    specification = models.ForeignKey(Specification, on_delete=models.PROTECT, related_name="dispositions")
    state = models.CharField(max_length=20, choices=[(s.value, s.value) for s in LotState])
    record_version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.lot.number}: {self.state}"


class ResultSource(models.TextChoices):
    ANALYSIS = "analysis", "analysis (curve fit, potency)"
    IMPORT = "import", "instrument import"
    MANUAL = "manual", "manual entry"


class Result(models.Model):
    """One reported result of one attribute of a lot. A retest is a new result naming the one it repeats."""

    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="quality_results")
    attribute = models.ForeignKey(SpecificationAttribute, on_delete=models.PROTECT, related_name="results")
    value = models.CharField(max_length=40, blank=True, help_text="decimal text as reported")
    qualifier = models.CharField(max_length=1, default="=", help_text="'=', '<' below LLOQ, '>' above ULOQ")
    finding = models.CharField(max_length=120, blank=True)
    interval_lower = models.CharField(max_length=40, blank=True)
    interval_upper = models.CharField(max_length=40, blank=True)
    source = models.CharField(max_length=10, choices=ResultSource.choices)
    method = models.CharField(max_length=200)
    # Free text for manual references and records made before imports were linked; a link to the import
    # goes in ``instrument_import``, which names the raw file by its SHA-256.
    raw_file = models.CharField(max_length=300, blank=True, help_text="raw file name or reference (text)")
    instrument_import = models.ForeignKey(
        "imports.InstrumentImport",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="quality_results",
        help_text="the instrument import (raw file) the value comes from",
    )
    analysis_json = models.TextField(blank=True, help_text="canonical JSON of the analysis behind the value")
    analysis_run = models.ForeignKey(
        "analyses.AnalysisRun",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="results",
        help_text="the accepted analysis run that computed the value",
    )
    document = models.ForeignKey(
        "imports.RawFile",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="quality_results",
        help_text="a stored document behind a manual result (content-addressed like raw files)",
    )
    comment = models.TextField(blank=True)
    analyst = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    tested_at = models.DateTimeField()
    recorded_at = models.DateTimeField()
    retest_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="retests"
    )

    class Meta:
        ordering = ["lot", "attribute__position", "recorded_at", "pk"]

    def __str__(self) -> str:
        return f"{self.lot.number} {self.attribute.code} #{self.pk}"

    def reading(self) -> Reading:
        interval = None
        if self.interval_lower and self.interval_upper:
            interval = (self.interval_lower, self.interval_upper)
        return Reading(
            value=self.value or None,  # type: ignore[arg-type]
            qualifier=self.qualifier,
            finding=self.finding or None,
            interval=interval,  # type: ignore[arg-type]
        )

    def raw_data(self) -> dict[str, Any] | None:
        """The linked instrument import and its raw file (None when the result names none)."""
        if self.instrument_import is None:
            return None
        raw = self.instrument_import.raw_file
        return {"import": self.instrument_import_id, "file_name": raw.original_name, "sha256": raw.sha256}

    def to_dict(self) -> dict[str, Any]:
        content = {
            "id": self.pk,
            "attribute": self.attribute.code,
            "reading": self.reading().to_dict(),
            "source": self.source,
            "method": self.method,
            "raw_file": self.raw_file,
            "analyst": self.analyst.get_username(),
            "tested_at": self.tested_at,
            "retest_of": self.retest_of_id,
        }
        # Only when linked: results without a link keep the canonical content (and the QC record hash,
        # which signatures cover) they had before the link existed.
        raw_data = self.raw_data()
        if raw_data is not None:
            content["instrument_import"] = raw_data
        if self.analysis_run_id is not None:
            content["analysis_run"] = self.analysis_run.number  # type: ignore[union-attr]
        if self.document_id is not None:
            document = self.document
            assert document is not None
            content["document"] = {"file_name": document.original_name, "sha256": document.sha256}
        return content


class InvestigationStatus(models.TextChoices):
    OPEN = "open", "open"
    CLOSED = "closed", "closed"


class InvestigationOutcome(models.TextChoices):
    ASSIGNABLE_CAUSE = "assignable cause", "assignable laboratory cause: result invalidated, retest"
    OOS_CONFIRMED = "OOS confirmed", "no assignable cause: OOS confirmed"


class Investigation(models.Model):
    """A phase I laboratory investigation of an out-of-specification result."""

    number = models.CharField(max_length=20, unique=True)
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="investigations")
    result = models.OneToOneField(Result, on_delete=models.PROTECT, related_name="investigation")
    status = models.CharField(max_length=8, choices=InvestigationStatus.choices, default="open")
    opened_at = models.DateTimeField()
    opened_by = models.CharField(max_length=150, help_text="user, or 'system' when evaluation opened it")
    outcome = models.CharField(max_length=20, choices=InvestigationOutcome.choices, blank=True)
    conclusion = models.TextField(blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["number"]

    def __str__(self) -> str:
        return self.number


class ResultInvalidation(models.Model):
    """The record that a result is invalid (assignable laboratory cause). The result itself is kept."""

    result = models.OneToOneField(Result, on_delete=models.PROTECT, related_name="invalidation")
    investigation = models.ForeignKey(
        Investigation, null=True, blank=True, on_delete=models.PROTECT, related_name="invalidations"
    )
    reason = models.TextField()
    invalidated_at = models.DateTimeField()
    invalidated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    def __str__(self) -> str:
        return f"invalidation of result #{self.result_id}"


class Signature(models.Model):
    """A 21 CFR Part 11 electronic signature on one version of one record.

    ``record_sha256`` binds it to the signed content; ``signature_sha256`` covers every field shown in the
    manifestation. A signature is voided (never deleted) when the record changes after signing.
    """

    record_type = models.CharField(max_length=40)
    record_id = models.CharField(max_length=80)
    record_version = models.PositiveIntegerField()
    record_sha256 = models.CharField(max_length=64)
    signer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    printed_name = models.CharField(max_length=200)
    meaning = models.CharField(max_length=12, choices=[(m.value, m.value) for m in Meaning])
    signed_at = models.DateTimeField()
    signature_sha256 = models.CharField(max_length=64, unique=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    void_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["signed_at", "pk"]
        indexes = [models.Index(fields=["record_type", "record_id"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(voided_at__isnull=True) | ~Q(void_reason=""), name="quality_void_has_reason"
            )
        ]

    def __str__(self) -> str:
        return f"{self.meaning} by {self.printed_name} on {self.record_type}:{self.record_id} v{self.record_version}"


class Certificate(models.Model):
    """A certificate of analysis as issued: the PDF's SHA-256 and its embedded JSON, kept for verification."""

    number = models.CharField(max_length=40, unique=True)
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="certificates")
    record_version = models.PositiveIntegerField()
    content_json = models.TextField(help_text="the canonical JSON embedded in the PDF")
    content_sha256 = models.CharField(max_length=64)
    pdf_sha256 = models.CharField(max_length=64, unique=True)
    file_name = models.CharField(max_length=200)
    issued_at = models.DateTimeField()
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    supersedes = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="superseded_by"
    )

    class Meta:
        ordering = ["issued_at", "pk"]

    def __str__(self) -> str:
        return self.number
