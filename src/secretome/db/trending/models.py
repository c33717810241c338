"""Trending: the QA-approved control limits of an attribute.

Limits are never recomputed silently. A baseline is approved by QA (with a reason, audited) from named
lots; a re-baselining is a new baseline that supersedes the old one, which keeps its row and stays on the
chart for the lots charted against it. Records are written only by :mod:`secretome.services.trending`.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ControlLimits(models.Model):
    """I-MR limits of one attribute of one product, from a baseline of consecutive lots.

    The limits apply to the lots from ``first_lot`` on, until a later baseline's first lot.
    """

    product = models.CharField(max_length=80)
    attribute = models.CharField(max_length=40, help_text="specification attribute code")
    log10 = models.BooleanField(default=False, help_text="limits are on log10 of the values")
    first_lot = models.CharField(max_length=32, help_text="number of the baseline's first lot")
    baseline_lots = models.JSONField(help_text="[[lot number, value], ...] the limits were computed from")
    baseline_n = models.PositiveIntegerField()
    centre_line = models.FloatField()
    mr_bar = models.FloatField()
    sigma = models.FloatField(help_text="MRbar / 1.128")
    approved_at = models.DateTimeField()
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField()
    supersedes = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="superseded_by"
    )

    class Meta:
        ordering = ["product", "attribute", "approved_at", "pk"]
        indexes = [models.Index(fields=["product", "attribute"])]

    def __str__(self) -> str:
        return f"{self.product} {self.attribute} limits from {self.first_lot} ({self.baseline_n} lots)"
