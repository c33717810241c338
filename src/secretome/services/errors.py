"""Errors a use case raises when it refuses to act. Entry points turn them into exit code 2 or HTTP 4xx."""

from __future__ import annotations


class ServiceError(Exception):
    """A use case refused: bad input, a failed guard, or a missing record. The message says why."""


class NotFound(ServiceError):
    """The named record does not exist."""


class Forbidden(ServiceError):
    """The acting user's role does not allow this action."""


class GuardFailed(ServiceError):
    """A lifecycle guard refused the transition."""
