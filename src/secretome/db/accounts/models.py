"""Account security beyond Django's user: when each password was set, for password expiry (21 CFR 11.300(b))."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class PasswordChange(models.Model):
    """One setting of a user's password. The newest row says when the password in force was set.

    ``must_change`` marks a password set by an admin for someone else: its holder must choose a new one before
    anything else, so that no admin ever knows a password in use.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="password_changes"
    )
    changed_at = models.DateTimeField()
    changed_by = models.CharField(max_length=150)
    must_change = models.BooleanField(default=False)

    class Meta:
        ordering = ["changed_at", "pk"]
        indexes = [models.Index(fields=["user", "changed_at"])]

    def __str__(self) -> str:
        return f"password of {self.user} set {self.changed_at:%Y-%m-%d} by {self.changed_by}"
