"""Roles and what each may do. One person, one account; a role is a group."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """The four roles of a QC laboratory."""

    ANALYST = "analyst"
    REVIEWER = "reviewer"
    QA = "qa"
    ADMIN = "admin"


#: Roles allowed to read the audit trail.
AUDIT_READERS = frozenset({Role.QA, Role.ADMIN})


def can_read_audit_trail(roles: frozenset[Role] | set[Role]) -> bool:
    """True when any of ``roles`` may read the audit trail."""
    return bool(AUDIT_READERS & set(roles))


def parse_role(name: str) -> Role:
    """Parse a role name; raise ``ValueError`` naming the allowed roles."""
    try:
        return Role(name.strip().lower())
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise ValueError(f"role: unknown role {name!r}; expected one of {allowed}") from None
