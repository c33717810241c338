"""Instrument imports: raw files kept as evidence, the imports made from them, and their measurements.

Records are written only by :mod:`secretome.services.imports`. A raw file is content-addressed by its
SHA-256: small files live in the database, larger ones in the data directory under ``raw/<aa>/<sha256>``.
Importing the same bytes again finds the existing import; nothing here is ever updated or deleted.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class RawFile(models.Model):
    """The bytes of one instrument file, exactly as received."""

    sha256 = models.CharField(max_length=64, unique=True)
    size = models.PositiveBigIntegerField()
    original_name = models.CharField(max_length=255)
    # Bytes for small files; empty when they live in the data directory (see ``stored_in``).
    content = models.BinaryField(null=True, blank=True)
    stored_in = models.CharField(
        max_length=16, choices=[("database", "database"), ("directory", "data directory")]
    )
    received_at = models.DateTimeField()
    received_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-received_at", "pk"]

    def __str__(self) -> str:
        return f"{self.original_name} ({self.sha256[:12]})"

    @property
    def relative_path(self) -> str:
        """Where the bytes live inside the data directory (for files not kept in the database)."""
        return f"raw/{self.sha256[:2]}/{self.sha256}"


class PlateLayout(models.Model):
    """A versioned plate layout template: what each well of a 96- or 384-well plate holds.

    ``wells`` is the canonical JSON of :class:`secretome.domain.plate_layout.PlateLayout`; a change is a
    new version naming the one it replaces.
    """

    name = models.CharField(max_length=80)
    version = models.PositiveIntegerField()
    plate_format = models.PositiveSmallIntegerField(choices=[(96, "96-well"), (384, "384-well")])
    description = models.TextField(blank=True)
    definition_json = models.TextField()
    previous_version = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="next_version"
    )
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["name", "version"]
        constraints = [models.UniqueConstraint(fields=["name", "version"], name="imports_layout_version")]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class InstrumentImport(models.Model):
    """One import of one raw file: who, when, which reader and version, what it produced."""

    raw_file = models.OneToOneField(RawFile, on_delete=models.PROTECT, related_name="instrument_import")
    filename = models.CharField(max_length=255)
    format = models.CharField(max_length=40)
    family = models.CharField(max_length=20)
    reader = models.CharField(max_length=120)
    reader_version = models.CharField(max_length=40)
    instrument = models.CharField(max_length=200, blank=True)
    serial_number = models.CharField(max_length=120, blank=True)
    software = models.CharField(max_length=120, blank=True)
    software_version = models.CharField(max_length=120, blank=True)
    metadata = models.JSONField(default=dict)
    warnings = models.JSONField(default=list)
    summary = models.JSONField(default=dict)
    layout = models.ForeignKey(
        PlateLayout, null=True, blank=True, on_delete=models.PROTECT, related_name="imports"
    )
    lot = models.ForeignKey(
        "genealogy.Lot", null=True, blank=True, on_delete=models.PROTECT, related_name="instrument_imports"
    )
    reason = models.TextField()
    imported_at = models.DateTimeField()
    imported_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-imported_at", "-pk"]

    def __str__(self) -> str:
        return f"import #{self.pk}: {self.filename} ({self.format})"


class InstrumentMeasurement(models.Model):
    """One tidy measurement of an import, linked to its well (or video, event population, sample)."""

    instrument_import = models.ForeignKey(
        InstrumentImport, on_delete=models.PROTECT, related_name="measurements"
    )
    ordinal = models.PositiveIntegerField(help_text="position in the file's reading order")
    quantity = models.CharField(max_length=120)
    value = models.FloatField(null=True, blank=True, help_text="null when the instrument reported none")
    unit = models.CharField(max_length=60, blank=True)
    sample = models.CharField(max_length=200, blank=True)
    well = models.CharField(max_length=60, blank=True)
    plate = models.CharField(max_length=120, blank=True)
    analyte = models.CharField(max_length=200, blank=True)
    flags = models.JSONField(default=list)
    # From the plate layout, when one was given: the well's role and its level.
    role = models.CharField(max_length=16, blank=True)
    preparation = models.CharField(max_length=120, blank=True)
    level = models.FloatField(
        null=True, blank=True, help_text="nominal concentration, dose or dilution factor"
    )

    class Meta:
        ordering = ["instrument_import", "ordinal"]
        constraints = [
            models.UniqueConstraint(fields=["instrument_import", "ordinal"], name="imports_measurement_order")
        ]
        indexes = [models.Index(fields=["instrument_import", "quantity"])]

    def __str__(self) -> str:
        return f"{self.quantity} {self.well or self.sample}: {self.value} {self.unit}"
