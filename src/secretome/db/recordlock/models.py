"""Records of the lock on a lot's record after disposition: reopenings under deviations, late entries."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from secretome.db.genealogy.models import Deviation, Lot


class LotReopening(models.Model):
    """A QA-approved deviation reopened a disposed lot's record; its signatures were voided then.

    One deviation reopens one lot once: a second correction needs a deviation of its own.
    """

    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="reopenings")
    deviation = models.OneToOneField(Deviation, on_delete=models.PROTECT, related_name="reopening")
    from_state = models.CharField(max_length=20)
    from_record_version = models.PositiveIntegerField()
    to_record_version = models.PositiveIntegerField()
    reopened_at = models.DateTimeField()
    reopened_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["reopened_at", "pk"]

    def __str__(self) -> str:
        return f"{self.lot.number} reopened under {self.deviation.number}"


class LateEntryFlag(models.Model):
    """An entry recorded longer after its event than the late-entry setting allowed at the time.

    Kept beside the record it flags (``record_type`` and ``record_id`` as in the audit trail) so that the
    flag, like the record, is never recomputed under a later setting. ``lot`` names the lot whose record
    the entry belongs to, when it belongs to one.
    """

    record_type = models.CharField(max_length=40)
    record_id = models.CharField(max_length=80)
    lot = models.ForeignKey(Lot, null=True, blank=True, on_delete=models.PROTECT, related_name="late_entries")
    action = models.CharField(max_length=80)
    field = models.CharField(max_length=40)
    occurred_at = models.DateTimeField()
    recorded_at = models.DateTimeField()
    allowed_hours = models.FloatField()
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["recorded_at", "pk"]
        indexes = [models.Index(fields=["record_type", "record_id"])]

    def __str__(self) -> str:
        return f"late {self.field} of {self.record_type} {self.record_id}"
