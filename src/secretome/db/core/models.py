"""The audit trail and API tokens."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.db import models

from secretome.domain.audit import StoredEvent, event_content


class AuditEvent(models.Model):
    """One append-only audit event. The database refuses UPDATE and DELETE on this table (see migration 0002)."""

    sequence = models.PositiveBigIntegerField(unique=True)
    actor = models.CharField(max_length=150)
    occurred_at = models.DateTimeField()
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=128)
    reason = models.TextField()
    before_json = models.TextField(default="null")
    after_json = models.TextField(default="null")
    previous_hash = models.CharField(max_length=64)
    event_hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["sequence"]
        indexes = [
            models.Index(fields=["object_type", "object_id"]),
            models.Index(fields=["actor"]),
        ]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.action} {self.object_type}:{self.object_id} by {self.actor}"

    @property
    def before(self) -> Any:
        return json.loads(self.before_json)

    @property
    def after(self) -> Any:
        return json.loads(self.after_json)

    def as_stored(self) -> StoredEvent:
        """This event as the pure chain verifier sees it."""
        return StoredEvent(
            event_id=self.pk,
            content=event_content(
                sequence=self.sequence,
                actor=self.actor,
                occurred_at=self.occurred_at,
                action=self.action,
                object_type=self.object_type,
                object_id=self.object_id,
                reason=self.reason,
                before=self.before,
                after=self.after,
            ),
            previous_hash=self.previous_hash,
            event_hash=self.event_hash,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.pk,
            "sequence": self.sequence,
            "actor": self.actor,
            "occurred_at": self.occurred_at.isoformat().replace("+00:00", "Z"),
            "action": self.action,
            "object_type": self.object_type,
            "object_id": self.object_id,
            "reason": self.reason,
            "before": self.before,
            "after": self.after,
            "previous_hash": self.previous_hash,
            "event_hash": self.event_hash,
        }


class ApiToken(models.Model):
    """A personal API token for scripts. Only its SHA-256 is stored; the token is shown once."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="api_tokens")
    name = models.CharField(max_length=100)
    token_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=12)
    created_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name}) of {self.user}"


class UserProfile(models.Model):
    """What Part 11 needs beyond Django's user: the printed name a signature shows."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="profile")
    full_name = models.CharField(max_length=200)

    def __str__(self) -> str:
        return self.full_name
