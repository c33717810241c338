"""The database triggers that make the audit table append-only, per database vendor.

Kept here rather than only in the migration so that the test suite can put them back after a test that
drops them (and take them off for the test database's own flush between tests).
"""

from __future__ import annotations

from typing import Any

INSTALL = {
    "sqlite": [
        """CREATE TRIGGER IF NOT EXISTS core_auditevent_no_update BEFORE UPDATE ON core_auditevent
           BEGIN SELECT RAISE(ABORT, 'audit events are append-only: UPDATE refused'); END""",
        """CREATE TRIGGER IF NOT EXISTS core_auditevent_no_delete BEFORE DELETE ON core_auditevent
           BEGIN SELECT RAISE(ABORT, 'audit events are append-only: DELETE refused'); END""",
    ],
    "postgresql": [
        """CREATE OR REPLACE FUNCTION core_auditevent_refuse() RETURNS trigger AS $$
           BEGIN RAISE EXCEPTION 'audit events are append-only: % refused', TG_OP; END;
           $$ LANGUAGE plpgsql""",
        """CREATE OR REPLACE TRIGGER core_auditevent_no_update BEFORE UPDATE OR DELETE ON core_auditevent
           FOR EACH ROW EXECUTE FUNCTION core_auditevent_refuse()""",
        """CREATE OR REPLACE TRIGGER core_auditevent_no_truncate BEFORE TRUNCATE ON core_auditevent
           FOR EACH STATEMENT EXECUTE FUNCTION core_auditevent_refuse()""",
    ],
}

REMOVE = {
    "sqlite": [
        "DROP TRIGGER IF EXISTS core_auditevent_no_update",
        "DROP TRIGGER IF EXISTS core_auditevent_no_delete",
    ],
    "postgresql": [
        "DROP TRIGGER IF EXISTS core_auditevent_no_update ON core_auditevent",
        "DROP TRIGGER IF EXISTS core_auditevent_no_truncate ON core_auditevent",
    ],
}


def _execute(connection: Any, statements: dict[str, list[str]]) -> None:
    with connection.cursor() as cursor:
        for sql in statements.get(connection.vendor, []):
            cursor.execute(sql)


def install(connection: Any) -> None:
    """Create the append-only triggers (idempotent)."""
    _execute(connection, INSTALL)


def remove(connection: Any) -> None:
    """Drop the append-only triggers (idempotent)."""
    _execute(connection, REMOVE)
